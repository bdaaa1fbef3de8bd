"""Per-device detail from `/api/devices/vitals`: the protobuf body, decoded into frozen dataclasses.

Gateways before firmware 23.44 answer `GET /api/devices/vitals` with a protobuf message (see
`proto/tesla_vitals.proto`): every device the site controller talks to (the gateway itself, each
Powerwall's thermal controller, battery pod and inverter, a Powerwall+'s PV inverter and its
rapid-shutdown unit, the synchronizer, meters) with its identity, its named readings ("vitals")
and its active alerts. Newer firmware answers 404, which the client reports as
`EndpointUnsupportedError`.

This is the only module that imports the generated protobuf code. `decode_vitals` turns a body
into `DeviceVitals` at once, so no protobuf type leaves this module; `encode_vitals` is the
inverse, for the simulator. Malformed, truncated or empty bodies raise `GatewayResponseError`.

The raw readings stay available by their Tesla names in `Device.vitals`; the typed views
(`DeviceVitals.pv_inverters`, `.battery_pods`, ...) name the useful ones with units:

- Watts, volts, amps, hertz, watt-hours and degrees Celsius throughout. The one conversion is
  the battery inverter's `PINV_Pout`/`PINV_Qout`, which the gateway reports in kW/kvar (an idle
  Powerwall shows -0.54 while its PV inverter shows 1960 W): the views give W/var.
- Values a device did not send are None. Non-finite floats are dropped on decoding.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from types import MappingProxyType
from typing import Final, Literal, Protocol

from google.protobuf.message import DecodeError

from pw2mqtt.errors import GatewayResponseError
from pw2mqtt.gateway._proto import tesla_vitals_pb2 as pb

VITALS_PATH: Final = "/api/devices/vitals"

VitalValue = int | float | str | bool
"""One reading: the protobuf one-of of int64, double, string and bool."""

ECU_TYPES: Final[Mapping[int, str]] = MappingProxyType(
    {
        207: "STSTSM",  # the gateway's site controller
        224: "TETHC",  # a Powerwall's thermal (and home) controller
        226: "TEPOD",  # a Powerwall's battery pod
        253: "TEPINV",  # a Powerwall's battery inverter
        259: "TESYNC",  # the synchronizer / islanding contactor and its meters (Gateway 2)
        296: "PVAC",  # a Powerwall+'s PV inverter
        297: "PVS",  # a Powerwall+'s PV rapid-shutdown / string switch
        300: "TEMSA",  # the backup switch
    }
)

GATEWAY: Final = "STSTSM"
THERMAL_CONTROLLER: Final = "TETHC"
BATTERY_POD: Final = "TEPOD"
BATTERY_INVERTER: Final = "TEPINV"
SYNCHRONIZER: Final = "TESYNC"
PV_INVERTER: Final = "PVAC"
PV_SHUTDOWN: Final = "PVS"
BACKUP_SWITCH: Final = "TEMSA"
NEURIO: Final = "NEURIO"

_MAX_MESSAGE = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ALERT_CODE = re.compile(r"[A-Za-z]+_([afw])[0-9]+(?:_|$)")
_PV_STRING = re.compile(r"PVAC_(?:PvState|PVMeasuredVoltage|PVCurrent|PVMeasuredPower)_([A-Z])")
_CT_METER = re.compile(r"(METER_[A-Z])_CT([A-Z])_(?:InstRealPower|InstReactivePower|I)")
_NEURIO_CT = re.compile(r"NEURIO_CT([0-9]+)_[A-Za-z]+")
_PHASES: Final = ("L1", "L2", "L3")

Severity = Literal["fault", "warning", "alert", "info"]
_SEVERITY_CODES: Final[Mapping[str, Severity]] = MappingProxyType(
    {"f": "fault", "w": "warning", "a": "alert"}
)


# --- the model -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Alert:
    """One active alert of one device.

    `severity` reads the code in component alerts (`POD_f029_…` fault, `POD_w110_…` warning,
    `PINV_a067_…` alert); a gateway-level name without a code is a fault when it says so
    (`BatteryFault`) and "info" otherwise (`SystemConnectedToGrid`, `FWUpdateSucceeded`, ...).
    """

    din: str
    name: str

    @property
    def severity(self) -> Severity:
        match = _ALERT_CODE.match(self.name)
        if match is not None:
            return _SEVERITY_CODES[match[1]]
        return "fault" if "Fault" in self.name else "info"

    @property
    def is_fault(self) -> bool:
        return self.severity == "fault"


@dataclass(frozen=True, slots=True)
class Device:
    """One device as the gateway reports it. `vitals` maps Tesla's reading names to values."""

    din: str  # "TEPOD--1081100-13-V--T0000000000": the key of the device
    ecu_type: int | None = None  # None for devices without Tesla ECU attributes (meters, ...)
    part_number: str | None = None
    serial_number: str | None = None
    manufacturer: str | None = None
    firmware_version: str | None = None
    parent_din: str | None = None  # the device it hangs off (a pod's thermal controller, ...)
    site_label: str | None = None
    last_communication: datetime | None = None  # UTC
    nameplate_power_w: int | None = None  # a PV inverter's nameplate real power
    meter_locations: tuple[int, ...] = ()  # a meter's location codes (1 site, 5 solar RGM, ...)
    address: str | None = None  # how the gateway reaches it, if it says (a Neurio's host name)
    vitals: Mapping[str, VitalValue] = field(default_factory=lambda: MappingProxyType({}))
    alerts: tuple[str, ...] = ()  # as sent: may repeat a name

    def __post_init__(self) -> None:
        if not isinstance(self.vitals, MappingProxyType):
            object.__setattr__(self, "vitals", MappingProxyType(dict(self.vitals)))

    @property
    def kind(self) -> str:
        """ "STSTSM", "TETHC", "TEPOD", ... from the ECU type (`ECU_<n>` when unknown); for a
        device without one, the DIN's prefix ("NEURIO", "TESLA"), else "UNKNOWN"."""
        if self.ecu_type is not None:
            return ECU_TYPES.get(self.ecu_type, f"ECU_{self.ecu_type}")
        prefix, sep, _rest = self.din.partition("--")
        return prefix if sep and prefix else "UNKNOWN"

    def number(self, name: str) -> float | None:
        """A numeric reading as a float (bools and text are not numbers)."""
        value = self.vitals.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    def text(self, name: str) -> str | None:
        value = self.vitals.get(name)
        return value if isinstance(value, str) else None

    def flag(self, name: str) -> bool | None:
        value = self.vitals.get(name)
        return value if isinstance(value, bool) else None


