"""JSON bodies built from the site state, with the field names, types and quirks of each profile.

Instant powers are reported as ints on 21.44+ (floats on 1.50, battery int), and the load is
derived from the rounded site, solar and battery values so `site = load - solar - battery` holds
exactly in every aggregates body.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from pw2mqtt.simulator.profiles import Profile
from pw2mqtt.simulator.site import CONNECTED, ISLANDED, TO_GRID, SiteState
from pw2mqtt.simulator.timefmt import NEVER, epoch_ms, go_duration, rfc3339, start_time_text
from pw2mqtt.simulator.weather import smooth_noise

Json = dict[str, Any]

PART_NUMBER = "3012170-05-B"
NOMINAL_VOLTAGE = 240.0
NOMINAL_FREQUENCY = 60.0
METER_TIMEOUT_NS = 1_500_000_000


@dataclass(frozen=True, slots=True)
class Identity:
    din: str
    zone: dt.tzinfo
    timezone: str
    boot_time: float  # simulated epoch seconds of the last (re)boot
    seed: int
    site_name: str = "Home Energy Gateway"

    @property
    def serial(self) -> str:
        return self.din.rsplit("--", 1)[-1]

    def battery_serial(self, index: int) -> str:
        return f"TG{_digits(self.din, index)}"


def _digits(text: str, index: int) -> str:
    return f"{(sum(map(ord, text)) * 7919 + index * 104_729) % 10**12:012d}"


@dataclass(frozen=True, slots=True)
class Reported:
    """Meter powers as the gateway reports them (ints or floats depending on the profile)."""

    site: float
    battery: float
    load: float
    solar: float


def reported_powers(state: SiteState, profile: Profile) -> Reported:
    if profile.float_powers:
        battery: float = round(state.battery_w)
        return Reported(
            state.grid_w, battery, state.grid_w + state.solar_w + battery, state.solar_w
        )
    site, battery, solar = round(state.grid_w), round(state.battery_w), round(state.solar_w)
    load = site + solar + battery
    if load < 0:  # rounding at a near-zero load; keep load >= 0 and the balance exact
        site, load = site - load, 0
    return Reported(site, battery, load, solar)


def status(profile: Profile, ident: Identity, now: float) -> Json:
    body: Json = {
        "din": ident.din,
        "start_time": start_time_text(ident.boot_time),
        "up_time_seconds": go_duration(max(0.0, now - ident.boot_time)),
        "is_new": False,
        "version": profile.version,
        "git_hash": profile.git_hash,
        "commission_count": 0 if profile.status_style == "23.44" else 11,
        "device_type": profile.device_type,
        "sync_type": profile.sync_type,
    }
    if profile.status_style == "1.50":
        del body["din"]
        return body
    if profile.status_style == "23.44":
        body["teg_type"] = "unknown"
    else:
        body["leader"] = ""
        body["followers"] = None
    body["cellular_disabled"] = False
    if profile.status_style == "23.44":
        body["can_reboot"] = True
    return body


def _meter(
    profile: Profile,
    ident: Identity,
    now: float,
    channel: int,
    *,
    power: float,
    exported: float,
    imported: float,
    voltage: float,
    frequency: float,
    meters: int | None,
    int_energy: bool = False,
) -> Json:
    reactive = round(
        -0.05 * abs(power) - 15.0 + 10.0 * smooth_noise(ident.seed, 40 + channel, now, 30.0)
    )
    apparent = math.hypot(power, reactive)
    current = power / voltage if voltage else 0.0
    body: Json = {
        "last_communication_time": rfc3339(now - 0.05 - 0.01 * channel, ident.zone),
        "instant_power": power,
        "instant_reactive_power": reactive,
        "instant_apparent_power": apparent,
        "frequency": frequency,
        "energy_exported": math.floor(exported) if int_energy else exported,
        "energy_imported": math.floor(imported) if int_energy else imported,
        "instant_average_voltage": voltage,
        "instant_average_current": abs(current) if channel == 2 else 0,
        "i_a_current": 0,
        "i_b_current": 0,
        "i_c_current": 0,
    }
    if profile.phase_fields:
        body["last_phase_voltage_communication_time"] = NEVER
        body["last_phase_power_communication_time"] = NEVER
        body["last_phase_energy_communication_time"] = NEVER
    body["timeout"] = METER_TIMEOUT_NS
    if profile.phase_fields and meters is not None:
        body["num_meters_aggregated"] = meters
    body["instant_total_current"] = abs(current) if channel == 2 else 0
    return body


def voltage(ident: Identity, now: float, channel: int) -> float:
    return NOMINAL_VOLTAGE * 0.89 + 1.5 * smooth_noise(ident.seed, 20 + channel, now, 60.0)


def frequency(ident: Identity, now: float) -> float:
    return NOMINAL_FREQUENCY + 0.01 * smooth_noise(ident.seed, 30, now, 20.0)


def aggregates(profile: Profile, ident: Identity, state: SiteState) -> Json:
    now = state.time
    p = reported_powers(state, profile)
    grid_v = 0.0 if state.grid_status == ISLANDED else voltage(ident, now, 0)
    site_v = grid_v if grid_v else voltage(ident, now, 1)
    return {
        "site": _meter(
            profile,
            ident,
            now,
            0,
            power=p.site,
            exported=state.site_energy_exported,
            imported=state.site_energy_imported,
            voltage=site_v,
            frequency=0,
            meters=1,
        ),
        "battery": _meter(
            profile,
            ident,
            now,
            1,
            power=p.battery,
            exported=state.battery_energy_exported,
            imported=state.battery_energy_imported,
            voltage=round(voltage(ident, now, 1) + 33, 1),
            frequency=frequency(ident, now),
            meters=state.powerwalls,
            int_energy=True,
        ),
        "load": _meter(
            profile,
            ident,
            now,
            2,
            power=p.load,
            exported=0,
            imported=state.load_energy_imported,
            voltage=site_v,
            frequency=0,
            meters=None,
        ),
        "solar": _meter(
            profile,
            ident,
            now,
            3,
            power=p.solar,
            exported=state.solar_energy_exported,
            imported=state.solar_energy_imported,
            voltage=voltage(ident, now, 3),
            frequency=0,
            meters=1,
        ),
    }


def soe(state: SiteState) -> Json:
    return {"percentage": state.soe}


def grid_status(state: SiteState) -> Json:
    return {"grid_status": state.grid_status, "grid_services_active": state.grid_services_active}


def grid_faults(ident: Identity, times: list[float], profile: Profile) -> list[Json]:
    return [
        {
            "timestamp": epoch_ms(t),
            "alert_name": "PINV_a006_vfCheckUnderFrequency",
            "alert_is_fault": False,
            "decoded_alert": (
                '[{"name":"PINV_alertID","value":"PINV_a006_vfCheckUnderFrequency"},'
                '{"name":"PINV_alertType","value":"Warning"},'
                '{"name":"PINV_a006_frequency","value":57.207,"units":"Hz"}]'
            ),
            "alert_raw": 432406325129904128,
            "git_hash": profile.git_hash[:14],
            "site_uid": ident.serial,
            "ecu_type": "TEPINV",
            "ecu_package_part_number": PART_NUMBER,
            "ecu_package_serial_number": ident.battery_serial(0),
        }
        for t in reversed(times)
    ]


def pinv_grid_state(state: SiteState) -> str:
    if state.grid_status == CONNECTED:
        return "Grid_Compliant"
    if state.grid_status == TO_GRID:
        return "Grid_Qualifying"
    return "Grid_Uncompliant"


def system_status(profile: Profile, ident: Identity, state: SiteState, faults: list[Json]) -> Json:
    now = state.time
    count = state.powerwalls
    per_full = round(state.full_pack_wh / count)
    per_remaining = round(state.energy_remaining_wh / count)
    p = reported_powers(state, profile)
    islanded = state.grid_status in (ISLANDED, TO_GRID)
    max_power = 5000 * count
    blocks: list[Json] = [
        {
            "Type": "",
            "PackagePartNumber": PART_NUMBER,
            "PackageSerialNumber": ident.battery_serial(i),
            "disabled_reasons": [],
            "pinv_state": "PINV_GridForming" if islanded else "PINV_GridFollowing",
            "pinv_grid_state": pinv_grid_state(state),
            "nominal_energy_remaining": per_remaining,
            "nominal_full_pack_energy": per_full,
            "p_out": round(p.battery / count),
            "q_out": 30,
            "v_out": round(voltage(ident, now, 1) + 33, 1),
            "f_out": frequency(ident, now),
            "i_out": round(abs(p.battery / count) / NOMINAL_VOLTAGE, 1),
            "energy_charged": math.floor(state.battery_energy_imported / count),
            "energy_discharged": math.floor(state.battery_energy_exported / count),
            "off_grid": islanded,
            "vf_mode": islanded,
            "wobble_detected": False,
            "charge_power_clamped": False,
            "backup_ready": True,
            "OpSeqState": "Active",
            "version": profile.git_hash[:14],
        }
        for i in range(count)
    ]
    return {
        "command_source": "Configuration",
        "battery_target_power": state.battery_w,
        "battery_target_reactive_power": 0,
        "nominal_full_pack_energy": per_full * count,
        "nominal_energy_remaining": per_remaining * count,
        "max_power_energy_remaining": 0,
        "max_power_energy_to_be_charged": 0,
        "max_charge_power": max_power,
        "max_discharge_power": max_power,
        "max_apparent_power": max_power,
        "instantaneous_max_discharge_power": 12000 * count,
        "instantaneous_max_charge_power": 5290 * count,
        "grid_services_power": -0.0,
        "system_island_state": state.grid_status,
        "available_blocks": count,
        "battery_blocks": blocks,
        "ffr_power_availability_high": 5800 * count,
        "ffr_power_availability_low": 5290 * count,
        "load_charge_constraint": 0,
        "max_sustained_ramp_rate": 1250000 * count,
        "grid_faults": faults,
        "can_reboot": "Yes",
        "smart_inv_delta_p": 0,
        "smart_inv_delta_q": 0,
        "last_toggle_timestamp": rfc3339(state.last_toggle_time, ident.zone),
        "solar_real_power_limit": -1,
        "score": 10000,
        "blocks_controlled": count,
        "primary": True,
        "auxiliary_load": 0,
        "all_enable_lines_high": True,
        "inverter_nominal_usable_power": 5800 * count,
        "expected_energy_remaining": 0,
    }


def sitemaster(profile: Profile, state: SiteState) -> Json:
    running = state.sitemaster_running
    body: Json = {
        "status": "StatusUp" if running else "StatusDown",
        "running": running,
        "connected_to_tesla": True,
        "power_supply_mode": False,
    }
    if profile.status_style != "1.50":
        body["can_reboot"] = "Yes" if running else ""
    return body


def operation(state: SiteState) -> Json:
    return {
        "real_mode": state.mode,
        "backup_reserve_percent": state.backup_reserve_percent,
        "freq_shift_load_shed_soe": 0,
        "freq_shift_load_shed_delta_f": 0,
    }


def site_info(profile: Profile, ident: Identity, count: int) -> Json:
    body: Json = {
        "max_system_energy_kWh": 13.5 * count,
        "max_system_power_kW": 5 * count,
        "site_name": ident.site_name,
        "timezone": ident.timezone,
        "max_site_meter_power_kW": 1000000000,
        "min_site_meter_power_kW": -1000000000,
        "nominal_system_energy_kWh": 13.5 * count,
        "nominal_system_power_kW": 5 * count,
    }
    if profile.status_style == "23.44":
        body["panel_max_current"] = 100
    body["grid_code"] = {
        "grid_code": "60Hz_240V_s_UL1741SA:2019_California",
        "grid_voltage_setting": 240,
        "grid_freq_setting": 60,
        "grid_phase_setting": "Split",
        "country": "United States",
        "state": "California",
        "distributor": "*",
        "utility": "Pacific Gas and Electric Company",
        "retailer": "*",
        "region": "UL1741SA-CA:2019",
    }
    return body


def site_name(ident: Identity) -> Json:
    return {"site_name": ident.site_name, "timezone": ident.timezone}


def _check(name: str, now: float, ident: Identity) -> Json:
    return {
        "name": name,
        "status": "fail",
        "start_time": rfc3339(now, ident.zone),
        "end_time": rfc3339(now + 0.000005, ident.zone),
        "message": (
            "Cannot perform this action with site controller running. From landing page, either "
            '"STOP SYSTEM" or "RUN WIZARD" to proceed.'
        ),
        "results": {},
        "debug": {},
        "checks": None,
    }


def _not_run(name: str) -> Json:
    return {
        "name": name,
        "status": "not_run",
        "start_time": None,
        "end_time": None,
        "progress": 0,
        "results": None,
        "debug": None,
        "checks": None,
    }


def _diagnostic(name: str, disruptive: bool, checks: list[Json]) -> Json:
    return {
        "name": name,
        "category": "InternalComms",
        "disruptive": disruptive,
        "inputs": None,
        "checks": checks,
        "alert": False,
    }


def powerwalls(profile: Profile, ident: Identity, state: SiteState) -> Json:
    now = state.time
    grid_state = pinv_grid_state(state)
    running = state.sitemaster_running
    items = [
        {
            "Type": "",
            "PackagePartNumber": PART_NUMBER,
            "PackageSerialNumber": ident.battery_serial(i),
            "type": "ACPW",
            "grid_state": grid_state,
            "grid_reconnection_time_seconds": 0,
            "under_phase_detection": False,
            "updating": False,
            "commissioning_diagnostic": _diagnostic(
                "Commissioning",
                False,
                [
                    _check(n, now, ident)
                    for n in ("CAN connectivity", "Enable switch", "Internal communications")
                ],
            ),
            "update_diagnostic": _diagnostic(
                "Firmware Update",
                True,
                [_not_run(n) for n in ("Powerwall firmware", "Battery firmware", "Grid code")],
            ),
            "bc_type": None,
            "in_config": True,
        }
        for i in range(state.powerwalls)
    ]
    body: Json = {
        "enumerating": False,
        "updating": False,
        "checking_if_offgrid": False,
        "running_phase_detection": False,
        "phase_detection_last_error": "no phase information",
        "bubble_shedding": False,
        "on_grid_check_error": "run sitemanager flag enabled" if running else "",
        "grid_qualifying": state.grid_status == TO_GRID,
        "grid_code_validating": False,
        "phase_detection_not_available": True,
        "powerwalls": items,
        "gateway_din": ident.din,
        "sync": {
            "updating": False,
            "commissioning_diagnostic": _diagnostic(
                "Commissioning", False, [_check("CAN connectivity", now, ident)]
            ),
            "update_diagnostic": _diagnostic(
                "Firmware Update", True, [_not_run("Synchronizer firmware")]
            ),
        },
        "msa": None,
        "states": None,
    }
    if profile.status_style == "1.50":
        body["has_sync"] = False
    return body


def solar_powerwall(ident: Identity, state: SiteState) -> Json:
    now = state.time
    solar = max(0.0, state.solar_w)
    producing = solar > 1.0
    connected = (True, True, True, False)
    share = solar / sum(connected)
    strings = []
    for index, is_connected in enumerate(connected, start=1):
        volts = 380.0 + 8.0 * smooth_noise(ident.seed, 50 + index, now, 60.0) if producing else 10.3
        watts = share if is_connected else 0.0
        strings.append(
            {
                "string_id": index,
                "connected": is_connected,
                "measured_voltage": round(volts, 1) if is_connected else 0.0,
                "current": round(watts / volts, 2) if is_connected else 0.0,
                "measured_power": round(watts),
            }
        )
    stamp = rfc3339(now - 0.2, ident.zone)
    return {
        "pvac_status": {
            "state": "PVAC_Active" if producing else "PVAC_Standby",
            "disabled": False,
            "disabled_reasons": [],
            "grid_state": pinv_grid_state(state),
            "inv_state": "INV_Grid_Connected",
            "v_out": voltage(ident, now, 3),
            "f_out": frequency(ident, now),
            "p_out": round(solar),
            "q_out": -10,
            "i_out": round(solar / NOMINAL_VOLTAGE, 2),
            "string_vitals": strings,
        },
        "pvs_status": {
            "state": "PVS_GridSupporting",
            "disabled": False,
            "enable_output": True,
            "v_ll": round(voltage(ident, now, 0), 1),
            "self_test_state": "PVS_SelfTestOff",
        },
        "pv_power_limit": 7600.0,
        "power_status_setpoint": "on",
        "pvac_alerts": {
            "LastRxTime": stamp,
            "ReceivedMuxBitmask": 1,
            "PVAC_alertMatrixIndex": 0,
            "PVAC_a001_inv_L1_HW_overcurrent": False,
            "PVAC_a002_inv_L2_HW_overcurrent": False,
            "PVAC_a010_inv_AC_overvoltage": False,
            "PVAC_a011_inv_AC_undervoltage": False,
            "PVAC_a019_ambient_overtemperature": False,
        },
        "pvs_alerts": {
            "LastRxTime": stamp,
            "ReceivedMuxBitmask": 0,
            "PVS_a001_WatchdogReset": False,
            "PVS_a018_MciStringB": False,
            "PVS_a021_RapidShutdown": False,
            "PVS_a059_MciOpen": False,
        },
    }


def meter_list(profile: Profile, ident: Identity, state: SiteState, location: str) -> list[Json]:
    agg = aggregates(profile, ident, state)[location]
    power = float(agg["instant_power"])
    cached = dict(agg)
    cached.pop("num_meters_aggregated", None)
    cached.update(
        {
            "energy_exported_a": float(agg["energy_exported"]) / 2,
            "energy_exported_b": float(agg["energy_exported"]) / 2,
            "energy_imported_a": float(agg["energy_imported"]) / 2,
            "energy_imported_b": float(agg["energy_imported"]) / 2,
            "real_power_a": power / 2,
            "real_power_b": power / 2,
            "v_l1n": float(agg["instant_average_voltage"]) / 2,
            "v_l2n": float(agg["instant_average_voltage"]) / 2,
            "serial_number": f"OBB{_digits(ident.din, 7)[:10]}",
            "version": "1.7.1-Tesla",
        }
    )
    return [
        {
            "id": 0,
            "location": location,
            "type": "neurio_w2_tcp",
            "cts": [True, True, False, False] if location == "site" else [False, False, True, True],
            "inverted": [False, False, False, False],
            "connection": {
                "short_id": _digits(ident.din, 3)[:5],
                "device_serial": f"OBB{_digits(ident.din, 7)[:10]}",
                "https_conf": {},
            },
            "Cached_readings": cached,
        }
    ]


def update_status(profile: Profile, now: float, boot_time: float) -> Json:
    return {
        "state": "/update_succeeded",
        "info": {"status": ["nonactionable"]},
        "current_time": epoch_ms(now),
        "last_status_time": epoch_ms(max(boot_time, now - 3360.0)),
        "version": profile.version,
        "offline_updating": False,
        "offline_update_error": "",
        "estimated_bytes_per_second": None,
    }


def networks() -> list[Json]:
    def info(name: str, interface: str, strength: int) -> Json:
        return {
            "network_name": name,
            "ip_networks": [{"ip": "192.0.2.10", "mask": "255.255.255.0"}],
            "gateway": "192.0.2.1",
            "interface": interface,
            "state": "DeviceStateReady",
            "state_reason": "DeviceStateReasonNone",
            "signal_strength": strength,
            "hw_address": "",
        }

    return [
        {
            "network_name": "ethernet_tesla_internal_default",
            "interface": "EthType",
            "enabled": True,
            "dhcp": True,
            "extra_ips": [{"ip": "192.168.90.2", "netmask": 24}],
            "active": True,
            "primary": True,
            "lastTeslaConnected": True,
            "lastInternetConnected": True,
            "iface_network_info": info("ethernet_tesla_internal_default", "EthType", 0),
        },
        {
            "network_name": "gsm_tesla_internal_default",
            "interface": "GsmType",
            "enabled": True,
            "dhcp": None,
            "active": True,
            "primary": False,
            "lastTeslaConnected": False,
            "lastInternetConnected": False,
            "iface_network_info": info("gsm_tesla_internal_default", "GsmType", 71),
        },
    ]


def config(ident: Identity) -> Json:
    return {"vin": ident.din}


AUTH_TOGGLE: Json = {"toggle_auth_supported": True}
REGISTRATION: Json = {
    "privacy_notice": True,
    "limited_warranty": True,
    "grid_services": True,
    "marketing": False,
    "registered": True,
    "timed_out_registration": False,
}
PROBLEMS: Json = {"problems": []}
PORTAL_HTML = (
    "<!DOCTYPE html><html><head><title>Tesla Energy Gateway</title></head>"
    "<body><p>pw2mqtt gateway simulator</p></body></html>"
)
