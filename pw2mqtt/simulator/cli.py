"""`pw2mqtt simulate`: run one or more simulated gateways until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pw2mqtt.simulator.options import DEFAULT_DIN, SimulatorOptions, fleet_options, is_loopback
from pw2mqtt.simulator.profiles import DEFAULT_PROFILE, PROFILES

if TYPE_CHECKING:
    from pw2mqtt.simulator.server import GatewaySimulator

DEFAULT_PORT = 8443


def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = SimulatorOptions()
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="HTTPS port; 0 = a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        choices=sorted(PROFILES),
        help="firmware profile (default: %(default)s)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="simulated seconds per real second, e.g. 60 for demos; 0 freezes the clock",
    )
    parser.add_argument("--customer-password", default=defaults.customer_password)
    parser.add_argument("--installer-password", default=defaults.installer_password)
    parser.add_argument("--powerwalls", type=int, default=defaults.powerwalls)
    parser.add_argument("--din", default=DEFAULT_DIN, help="DIN of the first gateway")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--session-ttl", type=float, default=defaults.session_ttl, help="simulated seconds"
    )
    parser.add_argument(
        "--cert-out", type=Path, metavar="FILE", help="write the certificate(s) here (PEM)"
    )
    parser.add_argument(
        "--control-port",
        type=int,
        default=0,
        help="plain-HTTP control API port on loopback; 0 = a free one, -1 = none",
    )
    parser.add_argument(
        "--count", type=int, default=1, help="run N gateways on consecutive ports, distinct DINs"
    )
    parser.add_argument(
        "--server-name",
        action="append",
        default=[],
        metavar="NAME",
        help="accept this TLS server name (SNI) too; repeatable",
    )
    parser.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="allow --host to be something other than a loopback address",
    )


def options_from_args(args: argparse.Namespace) -> list[SimulatorOptions]:
    if not is_loopback(args.host) and not args.allow_non_loopback:
        raise ValueError(
            f"refusing to bind {args.host}: the simulator is meant for loopback; "
            "pass --allow-non-loopback if you really want that"
        )
    if args.count < 1:
        raise ValueError("--count must be >= 1")
    base = SimulatorOptions(
        host=args.host,
        port=args.port,
        profile=args.profile,
        speed=args.speed,
        customer_password=args.customer_password,
        installer_password=args.installer_password,
        extra_server_names=tuple(args.server_name),
        powerwalls=args.powerwalls,
        session_ttl=args.session_ttl,
        din=args.din,
        control_port=None if args.control_port < 0 else args.control_port,
        seed=args.seed,
    )
    return fleet_options(args.count, base)


def describe(sims: list[GatewaySimulator], controls: dict[str, str], out: TextIO) -> None:
    first = sims[0].options
    print(
        f"pw2mqtt gateway simulator: {len(sims)} gateway(s), firmware profile {first.profile}, "
        f"speed {first.speed:g}x",
        file=out,
    )
    print(f"  customer login:  customer / {first.customer_password}", file=out)
    print(f"  installer login: installer / {first.installer_password}", file=out)
    for sim in sims:
        print(f"  {sim.url}  DIN {sim.din}", file=out)
        print(f"    sha256 fingerprint {sim.fingerprint}", file=out)
        if sim.din in controls:
            print(f"    control API        {controls[sim.din]}", file=out)
    print("Ctrl-C to stop.", file=out, flush=True)


async def run_simulate(args: argparse.Namespace) -> int:
    try:
        options = options_from_args(args)
    except ValueError as err:
        print(f"pw2mqtt simulate: {err}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        # The HTTPS stack loads only here.
        from pw2mqtt.simulator.control import ControlServer  # noqa: PLC0415
        from pw2mqtt.simulator.server import run_simulators  # noqa: PLC0415

        async with run_simulators(options) as sims, contextlib.AsyncExitStack() as stack:
            controls = {
                sim.din: (await stack.enter_async_context(ControlServer(sim))).url
                for sim in sims
                if sim.options.control_port is not None
            }
            if args.cert_out is not None:
                args.cert_out.write_bytes(b"".join(s.cert_pem for s in sims))
                print(f"certificate(s) written to {args.cert_out}", file=sys.stdout)
            describe(sims, controls, sys.stdout)
            await stop.wait()
    except OSError as err:
        print(f"pw2mqtt simulate: cannot listen: {err}", file=sys.stderr)
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pw2mqtt.simulator",
        description="Run one or more simulated Powerwall gateways over HTTPS on loopback.",
    )
    add_simulate_arguments(parser)
    return asyncio.run(run_simulate(parser.parse_args(argv)))