# --- typed views for the MQTT side ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PvString:
    """One PV string (A, B, ...) of a PV inverter; `connected` comes from its PVS, if any."""

    name: str
    state: str | None  # "PV_Active", "PV_Active_Parallel", "PV_Disabled", ...
    voltage_v: float | None
    current_a: float | None
    power_w: float | None
    connected: bool | None


@dataclass(frozen=True, slots=True)
class PvInverter:
    """A Powerwall+'s PV inverter (PVAC) and its strings."""

    din: str
    state: str | None  # "PVAC_Active", ...
    grid_state: str | None  # "Grid_Compliant", ...
    inverter_state: str | None  # "INV_Grid_Connected", ...
    power_w: float | None
    reactive_power_var: float | None
    voltage_v: float | None
    frequency_hz: float | None
    current_a: float | None
    lifetime_energy_wh: float | None
    strings: tuple[PvString, ...]
    shutdown_state: str | None  # its PVS: "PVS_Active", ...
    alerts: tuple[str, ...]  # the PVAC's and its PVS's


@dataclass(frozen=True, slots=True)
class BatteryInverter:
    """A Powerwall's battery inverter (TEPINV). Power > 0 discharges, as everywhere."""

    din: str
    state: str | None  # "PINV_GridFollowing", "PINV_GridForming", ...
    grid_state: str | None
    power_w: float | None  # from PINV_Pout (kW)
    reactive_power_var: float | None  # from PINV_Qout (kvar)
    voltage_v: float | None
    frequency_hz: float | None
    voltage_l1_v: float | None  # PINV_VSplit1: the split-phase halves
    voltage_l2_v: float | None
    energy_charged_wh: float | None
    energy_discharged_wh: float | None
    power_limiter: str | None  # "PWRLIM_POD_Power_Limit", "PWRLIM_No_Power_Limit", ...
    ready_for_grid_forming: bool | None
    alerts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BatteryPod:
    """A Powerwall's battery pod (TEPOD): energy and the power limits of the moment."""

    din: str
    state: str | None  # "POD_ACTIVE", ...
    energy_remaining_wh: float | None
    full_pack_energy_wh: float | None
    energy_to_be_charged_wh: float | None
    available_charge_power_w: float | None
    available_discharge_power_w: float | None
    charge_complete: bool | None
    discharge_complete: bool | None
    active_heating: bool | None
    persistently_faulted: bool | None
    permanently_faulted: bool | None
    alerts: tuple[str, ...]

    @property
    def percentage(self) -> float | None:
        """Remaining over full-pack energy, in %, or None when either is missing or 0."""
        if self.energy_remaining_wh is None or not self.full_pack_energy_wh:
            return None
        return self.energy_remaining_wh / self.full_pack_energy_wh * 100.0


