"""Typed, tolerant models of the gateway's JSON read endpoints, and `decode` to build them.

Tolerant means: any number may arrive as int or float, nearly every field may be missing, unknown
fields are ignored, and an unseen enum value becomes `UNKNOWN` with the sent text kept (see
`Tolerant`). Python names are snake_case; Tesla's own spellings are the aliases.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final, Generic, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    RootModel,
    ValidationError,
    model_validator,
)

from pw2mqtt.errors import GatewayResponseError
from pw2mqtt.gateway.percent import app_from_raw
from pw2mqtt.gateway.rest.values import (
    NULL_AS_EMPTY,
    EpochMillis,
    GoDuration,
    Integer,
    LegacyUptime,
    Number,
    StartTime,
    Timestamp,
    Tolerant,
)

# --- enums ---------------------------------------------------------------------------------------


class GridStatus(StrEnum):
    CONNECTED = "SystemGridConnected"
    ISLANDED_ACTIVE = "SystemIslandedActive"
    ISLANDED_READY = "SystemIslandedReady"
    TRANSITION_TO_GRID = "SystemTransitionToGrid"
    TRANSITION_TO_ISLAND = "SystemTransitionToIsland"
    MICROGRID_FAULTED = "SystemMicroGridFaulted"
    WAIT_FOR_USER = "SystemWaitForUser"
    UNKNOWN = "UNKNOWN"

    @property
    def is_connected(self) -> bool:
        """Grid on: connected, or back and being synchronised to (`TransitionToGrid`).

        This is Home Assistant's "Grid status" binary sensor rule, so users see the same thing.
        """
        return self in {GridStatus.CONNECTED, GridStatus.TRANSITION_TO_GRID}

    @property
    def is_off_grid(self) -> bool:
        """Islanded on purpose or on its way there (HA's "Off-Grid operation" switch rule)."""
        return self in {GridStatus.TRANSITION_TO_ISLAND, GridStatus.ISLANDED_ACTIVE}


class OperationMode(StrEnum):
    SELF_CONSUMPTION = "self_consumption"
    AUTONOMOUS = "autonomous"  # "time-based control" in the app
    BACKUP = "backup"
    SCHEDULER = "scheduler"
    SITE_CONTROL = "site_control"
    UNKNOWN = "UNKNOWN"


class SitemasterStatus(StrEnum):
    UP = "StatusUp"
    DOWN = "StatusDown"
    UNKNOWN = "UNKNOWN"


class GridCompliance(StrEnum):
    """`pinv_grid_state` of a battery block, `grid_state` of a Powerwall or a PVAC."""

    COMPLIANT = "Grid_Compliant"
    QUALIFYING = "Grid_Qualifying"
    UNCOMPLIANT = "Grid_Uncompliant"
    UNKNOWN = "UNKNOWN"


class UpdateState(StrEnum):
    SUCCEEDED = "/update_succeeded"
    FAILED = "/update_failed"
    DOWNLOAD = "/download"
    DOWNLOADED = "/update_downloaded"
    STAGED = "/update_staged"
    CLEAR = "/clear_update_status"
    NO_STATUS = "/update_unknown"  # the gateway's own word for "nothing to report"
    UNKNOWN = "UNKNOWN"


# --- shared building blocks ----------------------------------------------------------------------

_CONFIG = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)
# Shorthands for the optional field types nearly every field uses.
Bool = bool | None
Text = str | None
Num = Number | None


class _Model(BaseModel):
    model_config = _CONFIG


