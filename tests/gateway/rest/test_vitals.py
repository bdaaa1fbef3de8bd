"""`/api/devices/vitals`: the real capture, the simulator's encoder over HTTPS, hostile bytes."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pw2mqtt.config import GatewaySettings
from pw2mqtt.errors import EndpointUnsupportedError, GatewayResponseError
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.rest.models import SYSTEM_STATUS
from pw2mqtt.gateway.rest.vitals import (
    VITALS_PATH,
    Alert,
    Device,
    DeviceVitals,
    decode_vitals,
    encode_vitals,
    read_vitals,
)
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from tests.fixtures import FIXTURES

CAPTURE = FIXTURES / "pypowerwall/pwsimulator/api.devices.vitals.protobuf.bin"
NOON = 1_717_225_200.0 + 12 * 3600  # 2024-06-01 12:00 in America/Los_Angeles


@pytest.fixture(scope="module")
def capture() -> bytes:
    return CAPTURE.read_bytes()


# --- the real capture (firmware 23.36) ----------------------------------------------------------


def test_capture_devices(capture: bytes) -> None:
    vitals = decode_vitals(capture)
    assert len(capture) == 7073
    assert [d.kind for d in vitals.devices] == [
        "STSTSM",
        "TETHC",
        "TEPOD",
        "TEPINV",
        "TETHC",
        "TEPOD",
        "TEPINV",
        "PVAC",
        "PVS",
        "TESYNC",
        "TESLA",
        "NEURIO",
        "TESLA",
    ]
    gateway = vitals.gateway
    assert gateway is not None
    assert gateway.din == "STSTSM--1232100-00-E--T0000000000000"
    assert gateway.ecu_type == 207
    assert gateway.part_number == "1232100-00-E"
    assert gateway.serial_number == "T0000000000000"
    assert gateway.manufacturer == "TESLA"
    assert gateway.firmware_version == "2023-11-30-g6e07d12eea"
    assert gateway.parent_din is None
    assert gateway.last_communication == datetime.fromtimestamp(1708880456, UTC)
    assert gateway.vitals == {"STSTSM-Location": "Gateway"}
    assert gateway.alerts == (
        "GridCodesWrite",
        "GridCodesWrite",
        "SystemConnectedToGrid",
        "FWUpdateSucceeded",
        "PodCommissionTime",
    )
    pod = vitals.device("TEPOD--1081100-13-V--T0000000000")
    assert pod is not None
    assert pod.parent_din == "TETHC--2012170-25-E--T0000000000000"
    assert pod.vitals["POD_nom_energy_remaining"] == 4715.0
    assert pod.vitals["POD_state"] == "POD_ACTIVE"
    assert pod.vitals["POD_enable_line"] is True
    assert len(pod.vitals) == 14
    neurio = vitals.device("NEURIO--V000000000000")
    assert neurio is not None
    assert neurio.ecu_type is None
    assert neurio.meter_locations == (5,)
    assert neurio.manufacturer == "NEURIO"
    assert neurio.address == "PWRview-73533"
    site_meter = vitals.device("TESLA--J0000000000000")
    assert site_meter is not None
    assert site_meter.meter_locations == (1,)
    assert site_meter.vitals == {}
    pv_record = vitals.device("TESLA--1538100-00-F--C0000000000000")
    assert pv_record is not None
    assert pv_record.nameplate_power_w == 7680
    assert sum(len(d.vitals) for d in vitals.devices) == 156


def test_capture_alerts(capture: bytes) -> None:
    vitals = decode_vitals(capture)
    assert vitals.alert_names == (
        "FWUpdateSucceeded",
        "GridCodesWrite",
        "PINV_a067_overvoltageNeutralChassis",
        "PVS_a018_MciStringB",
        "PVS_a060_MciClose",
        "PodCommissionTime",
        "SYNC_a001_SW_App_Boot",
        "SYNC_a046_DoCloseArguments",
        "SystemConnectedToGrid",
    )
    assert len(vitals.alerts) == 10  # GridCodesWrite twice on the gateway counts once
    assert not vitals.has_fault
    assert {a.severity for a in vitals.alerts} == {"info", "alert"}


def test_capture_typed_views(capture: bytes) -> None:
    vitals = decode_vitals(capture)
    (pv,) = vitals.pv_inverters
    assert pv.din == "PVAC--1538100-00-F--C0000000000000"
    assert pv.power_w == 1960.0
    assert pv.state == "PVAC_Active"
    assert pv.shutdown_state == "PVS_Active"
    assert pv.lifetime_energy_wh == 27695260.0
    assert [s.name for s in pv.strings] == ["A", "B", "C", "D"]
    assert [s.power_w for s in pv.strings] == [441.0, 0.0, 746.0, 731.0]
    assert [s.connected for s in pv.strings] == [True, False, True, True]
    assert [s.state for s in pv.strings][-1] == "PV_Active_Parallel"
    assert pv.strings[0].voltage_v == pytest.approx(256.9)
    assert pv.alerts == ("PVS_a018_MciStringB", "PVS_a060_MciClose")

    first, second = vitals.battery_inverters
    assert first.power_w == pytest.approx(-540.0)  # PINV_Pout is -0.54 kW
    assert second.power_w == pytest.approx(-520.0)
    assert first.voltage_l1_v == 121.0
    assert first.state == "PINV_GridFollowing"
    assert first.power_limiter == "PWRLIM_POD_Power_Limit"

    pods = vitals.battery_pods
    assert [p.energy_remaining_wh for p in pods] == [4715.0, 4504.0]
    assert [p.full_pack_energy_wh for p in pods] == [13148.0, 12572.0]
    assert [p.available_charge_power_w for p in pods] == [6340.0, 7000.0]
    assert pods[0].percentage == pytest.approx(4715 / 13148 * 100)

    assert [(t.kind, t.name, t.celsius) for t in vitals.temperatures] == [
        ("TETHC", "THC_AmbientTemp", pytest.approx(15.6)),
        ("TETHC", "THC_AmbientTemp", pytest.approx(15.2)),
    ]

    sync = vitals.synchronizer
    assert sync is not None
    assert sync.grid_connected is True
    assert sync.grid_state == "ISLAND_GridState_Grid_Compliant"
    assert [p.phase for p in sync.phases] == ["L1", "L2", "L3"]
    assert sync.phases[0].main_voltage_v == 121.5
    assert sync.phases[2].microgrid_ok is False

    meters = {m.meter: m for m in vitals.meters}
    assert set(meters) == {"METER_X", "METER_Y", "NEURIO"}
    assert meters["METER_X"].real_power_w == 205.0 - 147.0
    assert meters["METER_X"].energy_imported_wh == 11189568.0
    assert dict(meters["METER_X"].phase_voltages_v) == {"L1": 120.83, "L2": 121.09, "L3": 0.0}
    assert meters["NEURIO"].cts[0].location == "solarRGM"
    assert meters["NEURIO"].real_power_w == pytest.approx(1936.36)


def test_capture_round_trips_through_the_encoder(capture: bytes) -> None:
    vitals = decode_vitals(capture)
    encoded = encode_vitals(vitals)
    assert decode_vitals(encoded) == vitals
    # Only what the model leaves out differs: two empty connection records (TESLA-- devices).
    assert len(encoded) == len(capture) - 5


def test_vitals_are_read_only(capture: bytes) -> None:
    device = decode_vitals(capture).devices[0]
    with pytest.raises(TypeError):
        device.vitals["STSTSM-Location"] = "Elsewhere"  # type: ignore[index]


# --- hand-made values -----------------------------------------------------------------------------


def test_kind_names() -> None:
    assert Device(din="X--1", ecu_type=300).kind == "TEMSA"
    assert Device(din="X--1", ecu_type=999).kind == "ECU_999"
    assert Device(din="NEURIO--V1").kind == "NEURIO"
    assert Device(din="no-separator").kind == "UNKNOWN"


def test_alert_severity() -> None:
    assert Alert("d", "POD_f029_HW_CMA_OV").severity == "fault"
    assert Alert("d", "POD_w110_SW_EOC").severity == "warning"
    assert Alert("d", "PINV_a067_overvoltageNeutralChassis").severity == "alert"
    assert Alert("d", "BatteryFault").is_fault
    assert Alert("d", "SystemConnectedToGrid").severity == "info"


def test_odd_values_are_left_out() -> None:
    device = Device(
        din="TETHC--1--2",
        ecu_type=224,
        vitals={"nan": math.nan, "inf": -math.inf, "big": 2**62, "ok": 1.5, "flag": False},
    )
    decoded = decode_vitals(encode_vitals(DeviceVitals((device,))))
    assert decoded.devices[0].vitals == {"big": 2**62, "ok": 1.5, "flag": False}
    assert decoded.devices[0].number("big") == float(2**62)
    assert decoded.devices[0].number("flag") is None
    assert decoded.devices[0].flag("flag") is False


def test_neurio_cts_sort_by_number_even_absurd_ones() -> None:
    huge = "9" * 5000  # more digits than int() accepts
    device = Device(
        din="NEURIO--V1",
        vitals={f"NEURIO_CT{huge}_InstRealPower": 1.0, "NEURIO_CT10_I": 2.0, "NEURIO_CT2_I": 3.0},
    )
    (meter,) = DeviceVitals((device,)).meters
    assert [ct.ct for ct in meter.cts] == ["2", "10", huge]


def test_devices_without_din_and_duplicates() -> None:
    body = encode_vitals(
        DeviceVitals(
            (
                Device(din="", ecu_type=207),
                Device(din="A--1", alerts=("one",)),
                Device(din="A--1", alerts=("two",)),
            )
        )
    )
    vitals = decode_vitals(body)
    assert [(d.din, d.alerts) for d in vitals.devices] == [("A--1", ("one",))]


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)
_VALUE = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
)


@st.composite
def _devices(draw: st.DrawFn) -> DeviceVitals:
    dins = draw(st.lists(_TEXT, min_size=1, max_size=5, unique=True))
    devices = []
    for din in dins:
        ecu_type = draw(st.none() | st.integers(-(2**31), 2**31 - 1))
        nameplate = draw(st.none() | st.integers(0, 2**64 - 1))
        locations = draw(st.lists(st.integers(0, 2**32 - 1), max_size=3).map(tuple))
        if ecu_type is None and nameplate is not None:
            locations = ()  # without ECU attributes a device is either a PV inverter or a meter
        seen = draw(
            st.none()
            | st.datetimes(
                min_value=datetime(1970, 1, 1),
                max_value=datetime(9999, 1, 1),
                timezones=st.just(UTC),
            )
        )
        devices.append(
            Device(
                din=din,
                ecu_type=ecu_type,
                part_number=draw(st.none() | _TEXT),
                serial_number=draw(st.none() | _TEXT),
                manufacturer=draw(st.none() | _TEXT),
                firmware_version=draw(st.none() | _TEXT),
                parent_din=draw(st.none() | _TEXT),
                site_label=draw(st.none() | _TEXT),
                last_communication=seen,
                nameplate_power_w=nameplate,
                meter_locations=locations,
                address=draw(st.none() | _TEXT),
                vitals=draw(st.dictionaries(_TEXT, _VALUE, max_size=6)),
                alerts=tuple(draw(st.lists(st.text(max_size=8), max_size=3))),
            )
        )
    return DeviceVitals(tuple(devices))


@settings(max_examples=200, deadline=None)
@given(_devices())
def test_encode_decode_round_trip(vitals: DeviceVitals) -> None:
    decoded = decode_vitals(encode_vitals(vitals))
    assert decoded == vitals
    for before, after in zip(vitals.devices, decoded.devices, strict=True):
        for name, value in before.vitals.items():
            assert type(after.vitals[name]) is type(value)  # True stays a bool, 1 an int


# --- hostile bytes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "empty"),
        (b'{"code":404,"error":"Not Found"}', "not a vitals protobuf"),
        (b"<html>nope</html>", "not a vitals protobuf"),
        (b"\x0a\x05abc", "not a vitals protobuf"),  # a length running past the end
        (b"\x10\x01", "no devices"),  # a valid message with an unknown varint field only
        (b"\x0a\x02\x0a\x00", "no devices"),  # one device entry without a DIN
        (b"\x0a\x04\x0a\x02\x0a\x00", "no devices"),
    ],
)
def test_bad_bodies_are_typed_errors(body: bytes, why: str) -> None:
    with pytest.raises(GatewayResponseError) as caught:
        decode_vitals(body)
    assert caught.value.endpoint == VITALS_PATH
    assert why in str(caught.value)


def test_invalid_utf8_in_a_string_is_a_typed_error(capture: bytes) -> None:
    at = capture.index(b"STSTSM-Location")
    broken = capture[:at] + b"\xff" + capture[at + 1 :]
    with pytest.raises(GatewayResponseError):
        decode_vitals(broken)


def _decodes_or_fails_typed(body: bytes) -> None:
    try:
        vitals = decode_vitals(body)
    except GatewayResponseError as exc:
        endpoint = exc.endpoint
        assert endpoint == VITALS_PATH, endpoint
        return
    assert isinstance(vitals, DeviceVitals)
    assert vitals.devices
    for device in vitals.devices:  # every view works on whatever decoded
        assert device.din
        assert device.kind
    for view in ("pv_inverters", "battery_inverters", "battery_pods", "temperatures", "meters"):
        getattr(vitals, view)
    _ = (vitals.synchronizer, vitals.alert_names, vitals.has_fault, encode_vitals(vitals))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_fuzzed_bytes(body: bytes) -> None:
    _decodes_or_fails_typed(body)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_truncated_and_corrupted_capture(capture: bytes, data: Any) -> None:
    cut = data.draw(st.integers(0, len(capture)), label="cut")
    body = bytearray(capture[:cut])
    flips = data.draw(st.lists(st.tuples(st.integers(0, 7072), st.integers(0, 255)), max_size=4))
    for at, value in flips:
        if at < len(body):
            body[at] = value
    _decodes_or_fails_typed(bytes(body))


def test_every_truncation_of_the_capture(capture: bytes) -> None:
    for cut in range(len(capture)):
        _decodes_or_fails_typed(capture[:cut])


# --- the simulator's encoder over real HTTPS ----------------------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[GatewaySimulator]:
    options = SimulatorOptions(speed=0.0, start_time=NOON, control_port=None)
    async with GatewaySimulator(options) as simulator:
        yield simulator


def _encoded(sim: GatewaySimulator) -> bytes:
    provider = sim.core.vitals
    assert provider is not None
    return provider(sim.state)


def _client(sim: GatewaySimulator, tmp_path: Path) -> GatewayClient:
    settings_ = GatewaySettings.model_validate(
        {"host": f"localhost:{sim.port}", "password": "Pw2MqttSim", "timeout": 5.0}
    )
    return GatewayClient(settings_, tmp_path / "state")


async def test_simulator_vitals_agree_with_its_state(sim: GatewaySimulator, tmp_path: Path) -> None:
    sim.set_solar(3001)
    async with _client(sim, tmp_path) as client:
        vitals = await read_vitals(client)
        status = await client.read(SYSTEM_STATUS)
    state = sim.state
    assert [c.status for c in sim.calls if c.path == VITALS_PATH] == [200]

    kinds = [d.kind for d in vitals.devices]
    assert kinds.count("TETHC") == kinds.count("TEPOD") == kinds.count("TEPINV") == 2
    assert {"STSTSM", "PVAC", "PVS", "TESYNC", "NEURIO"} <= set(kinds)
    gateway = vitals.gateway
    assert gateway is not None
    assert gateway.din == f"STSTSM--{sim.din}"
    assert "SystemConnectedToGrid" in gateway.alerts

    # Each Powerwall: its thermal controller is the battery block, its pod and inverter agree.
    for block in status.battery_blocks:
        thc = vitals.device(f"TETHC--{block.package_part_number}--{block.package_serial_number}")
        assert thc is not None
        children = {d.kind: d.din for d in vitals.children_of(thc.din)}
        (pod,) = [p for p in vitals.battery_pods if p.din == children["TEPOD"]]
        (inverter,) = [i for i in vitals.battery_inverters if i.din == children["TEPINV"]]
        assert pod.energy_remaining_wh == block.nominal_energy_remaining
        assert pod.full_pack_energy_wh == block.nominal_full_pack_energy
        assert inverter.power_w == pytest.approx(block.p_out)
        assert inverter.state == block.pinv_state
        assert inverter.grid_state == block.pinv_grid_state.raw
    assert sum(p.energy_remaining_wh or 0 for p in vitals.battery_pods) == pytest.approx(
        state.energy_remaining_wh, abs=2
    )
    assert sum(i.power_w or 0 for i in vitals.battery_inverters) == pytest.approx(
        state.battery_w, abs=2
    )

    (pv,) = vitals.pv_inverters
    assert pv.power_w == 3001
    assert math.fsum(s.power_w or 0 for s in pv.strings) == 3001
    assert [s.connected for s in pv.strings] == [True, True, True, False]
    meters = {m.meter: m for m in vitals.meters}
    assert meters["NEURIO"].real_power_w == 3001
    assert meters["METER_X"].real_power_w == pytest.approx(round(state.grid_w))
    assert all(15.0 < t.celsius < 30.0 for t in vitals.temperatures)
    assert len(vitals.temperatures) == 2
    sync = vitals.synchronizer
    assert sync is not None
    assert sync.grid_connected is True


async def test_simulator_vitals_off_grid(sim: GatewaySimulator) -> None:
    sim.start_outage()
    outage = decode_vitals(sim.core.vitals(sim.state))  # type: ignore[misc]
    gateway = outage.gateway
    assert gateway is not None
    assert "UnscheduledIslandContactorOpen" in gateway.alerts
    assert "SystemConnectedToGrid" not in gateway.alerts
    sync = outage.synchronizer
    assert sync is not None
    assert sync.grid_connected is False
    assert sync.phases[0].main_voltage_v == 0.0
    assert {i.state for i in outage.battery_inverters} == {"PINV_GridForming"}
    sim.end_outage()
    sim.advance(60)
    back = decode_vitals(sim.core.vitals(sim.state))  # type: ignore[misc]
    assert back.gateway is not None
    assert "SystemConnectedToGrid" in back.gateway.alerts


async def test_simulator_vitals_on_1_50(tmp_path: Path) -> None:
    options = SimulatorOptions(speed=0.0, start_time=NOON, control_port=None, profile="1.50")
    async with GatewaySimulator(options) as sim:
        sim.set_solar(2000.5)
        async with _client(sim, tmp_path) as client:
            vitals = await read_vitals(client)
    (pv,) = vitals.pv_inverters
    assert pv.power_w == pytest.approx(2000.5)
    assert math.fsum(s.power_w or 0 for s in pv.strings) == pytest.approx(2000.5)


async def test_newer_firmware_has_no_vitals(sim: GatewaySimulator, tmp_path: Path) -> None:
    sim.set_profile("23.44")
    async with _client(sim, tmp_path) as client:
        with pytest.raises(EndpointUnsupportedError):
            await read_vitals(client)
        assert VITALS_PATH in client.unsupported
        with pytest.raises(EndpointUnsupportedError):  # remembered: not asked again
            await read_vitals(client)
    assert [c.status for c in sim.calls if c.path == VITALS_PATH] == [404]


async def test_the_http_body_is_the_encoders(sim: GatewaySimulator, tmp_path: Path) -> None:
    async with _client(sim, tmp_path) as client:
        body = await client.request("GET", VITALS_PATH)
    assert decode_vitals(body) == decode_vitals(sim.core.vitals(sim.state))  # type: ignore[misc]
