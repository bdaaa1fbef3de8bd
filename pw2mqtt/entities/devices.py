"""Per-device detail: the physical devices behind a gateway, and its alerts.

Where the gateway still serves `/api/devices/vitals` (before firmware 23.44) every device it
lists becomes one: Powerwall inverters and battery pods, thermal controllers, the solar inverter
and its strings, the synchronizer, meters. Where it does not, `/api/solar_powerwall` (a
Powerwall+) still gives the solar inverter, its strings and its alerts. Each device's values are
published under `<base>/<gw>/devices/<device>/<field>` and announced to Home Assistant as a device
of its own, linked to the gateway.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from pw2mqtt.entities.catalogue import Entity, Reader, Value
from pw2mqtt.gateway.rest.vitals import Alert, Device, DeviceVitals
from pw2mqtt.gateway.snapshot import GatewaySnapshot

_KIND_NAMES: Final = {
    "STSTSM": "Gateway controller",
    "TETHC": "Powerwall thermal controller",
    "TEPOD": "Powerwall battery",
    "TEPINV": "Powerwall inverter",
    "TESYNC": "Synchronizer",
    "PVAC": "Solar inverter",
    "PVS": "Solar shutdown",
    "TEMSA": "Backup switch",
    "NEURIO": "Neurio meter",
}
_SOLAR_SLUG: Final = "pvac_1"

# (field, label, attribute of the typed reading, unit, device class, decimals)
_Spec = tuple[str, str, str, str, str, int]
_ELECTRICAL: Final[tuple[_Spec, ...]] = (
    ("power", "power", "power_w", "W", "power", 0),
    ("voltage", "voltage", "voltage_v", "V", "voltage", 1),
    ("frequency", "frequency", "frequency_hz", "Hz", "frequency", 2),
)
_POD: Final[tuple[_Spec, ...]] = (
    ("energy_remaining", "energy remaining", "energy_remaining_wh", "Wh", "energy_storage", 0),
    ("energy_full", "capacity", "full_pack_energy_wh", "Wh", "energy_storage", 0),
    ("charge_power_limit", "charge power limit", "available_charge_power_w", "W", "power", 0),
    ("discharge_power_limit", "discharge power limit", "available_discharge_power_w", "W",
     "power", 0),
)  # fmt: skip
_STRING: Final[tuple[_Spec, ...]] = (
    ("voltage", "voltage", "voltage_v", "V", "voltage", 1),
    ("current", "current", "current_a", "A", "current", 2),
    ("power", "power", "power_w", "W", "power", 0),
)
_PVAC_JSON: Final[tuple[_Spec, ...]] = (
    ("power", "power", "p_out", "W", "power", 0),
    ("voltage", "voltage", "v_out", "V", "voltage", 1),
    ("frequency", "frequency", "f_out", "Hz", "frequency", 2),
)
_STRING_JSON: Final[tuple[_Spec, ...]] = (
    ("voltage", "voltage", "measured_voltage", "V", "voltage", 1),
    ("current", "current", "current", "A", "current", 2),
    ("power", "power", "measured_power", "W", "power", 0),
)
_DEADBANDS: Final = {"W": 5.0, "Wh": 5.0, "V": 0.5, "A": 0.1, "Hz": 0.02, "°C": 0.2}


@dataclass(frozen=True, slots=True)
class PhysicalDevice:
    slug: str  # its level under `devices/`, e.g. `tepinv_1`
    name: str
    model: str | None
    serial: str | None
    firmware: str | None
    entities: tuple[Entity, ...]


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    device: str  # the device slug, or `gateway`
    name: str
    severity: str

    def as_json(self) -> dict[str, str]:
        return {"device": self.device, "name": self.name, "severity": self.severity}


def devices_for(snapshot: GatewaySnapshot) -> tuple[PhysicalDevice, ...]:
    """The devices this snapshot describes, each with the entities it can fill."""
    if snapshot.vitals is not None:
        found = [_from_vitals(snapshot, d, slug) for d, slug in _slugs(snapshot.vitals)]
    elif snapshot.solar_powerwall is not None:
        found = [_solar_from_json(snapshot)]
    else:
        found = []
    return tuple(device for device in found if device.entities)


def active_alerts(snapshot: GatewaySnapshot) -> tuple[ActiveAlert, ...] | None:
    """Every active alert, or None when the gateway offers no alert source."""
    if snapshot.vitals is not None:
        slugs = {device.din: slug for device, slug in _slugs(snapshot.vitals)}
        return tuple(
            ActiveAlert(slugs.get(alert.din, "gateway"), alert.name, alert.severity)
            for alert in snapshot.vitals.alerts
        )
    solar = snapshot.solar_powerwall
    if solar is None:
        return None
    names = (
        *(solar.pvac_alerts.active if solar.pvac_alerts else ()),
        *(solar.pvs_alerts.active if solar.pvs_alerts else ()),
    )
    return tuple(ActiveAlert(_SOLAR_SLUG, name, Alert("", name).severity) for name in names)


def _alert_count(snapshot: GatewaySnapshot) -> int | None:
    alerts = active_alerts(snapshot)
    return None if alerts is None else len(alerts)


def _any_fault(snapshot: GatewaySnapshot) -> bool | None:
    alerts = active_alerts(snapshot)
    return None if alerts is None else any(alert.severity == "fault" for alert in alerts)


ALERT_ENTITIES: Final = (
    Entity(
        "active_alerts", "Active alerts",
        "How many alerts the gateway's devices report; the list is in the attributes.",
        "vitals", _alert_count,
        state_class="measurement", category="diagnostic", icon="mdi:alert-circle-outline",
        attributes="alerts",
    ),
    Entity(
        "alert_problem", "Device fault",
        "True while any device reports an alert of fault severity.",
        "vitals", _any_fault,
        platform="binary_sensor", device_class="problem",
    ),
)  # fmt: skip


# -- from /api/devices/vitals -------------------------------------------------------------------


def _slugs(vitals: DeviceVitals) -> list[tuple[Device, str]]:
    counts: Counter[str] = Counter()
    out = []
    for device in vitals.devices:
        kind = _slug_part(device.kind.lower())
        counts[kind] += 1
        out.append((device, f"{kind}_{counts[kind]}"))
    return out


def _from_vitals(snapshot: GatewaySnapshot, device: Device, slug: str) -> PhysicalDevice:
    din, kind = device.din, device.kind
    make = _Maker(slug, "vitals")
    entities: list[Entity] = []
    if kind == "TEPINV":
        inverter = _finder(lambda v: v.battery_inverters, din)
        entities += make.numbers(_ELECTRICAL, _via_vitals(inverter))
        entities.append(make.text("state", "state", _via_vitals(inverter), "state"))
    elif kind == "TEPOD":
        entities += make.numbers(_POD, _via_vitals(_finder(lambda v: v.battery_pods, din)))
    elif kind == "PVAC":
        pvac = _finder(lambda v: v.pv_inverters, din)
        entities += make.numbers(_ELECTRICAL, _via_vitals(pvac))
        for name in _string_names(snapshot.vitals, din):
            string = _via_vitals(_string_finder(pvac, name))
            entities += make.numbers(_STRING, string, f"string_{name.lower()}_", f"string {name} ")
    elif kind == "TESYNC":
        sync = _via_vitals(lambda v: v.synchronizer if v.synchronizer else None)
        entities.append(make.flag("grid_connected", "grid connected", sync, "grid_connected"))
    for name in sorted({t.name for t in (snapshot.vitals.temperatures if snapshot.vitals else ())
                        if t.din == din}):  # fmt: skip
        reading = _via_vitals(_temperature_finder(din, name))
        entities.append(
            make.number(
                _field_name(name), _label(name), reading, ("celsius", "°C", "temperature", 1)
            )
        )
    meter = _via_vitals(_finder(lambda v: v.meters, din))
    entities.append(make.number("power", "power", meter, ("real_power_w", "W", "power", 0)))
    index = slug.rsplit("_", 1)[-1]
    return PhysicalDevice(
        slug=slug,
        name=f"{_KIND_NAMES.get(kind, kind)} {index}",
        model=kind,
        serial=device.serial_number,
        firmware=device.firmware_version,
        entities=_filled(entities, snapshot),
    )


def _string_names(vitals: DeviceVitals | None, din: str) -> list[str]:
    inverter = next((i for i in (vitals.pv_inverters if vitals else ()) if i.din == din), None)
    return [string.name for string in inverter.strings] if inverter else []


# -- from /api/solar_powerwall ----------------------------------------------------------------


def _solar_from_json(snapshot: GatewaySnapshot) -> PhysicalDevice:
    make = _Maker(_SOLAR_SLUG, "solar_powerwall")

    def status(s: GatewaySnapshot) -> object:
        return s.solar_powerwall.pvac_status if s.solar_powerwall else None

    entities = make.numbers(_PVAC_JSON, status)
    current = status(snapshot)
    for item in getattr(current, "string_vitals", ()):
        if item.string_id is None:
            continue

        def string(s: GatewaySnapshot, sid: int = item.string_id) -> object:
            strings = getattr(status(s), "string_vitals", ())
            return next((x for x in strings if x.string_id == sid), None)

        n = item.string_id
        entities += make.numbers(_STRING_JSON, string, f"string_{n}_", f"string {n} ")
    return PhysicalDevice(
        slug=_SOLAR_SLUG,
        name="Solar inverter",
        model="PVAC",
        serial=None,
        firmware=None,
        entities=_filled(entities, snapshot),
    )


# -- building entities ----------------------------------------------------------------------------

Picker = Callable[[GatewaySnapshot], object]


class _Maker:
    """Entities of one device: keys prefixed with its slug, topics under `devices/<slug>/`."""

    def __init__(self, slug: str, source: str) -> None:
        self.slug = slug
        self.source = source

    def numbers(
        self, specs: Iterable[_Spec], pick: Picker, prefix: str = "", label_prefix: str = ""
    ) -> list[Entity]:
        return [
            self.number(prefix + field, label_prefix + label, pick, (attribute, unit, cls, digits))
            for field, label, attribute, unit, cls, digits in specs
        ]

    def number(
        self, field: str, label: str, pick: Picker, spec: tuple[str, str, str, int]
    ) -> Entity:
        """`spec`: the reading's attribute, unit, device class and decimals."""
        attribute, unit, device_class, precision = spec
        text = _capital(label)
        return Entity(
            f"{self.slug}_{field}", text, f"{text}.", self.source, _number_of(pick, attribute),
            unit=unit, device_class=device_class, state_class="measurement",
            precision=precision, deadband=_DEADBANDS.get(unit, 0.0),
            category="diagnostic", path=f"devices/{self.slug}/{field}",
        )  # fmt: skip

    def text(self, field: str, label: str, pick: Picker, attribute: str) -> Entity:
        text = _capital(label)
        return Entity(
            f"{self.slug}_{field}", text, f"{text}.", self.source, _text_of(pick, attribute),
            category="diagnostic", path=f"devices/{self.slug}/{field}",
        )  # fmt: skip

    def flag(self, field: str, label: str, pick: Picker, attribute: str) -> Entity:
        text = _capital(label)
        return Entity(
            f"{self.slug}_{field}", text, f"{text}.", self.source, _flag_of(pick, attribute),
            platform="binary_sensor", device_class="connectivity",
            category="diagnostic", path=f"devices/{self.slug}/{field}",
        )  # fmt: skip


