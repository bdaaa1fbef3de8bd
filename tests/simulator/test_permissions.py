"""Each profile's permission table, from the outside: role x endpoint x profile -> status.

The expectations are written out here independently of `profiles.py`, following the research
note: customer writes refused since ~2019 (403), customer islanding refused since ~24.44/25.2,
vitals before 23.44 only (404 after), `/api/solar_powerwall` on 23.44+, and only three endpoints
on a PW3. `/tedapi/din` from 23.44 on (not on the restricted PW3 surface); `/tedapi/v1r` only on
26.26 and pw3, where the signature, not a session, authorises it (an empty body is a 400).
"""

from __future__ import annotations

from typing import Any

import pytest

from pw2mqtt.simulator import PROFILES, GatewaySimulator

from .conftest import CUSTOMER, INSTALLER, Client, options

READS = [
    "/api/meters/aggregates",
    "/api/system_status/soe",
    "/api/system_status/grid_status",
    "/api/system_status",
    "/api/system_status/grid_faults",
    "/api/sitemaster",
    "/api/operation",
    "/api/site_info",
    "/api/site_info/site_name",
    "/api/powerwalls",
    "/api/meters/site",
    "/api/meters/solar",
    "/api/system/update/status",
    "/api/networks",
    "/api/config",
]
PW3_READS = {"/api/meters/aggregates", "/api/system_status/soe", "/api/system_status/grid_status"}

# (method, path, json body) in an order that leaves the site usable after each step.
WRITES: list[tuple[str, str, Any]] = [
    ("POST", "/api/operation", {"real_mode": "self_consumption", "backup_reserve_percent": 30}),
    ("GET", "/api/config/completed", None),
    ("POST", "/api/v2/islanding/mode", {"island_mode": "backup"}),
    ("POST", "/api/sitemaster/stop", None),
    ("GET", "/api/sitemaster/run", None),
    ("GET", "/api/sitemaster/stop", None),
]
WRITE_OK = {
    ("POST", "/api/operation"): 200,
    ("GET", "/api/config/completed"): 202,
    ("POST", "/api/v2/islanding/mode"): 200,
    ("POST", "/api/sitemaster/stop"): 202,
    ("GET", "/api/sitemaster/run"): 202,
    ("GET", "/api/sitemaster/stop"): 202,  # firmware 1.50, as the seed documents it
}


def expected(profile: str, role: str | None) -> dict[tuple[str, str], int]:
    """What a real gateway of this firmware answers this role (None = not logged in)."""
    restricted = profile in ("pw3-restricted", "pw3")
    table: dict[tuple[str, str], int] = {}
    for path in READS:
        ok = not restricted or path in PW3_READS
        if profile == "1.50" and path == "/api/system_status/grid_faults":
            ok = False  # 1.50.1 has the list inside /api/system_status only
        table["GET", path] = (200 if role else 401) if ok else 404
    table["GET", "/api/status"] = 404 if restricted else 200
    has_vitals = profile in ("1.50", "21.44")
    table["GET", "/api/devices/vitals"] = (200 if role else 401) if has_vitals else 404
    has_pvac = profile in ("23.44", "25.10", "26.26")
    has_din = profile in ("23.44", "25.10", "26.26", "pw3")
    table["GET", "/tedapi/din"] = (200 if role else 401) if has_din else 404
    table["POST", "/tedapi/v1r"] = 400 if profile in ("26.26", "pw3") else 404
    table["GET", "/api/solar_powerwall"] = (200 if role else 401) if has_pvac else 404
    for method, path, _ in WRITES:
        key = (method, path)
        if restricted:
            table[key] = 404
        elif key == ("GET", "/api/sitemaster/stop") and profile != "1.50":
            table[key] = 405  # newer firmware: "not actually a GET"
        elif role is None:
            table[key] = 401
        elif role == "installer" or profile == "1.50":
            table[key] = WRITE_OK[key]
        elif key == ("POST", "/api/v2/islanding/mode") and profile in ("21.44", "23.44"):
            table[key] = 200
        else:
            table[key] = 403
    table["GET", "/api/no/such/thing"] = 404
    return table


async def observe(client: Client) -> dict[tuple[str, str], int]:
    seen: dict[tuple[str, str], int] = {}
    for path in [*READS, "/api/status", "/api/devices/vitals", "/api/solar_powerwall"]:
        seen["GET", path] = (await client.get(path)).status
    seen["GET", "/tedapi/din"] = (await client.get("/tedapi/din")).status
    seen["POST", "/tedapi/v1r"] = (await client.post("/tedapi/v1r", data=b"")).status
    for method, path, body in WRITES:
        seen[method, path] = (await client.request(method, path, json=body)).status
    seen["GET", "/api/no/such/thing"] = (await client.get("/api/no/such/thing")).status
    return seen


@pytest.mark.parametrize("role", ["customer", "installer", None])
@pytest.mark.parametrize("profile", sorted(PROFILES))
async def test_permission_table(profile: str, role: str | None) -> None:
    async with GatewaySimulator(options(profile=profile)) as sim:
        client = Client(sim)
        if role is not None:
            login = await client.login(CUSTOMER if role == "customer" else INSTALLER)
            assert login.status == 200  # login works on every profile, PW3 included
        seen = await observe(client)
        await client.close()
    assert seen == expected(profile, role)


async def test_forbidden_body_is_the_real_one() -> None:
    async with GatewaySimulator(options(profile="21.44")) as sim:
        client = Client(sim)
        await client.login()
        answer = await client.post("/api/operation", json={"real_mode": "backup"})
        await client.close()
    assert answer.status == 403
    assert answer.json == {
        "code": 403,
        "error": "Unable to POST to resource",
        "message": "User does not have adequate access rights",
    }


async def test_customer_islanding_refused_on_25_10() -> None:
    async with GatewaySimulator(options(profile="25.10")) as sim:
        client = Client(sim)
        await client.login()
        body = {"island_mode": "intentional_reconnect_failsafe"}
        answer = await client.post("/api/v2/islanding/mode", json=body)
        await client.close()
        assert sim.state.grid_status == "SystemGridConnected"
    assert answer.status == 403
    assert answer.json["message"] == "User does not have adequate access rights"


async def test_set_profile_switches_the_table_live(sim: GatewaySimulator, customer: Client) -> None:
    assert (await customer.get("/api/solar_powerwall")).status == 404
    assert (await customer.get("/api/devices/vitals")).status == 200
    sim.set_profile("23.44")
    assert (await customer.get("/api/solar_powerwall")).status == 200
    assert (await customer.get("/api/devices/vitals")).status == 404
    status = (await customer.get("/api/status")).json
    assert status["version"] == "23.44.0 9064fc6a"
    sim.set_profile("pw3-restricted")
    assert (await customer.get("/api/status")).status == 404
    assert (await customer.get("/api/system_status/soe")).status == 200
