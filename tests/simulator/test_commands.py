"""Operation staging, islanding transitions, sitemaster stop/run, outages and the call log."""

from __future__ import annotations

from pw2mqtt.simulator import GatewaySimulator

from .conftest import INSTALLER, Client

GRID = "/api/system_status/grid_status"
DATA = [
    "/api/meters/aggregates",
    "/api/system_status/soe",
    "/api/system_status/grid_status",
    "/api/system_status",
    "/api/system_status/grid_faults",
]


async def test_operation_is_staged_then_applied(sim: GatewaySimulator, client: Client) -> None:
    await client.login(INSTALLER)
    body = {"real_mode": "backup", "backup_reserve_percent": 43.0}
    answer = await client.post("/api/operation", json=body)
    assert answer.status == 200
    assert answer.json == body
    current = (await client.get("/api/operation")).json
    assert current["real_mode"] == "self_consumption"  # not yet
    assert current["backup_reserve_percent"] == 24.0
    assert (await client.get("/api/config/completed")).status == 202
    current = (await client.get("/api/operation")).json
    assert current["real_mode"] == "backup"
    assert current["backup_reserve_percent"] == 43.0


async def test_operation_accepts_the_old_mode_key(sim: GatewaySimulator, client: Client) -> None:
    await client.login(INSTALLER)
    body = {"mode": "autonomous", "backup_reserve_percent": 5.000019999999999}
    answer = await client.post("/api/operation", json=body)
    assert answer.json == body
    await client.get("/api/config/completed")
    assert sim.state.mode == "autonomous"
    assert sim.state.backup_reserve_percent == 5.000019999999999


async def test_operation_rejects_nonsense(sim: GatewaySimulator, client: Client) -> None:
    await client.login(INSTALLER)
    for body in ({"real_mode": "party"}, {"backup_reserve_percent": 140}, {}):
        assert (await client.post("/api/operation", json=body)).status == 400
    await client.get("/api/config/completed")
    assert sim.state.mode == "self_consumption"


async def test_customer_write_403_never_changes_anything(
    sim: GatewaySimulator, customer: Client
) -> None:
    body = {"real_mode": "backup", "backup_reserve_percent": 80}
    assert (await customer.post("/api/operation", json=body)).status == 403
    assert (await customer.get("/api/config/completed")).status == 403
    assert sim.state.mode == "self_consumption"
    assert sim.state.staged_mode is None
    calls = [(c.method, c.path, c.status, c.role) for c in sim.calls]
    assert calls[-2:] == [
        ("POST", "/api/operation", 403, "customer"),
        ("GET", "/api/config/completed", 403, "customer"),
    ]
    assert sim.calls[-2].body == body


async def test_islanding_walks_through_the_transitions(
    sim: GatewaySimulator, customer: Client
) -> None:
    off = {"island_mode": "intentional_reconnect_failsafe"}
    answer = await customer.post("/api/v2/islanding/mode", json=off)
    assert answer.status == 200
    assert answer.json == off
    assert (await customer.get(GRID)).json["grid_status"] == "SystemTransitionToIsland"
    sim.advance(1)
    assert (await customer.get(GRID)).json["grid_status"] == "SystemTransitionToIsland"
    sim.advance(1.5)
    assert (await customer.get(GRID)).json["grid_status"] == "SystemIslandedActive"
    assert sim.state.grid_w == 0
    status = (await customer.get("/api/system_status")).json
    assert status["system_island_state"] == "SystemIslandedActive"

    on = {"island_mode": "backup"}
    assert (await customer.post("/api/v2/islanding/mode", json=on)).json == on
    assert (await customer.get(GRID)).json["grid_status"] == "SystemTransitionToGrid"
    sim.advance(5.5)
    assert (await customer.get(GRID)).json["grid_status"] == "SystemGridConnected"


async def test_outage_islands_by_itself_and_reconnects(
    sim: GatewaySimulator, customer: Client
) -> None:
    sim.start_outage()
    assert (await customer.get(GRID)).json["grid_status"] == "SystemIslandedActive"
    agg = (await customer.get("/api/meters/aggregates")).json
    assert agg["site"]["instant_power"] == 0
    faults = (await customer.get("/api/system_status/grid_faults")).json
    assert len(faults) == 1
    assert isinstance(faults[0]["timestamp"], int)
    # Asking to reconnect during an outage changes nothing until the grid is back.
    await customer.post("/api/v2/islanding/mode", json={"island_mode": "backup"})
    assert (await customer.get(GRID)).json["grid_status"] == "SystemIslandedActive"
    sim.end_outage()
    assert (await customer.get(GRID)).json["grid_status"] == "SystemTransitionToGrid"
    sim.advance(10)
    assert (await customer.get(GRID)).json["grid_status"] == "SystemGridConnected"


async def test_sitemaster_stop_gives_502_until_run(sim: GatewaySimulator, client: Client) -> None:
    await client.login(INSTALLER)
    assert (await client.get("/api/sitemaster/stop")).status == 405
    assert (await client.post("/api/sitemaster/stop")).status == 202
    for path in DATA:
        answer = await client.get(path)
        assert answer.status == 502, path
        assert answer.raw == b""
    sitemaster = (await client.get("/api/sitemaster")).json
    assert sitemaster["status"] == "StatusDown"
    assert sitemaster["running"] is False
    assert sim.state.battery_w == 0
    assert (await client.get("/api/operation")).status == 200  # not a data endpoint
    assert (await client.get("/api/sitemaster/run")).status == 202
    assert (await client.get("/api/system_status/soe")).status == 200
    assert (await client.get("/api/sitemaster")).json["status"] == "StatusUp"


async def test_call_log_and_login_count(sim: GatewaySimulator, client: Client) -> None:
    await client.login()
    await client.get("/api/system_status/soe")
    await client.get("/api/nope")
    assert sim.logins == 1
    log = [(c.method, c.path, c.status) for c in sim.calls]
    assert log == [
        ("POST", "/api/login/Basic", 200),
        ("GET", "/api/system_status/soe", 200),
        ("GET", "/api/nope", 404),
    ]
    assert sim.calls[0].body["password"] == "***"
    assert sim.calls[0].role == "customer"
    sim.clear_calls()
    assert sim.calls == []
