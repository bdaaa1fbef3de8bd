"""The `/api/devices/vitals` body of the old-firmware profiles, built from the site state.

The devices follow the real 23.36 capture: the gateway (STSTSM) with its alerts; per Powerwall a
thermal controller (TETHC) whose part and serial number are the battery block's
`PackagePartNumber`/`PackageSerialNumber`, a battery pod (TEPOD) and a battery inverter
(TEPINV); a PV inverter (PVAC) with four strings and its rapid-shutdown unit (PVS) under the
first Powerwall; the synchronizer (TESYNC) with the site meter's CTs (METER_X); the site meter
and a Neurio solar meter. Every value agrees with the JSON endpoints at the same instant: the
values are read from the same payload builders (battery blocks of `/api/system_status`, the
meters of `/api/meters/aggregates`), and the PV string powers add up to the solar power.

Encoding goes through `pw2mqtt.gateway.vitals.encode_vitals`, so the gateway side's module stays
the only one that touches the generated protobuf code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pw2mqtt.gateway.rest.vitals import Device, DeviceVitals, VitalValue, encode_vitals
from pw2mqtt.simulator import payloads
from pw2mqtt.simulator.payloads import Identity
from pw2mqtt.simulator.profiles import Profile
from pw2mqtt.simulator.site import CONNECTED, ISLANDED, TO_GRID, TO_ISLAND, SiteState
from pw2mqtt.simulator.weather import smooth_noise

GATEWAY_PART = "1232100-00-E"
POD_PART = "1081100-10-U"
PV_PART = "1538100-00-F"
SYNC_PART = "1493315-01-F"
STRINGS = ("A", "B", "C", "D")
STRING_CONNECTED = (True, True, True, False)  # as /api/solar_powerwall reports them
PV_NAMEPLATE_W = 7680


def vitals_body(profile: Profile, ident: Identity, state: SiteState) -> bytes:
    return encode_vitals(site_vitals(profile, ident, state))


def site_vitals(profile: Profile, ident: Identity, state: SiteState) -> DeviceVitals:
    gateway_din = f"STSTSM--{ident.din}"
    device = _DeviceMaker(
        firmware=profile.git_hash[:14],
        parent=gateway_din,
        stamp=datetime.fromtimestamp(math.floor(state.time), UTC),
    )
    blocks = payloads.system_status(profile, ident, state, [])["battery_blocks"]
    meters = payloads.aggregates(profile, ident, state)
    gateway = device(
        gateway_din,
        207,
        part_number=GATEWAY_PART,
        serial_number=ident.serial,
        parent_din=None,
        firmware_version=f"{profile.version.split()[0]}-g{profile.git_hash[:10]}",
        vitals={"STSTSM-Location": "Gateway"},
        alerts=_gateway_alerts(state),
    )
    batteries = _battery_devices(device, ident, state, blocks)
    first_thermal = next((d.din for d in batteries if d.ecu_type == 224), None)
    solar_power = float(meters["solar"]["instant_power"])
    solar = _solar_devices(device, ident, state, solar_power, first_thermal)
    meter_devices = _meter_devices(
        device, profile, ident, state, meters["site"], solar_power=solar_power
    )
    return DeviceVitals(devices=(gateway, *batteries, *solar, *meter_devices))


@dataclass(frozen=True, slots=True)
class _DeviceMaker:
    """Makes the devices of one gateway, with the defaults they share."""

    firmware: str
    parent: str
    stamp: datetime

    def __call__(self, din: str, ecu_type: int | None, **kwargs: Any) -> Device:
        defaults: dict[str, Any] = {
            "manufacturer": "TESLA",
            "firmware_version": self.firmware,
            "parent_din": self.parent,
            "last_communication": self.stamp,
        }
        return Device(din=din, ecu_type=ecu_type, **{**defaults, **kwargs})


def _battery_devices(
    device: _DeviceMaker, ident: Identity, state: SiteState, blocks: list[dict[str, Any]]
) -> list[Device]:
    """Each Powerwall: its thermal controller, its battery pod and its inverter."""
    devices = []
    for index, block in enumerate(blocks):
        part, serial = block["PackagePartNumber"], block["PackageSerialNumber"]
        thc_din = f"TETHC--{part}--{serial}"
        pod_serial = f"T{_digits(ident.din, 20 + index)[:10]}"
        ambient = _temperature(ident, state, index, float(block["p_out"]))
        devices.append(
            device(
                thc_din,
                224,
                part_number=part,
                serial_number=serial,
                vitals={"THC_State": "THC_STATE_AUTONOMOUSCONTROL", "THC_AmbientTemp": ambient},
            )
        )
        for prefix, ecu_type, vitals in (
            ("TEPOD", 226, _pod(block, state)),
            ("TEPINV", 253, _inverter(block, state)),
        ):
            devices.append(
                device(
                    f"{prefix}--{POD_PART}--{pod_serial}",
                    ecu_type,
                    part_number=POD_PART,
                    serial_number=pod_serial,
                    parent_din=thc_din,
                    vitals=vitals,
                )
            )
    return devices


def _solar_devices(
    device: _DeviceMaker,
    ident: Identity,
    state: SiteState,
    solar_power: float,
    thermal_din: str | None,
) -> list[Device]:
    """The Powerwall+'s solar inverter and its string monitor, under the first Powerwall."""
    if thermal_din is None:
        return []
    pv_serial = f"CN{_digits(ident.din, 30)[:12]}"
    pvac_din = f"PVAC--{PV_PART}--{pv_serial}"
    return [
        device(
            pvac_din,
            296,
            part_number=PV_PART,
            serial_number=pv_serial,
            parent_din=thermal_din,
            vitals=_pvac(ident, state, solar_power),
        ),
        device(
            f"PVS--{PV_PART}--{pv_serial}",
            297,
            part_number=PV_PART,
            serial_number=pv_serial,
            parent_din=pvac_din,
            vitals=_pvs(ident, state, solar_power),
        ),
    ]


