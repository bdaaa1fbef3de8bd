"""`pw2mqtt demo`: the gateway simulator, an embedded MQTT broker and the bridge, in one process.

Start-up goes simulator → broker → console client → bridge; shutdown goes the other way round,
so the bridge says `offline` while the broker still runs. The console learns everything from an
ordinary MQTT client subscribed to the demo's own broker, as a user's tools would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import importlib.util
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any, TextIO, TypeVar
from zoneinfo import ZoneInfo

import aiomqtt

from pw2mqtt.app.demo_console import FlowModel, Glyphs, LiveScreen, live_lines, status_line
from pw2mqtt.bridge.runtime import Bridge
from pw2mqtt.config import Settings
from pw2mqtt.errors import ConfigError
from pw2mqtt.mqtt.topics import Topics
from pw2mqtt.simulator.control import ControlServer
from pw2mqtt.simulator.profiles import DEFAULT_PROFILE
from pw2mqtt.simulator.server import GatewaySimulator, SimulatorOptions

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

EXIT_FAILED = 1
EXIT_MISSING_DEPENDENCY = 2
BRIDGE_TIMEOUT = 30.0
"""Seconds the bridge gets to connect and publish its first poll."""
OFFLINE_WAIT = 2.0
"""Seconds to wait for the console to see the bridge's `offline` after the bridge stopped."""
SHUTDOWN_TIMEOUT = 10.0
"""Seconds the embedded broker gets to shut down."""
SHUTDOWN_KICK = 0.5
"""Seconds after which a broker shutdown that has not finished is helped along."""
CLIENT_ID = "pw2mqtt-demo"
WILDCARDS = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}  # noqa: S104
"""Where the demo's own clients connect when the broker listens on every address."""


class DemoError(Exception):
    """Start-up failed; the message is the one line the user sees."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    speed: float = 60.0
    profile: str = DEFAULT_PROFILE
    mqtt_port: int = 1883
    listen: str = "127.0.0.1"
    state_dir: Path | None = None
    live: bool | None = None
    """Redraw the view in place; None: when the output is a terminal."""
    interval: float | None = None
    """Seconds between redraws or status lines; None: 1 live, 5 otherwise."""
    verbose: bool = False

    @property
    def connect_host(self) -> str:
        """The address the demo's own clients (bridge, console) use to reach the broker."""
        return WILDCARDS.get(self.listen, self.listen)


def run_demo_command(args: argparse.Namespace) -> int:
    """The `pw2mqtt demo` handler."""
    if not _has_amqtt():
        print(
            "pw2mqtt demo needs the embedded MQTT broker amqtt: pip install 'pw2mqtt[demo]'",
            file=sys.stderr,
        )
        return EXIT_MISSING_DEPENDENCY
    options = DemoOptions(
        speed=args.speed,
        profile=args.profile,
        mqtt_port=args.mqtt_port,
        listen=args.listen,
        state_dir=args.state_dir,
        live=False if args.plain or args.verbose else None,
        interval=args.interval,
        verbose=args.verbose,
    )
    problems = _check_options(options)
    if problems:
        raise ConfigError(problems)
    return asyncio.run(run_demo(options))


def _has_amqtt() -> bool:
    try:
        return importlib.util.find_spec("amqtt") is not None
    except (ImportError, ValueError):
        return False


def _check_options(options: DemoOptions) -> list[str]:
    problems = []
    if options.speed < 0:
        problems.append("--speed: must be 0 or more")
    if not 0 <= options.mqtt_port <= 65535:
        problems.append("--mqtt-port: must be within 0..65535 (0 = a free port)")
    if options.interval is not None and options.interval <= 0:
        problems.append("--interval: must be more than 0")
    return problems


