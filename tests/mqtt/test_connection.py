"""MqttConnection against a real Mosquitto broker on loopback; no mocks."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from pw2mqtt.mqtt.connection import (
    Incoming,
    MqttConnection,
    MqttOptions,
    MqttUnavailableError,
    Outgoing,
)
from pw2mqtt.simulator.certs import make_certificate
from tests.mqtt_probe import Broker, MqttProbe

STATE = "pw2mqtt/bridge/state"
WILL = Outgoing(STATE, "offline", retain=True, qos=1)
ONLINE = Outgoing(STATE, "online", retain=True, qos=1)


def options(broker: Broker, **overrides: Any) -> MqttOptions:
    settings: dict[str, Any] = {
        "host": broker.host,
        "port": broker.port,
        "client_id": "pw2mqtt-test",
        "reconnect_min": 0.1,
        "reconnect_max": 0.3,
    }
    return MqttOptions(**(settings | overrides))


class Recorder:
    """on_connect / on_message callbacks that remember what happened."""

    def __init__(self) -> None:
        self.connects = 0
        self.received: list[Incoming] = []
        self.connection: MqttConnection | None = None

    async def on_connect(self) -> None:
        self.connects += 1
        assert self.connection is not None
        await self.connection.publish(ONLINE)

    async def on_message(self, message: Incoming) -> None:
        self.received.append(message)


async def eventually(condition: Callable[[], bool]) -> None:
    """Poll `condition` for up to 5 s."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    pytest.fail("the condition did not become true within 5 s")


@asynccontextmanager
async def running(
    broker: Broker,
    recorder: Recorder,
    *,
    subscriptions: list[tuple[str, int]] | None = None,
    will: Outgoing = WILL,
    **overrides: Any,
) -> AsyncIterator[MqttConnection]:
    connection = MqttConnection(
        options(broker, **overrides),
        will=will,
        subscriptions=[("pw2mqtt/+/set", 1)] if subscriptions is None else subscriptions,
        on_connect=recorder.on_connect,
        on_message=recorder.on_message,
    )
    recorder.connection = connection
    task = asyncio.create_task(connection.run())
    try:
        await eventually(lambda: recorder.connects > 0)
        yield connection
    finally:
        await connection.close()
        await asyncio.wait_for(task, 5)


async def test_connects_subscribes_and_delivers_with_retain_flag(broker: Broker) -> None:
    await broker.pub("pw2mqtt/home/set", "kept", retain=True)
    recorder = Recorder()
    async with running(broker, recorder) as connection:
        assert connection.connected
        assert recorder.connects == 1
        await broker.pub("pw2mqtt/home/set", "live", "-q", "1")
        await eventually(lambda: len(recorder.received) == 2)
    kept, live = recorder.received
    assert (kept.topic, kept.payload, kept.retain) == ("pw2mqtt/home/set", b"kept", True)
    assert (live.topic, live.payload, live.retain, live.qos) == (
        "pw2mqtt/home/set",
        b"live",
        False,
        1,
    )
    assert live.response_topic is None
    assert live.correlation_data is None


async def test_publish_retained_qos1_is_seen_retained(broker: Broker) -> None:
    async with MqttProbe(broker, ["pw2mqtt/#"]) as live, running(broker, Recorder()) as connection:
        await connection.publish(Outgoing("pw2mqtt/home/battery_level", "85.3", retain=True, qos=1))
        await connection.publish_many(
            [Outgoing("pw2mqtt/home/event", "a"), Outgoing("pw2mqtt/home/event", "b", qos=1)]
        )
        seen = await live.wait_for("pw2mqtt/home/battery_level")
        assert (seen.text, seen.retain) == ("85.3", True)
        await live.wait_for("pw2mqtt/home/event", lambda m: m.text == "b")
        assert [(m.text, m.retain) for m in live.on("pw2mqtt/home/event")] == [
            ("a", False),
            ("b", False),
        ]
    async with MqttProbe(broker, ["pw2mqtt/home/battery_level"]) as later:
        seen = await later.wait_for("pw2mqtt/home/battery_level")
        assert (seen.text, seen.retain) == ("85.3", True)