def _meter_devices(
    device: _DeviceMaker,
    profile: Profile,
    ident: Identity,
    state: SiteState,
    site_meter: dict[str, Any],
    *,
    solar_power: float,
) -> list[Device]:
    """The synchronizer, its site meter, and the Neurio meter on the solar circuit."""
    sync_serial = f"JBL{_digits(ident.din, 11)[:11]}"
    solar_meter = payloads.meter_list(profile, ident, state, "solar")[0]
    neurio_serial = str(solar_meter["connection"]["device_serial"])  # as /api/meters/solar has it
    return [
        device(
            f"TESYNC--{SYNC_PART}--{sync_serial}",
            259,
            part_number=SYNC_PART,
            serial_number=sync_serial,
            vitals=_synchronizer(ident, state, site_meter),
        ),
        device(
            f"TESLA--{sync_serial}",
            None,
            serial_number=sync_serial,
            firmware_version=None,
            meter_locations=(1,),
        ),
        device(
            f"NEURIO--{neurio_serial}",
            None,
            serial_number=neurio_serial,
            manufacturer="NEURIO",
            firmware_version="1.7.1-Tesla",
            meter_locations=(5,),
            vitals={
                "NEURIO_CT0_Location": "solarRGM",
                "NEURIO_CT0_InstRealPower": solar_power,
            },
        ),
    ]


def _digits(text: str, index: int) -> str:
    """Twelve digits that stand for a serial number, fixed by the DIN and an index."""
    return f"{(sum(map(ord, text)) * 6007 + index * 130_363) % 10**12:012d}"


def _gateway_alerts(state: SiteState) -> tuple[str, ...]:
    alerts = ["GridCodesWrite", "FWUpdateSucceeded"]
    if state.grid_status == CONNECTED:
        alerts.append("SystemConnectedToGrid")
    elif state.outage:
        alerts.append("UnscheduledIslandContactorOpen")  # the grid went away
    elif state.grid_status in (ISLANDED, TO_ISLAND, TO_GRID):
        alerts.append("ScheduledIslandContactorOpen")  # taken off grid on purpose
    return tuple(alerts)


def _temperature(ident: Identity, state: SiteState, index: int, p_out: float) -> float:
    """An enclosure temperature: 18 °C, a slow drift, and a little warmth from the inverter."""
    drift = 2.0 * smooth_noise(ident.seed, 60 + index, state.time, 1800.0)
    return round(18.0 + drift + abs(p_out) / 1000.0, 1)


