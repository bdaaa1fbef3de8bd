"""The entity catalogue: every value pw2mqtt publishes, declared once.

State topics, Home Assistant discovery and the topic reference in the docs are all derived from
`entities_for(snapshot)`. An entity is announced only while its value can be read from the
snapshot, so a Powerwall 3 or an old firmware never shows entities that stay empty.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, Literal

from pw2mqtt.gateway.rest.models import (
    Aggregates,
    BatteryBlock,
    GridFault,
    GridStatus,
    MeterReading,
    OperationMode,
)
from pw2mqtt.gateway.signed_config import EXPORT_RULES, SIGNED_CONFIG, SignedConfig
from pw2mqtt.gateway.snapshot import GatewaySnapshot

Value = bool | int | float | str
Platform = Literal["sensor", "binary_sensor", "select", "number", "switch", "button"]
Category = Literal["diagnostic", "config"]
Reader = Callable[[GatewaySnapshot], Value | None]

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
_NEVER = datetime.min.replace(tzinfo=UTC)


SETTABLE_MODES: Final = ("self_consumption", "autonomous", "backup")
"""The operation modes a command may set (the gateway reports others too)."""


@dataclass(frozen=True, slots=True)
class Control:
    """How an entity turns into a Home Assistant control once its command kind is enabled."""

    kind: str  # the `commands.<kind>` setting that enables it
    platform: Platform
    command_key: str  # the field whose `/set` topic takes the command
    press: str | None = None  # a button's payload
    options: tuple[str, ...] = ()  # a select's choices
    minimum: float | None = None  # a number's range and step
    maximum: float | None = None
    step: float | None = None


COMMANDS_SOURCE: Final = "commands"
"""The source of entities fed by the bridge's command answers instead of a gateway endpoint."""
BRIDGE_SOURCE: Final = "pw2mqtt"
"""The source of entities the bridge fills from what it knows of the gateway (`last_error`)."""
HEALTH_SOURCE: Final = "health"
"""The source of entities the bridge fills from its own figures of the gateway (poll latency)."""
BRIDGE_SOURCES: Final = frozenset({COMMANDS_SOURCE, BRIDGE_SOURCE, HEALTH_SOURCE})
"""Sources the bridge fills itself, not a gateway endpoint."""


@dataclass(frozen=True, slots=True)
class Entity:
    """One published value: its topic field, how to read it, and how Home Assistant shows it."""

    key: str
    name: str
    description: str
    source: str  # the snapshot field (endpoint) the value comes from
    read: Reader
    platform: Platform = "sensor"
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    category: Category | None = None
    enabled_by_default: bool = True
    precision: int | None = None  # decimals published, and suggested to Home Assistant
    deadband: float = 0.0  # a number is republished once it moved by more than this
    options: tuple[str, ...] = ()  # the values of an enum sensor
    monotonic: bool = False  # a lifetime counter: a decrease is never published
    icon: str | None = None
    control: Control | None = None
    control_only: bool = False  # announced only while its command kind is enabled
    path: str | None = None  # the topic under the gateway, when not the key (per-device detail)
    attributes: str | None = None  # a topic under the gateway holding JSON attributes

    @property
    def topic_path(self) -> str:
        return self.path or self.key

    def __post_init__(self) -> None:
        if not KEY_PATTERN.match(self.key):
            raise ValueError(f"entity key {self.key!r} is not snake_case")

    @property
    def stateless(self) -> bool:
        return self.control is not None and self.control.platform == "button"

    @property
    def from_endpoint(self) -> bool:
        """Its state is read from a gateway endpoint, whose availability it then follows."""
        return not self.stateless and self.source not in BRIDGE_SOURCES

    def controlled(self) -> Entity:
        """This entity as the Home Assistant control its command kind makes it."""
        assert self.control is not None
        return replace(
            self, platform=self.control.platform, options=self.control.options or self.options
        )

    def value(self, snapshot: GatewaySnapshot) -> Value | None:
        value = self.read(snapshot)
        if isinstance(value, float) and self.precision is not None:
            value = round_half_away(value, self.precision)
        return value