@pytest.mark.parametrize("topic", ["pw2mqtt/+/x", "pw2mqtt/#", "", "pw2mqtt/a\0b"])
async def test_bad_topics_are_refused_before_sending(broker: Broker, topic: str) -> None:
    idle = MqttConnection(
        options(broker),
        will=WILL,
        subscriptions=[],
        on_connect=Recorder().on_connect,
        on_message=Recorder().on_message,
    )
    with pytest.raises(ValueError, match="topic"):  # not MqttUnavailableError: checked first
        await idle.publish(Outgoing(topic, "x"))
    async with MqttProbe(broker, ["#"]) as probe, running(broker, Recorder()) as connection:
        with pytest.raises(ValueError, match="topic"):
            await connection.publish(Outgoing(topic, "x"))
        with pytest.raises(ValueError, match="topic"):
            await connection.publish_many([Outgoing("pw2mqtt/ok", "x"), Outgoing(topic, "x")])
        await connection.publish(Outgoing("pw2mqtt/marker", "end", qos=1))
        await probe.wait_for("pw2mqtt/marker")
        assert [m.topic for m in probe.messages] == [STATE, "pw2mqtt/marker"]


def test_will_in_constructor_is_checked(broker: Broker) -> None:
    with pytest.raises(ValueError, match="wildcard"):
        MqttConnection(
            options(broker),
            will=Outgoing("pw2mqtt/#", "offline"),
            subscriptions=[],
            on_connect=Recorder().on_connect,
            on_message=Recorder().on_message,
        )


CHILD = """
import asyncio, sys
from pw2mqtt.mqtt.connection import MqttConnection, MqttOptions, Outgoing

async def main() -> None:
    connection: MqttConnection
    async def on_connect() -> None:
        await connection.publish(Outgoing("pw2mqtt/bridge/state", "online", retain=True, qos=1))
        print("ready", flush=True)
    async def on_message(message) -> None:
        pass
    connection = MqttConnection(
        MqttOptions(host="127.0.0.1", port=int(sys.argv[1]), client_id="pw2mqtt-child"),
        will=Outgoing("pw2mqtt/bridge/state", "offline", retain=True, qos=1),
        subscriptions=[], on_connect=on_connect, on_message=on_message,
    )
    await connection.run()

asyncio.run(main())
"""


async def test_will_fires_when_the_process_is_killed(broker: Broker) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, str(broker.port), stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        async with asyncio.timeout(10):
            assert await child.stdout.readline() == b"ready\n"
        async with MqttProbe(broker, [STATE]) as probe:
            await probe.wait_for(STATE, lambda m: m.text == "online" and m.retain)
            mark = probe.mark()
            child.kill()
            await child.wait()
            will = await probe.wait_for(STATE, start=mark)
            assert (will.text, will.retain) == ("offline", True)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    async with MqttProbe(broker, [STATE]) as later:
        assert (await later.wait_for(STATE)).text == "offline"


async def test_clean_close_publishes_final_and_no_will(broker: Broker) -> None:
    recorder = Recorder()
    lost = Outgoing(STATE, "lost", retain=True, qos=1)
    async with MqttProbe(broker, [STATE]) as probe:
        async with running(broker, recorder, will=lost) as connection:
            await probe.wait_for(STATE, lambda m: m.text == "online")
            await connection.close(final=[WILL])
            assert not connection.connected
        await probe.wait_for(STATE, lambda m: m.text == "offline" and m.retain)
        await asyncio.sleep(0.3)
        assert [m.text for m in probe.on(STATE)] == ["online", "offline"]
    assert "pw2mqtt-test disconnected" in broker.log_text()


