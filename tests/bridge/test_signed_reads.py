"""Reads through signed control end to end: the simulator over real HTTPS, a real Mosquitto.

With a verified key in the state directory the bridge publishes mode, reserve, grid charging and
export rule from config.json where REST cannot say; without a key it signs nothing; a key removed
while running is said once and REST values carry on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pw2mqtt.gateway.tedapi.keys import KEY_FILE_NAME, SigningKey, generate_key, save_key
from pw2mqtt.mqtt.topics import gateway_slug
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from pw2mqtt.simulator.keys import KeyState
from tests.harness import bridge_settings, running_bridge
from tests.mqtt_probe import Broker, MqttProbe, ProbeMessage

BASE = "pw2mqtt"
V1R = "/tedapi/v1r"
SIGNED = ("operation_mode", "backup_reserve", "backup_reserve_raw", "grid_charging", "export_rule")
POLL = {"fast": 1.0, "medium": 2.0, "slow": 10.0}


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_key(key_size=2048)  # 4096 bits sign the same way, only slower


def settings(broker: Broker, sim: GatewaySimulator, state: Path) -> dict[str, Any]:
    return bridge_settings(
        [sim],
        {"host": broker.host, "port": broker.port, "client_id": f"signed-{state.parent.name}"},
        state,
        gateway={"timeout": 3.0, "poll": POLL},
    )


def with_key(tmp_path: Path, key: SigningKey) -> Path:
    state = tmp_path / "state"
    save_key(key, state / KEY_FILE_NAME)
    return state


def is_text(expected: str) -> Callable[[ProbeMessage], bool]:
    return lambda message: message.text == expected


def v1r_calls(sim: GatewaySimulator, start: int = 0) -> int:
    return sum(1 for call in sim.calls[start:] if call.path == V1R)


@pytest.mark.parametrize("profile", ["pw3", "26.26"])
async def test_a_verified_key_publishes_what_config_json_says(
    broker: Broker, tmp_path: Path, key: SigningKey, profile: str
) -> None:
    options = SimulatorOptions(control_port=None, profile=profile)
    async with GatewaySimulator(options) as sim:
        sim.set_key_state(key.public_key_der, KeyState.VERIFIED)
        sim.set_operation(mode="backup", reserve=43.0)
        slug = gateway_slug(sim.din, "")  # no `name`: the DIN names even a PW3
        gw = f"{BASE}/{slug}"
        async with MqttProbe(broker, [f"{BASE}/#", "homeassistant/#"]) as probe:
            async with running_bridge(settings(broker, sim, with_key(tmp_path, key))):
                got = {k: await probe.wait_for(f"{gw}/{k}", timeout=15) for k in SIGNED}
                await probe.wait_for(f"{gw}/availability", is_text("online"))
    assert got["operation_mode"].text == "backup"
    assert got["backup_reserve_raw"].text == "43"
    assert got["backup_reserve"].text == "40"  # (43 - 5) / 0.95
    assert got["grid_charging"].text == "true"
    assert got["export_rule"].text == "pv_only"
    configs = [m for m in probe.on(f"homeassistant/device/pw2mqtt_{slug}/config") if m.payload]
    components = json.loads(configs[-1].payload)["cmps"]
    for entity in SIGNED:
        assert entity in components
    if profile == "pw3":  # REST cannot say: the values follow the signed source's availability
        mode = components["operation_mode"]
        topics = [a["topic"] for a in mode["availability"]]
        assert f"{gw}/availability/signed_config" in topics
        assert probe.retained(f"{gw}/availability/signed_config") is not None


async def test_without_a_key_nothing_is_signed_and_nothing_signed_announced(
    broker: Broker, tmp_path: Path
) -> None:
    options = SimulatorOptions(control_port=None, profile="pw3")
    async with GatewaySimulator(options) as sim:
        gw = f"{BASE}/{gateway_slug(sim.din, '')}"
        async with MqttProbe(broker, [f"{BASE}/#", "homeassistant/#"]) as probe:
            async with running_bridge(settings(broker, sim, tmp_path / "state")):
                await probe.wait_for(f"{gw}/battery_level", timeout=15)
                await asyncio.sleep(3.0)
    assert v1r_calls(sim) == 0
    assert sum(1 for call in sim.calls if call.path == "/tedapi/din") == 1  # the name, once
    for entity in SIGNED:
        assert not probe.on(f"{gw}/{entity}")
    device = f"homeassistant/device/pw2mqtt_{gateway_slug(sim.din, '')}/config"
    configs = [m for m in probe.on(device) if m.payload]
    assert not set(SIGNED) & set(json.loads(configs[-1].payload)["cmps"])


async def test_a_key_removed_while_running_is_said_once_and_rest_carries_on(
    broker: Broker, tmp_path: Path, key: SigningKey
) -> None:
    options = SimulatorOptions(control_port=None, profile="pw3")
    async with GatewaySimulator(options) as sim:
        sim.set_key_state(key.public_key_der, KeyState.VERIFIED)
        gw = f"{BASE}/{gateway_slug(sim.din, '')}"
        source = f"{gw}/availability/signed_config"
        async with MqttProbe(broker, [f"{BASE}/#"]) as probe:
            async with running_bridge(settings(broker, sim, with_key(tmp_path, key))):
                await probe.wait_for(f"{gw}/export_rule", timeout=15)
                await probe.wait_for(source, is_text("online"))
                sim.set_key_state(key.public_key_der, KeyState.REMOVED)
                mark = len(probe.messages)
                await probe.wait_for(source, is_text("offline"), timeout=20, start=mark)
                calls = len(sim.calls)
                await asyncio.sleep(12.0)  # past the next slow tick: the key rests
    warnings = [
        json.loads(m.payload)
        for m in probe.on(f"{BASE}/bridge/logging")
        if b"signed reads stop" in m.payload
    ]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "warning"
    assert key.fingerprint in warnings[0]["message"]
    assert "pw2mqtt pair" in warnings[0]["message"]
    assert v1r_calls(sim, calls) == 0
    rest = [c for c in sim.calls[calls:] if c.path == "/api/meters/aggregates" and c.status == 200]
    assert len(rest) >= 6  # the fast tier went on
    assert "offline" not in [m.text for m in probe.on(f"{gw}/availability")]


async def test_firmware_without_v1r_is_asked_once(
    broker: Broker, tmp_path: Path, key: SigningKey
) -> None:
    options = SimulatorOptions(control_port=None, profile="21.44")
    async with GatewaySimulator(options) as sim:
        sim.set_key_state(key.public_key_der, KeyState.VERIFIED)
        gw = f"{BASE}/{gateway_slug(sim.din, '')}"
        async with MqttProbe(broker, [f"{BASE}/#"]) as probe:
            async with running_bridge(settings(broker, sim, with_key(tmp_path, key))):
                await probe.wait_for(f"{gw}/operation_mode", timeout=15)
                await asyncio.sleep(11.0)  # past the next slow tick
    tedapi = [c for c in sim.calls if c.path.startswith("/tedapi/")]
    assert len(tedapi) == 1
    assert tedapi[0].status == 404
    assert not probe.on(f"{gw}/export_rule")
    said = [m for m in probe.on(f"{BASE}/bridge/logging") if b"signed reads stop" in m.payload]
    assert not said