def round_half_away(value: float, precision: int) -> float:
    """Round as people do, halves away from zero, on the decimal digits shown (`repr`).

    Python's `round` takes halves to the even neighbour (2.5 → 2, 3.5 → 4) and works on the
    binary value (`round(0.285, 2)` is 0.28), so equal steps were published unevenly.
    """
    if not math.isfinite(value):
        return value
    quantum = Decimal(1).scaleb(-precision)
    rounded = float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))
    return rounded + 0.0  # -0.0 → 0.0


def format_value(value: Value) -> str:
    """The plain MQTT payload: `85.3`, `true`, `self_consumption`; never an exponent."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        text = repr(value)
        return format(Decimal(text), "f") if "e" in text else text
    return str(value)


# -- readers --------------------------------------------------------------------------------


def _meter(snapshot: GatewaySnapshot, name: str) -> MeterReading | None:
    aggregates: Aggregates | None = snapshot.aggregates
    return None if aggregates is None else aggregates.root.get(name)


def _meter_power(name: str, part: Literal["all", "pos", "neg"] = "all") -> Reader:
    def read(snapshot: GatewaySnapshot) -> float | None:
        meter = _meter(snapshot, name)
        if meter is None or meter.instant_power is None:
            return None
        power = meter.instant_power
        if part == "pos":
            return max(0.0, power)
        if part == "neg":
            return max(0.0, -power)
        return power

    return read


def _meter_field(name: str, field: str, *, zero_is_missing: bool = False) -> Reader:
    def read(snapshot: GatewaySnapshot) -> float | None:
        meter = _meter(snapshot, name)
        value = None if meter is None else getattr(meter, field)
        if not isinstance(value, float) or (zero_is_missing and value == 0):
            return None
        return value

    return read


def _lifetime_kwh(name: str, field: Literal["energy_imported", "energy_exported"]) -> Reader:
    def read(snapshot: GatewaySnapshot) -> float | None:
        meter = _meter(snapshot, name)
        wh = None if meter is None else getattr(meter, field)
        # A 0 from a meter that is not there is "no reading", never a real lifetime total.
        return wh / 1000.0 if isinstance(wh, float) and wh > 0 else None

    return read


def _soe_app(snapshot: GatewaySnapshot) -> float | None:
    return None if snapshot.soe is None else snapshot.soe.app_percentage


def _soe_raw(snapshot: GatewaySnapshot) -> float | None:
    return None if snapshot.soe is None else snapshot.soe.percentage


def _grid_status_value(snapshot: GatewaySnapshot) -> GridStatus | None:
    grid = snapshot.grid_status
    return None if grid is None else grid.grid_status.value


GRID_STATUS_NAMES: dict[GridStatus, str] = {
    GridStatus.CONNECTED: "connected",
    GridStatus.ISLANDED_ACTIVE: "islanded",
    GridStatus.ISLANDED_READY: "islanded_ready",
    GridStatus.TRANSITION_TO_GRID: "transition_to_grid",
    GridStatus.TRANSITION_TO_ISLAND: "transition_to_island",
    GridStatus.MICROGRID_FAULTED: "microgrid_faulted",
    GridStatus.WAIT_FOR_USER: "wait_for_user",
    GridStatus.UNKNOWN: "unknown",
}


def _grid_status(snapshot: GatewaySnapshot) -> str | None:
    status = _grid_status_value(snapshot)
    return None if status is None else GRID_STATUS_NAMES[status]


def _grid_connected(snapshot: GatewaySnapshot) -> bool | None:
    status = _grid_status_value(snapshot)
    if status is None or status is GridStatus.UNKNOWN:
        return None
    return status.is_connected


def _grid_services(snapshot: GatewaySnapshot) -> bool | None:
    grid = snapshot.grid_status
    return None if grid is None else grid.grid_services_active


def _operation_mode(snapshot: GatewaySnapshot) -> str | None:
    operation = snapshot.operation
    if operation is None or operation.real_mode is None:
        return None
    mode = operation.real_mode.value
    return "unknown" if mode is OperationMode.UNKNOWN else mode.value


def _off_grid(snapshot: GatewaySnapshot) -> bool | None:
    status = _grid_status_value(snapshot)
    if status is None or status is GridStatus.UNKNOWN:
        return None
    return status.is_off_grid


def _no_state(snapshot: GatewaySnapshot) -> None:
    del snapshot  # a button has no state to publish


def _reserve_app(snapshot: GatewaySnapshot) -> float | None:
    operation = snapshot.operation
    return None if operation is None else operation.backup_reserve_app_percent


def _reserve_raw(snapshot: GatewaySnapshot) -> float | None:
    operation = snapshot.operation
    return None if operation is None else operation.backup_reserve_percent


def _signed_mode(snapshot: GatewaySnapshot) -> str | None:
    mode = _signed_field(snapshot, "real_mode")
    if not isinstance(mode, str):
        return None
    return mode if mode in _OPERATION_MODES else "unknown"


def _signed_reserve_app(snapshot: GatewaySnapshot) -> float | None:
    config = snapshot.signed_config
    return None if config is None else config.backup_reserve_app


def _signed_field(snapshot: GatewaySnapshot, name: str) -> Value | None:
    config: SignedConfig | None = snapshot.signed_config
    value: Value | None = None if config is None else getattr(config, name)
    return value


def _signed_reader(name: str) -> Reader:
    return lambda snapshot: _signed_field(snapshot, name)


def _sitemaster(field: Literal["running", "connected_to_tesla"]) -> Reader:
    def read(snapshot: GatewaySnapshot) -> bool | None:
        sitemaster = snapshot.sitemaster
        value = None if sitemaster is None else getattr(sitemaster, field)
        return value if isinstance(value, bool) else None

    return read


def _system_kwh(field: Literal["nominal_energy_remaining", "nominal_full_pack_energy"]) -> Reader:
    def read(snapshot: GatewaySnapshot) -> float | None:
        system = snapshot.system_status
        wh = None if system is None else getattr(system, field)
        return wh / 1000.0 if isinstance(wh, float) else None

    return read


def _firmware(snapshot: GatewaySnapshot) -> str | None:
    status = snapshot.status
    if status is None or not status.version:
        return None
    return status.version.split()[0]


def _grid_fault_list(snapshot: GatewaySnapshot) -> tuple[GridFault, ...] | None:
    """`/api/system_status/grid_faults`, else the same list inside `/api/system_status`, where
    firmware 1.50 keeps it (its separate endpoint is 404)."""
    if snapshot.grid_faults is not None:
        return snapshot.grid_faults.root
    system = snapshot.system_status
    if system is not None and "grid_faults" in system.model_fields_set:
        return system.grid_faults
    return None


def _grid_fault_count(snapshot: GatewaySnapshot) -> int | None:
    faults = _grid_fault_list(snapshot)
    return None if faults is None else len(faults)


def _last_grid_fault(snapshot: GatewaySnapshot) -> str | None:
    faults = _grid_fault_list(snapshot)
    if not faults:
        return None
    latest = max(faults, key=lambda fault: fault.timestamp or _NEVER)
    return _blank_is_none(latest.alert_name)


def _blank_is_none(text: str | None) -> str | None:
    """An empty string from the gateway means "no value", never an empty payload."""
    return text if text and text.strip() else None


# -- the catalogue ----------------------------------------------------------------------------


def _power(key: str, name: str, description: str, read: Reader, *, enabled: bool = True) -> Entity:
    return Entity(
        key, name, description, "aggregates", read,
        unit="W", device_class="power", state_class="measurement", precision=0, deadband=5.0,
        enabled_by_default=enabled,
    )  # fmt: skip


def _counter(key: str, name: str, description: str, read: Reader) -> Entity:
    return Entity(
        key, name, description, "aggregates", read,
        unit="kWh", device_class="energy", state_class="total_increasing", precision=3,
        monotonic=True,
    )  # fmt: skip


def _meter_entities(meter: str, key: str, label: str) -> tuple[Entity, ...]:
    return (
        Entity(
            f"{key}_frequency", f"{label} frequency", f"Frequency at the {meter} meter.",
            "aggregates", _meter_field(meter, "frequency", zero_is_missing=True),
            unit="Hz", device_class="frequency", state_class="measurement", precision=2,
            deadband=0.02, category="diagnostic", enabled_by_default=False,
        ),
        Entity(
            f"{key}_voltage", f"{label} voltage", f"Average voltage at the {meter} meter.",
            "aggregates", _meter_field(meter, "instant_average_voltage"),
            unit="V", device_class="voltage", state_class="measurement", precision=1,
            deadband=0.5, category="diagnostic", enabled_by_default=False,
        ),
        Entity(
            f"{key}_current", f"{label} current", f"Total current at the {meter} meter.",
            "aggregates", _meter_field(meter, "instant_total_current"),
            unit="A", device_class="current", state_class="measurement", precision=2,
            deadband=0.1, category="diagnostic", enabled_by_default=False,
        ),
    )  # fmt: skip


_METERS: tuple[tuple[str, str, str], ...] = (
    ("site", "grid", "Grid"),
    ("battery", "battery", "Battery"),
    ("solar", "solar", "Solar"),
    ("load", "load", "Load"),
)
_OPERATION_MODES = (*(m.value for m in OperationMode if m is not OperationMode.UNKNOWN), "unknown")
_SIGNED_STAND_IN = (
    " Where `/api/operation` cannot say (Powerwall 3, restricted firmware), read from "
    "config.json through signed control (`/tedapi/v1r`), once a paired key is in the state "
    "directory."
)

ENTITIES: tuple[Entity, ...] = (
    Entity(
        "battery_level", "Battery level",
        "State of charge as the Tesla app shows it: (raw - 5) / 0.95, clipped to 0-100 %.",
        "soe", _soe_app,
        unit="%", device_class="battery", state_class="measurement", precision=1, deadband=0.05,
    ),
    Entity(
        "battery_level_raw", "Battery level (raw)",
        "State of charge as the gateway reports it (raw %).",
        "soe", _soe_raw,
        unit="%", state_class="measurement", precision=1, deadband=0.05,
        category="diagnostic", enabled_by_default=False,
    ),
    _power(
        "battery_power", "Battery power", "Positive while discharging.", _meter_power("battery")
    ),
    _power("grid_power", "Grid power", "Positive while importing.", _meter_power("site")),
    _power(
        "solar_power", "Solar power",
        "Solar production, never negative (an inverter's standby draw at night shows as 0).",
        _meter_power("solar", "pos"),
    ),
    _power("load_power", "Load power", "Home consumption.", _meter_power("load")),
    _power(
        "grid_import_power", "Grid import power", "Grid power while importing, else 0.",
        _meter_power("site", "pos"), enabled=False,
    ),
    _power(
        "grid_export_power", "Grid export power", "Grid power while exporting, else 0.",
        _meter_power("site", "neg"), enabled=False,
    ),
    _power(
        "battery_discharge_power", "Battery discharge power",
        "Battery power while discharging, else 0.", _meter_power("battery", "pos"), enabled=False,
    ),
    _power(
        "battery_charge_power", "Battery charge power",
        "Battery power while charging, else 0.", _meter_power("battery", "neg"), enabled=False,
    ),
    _counter(
        "grid_energy_imported", "Grid energy imported", "Lifetime energy imported from the grid.",
        _lifetime_kwh("site", "energy_imported"),
    ),
    _counter(
        "grid_energy_exported", "Grid energy exported", "Lifetime energy exported to the grid.",
        _lifetime_kwh("site", "energy_exported"),
    ),
    _counter(
        "solar_energy_exported", "Solar energy produced", "Lifetime solar production.",
        _lifetime_kwh("solar", "energy_exported"),
    ),
    _counter(
        "battery_energy_imported", "Battery energy charged", "Lifetime energy into the battery.",
        _lifetime_kwh("battery", "energy_imported"),
    ),
    _counter(
        "battery_energy_exported", "Battery energy discharged",
        "Lifetime energy out of the battery.", _lifetime_kwh("battery", "energy_exported"),
    ),
    _counter(
        "load_energy_imported", "Load energy consumed", "Lifetime home consumption.",
        _lifetime_kwh("load", "energy_imported"),
    ),
    Entity(
        "grid_status", "Grid status", "The gateway's grid state.",
        "grid_status", _grid_status,
        device_class="enum", options=tuple(GRID_STATUS_NAMES.values()),
    ),
    Entity(
        "grid_connected", "Grid connected", "True while the grid is up (or reconnecting).",
        "grid_status", _grid_connected,
        platform="binary_sensor", device_class="power",
    ),
    Entity(
        "grid_services_active", "Grid services active",
        "True while the battery serves the grid operator.",
        "grid_status", _grid_services,
        platform="binary_sensor", category="diagnostic",
    ),
    Entity(
        "operation_mode", "Operation mode",
        "self_consumption (app: Self-Powered), autonomous (Time-Based Control) or backup; "
        "scheduler and site_control appear when a utility program or installer is in charge."
        + _SIGNED_STAND_IN,
        "operation", _operation_mode,
        device_class="enum", options=_OPERATION_MODES,
        control=Control(
            "operation_mode", "select", "operation_mode", options=SETTABLE_MODES
        ),
    ),
    Entity(
        "backup_reserve", "Backup reserve", "Energy kept for outages, app %." + _SIGNED_STAND_IN,
        "operation", _reserve_app,
        unit="%", state_class="measurement", precision=1, icon="mdi:battery-lock",
        control=Control(
            "backup_reserve", "number", "backup_reserve", minimum=0, maximum=100, step=1
        ),
    ),
    Entity(
        "off_grid", "Off-grid", "True while the site is, or is going, off the grid.",
        "grid_status", _off_grid,
        category="config", enabled_by_default=False, icon="mdi:transmission-tower-off",
        control=Control("off_grid", "switch", "off_grid"), control_only=True,
    ),
    Entity(
        "sitemaster_run", "Sitemaster run", "Start the site controller (power flows).",
        "sitemaster", _no_state,
        category="config", enabled_by_default=False, icon="mdi:play",
        control=Control("sitemaster", "button", "sitemaster", press="run"), control_only=True,
    ),
    Entity(
        "sitemaster_stop", "Sitemaster stop",
        "Stop the site controller: the batteries stop charging and discharging.",
        "sitemaster", _no_state,
        category="config", enabled_by_default=False, icon="mdi:stop",
        control=Control("sitemaster", "button", "sitemaster", press="stop"), control_only=True,
    ),
    Entity(
        "manual_backup_start", "Manual backup start",
        "Charge the batteries and hold them full for an hour (a manual backup event; signed "
        "local control only).",
        "grid_status", _no_state,
        category="config", icon="mdi:battery-charging-high",
        control=Control("manual_backup", "button", "manual_backup", press="start"),
        control_only=True,
    ),
    Entity(
        "manual_backup_cancel", "Manual backup cancel", "Cancel the manual backup event.",
        "grid_status", _no_state,
        category="config", icon="mdi:battery-off-outline",
        control=Control("manual_backup", "button", "manual_backup", press="cancel"),
        control_only=True,
    ),
    Entity(
        "backup_reserve_raw", "Backup reserve (raw)",
        "The reserve as stored (raw %)." + _SIGNED_STAND_IN,
        "operation", _reserve_raw,
        unit="%", state_class="measurement", precision=1, category="diagnostic",
        enabled_by_default=False,
    ),
    Entity(
        "grid_charging", "Grid charging",
        "True while the battery may charge from the grid; false when the site forbids it "
        "(config.json's `disallow_charge_from_grid_with_solar_installed`, which the Tesla app "
        "shows as Grid Charging). Read through signed control (`/tedapi/v1r`) with a paired key.",
        SIGNED_CONFIG, _signed_reader("grid_charging"),
        platform="binary_sensor", category="config", icon="mdi:transmission-tower-import",
        control=Control("grid_charging", "switch", "grid_charging"),
    ),
    Entity(
        "export_rule", "Export rule",
        "What may be exported to the grid: battery_ok (solar and battery), pv_only (solar "
        "only) or never (config.json's `customer_preferred_export_rule`). Read through signed "
        "control (`/tedapi/v1r`) with a paired key.",
        SIGNED_CONFIG, _signed_reader("export_rule"),
        device_class="enum", options=EXPORT_RULES, category="config",
        icon="mdi:transmission-tower-export",
        control=Control("export_rule", "select", "export_rule", options=EXPORT_RULES),
    ),
    Entity(
        "sitemaster_running", "Sitemaster running",
        "True while the site controller runs and manages power flows.",
        "sitemaster", _sitemaster("running"),
        platform="binary_sensor", device_class="running", category="diagnostic",
    ),
    Entity(
        "connected_to_tesla", "Connected to Tesla", "True while the gateway reaches Tesla.",
        "sitemaster", _sitemaster("connected_to_tesla"),
        platform="binary_sensor", device_class="connectivity", category="diagnostic",
    ),
    Entity(
        "energy_remaining", "Energy remaining", "Energy stored now.",
        "system_status", _system_kwh("nominal_energy_remaining"),
        unit="kWh", device_class="energy_storage", state_class="measurement", precision=2,
        deadband=0.005,
    ),
    Entity(
        "energy_full", "Energy capacity", "Energy stored when full.",
        "system_status", _system_kwh("nominal_full_pack_energy"),
        unit="kWh", device_class="energy_storage", state_class="measurement", precision=2,
        category="diagnostic",
    ),
    Entity(
        "grid_fault_count", "Recent grid faults", "How many grid faults the gateway remembers.",
        "grid_faults", _grid_fault_count,
        state_class="measurement", category="diagnostic", enabled_by_default=False,
    ),
    Entity(
        "last_grid_fault", "Last grid fault", "The alert name of the most recent grid fault.",
        "grid_faults", _last_grid_fault,
        category="diagnostic",
    ),
    Entity(
        "firmware_version", "Firmware", "The gateway's firmware version.",
        "status", _firmware,
        category="diagnostic",
    ),
    *(entity for meter in _METERS for entity in _meter_entities(*meter)),
)  # fmt: skip


_SIGNED_READERS: Final[dict[str, Reader]] = {
    "operation_mode": _signed_mode,
    "backup_reserve": _signed_reserve_app,
    "backup_reserve_raw": _signed_reader("backup_reserve_raw"),
}
SIGNED_STAND_INS: Final = {
    entity.key: replace(entity, source=SIGNED_CONFIG, read=_SIGNED_READERS[entity.key])
    for entity in ENTITIES
    if entity.key in _SIGNED_READERS
}
"""The same entities read from config.json, for gateways whose `/api/operation` cannot say."""


def _filled(entity: Entity, snapshot: GatewaySnapshot) -> Entity:
    """`entity`, or its signed stand-in when REST leaves it empty and config.json does not."""
    stand_in = SIGNED_STAND_INS.get(entity.key)
    if stand_in is None or entity.value(snapshot) is not None:
        return entity
    return stand_in if stand_in.value(snapshot) is not None else entity


# -- what became of the last command -----------------------------------------------------------


COMMAND_ENTITIES: Final = (
    Entity(
        "last_command", "Last command",
        "What the last command to this gateway asked and what became of it: applied, "
        "unchanged, refused (by the gateway, with its reason), failed or rejected. The "
        "attributes hold `status`, `change`, `reason`, `at` and `transaction`.",
        COMMANDS_SOURCE, _no_state,
        category="diagnostic", icon="mdi:console-line", attributes="last_command_details",
    ),
)  # fmt: skip


def command_entities(controls: frozenset[str]) -> tuple[Entity, ...]:
    """Announced while any command kind is enabled, so a refusal is seen where it was made."""
    return COMMAND_ENTITIES if controls else ()


# -- one set per Powerwall, from /api/system_status battery_blocks ------------------------------


def _block(index: int, snapshot: GatewaySnapshot) -> BatteryBlock | None:
    system = snapshot.system_status
    if system is None or index >= len(system.battery_blocks):
        return None
    return system.battery_blocks[index]


def _block_number(index: int, field: str, scale: float = 1.0) -> Reader:
    def read(snapshot: GatewaySnapshot) -> float | None:
        block = _block(index, snapshot)
        value = None if block is None else getattr(block, field)
        return value * scale if isinstance(value, float) else None

    return read


def _block_text(index: int, field: str) -> Reader:
    def read(snapshot: GatewaySnapshot) -> str | None:
        block = _block(index, snapshot)
        value = None if block is None else getattr(block, field)
        return None if value is None else _blank_is_none(str(value))

    return read


def powerwall_entities(index: int) -> tuple[Entity, ...]:
    """The entities of the Powerwall at `battery_blocks[index]`, numbered from 1 in topics."""
    n = index + 1
    return (
        Entity(
            f"powerwall_{n}_energy_remaining", f"Powerwall {n} energy remaining",
            f"Energy stored in Powerwall {n}.",
            "system_status", _block_number(index, "nominal_energy_remaining", 0.001),
            unit="kWh", device_class="energy_storage", state_class="measurement", precision=2,
            deadband=0.005, category="diagnostic",
        ),
        Entity(
            f"powerwall_{n}_energy_full", f"Powerwall {n} capacity",
            f"Energy Powerwall {n} stores when full.",
            "system_status", _block_number(index, "nominal_full_pack_energy", 0.001),
            unit="kWh", device_class="energy_storage", state_class="measurement", precision=2,
            category="diagnostic",
        ),
        Entity(
            f"powerwall_{n}_power", f"Powerwall {n} power",
            f"Output of Powerwall {n}; positive while discharging.",
            "system_status", _block_number(index, "p_out"),
            unit="W", device_class="power", state_class="measurement", precision=0,
            deadband=5.0, category="diagnostic",
        ),
        Entity(
            f"powerwall_{n}_state", f"Powerwall {n} inverter state",
            f"The inverter state of Powerwall {n} (for example PINV_GridFollowing).",
            "system_status", _block_text(index, "pinv_state"),
            category="diagnostic",
        ),
    )  # fmt: skip


LAST_ERROR_OK: Final = "ok"
LAST_ERROR: Final = Entity(
    "last_error", "Last error",
    "Why the last poll of the gateway failed (a wrong password, a changed certificate, no "
    "answer), or `ok` once a poll succeeds. Retained, and announced even for a gateway that "
    "never answered, so the reason is there to see.",
    BRIDGE_SOURCE, _no_state,
    category="diagnostic", icon="mdi:alert-circle-outline",
)  # fmt: skip
"""Filled by the bridge, not read from the gateway: never in `entities_for`."""


HEALTH_ENTITIES: Final = (
    Entity(
        "poll_latency", "Poll latency",
        "How long the last poll that read power flows, charge and grid status took, in "
        "milliseconds.",
        HEALTH_SOURCE, _no_state,
        unit="ms", device_class="duration", state_class="measurement", precision=0,
        deadband=50.0, category="diagnostic", icon="mdi:timer-outline",
    ),
    Entity(
        "poll_failures", "Failed polls in a row",
        "Polls in a row in which the gateway gave no answer; 0 while it answers. The gateway "
        "goes unavailable once it reaches `poll.offline_after`.",
        HEALTH_SOURCE, _no_state,
        state_class="measurement", category="diagnostic", icon="mdi:alert-octagon-outline",
    ),
    Entity(
        "requests_per_hour", "Requests per hour",
        "Requests the bridge sent to the gateway in the last hour, logins included.",
        HEALTH_SOURCE, _no_state,
        unit="requests/h", state_class="measurement", precision=0, deadband=30.0,
        category="diagnostic", enabled_by_default=False, icon="mdi:swap-vertical",
    ),
)  # fmt: skip
"""Filled by the bridge from its own figures of the gateway, as `<base>/bridge/health` is."""


def entities_for(
    snapshot: GatewaySnapshot, controls: frozenset[str] = frozenset()
) -> tuple[Entity, ...]:
    """Every entity this snapshot can fill, in catalogue order, as controls where `controls`
    (the enabled command kinds) says so."""
    blocks = 0 if snapshot.system_status is None else len(snapshot.system_status.battery_blocks)
    candidates = (*ENTITIES, *(e for i in range(blocks) for e in powerwall_entities(i)))
    out: list[Entity] = []
    for candidate in candidates:
        entity = _filled(candidate, snapshot)
        active = entity.control is not None and entity.control.kind in controls
        if entity.control_only and not active:
            continue
        if entity.stateless:
            if snapshot.get(entity.source) is None:
                continue
        elif entity.value(snapshot) is None:
            continue
        out.append(entity.controlled() if active else entity)
    return tuple(out)