@dataclass(frozen=True, slots=True)
class Temperature:
    """Any reading whose name says it is a temperature (`THC_AmbientTemp`, ...), in °C."""

    din: str
    kind: str
    name: str
    celsius: float


@dataclass(frozen=True, slots=True)
class GridPhase:
    """One phase at the synchronizer: the grid (main) side and the home (load) side."""

    phase: str  # "L1", "L2", "L3"
    main_voltage_v: float | None
    load_voltage_v: float | None
    main_frequency_hz: float | None
    load_frequency_hz: float | None
    microgrid_ok: bool | None


@dataclass(frozen=True, slots=True)
class Synchronizer:
    """The synchronizer (TESYNC): grid state as the islanding contactor sees it."""

    din: str
    grid_state: str | None  # "ISLAND_GridState_Grid_Compliant", ...
    grid_connected: bool | None
    ready_for_synchronization: bool | None
    externally_powered: bool | None
    site_switch_enabled: bool | None
    phases: tuple[GridPhase, ...]
    alerts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CtReading:
    """One current transformer of a meter."""

    ct: str  # "A", "B", "C" on METER_X/METER_Y; "0", "1", ... on a Neurio
    real_power_w: float | None
    reactive_power_var: float | None
    current_a: float | None
    location: str | None  # Neurio only: "solarRGM", "solar", "site", ...


@dataclass(frozen=True, slots=True)
class MeterVitals:
    """A meter's readings: METER_X / METER_Y inside the synchronizer, or a Neurio's CTs."""

    din: str
    meter: str  # "METER_X", "METER_Y", "NEURIO"
    cts: tuple[CtReading, ...]
    phase_voltages_v: Mapping[str, float]  # "L1" -> V, for the phases it reports
    energy_imported_wh: float | None
    energy_exported_wh: float | None

    @property
    def real_power_w(self) -> float | None:
        powers = [ct.real_power_w for ct in self.cts if ct.real_power_w is not None]
        return math.fsum(powers) if powers else None


