"""Home Assistant discovery payloads: every catalogue entity checked against HA's rules."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from pw2mqtt.entities.catalogue import ENTITIES, Entity, powerwall_entities
from pw2mqtt.gateway.rest.models import READ_ENDPOINTS, Powerwalls, SiteInfo, SiteName, Status
from pw2mqtt.gateway.snapshot import GatewaySnapshot
from pw2mqtt.mqtt.discovery import (
    DeviceInfo,
    component,
    device_id,
    device_info,
    discovery_payload,
    removal_payload,
)
from pw2mqtt.mqtt.topics import Topics
from tests.fixtures import FIXTURES

SLUG = "tg123456789abc"
DIN = "1232100-00-E--TG123456789ABC"
DEVICE = DeviceInfo(
    slug=SLUG,
    din=DIN,
    name="Home",
    model="Backup Gateway 2",
    serial="TG123456789ABC",
    firmware="23.44.0",
    model_id="1232100-00-E",
)
TOPICS = Topics("pw2mqtt", "homeassistant")
EVERY_ENTITY: tuple[Entity, ...] = (*ENTITIES, *powerwall_entities(0))
# Home Assistant's valid_entity_id: lowercase words joined by single underscores.
ENTITY_ID = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")
# What HA's sensor validation expects for each device class we use.
SENSOR_RULES: dict[str, tuple[set[str], set[str]]] = {
    # device_class: (allowed units, allowed state classes)
    "power": ({"W", "kW"}, {"measurement"}),
    "energy": ({"Wh", "kWh", "MWh"}, {"total", "total_increasing"}),
    "battery": ({"%"}, {"measurement"}),
    "energy_storage": ({"Wh", "kWh", "MWh"}, {"measurement"}),
    "frequency": ({"Hz"}, {"measurement"}),
    "voltage": ({"V"}, {"measurement"}),
    "current": ({"A"}, {"measurement"}),
}
BINARY_SENSOR_CLASSES = {"connectivity", "power", "running", "problem"}


def snapshot(**models: Any) -> GatewaySnapshot:
    return GatewaySnapshot(taken_at=datetime.now(UTC), **models)


def payload(**kwargs: Any) -> dict[str, Any]:
    return discovery_payload(DEVICE, EVERY_ENTITY, TOPICS, version="1.2.3", **kwargs)


def nones(value: Any, path: str = "") -> list[str]:
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in nones(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in nones(item, f"{path}[{i}]")]
    return []


# -- the device ----------------------------------------------------------------------------


def test_device_from_status_and_site_name() -> None:
    snap = snapshot(
        status=Status(din=DIN, version="23.44.0 9064fc6a", device_type="teg"),
        site_name=SiteName(site_name=" Home "),
        site_info=SiteInfo(site_name="ignored, site_name wins"),
    )
    assert device_info(snap, SLUG) == DEVICE


def test_device_from_a_21_44_capture() -> None:
    capture = FIXTURES / "vloschiavo" / "21.44-foogod" / "running"
    status = READ_ENDPOINTS["/api/status"].decode((capture / "status.json").read_bytes())
    site = READ_ENDPOINTS["/api/site_info"].decode((capture / "site_info.json").read_bytes())
    device = device_info(snapshot(status=status, site_info=site), "gw")
    assert device.din == "1232100-00-E--<<GATEWAY_TSN>>"
    assert device.model == "Backup Gateway 2"
    assert device.model_id == "1232100-00-E"
    assert device.serial == "<<GATEWAY_TSN>>"
    assert device.firmware == "21.44"
    assert device.name == "Home Energy Gateway"


def test_device_of_an_old_gateway_without_din() -> None:
    device = device_info(snapshot(status=Status(device_type="hec", version="1.50.1 c58c2df3")), "x")
    assert device == DeviceInfo("x", None, "Powerwall", "Backup Gateway 1", None, "1.50.1")


def test_device_din_from_powerwalls_and_unknown_model() -> None:
    snap = snapshot(
        status=Status(device_type="smc"),
        powerwalls=Powerwalls(gateway_din="9999999-00-A--XY1"),
        site_info=SiteInfo(site_name="Cabin"),
    )
    device = device_info(snap, "xy1")
    assert (device.din, device.serial, device.model_id) == (
        "9999999-00-A--XY1",
        "XY1",
        "9999999-00-A",
    )
    assert device.model is None
    assert device.name == "Cabin"


def test_device_with_nothing_read() -> None:
    device = device_info(snapshot(), "gw")
    assert device == DeviceInfo("gw", None, "Powerwall", None, None, None)
    assert device_id(device) == "pw2mqtt_gw"
    dev = discovery_payload(device, ENTITIES, TOPICS, version="1")["dev"]
    assert dev == {"ids": ["pw2mqtt_gw"], "name": "Powerwall", "mf": "Tesla"}


# -- the root of the payload ---------------------------------------------------------------


def test_root_device_origin_and_availability() -> None:
    config = payload()
    assert config["dev"] == {
        "ids": [f"pw2mqtt_{SLUG}"],
        "name": "Home",
        "mf": "Tesla",
        "mdl": "Backup Gateway 2",
        "mdl_id": "1232100-00-E",
        "sn": "TG123456789ABC",
        "sw": "23.44.0",
    }
    assert config["o"] == {
        "name": "pw2mqtt",
        "sw": "1.2.3",
        "url": "https://github.com/pw2mqtt/pw2mqtt",
    }
    assert config["availability"] == [
        {"topic": "pw2mqtt/bridge/state"},
        {"topic": f"pw2mqtt/{SLUG}/availability"},
    ]
    assert config["availability_mode"] == "all"
    assert config["qos"] == 1
    assert list(config["cmps"]) == [entity.key for entity in EVERY_ENTITY]
    assert TOPICS.discovery(device_id(DEVICE)) == f"homeassistant/device/pw2mqtt_{SLUG}/config"


def test_payload_is_json_without_none() -> None:
    config = payload(legacy_object_id=True)
    assert json.loads(json.dumps(config)) == config
    assert nones(config) == []


def test_removal_payload_is_empty() -> None:
    assert removal_payload() == ""


# -- every component -----------------------------------------------------------------------


def test_ids_are_unique_stable_and_valid() -> None:
    components = payload()["cmps"].values()
    unique_ids = [c["unique_id"] for c in components]
    assert len(unique_ids) == len(set(unique_ids))
    entity_ids = [c["default_entity_id"] for c in components]
    assert len(entity_ids) == len(set(entity_ids))
    for key, config in payload()["cmps"].items():
        assert config["unique_id"] == f"pw2mqtt_{SLUG}_{key}"
        assert config["default_entity_id"] == f"{config['p']}.powerwall_{SLUG}_{key}"
        assert ENTITY_ID.match(config["default_entity_id"])


def test_legacy_object_id_is_sent_by_default_as_the_bare_entity_id() -> None:
    """Home Assistant before 2025.10 ignores `default_entity_id`; `object_id` gives it the
    same ids."""
    for config in payload()["cmps"].values():
        assert f"{config['p']}.{config['object_id']}" == config["default_entity_id"]
    for config in payload(legacy_object_id=False)["cmps"].values():
        assert "object_id" not in config


def test_odd_slugs_still_give_valid_entity_ids() -> None:
    device = DeviceInfo("my-home--2", None, "Powerwall", None, None, None)
    config = component(device, ENTITIES[0], TOPICS)
    assert config["default_entity_id"] == "sensor.powerwall_my_home_2_battery_level"
    assert config["unique_id"] == "pw2mqtt_my-home--2_battery_level"
    assert config["state_topic"] == "pw2mqtt/my-home--2/battery_level"


@pytest.mark.parametrize("entity", EVERY_ENTITY, ids=lambda e: e.key)
def test_component_follows_home_assistant_rules(entity: Entity) -> None:
    config = payload()["cmps"][entity.key]
    assert config["p"] == entity.platform
    assert config["name"] == entity.name
    assert config["state_topic"] == f"pw2mqtt/{SLUG}/{entity.key}"
    assert config["enabled_by_default"] is entity.enabled_by_default
    assert config.get("icon") == entity.icon
    assert "command_topic" not in config
    assert config.get("entity_category") in {None, "diagnostic"}  # never config on read-only
    device_class = config.get("device_class")
    if entity.platform == "binary_sensor":
        assert config["payload_on"] == "true"
        assert config["payload_off"] == "false"
        assert device_class in {None, *BINARY_SENSOR_CLASSES}
        assert not {"unit_of_measurement", "state_class", "options"} & config.keys()
        return
    assert entity.platform == "sensor"
    assert "payload_on" not in config
    if device_class == "enum":
        assert config["options"] == list(entity.options)
        assert len(set(entity.options)) == len(entity.options)
        assert not {"unit_of_measurement", "state_class"} & config.keys()
    elif device_class is not None:
        units, state_classes = SENSOR_RULES[device_class]
        assert config.get("unit_of_measurement") in units
        assert config.get("state_class") in state_classes
    if "suggested_display_precision" in config:
        assert config["suggested_display_precision"] == entity.precision
        assert "state_class" in config  # only numeric sensors get a precision
    if config.get("state_class") == "total_increasing":
        assert entity.monotonic


def test_a_config_category_is_shown_as_diagnostic_on_sensors() -> None:
    entity = Entity("x_y", "X", "x", "status", lambda s: 1, category="config")
    assert component(DEVICE, entity, TOPICS)["entity_category"] == "diagnostic"


def test_enabled_commands_become_controls() -> None:
    by_key = {e.key: e for e in (*ENTITIES,)}
    select = by_key["operation_mode"].controlled()
    config = component(DEVICE, select, TOPICS)
    assert config["p"] == "select"
    assert config["command_topic"] == f"pw2mqtt/{SLUG}/operation_mode/set"
    assert config["state_topic"] == f"pw2mqtt/{SLUG}/operation_mode"
    assert config["options"] == ["self_consumption", "autonomous", "backup"]
    assert config["optimistic"] is False
    # Available with the bridge, the gateway and its endpoint, also while the gateway refuses the
    # kind: the control shows the real value and the refusal is on `last_command`.
    assert config["availability"] == [
        {"topic": "pw2mqtt/bridge/state"},
        {"topic": f"pw2mqtt/{SLUG}/availability"},
        {"topic": f"pw2mqtt/{SLUG}/availability/operation"},
    ]

    number = component(DEVICE, by_key["backup_reserve"].controlled(), TOPICS)
    assert (number["p"], number["min"], number["max"], number["step"]) == ("number", 0, 100, 1)
    assert number["unit_of_measurement"] == "%"
    assert number["command_topic"] == f"pw2mqtt/{SLUG}/backup_reserve/set"

    switch = component(DEVICE, by_key["off_grid"].controlled(), TOPICS)
    assert (switch["p"], switch["payload_on"], switch["payload_off"]) == ("switch", "true", "false")
    assert switch["entity_category"] == "config"
    assert switch["enabled_by_default"] is False

    stop = component(DEVICE, by_key["sitemaster_stop"].controlled(), TOPICS)
    assert stop["p"] == "button"
    assert stop["command_topic"] == f"pw2mqtt/{SLUG}/sitemaster/set"
    assert stop["payload_press"] == "stop"
    assert "state_topic" not in stop


def test_each_value_also_waits_for_its_endpoint() -> None:
    by_key = {e.key: e for e in ENTITIES}
    power = component(DEVICE, by_key["grid_power"], TOPICS)
    reserve = component(DEVICE, by_key["backup_reserve"].controlled(), TOPICS)
    run = component(DEVICE, by_key["sitemaster_run"].controlled(), TOPICS)
    bridge_and_gateway = [
        {"topic": "pw2mqtt/bridge/state"},
        {"topic": f"pw2mqtt/{SLUG}/availability"},
    ]
    assert power["availability"] == [
        *bridge_and_gateway,
        {"topic": f"pw2mqtt/{SLUG}/availability/aggregates"},
    ]
    assert power["availability_mode"] == "all"
    assert reserve["availability"] == [
        *bridge_and_gateway,
        {"topic": f"pw2mqtt/{SLUG}/availability/operation"},
    ]
    # A button has no value to wait for: "run" stays usable while a stopped sitemaster blanks
    # the power values.
    assert "availability" not in run  # the device's: bridge and gateway
