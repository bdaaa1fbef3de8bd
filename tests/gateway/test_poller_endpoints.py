"""The poller against the simulator over real HTTPS: one endpoint's failure stays its own.

The poller's clock is moved by the test, so a simulated stretch of minutes takes seconds; every
request is real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pw2mqtt.config import GatewaySettings, PollSettings
from pw2mqtt.errors import GatewayResponseError, SitemasterStoppedError
from pw2mqtt.gateway.poller import GatewayPoller, GatewayUpdate
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions

PASSWORD = "Pw2MqttSim"
POLL = PollSettings(fast=1.0, medium=2.0, slow=60.0, detail=0.0)
SYSTEM_STATUS = "/api/system_status"
AGGREGATES = "/api/meters/aggregates"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Rig:
    """A poller on a test clock; `tick()` moves the clock one second and polls."""

    def __init__(self, sim: GatewaySimulator, client: GatewayClient, poll: PollSettings) -> None:
        self.sim = sim
        self.client = client
        self.clock = Clock()
        self.updates: list[GatewayUpdate] = []
        self.poller = GatewayPoller(client, poll, self.updates.append, clock=self.clock)

    async def tick(self, seconds: float = 1.0) -> GatewayUpdate:
        self.clock.now += seconds
        return await self.poller.poll_once()

    async def run(self, ticks: int) -> list[GatewayUpdate]:
        return [await self.tick() for _ in range(ticks)]

    def requests(self, path: str | None = None, since: int = 0) -> int:
        calls = self.sim.calls[since:]
        return len([c for c in calls if (path is None or c.path == path) and c.method == "GET"])


@pytest.fixture
async def sim() -> AsyncIterator[GatewaySimulator]:
    async with GatewaySimulator(SimulatorOptions(speed=0.0, control_port=None)) as simulator:
        yield simulator


async def rig_for(sim: GatewaySimulator, tmp_path: Path, poll: PollSettings = POLL) -> Rig:
    settings = GatewaySettings.model_validate(
        {"host": f"localhost:{sim.port}", "password": PASSWORD, "timeout": 2.0}
    )
    return Rig(sim, GatewayClient(settings, tmp_path / "state"), poll)


async def test_an_html_page_on_one_endpoint_leaves_the_rest_published(
    sim: GatewaySimulator, tmp_path: Path
) -> None:
    sim.set_faults(endpoints={SYSTEM_STATUS: "html"})
    rig = await rig_for(sim, tmp_path)
    async with rig.client:
        first = await rig.tick(0.0)
        mark = len(sim.calls)
        updates = await rig.run(60)
    assert first.online
    assert first.snapshot is not None
    assert {"aggregates", "soe", "grid_status", "operation", "status"} <= first.snapshot.fresh
    assert first.snapshot.system_status is None
    assert "not valid JSON" in str(first.snapshot.failed["system_status"])
    assert all(update.online for update in updates)
    # Read every 2 s it would be asked 30 times a minute; backing off on its own, a handful.
    assert rig.requests(SYSTEM_STATUS, mark) <= 8
    assert rig.requests(AGGREGATES, mark) == 60


async def test_last_good_values_stay_a_while_then_go(sim: GatewaySimulator, tmp_path: Path) -> None:
    rig = await rig_for(sim, tmp_path)
    async with rig.client:
        await rig.tick(0.0)
        sim.set_faults(endpoints={SYSTEM_STATUS: "html"})
        kept = await rig.run(4)  # medium = 2 s; kept for (offline_after + 1) intervals = 8 s
        gone = await rig.run(6)
    assert all(u.snapshot and u.snapshot.system_status is not None for u in kept)
    assert "system_status" in kept[-1].snapshot.failed  # type: ignore[union-attr]
    last = gone[-1].snapshot
    assert last is not None
    assert last.system_status is None
    assert last.soe is not None
    assert gone[-1].online


async def test_a_10_percent_500_rate_keeps_the_gateway_online_at_its_normal_pace(
    sim: GatewaySimulator, tmp_path: Path
) -> None:
    rig = await rig_for(sim, tmp_path)
    async with rig.client:
        await rig.tick(0.0)
        mark = len(sim.calls)
        await rig.run(120)  # two simulated minutes without faults: the normal pace
        normal = rig.requests(since=mark)
        sim.set_faults(error_rate=0.1, error_status=500)
        mark = len(sim.calls)
        updates = await rig.run(120)
        faulty = rig.requests(since=mark)
    errors = [c for c in sim.calls[mark:] if c.status == 500]
    assert len(errors) >= 0.05 * faulty  # the faults really happened
    assert [u.error for u in updates if not u.online] == []
    assert 0.85 * normal <= faulty <= 1.1 * normal


async def test_offline_only_after_core_reads_fail_in_a_row(
    sim: GatewaySimulator, tmp_path: Path
) -> None:
    rig = await rig_for(sim, tmp_path)
    async with rig.client:
        await rig.tick(0.0)
        sim.set_faults(error_rate=1.0, error_status=500)
        failing = await rig.run(3)
        sim.clear_faults()
        back = await rig.run(3)
    assert [u.online for u in failing] == [True, True, False]
    assert [u.answered for u in failing] == [False, False, False]
    assert failing[0].snapshot is not None
    assert failing[0].snapshot.soe is not None  # the last good values, for now
    assert isinstance(failing[-1].error, GatewayResponseError)
    assert "500" in str(failing[-1].error)
    assert back[-1].online
    assert back[-1].answered


async def test_a_503_confined_to_one_endpoint_pauses_nothing_else(
    sim: GatewaySimulator, tmp_path: Path
) -> None:
    sim.set_faults(endpoints={SYSTEM_STATUS: "503"})
    rig = await rig_for(sim, tmp_path)
    async with rig.client:
        await rig.tick(0.0)
        mark = len(sim.calls)
        updates = await rig.run(20)
        paused = rig.client.paused_for
    assert paused == 0
    assert all(u.online for u in updates)
    assert rig.requests(AGGREGATES, mark) == 20
    assert rig.requests(SYSTEM_STATUS, mark) < 10


async def test_a_503_from_the_core_pauses_the_gateway_briefly(
    sim: GatewaySimulator, tmp_path: Path
) -> None:
    rig = await rig_for(sim, tmp_path)
    async with rig.client:
        await rig.tick(0.0)
        sim.set_faults(endpoints={AGGREGATES: "503"})
        update = await rig.tick()
        paused = rig.client.paused_for
    assert 0 < paused <= 15.0
    assert update.online  # one busy answer is not an outage
    assert not update.answered


async def test_a_gateway_with_a_stopped_sitemaster_still_gives_what_it_can(
    sim: GatewaySimulator, tmp_path: Path
) -> None:
    sim.set_sitemaster(running=False)
    rig = await rig_for(sim, tmp_path)
    async with rig.client:
        update = await rig.tick(0.0)
        later = await rig.run(5)
    snapshot = update.snapshot
    assert update.online
    assert update.sitemaster_stopped
    assert snapshot is not None
    assert snapshot.sitemaster is not None
    assert snapshot.sitemaster.running is False
    assert snapshot.status is not None
    assert snapshot.status.din == sim.din
    assert snapshot.operation is not None
    assert snapshot.aggregates is None
    assert snapshot.soe is None
    assert isinstance(snapshot.failed["aggregates"], SitemasterStoppedError)
    assert all(u.online for u in later)


async def test_stopping_blanks_power_at_once_and_running_brings_it_back(
    sim: GatewaySimulator, tmp_path: Path
) -> None:
    rig = await rig_for(sim, tmp_path)
    async with rig.client:
        await rig.run(3)
        sim.set_sitemaster(running=False)
        stopped = await rig.tick()  # a fast tick: the sitemaster is read at once too
        await rig.run(10)
        sim.set_sitemaster(running=True)
        running = await rig.run(4)  # the next medium tick sees it running, then power follows
    assert stopped.snapshot is not None
    assert stopped.snapshot.aggregates is None
    assert stopped.snapshot.sitemaster is not None
    assert stopped.snapshot.sitemaster.running is False
    assert stopped.online
    last = running[-1].snapshot
    assert last is not None
    assert last.aggregates is not None
    assert not running[-1].sitemaster_stopped
