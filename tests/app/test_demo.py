"""`pw2mqtt demo` as a user runs it: a subprocess with its own simulator, broker and bridge.

The test talks to the demo's embedded broker with an ordinary MQTT client, as Home Assistant or
`mosquitto_sub` would. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiomqtt
import pytest

from pw2mqtt.app.cli import main
from pw2mqtt.app.demo_console import FlowModel, Glyphs, live_lines, status_line
from pw2mqtt.mqtt.topics import Topics
from tests.mqtt_probe import HOST, free_port

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0
MESSAGE_TIMEOUT = 10.0
BROKER_LINE = re.compile(r"^MQTT broker: mqtt://127\.0\.0\.1:(\d+) ")
STATUS_LINE = re.compile(
    r"solar \d+ W \| load \d+ W \| battery \d+ W \w+ \| grid \d+ W \w+ \| charge [\d.]+ %"
)


class Demo:
    """A running `python -m pw2mqtt demo`; its output is collected line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._new_line = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            self.lines.append(raw.decode().rstrip("\n"))
            self._new_line.set()
        self._new_line.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def wait_for_line(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        start = 0
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for line in self.lines[start:]:
                        if found := pattern.search(line):
                            return found
                    start = len(self.lines)
                    if self.process.returncode is not None or self._reader.done():
                        break
                    self._new_line.clear()
                    await self._new_line.wait()
        except TimeoutError:
            pass
        raise AssertionError(f"no line matching {pattern.pattern!r}; output:\n{self.output}")

    async def broker_port(self) -> int:
        """Wait for the connect instructions; the port they name."""
        port = int((await self.wait_for_line(BROKER_LINE, START_TIMEOUT)).group(1))
        await self.wait_for_line(re.compile(r"mosquitto_sub -h 127\.0\.0\.1 -p "), 1.0)
        return port

    async def stop(self, signum: signal.Signals = signal.SIGINT) -> int:
        self.process.send_signal(signum)
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout=15)
        except TimeoutError:
            raise AssertionError(f"the demo did not stop; output:\n{self.output}") from None
        await self._reader
        return code


@contextlib.asynccontextmanager
async def demo(*args: str) -> AsyncIterator[Demo]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pw2mqtt",
        "demo",
        "--speed",
        "60",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
    )
    running = Demo(process)
    try:
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        running._reader.cancel()


