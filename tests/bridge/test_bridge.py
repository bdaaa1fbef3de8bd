"""The bridge end to end: the simulator over real HTTPS, a real Mosquitto, a real MQTT observer."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions, din_for
from tests.harness import bridge_settings, running_bridge
from tests.mqtt_probe import Broker, MqttProbe, ProbeMessage

PASSWORD = "Pw2MqttSim"
BASE = "pw2mqtt"
SLUG = "tg123456789abc"  # from the simulator's default DIN
DEVICE_TOPIC = f"homeassistant/device/pw2mqtt_{SLUG}/config"


def settings_for(
    broker: Broker, sims: list[GatewaySimulator], tmp_path: Path, **mqtt: Any
) -> dict[str, Any]:
    return bridge_settings(
        sims,
        {"host": broker.host, "port": broker.port, "client_id": f"pw2mqtt-test-{tmp_path.name}"}
        | mqtt,
        tmp_path / "state",
        gateway={"password": PASSWORD, "timeout": 2.0, "backoff_max": 2.0},
    )


@pytest.fixture
async def sim() -> AsyncIterator[GatewaySimulator]:
    async with GatewaySimulator(SimulatorOptions(control_port=None)) as simulator:
        yield simulator


def is_text(expected: str) -> Callable[[ProbeMessage], bool]:
    return lambda message: message.text == expected


async def test_state_discovery_and_availability(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/#", "homeassistant/#"]) as probe:
        async with running_bridge(settings_for(broker, [sim], tmp_path)):
            state = await probe.wait_for(f"{BASE}/bridge/state", is_text("online"))
            assert state.retain
            assert state.qos == 1
            available = await probe.wait_for(f"{BASE}/{SLUG}/availability", is_text("online"))
            assert available.retain
            config_message = await probe.wait_for(DEVICE_TOPIC)
            level = await probe.wait_for(f"{BASE}/{SLUG}/battery_level")
            snapshot = await probe.wait_for(f"{BASE}/{SLUG}/state")
            await probe.wait_for(f"{BASE}/bridge/info")
            await probe.wait_for(f"{BASE}/{SLUG}/operation_mode")

    config = json.loads(config_message.payload)
    assert config_message.retain
    assert config["dev"]["ids"] == [f"pw2mqtt_{SLUG}"]
    assert config["availability_mode"] == "all"
    assert {"battery_level", "grid_power", "grid_energy_imported"} <= set(config["cmps"])
    assert config["cmps"]["battery_level"]["state_topic"] == f"{BASE}/{SLUG}/battery_level"
    app_level = (sim.state.soe - 5) / 0.95
    assert float(level.text) == pytest.approx(app_level, abs=0.5)
    assert level.retain
    body = json.loads(snapshot.payload)
    assert "ts" in body
    assert body["battery_level"] == pytest.approx(app_level, abs=0.5)
    # Discovery goes out before the state it describes.
    topics = [m.topic for m in probe.messages]
    assert topics.index(DEVICE_TOPIC) < topics.index(f"{BASE}/{SLUG}/battery_level")
    assert not any("+" in t or "#" in t for t in topics)
    assert not [m for m in probe.on(f"{BASE}/bridge/state") if m.text == "offline"][:-1]


async def test_plain_values_for_mosquitto_sub(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
        async with running_bridge(settings_for(broker, [sim], tmp_path)):
            await probe.wait_for(f"{BASE}/{SLUG}/grid_connected")
            result = await broker.sub("-t", f"{BASE}/{SLUG}/grid_connected", "-C", "1", "-W", "5")
            mode = await broker.sub("-t", f"{BASE}/{SLUG}/operation_mode", "-C", "1", "-W", "5")
            power = await broker.sub("-t", f"{BASE}/{SLUG}/grid_power", "-C", "1", "-W", "5")
    assert result.stdout.strip() == "true"
    assert mode.stdout.strip() == "self_consumption"
    float(power.stdout.strip())  # a bare number, no unit


async def test_gateway_outage_goes_offline_then_back(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
        async with running_bridge(settings_for(broker, [sim], tmp_path)):
            await probe.wait_for(f"{BASE}/{SLUG}/availability", is_text("online"))
            sim.set_faults(reset=True)  # every connection dropped without an answer
            offline = await probe.wait_for(
                f"{BASE}/{SLUG}/availability", is_text("offline"), timeout=12
            )
            mark = probe.mark()
            await asyncio.sleep(2.5)  # a few fast polls while the gateway is away
            stale = [m for m in probe.messages[mark:] if m.topic.endswith("_power")]
            assert stale == []
            sim.clear_faults()
            await probe.wait_for(
                f"{BASE}/{SLUG}/availability", is_text("online"), timeout=10, start=mark
            )
            await probe.wait_for(f"{BASE}/{SLUG}/state", start=mark, timeout=5)
            event = await probe.wait_for(
                f"{BASE}/bridge/event", lambda m: b"gateway_offline" in m.payload
            )
            logged = await probe.wait_for(
                f"{BASE}/bridge/logging", lambda m: b"poll failed" in m.payload
            )
    record = json.loads(logged.payload)
    assert record["level"] == "warning"
    assert record["namespace"] == "pw2mqtt.gateway.poller"
    assert not logged.retain
    assert offline.retain
    assert "cannot reach" in json.loads(event.payload)["data"]["reason"]


async def test_broker_restart_brings_everything_back(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with running_bridge(settings_for(broker, [sim], tmp_path)) as bridge:
        async with MqttProbe(broker, ["pw2mqtt/#", "homeassistant/#"]) as probe:
            await probe.wait_for(f"{BASE}/{SLUG}/battery_level")
        broker.stop()  # this broker keeps nothing: all that follows was published anew
        await asyncio.sleep(1.0)
        assert not bridge.connection.connected
        broker.start()
        async with MqttProbe(broker, ["pw2mqtt/#", "homeassistant/#"]) as probe:
            await probe.wait_for(f"{BASE}/bridge/state", is_text("online"), timeout=15)
            await probe.wait_for(DEVICE_TOPIC, timeout=5)
            await probe.wait_for(f"{BASE}/{SLUG}/availability", is_text("online"))
            await probe.wait_for(f"{BASE}/{SLUG}/battery_level")
            await probe.wait_for(f"{BASE}/{SLUG}/grid_energy_imported")


async def test_home_assistant_birth_announces_again(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/#", "homeassistant/#"]) as probe:
        async with running_bridge(settings_for(broker, [sim], tmp_path)):
            await probe.wait_for(f"{BASE}/{SLUG}/battery_level")
            mark = probe.mark()
            await probe.publish("homeassistant/status", "online")
            await probe.wait_for(DEVICE_TOPIC, start=mark, timeout=8)
            await probe.wait_for(f"{BASE}/{SLUG}/battery_level", start=mark, timeout=5)
            energy = await probe.wait_for(f"{BASE}/{SLUG}/grid_energy_imported", start=mark)
    assert float(energy.text) > 0


async def test_home_assistant_offline_changes_nothing(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
        async with running_bridge(settings_for(broker, [sim], tmp_path)):
            await probe.wait_for(f"{BASE}/{SLUG}/battery_level")
            await probe.publish("homeassistant/status", "offline")
            mark = probe.mark()
            await probe.wait_for(f"{BASE}/{SLUG}/state", start=mark, timeout=5)


async def test_one_dead_gateway_does_not_stall_another(broker: Broker, tmp_path: Path) -> None:
    options = [SimulatorOptions(control_port=None, din=din_for(i)) for i in range(2)]
    async with GatewaySimulator(options[0]) as alive, GatewaySimulator(options[1]) as dead:
        dead.set_faults(hang=True)
        other = "tg123456789abd"
        values = settings_for(broker, [dead, alive], tmp_path)
        async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
            async with running_bridge(values):
                await probe.wait_for(f"{BASE}/{SLUG}/state", timeout=10)
                mark = len(alive.calls)
                await asyncio.sleep(3.0)
                # Still polled every second or so (the values themselves may not move that fast).
                reads = [c for c in alive.calls[mark:] if c.path == "/api/meters/aggregates"]
                assert len(reads) >= 2
                assert probe.on(f"{BASE}/{other}/state") == []


async def test_stale_discovery_config_is_cleared(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    old_topic = "homeassistant/device/pw2mqtt_removed/config"
    foreign_topic = "homeassistant/device/pw2mqtt_elsewhere/config"
    async with MqttProbe(broker, ["homeassistant/#"]) as probe:
        ours = {"availability": [{"topic": f"{BASE}/bridge/state"}], "cmps": {}}
        theirs = {"availability": [{"topic": "other/bridge/state"}], "cmps": {}}
        await probe.publish(old_topic, json.dumps(ours), retain=True)
        await probe.publish(foreign_topic, json.dumps(theirs), retain=True)
        async with running_bridge(settings_for(broker, [sim], tmp_path)):
            await probe.wait_for(old_topic, lambda m: m.payload == b"", timeout=10)
            await probe.wait_for(DEVICE_TOPIC)
    assert all(m.payload for m in probe.on(foreign_topic))


async def test_restricted_gateway_announces_only_what_it_has(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    sim.set_profile("pw3-restricted")
    name = "garage"  # a Powerwall 3 reports no DIN over REST: it needs a name
    values = settings_for(broker, [sim], tmp_path)
    values["gateways"][0]["name"] = name
    async with MqttProbe(broker, ["pw2mqtt/#", "homeassistant/#"]) as probe:
        async with running_bridge(values):
            config_message = await probe.wait_for(
                f"homeassistant/device/pw2mqtt_{name}/config", timeout=10
            )
            await probe.wait_for(f"{BASE}/{name}/battery_level")
    components = set(json.loads(config_message.payload)["cmps"])
    assert {"battery_level", "grid_power", "grid_status"} <= components
    assert not components & {"operation_mode", "backup_reserve", "firmware_version"}


# -- as a process: the LWT and SIGTERM ----------------------------------------------------


async def start_bridge_process(
    values: dict[str, Any], tmp_path: Path
) -> asyncio.subprocess.Process:
    config = tmp_path / "pw2mqtt.yaml"
    config.write_text(yaml.safe_dump(values))
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pw2mqtt", "run", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_last_will_after_kill_9(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/bridge/state"]) as probe:
        process = await start_bridge_process(settings_for(broker, [sim], tmp_path), tmp_path)
        try:
            await probe.wait_for(f"{BASE}/bridge/state", is_text("online"), timeout=15)
            mark = probe.mark()
            process.kill()
            await process.wait()
            # Mosquitto sends the will once the keepalive lapses or the socket closes.
            will = await probe.wait_for(
                f"{BASE}/bridge/state", is_text("offline"), timeout=10, start=mark
            )
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert will.retain


async def test_sigterm_says_offline_and_exits_0(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/bridge/state"]) as probe:
        process = await start_bridge_process(settings_for(broker, [sim], tmp_path), tmp_path)
        await probe.wait_for(f"{BASE}/bridge/state", is_text("online"), timeout=15)
        mark = probe.mark()
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=10)
        offline = await probe.wait_for(
            f"{BASE}/bridge/state", is_text("offline"), timeout=5, start=mark
        )
    assert code == 0
    assert offline.retain


async def healthcheck(state_dir: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pw2mqtt", "healthcheck", "--state-dir", str(state_dir),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode().strip()


async def test_healthcheck_follows_the_bridge(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    assert await healthcheck(state_dir) == (
        1,
        f"no status file in {state_dir}: is the bridge running?",
    )
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
        async with running_bridge(settings_for(broker, [sim], tmp_path)):
            await probe.wait_for(f"{BASE}/{SLUG}/state")
            await asyncio.sleep(5.5)  # the status file is rewritten every 5 s
            assert await healthcheck(state_dir) == (
                0,
                "ok: MQTT connected, gateway polled recently",
            )
            broker.stop()
            await asyncio.sleep(5.5)
            assert await healthcheck(state_dir) == (1, "the MQTT broker is not connected")
            broker.start()
