"""`<gw>/get` end to end: the simulator over real HTTPS (its call log counts the reads), a real
Mosquitto, a probe."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from tests.harness import bridge_settings, running_bridge
from tests.mqtt_probe import Broker, MqttProbe, ProbeMessage

BASE = "pw2mqtt"
SLUG = "tg123456789abc"
GW = f"{BASE}/{SLUG}"
GET = f"{GW}/get"
ANSWER = f"{BASE}/bridge/response/gateway/get"
SOE = "/api/system_status/soe"
SLOW_POLL = {"fast": 30.0, "medium": 60.0, "slow": 600.0}  # polls never explain a read


@pytest.fixture
async def sim() -> AsyncIterator[GatewaySimulator]:
    options = SimulatorOptions(control_port=None, speed=5.0)
    async with GatewaySimulator(options) as simulator:
        yield simulator


def settings(broker: Broker, sim: GatewaySimulator, tmp_path: Path) -> dict[str, Any]:
    return bridge_settings(
        [sim],
        {"host": broker.host, "port": broker.port, "client_id": f"pw2mqtt-{tmp_path.name}"},
        tmp_path / "state",
        gateway={"timeout": 2.0, "poll": SLOW_POLL},
    )


def body(message: ProbeMessage) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(message.payload)
    return payload


async def started(probe: MqttProbe) -> None:
    await probe.wait_for(f"{GW}/availability", lambda m: m.text == "online", timeout=10)
    await probe.wait_for(f"{GW}/battery_level", timeout=5)


async def test_a_get_reads_now_and_publishes_what_it_read(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
        async with running_bridge(settings(broker, sim, tmp_path)):
            await started(probe)
            calls = len(sim.calls)
            mark = probe.mark()
            await probe.publish(GET, json.dumps({"fields": ["battery_level"], "transaction": 7}))
            answer = await probe.wait_for(ANSWER, timeout=10, start=mark)
            level = await probe.wait_for(f"{GW}/battery_level", timeout=5, start=mark)
    reply = body(answer)
    assert reply["status"] == "ok", reply
    assert reply["transaction"] == 7
    assert reply["data"]["coalesced"] is False
    assert "soe" in reply["data"]["read"]
    assert reply["data"]["values"]["battery_level"] == level.text
    assert any(call.path == SOE for call in sim.calls[calls:])


async def test_a_get_storm_makes_a_bounded_number_of_reads(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    storm = 300
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
        async with running_bridge(settings(broker, sim, tmp_path)):
            await started(probe)
            calls = len(sim.calls)
            mark = probe.mark()
            loop = asyncio.get_running_loop()
            began = loop.time()
            await asyncio.gather(*(probe.publish(GET, "") for _ in range(storm)))
            sent_in = loop.time() - began
            for _ in range(100):  # until every get is answered
                if len([m for m in probe.messages[mark:] if m.topic == ANSWER]) >= storm:
                    break
                await asyncio.sleep(0.1)
            answers = [body(m) for m in probe.messages[mark:] if m.topic == ANSWER]
            reads = [c for c in sim.calls[calls:] if c.path == SOE]
            after = probe.mark()
            await probe.publish(f"{GW}/get", "")  # still answering after the storm
            last = await probe.wait_for(ANSWER, timeout=10, start=after)
    assert sent_in < 3.0  # a storm: hundreds within a second or so
    assert len(answers) == storm
    done = [a for a in answers if a["status"] == "ok"]
    limited = [a for a in answers if a["data"].get("rate_limited")]
    assert done
    assert len(done) + len(limited) == storm
    assert all("rate-limited" in a["error"] and a["data"]["retry_after"] > 0 for a in limited)
    assert len(reads) <= 1 + int(sent_in // 5.0) + 1  # one forced read per 5 s, at most
    assert body(last)["status"] in {"ok", "error"}


async def test_gets_during_a_read_join_it(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    sim.set_faults(latency=0.5)  # a read takes long enough for more gets to arrive
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
        async with running_bridge(settings(broker, sim, tmp_path)):
            await started(probe)
            calls = len(sim.calls)
            mark = probe.mark()
            for _ in range(5):
                await probe.publish(GET, "")
            for _ in range(100):
                if len([m for m in probe.messages[mark:] if m.topic == ANSWER]) >= 5:
                    break
                await asyncio.sleep(0.1)
            answers = [body(m) for m in probe.messages[mark:] if m.topic == ANSWER]
            reads = [c for c in sim.calls[calls:] if c.path == SOE]
    assert [a["status"] for a in answers] == ["ok"] * 5
    assert [a["data"]["coalesced"] for a in answers] == [False, True, True, True, True]
    assert len(reads) == 1


async def test_a_retained_get_and_bad_gets_are_answered_and_not_acted_on(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
        await probe.publish(GET, "now", retain=True)  # left on the broker before the bridge starts
        async with running_bridge(settings(broker, sim, tmp_path)):
            retained = await probe.wait_for(ANSWER, timeout=10)
            await started(probe)
            calls = len(sim.calls)
            mark = probe.mark()
            await probe.publish(GET, json.dumps({"fields": ["no_such_field"]}))
            unknown = await probe.wait_for(ANSWER, timeout=5, start=mark)
            mark = probe.mark()
            await probe.publish(f"{BASE}/nosuchgateway/get", "")
            stranger = await probe.wait_for(ANSWER, timeout=5, start=mark)
            await asyncio.sleep(0.5)
            reads = [c for c in sim.calls[calls:] if c.path == SOE]
            logs = [m.text for m in probe.on(f"{BASE}/bridge/logging")]
        await probe.publish(GET, "", retain=True)  # clear it from the broker
    assert "retained" in body(retained)["error"]
    assert "no_such_field" in body(unknown)["error"]
    assert "nosuchgateway" in body(stranger)["error"]
    assert not reads
    assert any("retained" in text for text in logs)


async def test_a_get_to_a_paused_gateway_is_answered_without_a_read(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
        async with running_bridge(settings(broker, sim, tmp_path)):
            await started(probe)
            sim.set_faults(busy=True)
            mark = probe.mark()
            await probe.publish(GET, "")  # the 503 to this read pauses the gateway
            first = await probe.wait_for(ANSWER, timeout=10, start=mark)
            await probe.wait_for(
                f"{BASE}/bridge/logging", lambda m: b"leaving the gateway alone" in m.payload
            )
            calls = len(sim.calls)
            mark = probe.mark()
            await probe.publish(GET, "")
            paused = await probe.wait_for(ANSWER, timeout=5, start=mark)
            asked = sim.calls[calls:]
    assert body(first)["status"] == "error"
    assert "busy" in body(first)["error"]
    assert "paused" in body(paused)["error"]
    assert asked == []
