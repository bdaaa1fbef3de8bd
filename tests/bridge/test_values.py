"""Values as users found them wrong: grid faults on 1.50, and local paths in the relayed log."""

from __future__ import annotations

import json
from pathlib import Path

from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from tests.harness import bridge_settings, running_bridge
from tests.mqtt_probe import Broker, MqttProbe

BASE = "pw2mqtt"
SLUG = "tg123456789abc"


def settings(broker: Broker, sim: GatewaySimulator, tmp_path: Path) -> dict[str, object]:
    return bridge_settings(
        [sim],
        {"host": broker.host, "port": broker.port, "client_id": f"values-{tmp_path.name}"},
        tmp_path / "state",
        gateway={"timeout": 3.0},
    )


async def test_grid_faults_from_system_status_on_1_50(broker: Broker, tmp_path: Path) -> None:
    options = SimulatorOptions(control_port=None, speed=5.0, profile="1.50")
    async with GatewaySimulator(options) as sim:
        async with MqttProbe(broker, [f"{BASE}/#", "homeassistant/#"]) as probe:
            async with running_bridge(settings(broker, sim, tmp_path)):
                await probe.wait_for(f"{BASE}/{SLUG}/grid_fault_count", lambda m: m.text == "0")
                sim.start_outage()
                await probe.wait_for(f"{BASE}/{SLUG}/grid_status", lambda m: m.text == "islanded")
                sim.end_outage()
                count = await probe.wait_for(
                    f"{BASE}/{SLUG}/grid_fault_count", lambda m: m.text == "1", timeout=15
                )
                fault = await probe.wait_for(f"{BASE}/{SLUG}/last_grid_fault", timeout=15)
                config = await probe.wait_for(
                    f"homeassistant/device/pw2mqtt_{SLUG}/config",
                    lambda m: b'"last_grid_fault"' in m.payload,
                )
        grid_fault_reads = [c for c in sim.calls if c.path == "/api/system_status/grid_faults"]
    assert count.retain
    assert fault.text.startswith("PINV_")
    assert json.loads(config.payload)["cmps"]["last_grid_fault"]["p"] == "sensor"
    assert len(grid_fault_reads) == 1  # answered 404 once, then left alone


async def test_relayed_log_lines_carry_no_local_paths(broker: Broker, tmp_path: Path) -> None:
    async with GatewaySimulator(SimulatorOptions(control_port=None)) as sim:
        async with MqttProbe(broker, [f"{BASE}/#"]) as probe:
            async with running_bridge(settings(broker, sim, tmp_path)):
                pinned = await probe.wait_for(
                    f"{BASE}/bridge/logging", lambda m: b"pinned its TLS certificate" in m.payload
                )
                await probe.wait_for(f"{BASE}/{SLUG}/state")
    assert "stored in <state_dir>/" in json.loads(pinned.payload)["message"]
    relayed = [m.text for m in probe.messages if m.topic == f"{BASE}/bridge/logging"]
    assert relayed
    assert not [text for text in relayed if str(tmp_path) in text]