class Watcher:
    """An MQTT 3.1.1 client on the demo's broker that records every message it gets."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.messages: list[aiomqtt.Message] = []
        self.disconnected = False
        self._changed = asyncio.Event()

    async def collect(self) -> None:
        try:
            async for message in self.client.messages:
                self.messages.append(message)
                self._changed.set()
        except aiomqtt.MqttError:
            self.disconnected = True
            self._changed.set()

    async def wait_for(
        self, topic: str, payload: str | None = None, *, retained: bool | None = None
    ) -> aiomqtt.Message:
        index = 0
        try:
            async with asyncio.timeout(MESSAGE_TIMEOUT):
                while True:
                    for message in self.messages[index:]:
                        if (
                            message.topic.matches(topic)
                            and (payload is None or bytes(message.payload) == payload.encode())
                            and (retained is None or message.retain == retained)
                        ):
                            return message
                    index = len(self.messages)
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            seen = [(m.topic.value, bytes(m.payload)[:40]) for m in self.messages[-20:]]
            raise AssertionError(f"nothing on {topic} = {payload!r}; last seen: {seen}") from None


@contextlib.asynccontextmanager
async def watch(port: int, *topics: str) -> AsyncIterator[Watcher]:
    client = aiomqtt.Client(
        HOST, port, identifier=f"test-demo-{port}", protocol=aiomqtt.ProtocolVersion.V311
    )
    async with client:
        watcher = Watcher(client)
        task = asyncio.create_task(watcher.collect())
        await client.subscribe([(topic, 1) for topic in topics])
        try:
            yield watcher
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


# -- the whole demo, end to end -------------------------------------------------------------


@pytest.mark.timeout(45)
async def test_publishes_to_its_own_broker_and_says_offline_on_ctrl_c() -> None:
    port = free_port()
    async with demo("--mqtt-port", str(port)) as running:
        assert await running.broker_port() == port
        output = running.output
        assert re.search(r"starting the simulated gateway… done \(https://127\.0\.0\.1:\d+", output)
        assert f"starting the MQTT broker… done (mqtt://127.0.0.1:{port})" in output
        assert "starting the bridge… connected (gateway tg123456789abc)" in output
        assert f"mosquitto_sub -h 127.0.0.1 -p {port} -t 'pw2mqtt/#' -v" in output
        assert f"broker 127.0.0.1 port {port}" in output
        assert "discovery prefix homeassistant" in output

        async with watch(port, "pw2mqtt/#", "homeassistant/device/+/config") as mqtt:
            await mqtt.wait_for("pw2mqtt/bridge/state", "online", retained=True)
            level = await mqtt.wait_for("pw2mqtt/tg123456789abc/battery_level")
            assert 0.0 <= float(bytes(level.payload)) <= 100.0
            config = await mqtt.wait_for(
                "homeassistant/device/pw2mqtt_tg123456789abc/config", retained=True
            )
            discovery = json.loads(bytes(config.payload))
            assert "battery_level" in discovery["cmps"]
            # QoS 1 and retained values reach a late subscriber as well.
            await mqtt.wait_for("pw2mqtt/tg123456789abc/availability", "online", retained=True)

            line = await running.wait_for_line(STATUS_LINE, 10.0)
            assert line.group(0)
            assert "| grid connected |" in running.output

            mark = len(mqtt.messages)
            assert await running.stop(signal.SIGINT) == 0
            # The bridge said goodbye while the broker still delivered messages.
            offline = [
                m
                for m in mqtt.messages[mark:]
                if m.topic.value == "pw2mqtt/bridge/state" and bytes(m.payload) == b"offline"
            ]
            assert offline, [m.topic.value for m in mqtt.messages[mark:]]

    lines = running.lines
    bridge = lines.index("stopping the bridge… done (pw2mqtt/bridge/state = offline)")
    broker = lines.index("stopping the MQTT broker… done")
    simulator = lines.index("stopping the simulated gateway… done")
    assert bridge < broker < simulator


@pytest.mark.timeout(45)
async def test_a_taken_port_falls_back_to_a_free_one() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((HOST, 0))
        taken.listen()
        busy = taken.getsockname()[1]
        async with demo("--mqtt-port", str(busy)) as running:
            port = await running.broker_port()
            assert port != busy
            assert (
                f"starting the MQTT broker… port {busy} is taken (another broker?), using a free "
                f"port instead: done (mqtt://127.0.0.1:{port})"
            ) in running.lines
            async with watch(port, "pw2mqtt/bridge/state") as mqtt:
                await mqtt.wait_for("pw2mqtt/bridge/state", "online")
            assert await running.stop(signal.SIGTERM) == 0


# -- the command line -------------------------------------------------------------------------


def test_help_documents_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--speed", "--profile", "--mqtt-port", "--listen", "--state-dir", "--plain"):
        assert flag in text


def test_without_amqtt_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "amqtt", None)  # as if the package were not installed
    assert main(["demo"]) == 2
    assert "pip install 'pw2mqtt[demo]'" in capsys.readouterr().err


# -- the console view -------------------------------------------------------------------------


def fed_model() -> FlowModel:
    model = FlowModel(Topics(), clock=lambda: 100.0)
    for topic, payload in [
        ("pw2mqtt/bridge/state", "online"),
        ("pw2mqtt/gw1/availability", "online"),
        ("pw2mqtt/gw1/solar_power", "4210"),
        ("pw2mqtt/gw1/load_power", "1050"),
        ("pw2mqtt/gw1/battery_power", "-2890"),
        ("pw2mqtt/gw1/grid_power", "-270"),
        ("pw2mqtt/gw1/battery_level", "63.25"),
        ("pw2mqtt/gw1/grid_status", "connected"),
        ("pw2mqtt/gw1/operation_mode", "self_consumption"),
        ("pw2mqtt/gw1/backup_reserve", "20"),
        ("pw2mqtt/gw1/state", '{"solar_power": 4210}'),
        ("pw2mqtt/gw1/operation_mode/availability", "online"),
        ("$SYS/broker/uptime", "12"),  # not subscribed: ignored
    ]:
        model.feed(topic, payload.encode())
    return model


def test_the_model_follows_the_topics() -> None:
    model = fed_model()
    assert model.gateway == "gw1"
    assert model.online
    assert model.has_flows
    assert model.total == 12
    assert model.values["operation_mode"] == "self_consumption"


def test_the_status_line_gives_directions() -> None:
    line = status_line(fed_model(), datetime(2026, 6, 1, 14, 5))
    assert line.startswith("14:05 | solar 4210 W | load 1050 W | battery 2890 W charging | ")
    assert "grid 270 W exporting | charge 63.2 % | grid connected" in line
    assert "mode self_consumption | reserve 20.0 % |" in line


def test_the_live_view_fits_the_terminal() -> None:
    lines = live_lines(
        fed_model(),
        None,
        speed=60,
        broker="mqtt://127.0.0.1:1883",
        glyphs=Glyphs("...", "|", "#", "-"),
        width=60,
    )
    assert all(len(line) <= 60 for line in lines)
    assert any("battery" in line and "charging" in line and "######" in line for line in lines)
    assert any(
        line.startswith("  latest   pw2mqtt/gw1/operation_mode/availability") for line in lines
    )
