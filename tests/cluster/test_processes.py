"""Three instances as processes on one PostgreSQL; one is SIGKILLed: its keys move to the other
two within the lease bound, and no key ever has two owners (from every instance's own report)."""

from __future__ import annotations

from bench.cluster import takeover_round
from bench.postgres import TempPostgres

LEASE = 3.0


async def test_sigkill_of_one_instance_moves_its_keys_and_never_two_owners(
    postgres: TempPostgres,
) -> None:
    result = await takeover_round(postgres.dsn, 0, keys=60, lease=LEASE)
    assert result.delays, "the killed instance owned keys, and they moved"
    assert max(result.delays) <= LEASE + LEASE / 3 + 1.5
    assert result.two_owners == 0
    assert result.epochs_not_increasing == 0
