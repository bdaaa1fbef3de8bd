"""Exponential backoff with full jitter, capped."""

from __future__ import annotations

import random
from dataclasses import dataclass

# One generator for every backoff: a bridge keeps one per gateway endpoint, and a generator's
# state is 2.5 kB (30 kB a gateway, 30 MB for a thousand of them).
_JITTER = random.Random()  # noqa: S311 - spreading retries, not secrets


@dataclass(slots=True)
class Backoff:
    base: float = 2.0
    factor: float = 2.0
    maximum: float = 300.0
    failures: int = 0

    def fail(self) -> float:
        """Record a failure and return the delay before the next attempt."""
        self.failures += 1
        ceiling = min(self.maximum, self.base * self.factor ** min(self.failures - 1, 32))
        # Half fixed, half random: never hammer, never synchronise several bridges.
        return ceiling / 2 + _JITTER.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.failures = 0