def _capital(label: str) -> str:
    return label[:1].upper() + label[1:]


def _filled(entities: Iterable[Entity], snapshot: GatewaySnapshot) -> tuple[Entity, ...]:
    return tuple(entity for entity in entities if entity.value(snapshot) is not None)


def _via_vitals(pick: Callable[[DeviceVitals], object]) -> Picker:
    return lambda snapshot: None if snapshot.vitals is None else pick(snapshot.vitals)


def _finder(
    items: Callable[[DeviceVitals], Iterable[object]], din: str
) -> Callable[[DeviceVitals], object]:
    return lambda vitals: next((i for i in items(vitals) if getattr(i, "din", None) == din), None)


def _string_finder(
    pvac: Callable[[DeviceVitals], object], name: str
) -> Callable[[DeviceVitals], object]:
    return lambda vitals: next(
        (s for s in getattr(pvac(vitals), "strings", ()) if s.name == name), None
    )


def _temperature_finder(din: str, name: str) -> Callable[[DeviceVitals], object]:
    return lambda vitals: next(
        (t for t in vitals.temperatures if t.din == din and t.name == name), None
    )


def _number_of(pick: Picker, attribute: str) -> Reader:
    def read(snapshot: GatewaySnapshot) -> Value | None:
        value = getattr(pick(snapshot), attribute, None)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    return read


def _text_of(pick: Picker, attribute: str) -> Reader:
    def read(snapshot: GatewaySnapshot) -> Value | None:
        value = getattr(pick(snapshot), attribute, None)
        return value if isinstance(value, str) and value else None

    return read


def _flag_of(pick: Picker, attribute: str) -> Reader:
    def read(snapshot: GatewaySnapshot) -> Value | None:
        value = getattr(pick(snapshot), attribute, None)
        return value if isinstance(value, bool) else None

    return read


def _slug_part(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_") or "device"


def _field_name(vital: str) -> str:
    """`THC_AmbientTemp` → `ambient_temp`."""
    tail = vital.split("_", 1)[-1]
    return _slug_part(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", tail).lower())


def _label(vital: str) -> str:
    return _field_name(vital).replace("_", " ")
