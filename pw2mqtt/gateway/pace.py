"""Spacing for what many gateways would otherwise do at the same moment (logins at start-up)."""

from __future__ import annotations

import asyncio
import time
from typing import Final


class Pacer:
    """Hands out turns at most `rate` a second, process-wide. A turn is taken when its task runs,
    not when it was due: after the event loop was busy for a while, the waiters do not all go
    at once."""

    def __init__(self, rate: float) -> None:
        self._spacing = 1.0 / rate
        self._next = 0.0

    async def turn(self) -> None:
        while True:
            now = time.monotonic()
            if now >= self._next:
                self._next = now + self._spacing
                return
            await asyncio.sleep(self._next - now)


LOGINS_PER_SECOND: Final = 50.0
LOGINS: Final = Pacer(LOGINS_PER_SECOND)
"""Every gateway's logins share it: 1000 gateways starting at once log in over 20 s."""