@dataclass(frozen=True)
class DeviceVitals:
    """Everything one `/api/devices/vitals` body says, device by device, in the order sent.

    The typed views are worked out once per body and kept: the bridge reads them on every poll,
    while the body itself changes only on the detail tier."""

    devices: tuple[Device, ...]

    def device(self, din: str) -> Device | None:
        return next((device for device in self.devices if device.din == din), None)

    def of_kind(self, *kinds: str) -> tuple[Device, ...]:
        return tuple(device for device in self.devices if device.kind in kinds)

    def children_of(self, din: str) -> tuple[Device, ...]:
        return tuple(device for device in self.devices if device.parent_din == din)

    @cached_property
    def gateway(self) -> Device | None:
        return next(iter(self.of_kind(GATEWAY)), None)

    @cached_property
    def alerts(self) -> tuple[Alert, ...]:
        """Every active alert, device by device; a name repeated by one device counts once."""
        return tuple(
            Alert(device.din, name)
            for device in self.devices
            for name in dict.fromkeys(device.alerts)
        )

    @cached_property
    def alert_names(self) -> tuple[str, ...]:
        """The distinct names of the active alerts, sorted: what an "alerts" sensor shows."""
        return tuple(sorted({alert.name for alert in self.alerts}))

    @cached_property
    def has_fault(self) -> bool:
        return any(alert.is_fault for alert in self.alerts)

    @cached_property
    def pv_inverters(self) -> tuple[PvInverter, ...]:
        return tuple(
            _pv_inverter(pvac, self.children_of(pvac.din)) for pvac in self._kind(PV_INVERTER)
        )

    @cached_property
    def battery_inverters(self) -> tuple[BatteryInverter, ...]:
        return tuple(_battery_inverter(device) for device in self._kind(BATTERY_INVERTER))

    @cached_property
    def battery_pods(self) -> tuple[BatteryPod, ...]:
        return tuple(_battery_pod(device) for device in self._kind(BATTERY_POD))

    @cached_property
    def synchronizer(self) -> Synchronizer | None:
        found = self._kind(SYNCHRONIZER)
        return _synchronizer(found[0]) if found else None

    @cached_property
    def temperatures(self) -> tuple[Temperature, ...]:
        return tuple(
            Temperature(device.din, device.kind, name, value)
            for device in self.devices
            for name in device.vitals
            if "Temp" in name and (value := device.number(name)) is not None
        )

    @cached_property
    def meters(self) -> tuple[MeterVitals, ...]:
        found: list[MeterVitals] = []
        for device in self.devices:
            found.extend(_meters(device))
        return tuple(found)

    def _kind(self, kind: str) -> tuple[Device, ...]:
        return self.of_kind(kind)


def _pv_inverter(pvac: Device, children: Iterable[Device]) -> PvInverter:
    pvs = next((child for child in children if child.kind == PV_SHUTDOWN), None)
    letters = sorted({m[1] for name in pvac.vitals if (m := _PV_STRING.fullmatch(name))})
    strings = tuple(
        PvString(
            name=letter,
            state=pvac.text(f"PVAC_PvState_{letter}"),
            voltage_v=pvac.number(f"PVAC_PVMeasuredVoltage_{letter}"),
            current_a=pvac.number(f"PVAC_PVCurrent_{letter}"),
            power_w=pvac.number(f"PVAC_PVMeasuredPower_{letter}"),
            connected=None if pvs is None else pvs.flag(f"PVS_String{letter}_Connected"),
        )
        for letter in letters
    )
    return PvInverter(
        din=pvac.din,
        state=pvac.text("PVAC_State"),
        grid_state=pvac.text("PVAC_GridState"),
        inverter_state=pvac.text("PVAC_InvState"),
        power_w=pvac.number("PVAC_Pout"),
        reactive_power_var=pvac.number("PVAC_Qout"),
        voltage_v=pvac.number("PVAC_Vout"),
        frequency_hz=pvac.number("PVAC_Fout"),
        current_a=pvac.number("PVAC_Iout"),
        lifetime_energy_wh=pvac.number("PVAC_LifetimeEnergyPV_Total"),
        strings=strings,
        shutdown_state=None if pvs is None else pvs.text("PVS_State"),
        alerts=tuple(dict.fromkeys((*pvac.alerts, *(pvs.alerts if pvs else ())))),
    )


