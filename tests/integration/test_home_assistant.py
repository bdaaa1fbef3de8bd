"""What a real Home Assistant makes of the bridge, through tests/rigs/ha (`make test-ha`).

The rig starts its own Mosquitto and a headless Home Assistant, runs `pw2mqtt run` against them
and reports the entities, states and discovery problems Home Assistant ended up with.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import yaml

from pw2mqtt.gateway.tedapi.keys import KEY_FILE_NAME, generate_key, key_path_for, save_key
from pw2mqtt.mqtt.topics import gateway_slug
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from pw2mqtt.simulator.keys import KeyState
from tests import rigs
from tests.harness import bridge_settings
from tests.mqtt_probe import free_port

pytestmark = pytest.mark.skipif(bool(rigs.missing("ha")), reason=str(rigs.missing("ha")))


@pytest.fixture
async def sim() -> AsyncIterator[GatewaySimulator]:
    async with GatewaySimulator(SimulatorOptions(control_port=None, speed=5.0)) as simulator:
        yield simulator


async def run_rig(
    sim: GatewaySimulator,
    tmp_path: Path,
    *,
    during: Any = None,
    wait: float = 12.0,
    commands: dict[str, Any] | None = None,
    calls: tuple[str, ...] = (),
    name: str | None = None,
) -> dict[str, Any]:
    mqtt_port = free_port()
    config = tmp_path / "pw2mqtt.yaml"
    config.write_text(
        yaml.safe_dump(
            bridge_settings(
                [sim],
                {"host": "127.0.0.1", "port": mqtt_port, "client_id": "pw2mqtt-ha"},
                tmp_path / "state",
                gateway={
                    "poll": {"fast": 2.0, "medium": 4.0, "slow": 60.0},
                    **({"name": name} if name else {}),
                },
                commands=commands or {},
            )
        )
    )
    call_args = [arg for call in calls for arg in ("--call", call)]
    out = tmp_path / "result.json"
    rig = await asyncio.create_subprocess_exec(
        str(rigs.HA_PYTHON), str(rigs.HA_CHECK),
        "--mqtt-port", str(mqtt_port),
        "--ha-port", str(free_port()),
        "--workdir", str(tmp_path / "rig"),
        "--wait", str(wait),
        "--out", str(out),
        *call_args, "--call-settle", "6",
        "--", str(Path(os.sys.executable)), "-m", "pw2mqtt", "run", "--config", str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    if during is not None:
        await during(mqtt_port)
    output, _ = await asyncio.wait_for(rig.communicate(), timeout=240)
    assert rig.returncode == 0, output.decode()[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def entities_by_key(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["unique_id"].removeprefix("pw2mqtt_tg123456789abc_"): e for e in result["entities"]}


async def test_home_assistant_shows_one_powerwall_device(
    sim: GatewaySimulator, tmp_path: Path
) -> None:
    result = await run_rig(sim, tmp_path)
    assert result["log_issues"] == []
    [device] = [d for d in result["devices"] if d["via_device_id"] is None]
    assert device["manufacturer"] == "Tesla"
    assert device["sw_version"] == "21.44"
    parts = [d for d in result["devices"] if d["via_device_id"] is not None]
    assert {d["via_device_id"] for d in parts} == {device["id"]}  # linked to the gateway
    assert any(d["model"] == "TEPOD" for d in parts)
    entities = entities_by_key(result)
    assert len(entities) >= 40

    level = entities["battery_level"]
    assert level["unit_of_measurement"] == "%"
    assert level["device_class"] == "battery"
    assert float(level["state"]) == pytest.approx((sim.state.soe - 5) / 0.95, abs=1.0)

    for key in ("grid_energy_imported", "grid_energy_exported", "solar_energy_exported",
                "battery_energy_imported", "battery_energy_exported"):  # fmt: skip
        counter = entities[key]
        assert counter["device_class"] == "energy"
        assert counter["state_class"] == "total_increasing"
        assert counter["unit_of_measurement"] == "kWh"
        assert float(counter["state"]) > 0

    grid = entities["grid_power"]
    assert (grid["device_class"], grid["unit_of_measurement"]) == ("power", "W")
    assert entities["grid_status"]["state"] == "connected"
    assert entities["operation_mode"]["state"] == "self_consumption"
    assert entities["grid_connected"]["state"] == "on"
    assert entities["battery_level_raw"]["disabled_by"] == "integration"
    assert entities["firmware_version"]["entity_category"] == "diagnostic"


async def test_entities_follow_the_gateways_availability(
    sim: GatewaySimulator, tmp_path: Path
) -> None:
    async def stop_the_gateway_once_announced(mqtt_port: int) -> None:
        topic = "pw2mqtt/tg123456789abc/availability"
        async with asyncio.timeout(120):
            while True:  # the rig's broker comes up first, then Home Assistant, then the bridge
                try:
                    async with aiomqtt.Client("127.0.0.1", mqtt_port) as client:
                        await client.subscribe(topic)
                        async for message in client.messages:
                            if message.payload == b"online":
                                break
                    break
                except aiomqtt.MqttError:
                    await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)  # let Home Assistant take the discovery and first states
        sim.set_faults(reset=True)  # the gateway stops answering at all

    result = await run_rig(sim, tmp_path, during=stop_the_gateway_once_announced, wait=14.0)
    entities = entities_by_key(result)
    assert entities, "no entities announced before the gateway stopped"
    shown = {key: e["state"] for key, e in entities.items() if e["disabled_by"] is None}
    reason = shown.pop("last_error")  # says why the rest is unavailable, so it stays shown
    assert set(shown.values()) == {"unavailable"}
    assert reason.startswith("cannot reach")


@pytest.mark.parametrize("profile", ["1.50"])
async def test_controls_used_from_home_assistant_change_the_gateway(
    tmp_path: Path, profile: str
) -> None:
    options = SimulatorOptions(control_port=None, speed=5.0, profile=profile)
    async with GatewaySimulator(options) as sim:
        result = await run_rig(
            sim,
            tmp_path,
            commands={
                "operation_mode": True, "backup_reserve": True, "off_grid": True,
                "sitemaster": True, "allow_grid_control": True, "min_interval": 0.5,
            },
            calls=(
                f'select.select_option {{"entity_id": "{MODE}", "option": "backup"}}',
                f'number.set_value {{"entity_id": "{RESERVE}", "value": 30}}',
            ),
        )  # fmt: skip
        assert (sim.state.mode, round(sim.state.backup_reserve_percent, 1)) == ("backup", 33.5)
    assert result["log_issues"] == []
    select_call, number_call = result["calls"]
    assert select_call["ok"], select_call
    [mode_set] = sent_to(select_call, "pw2mqtt/tg123456789abc/operation_mode/set")
    assert (mode_set["payload"], mode_set["retain"]) == ("backup", False)
    assert select_call["states_after"][MODE] == "backup"
    [reserve_set] = sent_to(number_call, "pw2mqtt/tg123456789abc/backup_reserve/set")
    assert float(reserve_set["payload"]) == 30
    assert float(number_call["states_after"][RESERVE]) == 30
    entities = entities_by_key(result)
    assert entities["off_grid"]["disabled_by"] == "integration"  # a second step to enable it
    assert entities["sitemaster_stop"]["entity_category"] == "config"


MODE = "select.powerwall_tg123456789abc_operation_mode"
RESERVE = "number.powerwall_tg123456789abc_backup_reserve"
LAST_COMMAND = "sensor.powerwall_tg123456789abc_last_command"


async def test_entity_ids_are_the_documented_ones(sim: GatewaySimulator, tmp_path: Path) -> None:
    """Home Assistant before 2025.10 ignores `default_entity_id`; `object_id` is sent too."""
    result = await run_rig(sim, tmp_path)
    assert result["log_issues"] == []  # nor a deprecation warning about the extra field
    ids = {e["unique_id"]: e["entity_id"] for e in result["entities"]}
    prefix = "pw2mqtt_tg123456789abc_"
    gateway = {key: value for key, value in ids.items() if key.startswith(prefix)}
    assert ids[prefix + "solar_energy_exported"] == (
        "sensor.powerwall_tg123456789abc_solar_energy_exported"
    )
    assert ids[prefix + "grid_connected"] == "binary_sensor.powerwall_tg123456789abc_grid_connected"
    for unique_id, entity_id in gateway.items():
        key = unique_id.removeprefix(prefix)
        assert entity_id.split(".", 1)[1] == f"powerwall_tg123456789abc_{key}", entity_id


async def test_a_refused_control_stays_usable_and_says_why(tmp_path: Path) -> None:
    """Firmware 21.44 refuses the customer's writes: the control keeps the gateway's value and
    the reason is on the gateway's `last_command` entity."""
    options = SimulatorOptions(control_port=None, speed=5.0, profile="21.44")
    async with GatewaySimulator(options) as sim:
        reserve_before = round((sim.state.backup_reserve_percent - 5) / 0.95)
        result = await run_rig(
            sim,
            tmp_path,
            commands={"operation_mode": True, "backup_reserve": True, "min_interval": 0.5},
            calls=(
                f'number.set_value {{"entity_id": "{RESERVE}", "value": 30}}',
                f'homeassistant.update_entity {{"entity_id": ["{RESERVE}", "{LAST_COMMAND}",'
                f' "{MODE}"]}}',
            ),
        )  # fmt: skip
        assert round(sim.state.backup_reserve_percent) == 24  # unchanged
    assert result["log_issues"] == []
    refused_call, looked = result["calls"]
    assert refused_call["ok"], refused_call
    assert sent_to(refused_call, "pw2mqtt/tg123456789abc/backup_reserve/set")
    states = looked["states_after"]
    assert float(states[RESERVE]) == reserve_before  # available, and the real value
    assert states[MODE] == "self_consumption"  # refused along with it, still available
    assert states[LAST_COMMAND] == (
        "backup_reserve 30: refused, not permitted for the customer role on firmware 21.44 (403); "
        "pair a key: pw2mqtt pair"
    )
    [last] = [e for e in result["entities"] if e["entity_id"] == LAST_COMMAND]
    assert last["entity_category"] == "diagnostic"


