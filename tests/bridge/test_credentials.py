"""A wrong password, a changed certificate, a bad reading: what a Home Assistant or MQTT user sees.
The simulator over real HTTPS, a real Mosquitto, a real MQTT observer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from pw2mqtt.gateway.rest.models import SOE
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from tests.harness import bridge_settings, running_bridge
from tests.mqtt_probe import Broker, MqttProbe, ProbeMessage

PASSWORD = "Pw2MqttSim"
BASE = "pw2mqtt"
SLUG = "tg123456789abc"  # from the simulator's default DIN


def settings_for(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path, **gateway: Any
) -> dict[str, Any]:
    return bridge_settings(
        [sim],
        {"host": broker.host, "port": broker.port, "client_id": f"pw2mqtt-test-{tmp_path.name}"},
        tmp_path / "state",
        gateway={"password": PASSWORD, "timeout": 2.0, "backoff_max": 2.0, **gateway},
    )


@pytest.fixture
async def sim() -> AsyncIterator[GatewaySimulator]:
    async with GatewaySimulator(SimulatorOptions(control_port=None)) as simulator:
        yield simulator


def is_text(expected: str) -> Callable[[ProbeMessage], bool]:
    return lambda message: message.text == expected


async def test_wrong_password_at_start_is_visible(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    host_slug = "localhost"
    async with MqttProbe(broker, ["pw2mqtt/#", "homeassistant/#"]) as probe:
        values = settings_for(broker, sim, tmp_path, password="WRONG")
        async with running_bridge(values):
            offline = await probe.wait_for(f"{BASE}/{host_slug}/availability", is_text("offline"))
            reason = await probe.wait_for(f"{BASE}/{host_slug}/last_error")
            config = await probe.wait_for(f"homeassistant/device/pw2mqtt_{host_slug}/config")
    assert offline.retain
    assert reason.retain
    assert "rejected the customer login" in reason.text
    assert "check the gateway's password" in reason.text
    component = json.loads(config.payload)["cmps"]["last_error"]
    assert component["entity_category"] == "diagnostic"
    assert component["state_topic"] == f"{BASE}/{host_slug}/last_error"
    # Shown while the bridge runs, also while the gateway is offline: that is when it explains.
    assert component["availability"] == [{"topic": f"{BASE}/bridge/state"}]
    assert "WRONG" not in " ".join(m.text for m in probe.messages)


async def test_restart_with_a_wrong_password_logs_in_and_fails(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
        async with running_bridge(settings_for(broker, sim, tmp_path)):
            await probe.wait_for(f"{BASE}/{SLUG}/last_error", is_text("ok"))
        assert sim.logins == 1
        mark = probe.mark()
        async with running_bridge(settings_for(broker, sim, tmp_path, password="WRONG")):
            await probe.wait_for(f"{BASE}/{SLUG}/availability", is_text("offline"), start=mark)
            reason = await probe.wait_for(
                f"{BASE}/{SLUG}/last_error", lambda m: m.text != "ok", start=mark
            )
    assert "rejected the customer login" in reason.text
    assert sim.logins == 2  # the saved session did not vouch for the changed password


async def test_restart_with_the_same_password_reuses_the_session(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
        for _ in range(2):
            mark = probe.mark()
            async with running_bridge(settings_for(broker, sim, tmp_path)):
                await probe.wait_for(f"{BASE}/{SLUG}/state", start=mark)
    assert sim.logins == 1


async def test_certificate_change_during_an_outage_is_reported(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    values = settings_for(broker, sim, tmp_path, backoff_max=30.0)
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
        async with running_bridge(values):
            await probe.wait_for(f"{BASE}/{SLUG}/last_error", is_text("ok"))
            mark = probe.mark()
            await sim.reboot(downtime=2.0, new_certificate=True)  # an outage, then a new cert
            changed = await probe.wait_for(
                f"{BASE}/{SLUG}/last_error",
                lambda m: "certificate" in m.text,
                start=mark,
                timeout=20,
            )
            handshakes = sim.connections
            await asyncio.sleep(6.0)  # six fast polls
            later = sim.connections - handshakes
    assert "TLS certificate of" in changed.text
    assert "delete the gateway's tls-pin.sha256" in changed.text
    assert later <= 2  # backed off, not a handshake every fast poll
    warnings = [r.getMessage() for r in caplog.records if "poll failed" in r.getMessage()]
    # Each reason is said as it comes: the outage first, then the new certificate. (`last_error`
    # may go straight to the second: the gateway counts as offline after a few failed polls.)
    reasons = ["certificate" if "TLS certificate" in w else "unreachable" for w in warnings]
    assert reasons[:1] == ["unreachable"]
    assert "certificate" in reasons


async def test_impossible_charge_keeps_the_last_level(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
        async with running_bridge(settings_for(broker, sim, tmp_path)):
            level = await probe.wait_for(f"{BASE}/{SLUG}/battery_level")
            mark = probe.mark()
            sim.replace_body(SOE.path, b'{"percentage": 4294967295}')
            await probe.wait_for(
                f"{BASE}/bridge/logging", lambda m: b"impossible state of charge" in m.payload
            )
            await asyncio.sleep(2.5)
            published = [m.text for m in probe.messages[mark:] if m.topic.endswith("battery_level")]
            availability = probe.on(f"{BASE}/{SLUG}/availability")
    assert published == []  # neither 100 nor anything else: the last good value stands
    assert float(level.text) < 100
    assert availability[-1].text == "online"
