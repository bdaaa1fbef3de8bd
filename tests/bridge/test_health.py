"""`bridge/health` and the health entities, end to end: the simulator over real HTTPS, a real
Mosquitto, a probe."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pw2mqtt.bridge.health import HEALTH_INTERVAL, _rss_bytes
from pw2mqtt.bridge.refresh import GET_SPACING
from pw2mqtt.gateway.rate import HourlyCount
from pw2mqtt.reference.topics import render
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from tests.harness import bridge_settings, running_bridge
from tests.mqtt_probe import Broker, MqttProbe, ProbeMessage

BASE = "pw2mqtt"
SLUG = "tg123456789abc"
GW = f"{BASE}/{SLUG}"
HEALTH = f"{BASE}/bridge/health"
DEVICE_TOPIC = f"homeassistant/device/pw2mqtt_{SLUG}/config"


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
        gateway={"timeout": 2.0, "backoff_max": 2.0},
    )


def health(message: ProbeMessage) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(message.payload)
    return payload


def gateway_entry(message: ProbeMessage) -> dict[str, Any]:
    entry: dict[str, Any] = health(message)["gateways"][0]
    return entry


async def test_health_is_published_and_follows_a_gateway_going_down(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/#", "homeassistant/#"]) as probe:
        async with running_bridge(settings(broker, sim, tmp_path)):
            await probe.wait_for(f"{GW}/availability", lambda m: m.text == "online", timeout=10)
            healthy = await probe.wait_for(
                HEALTH, lambda m: gateway_entry(m)["available"], timeout=10
            )
            latency = await probe.wait_for(f"{GW}/poll_latency", timeout=5)
            mark = probe.mark()
            sim.set_faults(reset=True)
            down = await probe.wait_for(
                HEALTH,
                lambda m: not gateway_entry(m)["available"] and gateway_entry(m)["last_error"],
                timeout=30,
                start=mark,
            )
            between = [m for m in probe.messages[mark:] if m.topic == HEALTH]
    assert healthy.retain
    report = health(healthy)
    gateway = report["gateways"][0]
    assert gateway["gateway"] == SLUG
    assert gateway["failures_in_a_row"] == 0
    assert gateway["last_error"] is None
    assert gateway["last_poll_ok"] is not None
    assert gateway["poll_latency_ms"]["last"] > 0
    assert gateway["requests_per_hour"] >= 3
    assert gateway["logins_per_hour"] == 1
    assert gateway["commands"] == {"accepted": 0, "refused": 0}
    process = report["process"]
    assert process["rss_bytes"] > 1_000_000
    assert process["cpu_s"] > 0
    assert process["uptime_s"] >= 0
    assert float(latency.text) > 0
    failed = gateway_entry(down)
    assert failed["failures_in_a_row"] >= 3  # poll.offline_after
    assert "reach" in failed["last_error"] or "connection" in failed["last_error"].lower()
    assert failed["last_poll_ok"] is not None  # the last good one, kept
    # Sent on changes that matter (first failure, offline), not on every poll or counter tick.
    assert len(between) <= 4
    config = json.loads([m for m in probe.on(DEVICE_TOPIC) if m.payload][-1].payload)
    assert config["cmps"]["poll_latency"]["entity_category"] == "diagnostic"
    assert config["cmps"]["poll_latency"]["unit_of_measurement"] == "ms"
    assert "requests_per_hour" in config["cmps"]


async def test_health_is_sent_again_every_interval(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, [HEALTH]) as probe:
        async with running_bridge(settings(broker, sim, tmp_path)) as bridge:
            bridge.health.interval = 2.0
            await probe.wait_for(HEALTH, lambda m: gateway_entry(m)["available"], timeout=10)
            mark = probe.mark()
            await probe.wait_for(HEALTH, timeout=5, start=mark)
            again = await probe.wait_for(HEALTH, timeout=5, start=probe.mark())
    assert gateway_entry(again)["available"]


def test_hourly_count_keeps_the_last_hour_only() -> None:
    now = [0.0]
    count = HourlyCount(lambda: now[0])
    for _ in range(5):
        count.add()
    now[0] = 30 * 60.0
    count.add(2)
    assert count.per_hour() == 7
    now[0] = 61 * 60.0  # the first five are over an hour old
    assert count.per_hour() == 2
    now[0] = 200 * 60.0
    assert count.per_hour() == 0
    assert count.total == 7


def test_rss_is_read_from_proc() -> None:
    rss = _rss_bytes()
    assert rss is not None
    assert rss > 1_000_000


def test_the_topic_reference_gives_the_intervals_in_use() -> None:
    """The generators may not import the bridge, so the figures are written out there."""
    text = render()
    assert f"Sent every {HEALTH_INTERVAL:.0f} s" in text
    assert f"per gateway every {GET_SPACING:g} s" in text
