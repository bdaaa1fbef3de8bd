"""The response models against every real capture, tolerance cases, fuzzing, and the snapshot."""

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from pw2mqtt.errors import GatewayResponseError
from pw2mqtt.gateway.rest.models import (
    AGGREGATES,
    READ_ENDPOINTS,
    Aggregates,
    GridCompliance,
    GridFaults,
    GridStatus,
    Meters,
    Networks,
    Operation,
    OperationMode,
    Powerwalls,
    SiteInfo,
    Sitemaster,
    SitemasterStatus,
    SiteName,
    Soe,
    SolarPowerwall,
    Status,
    SystemGridStatus,
    SystemStatus,
    UpdateState,
    UpdateStatus,
    decode,
    decode_as,
)
from pw2mqtt.gateway.snapshot import ENDPOINT_NAMES, GatewaySnapshot
from tests.fixtures import FIXTURES

V2144 = "vloschiavo/21.44-foogod"
MST = timezone(timedelta(hours=-7))

# Capture file names (without any "api." prefix and ".json…" suffix) → the endpoint they answer.
ENDPOINT_BY_NAME = {
    "status": "/api/status",
    "meters.aggregates": "/api/meters/aggregates",
    "meters_aggregates": "/api/meters/aggregates",
    "system_status.soe": "/api/system_status/soe",
    "system_status.grid_status": "/api/system_status/grid_status",
    "grid_status": "/api/system_status/grid_status",
    "system_status": "/api/system_status",
    "system_status.grid_faults": "/api/system_status/grid_faults",
    "sitemaster": "/api/sitemaster",
    "operation": "/api/operation",
    "site_info": "/api/site_info",
    "site_info.site_name": "/api/site_info/site_name",
    "powerwalls": "/api/powerwalls",
    "solar_powerwall": "/api/solar_powerwall",
    "meters.site": "/api/meters/site",
    "meters-site": "/api/meters/site",
    "meter_site": "/api/meters/site",
    "meters.solar": "/api/meters/solar",
    "meters-solar": "/api/meters/solar",
    "meter_solar": "/api/meters/solar",
    "system.update.status": "/api/system/update/status",
    "networks": "/api/networks",
}


def _capture_name(path: Path) -> str:
    name = path.name.split(".json", 1)[0]  # also "….json-offline", "….json-transition"
    for prefix in ("api.", "api_", "api-"):
        name = name.removeprefix(prefix)
    return name


def _captures() -> list[tuple[str, str]]:
    if not FIXTURES.is_dir():
        return []
    found = []
    for path in sorted(FIXTURES.rglob("*")):
        if path.is_file() and path.suffix != ".err":  # .err files are raw HTTP responses
            endpoint = ENDPOINT_BY_NAME.get(_capture_name(path))
            if endpoint is not None:
                found.append((str(path.relative_to(FIXTURES)), endpoint))
    return found


CAPTURES = _captures()


def load(relative: str, path: str) -> Any:
    return decode(path, (FIXTURES / relative).read_bytes())


def raw_json(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_bytes())


pytestmark = pytest.mark.skipif(not CAPTURES, reason=f"no captures at {FIXTURES}")


# --- every capture parses ------------------------------------------------------------------------


def test_the_sweep_covers_the_captures() -> None:
    assert len(CAPTURES) >= 90
    assert {endpoint for _, endpoint in CAPTURES} == set(READ_ENDPOINTS)


@pytest.mark.parametrize(("relative", "path"), CAPTURES, ids=[c[0] for c in CAPTURES])
def test_every_capture_parses(relative: str, path: str) -> None:
    model = load(relative, path)
    assert isinstance(model, READ_ENDPOINTS[path].model)


# --- concrete values from the captures -----------------------------------------------------------