def _kilo(value: float | None) -> float | None:
    return None if value is None else value * 1000.0


def _battery_inverter(device: Device) -> BatteryInverter:
    return BatteryInverter(
        din=device.din,
        state=device.text("PINV_State"),
        grid_state=device.text("PINV_GridState"),
        power_w=_kilo(device.number("PINV_Pout")),
        reactive_power_var=_kilo(device.number("PINV_Qout")),
        voltage_v=device.number("PINV_Vout"),
        frequency_hz=device.number("PINV_Fout"),
        voltage_l1_v=device.number("PINV_VSplit1"),
        voltage_l2_v=device.number("PINV_VSplit2"),
        energy_charged_wh=device.number("PINV_EnergyCharged"),
        energy_discharged_wh=device.number("PINV_EnergyDischarged"),
        power_limiter=device.text("PINV_PowerLimiter"),
        ready_for_grid_forming=device.flag("PINV_ReadyForGridForming"),
        alerts=tuple(dict.fromkeys(device.alerts)),
    )


def _battery_pod(device: Device) -> BatteryPod:
    return BatteryPod(
        din=device.din,
        state=device.text("POD_state"),
        energy_remaining_wh=device.number("POD_nom_energy_remaining"),
        full_pack_energy_wh=device.number("POD_nom_full_pack_energy"),
        energy_to_be_charged_wh=device.number("POD_nom_energy_to_be_charged"),
        available_charge_power_w=device.number("POD_available_charge_power"),
        available_discharge_power_w=device.number("POD_available_dischg_power"),
        charge_complete=device.flag("POD_ChargeComplete"),
        discharge_complete=device.flag("POD_DischargeComplete"),
        active_heating=device.flag("POD_ActiveHeating"),
        persistently_faulted=device.flag("POD_PersistentlyFaulted"),
        permanently_faulted=device.flag("POD_PermanentlyFaulted"),
        alerts=tuple(dict.fromkeys(device.alerts)),
    )


def _synchronizer(device: Device) -> Synchronizer:
    phases = tuple(
        GridPhase(
            phase=phase,
            main_voltage_v=device.number(f"ISLAND_V{phase}N_Main"),
            load_voltage_v=device.number(f"ISLAND_V{phase}N_Load"),
            main_frequency_hz=device.number(f"ISLAND_Freq{phase}_Main"),
            load_frequency_hz=device.number(f"ISLAND_Freq{phase}_Load"),
            microgrid_ok=device.flag(f"ISLAND_{phase}MicrogridOk"),
        )
        for phase in _PHASES
        if any(
            name.startswith((f"ISLAND_V{phase}N", f"ISLAND_Freq{phase}")) for name in device.vitals
        )
    )
    return Synchronizer(
        din=device.din,
        grid_state=device.text("ISLAND_GridState"),
        grid_connected=device.flag("ISLAND_GridConnected"),
        ready_for_synchronization=device.flag("ISLAND_ReadyForSynchronization"),
        externally_powered=device.flag("SYNC_ExternallyPowered"),
        site_switch_enabled=device.flag("SYNC_SiteSwitchEnabled"),
        phases=phases,
        alerts=tuple(dict.fromkeys(device.alerts)),
    )