def _pod(block: dict[str, Any], state: SiteState) -> dict[str, VitalValue]:
    remaining = float(block["nominal_energy_remaining"])
    full = float(block["nominal_full_pack_energy"])
    per_max = 5000.0  # the simulated Powerwall's charge and discharge limit
    return {
        "POD_nom_energy_to_be_charged": max(0.0, full - remaining),
        "POD_nom_energy_remaining": remaining,
        "POD_nom_full_pack_energy": full,
        "POD_available_charge_power": per_max if remaining < full else 0.0,
        "POD_available_dischg_power": per_max if remaining > 0 else 0.0,
        "POD_state": "POD_ACTIVE" if state.sitemaster_running else "POD_STANDBY",
        "POD_enable_line": True,
        "POD_ChargeComplete": remaining >= full,
        "POD_DischargeComplete": remaining <= 0,
        "POD_PersistentlyFaulted": False,
        "POD_PermanentlyFaulted": False,
        "POD_ChargeRequest": False,
        "POD_ActiveHeating": False,
        "POD_CCVhold": False,
    }


def _inverter(block: dict[str, Any], state: SiteState) -> dict[str, VitalValue]:
    v_out = float(block["v_out"])
    full = block["nominal_energy_remaining"] >= block["nominal_full_pack_energy"]
    empty = block["nominal_energy_remaining"] <= 0
    return {
        "PINV_EnergyDischarged": float(block["energy_discharged"]),
        "PINV_EnergyCharged": float(block["energy_charged"]),
        "PINV_VSplit1": round(v_out / 2 + 0.1, 1),
        "PINV_VSplit2": round(v_out / 2 - 0.1, 1),
        "PINV_PllFrequency": float(block["f_out"]),
        "PINV_PllLocked": True,
        "PINV_Pout": float(block["p_out"]) / 1000.0,  # kW, as the gateway reports it
        "PINV_Qout": float(block["q_out"]) / 1000.0,  # kvar
        "PINV_Vout": v_out,
        "PINV_Fout": float(block["f_out"]),
        "PINV_ReadyForGridForming": True,
        "PINV_State": str(block["pinv_state"]),
        "PINV_GridState": str(block["pinv_grid_state"]),
        "PINV_HardwareEnableLine": True,
        "PINV_PowerLimiter": (
            "PWRLIM_POD_Power_Limit" if full or empty else "PWRLIM_No_Power_Limit"
        ),
    }


def _string_powers(total: float) -> list[float]:
    """Split the solar power over the connected strings so the parts add up to it exactly."""
    count = sum(STRING_CONNECTED)
    if float(total).is_integer():
        whole = int(total)
        base, extra = divmod(whole, count)
        shares = [float(base + (1 if i < extra else 0)) for i in range(count)]
    else:
        share = round(total / count, 1)
        shares = [share] * (count - 1) + [total - share * (count - 1)]
    parts = iter(shares)
    return [next(parts) if connected else 0.0 for connected in STRING_CONNECTED]