def test_aggregates_21_44() -> None:
    body = (FIXTURES / V2144 / "running/meters.aggregates.json").read_bytes()
    aggregates = decode_as(Aggregates, "/api/meters/aggregates", body)
    assert set(aggregates.root) == {"site", "battery", "load", "solar"}
    site, battery, load, solar = (
        aggregates.site,
        aggregates.battery,
        aggregates.load,
        aggregates.solar,
    )
    assert site is not None
    assert battery is not None
    assert load is not None
    assert solar is not None
    assert site.instant_power == 72.0
    assert type(site.instant_power) is float
    assert battery.instant_power == -60.0  # charging
    assert load.instant_power == 1154.0
    assert solar.instant_power == 1144.0
    assert site.energy_imported == 752045.9551097859
    assert battery.frequency == 60.007000000000005
    assert site.num_meters_aggregated == 2
    assert load.num_meters_aggregated is None  # absent on load
    assert site.timeout == 1_500_000_000
    # A nanosecond timestamp, truncated to µs, in the gateway's offset; the zero time is "never".
    assert site.last_communication_time == datetime(2021, 12, 26, 13, 9, 22, 321056, MST)
    assert site.last_phase_voltage_communication_time is None
    assert AGGREGATES.decode(body) == aggregates


def test_aggregates_of_old_firmware_keep_extra_meters() -> None:
    aggregates = load("vloschiavo/api_meters_aggregates.json", "/api/meters/aggregates")
    assert set(aggregates.root) == {
        "site",
        "battery",
        "load",
        "solar",
        "busway",
        "frequency",
        "generator",
    }
    assert aggregates.root["generator"].last_communication_time is None
    assert aggregates.site.instant_power == -21.449996948242188  # exporting


def test_soe() -> None:
    soe = load(f"{V2144}/running/system_status.soe.json", "/api/system_status/soe")
    assert soe.percentage == 42.415190953701725
    assert soe.app_percentage == pytest.approx((42.415190953701725 - 5) / 0.95)


def test_status_21_44() -> None:
    status = load(f"{V2144}/running/status.json", "/api/status")
    assert isinstance(status, Status)
    assert status.up_time == timedelta(hours=230, minutes=55, seconds=59, microseconds=932079)
    assert status.start_time == datetime(2021, 12, 16, 22, 13, 25)
    assert status.version == "21.44 223a56cd"
    assert status.commission_count == 11
    assert status.followers is None
    assert status.device_type == "teg"


@pytest.mark.parametrize("sweep", ["vloschiavo/21.44-foogod", "vloschiavo/21.39.1-foogod"])
def test_start_time_is_local_wall_clock_despite_its_offset(sweep: str) -> None:
    """start_time says +0800, yet start_time + up_time is the local time of the aggregates."""
    status = load(f"{sweep}/running/status.json", "/api/status")
    aggregates = load(f"{sweep}/running/meters.aggregates.json", "/api/meters/aggregates")
    local_now = aggregates.site.last_communication_time.replace(tzinfo=None)
    assert abs(status.start_time + status.up_time - local_now) < timedelta(seconds=10)


def test_status_of_firmware_1_50_and_23_44() -> None:
    old = load("tesla_powerwall/status.json", "/api/status")
    assert old.device_type == "hec"
    assert old.din is None  # not sent by 1.50.1
    assert old.up_time == timedelta(hours=17, minutes=11, seconds=31, microseconds=214751)
    new = load("pypowerwall/pwsimulator/api.status.json", "/api/status")
    assert new.version == "23.44.0 9064fc6a"
    assert new.can_reboot is True


def test_grid_status_variants() -> None:
    connected = load(
        f"{V2144}/running/system_status.grid_status.json", "/api/system_status/grid_status"
    )
    assert connected.grid_status.value is GridStatus.CONNECTED
    assert connected.grid_services_active is False
    offline = load(
        "pypowerwall/proxy-bogus/api.system_status.grid_status.json-offline",
        "/api/system_status/grid_status",
    )
    assert offline.grid_status.value is GridStatus.ISLANDED_ACTIVE
    assert offline.grid_services_active is True
    assert not offline.grid_status.value.is_connected
    assert offline.grid_status.value.is_off_grid
    transition = load(
        "pypowerwall/proxy-bogus/api.system_status.grid_status.json-transition",
        "/api/system_status/grid_status",
    )
    assert transition.grid_status.value is GridStatus.TRANSITION_TO_GRID
    assert transition.grid_status.value.is_connected


