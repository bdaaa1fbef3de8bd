"""The plain-HTTP control API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from pw2mqtt.simulator import GatewaySimulator
from pw2mqtt.simulator.control import ControlServer

from .conftest import Client, options

_URLS: dict[int, str] = {}


@pytest.fixture
async def controlled() -> AsyncIterator[GatewaySimulator]:
    async with GatewaySimulator(options(control_port=0)) as sim, ControlServer(sim) as server:
        _URLS[id(sim)] = server.url
        yield sim
        del _URLS[id(sim)]


async def control(sim: GatewaySimulator, method: str, path: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, _URLS[id(sim)] + path, json=body) as response,
    ):
        if response.status == 204:
            return None
        data = await response.json()
        if response.status != 200:
            return response.status, data
        return data


async def test_control_url_is_plain_http_on_loopback(controlled: GatewaySimulator) -> None:
    assert _URLS[id(controlled)].startswith("http://127.0.0.1:")


async def test_state_and_setters(controlled: GatewaySimulator) -> None:
    state = await control(controlled, "GET", "/state")
    assert state["din"] == controlled.din
    assert state["profile"] == "21.44"
    assert state["site"]["soe"] == 60.0
    state = await control(controlled, "POST", "/soe", {"value": 80})
    assert state["site"]["soe"] == 80.0
    state = await control(controlled, "POST", "/solar", {"value": 4321})
    assert state["site"]["solar_w"] == 4321
    state = await control(controlled, "POST", "/solar", {"value": None})
    assert state["site"]["solar_override"] is None
    state = await control(controlled, "POST", "/load", {"value": 1500})
    assert state["site"]["load_w"] == 1500
    state = await control(controlled, "POST", "/outage", {"active": True})
    assert state["site"]["grid_status"] == "SystemIslandedActive"
    state = await control(controlled, "POST", "/outage", {"active": False})
    assert state["site"]["grid_status"] == "SystemTransitionToGrid"
    before = state["site"]["time"]
    state = await control(controlled, "POST", "/advance", {"seconds": 60})
    assert state["site"]["time"] == before + 60
    assert state["site"]["grid_status"] == "SystemGridConnected"
    state = await control(controlled, "POST", "/profile", {"name": "23.44"})
    assert state["version"] == "23.44.0 9064fc6a"
    state = await control(controlled, "POST", "/faults", {"latency": 0.01, "error_rate": 0.1})
    assert state["faults"]["error_rate"] == 0.1
    state = await control(controlled, "POST", "/faults", {})
    assert state["faults"]["error_rate"] == 0.0


async def test_endpoint_fault_through_the_control_api(controlled: GatewaySimulator) -> None:
    body = {"endpoints": {"/api/system_status": "html", "/api/operation": "503"}}
    state = await control(controlled, "POST", "/faults", body)
    assert state["faults"]["endpoints"] == body["endpoints"]
    client = Client(controlled)
    await client.login()
    page = await client.get("/api/system_status")
    soe = await client.get("/api/system_status/soe")
    await client.close()
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert soe.status == 200
    status, answer = await control(controlled, "POST", "/faults", {"endpoints": {"x": "html"}})
    assert status == 400
    assert "endpoints" in answer["error"]


async def test_bad_requests_get_400(controlled: GatewaySimulator) -> None:
    status, body = await control(controlled, "POST", "/soe", {"value": "high"})
    assert status == 400
    assert "number" in body["error"]
    status, _ = await control(controlled, "POST", "/profile", {"name": "99.99"})
    assert status == 400
    status, _ = await control(controlled, "POST", "/faults", {"explode": True})
    assert status == 400
    status, _ = await control(controlled, "POST", "/nothing", {})
    assert status == 404


async def test_sessions_reboot_and_calls(controlled: GatewaySimulator) -> None:
    client = Client(controlled)
    await client.login()
    assert (await control(controlled, "GET", "/state"))["sessions"] == 1
    await control(controlled, "POST", "/expire_sessions")
    assert (await client.get("/api/system_status/soe")).status == 401
    log = await control(controlled, "GET", "/calls")
    assert [c["path"] for c in log["calls"]] == ["/api/login/Basic", "/api/system_status/soe"]
    assert log["next"] == 2
    later = await control(controlled, "GET", "/calls?since=1")
    assert [c["index"] for c in later["calls"]] == [1]
    assert await control(controlled, "DELETE", "/calls") is None
    assert (await control(controlled, "GET", "/calls"))["calls"] == []
    state = await control(controlled, "POST", "/reboot", {"downtime": 0.2})
    assert state["up"] is False
    await controlled.wait_up(timeout=5)
    assert (await client.get("/api/status")).status == 200
    await client.close()
