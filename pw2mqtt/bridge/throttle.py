"""Work that may be asked for often but is done at most once per a few seconds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class Throttled:
    """Runs `action` soon after `ask()`, then not again for `spacing` seconds; every ask in
    between is served by the next run. For `bridge/info`, which at 1000 gateways is megabytes
    and was asked for by every gateway's announcement at start-up."""

    def __init__(self, action: Callable[[], Awaitable[None]], spacing: float) -> None:
        self._action = action
        self._spacing = spacing
        self._asked = asyncio.Event()

    def ask(self) -> None:
        self._asked.set()

    async def ask_async(self) -> None:
        """`ask` in the shape of a callback that is awaited."""
        self._asked.set()

    async def run(self) -> None:
        while True:
            await self._asked.wait()
            self._asked.clear()
            await self._action()
            await asyncio.sleep(self._spacing)