@pytest.mark.parametrize(
    ("status", "connected", "off_grid"),
    [
        (GridStatus.CONNECTED, True, False),
        (GridStatus.TRANSITION_TO_GRID, True, False),
        (GridStatus.TRANSITION_TO_ISLAND, False, True),
        (GridStatus.ISLANDED_ACTIVE, False, True),
        (GridStatus.ISLANDED_READY, False, False),
        (GridStatus.MICROGRID_FAULTED, False, False),
        (GridStatus.WAIT_FOR_USER, False, False),
        (GridStatus.UNKNOWN, False, False),
    ],
)
def test_grid_status_helpers(status: GridStatus, connected: bool, off_grid: bool) -> None:
    assert status.is_connected is connected
    assert status.is_off_grid is off_grid


def test_system_status_21_44() -> None:
    system = load(f"{V2144}/running/system_status.json", "/api/system_status")
    assert isinstance(system, SystemStatus)
    assert system.system_island_state is not None
    assert system.system_island_state.value is GridStatus.CONNECTED
    assert system.nominal_full_pack_energy == 14061.0
    assert system.nominal_energy_remaining == 5964.0
    assert system.grid_services_power == 0.0  # sent as -0
    assert system.last_toggle_timestamp == datetime(2021, 12, 16, 22, 17, 15, 683707, MST)
    assert system.can_reboot == "Yes"
    (block,) = system.battery_blocks
    assert block.package_part_number == "3012170-05-B"
    assert block.package_serial_number == "<<BATTERY_SERIAL>>"
    assert block.block_type == ""
    assert block.op_seq_state == "Active"
    assert block.pinv_grid_state is not None
    assert block.pinv_grid_state.value is GridCompliance.COMPLIANT
    assert block.p_out == -70.0
    assert block.v_out == 246.9
    assert block.backup_ready is True


def test_system_status_with_a_standby_battery_and_faults() -> None:
    system = load("tesla_powerwall/system_status.json", "/api/system_status")
    standby = system.battery_blocks[2]
    assert standby.energy_charged is None  # null for a block that is not running
    assert standby.disabled_reasons == ("DisabledExcessiveVoltageDrop",)
    assert standby.pinv_grid_state.value is GridCompliance.UNKNOWN
    assert standby.pinv_grid_state.raw == ""
    fault = system.grid_faults[0]
    assert fault.alert_name == "PINV_a008_vfCheckRocof"
    assert fault.alert_raw == 576460752303423488  # exact: too wide for a float
    assert fault.timestamp == datetime(2021, 10, 12, 5, 13, 11, 828000, UTC)
    assert json.loads(fault.decoded_alert)[0]["value"] == "PINV_a008_vfCheckRocof"


def test_grid_faults() -> None:
    faults = load("vloschiavo/system_status.grid_faults.json", "/api/system_status/grid_faults")
    assert isinstance(faults, GridFaults)
    (fault,) = faults.root
    assert fault.timestamp == datetime(2019, 10, 2, 0, 29, 52, 352000, UTC)
    assert fault.ecu_type == "TEPINV"
    assert (
        load(
            f"{V2144}/running/system_status.grid_faults.json", "/api/system_status/grid_faults"
        ).root
        == ()
    )


def test_sitemaster_running_and_stopped() -> None:
    running = load(f"{V2144}/running/sitemaster.json", "/api/sitemaster")
    assert running.status.value is SitemasterStatus.UP
    assert running.running is True
    assert running.can_reboot == "Yes"
    stopped = load(f"{V2144}/stopped/sitemaster.json", "/api/sitemaster")
    assert stopped.status.value is SitemasterStatus.DOWN
    assert stopped.running is False
    assert stopped.connected_to_tesla is True
    assert stopped.can_reboot == ""


def test_old_sitemaster_shape() -> None:
    old = decode_as(
        Sitemaster,
        "/api/sitemaster",
        b'{"running": true, "uptime": "802459s,", "connected_to_tesla": true}',
    )
    assert old.uptime == timedelta(seconds=802459)
    assert old.status is None
    assert old.running is True


def test_operation() -> None:
    operation = load(f"{V2144}/running/operation.json", "/api/operation")
    assert operation.real_mode.value is OperationMode.AUTONOMOUS
    assert operation.backup_reserve_percent == 30.0
    assert operation.freq_shift_load_shed_delta_f == -0.32
    minimum = load("vloschiavo/operation.json", "/api/operation")
    assert minimum.backup_reserve_percent == 5.000019999999999
    assert minimum.backup_reserve_app_percent == pytest.approx(0, abs=1e-4)
    assert Operation().backup_reserve_app_percent is None


