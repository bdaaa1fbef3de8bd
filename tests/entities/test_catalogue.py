"""The entity catalogue over real captures: what is announced, and the values published."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from pw2mqtt.entities.catalogue import (
    ENTITIES,
    KEY_PATTERN,
    entities_for,
    format_value,
    powerwall_entities,
    round_half_away,
)
from pw2mqtt.gateway.rest.models import READ_ENDPOINTS
from pw2mqtt.gateway.signed_config import SIGNED_CONFIG, SignedConfig
from pw2mqtt.gateway.snapshot import GatewaySnapshot
from tests.fixtures import FIXTURES

CAPTURE_2144 = FIXTURES / "vloschiavo" / "21.44-foogod" / "running"
FILES = {
    "status": "status.json",
    "aggregates": "meters.aggregates.json",
    "soe": "system_status.soe.json",
    "grid_status": "system_status.grid_status.json",
    "system_status": "system_status.json",
    "grid_faults": "system_status.grid_faults.json",
    "sitemaster": "sitemaster.json",
    "operation": "operation.json",
}


def snapshot_of(names: list[str]) -> GatewaySnapshot:
    endpoints = {endpoint.name: endpoint for endpoint in READ_ENDPOINTS.values()}
    models = {
        name: endpoints[name].decode((CAPTURE_2144 / FILES[name]).read_bytes()) for name in names
    }
    return GatewaySnapshot(taken_at=datetime.now(UTC), **models)  # type: ignore[arg-type]


def values(snapshot: GatewaySnapshot) -> dict[str, str]:
    return {
        e.key: format_value(v)
        for e in entities_for(snapshot)
        if (v := e.value(snapshot)) is not None
    }


def test_keys_are_unique_snake_case_and_sources_are_endpoints() -> None:
    every = (*ENTITIES, *powerwall_entities(0), *powerwall_entities(1))
    keys = [entity.key for entity in every]
    assert len(keys) == len(set(keys))
    endpoint_names = {endpoint.name for endpoint in READ_ENDPOINTS.values()} | {SIGNED_CONFIG}
    for entity in every:
        assert KEY_PATTERN.match(entity.key)
        assert entity.source in endpoint_names
        if entity.state_class == "total_increasing":
            assert entity.monotonic
            assert entity.unit == "kWh"
        if entity.device_class == "enum":
            assert entity.options


def test_values_from_a_21_44_capture() -> None:
    published = values(snapshot_of(list(FILES)))
    assert published["grid_power"] == "72"
    assert published["battery_power"] == "-60"
    assert published["grid_energy_imported"] == "752.046"
    assert published["grid_status"] == "connected"
    assert published["grid_connected"] == "true"
    assert published["operation_mode"] in {"self_consumption", "autonomous", "backup"}
    assert published["firmware_version"] == "21.44"
    assert published["battery_frequency"] == "60.01"
    assert "grid_frequency" not in published  # 0 Hz means "not measured"
    assert "powerwall_1_energy_remaining" in published
    assert "powerwall_2_energy_remaining" not in published  # one Powerwall+ at this site


def test_battery_level_is_app_scaled() -> None:
    snapshot = snapshot_of(["soe"])
    raw = snapshot.soe.percentage if snapshot.soe else 0.0
    published = values(snapshot)
    assert float(published["battery_level"]) == pytest.approx(round((raw - 5) / 0.95, 1))
    assert float(published["battery_level_raw"]) == pytest.approx(round(raw, 1))


def test_restricted_gateway_announces_only_what_it_fills() -> None:
    snapshot = snapshot_of(["aggregates", "soe", "grid_status"])
    announced = {entity.key for entity in entities_for(snapshot)}
    assert {"battery_level", "grid_power", "grid_status", "grid_energy_exported"} <= announced
    assert not announced & {
        "operation_mode",
        "backup_reserve",
        "firmware_version",
        "sitemaster_running",
        "energy_remaining",
    }
    assert all(entity.source in snapshot.fresh for entity in entities_for(snapshot))


def test_a_zero_lifetime_counter_is_not_published() -> None:
    snapshot = snapshot_of(["aggregates"])
    assert snapshot.aggregates is not None
    site = snapshot.aggregates.root["site"].model_copy(update={"energy_imported": 0.0})
    root = {**snapshot.aggregates.root, "site": site}
    broken = GatewaySnapshot(
        taken_at=snapshot.taken_at,
        aggregates=snapshot.aggregates.model_copy(update={"root": root}),
    )
    assert "grid_energy_imported" not in values(broken)
    assert "grid_energy_exported" in values(broken)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (85.3, "85.3"),
        (72.0, "72"),
        (3, "3"),
        ("backup", "backup"),
        (0.00001, "0.00001"),
        (-0.0, "0"),
        (1.5e-7, "0.00000015"),
    ],
)
def test_format_value(value: bool | float | str, text: str) -> None:
    assert format_value(value) == text


CAPTURE_150 = FIXTURES / "tesla_powerwall"


def snapshot_150() -> GatewaySnapshot:
    """The real 1.50.1 answers: no separate grid_faults capture (the endpoint is 404 there)."""
    endpoints = {endpoint.name: endpoint for endpoint in READ_ENDPOINTS.values()}
    files = {"status": "status.json", "system_status": "system_status.json"}
    models = {
        name: endpoints[name].decode((CAPTURE_150 / file).read_bytes())
        for name, file in files.items()
    }
    return GatewaySnapshot(taken_at=datetime.now(UTC), **models)  # type: ignore[arg-type]


def test_grid_faults_inside_system_status_on_1_50() -> None:
    snapshot = snapshot_150()
    assert snapshot.grid_faults is None
    assert snapshot.system_status is not None
    published = values(snapshot)
    assert published["grid_fault_count"] == str(len(snapshot.system_status.grid_faults))
    latest = max(snapshot.system_status.grid_faults, key=lambda f: f.timestamp or 0)
    assert published["last_grid_fault"] == latest.alert_name


def test_no_grid_fault_entities_when_no_source_has_the_list() -> None:
    snapshot = snapshot_of(["system_status"])
    assert snapshot.system_status is not None
    bare = snapshot.system_status.model_validate({"battery_blocks": []})
    bare_snapshot = GatewaySnapshot(snapshot.taken_at, system_status=bare)
    announced = {e.key for e in entities_for(bare_snapshot)}
    assert not announced & {"grid_fault_count", "last_grid_fault"}


def test_an_empty_inverter_state_is_no_value() -> None:
    published = values(snapshot_150())
    # The third Powerwall of the capture is in standby with `pinv_state: ""`.
    assert published["powerwall_1_state"] == "PINV_GridFollowing"
    assert "powerwall_3_state" not in published
    assert "powerwall_3_state" not in {e.key for e in entities_for(snapshot_150())}


def test_solar_power_is_never_negative() -> None:
    snapshot = snapshot_of(["aggregates"])
    assert snapshot.aggregates is not None
    for served, shown in ((-7.5, "0"), (-0.4, "0"), (7.5, "8"), (2.5, "3"), (1234.49, "1234")):
        solar = snapshot.aggregates.root["solar"].model_copy(update={"instant_power": served})
        root = {**snapshot.aggregates.root, "solar": solar}
        night = GatewaySnapshot(
            taken_at=snapshot.taken_at,
            aggregates=snapshot.aggregates.model_copy(update={"root": root}),
        )
        assert values(night)["solar_power"] == shown, served


@pytest.mark.parametrize(
    ("value", "precision", "rounded"),
    [
        (2.5, 0, 3.0),
        (3.5, 0, 4.0),
        (-2.5, 0, -3.0),
        (0.285, 2, 0.29),
        (1.005, 2, 1.01),
        (85.25, 1, 85.3),
        (85.35, 1, 85.4),
        (-0.04, 1, 0.0),
        (float("inf"), 1, float("inf")),
    ],
)
def test_halves_round_away_from_zero(value: float, precision: int, rounded: float) -> None:
    result = round_half_away(value, precision)
    assert result == rounded
    assert format_value(result) != "-0"


SIGNED = SignedConfig(
    real_mode="backup",
    backup_reserve_raw=24.0,
    grid_charging=False,
    export_rule="battery_ok",
    hash=b"h",
)


def test_config_json_stands_in_where_rest_cannot_say_the_mode_and_reserve() -> None:
    rest_less = replace(snapshot_of(["aggregates", "soe", "grid_status"]), signed_config=SIGNED)
    announced = {e.key: e for e in entities_for(rest_less)}
    published = values(rest_less)
    assert published["operation_mode"] == "backup"
    assert published["backup_reserve_raw"] == "24"
    assert published["backup_reserve"] == "20"  # (24 - 5) / 0.95
    assert published["grid_charging"] == "false"
    assert published["export_rule"] == "battery_ok"
    for key in ("operation_mode", "backup_reserve", "backup_reserve_raw", "export_rule"):
        assert announced[key].source == SIGNED_CONFIG


def test_rest_is_preferred_where_both_say() -> None:
    both = replace(snapshot_of(list(FILES)), signed_config=SIGNED)
    announced = {e.key: e for e in entities_for(both)}
    published = values(both)
    assert announced["operation_mode"].source == "operation"
    assert announced["backup_reserve"].source == "operation"
    assert published["operation_mode"] != "backup"  # the capture's own mode
    assert published["export_rule"] == "battery_ok"  # REST has no word for it


def test_signed_entities_are_announced_only_when_filled() -> None:
    empty = SignedConfig(None, None, None, None, hash=b"")
    snapshot = replace(snapshot_of(["aggregates"]), signed_config=empty)
    keys = {e.key for e in entities_for(snapshot)}
    assert not keys & {"operation_mode", "backup_reserve", "grid_charging", "export_rule"}
    odd = replace(snapshot, signed_config=replace(empty, real_mode="new_mode_from_2027"))
    assert values(odd)["operation_mode"] == "unknown"