def _pvac(ident: Identity, state: SiteState, solar_w: float) -> dict[str, VitalValue]:
    now = state.time
    producing = solar_w > 1.0
    v_out = payloads.voltage(ident, now, 3)
    body: dict[str, VitalValue] = {
        "PVAC_Iout": round(solar_w / payloads.NOMINAL_VOLTAGE, 2),
        "PVAC_VL1Ground": round(v_out / 2, 1),
        "PVAC_VL2Ground": round(v_out / 2, 1),
        "PVAC_VHvMinusChassisDC": -210.0,
    }
    powers = _string_powers(solar_w)
    volts = []
    for index, connected in enumerate(STRING_CONNECTED, start=1):
        level = 380.0 + 8.0 * smooth_noise(ident.seed, 50 + index, now, 60.0)
        volts.append(round(level, 1) if producing and connected else 10.3 if connected else -2.1)
    for letter, power, volt in zip(STRINGS, powers, volts, strict=True):
        body[f"PVAC_PVCurrent_{letter}"] = round(power / volt, 2) if power and volt > 0 else 0.0
    for letter, volt in zip(STRINGS, volts, strict=True):
        body[f"PVAC_PVMeasuredVoltage_{letter}"] = volt
    for letter, power in zip(STRINGS, powers, strict=True):
        body[f"PVAC_PVMeasuredPower_{letter}"] = power
    body.update(
        {
            "PVAC_LifetimeEnergyPV_Total": float(math.floor(state.solar_energy_exported)),
            "PVAC_Vout": v_out,
            "PVAC_Fout": payloads.frequency(ident, now),
            "PVAC_Pout": float(solar_w),
            "PVAC_Qout": -10.0,
            "PVAC_State": "PVAC_Active" if producing else "PVAC_Standby",
            "PVAC_GridState": payloads.pinv_grid_state(state),
            "PVAC_InvState": "INV_Grid_Connected",
        }
    )
    for letter, connected in zip(STRINGS, STRING_CONNECTED, strict=True):
        body[f"PVAC_PvState_{letter}"] = "PV_Active" if producing and connected else "PV_Disabled"
    body["PVI-PowerStatusSetpoint"] = "on"
    return body


def _pvs(ident: Identity, state: SiteState, solar_w: float) -> dict[str, VitalValue]:
    body: dict[str, VitalValue] = {
        "PVS_vLL": round(payloads.voltage(ident, state.time, 0), 1),
        "PVS_State": "PVS_Active" if solar_w > 1.0 else "PVS_GridSupporting",
        "PVS_SelfTestState": "PVS_SelfTestOff",
        "PVS_EnableOutput": True,
    }
    for letter, connected in zip(STRINGS, STRING_CONNECTED, strict=True):
        body[f"PVS_String{letter}_Connected"] = connected
    return body


def _synchronizer(ident: Identity, state: SiteState, site: dict[str, Any]) -> dict[str, VitalValue]:
    now = state.time
    islanded = state.grid_status in (ISLANDED, TO_GRID)
    grid_present = not state.outage
    volts = float(site["instant_average_voltage"])
    main_v = volts / 2 if grid_present else 0.0
    load_v = volts / 2 if (state.sitemaster_running or not islanded) else 0.0
    hertz = payloads.frequency(ident, now)
    if not grid_present:
        grid_state = "ISLAND_GridState_Grid_Uncompliant"
    elif state.grid_status == TO_GRID:
        grid_state = "ISLAND_GridState_Grid_Qualifying"
    else:
        grid_state = "ISLAND_GridState_Grid_Compliant"
    body: dict[str, VitalValue] = {}
    for phase in ("L1", "L2"):
        body[f"ISLAND_V{phase}N_Main"] = round(main_v, 1)
        body[f"ISLAND_Freq{phase}_Main"] = hertz if grid_present else 0.0
        body[f"ISLAND_V{phase}N_Load"] = round(load_v, 1)
        body[f"ISLAND_Freq{phase}_Load"] = hertz if load_v else 0.0
    body.update(
        {
            "ISLAND_GridState": grid_state,
            "ISLAND_L1MicrogridOk": True,
            "ISLAND_L2MicrogridOk": True,
            "ISLAND_L3MicrogridOk": False,
            "ISLAND_ReadyForSynchronization": grid_present,
            "ISLAND_GridConnected": not islanded,
            "SYNC_ExternallyPowered": False,
            "SYNC_SiteSwitchEnabled": False,
        }
    )
    power = float(site["instant_power"])
    reactive = float(site["instant_reactive_power"])
    leg_v = volts / 2 if volts else 0.0
    for ct in ("A", "B"):
        body[f"METER_X_CT{ct}_InstRealPower"] = power / 2
        body[f"METER_X_CT{ct}_InstReactivePower"] = reactive / 2
        body[f"METER_X_CT{ct}_I"] = round(abs(power / 2) / leg_v, 4) if leg_v else 0.0
    body["METER_X_LifetimeEnergyImport"] = float(site["energy_imported"])
    body["METER_X_LifetimeEnergyExport"] = float(site["energy_exported"])
    body["METER_X_VL1N"] = round(leg_v, 2)
    body["METER_X_VL2N"] = round(leg_v, 2)
    return body