async def test_cancelled_run_leaves_the_will_payload_retained(broker: Broker) -> None:
    recorder = Recorder()
    connection = MqttConnection(
        options(broker),
        will=WILL,
        subscriptions=[],
        on_connect=recorder.on_connect,
        on_message=recorder.on_message,
    )
    recorder.connection = connection
    task = asyncio.create_task(connection.run())
    await eventually(lambda: recorder.connects == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with MqttProbe(broker, [STATE]) as probe:
        assert (await probe.wait_for(STATE)).text == "offline"


async def test_reconnects_after_broker_restart(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pw2mqtt.mqtt.connection")
    recorder = Recorder()
    async with running(broker, recorder) as connection:
        broker.stop()
        await eventually(lambda: not connection.connected)
        with pytest.raises(MqttUnavailableError):
            await connection.publish(Outgoing("pw2mqtt/x", "y"))
        await asyncio.sleep(0.5)  # a few failed attempts: one warning, the rest at debug
        broker.start()
        await eventually(lambda: recorder.connects == 2)
        assert connection.connected
        await broker.pub("pw2mqtt/home/set", "again")  # the subscription is back
        await eventually(lambda: [m.payload for m in recorder.received] == [b"again"])
    records = [r for r in caplog.records if r.name == "pw2mqtt.mqtt.connection"]
    warnings = [r for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "unavailable" in warnings[0].getMessage()
    assert any(r.levelno == logging.DEBUG and "retrying" in r.getMessage() for r in records)
    assert any(r.levelno == logging.INFO and "Reconnected" in r.getMessage() for r in records)


async def test_persistent_broker_keeps_retained_over_restart(persistent_broker: Broker) -> None:
    async with running(persistent_broker, Recorder()) as connection:
        await connection.close(final=[WILL])
    persistent_broker.stop()
    persistent_broker.start()
    async with MqttProbe(persistent_broker, [STATE]) as probe:
        kept = await probe.wait_for(STATE)
        assert (kept.text, kept.retain) == ("offline", True)


async def test_failing_handler_does_not_stop_later_messages(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    payloads: list[bytes] = []

    async def on_message(message: Incoming) -> None:
        payloads.append(message.payload)
        if message.payload == b"boom":
            raise RuntimeError("handler bug")

    recorder.on_message = on_message  # type: ignore[method-assign]
    async with running(broker, recorder) as connection:
        await broker.pub("pw2mqtt/home/set", "boom")
        await broker.pub("pw2mqtt/home/set", "fine")
        await eventually(lambda: payloads == [b"boom", b"fine"])
        assert connection.connected
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "pw2mqtt/home/set" in errors[0].getMessage()
    assert "handler bug" in errors[0].getMessage()


async def test_mqtt5_request_response_with_correlation_data(broker: Broker) -> None:
    recorder = Recorder()
    requests: list[Incoming] = []

    async def on_message(message: Incoming) -> None:
        requests.append(message)
        assert recorder.connection is not None
        assert message.response_topic is not None
        await recorder.connection.publish_response(
            message.response_topic, "pong", message.correlation_data
        )

    recorder.on_message = on_message  # type: ignore[method-assign]
    async with (
        running(broker, recorder, protocol="5", subscriptions=[("pw2mqtt/bridge/request/#", 1)]),
        MqttProbe(broker, ["client/reply"]) as probe,
    ):
        await probe.publish(
            "pw2mqtt/bridge/request/ping",
            "{}",
            response_topic="client/reply",
            correlation_data=b"\x00abc",
        )
        reply = await probe.wait_for("client/reply")
    assert (requests[0].response_topic, requests[0].correlation_data) == (
        "client/reply",
        b"\x00abc",
    )
    assert (reply.text, reply.correlation_data, reply.retain) == ("pong", b"\x00abc", False)


async def test_mosquitto_sub_helper_sees_retained_state(broker: Broker) -> None:
    async with running(broker, Recorder()):
        result = await broker.sub("-t", STATE, "-C", "1", "-W", "3", "-v")
    assert result.stdout == f"{STATE} online\n"


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Broker, Path]]:
    """A broker whose listener speaks TLS with a self-signed certificate for 127.0.0.1."""
    cert = make_certificate(addresses=["127.0.0.1"])
    (tmp_path / "cert.pem").write_bytes(cert.cert_pem)
    (tmp_path / "key.pem").write_bytes(cert.key_pem)
    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker", tls=(tmp_path / "cert.pem", tmp_path / "key.pem"))
    try:
        broker.start()
        yield broker, tmp_path / "cert.pem"
    finally:
        broker.kill()


async def test_tls_verifies_the_broker(
    tls_broker: tuple[Broker, Path], caplog: pytest.LogCaptureFixture
) -> None:
    broker, ca_file = tls_broker
    recorder = Recorder()
    async with running(broker, recorder, tls=True, ca_file=ca_file) as connection:
        assert connection.connected

    untrusted = MqttConnection(
        options(broker, tls=True),
        will=WILL,
        subscriptions=[],
        on_connect=recorder.on_connect,
        on_message=recorder.on_message,
    )
    task = asyncio.create_task(untrusted.run())
    await eventually(lambda: "CERTIFICATE_VERIFY_FAILED" in caplog.text)
    assert not untrusted.connected
    await untrusted.close()
    await task

    caplog.clear()
    async with running(broker, Recorder(), tls=True, tls_insecure=True) as connection:
        assert connection.connected
    assert "verification is off" in caplog.text