def sent_to(call: dict[str, Any], topic: str) -> list[dict[str, Any]]:
    return [message for message in call["published"] if message["topic"] == topic]


async def test_a_powerwall_3_with_a_paired_key_shows_its_settings(tmp_path: Path) -> None:
    key = generate_key(key_size=2048)
    save_key(key, tmp_path / "state" / KEY_FILE_NAME)
    # At speed 1 the gateway's clock stays with ours: a signed request lives a few seconds.
    options = SimulatorOptions(control_port=None, profile="pw3")
    async with GatewaySimulator(options) as pw3:
        pw3.set_key_state(key.public_key_der, KeyState.VERIFIED)
        pw3.set_operation(mode="backup", reserve=43.0)
        result = await run_rig(pw3, tmp_path)
        prefix = f"pw2mqtt_{gateway_slug(pw3.din, '')}_"
    assert result["log_issues"] == []
    entities = {e["unique_id"].removeprefix(prefix): e for e in result["entities"]}
    assert entities["operation_mode"]["state"] == "backup"
    assert float(entities["backup_reserve"]["state"]) == pytest.approx(40.0)
    assert entities["backup_reserve_raw"]["disabled_by"] == "integration"
    assert entities["grid_charging"]["state"] == "on"
    assert entities["export_rule"]["state"] == "pv_only"
    assert entities["export_rule"]["entity_category"] == "diagnostic"


