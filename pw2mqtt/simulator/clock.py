"""The simulated clock: epoch seconds that run at `speed` times real time, plus manual jumps."""

from __future__ import annotations

import time
from collections.abc import Callable


class SimClock:
    def __init__(
        self,
        start: float | None = None,
        speed: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._monotonic = monotonic
        self._anchor_real = monotonic()
        self._anchor_sim = time.time() if start is None else float(start)
        self._speed = float(speed)

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        """Simulated time as epoch seconds."""
        return self._anchor_sim + (self._monotonic() - self._anchor_real) * self._speed

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the simulated clock only moves forward")
        self._rebase()
        self._anchor_sim += seconds

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._rebase()
        self._speed = float(speed)

    def real_to_sim(self, real_seconds: float) -> float:
        return real_seconds * self._speed

    def _rebase(self) -> None:
        real = self._monotonic()
        self._anchor_sim += (real - self._anchor_real) * self._speed
        self._anchor_real = real