def test_site_info_nested() -> None:
    site = load(f"{V2144}/stopped/site_info.json", "/api/site_info")
    assert isinstance(site, SiteInfo)
    assert site.timezone == "America/Los_Angeles"
    assert site.max_system_power_kw == 5.8
    assert site.nominal_system_energy_kwh == 13.5
    assert site.measured_frequency == 60.010000000000005
    assert site.grid_code is not None
    assert site.grid_code.grid_code == "60Hz_240V_s_UL1741SA:2019_California"
    assert site.grid_code.grid_phase_setting == "Split"
    assert site.grid_code.grid_voltage_setting == 240.0
    uk = load("vloschiavo/site_info.json", "/api/site_info")
    assert uk.grid_code.grid_freq_setting == 50.0
    assert uk.grid_code.utility is None  # absent
    assert (
        load("pypowerwall/pwsimulator/api.site_info.json", "/api/site_info").panel_max_current
        == 100.0
    )


def test_site_info_flat_grid_code_of_old_firmware() -> None:
    body = json.dumps(
        {
            "site_name": "Home",
            "timezone": "Europe/Berlin",
            "grid_code": "50Hz_230V_1_VDE4105:2018_Germany",
            "grid_voltage_setting": 230,
            "grid_freq_setting": 50,
            "grid_phase_setting": "Single",
            "country": "Germany",
            "state": "*",
            "region": "VDE4105",
        }
    ).encode()
    site = decode_as(SiteInfo, "/api/site_info", body)
    assert site.site_name == "Home"
    assert site.grid_code is not None
    assert site.grid_code.grid_code == "50Hz_230V_1_VDE4105:2018_Germany"
    assert site.grid_code.grid_voltage_setting == 230.0
    assert site.grid_code.country == "Germany"
    assert site.grid_code.region == "VDE4105"


def test_site_name() -> None:
    name = load(f"{V2144}/running/site_info.site_name.json", "/api/site_info/site_name")
    assert name == SiteName(site_name="Home Energy Gateway", timezone="America/Los_Angeles")


def test_powerwalls() -> None:
    walls = load(f"{V2144}/running/powerwalls.json", "/api/powerwalls")
    assert isinstance(walls, Powerwalls)
    assert walls.gateway_din == "1232100-00-E--<<GATEWAY_TSN>>"
    (wall,) = walls.powerwalls
    assert wall.powerwall_type == "ACPW"
    assert wall.package_part_number == "3012170-05-B"
    assert wall.grid_state is not None
    assert wall.grid_state.value is GridCompliance.UNCOMPLIANT
    assert wall.commissioning_diagnostic is not None
    check = wall.commissioning_diagnostic.checks[0]
    assert check.name == "CAN connectivity"
    assert check.start_time == datetime(2021, 12, 26, 13, 9, 23, 624488, MST)
    assert wall.update_diagnostic is not None
    assert wall.update_diagnostic.checks[0].start_time is None  # null
    mixed = load("pypowerwall/proxy-bogus/api.powerwalls.json", "/api/powerwalls")
    assert [w.powerwall_type for w in mixed.powerwalls] == ["SolarPowerwall", "ACPW"]
    assert load("pypowerwall/pwsimulator/api.powerwalls.json", "/api/powerwalls").powerwalls == ()