async def run_demo(
    options: DemoOptions, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run until SIGINT/SIGTERM (exit 0) or a start-up failure (one line on `err`, exit 1)."""
    out = out or sys.stdout
    err = err or sys.stderr
    _quiet_libraries(options.verbose, live=_is_live(options, out))
    work = asyncio.ensure_future(Demo(options, out).run())
    loop = asyncio.get_running_loop()
    stopping = False

    def stop() -> None:
        nonlocal stopping
        if not stopping:  # a second Ctrl-C must not cut the orderly shutdown short
            stopping = True
            work.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    try:
        await work
    except asyncio.CancelledError:
        if not stopping:
            raise
    except DemoError as error:
        print(f"pw2mqtt demo: {error}", file=err, flush=True)
        return EXIT_FAILED
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 0


def _is_live(options: DemoOptions, out: TextIO) -> bool:
    if options.live is not None:
        return options.live
    return out.isatty() and os.environ.get("TERM", "") != "dumb"


def _quiet_libraries(verbose: bool, *, live: bool) -> None:
    """amqtt logs every client's coming and going, and a traceback for a port in use; the demo
    reports what matters itself. Under the live view, warnings go into the view, not stderr."""
    if verbose:
        return
    logging.getLogger("amqtt").setLevel(logging.CRITICAL)
    logging.getLogger("transitions").setLevel(logging.ERROR)
    if live:
        for handler in logging.getLogger().handlers:
            handler.setLevel(logging.ERROR)


class Demo:
    def __init__(self, options: DemoOptions, out: TextIO) -> None:
        self.options = options
        self.out = out
        self.glyphs = Glyphs.for_stream(out)
        self.live = _is_live(options, out)
        self.topics = Topics()
        self.model = FlowModel(self.topics)
        self._control_url: str | None = None
        self._changed = asyncio.Event()
        self._bridge: asyncio.Task[None] | None = None

    async def run(self) -> None:
        async with contextlib.AsyncExitStack() as stack:
            simulator = await self._step(
                "starting the simulated gateway",
                self._start_simulator(stack),
                lambda sim: (
                    f"done ({sim.url}, firmware {sim.options.profile}, "
                    f"{sim.options.speed:g}x speed)"
                ),
            )
            broker_port = await self._start_broker(stack)
            state_dir = self._state_dir(stack)
            await self._start_console_client(stack, broker_port)
            await self._start_bridge(stack, simulator, broker_port, state_dir)
            self._print_instructions(simulator, broker_port)
            await self._show(simulator, broker_port)

    # -- start-up ---------------------------------------------------------------------------

    async def _step(
        self, label: str, work: Awaitable[_T], done: Callable[[_T], str] = lambda _: "done"
    ) -> _T:
        self._write(f"{label}{self.glyphs.ellipsis} ")
        try:
            result = await work
        except BaseException as error:
            self._write("failed\n" if isinstance(error, DemoError) else "stopped\n")
            raise
        self._write(done(result) + "\n")
        return result

    async def _start_simulator(self, stack: contextlib.AsyncExitStack) -> GatewaySimulator:
        options = self.options
        try:
            sim_options = SimulatorOptions(
                host="127.0.0.1",
                port=0,
                profile=options.profile,
                speed=options.speed,
                start_time=_morning(SimulatorOptions().timezone),
            )
        except (ValueError, KeyError) as error:
            raise DemoError(f"cannot start the simulated gateway: {error}") from None
        simulator = GatewaySimulator(sim_options)
        try:
            await simulator.start()
        except OSError as error:
            await simulator.close()
            raise DemoError(f"cannot start the simulated gateway: {error}") from None
        stack.push_async_callback(self._stop, "simulated gateway", simulator.close())
        control = ControlServer(simulator)
        await stack.enter_async_context(control)
        self._control_url = control.url
        return simulator

    async def _start_broker(self, stack: contextlib.AsyncExitStack) -> int:
        broker = await self._step(
            "starting the MQTT broker",
            self._listen(),
            lambda b: f"done (mqtt://{b.address})",
        )
        stack.push_async_callback(self._stop, "MQTT broker", broker.stop())
        return broker.port

    async def _listen(self) -> EmbeddedBroker:
        """The requested port, or a free one when it is taken (saying so)."""
        options = self.options
        if options.mqtt_port:
            try:
                return await EmbeddedBroker.start(options.listen, options.mqtt_port)
            except PortTakenError:
                self._write(
                    f"port {options.mqtt_port} is taken (another broker?), using a free port "
                    "instead: "
                )
        return await EmbeddedBroker.start(options.listen, 0)

    def _state_dir(self, stack: contextlib.AsyncExitStack) -> Path:
        if self.options.state_dir is not None:
            return self.options.state_dir
        return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pw2mqtt-demo-")))

    async def _start_console_client(self, stack: contextlib.AsyncExitStack, port: int) -> None:
        client = aiomqtt.Client(
            self.options.connect_host,
            port,
            identifier=f"{CLIENT_ID}-console",
            protocol=aiomqtt.ProtocolVersion.V311,  # amqtt speaks MQTT 3.1.1 only
            timeout=10,
        )
        try:
            await stack.enter_async_context(client)
            await client.subscribe(
                [(f"{self.topics.base}/#", 1), (self.topics.discovery_filter, 1)]
            )
        except aiomqtt.MqttError as error:
            raise DemoError(f"cannot subscribe to the demo's own broker: {error}") from None
        reader = asyncio.create_task(self._read(client), name="pw2mqtt.demo.console")
        stack.push_async_callback(_cancel, reader)

    async def _read(self, client: aiomqtt.Client) -> None:
        with contextlib.suppress(aiomqtt.MqttError):
            async for message in client.messages:
                self.model.feed(message.topic.value, bytes(message.payload))
                self._changed.set()

    async def _start_bridge(
        self,
        stack: contextlib.AsyncExitStack,
        simulator: GatewaySimulator,
        port: int,
        state_dir: Path,
    ) -> None:
        settings = demo_settings(simulator, self.options.connect_host, port, state_dir)
        bridge = Bridge(settings)
        task = self._bridge = asyncio.create_task(bridge.run(), name="pw2mqtt.demo.bridge")
        stack.push_async_callback(self._stop_bridge, task)
        await self._step(
            "starting the bridge", self._wait_online(task), lambda gw: f"connected (gateway {gw})"
        )

    async def _wait_online(self, bridge: asyncio.Task[None]) -> str:
        """Wait until the console sees the bridge online with its first poll; show progress."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BRIDGE_TIMEOUT
        next_dot = loop.time() + 1.0
        while not (self.model.online and self.model.has_flows):
            if bridge.done():
                raise DemoError(f"the bridge stopped: {_task_failure(bridge)}")
            now = loop.time()
            if now >= deadline:
                reason = self.model.last_log or "no message from the bridge"
                raise DemoError(
                    f"the bridge did not come online within {BRIDGE_TIMEOUT:g} s ({reason})"
                )
            if now >= next_dot:
                self._write(".")  # a second went by: show that something is happening
                next_dot += 1.0
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(next_dot, deadline) - now):
                    await self._changed.wait()
        return self.model.gateway or "?"

    def _print_instructions(self, simulator: GatewaySimulator, port: int) -> None:
        host = self.options.connect_host
        shown = f"[{host}]" if ":" in host else host
        base = self.topics.base
        lines = [
            "",
            f"MQTT broker: mqtt://{shown}:{port} (no username or password)",
            "connect with:",
            f"  mosquitto_sub -h {host} -p {port} -t '{base}/#' -v",
            f"  Home Assistant: MQTT integration {self.glyphs.dot} broker {host} port {port} "
            f"{self.glyphs.dot} discovery prefix {self.topics.discovery_prefix}",
        ]
        if self.options.listen not in ("127.0.0.1", "localhost", "::1"):
            lines.append(
                f"  from other machines: this machine's address, port {port}  (listening on "
                f"{self.options.listen})"
            )
            lines.append(
                "note: the broker accepts anyone who can reach it, without authentication: "
                "use this only on a network you trust"
            )
        if self._control_url:
            lines.append(
                f"play with the site: curl -X POST {self._control_url}/outage "
                "-d '{\"active\": true}'  (see docs/simulator.md)"
            )
        lines.append("")
        self._write("\n".join(lines) + "\n")

    # -- running ----------------------------------------------------------------------------

    async def _show(self, simulator: GatewaySimulator, port: int) -> None:
        interval = self.options.interval or (1.0 if self.live else 5.0)
        zone = ZoneInfo(simulator.options.timezone)
        screen = LiveScreen(self.out) if self.live else None
        host = self.options.connect_host
        broker = f"mqtt://{f'[{host}]' if ':' in host else host}:{port}"
        try:
            while True:
                if self._bridge is not None and self._bridge.done():
                    raise DemoError(f"the bridge stopped: {_task_failure(self._bridge)}")
                now = datetime.fromtimestamp(simulator.now(), zone)
                if screen is not None:
                    width = shutil.get_terminal_size((100, 24)).columns - 1
                    screen.draw(
                        live_lines(
                            self.model,
                            now,
                            speed=simulator.options.speed,
                            broker=broker,
                            glyphs=self.glyphs,
                            width=width,
                        )
                    )
                else:
                    self._write(status_line(self.model, now) + "\n")
                await asyncio.sleep(interval)
        finally:
            if screen is not None:
                screen.close()
                self._write("\n")

    # -- shutdown ---------------------------------------------------------------------------

    async def _stop_bridge(self, task: asyncio.Task[None]) -> None:
        self._write(f"stopping the bridge{self.glyphs.ellipsis} ")
        task.cancel()
        await asyncio.wait({task})  # its failure, if any, was reported already
        if not task.cancelled():
            task.exception()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(OFFLINE_WAIT):
                while self.model.bridge_state != "offline":
                    self._changed.clear()
                    await self._changed.wait()
        state = self.model.bridge_state or "nothing"
        self._write(f"done ({self.topics.bridge_state} = {state})\n")

    async def _stop(self, what: str, closing: Awaitable[None]) -> None:
        self._write(f"stopping the {what}{self.glyphs.ellipsis} ")
        try:
            await closing
        except Exception as error:  # shutting down anyway: report and carry on
            self._write(f"failed ({error})\n")
        else:
            self._write("done\n")

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


