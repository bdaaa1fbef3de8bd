"""Coordinators sharing keys through a real PostgreSQL: one owner per key at every moment, an even
spread, and bounded hand-overs when an instance, its network or the database fails."""

from __future__ import annotations

import asyncio
import logging
import time

import psycopg
import pytest

from bench.ownership import takeovers
from bench.postgres import TempPostgres
from pw2mqtt.cluster import ClusterError
from pw2mqtt.cluster.coordinator import Coordinator
from tests.cluster.conftest import LEASE, Fleet, Proxy, keys
from tests.mqtt_probe import free_port

INTERVAL = LEASE / 3
LOSS_BOUND = LEASE + 0.3  # the instance lets go at lease - lease/10 after its last renewal
TAKEOVER_BOUND = LEASE + INTERVAL + 1.0  # the lease runs out, then the next round of the others
ABC = {"a", "b", "c"}


def _via(proxy: Proxy) -> str:
    return f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres"


async def _leases(dsn: str) -> dict[str, tuple[str, int]]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cursor = await conn.execute(
            "SELECT gateway, owner, epoch FROM pw2mqtt_lease WHERE expires_at > clock_timestamp()"
        )
        return {gateway: (owner, epoch) for gateway, owner, epoch in await cursor.fetchall()}


async def _until(condition: object, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if callable(condition) and condition():
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {timeout} s")


async def test_three_instances_own_every_key_once_and_evenly(postgres: TempPostgres) -> None:
    fleet = Fleet(postgres.dsn, keys(300))
    try:
        for name in sorted(ABC):  # a owns everything first, then hands over as b and c join
            fleet.start(name)
            await asyncio.sleep(0.5)
        await fleet.converged(4 * LEASE, ABC)
        await asyncio.sleep(LEASE)  # more rounds: nothing moves once converged
        share = fleet.share()
        assert sum(share.values()) == 300
        assert max(share.values()) <= 1.5 * 100, share
        assert min(share.values()) >= 100 / 1.5, share
        in_database = await _leases(postgres.dsn)
        for name, member in fleet.members.items():
            for key, epoch in member.owned().items():
                assert in_database[key] == (name, epoch)
        handed_over = [t for t in fleet.tenures() if t.instance == "a" and t.end != float("inf")]
        assert handed_over, "b and c joined after a: a must have handed keys over"
        fleet.assert_never_two_owners()
    finally:
        await fleet.close()


async def test_a_partitioned_instance_lets_go_before_the_others_take_over(
    postgres: TempPostgres, proxy: Proxy
) -> None:
    fleet = Fleet(postgres.dsn, keys(60))
    try:
        fleet.start("a")
        fleet.start("b", dsn=_via(proxy))
        fleet.start("c")
        await fleet.converged(4 * LEASE, ABC)
        held = set(fleet.members["b"].owned())
        cut = time.monotonic()
        proxy.cut()
        await fleet.settled(3 * LEASE, among={"a", "c"})
        losses = {
            e.key: e.at
            for e in fleet.events
            if e.instance == "b" and e.epoch is None and e.at >= cut
        }
        assert set(losses) == held
        assert max(losses.values()) - cut <= LOSS_BOUND
        delays = takeovers(fleet.tenures(), "b", cut)
        assert set(delays) == held
        assert max(delays.values()) <= TAKEOVER_BOUND, max(delays.values())
        fleet.assert_never_two_owners()

        proxy.heal()  # b comes back and gets its share again, under new epochs
        await fleet.converged(4 * LEASE, ABC)
        fleet.assert_never_two_owners()
    finally:
        await fleet.close()


async def test_a_stopped_instance_hands_its_keys_over_at_once(fleet: Fleet) -> None:
    for name in sorted(ABC):
        fleet.start(name)
    await fleet.converged(4 * LEASE, ABC)
    held = set(fleet.members["b"].owned())
    stopped = time.monotonic()
    await fleet.stop("b")
    assert fleet.members["b"].owned() == {}
    assert {e.key for e in fleet.events if e.instance == "b" and e.epoch is None} >= held
    took = await fleet.settled(2 * LEASE, among={"a", "c"})
    assert took <= 2 * INTERVAL + 1.0, "given back, not left to run out"
    assert set(takeovers(fleet.tenures(), "b", stopped)) == held
    fleet.assert_never_two_owners()


async def test_one_member_speaks_for_the_fleet_and_the_next_when_it_stops(fleet: Fleet) -> None:
    for name in sorted(ABC):
        fleet.start(name)
    await fleet.converged(4 * LEASE, ABC)
    await asyncio.sleep(INTERVAL + 0.2)  # a round in which every member saw all the others
    assert [n for n, m in fleet.members.items() if m.speaks_for_fleet()] == ["a"]
    await fleet.stop("a")
    assert not fleet.members["a"].speaks_for_fleet()
    await asyncio.sleep(INTERVAL + 0.5)
    assert [n for n, m in fleet.members.items() if m.speaks_for_fleet()] == ["b"]


async def test_every_instance_lets_go_when_postgres_dies(
    postgres: TempPostgres, fleet: Fleet
) -> None:
    for name in sorted(ABC):
        fleet.start(name)
    await fleet.converged(4 * LEASE, ABC)
    before = {key: epoch for m in fleet.members.values() for key, epoch in m.owned().items()}
    killed = time.monotonic()
    await asyncio.to_thread(postgres.kill)
    await _until(lambda: not any(m.owned() for m in fleet.members.values()), 2 * LEASE)
    assert time.monotonic() - killed <= LOSS_BOUND + 0.2

    await asyncio.to_thread(postgres.start)
    await fleet.converged(6 * LEASE, ABC)
    after = {key: epoch for m in fleet.members.values() for key, epoch in m.owned().items()}
    assert all(after[key] > before[key] for key in before)
    fleet.assert_never_two_owners()


async def test_a_database_too_slow_to_renew_drops_ownership(
    postgres: TempPostgres, fleet: Fleet
) -> None:
    for name in ("a", "b"):
        fleet.start(name)
    await fleet.converged(4 * LEASE, {"a", "b"})
    async with await psycopg.AsyncConnection.connect(postgres.dsn) as blocker:
        async with blocker.transaction():  # every renewal now waits for this lock
            await blocker.execute("LOCK TABLE pw2mqtt_lease IN ACCESS EXCLUSIVE MODE")
            slowed = time.monotonic()
            await _until(lambda: not any(m.owned() for m in fleet.members.values()), 2 * LEASE)
            assert time.monotonic() - slowed <= LOSS_BOUND + 0.2
    await fleet.converged(4 * LEASE, {"a", "b"})
    fleet.assert_never_two_owners()


async def test_a_dropped_connection_that_comes_back_is_a_blip(
    postgres: TempPostgres, fleet: Fleet
) -> None:
    for name in sorted(ABC):
        fleet.start(name)
    await fleet.converged(4 * LEASE, ABC)
    async with await psycopg.AsyncConnection.connect(postgres.dsn, autocommit=True) as admin:
        cursor = await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            ("pw2mqtt b",),
        )
        assert [row[0] for row in await cursor.fetchall()] == [True]
    await asyncio.sleep(2 * LEASE)
    await fleet.converged(4 * LEASE, ABC)  # b reconnected and kept (or took back) its share
    fleet.assert_never_two_owners()


