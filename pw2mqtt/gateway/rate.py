"""How often something happened in the last hour, in constant memory (one count per minute)."""

from __future__ import annotations

import time
from collections.abc import Callable

MINUTES = 60


class HourlyCount:
    """Events counted per minute; `per_hour` sums the current minute and the 59 before it."""

    __slots__ = ("_clock", "_counts", "_minutes", "total")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counts = [0] * MINUTES
        self._minutes = [-1] * MINUTES
        self.total = 0

    def add(self, n: int = 1) -> None:
        minute = int(self._clock() // 60)
        slot = minute % MINUTES
        if self._minutes[slot] != minute:
            self._minutes[slot] = minute
            self._counts[slot] = 0
        self._counts[slot] += n
        self.total += n

    def per_hour(self) -> int:
        now = int(self._clock() // 60)
        return sum(
            count
            for count, minute in zip(self._counts, self._minutes, strict=True)
            if now - MINUTES < minute <= now
        )
