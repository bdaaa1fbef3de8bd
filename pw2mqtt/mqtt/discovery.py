"""Home Assistant MQTT discovery: one device-based config per gateway, built from the catalogue.

The config is published retained to `Topics.discovery(device_id(device))`. Entity ids come from
`default_entity_id` = `<platform>.powerwall_<gw>_<key>` (e.g. `sensor.powerwall_tg123_grid_power`):
the gateway slug keeps two gateways apart and the key is the topic field, so a user who reads
`pw2mqtt/tg123/grid_power` can guess the entity. Both only change if the slug does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pw2mqtt.entities.catalogue import BRIDGE_SOURCE, Entity, Platform
from pw2mqtt.gateway.snapshot import GatewaySnapshot
from pw2mqtt.mqtt.topics import Topics

MANUFACTURER = "Tesla"
ORIGIN_NAME = "pw2mqtt"
ORIGIN_URL = "https://github.com/pw2mqtt/pw2mqtt"
DEFAULT_DEVICE_NAME = "Powerwall"
ENTITY_ID_PREFIX = "powerwall"

PAYLOAD_TRUE = "true"
PAYLOAD_FALSE = "false"

READ_ONLY_PLATFORMS: frozenset[Platform] = frozenset({"sensor", "binary_sensor"})
COMMAND_PLATFORMS: frozenset[Platform] = frozenset({"select", "number", "switch", "button"})

# Gateways we can name with confidence: by the part number in the DIN, else by `device_type`.
_MODEL_BY_PART = {"1232100": "Backup Gateway 2"}
_MODEL_BY_DEVICE_TYPE = {"hec": "Backup Gateway 1", "teg": "Tesla Energy Gateway"}


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    slug: str
    din: str | None
    name: str
    model: str | None
    serial: str | None
    firmware: str | None
    model_id: str | None = None  # the part number in the DIN, e.g. 1232100-00-E
    part: str | None = None  # a device inside the gateway's site: its slug under `devices/`
    via_device: str | None = None  # the device id of the gateway a part hangs off


def device_info(snapshot: GatewaySnapshot, slug: str, din: str | None = None) -> DeviceInfo:
    """`din` stands in when REST names none (a Powerwall 3's, from /tedapi/din)."""
    status = snapshot.status
    powerwalls = snapshot.powerwalls
    din = (
        _text(status.din if status else None)
        or _text(powerwalls.gateway_din if powerwalls else None)
        or _text(din)
    )
    part, serial = _split_din(din)
    version = _text(status.version if status else None)
    return DeviceInfo(
        slug=slug,
        din=din,
        name=_site_name(snapshot) or DEFAULT_DEVICE_NAME,
        model=_model(part, status.device_type if status else None),
        serial=serial,
        firmware=version.split()[0] if version else None,
        model_id=part,
    )


def device_id(device: DeviceInfo) -> str:
    suffix = f"_{device.part}" if device.part else ""
    return f"pw2mqtt_{device.slug}{suffix}"


def default_entity_id(device: DeviceInfo, entity: Entity) -> str:
    return f"{entity.platform}.{object_id(device, entity)}"


def object_id(device: DeviceInfo, entity: Entity) -> str:
    """`powerwall_<gw>_<key>`, folded to what Home Assistant accepts in an entity id."""
    return _entity_id_part(f"{ENTITY_ID_PREFIX}_{device.slug}_{entity.key}")


def unique_id(device: DeviceInfo, entity: Entity) -> str:
    return f"pw2mqtt_{device.slug}_{entity.key}"  # keys are unique across a gateway's devices


def discovery_payload(
    device: DeviceInfo,
    entities: Sequence[Entity],
    topics: Topics,
    *,
    version: str,
    legacy_object_id: bool = True,
) -> dict[str, Any]:
    return {
        "dev": _without_none(
            {
                "ids": [device_id(device)],
                "name": device.name,
                "mf": MANUFACTURER,
                "mdl": device.model,
                "mdl_id": device.model_id,
                "sn": device.serial,
                "sw": device.firmware,
                "via_device": device.via_device,
            }
        ),
        "o": {"name": ORIGIN_NAME, "sw": version, "url": ORIGIN_URL},
        "availability": [
            {"topic": topics.bridge_state},
            {"topic": topics.availability(device.slug)},
        ],
        "availability_mode": "all",
        "qos": 1,
        "cmps": {
            entity.key: component(device, entity, topics, legacy_object_id=legacy_object_id)
            for entity in entities
        },
    }


def component(
    device: DeviceInfo, entity: Entity, topics: Topics, *, legacy_object_id: bool = True
) -> dict[str, Any]:
    """One entry of `cmps`: only the keys Home Assistant's schema for the platform accepts."""
    platform = entity.platform
    config: dict[str, Any] = {
        "p": platform,
        "unique_id": unique_id(device, entity),
        "default_entity_id": default_entity_id(device, entity),
        "name": entity.name,
    }
    if legacy_object_id:
        config["object_id"] = object_id(device, entity)
    if platform != "button":
        config["state_topic"] = topics.field(device.slug, entity.topic_path)
        config["availability"] = _availability(device, entity, topics)
        config["availability_mode"] = "all"
    if entity.attributes:
        config["json_attributes_topic"] = topics.field(device.slug, entity.attributes)
    config.update(_command(device, entity, topics))
    if platform in {"sensor", "number"}:
        config["unit_of_measurement"] = entity.unit
    if platform != "select":
        config["device_class"] = entity.device_class
    if platform == "sensor":
        config["state_class"] = entity.state_class
        config["suggested_display_precision"] = entity.precision
    if entity.options and platform in {"sensor", "select"}:
        config["options"] = list(entity.options)
    if platform in {"binary_sensor", "switch"}:
        config["payload_on"] = PAYLOAD_TRUE
        config["payload_off"] = PAYLOAD_FALSE
    config["entity_category"] = _category(entity)
    config["enabled_by_default"] = entity.enabled_by_default
    config["icon"] = entity.icon
    return _without_none(config)


def removal_payload() -> str:
    """An empty retained config: Home Assistant removes the device and its entities."""
    return ""


def _command(device: DeviceInfo, entity: Entity, topics: Topics) -> dict[str, Any]:
    """Where Home Assistant sends a change.

    A control is available while the bridge, the gateway and (for a control with a state) its
    endpoint are, also when the gateway refused its kind: it keeps showing the gateway's real
    value, and the refusal and its reason are on the `last_command` entity (an unavailable
    control told the user nothing). A button has no endpoint to wait for, so "Sitemaster run"
    stays usable while a stopped sitemaster blanks the power values.
    """
    control = entity.control
    if entity.platform not in COMMAND_PLATFORMS or control is None:
        return {}
    config: dict[str, Any] = {
        "command_topic": topics.field_set(device.slug, control.command_key),
        "retain": False,
        "optimistic": False,
    }
    if entity.platform == "button":
        del config["optimistic"], config["retain"]
        config["payload_press"] = control.press
    if entity.platform == "number":
        config.update(min=control.minimum, max=control.maximum, step=control.step, mode="box")
    return config


def _availability(device: DeviceInfo, entity: Entity, topics: Topics) -> list[dict[str, str]]:
    """The bridge, the gateway, and for an entity with a state the endpoint it is read from: a
    value whose endpoint fails shows as unavailable while the rest of the device stays."""
    if entity.source == BRIDGE_SOURCE:  # `last_error` says why the gateway is away: keep it shown
        return [{"topic": topics.bridge_state}]
    listed = [{"topic": topics.bridge_state}, {"topic": topics.availability(device.slug)}]
    if entity.from_endpoint:
        listed.append({"topic": topics.source_availability(device.slug, entity.source)})
    return listed


def _category(entity: Entity) -> str | None:
    # Home Assistant refuses to add a read-only entity whose category is `config`.
    if entity.category == "config" and entity.platform in READ_ONLY_PLATFORMS:
        return "diagnostic"
    return entity.category


def _model(part: str | None, device_type: str | None) -> str | None:
    by_part = _MODEL_BY_PART.get(part.split("-")[0]) if part else None
    return by_part or _MODEL_BY_DEVICE_TYPE.get((device_type or "").strip().lower())


def _site_name(snapshot: GatewaySnapshot) -> str | None:
    for source in (snapshot.site_name, snapshot.site_info):
        name = _text(source.site_name if source else None)
        if name:
            return name
    return None


def _split_din(din: str | None) -> tuple[str | None, str | None]:
    """`1232100-00-E--TG123456789ABC` → (`1232100-00-E`, `TG123456789ABC`)."""
    if not din or "--" not in din:
        return None, None
    part, serial = din.rsplit("--", 1)
    return _text(part), _text(serial)


def _text(value: str | None) -> str | None:
    return value.strip() or None if value else None


def _entity_id_part(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _without_none(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value is not None}
