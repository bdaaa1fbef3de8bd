"""Faults on demand: latency, 5xx share, 503 busy, reset, hang, reboot."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from pw2mqtt.simulator import GatewaySimulator
from pw2mqtt.simulator.faults import FaultConfig

from .conftest import Client

SOE = "/api/system_status/soe"


async def test_latency_and_jitter(sim: GatewaySimulator, customer: Client) -> None:
    sim.set_faults(latency=0.15, jitter=0.1)
    for _ in range(3):
        start = time.monotonic()
        assert (await customer.get(SOE)).status == 200
        elapsed = time.monotonic() - start
        assert 0.15 <= elapsed < 0.6
    sim.clear_faults()
    start = time.monotonic()
    await customer.get(SOE)
    assert time.monotonic() - start < 0.1


async def test_error_rate_gives_that_share_of_5xx(sim: GatewaySimulator, customer: Client) -> None:
    sim.set_faults(error_rate=0.3)
    statuses = [(await customer.get(SOE)).status for _ in range(200)]
    errors = [s for s in statuses if s != 200]
    assert all(500 <= s <= 504 for s in errors)
    assert 0.18 <= len(errors) / len(statuses) <= 0.42
    assert [c.status for c in sim.calls[-200:]] == statuses


async def test_busy_answers_503_with_a_body(sim: GatewaySimulator, customer: Client) -> None:
    sim.set_faults(busy=True)
    answer = await customer.get(SOE)
    assert answer.status == 503
    assert answer.json["code"] == 503
    assert set(answer.json) == {"code", "error", "message"}
    sim.clear_faults()
    assert (await customer.get(SOE)).status == 200


async def test_reset_drops_the_connection(sim: GatewaySimulator, customer: Client) -> None:
    sim.set_faults(reset=True)
    with pytest.raises(aiohttp.ClientError):
        await customer.get(SOE)
    assert sim.calls[-1].path == SOE
    assert sim.calls[-1].status == 0
    sim.clear_faults()
    assert (await customer.get(SOE)).status == 200


async def test_hang_never_answers(sim: GatewaySimulator, customer: Client) -> None:
    sim.set_faults(hang=True)
    with pytest.raises(asyncio.TimeoutError):
        await customer.get(SOE, timeout=aiohttp.ClientTimeout(total=0.3))
    sim.clear_faults()
    assert (await customer.get(SOE)).status == 200


async def test_reboot_refuses_then_recovers(sim: GatewaySimulator, customer: Client) -> None:
    before = (await customer.get("/api/status")).json["up_time_seconds"]
    assert "h" in before
    start = time.monotonic()
    await sim.reboot(downtime=0.4)
    assert time.monotonic() - start < 0.3  # returns once the listener is closed
    assert not sim.is_up
    with pytest.raises(aiohttp.ClientConnectorError):
        await customer.get(SOE)
    await sim.wait_up(timeout=5)
    assert (await customer.get(SOE)).status == 401  # sessions did not survive
    assert (await customer.login()).status == 200
    assert (await customer.get(SOE)).status == 200
    after = (await customer.get("/api/status")).json["up_time_seconds"]
    assert "h" not in after


async def test_reboot_drops_hanging_requests(sim: GatewaySimulator, customer: Client) -> None:
    sim.set_faults(hang=True)
    pending = asyncio.create_task(customer.get(SOE))
    await asyncio.sleep(0.1)
    await sim.reboot(downtime=0.1)
    with pytest.raises(aiohttp.ClientError):
        await asyncio.wait_for(pending, 2)
    await sim.wait_up(timeout=5)


async def test_error_status_fixes_the_5xx(sim: GatewaySimulator, customer: Client) -> None:
    sim.set_faults(error_rate=0.5, error_status=500)
    statuses = {(await customer.get(SOE)).status for _ in range(40)}
    assert statuses == {200, 500}


async def test_endpoint_faults_touch_only_their_path(
    sim: GatewaySimulator, customer: Client
) -> None:
    sim.set_faults(endpoints={"/api/system_status": "html", SOE: "503"})
    page = await customer.get("/api/system_status")
    busy = await customer.get(SOE)
    other = await customer.get("/api/system_status/grid_status")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.raw.lstrip().startswith(b"<")
    assert busy.status == 503
    assert busy.json["code"] == 503
    assert other.status == 200
    assert other.json["grid_status"]
    sim.clear_faults()
    assert (await customer.get("/api/system_status")).json["battery_blocks"]


def test_endpoint_faults_are_checked() -> None:
    with pytest.raises(ValueError, match="endpoints"):
        FaultConfig.from_mapping({"endpoints": {"api/soe": "html"}})
    with pytest.raises(ValueError, match="endpoints"):
        FaultConfig.from_mapping({"endpoints": {SOE: "418"}})
    with pytest.raises(ValueError, match="error_status"):
        FaultConfig.from_mapping({"error_status": 404})