async def test_check_fence_refuses_an_epoch_once_ownership_moved(
    postgres: TempPostgres, proxy: Proxy, fleet: Fleet
) -> None:
    a = fleet.start("a", dsn=_via(proxy))
    b = fleet.start("b")
    await fleet.converged(4 * LEASE, {"a", "b"})
    key, epoch = sorted(a.owned().items())[0]
    assert await a.check_fence(key, epoch)
    assert not await a.check_fence(key, epoch + 1)
    assert not await b.check_fence(key, epoch)

    proxy.cut()
    await _until(lambda: b.owns(key) is not None, 2 * TAKEOVER_BOUND)
    moved = b.owns(key)
    assert moved is not None
    assert moved > epoch
    assert not await a.check_fence(key, epoch)
    assert not await b.check_fence(key, epoch)
    assert await b.check_fence(key, moved)
    fleet.assert_never_two_owners()


async def test_check_fence_asks_the_database(postgres: TempPostgres, fleet: Fleet) -> None:
    a = fleet.start("a")
    await fleet.converged(4 * LEASE, {"a"})
    key, epoch = sorted(a.owned().items())[0]
    async with await psycopg.AsyncConnection.connect(postgres.dsn, autocommit=True) as admin:
        await admin.execute("UPDATE pw2mqtt_lease SET epoch = epoch + 1 WHERE gateway = %s", (key,))
    assert a.owns(key) == epoch  # its local view has not caught up yet ...
    assert not await a.check_fence(key, epoch)  # ... but the write is refused
    await _until(lambda: a.owns(key) != epoch, 2 * INTERVAL + 1.0)  # the next round notices


async def test_postgres_down_at_start_is_one_clear_error() -> None:
    port = free_port()
    dsn = f"postgresql://pw2mqtt:hunter2@127.0.0.1:{port}/fleet"
    coordinator = Coordinator(dsn, keys(3), instance_id="a", lease_seconds=LEASE)
    with pytest.raises(ClusterError) as caught:
        await asyncio.wait_for(coordinator.run(), 15)
    message = str(caught.value)
    assert message.startswith(f"cannot reach PostgreSQL at 127.0.0.1:{port}: ")
    assert "on_database_down: standalone" in message
    assert "hunter2" not in message
    assert coordinator.owned() == {}


async def test_postgres_down_at_start_may_run_alone(caplog: pytest.LogCaptureFixture) -> None:
    dsn = f"postgresql://pw2mqtt:hunter2@127.0.0.1:{free_port()}/fleet"
    changes: list[tuple[str, int | None]] = []
    coordinator = Coordinator(
        dsn,
        keys(3),
        instance_id="a",
        lease_seconds=LEASE,
        on_change=lambda key, epoch: changes.append((key, epoch)),
        on_database_down="standalone",
    )
    with caplog.at_level(logging.WARNING, logger="pw2mqtt.cluster"):
        task = asyncio.create_task(coordinator.run())
        await _until(lambda: len(coordinator.owned()) == 3, 15)
    assert coordinator.owned() == dict.fromkeys(keys(3), 0)
    assert "running alone and owning every gateway" in caplog.text
    assert "hunter2" not in caplog.text
    assert await coordinator.check_fence("gw-000", 0)
    assert not await coordinator.check_fence("gw-000", 1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert coordinator.owned() == {}
    assert changes == [(k, 0) for k in keys(3)] + [(k, None) for k in keys(3)]


async def test_a_second_instance_with_the_same_name_is_refused(postgres: TempPostgres) -> None:
    first = Coordinator(postgres.dsn, keys(5), instance_id="same", lease_seconds=LEASE)
    running = asyncio.create_task(first.run())
    try:
        await _until(lambda: len(first.owned()) == 5, 2 * LEASE)
        second = Coordinator(postgres.dsn, keys(5), instance_id="same", lease_seconds=LEASE)
        with pytest.raises(ClusterError, match="'same' is in use by another running instance"):
            await asyncio.wait_for(second.run(), 4 * LEASE)
        assert second.owned() == {}
        assert len(first.owned()) == 5
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
