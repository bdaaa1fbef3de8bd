"""Two bridges sharing a fleet through a real PostgreSQL: simulators over real HTTPS, a real
Mosquitto, a probe. Each gateway is announced and commanded by one instance; when that instance
stops, the other takes its gateways over; a command accepted before the lease moved is not sent."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.postgres import TempPostgres
from pw2mqtt.bridge.runtime import Bridge
from pw2mqtt.cluster import ClusterError
from pw2mqtt.cluster.rendezvous import assign
from pw2mqtt.config import Settings
from pw2mqtt.simulator import GatewaySimulator
from tests.cluster.fleet_view import (
    BASE,
    LEASE,
    fleet_settings,
    names,
    online,
    owner_of,
    simulators,
    until,
    view,
)
from tests.harness import running_bridge
from tests.mqtt_probe import Broker, MqttProbe, ProbeMessage

NAMES = names(4)
INSTANCES = ("one", "two")  # rendezvous hashing gives each of them two of NAMES
ANSWERS = f"{BASE}/bridge/response/gateway/set"
SET_OPERATION = "/api/operation"


@pytest.fixture
async def sims() -> AsyncIterator[list[GatewaySimulator]]:
    async with simulators(len(NAMES)) as running:
        yield running


def settings(
    instance: str,
    sims: list[GatewaySimulator],
    broker: Broker,
    postgres: TempPostgres,
    tmp_path: Path,
    **commands: Any,
) -> dict[str, Any]:
    return fleet_settings(
        instance,
        sims,
        broker,
        postgres.dsn,
        tmp_path / instance,
        commands={"operation_mode": True, **commands},
    )


def posts(sim: GatewaySimulator) -> int:
    return sum(1 for c in sim.calls if c.method == "POST" and c.path == SET_OPERATION)


def answers(probe: MqttProbe, start: int) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in probe.messages[start:] if m.topic == ANSWERS]


def reported(probe: MqttProbe, instance: str) -> set[str] | None:
    health = probe.retained(f"{BASE}/bridge/instance/{instance}/health")
    return None if health is None else {g["gateway"] for g in body(health)["gateways"]}


def body(message: ProbeMessage) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(message.payload)
    return payload


async def test_two_bridges_share_the_fleet_and_one_takes_over_when_the_other_stops(
    postgres: TempPostgres, broker: Broker, sims: list[GatewaySimulator], tmp_path: Path
) -> None:
    plan = assign(dict.fromkeys(INSTANCES, frozenset(NAMES)), NAMES)
    assert set(plan.values()) == set(INSTANCES), "the test needs both instances to own some"
    first = Bridge(Settings.model_validate(settings("one", sims, broker, postgres, tmp_path)))
    async with MqttProbe(broker, [f"{BASE}/#", "homeassistant/#"]) as probe:
        async with running_bridge(settings("two", sims, broker, postgres, tmp_path)):
            one = asyncio.create_task(first.run())
            try:
                # Each gateway announced by the instance the hashing prefers, and online.
                await until(
                    lambda: all(owner_of(probe, n) == plan[n] and online(probe, n) for n in NAMES),
                    timeout=4 * LEASE + 10,
                    seen=lambda: view(probe, NAMES),
                )
                for instance in INSTANCES:
                    state = probe.retained(f"{BASE}/bridge/instance/{instance}/state")
                    assert state is not None
                    assert state.text == "online"
                    # Each instance's health speaks for its own share (sent at most every 5 s).
                    share = {n for n in NAMES if plan[n] == instance}
                    await until(lambda i=instance, s=share: reported(probe, i) == s, timeout=15)
                assert probe.retained(f"{BASE}/bridge/state") is None, "no shared last will"

                # A command is answered once, by the owner, and sent to the gateway once.
                target = next(n for n in NAMES if plan[n] == "one")
                sim = sims[NAMES.index(target)]
                mark = probe.mark()
                await probe.publish(f"{BASE}/{target}/operation_mode/set", "backup")
                await probe.wait_for(ANSWERS, start=mark, timeout=15)
                await asyncio.sleep(1.0)  # room for a second answer, were there one
                replies = answers(probe, mark)
                assert [r["status"] for r in replies] == ["ok"], replies
                assert posts(sim) == 1

                # What no owner answers (an unknown gateway, a message naming none) is answered
                # by one member of the fleet, not by each.
                mark = probe.mark()
                await probe.publish(f"{BASE}/nosuch/operation_mode/set", "backup")
                await probe.publish(f"{BASE}/bridge/request/gateway/set", "{not json")
                await probe.publish(f"{BASE}/nosuch/get", "")
                await probe.wait_for(ANSWERS, start=mark, timeout=15)
                await asyncio.sleep(1.5)  # room for a second answer, were there one
                errors = [r["error"] for r in answers(probe, mark)]
                assert len(errors) == 2, errors
                assert "unknown gateway 'nosuch'" in errors[0]
                gets = [
                    m for m in probe.messages[mark:] if m.topic.endswith("/response/gateway/get")
                ]
                assert len(gets) == 1, gets

                # `one` stops: its last word marks it offline, and `two` takes its gateways.
                mark = probe.mark()
                one.cancel()
                await asyncio.wait({one}, timeout=20)
                gone = f"{BASE}/bridge/instance/one/state"
                await probe.wait_for(gone, lambda m: m.text == "offline", start=mark)
                await until(
                    lambda: all(owner_of(probe, n) == "two" and online(probe, n) for n in NAMES),
                    timeout=2 * LEASE + 10,
                    seen=lambda: view(probe, NAMES),
                )
                mark = probe.mark()
                await probe.publish(f"{BASE}/{target}/operation_mode/set", "self_consumption")
                reply = await probe.wait_for(ANSWERS, start=mark, timeout=15)
                assert body(reply)["status"] == "ok", body(reply)
                assert posts(sim) == 2
            finally:
                one.cancel()
                await asyncio.wait({one}, timeout=20)


async def test_a_command_accepted_before_the_lease_moved_is_never_sent(
    postgres: TempPostgres, broker: Broker, sims: list[GatewaySimulator], tmp_path: Path
) -> None:
    values = settings("one", sims[:1], broker, postgres, tmp_path, min_interval=4.0)
    async with MqttProbe(broker, [f"{BASE}/#"]) as probe:
        async with running_bridge(values):
            await until(lambda: online(probe, "gw0"), timeout=4 * LEASE + 10)
            mark = probe.mark()
            await probe.publish(f"{BASE}/gw0/operation_mode/set", "backup")
            await probe.wait_for(ANSWERS, lambda m: body(m)["status"] == "ok", start=mark)
            # The next one is accepted now and waits out min_interval; meanwhile another
            # instance (here: a row written by hand) takes the lease with a higher epoch.
            mark = probe.mark()
            await probe.publish(f"{BASE}/gw0/operation_mode/set", "self_consumption")
            await probe.wait_for(f"{BASE}/bridge/event", start=mark, timeout=5)
            async with await psycopg.AsyncConnection.connect(postgres.dsn) as db:
                await db.execute(
                    "UPDATE pw2mqtt_lease SET owner = 'elsewhere', token = gen_random_uuid(),"
                    " epoch = epoch + 1, expires_at = clock_timestamp() + interval '1 hour'"
                    " WHERE gateway = 'gw0'"
                )
                await db.commit()
            reply = await probe.wait_for(ANSWERS, start=mark, timeout=15)
            assert body(reply)["status"] == "error"
            assert "no longer owns the gateway" in body(reply)["error"]
            assert posts(sims[0]) == 1, "the second command never reached the gateway"
            # Nobody polls it now: unavailable rather than showing stale values as current.
            await probe.wait_for(
                f"{BASE}/gw0/availability", lambda m: m.text == "offline", start=mark, timeout=5
            )


async def test_the_owner_has_the_last_word_on_its_gateways_availability(
    postgres: TempPostgres, broker: Broker, sims: list[GatewaySimulator], tmp_path: Path
) -> None:
    """A former owner's `offline` that reaches the broker after the new owner's `online` (two
    connections: the broker keeps whichever came last) is answered with `online` again."""
    values = settings("one", sims[:1], broker, postgres, tmp_path)
    async with MqttProbe(broker, [f"{BASE}/#"]) as probe, running_bridge(values):
        await until(lambda: online(probe, "gw0"), timeout=4 * LEASE + 10)
        mark = probe.mark()
        await probe.publish(f"{BASE}/gw0/availability", "offline", retain=True)
        await probe.wait_for(
            f"{BASE}/gw0/availability", lambda m: m.text == "online", start=mark, timeout=5
        )
        assert online(probe, "gw0")


def _closed_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port: int = probe_socket.getsockname()[1]
    return port


async def test_a_bridge_whose_database_is_down_at_start_stops_with_a_clear_error(
    broker: Broker, sims: list[GatewaySimulator], tmp_path: Path
) -> None:
    dsn = f"postgresql://pw2mqtt:hunter2@127.0.0.1:{_closed_port()}/fleet"
    values = fleet_settings("one", sims[:1], broker, dsn, tmp_path / "state")
    async with MqttProbe(broker, [f"{BASE}/#"]) as probe:
        with pytest.raises(ClusterError) as caught:
            await asyncio.wait_for(Bridge(Settings.model_validate(values)).run(), 20)
        assert "cannot reach PostgreSQL at 127.0.0.1" in str(caught.value)
        assert "hunter2" not in str(caught.value)
        assert sims[0].calls == [], "no gateway was touched"
        assert probe.messages == [], "nothing was said on the broker"


async def test_standalone_runs_alone_when_the_database_is_down_at_start(
    broker: Broker, sims: list[GatewaySimulator], tmp_path: Path
) -> None:
    dsn = f"postgresql://pw2mqtt@127.0.0.1:{_closed_port()}/fleet"
    down = {"on_database_down": "standalone"}
    values = fleet_settings("one", sims[:2], broker, dsn, tmp_path / "state", cluster=down)
    async with MqttProbe(broker, [f"{BASE}/#"]) as probe, running_bridge(values):
        await until(lambda: online(probe, "gw0") and online(probe, "gw1"), timeout=20)
        state = probe.retained(f"{BASE}/bridge/instance/one/state")
        assert state is not None
        assert state.text == "online"


async def healthcheck(state_dir: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pw2mqtt", "healthcheck", "--state-dir", str(state_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode().strip()


async def test_a_member_with_no_gateway_of_its_own_is_healthy(
    postgres: TempPostgres, broker: Broker, sims: list[GatewaySimulator], tmp_path: Path
) -> None:
    """Two instances, one gateway: the one without a share is not reported unhealthy (a
    container would be restarted for nothing), the owner is healthy once it has polled."""
    plan = assign(dict.fromkeys(INSTANCES, frozenset(NAMES[:1])), NAMES[:1])
    owner = plan["gw0"]
    idle = next(i for i in INSTANCES if i != owner)
    async with (
        MqttProbe(broker, [f"{BASE}/#", "homeassistant/#"]) as probe,
        running_bridge(settings("one", sims[:1], broker, postgres, tmp_path)),
        running_bridge(settings("two", sims[:1], broker, postgres, tmp_path)),
    ):
        await until(lambda: owner_of(probe, "gw0") == owner and online(probe, "gw0"), 20)
        await asyncio.sleep(5.5)  # the status files are rewritten every 5 s
        assert await healthcheck(tmp_path / owner) == (
            0,
            "ok: MQTT connected, gateway polled recently",
        )
        assert await healthcheck(tmp_path / idle) == (
            0,
            "ok: MQTT connected, no gateway is this instance's to poll right now",
        )
