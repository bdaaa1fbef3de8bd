"""Running the bridge inside a test, and stopping it however the test ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from pw2mqtt.bridge import Bridge
from pw2mqtt.config import Settings

STOP_TIMEOUT = 20.0


@contextlib.asynccontextmanager
async def running_bridge(values: dict[str, Any]) -> AsyncIterator[Bridge]:
    bridge = Bridge(Settings.model_validate(values))
    task = asyncio.create_task(bridge.run())
    try:
        yield bridge
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            # A bridge that cannot stop is a bug worth a clear failure, not a hung test run.
            async with asyncio.timeout(STOP_TIMEOUT):
                await task