def test_solar_powerwall() -> None:
    solar = load("pypowerwall/pwsimulator/api.solar_powerwall.json", "/api/solar_powerwall")
    assert isinstance(solar, SolarPowerwall)
    assert solar.pvac_status is not None
    assert solar.pvac_status.state == "PVAC_Active"
    assert solar.pvac_status.grid_state is not None
    assert solar.pvac_status.grid_state.value is GridCompliance.COMPLIANT
    assert [s.string_id for s in solar.pvac_status.string_vitals] == [1, 2, 3, 4]
    assert solar.pvac_status.string_vitals[1].connected is False
    assert solar.pvac_status.string_vitals[1].measured_voltage == 33.2
    assert solar.pvs_status is not None
    assert solar.pvs_status.v_ll == 242.4
    assert solar.pv_power_limit == 230.39999999999998
    assert solar.pvs_alerts is not None
    assert solar.pvac_alerts is not None
    assert solar.pvs_alerts.active == ("PVS_a018_MciStringB", "PVS_a059_MciOpen")
    assert solar.pvac_alerts.active == ()
    assert len(solar.pvac_alerts.flags) == 44  # the counters are not flags
    assert "PVAC_alertMatrixIndex" not in solar.pvac_alerts.flags
    assert solar.pvac_alerts.received_mux_bitmask == 1
    assert solar.pvac_alerts.last_rx_time == datetime(2024, 3, 18, 20, 40, 15, 175038, MST)


def test_meters_site_and_solar() -> None:
    site = load("tesla_powerwall/meter_site.json", "/api/meters/site")
    assert isinstance(site, Meters)
    (meter,) = site.root
    assert meter.location == "site"
    assert meter.meter_type == "neurio_tcp"
    assert meter.meter_id == 0
    assert meter.cts == (True, True, False, False)
    assert meter.connection is not None
    assert meter.connection.device_serial == "OBB1234567890"
    readings = meter.cached_readings
    assert readings is not None
    assert readings.v_l1n == 247.55999755859375
    assert readings.real_power_b == -0.05000000074505806
    assert readings.frequency == 50.0
    synchro = load("pypowerwall/proxy-bogus/api.meters.site.json", "/api/meters/site").root[0]
    assert synchro.meter_type == "synchrometerX"
    assert synchro.cached_readings.last_phase_energy_communication_time is None
    # A site without solar meters answers null.
    assert load("pypowerwall/proxy-bogus/api.meters.solar.json", "/api/meters/solar").root == ()


def test_update_status() -> None:
    update = load(f"{V2144}/running/system.update.status.json", "/api/system/update/status")
    assert isinstance(update, UpdateStatus)
    assert update.state is not None
    assert update.state.value is UpdateState.SUCCEEDED
    assert update.current_time == datetime(2021, 12, 26, 20, 9, 26, 145000, UTC)
    assert update.info is not None
    assert update.info.status == ("nonactionable",)
    assert update.estimated_bytes_per_second is None
    older = load(
        "vloschiavo/21.39.1-foogod/running/system.update.status.json", "/api/system/update/status"
    )
    assert older.state.value is UpdateState.NO_STATUS
    assert older.state.raw == "/update_unknown"
    oldest = load("vloschiavo/system.update.status.json", "/api/system/update/status")
    assert oldest.state.value is UpdateState.FAILED
    assert oldest.version is None


def test_networks() -> None:
    networks = load(f"{V2144}/running/networks.json", "/api/networks")
    assert isinstance(networks, Networks)
    assert [n.interface for n in networks.root] == ["EthType", "GsmType", "WifiType"]
    wifi = networks.root[2]
    assert wifi.primary is True
    assert wifi.last_internet_connected is True
    assert wifi.iface_network_info is not None
    assert wifi.iface_network_info.signal_strength == 59.0
    assert wifi.iface_network_info.ip_networks[0].mask == "255.255.255.0"
    assert networks.root[0].extra_ips[0].ip == "192.168.90.2"
    assert networks.root[1].dhcp is None
    # Newer firmware spells the keys IP/Mask and sends the mask as base64.
    newer = load("pypowerwall/pwsimulator/api.networks.json", "/api/networks")
    assert newer.root[0].iface_network_info.ip_networks[0].mask == "////AA=="


# --- tolerance -----------------------------------------------------------------------------------


def test_int_and_float_are_interchangeable() -> None:
    as_int = decode_as(Soe, "/api/system_status/soe", b'{"percentage": 42}')
    as_float = decode_as(Soe, "/api/system_status/soe", b'{"percentage": 42.0}')
    assert as_int == as_float
    assert type(as_int.percentage) is float
    faults = decode_as(GridFaults, "p", b'[{"timestamp": 1634015591828.0, "alert_raw": 5.0}]')
    assert faults.root[0].alert_raw == 5
    assert faults.root[0].timestamp == datetime(2021, 10, 12, 5, 13, 11, 828000, UTC)


