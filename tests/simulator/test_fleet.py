"""Several simulators in one process."""

from __future__ import annotations

import asyncio

import pytest

from pw2mqtt.simulator import fleet_options, run_simulators

from .conftest import Client, options


async def test_a_fleet_answers_with_distinct_identities() -> None:
    opts = fleet_options(20, options())
    async with run_simulators(opts) as sims:
        assert len({s.port for s in sims}) == 20
        assert len({s.fingerprint for s in sims}) == 20
        clients = [Client(s) for s in sims]
        statuses = await asyncio.gather(*(c.get("/api/status") for c in clients))
        for client in clients:
            await client.close()
    assert len({a.json["din"] for a in statuses}) == 20


async def test_duplicate_dins_are_refused() -> None:
    with pytest.raises(ValueError, match="DIN"):
        async with run_simulators([options(), options()]):
            pass
