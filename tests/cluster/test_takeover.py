"""Three bridges as processes share six simulated gateways through a real PostgreSQL; one is
SIGKILLed. Its gateways are announced again by the others and online within the lease bound,
and the gateways' own call logs show that no two instances ever used one gateway at once.

Each instance logs in with an e-mail of its own, so that a simulator can tell whose session a
request carried (requests without a session, such as `/api/status`, are nobody's)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.ownership import Use, logins, turns
from bench.postgres import TempPostgres
from pw2mqtt.cluster.rendezvous import assign
from pw2mqtt.simulator import GatewaySimulator
from pw2mqtt.simulator.core import CallRecord
from tests.cluster.fleet_view import (
    LEASE,
    announced_as,
    fleet_settings,
    names,
    simulators,
    until,
    view,
)
from tests.mqtt_probe import Broker, MqttProbe

NAMES = names(6)
LOGIN = "/api/login/Basic"
INSTANCES = ("one", "two", "three")
VICTIM = "two"
STOP_TIMEOUT = 15.0


def email(instance: str) -> str:
    return f"{instance}@fleet.test"


def turns_of(calls: list[CallRecord], whose: dict[int, str]) -> list[str]:
    return turns([Use(call.session) for call in calls], whose)


def logged_in(calls: list[CallRecord]) -> dict[int, str]:
    return logins(
        Use(c.session, str(c.body.get("email")))
        for c in calls
        if c.path == LOGIN and c.status == 200 and isinstance(c.body, dict)
    )


def test_turns_are_told_apart_by_the_sessions_calls_carry() -> None:
    def call(t: float, path: str, session: int | None, **body: str) -> CallRecord:
        status = 200 if session is not None else 0
        return CallRecord(t, "GET", path, status, None, body or None, session)

    calls = [
        call(0, "/api/status", None),
        call(1, LOGIN, 1, email="a"),
        call(2, "/api/meters/aggregates", 1),
        call(3, LOGIN, 2, email="b"),
        call(4, "/api/system_status/soe", 1),
        call(5, "/api/system_status/soe", 2),
    ]
    whose = logged_in(calls)
    assert whose == {1: "a", 2: "b"}
    assert turns_of(calls, whose) == ["a", "b", "a", "b"]
    assert turns_of(calls[:3], whose) == ["a"]
    assert turns_of(calls[4:], whose) == ["a", "b"]


@contextlib.asynccontextmanager
async def bridges(
    sims: list[GatewaySimulator], broker: Broker, dsn: str, tmp_path: Path
) -> AsyncIterator[dict[str, asyncio.subprocess.Process]]:
    running: dict[str, asyncio.subprocess.Process] = {}
    try:
        for instance in INSTANCES:
            values = fleet_settings(
                instance,
                sims,
                broker,
                dsn,
                tmp_path / instance,
                gateway={"email": email(instance)},
            )
            config = tmp_path / f"{instance}.yaml"
            config.write_text(json.dumps(values))  # JSON is YAML
            log = (tmp_path / f"{instance}.log").open("wb")
            running[instance] = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "pw2mqtt", "run", "--config", str(config),
                stdout=log, stderr=log,
            )  # fmt: skip
        yield running
    finally:
        for process in running.values():
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in running.values():
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()


@pytest.fixture
async def sims() -> AsyncIterator[list[GatewaySimulator]]:
    async with simulators(len(NAMES)) as running:
        yield running


async def test_a_sigkilled_bridges_gateways_move_and_never_have_two_users(
    postgres: TempPostgres, broker: Broker, sims: list[GatewaySimulator], tmp_path: Path
) -> None:
    everyone = assign(dict.fromkeys(INSTANCES, frozenset(NAMES)), NAMES)
    survivors = assign({i: frozenset(NAMES) for i in INSTANCES if i != VICTIM}, NAMES)
    moved = {n for n in NAMES if everyone[n] == VICTIM}
    assert moved, "the test needs the victim to own some gateways"
    logs = {i: tmp_path / f"{i}.log" for i in INSTANCES}

    def seen() -> object:
        return view(probe, NAMES), {i: log.read_text()[-2000:] for i, log in logs.items()}

    async with (
        MqttProbe(broker, ["pw2mqtt/#", "homeassistant/#"]) as probe,
        bridges(sims, broker, postgres.dsn, tmp_path) as running,
    ):
        await until(lambda: announced_as(probe, everyone), timeout=6 * LEASE + 20, seen=seen)
        running[VICTIM].send_signal(signal.SIGKILL)
        await running[VICTIM].wait()
        killed = [sim.now() for sim in sims]
        started = time.monotonic()
        await until(lambda: announced_as(probe, survivors), timeout=3 * LEASE + 15, seen=seen)
        took = time.monotonic() - started
    # A lease runs out LEASE after its last renewal, which came at most LEASE / 3 before the
    # kill; then a round of the new owner (LEASE / 3) and its first poll and announcement.
    assert took <= LEASE + 2 * LEASE / 3 + 3.0, took

    for name, sim, kill in zip(NAMES, sims, killed, strict=True):
        whose = logged_in(sim.calls)
        before = turns_of([c for c in sim.calls if c.time < kill], whose)
        after = turns_of([c for c in sim.calls if c.time >= kill], whose)
        assert len(before) == len(set(before)), f"{name}: turns interleaved: {before}"
        assert before[-1] == email(everyone[name]), (name, before)
        assert after in ([], [email(survivors[name])]), (name, after)
        if name in moved:
            assert after == [email(survivors[name])], (name, after)


def offline(probe: MqttProbe, name: str) -> bool:
    state = probe.retained(f"pw2mqtt/{name}/availability")
    return state is not None and state.text == "offline"


async def test_when_the_database_dies_every_bridge_lets_go_within_the_lease_and_comes_back(
    postgres: TempPostgres, broker: Broker, sims: list[GatewaySimulator], tmp_path: Path
) -> None:
    everyone = assign(dict.fromkeys(INSTANCES, frozenset(NAMES)), NAMES)
    async with (
        MqttProbe(broker, ["pw2mqtt/#", "homeassistant/#"]) as probe,
        bridges(sims, broker, postgres.dsn, tmp_path),
    ):
        await until(lambda: announced_as(probe, everyone), timeout=6 * LEASE + 20)
        cut = [sim.now() for sim in sims]
        await asyncio.to_thread(postgres.kill)
        # Nobody can renew: each instance lets its gateways go and says they are unavailable.
        await until(
            lambda: all(offline(probe, n) for n in NAMES),
            timeout=LEASE + 3,
            seen=lambda: view(probe, NAMES),
        )
        await asyncio.sleep(LEASE / 2)  # room for a request that should not come
        # The last renewal was sent before the cut, and ownership ends LEASE - LEASE / 10 after
        # it; the rest is room for a request sent before then to be read by the simulator.
        for name, sim, at in zip(NAMES, sims, cut, strict=True):
            late = [c for c in sim.calls if c.session is not None and c.time > at + LEASE + 0.5]
            assert not late, f"{name}: polled without an owner: {late[:3]}"

        await asyncio.to_thread(postgres.start)
        await until(
            lambda: announced_as(probe, everyone),
            timeout=4 * LEASE + 20,
            seen=lambda: view(probe, NAMES),
        )
