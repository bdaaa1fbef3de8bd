"""Three instances as processes on one PostgreSQL; one is SIGKILLed: its keys move to the other
two within the lease bound, and no key ever has two owners (from every instance's own report,
and, with bridges, from the gateways' call logs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cluster import takeover_round
from bench.fleet_takeover import FAST_POLL, takeover
from bench.postgres import TempPostgres
from tests import rigs

LEASE = 3.0


async def test_sigkill_of_one_instance_moves_its_keys_and_never_two_owners(
    postgres: TempPostgres,
) -> None:
    result = await takeover_round(postgres.dsn, 0, keys=60, lease=LEASE)
    assert result.delays, "the killed instance owned keys, and they moved"
    assert max(result.delays) <= LEASE + LEASE / 3 + 1.5
    assert result.two_owners == 0
    assert result.epochs_not_increasing == 0


async def test_the_bridge_takeover_benchmark_finds_every_gateway_back_and_none_used_twice(
    tmp_path: Path,
) -> None:
    """`python -m bench.fleet_takeover` at a small scale: real bridges, simulators, a broker."""
    if reason := rigs.missing("cluster"):
        pytest.skip(reason)
    figures = await takeover(6, LEASE, tmp_path)
    assert figures["gateways_moved"] > 0, "the killed instance owned gateways"
    # The lease runs out, then the new owner's round, then its first poll, staggered over
    # one fast interval so that a takeover of many gateways is no herd of logins.
    assert figures["takeover_max_s"] <= LEASE + LEASE / 3 + FAST_POLL + 2.0, figures
    assert figures["gateways_used_by_two_at_once"] == 0
    assert figures["gateways_used_by_the_dead"] == 0
