"""Per-device detail and alerts: from the real vitals capture, and through the bridge."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pw2mqtt.entities.catalogue import format_value
from pw2mqtt.entities.devices import ALERT_ENTITIES, active_alerts, devices_for
from pw2mqtt.gateway.rest.models import SOLAR_POWERWALL
from pw2mqtt.gateway.rest.vitals import decode_vitals
from pw2mqtt.gateway.snapshot import GatewaySnapshot
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from tests import fixtures
from tests.harness import TEST_POLL, bridge_settings, running_bridge
from tests.mqtt_probe import Broker, MqttProbe

FIXTURES = fixtures.FIXTURES / "pypowerwall"
CAPTURE = FIXTURES / "pwsimulator" / "api.devices.vitals.protobuf.bin"
SOLAR_JSON = FIXTURES / "pwsimulator" / "api.solar_powerwall.json"
BASE = "pw2mqtt"
SLUG = "tg123456789abc"


def published(snapshot: GatewaySnapshot) -> dict[str, str]:
    return {
        entity.topic_path: format_value(value)
        for device in devices_for(snapshot)
        for entity in device.entities
        if (value := entity.value(snapshot)) is not None
    }


def test_the_real_capture_becomes_devices_strings_and_alerts() -> None:
    snapshot = GatewaySnapshot(datetime.now(UTC), vitals=decode_vitals(CAPTURE.read_bytes()))
    slugs = [device.slug for device in devices_for(snapshot)]
    assert slugs == [
        "tethc_1", "tepod_1", "tepinv_1", "tethc_2", "tepod_2", "tepinv_2",
        "pvac_1", "tesync_1", "neurio_1",
    ]  # fmt: skip
    values = published(snapshot)
    assert values["devices/pvac_1/string_a_power"] == "441"
    assert values["devices/pvac_1/string_c_power"] == "746"
    assert values["devices/pvac_1/power"] == "1960"
    assert values["devices/tepod_1/energy_remaining"] == "4715"
    assert values["devices/tepinv_1/power"] == "-540"  # PINV_Pout is in kW on the wire
    assert values["devices/tethc_1/ambient_temp"] == "15.6"
    assert values["devices/tesync_1/grid_connected"] == "true"
    alerts = active_alerts(snapshot)
    assert alerts is not None
    assert ("tepinv_1", "PINV_a067_overvoltageNeutralChassis", "alert") in {
        (a.device, a.name, a.severity) for a in alerts
    }
    count, problem = (entity.value(snapshot) for entity in ALERT_ENTITIES)
    assert (count, problem) == (len(alerts), False)


def test_without_vitals_solar_powerwall_still_gives_strings_and_alerts() -> None:
    solar = SOLAR_POWERWALL.decode(SOLAR_JSON.read_bytes())
    snapshot = GatewaySnapshot(datetime.now(UTC), solar_powerwall=solar)
    [device] = devices_for(snapshot)
    assert device.slug == "pvac_1"
    values = published(snapshot)
    assert "devices/pvac_1/power" in values
    assert any(path.startswith("devices/pvac_1/string_") for path in values)
    alerts = active_alerts(snapshot)
    assert alerts is not None
    assert all(alert.device == "pvac_1" for alert in alerts)


def test_nothing_to_say_without_a_source() -> None:
    snapshot = GatewaySnapshot(datetime.now(UTC))
    assert devices_for(snapshot) == ()
    assert active_alerts(snapshot) is None
    assert [entity.value(snapshot) for entity in ALERT_ENTITIES] == [None, None]


def settings_for(broker: Broker, sim: GatewaySimulator, tmp_path: Path) -> dict[str, Any]:
    return bridge_settings(
        [sim],
        {"host": broker.host, "port": broker.port, "client_id": "pw2mqtt-detail"},
        tmp_path / "state",
        gateway={"poll": TEST_POLL | {"detail": 1.0}},
    )


async def test_bridge_publishes_devices_linked_to_the_gateway(
    broker: Broker, tmp_path: Path
) -> None:
    async with GatewaySimulator(SimulatorOptions(control_port=None, profile="21.44")) as sim:
        async with MqttProbe(broker, ["pw2mqtt/#", "homeassistant/#"]) as probe:
            async with running_bridge(settings_for(broker, sim, tmp_path)):
                pod = await probe.wait_for(f"{BASE}/{SLUG}/devices/tepod_1/energy_remaining")
                config = await probe.wait_for(f"homeassistant/device/pw2mqtt_{SLUG}_tepod_1/config")
                alerts = await probe.wait_for(f"{BASE}/{SLUG}/alerts")
                gateway_config = await probe.wait_for(f"homeassistant/device/pw2mqtt_{SLUG}/config")
                strings = await probe.wait_for(f"{BASE}/{SLUG}/devices/pvac_1/string_a_power")
                blocks = sim.state
                sim.start_outage()
                event = await probe.wait_for(
                    f"{BASE}/bridge/event", lambda m: b"alert_raised" in m.payload, timeout=10
                )
    remaining_kwh = float(pod.text) / 1000
    assert remaining_kwh == pytest.approx(blocks.soe / 100 * 13.5, abs=0.3)
    assert float(strings.text) >= 0
    payload = json.loads(config.payload)
    assert payload["dev"]["via_device"] == f"pw2mqtt_{SLUG}"
    assert payload["cmps"]["tepod_1_energy_remaining"]["state_topic"] == (
        f"{BASE}/{SLUG}/devices/tepod_1/energy_remaining"
    )
    gateway_components = json.loads(gateway_config.payload)["cmps"]
    assert gateway_components["active_alerts"]["json_attributes_topic"] == f"{BASE}/{SLUG}/alerts"
    assert gateway_components["alert_problem"]["device_class"] == "problem"
    assert {"device", "name", "severity"} <= set(json.loads(alerts.payload)["alerts"][0])
    assert "IslandContactorOpen" in json.loads(event.payload)["data"]["name"]


async def test_newer_firmware_skips_vitals_quietly(broker: Broker, tmp_path: Path) -> None:
    async with GatewaySimulator(SimulatorOptions(control_port=None, profile="23.44")) as sim:
        async with MqttProbe(broker, ["pw2mqtt/#", "homeassistant/#"]) as probe:
            async with running_bridge(settings_for(broker, sim, tmp_path)):
                await probe.wait_for(f"{BASE}/{SLUG}/devices/pvac_1/power", timeout=10)
                await probe.wait_for(f"{BASE}/{SLUG}/state")
                await probe.wait_for(f"{BASE}/{SLUG}/state", start=probe.mark())
        vitals_calls = [c for c in sim.calls if c.path == "/api/devices/vitals"]
    assert len(vitals_calls) == 1  # 404 once, then remembered
    assert not any("/devices/tepod_" in m.topic for m in probe.messages)