@pytest.mark.parametrize("path", sorted(READ_ENDPOINTS))
def test_missing_optional_fields(path: str) -> None:
    model = READ_ENDPOINTS[path].model
    if model in {Soe, SystemGridStatus}:  # meaningless without their one value
        with pytest.raises(GatewayResponseError):
            decode(path, b"{}")
    elif model is Aggregates:
        assert decode(path, b"{}") == Aggregates({})
    elif issubclass(model, GridFaults | Meters | Networks):
        assert decode(path, b"[]").root == ()  # type: ignore[attr-defined]
    else:
        assert decode(path, b"{}") == model()


def test_unknown_fields_are_ignored() -> None:
    soe = decode_as(Soe, "/api/system_status/soe", b'{"percentage": 50, "new": {"deep": [1, 2]}}')
    assert soe == Soe(percentage=50)
    aggregates = decode_as(
        Aggregates, "/api/meters/aggregates", b'{"site": {"instant_power": 1}, "odd": 5}'
    )
    assert set(aggregates.root) == {"site"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/system_status/grid_status", {"grid_status": "SystemSomethingNew"}, "grid_status"),
        ("/api/operation", {"real_mode": "storm_watch"}, "real_mode"),
        ("/api/sitemaster", {"status": "StatusSideways"}, "status"),
        ("/api/system/update/status", {"state": "/update_teleported"}, "state"),
        ("/api/system_status", {"system_island_state": "SystemOnTheMoon"}, "system_island_state"),
    ],
)
def test_unseen_enum_values_become_unknown(path: str, body: dict[str, str], field: str) -> None:
    model = decode(path, json.dumps(body).encode())
    tolerant = getattr(model, field)
    assert tolerant.value.name == "UNKNOWN"
    assert tolerant.raw == body[field]
    assert json.loads(model.model_dump_json())[field] == body[field]  # the raw text survives


def test_never_timestamp() -> None:
    body = b'{"site": {"last_communication_time": "0001-01-01T00:00:00Z"}}'
    aggregates = decode_as(Aggregates, "/api/meters/aggregates", body)
    assert aggregates.site is not None
    assert aggregates.site.last_communication_time is None


def test_null_lists_are_empty() -> None:
    system = decode_as(
        SystemStatus, "/api/system_status", b'{"battery_blocks": null, "grid_faults": null}'
    )
    assert system.battery_blocks == ()
    assert system.grid_faults == ()


def test_models_are_frozen() -> None:
    soe = Soe(percentage=50)
    with pytest.raises(ValueError, match="frozen"):
        soe.percentage = 1


def test_populate_by_name_and_alias() -> None:
    assert (
        Status(up_time=timedelta(seconds=5)).up_time
        == Status.model_validate({"up_time_seconds": "5s"}).up_time
    )


# --- failures are GatewayResponseError -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        (b"", "not valid JSON"),
        (b"<html>502 Bad Gateway</html>", "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"null", "body"),
        (b"[]", "body"),
        (b'"text"', "body"),
        (b'{"percentage": NaN}', "not valid JSON"),
        (b'{"percentage": Infinity}', "not valid JSON"),
        (b'{"percentage": null}', "percentage"),
        (b'{"percentage": "42"}', "percentage"),
        (b'{"percentage": true}', "percentage"),
        (b'{"percentage": 1e999}', "finite"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"percentage": 1' + b"0" * 5000 + b"}", "not valid JSON"),
    ],
)
def test_bad_bodies(body: bytes, hint: str) -> None:
    with pytest.raises(GatewayResponseError, match=hint) as caught:
        decode_as(Soe, "/api/system_status/soe", body)
    assert caught.value.endpoint == "/api/system_status/soe"
    assert len(str(caught.value)) < 260


def test_error_messages_stay_short() -> None:
    body = json.dumps([{"alert_raw": "x" * 10_000}] * 500).encode()
    with pytest.raises(GatewayResponseError, match=r"and \d+ more") as caught:
        decode_as(GridFaults, "/api/system_status/grid_faults", body)
    assert len(str(caught.value)) < 260
    assert "xxxx" not in str(caught.value)


def test_list_where_an_object_is_expected() -> None:
    with pytest.raises(GatewayResponseError, match="dictionary"):
        decode("/api/status", b"[]")


