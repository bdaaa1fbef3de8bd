"""The `pw2mqtt` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from pydantic import ValidationError

from pw2mqtt import __version__
from pw2mqtt.cluster import ClusterError
from pw2mqtt.config import GatewaySettings, Settings, load_settings, validation_problems
from pw2mqtt.errors import ConfigError, StateDirError
from pw2mqtt.gateway.state import GatewayState

EXIT_FAILED = 1
EXIT_CONFIG = 2

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_CONFIG
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        result: int = args.handler(args)
    except ConfigError as err:
        for problem in err.problems:
            print(f"config: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except StateDirError as err:
        print(f"error: {err}; make it writable (or set state_dir)", file=sys.stderr)
        return EXIT_FAILED
    except ClusterError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pw2mqtt",
        description="Bridge a Tesla Powerwall gateway's local API to MQTT.",
    )
    parser.add_argument("--version", action="version", version=f"pw2mqtt {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in (_add_check, _add_run, _add_healthcheck, _add_simulate, _add_demo):
        add(commands)
    for add in (_add_keys, _add_pair):
        add(commands)
    return parser


def _add_check(commands: Subcommands) -> None:
    check = commands.add_parser(
        "check",
        help="connect to a gateway and print what it offers",
        description="Connect to a gateway, log in and print its firmware, DIN, role, the "
        "endpoints that answer, the TLS fingerprint and the power flows right now.",
    )
    check.add_argument("--config", type=Path, help="YAML configuration file")
    check.add_argument(
        "--gateway", type=int, default=0, help="which gateway of the config (0-based)"
    )
    check.add_argument("--host", help="gateway host or IP, optionally with :port")
    check.add_argument("--password", help="customer password (or installer, with --role)")
    check.add_argument("--role", choices=["customer", "installer"])
    check.add_argument("--server-name", help="TLS server name (SNI) to send; '' sends none")
    tls = check.add_mutually_exclusive_group()
    tls.add_argument("--ca-file", type=Path, help="verify the gateway against this CA/certificate")
    tls.add_argument("--fingerprint", help="pin this SHA-256 certificate fingerprint")
    tls.add_argument("--insecure", action="store_true", help="do not verify the certificate")
    check.add_argument("--state-dir", type=Path, help="where the TLS pin and session are kept")
    check.add_argument("--timeout", type=float, help="seconds per request (default 10)")
    check.add_argument("-v", "--verbose", action="store_true", help="log every step")
    check.set_defaults(handler=_run_check)


def _add_run(commands: Subcommands) -> None:
    run = commands.add_parser(
        "run",
        help="run the bridge",
        description="Poll the configured gateways and publish them to MQTT until stopped.",
    )
    run.add_argument("--config", type=Path, help="YAML configuration file")
    run.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    run.set_defaults(handler=_run_bridge)


def _add_healthcheck(commands: Subcommands) -> None:
    health = commands.add_parser(
        "healthcheck",
        help="exit 0 when the running bridge is healthy",
        description="Read the status file the bridge keeps in its state directory: healthy while "
        "the MQTT connection is up and a gateway was polled recently. Sends no request.",
    )
    health.add_argument("--config", type=Path, help="YAML configuration file")
    health.add_argument("--state-dir", type=Path, help="the bridge's state directory")
    health.add_argument(
        "--max-age", type=float, default=60.0, help="seconds a poll may be old (default 60)"
    )
    health.set_defaults(handler=_run_healthcheck)


def _add_simulate(commands: Subcommands) -> None:
    simulate = commands.add_parser(
        "simulate",
        help="run a simulated gateway on loopback",
        description="Run one or more simulated Powerwall gateways over HTTPS on loopback.",
    )
    from pw2mqtt.simulator.cli import add_simulate_arguments, run_simulate  # noqa: PLC0415

    add_simulate_arguments(simulate)
    simulate.set_defaults(handler=lambda args: asyncio.run(run_simulate(args)))


def _add_demo(commands: Subcommands) -> None:
    demo = commands.add_parser(
        "demo",
        help="try pw2mqtt without hardware or a broker",
        description="Run a simulated gateway, an embedded MQTT broker and the bridge together, "
        "and show the power flows and what is published. Needs pip install 'pw2mqtt[demo]'.",
    )
    from pw2mqtt.simulator.profiles import DEFAULT_PROFILE, PROFILES  # noqa: PLC0415

    demo.add_argument(
        "--speed", type=float, default=60.0, help="simulated seconds per second (default: 60)"
    )
    demo.add_argument(
        "--profile", default=DEFAULT_PROFILE, choices=sorted(PROFILES), help="gateway firmware"
    )
    demo.add_argument(
        "--mqtt-port", type=int, default=1883, help="broker port; a free one if taken (1883)"
    )
    demo.add_argument(
        "--listen",
        default="127.0.0.1",
        metavar="HOST",
        help="broker address to bind (default 127.0.0.1); 0.0.0.0 lets other machines in, "
        "without authentication",
    )
    demo.add_argument("--state-dir", type=Path, help="keep the bridge's state here (default: temp)")
    demo.add_argument(
        "--plain", action="store_true", help="print status lines instead of a live view"
    )
    demo.add_argument(
        "--interval", type=float, help="seconds between status lines (default 1 live, 5 plain)"
    )
    demo.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    demo.set_defaults(handler=_run_demo)


def _add_keys(commands: Subcommands) -> None:
    keys = commands.add_parser(
        "keys",
        help="make, show, export or import the signing key for signed local control",
        description="The RSA key that signs local control requests once paired (pw2mqtt pair). "
        "It is as sensitive as the owner's Tesla account: kept with mode 0600, never printed.",
    )
    from pw2mqtt.app.keys import add_keys_arguments  # noqa: PLC0415

    add_keys_arguments(keys)


def _add_pair(commands: Subcommands) -> None:
    pair = commands.add_parser(
        "pair",
        help="pair the signing key with a gateway through Tesla's cloud",
        description="Ask Tesla's cloud to pair the signing key with the gateway, then confirm "
        "with a power toggle at the Powerwall. Tokens come from --token-file or the environment "
        "(PW2MQTT_TESLA_REFRESH_TOKEN, PW2MQTT_TESLA_ACCESS_TOKEN), never the command line.",
    )
    from pw2mqtt.app.pair import add_pair_arguments  # noqa: PLC0415

    add_pair_arguments(pair)


def _run_demo(args: argparse.Namespace) -> int:
    from pw2mqtt.app.demo import run_demo_command  # noqa: PLC0415 - keep `pw2mqtt --help` fast

    return run_demo_command(args)


def _run_healthcheck(args: argparse.Namespace) -> int:
    from pw2mqtt.bridge.status_file import check_health  # noqa: PLC0415

    state_dir = args.state_dir or load_settings(args.config).state_dir
    healthy, reason = check_health(state_dir, args.max_age)
    print(reason)
    return 0 if healthy else 1


def _run_bridge(args: argparse.Namespace) -> int:
    from pw2mqtt.bridge.runtime import Bridge  # noqa: PLC0415 - keep `pw2mqtt --help` fast

    settings = load_settings(args.config)
    if not settings.gateways:
        raise ConfigError(["gateways: no gateway configured"])
    if not args.verbose:
        logging.getLogger().setLevel(settings.log_level.upper())
    for gateway in settings.gateways:
        _check_state(gateway, settings.state_dir)
    return asyncio.run(_until_signalled(Bridge(settings).run()))


async def _until_signalled(work: Coroutine[Any, Any, None]) -> int:
    """Run `work`; SIGTERM and SIGINT cancel it, so it can say goodbye on its way out."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        return 0
    return 0


