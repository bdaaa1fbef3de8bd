"""Poll one gateway in tiers and hand each result on as a `GatewayUpdate`.

Fast endpoints (power flows, charge, grid) are read every few seconds, medium ones (mode,
reserve, sitemaster, batteries) every half minute, slow ones (firmware, site) every ten minutes.
Each poll merges into the previous snapshot, so every update carries the whole picture while
`snapshot.fresh` says what this poll actually read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from pydantic import BaseModel

from pw2mqtt.config import PollSettings
from pw2mqtt.errors import (
    EndpointUnsupportedError,
    GatewayBackingOffError,
    GatewayError,
    GatewayPausedError,
)
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.rest.models import (
    AGGREGATES,
    GRID_FAULTS,
    GRID_STATUS,
    OPERATION,
    POWERWALLS,
    SITE_INFO,
    SITE_NAME,
    SITEMASTER,
    SOE,
    SOLAR_POWERWALL,
    STATUS,
    SYSTEM_STATUS,
    Endpoint,
)
from pw2mqtt.gateway.rest.vitals import VITALS_PATH, read_vitals
from pw2mqtt.gateway.snapshot import GatewaySnapshot

_LOGGER = logging.getLogger(__name__)

FAST: tuple[Endpoint[BaseModel], ...] = (AGGREGATES, SOE, GRID_STATUS)
MEDIUM: tuple[Endpoint[BaseModel], ...] = (OPERATION, SITEMASTER, SYSTEM_STATUS, GRID_FAULTS)
SLOW: tuple[Endpoint[BaseModel], ...] = (STATUS, SITE_INFO, SITE_NAME, POWERWALLS)
DETAIL: tuple[Endpoint[BaseModel], ...] = (SOLAR_POWERWALL,)  # and the protobuf vitals


@dataclass(frozen=True, slots=True)
class GatewayUpdate:
    """The outcome of one poll: the merged snapshot, or why the gateway is unavailable."""

    snapshot: GatewaySnapshot | None
    error: GatewayError | None = None

    @property
    def online(self) -> bool:
        return self.error is None


def next_due(previous: float, interval: float, now: float) -> float:
    """When a tier is read next: on a fixed grid from its last due time, so a late start (a busy
    event loop, a slow answer) does not push every later poll back; after a pause, a forced
    refresh or a miss of a whole interval, the grid starts again from now."""
    if previous <= 0.0:
        return now + interval
    following = previous + interval
    return following if following > now else now + interval


def failure_kind(err: GatewayError) -> tuple[str, str | None] | None:
    """What a failure says about the gateway, to tell a new reason from the same one again;
    None for a refusal to send at all (paused, backing off), which says nothing new."""
    if isinstance(err, GatewayPausedError | GatewayBackingOffError):
        return None
    return type(err).__name__, getattr(err, "seen", None)


class GatewayPoller:
    def __init__(
        self,
        client: GatewayClient,
        poll: PollSettings,
        deliver: Callable[[GatewayUpdate], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        tiers = [(poll.fast, FAST), (poll.medium, MEDIUM), (poll.slow, SLOW)]
        if poll.detail > 0:
            tiers.append((poll.detail, DETAIL))
        self._tiers = tuple(tiers)
        self._deliver = deliver
        self._clock = clock
        self._due = [0.0] * len(self._tiers)
        self._snapshot: GatewaySnapshot | None = None
        self._wake = asyncio.Event()
        self.failures = 0
        self._reason: tuple[str, str | None] | None = None

    @property
    def snapshot(self) -> GatewaySnapshot | None:
        return self._snapshot

    def refresh(self, *, tiers: int = 1) -> None:
        """Poll the first `tiers` tiers now instead of at their next tick (after a command)."""
        for i in range(min(tiers, len(self._due))):
            self._due[i] = 0.0
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self.poll_once()
            await self._sleep(self._next_delay())

    async def poll_once(self) -> GatewayUpdate:
        now = self._clock()
        due = [i for i, when in enumerate(self._due) if when <= now]
        endpoints = [endpoint for i in due for endpoint in self._tiers[i][1]]
        try:
            fresh = await self._client.fetch_snapshot(endpoints)
            if DETAIL[0] in endpoints:
                fresh = await self._with_vitals(fresh)
        except GatewayError as err:
            update = self._failed(err)
        else:
            for i in due:
                self._due[i] = next_due(self._due[i], self._tiers[i][0], now)
            merged = fresh if self._snapshot is None else self._snapshot.merged(fresh)
            self._snapshot = merged
            if self.failures:
                _LOGGER.info("%s: answering again", self._client.address)
            self.failures = 0
            update = GatewayUpdate(merged)
        self._deliver(update)
        return update

    async def _with_vitals(self, snapshot: GatewaySnapshot) -> GatewaySnapshot:
        if not self._client.is_supported(VITALS_PATH):
            return snapshot
        try:
            return replace(snapshot, vitals=await read_vitals(self._client))
        except EndpointUnsupportedError:  # removed in firmware 23.44
            return snapshot

    def _failed(self, err: GatewayError) -> GatewayUpdate:
        self.failures += 1
        if self.failures == 1:
            self._reason = None
        reason = failure_kind(err)
        if reason is not None and reason != self._reason:
            # The first failure of an outage, and each change of reason during it (a certificate
            # regenerated by the reboot that caused the outage, a password changed meanwhile).
            self._reason = reason
            _LOGGER.warning("%s: poll failed: %s", self._client.address, err)
        else:
            _LOGGER.debug("%s: poll failed again: %s", self._client.address, err)
        # After an outage every tier is read again, so nothing stale outlives it.
        self._due = [0.0] * len(self._tiers)
        return GatewayUpdate(None, err)

    def _next_delay(self) -> float:
        fast_interval = self._tiers[0][0]
        if self.failures:
            paused = self._client.paused_for
            return max(paused, fast_interval)
        return max(0.0, min(self._due) - self._clock())

    async def _sleep(self, delay: float) -> None:
        self._wake.clear()
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            pass