def _meters(device: Device) -> list[MeterVitals]:
    found: list[MeterVitals] = []
    groups: dict[str, set[str]] = {}
    for name in device.vitals:
        if match := _CT_METER.fullmatch(name):
            groups.setdefault(match[1], set()).add(match[2])
        elif match := _NEURIO_CT.fullmatch(name):
            groups.setdefault(NEURIO, set()).add(match[1])
    for meter, cts in groups.items():
        if meter == NEURIO:
            readings = tuple(
                CtReading(
                    ct=ct,
                    real_power_w=device.number(f"NEURIO_CT{ct}_InstRealPower"),
                    reactive_power_var=device.number(f"NEURIO_CT{ct}_InstReactivePower"),
                    current_a=device.number(f"NEURIO_CT{ct}_I"),
                    location=device.text(f"NEURIO_CT{ct}_Location"),
                )
                for ct in sorted(cts, key=lambda digits: (len(digits), digits))
            )
            voltages: dict[str, float] = {}
            imported = exported = None
        else:
            readings = tuple(
                CtReading(
                    ct=ct,
                    real_power_w=device.number(f"{meter}_CT{ct}_InstRealPower"),
                    reactive_power_var=device.number(f"{meter}_CT{ct}_InstReactivePower"),
                    current_a=device.number(f"{meter}_CT{ct}_I"),
                    location=None,
                )
                for ct in sorted(cts)
            )
            voltages = {
                phase: volts
                for phase in _PHASES
                if (volts := device.number(f"{meter}_V{phase}N")) is not None
            }
            imported = device.number(f"{meter}_LifetimeEnergyImport")
            exported = device.number(f"{meter}_LifetimeEnergyExport")
        found.append(
            MeterVitals(
                din=device.din,
                meter=meter,
                cts=readings,
                phase_voltages_v=MappingProxyType(voltages),
                energy_imported_wh=imported,
                energy_exported_wh=exported,
            )
        )
    return found


# --- decoding ------------------------------------------------------------------------------------


class _Requester(Protocol):
    async def request(self, method: str, path: str) -> bytes: ...


async def read_vitals(client: _Requester) -> DeviceVitals:
    """GET and decode the vitals. A gateway without them raises `EndpointUnsupportedError` (404),
    which the client remembers like any other unsupported endpoint."""
    return decode_vitals(await client.request("GET", VITALS_PATH))


def _fail(message: str) -> GatewayResponseError:
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return GatewayResponseError(endpoint=VITALS_PATH, message=message)


def decode_vitals(body: bytes) -> DeviceVitals:
    """Decode a `/api/devices/vitals` body. Any failure is a `GatewayResponseError`.

    Devices without a DIN are left out, and a DIN seen twice keeps its first record; vitals
    without a name or a value, and non-finite floats, are left out. A body holding no device at
    all (an empty body, or bytes that happen to parse as an empty message) is an error: a real
    gateway always lists at least itself.
    """
    if not body:
        raise _fail("the body is empty")
    message = pb.DevicesWithVitals()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise _fail(f"the body is not a vitals protobuf message ({exc})") from None
    except (ValueError, RecursionError, OverflowError) as exc:  # defensive: other parser failures
        raise _fail(f"the body could not be parsed ({type(exc).__name__})") from None
    devices = _devices(message)
    if not devices:
        raise _fail("the body lists no devices")
    return DeviceVitals(devices=devices)


def _devices(message: pb.DevicesWithVitals) -> tuple[Device, ...]:
    seen: dict[str, Device] = {}
    for entry in message.devices:
        device = _device(entry)
        if device is not None and device.din not in seen:
            seen[device.din] = device
    return tuple(seen.values())


def _text(container: pb.Device | pb.Connection, name: str) -> str | None:
    if not container.HasField(name):
        return None
    value: str = getattr(container, name).value
    return value or None


