"""Ownership without a database, the choice between the two, and the reading of event logs."""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from bench.ownership import Event, double_owned, epochs_not_increasing, takeovers, tenures
from pw2mqtt.cluster import Solo, gateway_key, ownership_for
from pw2mqtt.cluster.coordinator import Coordinator, describe_dsn
from pw2mqtt.config import ClusterSettings, GatewaySettings


async def test_solo_owns_every_key_while_it_runs() -> None:
    changes: list[tuple[str, int | None]] = []
    solo = Solo(["b", "a"], lambda key, epoch: changes.append((key, epoch)))
    assert solo.owns("a") is None
    task = asyncio.create_task(solo.run())
    await asyncio.sleep(0)
    assert (solo.owns("a"), solo.owns("b"), solo.owns("c")) == (0, 0, None)
    assert await solo.check_fence("a", 0)
    assert not await solo.check_fence("a", 1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert solo.owns("a") is None
    assert changes == [("a", 0), ("b", 0), ("a", None), ("b", None)]


def test_without_a_dsn_no_database_is_needed() -> None:
    assert isinstance(ownership_for(ClusterSettings(), ["a"]), Solo)
    cluster = ClusterSettings(dsn=SecretStr("postgresql://x:pw@127.0.0.1/db"), instance_id="one")
    coordinator = ownership_for(cluster, ["a"])
    assert isinstance(coordinator, Coordinator)
    assert coordinator.instance_id == "one"
    assert coordinator.lease == 15.0


def test_the_dsn_is_never_shown() -> None:
    cluster = ClusterSettings(dsn=SecretStr("postgresql://x:hunter2@db.example:6432/fleet"))
    assert "hunter2" not in repr(cluster)
    assert describe_dsn(cluster.dsn.get_secret_value()) == "PostgreSQL at db.example:6432"
    assert describe_dsn("postgresql://[oops") == "PostgreSQL (cluster.dsn cannot be parsed)"


def test_gateway_keys_are_the_slug_else_the_host() -> None:
    named = GatewaySettings(host="192.168.1.5", password=SecretStr("x"), name="garage")
    plain = GatewaySettings(host="Powerwall.local:8443", password=SecretStr("x"))
    assert (gateway_key(named), gateway_key(plain)) == ("garage", "powerwall.local:8443")


def test_reading_an_event_log() -> None:
    events = [
        Event(1.0, "a", "k", 1),
        Event(5.0, "a", "k", None),
        Event(5.5, "b", "k", 2),
        Event(2.0, "c", "j", 1),
    ]
    held = tenures(events, ends={"c": 4.0})
    assert [(t.instance, t.start, t.end) for t in held] == [
        ("c", 2.0, 4.0),
        ("a", 1.0, 5.0),
        ("b", 5.5, float("inf")),
    ]
    assert double_owned(held) == []
    assert epochs_not_increasing(held) == []
    assert takeovers(held, "a", 3.0) == {"k": 2.5}  # a held k at 3.0; b had it 2.5 s later
    early = tenures([*events, Event(4.5, "b", "k", 1)])
    assert len(double_owned(early)) == 1
    assert len(epochs_not_increasing(early)) == 1
