"""Payload details that clients trip over: Go durations, RFC 3339 nanoseconds, int vs float."""

from __future__ import annotations

import re

import pytest

from pw2mqtt.simulator import GatewaySimulator
from pw2mqtt.simulator.timefmt import go_duration, rfc3339, start_time_text
from pw2mqtt.simulator.weather import load_zone

from .conftest import Client, options

RFC3339_NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?([+-]\d\d:\d\d|Z)$")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (230 * 3600 + 55 * 60 + 59.93, "230h55m59.93s"),
        (3600, "1h0m0s"),
        (61, "1m1s"),
        (1.5, "1.5s"),
        (0.25, "250ms"),
        (0, "0s"),
    ],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_rfc3339_with_offset_and_trimmed_nanoseconds() -> None:
    zone = load_zone("America/Los_Angeles")
    assert rfc3339(1_640_549_362.5, zone) == "2021-12-26T12:09:22.5-08:00"
    assert rfc3339(1_640_549_362.0, zone) == "2021-12-26T12:09:22-08:00"
    assert rfc3339(1_640_549_362.0, load_zone("UTC")) == "2021-12-26T20:09:22Z"
    assert start_time_text(1_639_664_005) == "2021-12-16 22:13:25 +0800"


async def test_modern_payload_types(sim: GatewaySimulator, customer: Client) -> None:
    agg = (await customer.get("/api/meters/aggregates")).json
    for meter in ("site", "battery", "load", "solar"):
        assert isinstance(agg[meter]["instant_power"], int)
        assert RFC3339_NANO.match(agg[meter]["last_communication_time"])
        assert agg[meter]["timeout"] == 1_500_000_000
    assert isinstance(agg["battery"]["energy_exported"], int)
    assert isinstance(agg["site"]["energy_imported"], float)
    assert "num_meters_aggregated" not in agg["load"]
    assert isinstance((await customer.get("/api/system_status/soe")).json["percentage"], float)
    status = (await customer.get("/api/status")).json
    assert re.match(r"^\d+h\d+m[\d.]+s$", status["up_time_seconds"])
    assert status["din"] == sim.din
    assert status["version"] == "21.44 223a56cd"
    update = (await customer.get("/api/system/update/status")).json
    assert update["current_time"] > 1_600_000_000_000  # epoch milliseconds
    assert (await customer.get("/api/config")).json == {"vin": sim.din}
    answer = await customer.get("/api/system_status")
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["Cache-Control"] == "no-cache, no-store"


async def test_old_firmware_shapes() -> None:
    async with GatewaySimulator(options(profile="1.50")) as sim:
        client = Client(sim)
        await client.login()
        status = (await client.get("/api/status")).json
        agg = (await client.get("/api/meters/aggregates")).json
        await client.close()
    assert status["device_type"] == "hec"
    assert status["version"].startswith("1.50.1")
    assert "din" not in status
    assert isinstance(agg["site"]["instant_power"], float)
    assert isinstance(agg["battery"]["instant_power"], int)
    assert "last_phase_power_communication_time" not in agg["site"]
    site, battery, load, solar = (
        agg[m]["instant_power"] for m in ("site", "battery", "load", "solar")
    )
    assert abs(site - (load - solar - battery)) < 1e-6


async def test_solar_powerwall_on_23_44() -> None:
    async with GatewaySimulator(options(profile="23.44")) as sim:
        sim.set_solar(3000)
        client = Client(sim)
        await client.login()
        body = (await client.get("/api/solar_powerwall")).json
        status = (await client.get("/api/status")).json
        await client.close()
    assert body["pvac_status"]["p_out"] == 3000
    assert sum(s["measured_power"] for s in body["pvac_status"]["string_vitals"]) == 3000
    assert status["teg_type"] == "unknown"
    assert status["can_reboot"] is True


async def test_vitals_are_protobuf_on_21_44(sim: GatewaySimulator, customer: Client) -> None:
    answer = await customer.get("/api/devices/vitals")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/octet-stream"
    assert answer.raw[:1] == b"\x0a"  # field 1 (devices), length-delimited
    provider = sim.core.vitals
    assert provider is not None
    assert answer.raw == provider(sim.state)  # the clock is frozen: same instant, same bytes
