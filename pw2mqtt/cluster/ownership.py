"""What the bridge sees of ownership, whether one instance runs alone or several share a fleet."""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import Callable, Iterable
from typing import Protocol

from pw2mqtt.config import GatewaySettings
from pw2mqtt.errors import Pw2MqttError

OwnershipListener = Callable[[str, int | None], None]
"""Called with (gateway key, epoch) when this instance gains a gateway and (key, None) when it
loses it; called synchronously, so nothing else runs between the loss and the callback."""


class Ownership(Protocol):
    def owns(self, key: str) -> int | None:
        """The epoch under which this instance owns `key` right now, or None."""

    async def check_fence(self, key: str, epoch: int) -> bool:
        """True when `key` is still owned under `epoch`: ask right before a write."""

    def speaks_for_fleet(self) -> bool:
        """Whether this instance answers what no gateway's owner answers (a message naming an
        unknown gateway, or none): one member of a fleet at a time, so nothing is said twice."""

    async def run(self) -> None:
        """Keep ownership up to date until cancelled; on the way out, every gateway is lost."""

    async def wait_started(self) -> None:
        """Until `run` has reached its database (or decided to run alone): a fleet member
        that cannot start says so before it connects to anything else."""


def gateway_key(gateway: GatewaySettings) -> str:
    """The name instances agree on for a configured gateway: its topic slug, else its host."""
    return gateway.name or gateway.host.lower()


class Solo:
    """One instance alone (no `cluster.dsn`, or `standalone` fallback): owns every key, epoch 0."""

    EPOCH = 0

    def __init__(self, keys: Iterable[str], on_change: OwnershipListener | None = None) -> None:
        self._keys = frozenset(keys)
        self._on_change = on_change
        self._running = False
        self._started = asyncio.Event()

    def owns(self, key: str) -> int | None:
        return self.EPOCH if self._running and key in self._keys else None

    async def check_fence(self, key: str, epoch: int) -> bool:
        return self.owns(key) == epoch

    def speaks_for_fleet(self) -> bool:
        return self._running

    async def wait_started(self) -> None:
        await self._started.wait()

    async def run(self) -> None:
        self._running = True
        self._started.set()
        try:
            for key in sorted(self._keys):
                self._notify(key, self.EPOCH)
            await asyncio.Event().wait()
        finally:
            self._running = False
            for key in sorted(self._keys):
                self._notify(key, None)

    def _notify(self, key: str, epoch: int | None) -> None:
        if self._on_change is not None:
            self._on_change(key, epoch)


def default_instance_id() -> str:
    host = re.sub(r"[^a-z0-9_-]+", "-", socket.gethostname().lower()).strip("-") or "pw2mqtt"
    return f"{host}-{os.getpid()}"


class ClusterError(Pw2MqttError):
    """The fleet's database cannot be used: unreachable at start, this instance's name is in
    use by another running instance, or the driver is not installed."""