def demo_settings(
    simulator: GatewaySimulator, mqtt_host: str, port: int, state_dir: Path
) -> Settings:
    """The bridge's settings: fast polls for a fast clock, the simulator's certificate pinned."""
    return Settings.model_validate(
        {
            "gateways": [
                {
                    "host": f"127.0.0.1:{simulator.port}",
                    "password": simulator.options.customer_password,
                    "tls": {"mode": "pin", "fingerprint": simulator.fingerprint},
                    "poll": {"fast": 1.0, "medium": 5.0, "slow": 60.0},
                }
            ],
            "mqtt": {
                "host": mqtt_host,
                "port": port,
                "client_id": CLIENT_ID,
                "base_topic": "pw2mqtt",
                "protocol": "3.1.1",
                "heartbeat": 30.0,
            },
            "homeassistant": {"enabled": True, "discovery_prefix": "homeassistant"},
            "state_dir": state_dir,
        }
    )


def _task_failure(task: asyncio.Task[None]) -> str:
    if task.cancelled():
        return "cancelled"
    error = task.exception()
    if error is None:
        return "it returned"
    if isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return str(error) or type(error).__name__


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# -- the embedded broker ----------------------------------------------------------------------


class PortTakenError(DemoError):
    """The broker's port is in use."""


class EmbeddedBroker:
    """An amqtt broker in this process: anonymous, one TCP listener, no $SYS topics."""

    def __init__(self, broker: Any, host: str, port: int) -> None:
        self._broker = broker
        self.host = host
        self.port = port

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @classmethod
    async def start(cls, host: str, port: int) -> EmbeddedBroker:
        """Listen on `host:port` (0 = a free port); `PortTakenError` if the port is in use."""
        from amqtt.broker import Broker  # type: ignore[import-untyped]  # noqa: PLC0415
        from amqtt.errors import BrokerError  # type: ignore[import-untyped]  # noqa: PLC0415

        bind_host = f"[{host}]" if ":" in host else host
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{bind_host}:{port}"}},
            # Only anonymous access: no $SYS publisher, no packet logging.
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        broker = Broker(config)
        try:
            await broker.start()
        except BrokerError as error:
            cause = error.__cause__
            if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE:
                raise PortTakenError(f"port {port} is in use") from None
            reason = cause.strerror if isinstance(cause, OSError) else (cause or error)
            raise DemoError(
                f"cannot start the MQTT broker on {bind_host}:{port}: {reason}"
            ) from None
        return cls(broker, host, _bound_port(broker) or port)

    async def stop(self) -> None:
        """Shut the broker down, clients first.

        Under Python 3.11 amqtt's shutdown can hang while a client is sending (a PUBACK, say):
        the `asyncio.wait_for` in its session reader swallows the cancellation meant to end
        that reader, and the shutdown waits for it until the client's keepalive runs out.
        Cancelling such readers again lets the shutdown finish.
        """
        handlers = _handlers(self._broker)
        shutdown = asyncio.ensure_future(self._broker.shutdown())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_TIMEOUT
        while loop.time() < deadline:
            done, _ = await asyncio.wait({shutdown}, timeout=SHUTDOWN_KICK)
            if done:
                shutdown.result()
                return
            for handler in handlers:
                reader = getattr(handler, "_reader_task", None)
                if isinstance(reader, asyncio.Task) and not reader.done():
                    reader.cancel()
        shutdown.cancel()
        raise TimeoutError(f"the broker did not stop within {SHUTDOWN_TIMEOUT:g} s")


def _handlers(broker: Any) -> list[Any]:
    """The protocol handlers of the connected clients (amqtt has no public API for them)."""
    try:
        return [handler for _session, handler in broker.sessions.values()]
    except (AttributeError, TypeError, ValueError):
        return []


def _bound_port(broker: Any) -> int | None:
    """The port the listener got (amqtt has no public API for it; needed for port 0)."""
    try:
        sockets = broker._servers["default"].instance.sockets
        return int(sockets[0].getsockname()[1])
    except (AttributeError, KeyError, IndexError, TypeError):
        return None


def _morning(timezone: str) -> float:
    """Today 08:00 at the simulated site, so a demo shows the sun coming up, not a dark night."""
    zone = ZoneInfo(timezone)
    today = datetime.now(zone).date()
    return datetime.combine(today, time(8, 0), tzinfo=zone).timestamp()