def test_unknown_path() -> None:
    with pytest.raises(KeyError):
        decode("/api/nope", b"{}")


# --- fuzzing: a model or GatewayResponseError, never anything else -------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
paths = st.sampled_from(sorted(READ_ENDPOINTS))


def _decode_or_refuse(path: str, body: bytes) -> None:
    try:
        model = decode(path, body)
    except GatewayResponseError as exc:
        refused = exc
    else:
        assert isinstance(model, READ_ENDPOINTS[path].model)
        return
    assert refused.endpoint == path


@given(paths, json_values)
def test_random_json(path: str, value: Any) -> None:
    _decode_or_refuse(path, json.dumps(value).encode())


@given(paths, st.binary(max_size=200))
def test_random_bytes(path: str, body: bytes) -> None:
    _decode_or_refuse(path, body)


def _mutate(data: st.DataObject, value: Any) -> Any:
    if not isinstance(value, dict | list) or not value or data.draw(st.booleans()):
        return data.draw(json_values)
    if isinstance(value, dict):
        key = data.draw(st.sampled_from(sorted(value)))
        return {**value, key: _mutate(data, value[key])}
    index = data.draw(st.integers(min_value=0, max_value=len(value) - 1))
    return [*value[:index], _mutate(data, value[index]), *value[index + 1 :]]


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(st.sampled_from(CAPTURES or [("", "")]), st.integers(min_value=1, max_value=4), st.data())
def test_mutated_captures(capture: tuple[str, str], mutations: int, data: st.DataObject) -> None:
    relative, path = capture
    value = raw_json(relative)
    for _ in range(mutations):
        value = _mutate(data, value)
    _decode_or_refuse(path, json.dumps(value).encode())


# --- the snapshot --------------------------------------------------------------------------------

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_snapshot_names_match_the_registry() -> None:
    sources = {e.name for e in READ_ENDPOINTS.values()} | {"vitals", "signed_config"}
    assert set(ENDPOINT_NAMES) == sources
    for endpoint in READ_ENDPOINTS.values():
        field_type = GatewaySnapshot.__dataclass_fields__[endpoint.name].type
        assert endpoint.model.__name__ in str(field_type)


def test_snapshot_merge_keeps_what_the_newer_poll_did_not_read() -> None:
    slow = GatewaySnapshot(
        taken_at=T0, site_info=SiteInfo(site_name="Home"), soe=Soe(percentage=40)
    )
    assert slow.fresh == {"site_info", "soe"}
    fast = GatewaySnapshot(taken_at=T0 + timedelta(seconds=5), soe=Soe(percentage=41))
    merged = slow.merged(fast)
    assert merged.taken_at == fast.taken_at
    assert merged.soe == Soe(percentage=41)
    assert merged.site_info == SiteInfo(site_name="Home")
    assert merged.fresh == {"soe"}
    assert merged.get("site_info") is slow.site_info
    again = merged.merged(GatewaySnapshot(taken_at=T0 + timedelta(seconds=10)))
    assert again.fresh == frozenset()
    assert again.soe == Soe(percentage=41)


def test_snapshot_rules() -> None:
    with pytest.raises(ValueError, match="UTC"):
        GatewaySnapshot(taken_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="UTC"):
        GatewaySnapshot(taken_at=datetime(2026, 1, 1, tzinfo=MST))
    with pytest.raises(KeyError):
        GatewaySnapshot(taken_at=T0).get("taken_at")
    snapshot = GatewaySnapshot(taken_at=T0)
    with pytest.raises(AttributeError):
        snapshot.soe = Soe(percentage=1)  # type: ignore[misc]


def test_snapshot_from_captures() -> None:
    models: dict[str, BaseModel] = {}
    for relative, path in CAPTURES:
        if relative.startswith(f"{V2144}/running/"):
            models[READ_ENDPOINTS[path].name] = load(relative, path)
    snapshot = GatewaySnapshot(taken_at=T0, **models)  # type: ignore[arg-type]
    assert snapshot.fresh == set(models)
    assert snapshot.aggregates is not None
    assert snapshot.aggregates.site is not None
    assert snapshot.aggregates.site.instant_power == 72.0