def _run_check(args: argparse.Namespace) -> int:
    from pw2mqtt.app.check import run_check  # noqa: PLC0415 - keep `pw2mqtt --help` fast

    settings, gateway = _check_settings(args)
    _check_state(gateway, settings.state_dir)
    return asyncio.run(run_check(gateway, settings.state_dir))


def _check_state(gateway: GatewaySettings, state_dir: Path) -> None:
    """Before anything connects: stop if what a login or a first pin brings could not be kept."""
    GatewayState(state_dir / gateway.address.key, str(gateway.address)).check_usable(gateway)


def _check_settings(args: argparse.Namespace) -> tuple[Settings, GatewaySettings]:
    overrides: dict[str, Any] = {}
    if args.state_dir is not None:
        overrides["state_dir"] = args.state_dir
    settings = load_settings(args.config, **overrides)
    base: dict[str, Any] = {}
    if settings.gateways:
        if not 0 <= args.gateway < len(settings.gateways):
            raise ConfigError(
                [f"--gateway {args.gateway}: the config has {len(settings.gateways)}"]
            )
        base = settings.gateways[args.gateway].model_dump()
        base["password"] = settings.gateways[args.gateway].password.get_secret_value()
    flags = {
        "host": args.host,
        "password": args.password,
        "role": args.role,
        "server_name": args.server_name,
        "timeout": args.timeout,
    }
    base.update({key: value for key, value in flags.items() if value is not None})
    if args.insecure:
        base["tls"] = {"mode": "insecure"}
    elif args.ca_file is not None:
        base["tls"] = {"mode": "ca", "ca_file": args.ca_file}
    elif args.fingerprint is not None:
        base["tls"] = {"mode": "pin", "fingerprint": args.fingerprint}
    missing = [f"--{key}" for key in ("host", "password") if key not in base]
    if missing:
        raise ConfigError([f"give {' and '.join(missing)} (or --config FILE)"])
    return settings, _validate_gateway(base)


def _validate_gateway(values: dict[str, Any]) -> GatewaySettings:
    try:
        return GatewaySettings.model_validate(values)
    except ValidationError as err:
        raise ConfigError(validation_problems(err)) from None


if __name__ == "__main__":
    sys.exit(main())
