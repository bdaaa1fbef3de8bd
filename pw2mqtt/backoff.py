"""Exponential backoff with full jitter, capped."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    base: float = 2.0
    factor: float = 2.0
    maximum: float = 300.0
    failures: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def fail(self) -> float:
        """Record a failure and return the delay before the next attempt."""
        self.failures += 1
        ceiling = min(self.maximum, self.base * self.factor ** min(self.failures - 1, 32))
        # Half fixed, half random: never hammer, never synchronise several bridges.
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.failures = 0