def _device(entry: pb.DeviceWithVitals) -> Device | None:
    device = entry.device.device
    din = device.din.value
    if not din:
        return None
    ecu_type: int | None = None
    nameplate: int | None = None
    locations: tuple[int, ...] = ()
    attributes = device.attributes
    kind = attributes.WhichOneof("kind")
    if kind == "ecu":
        ecu = attributes.ecu
        ecu_type = ecu.ecu_type
        if ecu.HasField("inverter"):
            nameplate = ecu.inverter.nameplate_real_power_w
        locations = tuple(ecu.meter.meter_location)
    elif kind == "inverter":
        nameplate = attributes.inverter.nameplate_real_power_w
    elif kind == "generator":
        nameplate = attributes.generator.nameplate_real_power_w
    elif kind == "meter":
        locations = tuple(attributes.meter.meter_location)
    last = _instant(device.last_seen) if device.HasField("last_seen") else None
    return Device(
        din=din,
        ecu_type=ecu_type,
        part_number=_text(device, "part_number"),
        serial_number=_text(device, "serial_number"),
        manufacturer=_text(device, "manufacturer"),
        firmware_version=_text(device, "firmware_version"),
        parent_din=_text(device, "parent_din"),
        site_label=_text(device, "site_label"),
        last_communication=last,
        nameplate_power_w=nameplate,
        meter_locations=locations,
        address=_text(device.connection, "ip_address") if device.HasField("connection") else None,
        vitals=MappingProxyType(_vitals(entry.vitals)),
        alerts=tuple(sys.intern(alert) for alert in entry.alerts),
    )


def _instant(stamp: pb.Instant) -> datetime | None:
    """The UTC time of a timestamp, or None when it lies outside what datetime can hold."""
    try:
        return _EPOCH + timedelta(seconds=stamp.seconds, microseconds=stamp.nanos // 1000)
    except OverflowError:
        return None


def _vitals(vitals: Iterable[pb.Vital]) -> dict[str, VitalValue]:
    found: dict[str, VitalValue] = {}
    for vital in vitals:
        which = vital.WhichOneof("value")
        if not vital.HasField("name") or not vital.name or which is None:
            continue
        value: VitalValue = getattr(vital, which)
        if isinstance(value, float) and not math.isfinite(value):
            continue
        # Every read repeats the same few hundred names: interned, a thousand gateways share
        # one copy of each instead of holding their own (mortal: a name nobody uses goes).
        found[sys.intern(vital.name)] = value
    return found


# --- encoding (the simulator's side) -------------------------------------------------------------


def encode_vitals(vitals: DeviceVitals) -> bytes:
    """The protobuf body a gateway would send for these devices (`decode_vitals`'s inverse)."""
    message = pb.DevicesWithVitals()
    for device in vitals.devices:
        entry = message.devices.add()
        _fill_device(entry.device.device, device)
        for name, value in device.vitals.items():
            vital = entry.vitals.add(name=name)
            if isinstance(value, bool):
                vital.bool_value = value
            elif isinstance(value, int):
                vital.int_value = value
            elif isinstance(value, float):
                vital.float_value = value
            else:
                vital.string_value = value
        entry.alerts.extend(device.alerts)
    return message.SerializeToString(deterministic=True)


def _fill_device(target: pb.Device, device: Device) -> None:
    target.din.value = device.din
    for name, value in (
        ("part_number", device.part_number),
        ("serial_number", device.serial_number),
        ("manufacturer", device.manufacturer),
        ("site_label", device.site_label),
        ("parent_din", device.parent_din),
        ("firmware_version", device.firmware_version),
    ):
        if value is not None:
            getattr(target, name).value = value
    if device.last_communication is not None:
        delta = device.last_communication - _EPOCH
        target.last_seen.seconds = delta.days * 86_400 + delta.seconds
        target.last_seen.nanos = delta.microseconds * 1000
    if device.address is not None:
        target.connection.ip_address.value = device.address
    attributes = target.attributes
    if device.ecu_type is not None:
        attributes.ecu.ecu_type = device.ecu_type
        if device.nameplate_power_w is not None:
            attributes.ecu.inverter.nameplate_real_power_w = device.nameplate_power_w
        if device.meter_locations:
            attributes.ecu.meter.meter_location.extend(device.meter_locations)
    elif device.nameplate_power_w is not None:
        attributes.inverter.nameplate_real_power_w = device.nameplate_power_w
    elif device.meter_locations:
        attributes.meter.meter_location.extend(device.meter_locations)