async def test_a_manual_backup_from_home_assistant_on_a_powerwall_3(tmp_path: Path) -> None:
    """A paired key, signed control: Home Assistant's button starts a manual backup event."""
    key = generate_key(key_size=2048)
    save_key(key, key_path_for(tmp_path / "state"))
    options = SimulatorOptions(control_port=None, speed=1.0, profile="pw3")
    async with GatewaySimulator(options) as sim:
        sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
        result = await run_rig(
            sim,
            tmp_path,
            commands={"manual_backup": True, "min_interval": 0.5},
            calls=(f'button.press {{"entity_id": "{BACKUP_START}"}}',),
            name="pw3",
        )
        event = sim.signed.state_json(sim.now())["manual_backup_until"]
    assert result["log_issues"] == []
    [press] = result["calls"]
    assert press["ok"], press
    [start] = [m for m in press["published"] if m["topic"].endswith("/manual_backup/set")]
    assert (start["payload"], start["retain"]) == ("start", False)
    assert event is not None  # the gateway holds a manual backup event


BACKUP_START = "button.powerwall_pw3_manual_backup_start"


async def test_settings_changed_from_home_assistant_on_a_powerwall_3(tmp_path: Path) -> None:
    """A paired key, signed control: Home Assistant's mode select, reserve number, grid charging
    switch and export rule select change a Powerwall 3, and each entity then shows the change."""
    key = generate_key(key_size=2048)
    save_key(key, key_path_for(tmp_path / "state"))
    # At speed 1 the gateway's clock stays with ours: a signed request lives a few seconds.
    options = SimulatorOptions(control_port=None, speed=1.0, profile="pw3")
    async with GatewaySimulator(options) as sim:
        sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
        kinds = ("operation_mode", "backup_reserve", "grid_charging", "export_rule")
        result = await run_rig(
            sim,
            tmp_path,
            commands={**dict.fromkeys(kinds, True), "min_interval": 0.5},
            calls=(
                f'select.select_option {{"entity_id": "{PW3_MODE}", "option": "backup"}}',
                f'number.set_value {{"entity_id": "{PW3_RESERVE}", "value": 40}}',
                f'switch.turn_off {{"entity_id": "{PW3_GRID_CHARGING}"}}',
                f'select.select_option {{"entity_id": "{PW3_EXPORT}", "option": "never"}}',
            ),
            name="pw3",
        )
        signed = sim.signed.state_json(sim.now())
        state = sim.state
    assert result["log_issues"] == []
    assert all(call["ok"] for call in result["calls"]), result["calls"]
    assert (state.mode, round(state.backup_reserve_percent, 1)) == ("backup", 43.0)
    assert (signed["grid_charging"], signed["export_rule"]) == (False, "never")
    mode, reserve, grid, export = result["calls"]
    assert mode["states_after"][PW3_MODE] == "backup"
    assert float(reserve["states_after"][PW3_RESERVE]) == 40
    assert grid["states_after"][PW3_GRID_CHARGING] == "off"
    assert export["states_after"][PW3_EXPORT] == "never"
    rest_writes = [c.path for c in sim.calls if c.method == "POST" and c.path.startswith("/api/")]
    assert set(rest_writes) == {"/api/login/Basic"}  # everything else went over /tedapi/v1r


PW3_MODE = "select.powerwall_pw3_operation_mode"
PW3_RESERVE = "number.powerwall_pw3_backup_reserve"
PW3_GRID_CHARGING = "switch.powerwall_pw3_grid_charging"
PW3_EXPORT = "select.powerwall_pw3_export_rule"
