"""Running the bridge inside a test, and stopping it however the test ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest

from pw2mqtt.bridge.runtime import Bridge
from pw2mqtt.config import Settings

STOP_TIMEOUT = 20.0
TEST_POLL = {"fast": 1.0, "medium": 2.0, "slow": 60.0}  # quick enough for a test to wait on


class _HasPort(Protocol):
    @property
    def port(self) -> int: ...


def bridge_settings(
    sims: Sequence[_HasPort],
    mqtt: Mapping[str, Any],
    state_dir: Path,
    *,
    gateway: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The bridge's settings for simulators on loopback: `gateway` adds to (or overrides) each
    gateway's entry, `extra` adds top-level sections such as `commands`."""
    entry = {"password": "Pw2MqttSim", "poll": TEST_POLL, **(gateway or {})}
    return {
        "gateways": [{"host": f"localhost:{sim.port}", **entry} for sim in sims],
        "mqtt": dict(mqtt),
        "state_dir": str(state_dir),
        **extra,
    }


@contextlib.asynccontextmanager
async def running_bridge(values: dict[str, Any]) -> AsyncIterator[Bridge]:
    bridge = Bridge(Settings.model_validate(values))
    task = asyncio.create_task(bridge.run())
    try:
        yield bridge
    finally:
        task.cancel()
        # A bridge that cannot stop is a bug worth a clear failure, not a hung test run; `wait`
        # (unlike `await task` under a timeout) returns even if the bridge ignores the cancel.
        done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT)
        if not done:
            pytest.fail(f"the bridge did not stop within {STOP_TIMEOUT:.0f} s of being cancelled")
        if not task.cancelled():
            task.result()  # the bridge's own failure, if it had one