class MeterReading(_Model):
    """One meter in `/api/meters/aggregates`, or a meter's `Cached_readings`.

    Signs: site > 0 imports; battery > 0 discharges; load ≥ 0; solar > 0 produces.
    Energies are lifetime Wh; `timeout` is in nanoseconds.
    """

    last_communication_time: Timestamp = None
    instant_power: Num = None
    instant_reactive_power: Num = None
    instant_apparent_power: Num = None
    frequency: Num = None  # 0 means not measured
    energy_exported: Num = None
    energy_imported: Num = None
    instant_average_voltage: Num = None
    instant_average_current: Num = None
    instant_total_current: Num = None
    i_a_current: Num = None
    i_b_current: Num = None
    i_c_current: Num = None
    last_phase_voltage_communication_time: Timestamp = None
    last_phase_power_communication_time: Timestamp = None
    last_phase_energy_communication_time: Timestamp = None
    timeout: Num = None
    num_meters_aggregated: Integer | None = None
    # Per-phase values, seen in the per-meter Cached_readings.
    v_l1n: Num = None
    v_l2n: Num = None
    v_l3n: Num = None
    real_power_a: Num = None
    real_power_b: Num = None
    real_power_c: Num = None
    reactive_power_a: Num = None
    reactive_power_b: Num = None
    reactive_power_c: Num = None
    energy_exported_a: Num = None
    energy_exported_b: Num = None
    energy_exported_c: Num = None
    energy_imported_a: Num = None
    energy_imported_b: Num = None
    energy_imported_c: Num = None
    serial_number: Text = None
    version: Text = None


class GridFault(_Model):
    timestamp: EpochMillis | None = None
    alert_name: Text = None
    alert_is_fault: Bool = None
    decoded_alert: Text = None  # a JSON list, encoded as a string
    alert_raw: Integer | None = None  # a 64-bit bit field: too wide for a float
    git_hash: Text = None
    site_uid: Text = None
    ecu_type: Text = None
    ecu_package_part_number: Text = None
    ecu_package_serial_number: Text = None


GridFaultList = Annotated[tuple[GridFault, ...], NULL_AS_EMPTY]


# --- /api/status ---------------------------------------------------------------------------------


class Status(_Model):
    din: Text = None
    start_time: StartTime = None  # naive gateway-local time: see parse_start_time
    up_time: GoDuration | None = Field(default=None, alias="up_time_seconds")
    is_new: Bool = None
    version: Text = None  # "21.44 223a56cd" or "23.44.0 9064fc6a"
    git_hash: Text = None
    commission_count: Integer | None = None
    device_type: Text = None  # "teg", "hec", "smc"
    teg_type: Text = None
    sync_type: Text = None
    leader: Text = None
    followers: JsonValue = None
    cellular_disabled: Bool = None
    can_reboot: Bool = None


# --- /api/meters/aggregates ----------------------------------------------------------------------


