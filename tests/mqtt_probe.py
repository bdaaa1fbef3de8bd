"""A real Mosquitto broker for tests, an MQTT probe that records what it sees, and CLI helpers.

Everything listens and connects on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import itertools
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

HOST = "127.0.0.1"
_START_TIMEOUT = 5.0
_CLI_TIMEOUT = 10.0
_probe_ids = itertools.count(1)


def mosquitto_binary() -> str:
    """The broker executable; fails the test (never skips) when Mosquitto is not installed."""
    found = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.access(found, os.X_OK):
        pytest.fail(
            "mosquitto is not installed: run scripts/install-mosquitto.sh "
            "(Debian package mosquitto + mosquitto-clients)",
            pytrace=False,
        )
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class CliResult:
    """What a mosquitto_pub / mosquitto_sub run returned."""

    returncode: int
    stdout: str
    stderr: str


class Broker:
    """One Mosquitto process in `workdir`; can be stopped, killed and started again on its port.

    With `persistence=True` the broker saves its state (retained messages included) in
    `workdir/data/` when stopped with `stop()`; `kill()` loses what was not saved yet.
    """

    host = HOST

    def __init__(
        self,
        workdir: Path,
        *,
        persistence: bool = False,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.workdir = workdir
        self.persistence = persistence
        self.tls = tls  # (certfile, keyfile): the listener speaks TLS only
        self.port = free_port()
        self.config_path = workdir / "mosquitto.conf"
        self.log_path = workdir / "mosquitto.log"
        self._binary = mosquitto_binary()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the broker (again) on the same port and wait until it accepts connections."""
        assert not self.running, "the broker is already running"
        self._write_config()
        self._process = subprocess.Popen(
            [self._binary, "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                pytest.fail(f"mosquitto exited with {self._process.returncode}:\n{self.log_text()}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 0.2):
                return
            time.sleep(0.02)
        self.kill()
        pytest.fail(f"mosquitto did not listen on {HOST}:{self.port}:\n{self.log_text()}")

    def stop(self) -> None:
        """SIGTERM and wait: a clean broker shutdown (saves persistence)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL and wait: the broker vanishes without saving anything."""
        self._end(signal.SIGKILL)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def cli_argv(self, tool: str, *args: str) -> list[str]:
        """argv for `mosquitto_pub`/`mosquitto_sub`/`mosquitto_rr` aimed at this broker."""
        executable = shutil.which(tool) or f"/usr/bin/{tool}"
        return [executable, "-h", HOST, "-p", str(self.port), *args]

    async def pub(self, topic: str, payload: str, *args: str, retain: bool = False) -> CliResult:
        """Publish with `mosquitto_pub`, as a shell user would; extra args such as "-q", "1"."""
        argv = ["-t", topic, "-m", payload, *(["-r"] if retain else []), *args]
        result = await self.cli("mosquitto_pub", *argv)
        assert result.returncode == 0, result
        return result

    async def sub(self, *args: str) -> CliResult:
        """Run `mosquitto_sub` with `args`; give it -C and -W so that it ends."""
        return await self.cli("mosquitto_sub", *args)

    async def cli(self, tool: str, *args: str) -> CliResult:
        """Run a Mosquitto client tool against this broker; killed after 10 s."""
        process = await asyncio.create_subprocess_exec(
            *self.cli_argv(tool, *args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(_CLI_TIMEOUT):
                stdout, stderr = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        assert process.returncode is not None
        return CliResult(process.returncode, stdout.decode(), stderr.decode())

    def _end(self, sig: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _write_config(self) -> None:
        lines = [
            f"listener {self.port} {HOST}",
            "allow_anonymous true",
            # Running as root, Mosquitto would switch to the "mosquitto" user and lose the files.
            f"user {getpass.getuser()}",
            f"log_dest file {self.log_path}",
            "log_type all",
            "connection_messages true",
        ]
        if self.tls is not None:
            certfile, keyfile = self.tls
            lines += [f"certfile {certfile}", f"keyfile {keyfile}"]
        if self.persistence:
            data = self.workdir / "data"
            data.mkdir(exist_ok=True)
            lines += ["persistence true", f"persistence_location {data}/"]
        else:
            lines.append("persistence false")
        self.config_path.write_text("\n".join(lines) + "\n")


@dataclass(frozen=True, slots=True)
class ProbeMessage:
    topic: str
    payload: bytes
    retain: bool
    qos: int
    response_topic: str | None = None
    correlation_data: bytes | None = None

    @property
    def text(self) -> str:
        return self.payload.decode()


class MqttProbe:
    """An MQTT 5 observer: records every message on `topics`, retain flag as published."""

    def __init__(self, broker: Broker, topics: Sequence[str] = ("#",)) -> None:
        self.broker = broker
        self.topics = list(topics)
        self.messages: list[ProbeMessage] = []
        self._changed = asyncio.Event()
        self._stack = contextlib.AsyncExitStack()
        self._client: aiomqtt.Client | None = None

    async def __aenter__(self) -> Self:
        client = aiomqtt.Client(
            self.broker.host,
            self.broker.port,
            identifier=f"probe-{os.getpid()}-{next(_probe_ids)}",
            protocol=aiomqtt.ProtocolVersion.V5,
            timeout=5,
        )
        await self._stack.enter_async_context(client)
        self._client = client
        options = SubscribeOptions(qos=1, retainAsPublished=True)
        await client.subscribe([(topic, options) for topic in self.topics])
        task = asyncio.create_task(self._collect(client), name="mqtt-probe")
        self._stack.push_async_callback(_cancel, task)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(aiomqtt.MqttError):
            await self._stack.aclose()

    async def publish(
        self,
        topic: str,
        payload: str | bytes,
        *,
        retain: bool = False,
        qos: int = 1,
        response_topic: str | None = None,
        correlation_data: bytes | None = None,
    ) -> None:
        assert self._client is not None
        properties = None
        if response_topic is not None or correlation_data is not None:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            if response_topic is not None:
                properties.ResponseTopic = response_topic
            if correlation_data is not None:
                properties.CorrelationData = correlation_data
        await self._client.publish(topic, payload, qos, retain, properties)

    async def wait_for(
        self,
        topic: str,
        predicate: Callable[[ProbeMessage], bool] | None = None,
        timeout: float = 5.0,
        *,
        start: int = 0,
    ) -> ProbeMessage:
        """The first message (from index `start`) on `topic` (wildcards allowed) that matches."""
        index = start
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for message in self.messages[index:]:
                        if aiomqtt.Topic(message.topic).matches(topic) and (
                            predicate is None or predicate(message)
                        ):
                            return message
                    index = max(index, len(self.messages))
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            seen = "\n  ".join(repr(m) for m in self.messages[start:]) or "nothing"
            raise AssertionError(
                f"no matching message on {topic} within {timeout} s; seen:\n  {seen}"
            ) from None

    def on(self, topic: str) -> list[ProbeMessage]:
        return [m for m in self.messages if m.topic == topic]

    def retained(self, topic: str) -> ProbeMessage | None:
        """The last message seen on `topic` with the retain flag, if any."""
        matching = [m for m in self.on(topic) if m.retain]
        return matching[-1] if matching else None

    def mark(self) -> int:
        """An index to pass as `start=` so that only later messages count."""
        return len(self.messages)

    async def _collect(self, client: aiomqtt.Client) -> None:
        with contextlib.suppress(aiomqtt.MqttError):
            async for message in client.messages:
                payload = message.payload
                assert isinstance(payload, bytes)
                properties = message.properties
                self.messages.append(
                    ProbeMessage(
                        topic=message.topic.value,
                        payload=payload,
                        retain=message.retain,
                        qos=message.qos,
                        response_topic=getattr(properties, "ResponseTopic", None),
                        correlation_data=getattr(properties, "CorrelationData", None),
                    )
                )
                self._changed.set()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