class Aggregates(RootModel[dict[str, MeterReading]]):
    """Meters keyed by name: site, battery, load, solar, and whatever else the firmware sends."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _only_objects(cls, data: Any) -> Any:
        # A future non-meter key (a number, a list) must not sink the four meters we need.
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if isinstance(value, dict)}
        return data

    @property
    def site(self) -> MeterReading | None:
        return self.root.get("site")

    @property
    def battery(self) -> MeterReading | None:
        return self.root.get("battery")

    @property
    def load(self) -> MeterReading | None:
        return self.root.get("load")

    @property
    def solar(self) -> MeterReading | None:
        return self.root.get("solar")


# --- /api/system_status/* ------------------------------------------------------------------------


SOE_MAX_RAW: Final = 102.0
"""The highest raw state of charge taken as a reading. Raw is remaining over full energy, which can
drift a little past 100 at the top of a charge (calibration, rounding); far beyond, or below 0,
is not a state of charge but a bad reading."""


class Soe(_Model):
    percentage: Number  # raw %

    @property
    def app_percentage(self) -> float:
        return app_from_raw(self.percentage)

    def implausible(self) -> str | None:
        """Why this cannot be a real reading, or None; a bad reading is not clamped to 0 or 100."""
        if 0.0 <= self.percentage <= SOE_MAX_RAW:
            return None
        return f"an impossible state of charge ({self.percentage:g} %)"


class SystemGridStatus(_Model):
    grid_status: Tolerant[GridStatus]
    grid_services_active: Bool = None


class GridFaults(RootModel[GridFaultList]):
    model_config = ConfigDict(frozen=True)


class BatteryBlock(_Model):
    block_type: Text = Field(default=None, alias="Type")
    package_part_number: Text = Field(default=None, alias="PackagePartNumber")
    package_serial_number: Text = Field(default=None, alias="PackageSerialNumber")
    disabled_reasons: Annotated[tuple[str, ...], NULL_AS_EMPTY] = ()
    pinv_state: Text = None
    pinv_grid_state: Tolerant[GridCompliance] | None = None
    nominal_energy_remaining: Num = None
    nominal_full_pack_energy: Num = None
    p_out: Num = None
    q_out: Num = None
    v_out: Num = None
    f_out: Num = None
    i_out: Num = None
    energy_charged: Num = None
    energy_discharged: Num = None
    off_grid: Bool = None
    vf_mode: Bool = None
    wobble_detected: Bool = None
    charge_power_clamped: Bool = None
    backup_ready: Bool = None
    op_seq_state: Text = Field(default=None, alias="OpSeqState")
    version: Text = None


class SystemStatus(_Model):
    command_source: Text = None
    system_island_state: Tolerant[GridStatus] | None = None
    nominal_full_pack_energy: Num = None
    nominal_energy_remaining: Num = None
    expected_energy_remaining: Num = None
    available_blocks: Integer | None = None
    blocks_controlled: Integer | None = None
    battery_blocks: Annotated[tuple[BatteryBlock, ...], NULL_AS_EMPTY] = ()
    battery_target_power: Num = None
    battery_target_reactive_power: Num = None
    max_charge_power: Num = None
    max_discharge_power: Num = None
    max_apparent_power: Num = None
    instantaneous_max_charge_power: Num = None
    instantaneous_max_discharge_power: Num = None
    instantaneous_max_apparent_power: Num = None
    inverter_nominal_usable_power: Num = None
    grid_services_power: Num = None
    solar_real_power_limit: Num = None
    grid_faults: GridFaultList = ()
    last_toggle_timestamp: Timestamp = None
    can_reboot: Text = None  # "Yes", "" or a reason such as "Power flow is too high"
    primary: Bool = None
    all_enable_lines_high: Bool = None


# --- /api/sitemaster, /api/operation -------------------------------------------------------------


class Sitemaster(_Model):
    """Current firmware sends status/running/...; very old firmware sent running/uptime."""

    status: Tolerant[SitemasterStatus] | None = None
    running: Bool = None
    connected_to_tesla: Bool = None
    power_supply_mode: Bool = None
    can_reboot: Text = None
    uptime: LegacyUptime | None = None


class Operation(_Model):
    real_mode: Tolerant[OperationMode] | None = None
    backup_reserve_percent: Num = None  # raw %
    freq_shift_load_shed_soe: Num = None
    freq_shift_load_shed_delta_f: Num = None

    @property
    def backup_reserve_app_percent(self) -> float | None:
        raw = self.backup_reserve_percent
        return None if raw is None else app_from_raw(raw)


# --- /api/site_info, /api/site_info/site_name ----------------------------------------------------

_GRID_CODE_FIELDS = (
    "grid_code",
    "grid_voltage_setting",
    "grid_freq_setting",
    "grid_phase_setting",
    "country",
    "state",
    "distributor",
    "utility",
    "retailer",
    "region",
)


class GridCode(_Model):
    grid_code: Text = None  # e.g. "60Hz_240V_s_UL1741SA:2019_California"
    grid_voltage_setting: Num = None
    grid_freq_setting: Num = None
    grid_phase_setting: Text = None  # "Split", "Single", ...
    country: Text = None
    state: Text = None
    distributor: Text = None
    utility: Text = None
    retailer: Text = None
    region: Text = None


class SiteInfo(_Model):
    site_name: Text = None
    timezone: Text = None  # IANA name
    measured_frequency: Num = None
    max_system_energy_kwh: Num = Field(default=None, alias="max_system_energy_kWh")
    max_system_power_kw: Num = Field(default=None, alias="max_system_power_kW")
    nominal_system_energy_kwh: Num = Field(default=None, alias="nominal_system_energy_kWh")
    nominal_system_power_kw: Num = Field(default=None, alias="nominal_system_power_kW")
    max_site_meter_power_kw: Num = Field(default=None, alias="max_site_meter_power_kW")
    min_site_meter_power_kw: Num = Field(default=None, alias="min_site_meter_power_kW")
    panel_max_current: Num = None
    grid_code: GridCode | None = None

    @model_validator(mode="before")
    @classmethod
    def _nest_flat_grid_code(cls, data: Any) -> Any:
        # Firmware up to about 1.46 put the grid code fields at the top level.
        if isinstance(data, dict) and isinstance(data.get("grid_code"), str):
            nested = {key: data[key] for key in _GRID_CODE_FIELDS if key in data}
            return {**data, "grid_code": nested}
        return data


class SiteName(_Model):
    site_name: Text = None
    timezone: Text = None


# --- /api/powerwalls -----------------------------------------------------------------------------


class DiagnosticCheck(_Model):
    name: Text = None
    status: Text = None  # "fail", "not_run", ...
    start_time: Timestamp = None
    end_time: Timestamp = None
    message: Text = None
    progress: Num = None


class Diagnostic(_Model):
    name: Text = None
    category: Text = None
    disruptive: Bool = None
    alert: Bool = None
    checks: Annotated[tuple[DiagnosticCheck, ...], NULL_AS_EMPTY] = ()


class PowerwallInfo(_Model):
    block_type: Text = Field(default=None, alias="Type")
    package_part_number: Text = Field(default=None, alias="PackagePartNumber")
    package_serial_number: Text = Field(default=None, alias="PackageSerialNumber")
    powerwall_type: Text = Field(default=None, alias="type")  # "ACPW", "acpw", "SolarPowerwall"
    grid_state: Tolerant[GridCompliance] | None = None
    grid_reconnection_time_seconds: Num = None
    under_phase_detection: Bool = None
    updating: Bool = None
    in_config: Bool = None
    commissioning_diagnostic: Diagnostic | None = None
    update_diagnostic: Diagnostic | None = None


class Powerwalls(_Model):
    gateway_din: Text = None
    powerwalls: Annotated[tuple[PowerwallInfo, ...], NULL_AS_EMPTY] = ()
    enumerating: Bool = None
    updating: Bool = None
    checking_if_offgrid: Bool = None
    running_phase_detection: Bool = None
    phase_detection_last_error: Text = None
    phase_detection_not_available: Bool = None
    bubble_shedding: Bool = None
    on_grid_check_error: Text = None
    grid_qualifying: Bool = None
    grid_code_validating: Bool = None
    has_sync: Bool = None


# --- /api/solar_powerwall ------------------------------------------------------------------------


class StringVitals(_Model):
    string_id: Integer | None = None
    connected: Bool = None
    measured_voltage: Num = None
    current: Num = None
    measured_power: Num = None


class PvacStatus(_Model):
    state: Text = None
    disabled: Bool = None
    disabled_reasons: Annotated[tuple[str, ...], NULL_AS_EMPTY] = ()
    grid_state: Tolerant[GridCompliance] | None = None
    inv_state: Text = None
    v_out: Num = None
    f_out: Num = None
    p_out: Num = None
    q_out: Num = None
    i_out: Num = None
    string_vitals: Annotated[tuple[StringVitals, ...], NULL_AS_EMPTY] = ()


class PvsStatus(_Model):
    state: Text = None
    disabled: Bool = None
    enable_output: Bool = None
    v_ll: Num = None
    self_test_state: Text = None


class Alerts(_Model):
    """`pvac_alerts` / `pvs_alerts`: every boolean entry lands in `flags`, by its Tesla name."""

    last_rx_time: Timestamp = Field(default=None, alias="LastRxTime")
    received_mux_bitmask: Integer | None = Field(default=None, alias="ReceivedMuxBitmask")
    flags: Mapping[str, bool] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _collect_flags(cls, data: Any) -> Any:
        if isinstance(data, dict) and not isinstance(data.get("flags"), dict):
            flags = {key: value for key, value in data.items() if isinstance(value, bool)}
            return {**data, "flags": flags}
        return data

    @property
    def active(self) -> tuple[str, ...]:
        return tuple(sorted(name for name, on in self.flags.items() if on))


class SolarPowerwall(_Model):
    pvac_status: PvacStatus | None = None
    pvs_status: PvsStatus | None = None
    pv_power_limit: Num = None
    power_status_setpoint: Text = None
    pvac_alerts: Alerts | None = None
    pvs_alerts: Alerts | None = None


# --- /api/meters/site, /api/meters/solar ---------------------------------------------------------


class MeterConnection(_Model):
    short_id: Text = None
    device_serial: Text = None
    ip_address: Text = None
    port: Integer | None = None
    neurio_connected: Bool = None


class Meter(_Model):
    meter_id: Integer | None = Field(default=None, alias="id")
    location: Text = None  # "site", "solar"
    meter_type: Text = Field(default=None, alias="type")  # "neurio_tcp", "synchrometerX", ...
    cts: Annotated[tuple[bool, ...], NULL_AS_EMPTY] = ()
    inverted: Annotated[tuple[bool, ...], NULL_AS_EMPTY] = ()
    connection: MeterConnection | None = None
    cached_readings: MeterReading | None = Field(default=None, alias="Cached_readings")


class Meters(RootModel[Annotated[tuple[Meter, ...], NULL_AS_EMPTY]]):
    """A list of meters; a site without such meters answers `null`, read as an empty list."""

    model_config = ConfigDict(frozen=True)


# --- /api/system/update/status -------------------------------------------------------------------


class UpdateInfo(_Model):
    status: Annotated[tuple[str, ...], NULL_AS_EMPTY] = ()


class UpdateStatus(_Model):
    state: Tolerant[UpdateState] | None = None
    info: UpdateInfo | None = None
    current_time: EpochMillis | None = None
    last_status_time: EpochMillis | None = None
    version: Text = None
    offline_updating: Bool = None
    offline_update_error: Text = None
    estimated_bytes_per_second: Num = None


# --- /api/networks -------------------------------------------------------------------------------


class IpNetwork(_Model):
    # Spelled ip/mask ("255.255.255.0") or IP/Mask (base64 of the mask bytes) by firmware.
    ip: Text = Field(default=None, validation_alias=AliasChoices("ip", "IP"))
    mask: Text = Field(default=None, validation_alias=AliasChoices("mask", "Mask"))


class ExtraIp(_Model):
    ip: Text = None
    netmask: Num = None


class InterfaceInfo(_Model):
    network_name: Text = None
    ip_networks: Annotated[tuple[IpNetwork, ...], NULL_AS_EMPTY] = ()
    gateway: Text = None
    interface: Text = None
    state: Text = None
    state_reason: Text = None
    signal_strength: Num = None
    hw_address: Text = None


class Network(_Model):
    network_name: Text = None
    interface: Text = None  # "EthType", "WifiType", "GsmType"
    enabled: Bool = None
    active: Bool = None
    primary: Bool = None
    dhcp: Bool = None
    security_type: Text = None
    extra_ips: Annotated[tuple[ExtraIp, ...], NULL_AS_EMPTY] = ()
    last_tesla_connected: Bool = Field(default=None, alias="lastTeslaConnected")
    last_internet_connected: Bool = Field(default=None, alias="lastInternetConnected")
    iface_network_info: InterfaceInfo | None = None


class Networks(RootModel[Annotated[tuple[Network, ...], NULL_AS_EMPTY]]):
    model_config = ConfigDict(frozen=True)


# --- the registry and decode ---------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)
M_co = TypeVar("M_co", bound=BaseModel, covariant=True)


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[M_co]):
    """A read endpoint: its path, the model of its body, and its name in `GatewaySnapshot`."""

    path: str
    model: type[M_co]
    name: str

    def decode(self, body: bytes) -> M_co:
        return decode_as(self.model, self.path, body)


STATUS = Endpoint("/api/status", Status, "status")
AGGREGATES = Endpoint("/api/meters/aggregates", Aggregates, "aggregates")
SOE = Endpoint("/api/system_status/soe", Soe, "soe")
GRID_STATUS = Endpoint("/api/system_status/grid_status", SystemGridStatus, "grid_status")
SYSTEM_STATUS = Endpoint("/api/system_status", SystemStatus, "system_status")
GRID_FAULTS = Endpoint("/api/system_status/grid_faults", GridFaults, "grid_faults")
SITEMASTER = Endpoint("/api/sitemaster", Sitemaster, "sitemaster")
OPERATION = Endpoint("/api/operation", Operation, "operation")
SITE_INFO = Endpoint("/api/site_info", SiteInfo, "site_info")
SITE_NAME = Endpoint("/api/site_info/site_name", SiteName, "site_name")
POWERWALLS = Endpoint("/api/powerwalls", Powerwalls, "powerwalls")
SOLAR_POWERWALL = Endpoint("/api/solar_powerwall", SolarPowerwall, "solar_powerwall")
METERS_SITE = Endpoint("/api/meters/site", Meters, "meters_site")
METERS_SOLAR = Endpoint("/api/meters/solar", Meters, "meters_solar")
UPDATE_STATUS = Endpoint("/api/system/update/status", UpdateStatus, "update_status")
NETWORKS = Endpoint("/api/networks", Networks, "networks")

READ_ENDPOINTS: Mapping[str, Endpoint[BaseModel]] = {
    endpoint.path: endpoint
    for endpoint in (
        STATUS,
        AGGREGATES,
        SOE,
        GRID_STATUS,
        SYSTEM_STATUS,
        GRID_FAULTS,
        SITEMASTER,
        OPERATION,
        SITE_INFO,
        SITE_NAME,
        POWERWALLS,
        SOLAR_POWERWALL,
        METERS_SITE,
        METERS_SOLAR,
        UPDATE_STATUS,
        NETWORKS,
    )
}

_MAX_MESSAGE = 200


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _validation_summary(error: ValidationError) -> str:
    problems = error.errors(include_url=False, include_input=False, include_context=False)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    if len(where) > 80:
        where = f"{where[:40]}...{where[-36:]}"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    text = first["msg"].removeprefix("Value error, ")
    return f"unexpected content at {where}: {text}{more}"


def decode_as(model: type[M], path: str, body: bytes) -> M:
    """Parse a JSON body and validate it into `model`; any failure is a `GatewayResponseError`."""
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        message = "the JSON body is nested too deeply"
    except UnicodeDecodeError as exc:
        message = f"the body is not UTF-8 (byte {exc.start})"
    except ValueError as exc:  # json.JSONDecodeError, NaN/Infinity, an over-long integer
        message = f"the body is not valid JSON: {exc}"
    else:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            message = _validation_summary(exc)
        except RecursionError:
            message = "the JSON body is nested too deeply"
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    raise GatewayResponseError(endpoint=path, message=message)


def decode(path: str, body: bytes) -> BaseModel:
    """Decode the body of a read endpoint known by path (see `READ_ENDPOINTS`)."""
    endpoint = READ_ENDPOINTS.get(path)
    if endpoint is None:
        raise KeyError(f"not a modelled read endpoint: {path}")
    return endpoint.decode(body)
