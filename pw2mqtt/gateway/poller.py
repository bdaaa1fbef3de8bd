"""Poll one gateway in tiers and hand each result on as a `GatewayUpdate`.

Fast endpoints (power flows, charge, grid) are read every few seconds, medium ones (mode,
reserve, sitemaster, batteries) every half minute, slow ones (firmware, site) every ten minutes.
Each poll merges into the previous snapshot, so every update carries the whole picture while
`snapshot.fresh` says what this poll actually read.

Failures are kept apart. An endpoint that fails keeps its last good value for a few of its
intervals, then has none (`snapshot.failed` says why), and backs off on its own. The gateway is
reported unavailable only after `poll.offline_after` polls in a row in which its core reads got
no answer; a stopped sitemaster answers (502), so such a gateway stays available, without the
values the stopped sitemaster cannot give.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from pydantic import BaseModel

from pw2mqtt.config import PollSettings
from pw2mqtt.errors import (
    EndpointUnsupportedError,
    GatewayBackingOffError,
    GatewayBusyError,
    GatewayError,
    GatewayPausedError,
    GatewayResponseError,
    SitemasterStoppedError,
)
from pw2mqtt.gateway.endpoint_health import EndpointHealth
from pw2mqtt.gateway.rest.client import CORE, GatewayClient
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
from pw2mqtt.gateway.signed_config import SIGNED_CONFIG
from pw2mqtt.gateway.signed_reads import SignedPolling, SignedReader, is_key_fault
from pw2mqtt.gateway.snapshot import ENDPOINT_NAMES, GatewaySnapshot
from pw2mqtt.gateway.tedapi.errors import V1R_PATH

_LOGGER = logging.getLogger(__name__)

FAST: tuple[Endpoint[BaseModel], ...] = (AGGREGATES, SOE, GRID_STATUS)
MEDIUM: tuple[Endpoint[BaseModel], ...] = (OPERATION, SITEMASTER, SYSTEM_STATUS, GRID_FAULTS)
SLOW: tuple[Endpoint[BaseModel], ...] = (STATUS, SITE_INFO, SITE_NAME, POWERWALLS)
DETAIL: tuple[Endpoint[BaseModel], ...] = (SOLAR_POWERWALL,)  # and the protobuf vitals
VITALS = "vitals"
_CORE_NAMES = frozenset(endpoint.name for endpoint in CORE)


@dataclass(frozen=True, slots=True)
class GatewayUpdate:
    """The outcome of one poll: the merged snapshot, or why the gateway is unavailable."""

    snapshot: GatewaySnapshot | None
    error: GatewayError | None = None
    answered: bool = True  # this poll's core reads got an answer (a stopped sitemaster's too)
    din: str | None = None  # from /tedapi/din, for a gateway whose REST API names none (PW3)

    @property
    def online(self) -> bool:
        return self.error is None

    @property
    def sitemaster_stopped(self) -> bool:
        """The gateway says its sitemaster is stopped (its own word, or 502s on power reads)."""
        snapshot = self.snapshot
        if snapshot is None:
            return False
        if snapshot.sitemaster is not None and snapshot.sitemaster.running is False:
            return True
        return any(isinstance(err, SitemasterStoppedError) for err in snapshot.failed.values())


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
        signed: SignedReader | None = None,
    ) -> None:
        self._client = client
        self._beside = SignedPolling(client, signed)
        tiers = [(poll.fast, FAST), (poll.medium, MEDIUM), (poll.slow, SLOW)]
        if poll.detail > 0:
            tiers.append((poll.detail, DETAIL))
        self._tiers = tuple(tiers)
        self._interval = {e.name: interval for interval, tier in self._tiers for e in tier}
        self._interval[VITALS] = poll.detail
        self._paths = {e.name: e.path for _, tier in self._tiers for e in tier}
        self._paths[VITALS] = VITALS_PATH
        self._interval[SIGNED_CONFIG] = poll.slow
        self._paths[SIGNED_CONFIG] = V1R_PATH
        self._grace = poll.offline_after
        self._deliver = deliver
        self._clock = clock
        self._due = [0.0] * len(self._tiers)
        self._snapshot: GatewaySnapshot | None = None
        self._health = EndpointHealth(client.settings.backoff_max)
        self._wake = asyncio.Event()
        self._beside.on_done = self._wake.set  # a signed read that ends joins the next poll
        self.failures = 0  # polls in a row in which the gateway's core reads got no answer
        self._reason: tuple[str, str | None] | None = None
        self.latency = Latency()
        self.last_failure: GatewayError | None = None  # why the last failed poll failed
        self._waiters: list[asyncio.Future[GatewayUpdate]] = []

    @property
    def snapshot(self) -> GatewaySnapshot | None:
        return self._snapshot

    def refresh(self, *, tiers: int = 1) -> None:
        """Poll the first `tiers` tiers now instead of at their next tick (after a command)."""
        for i in range(min(tiers, len(self._due))):
            self._due[i] = 0.0
            self._health.retry_now(e.name for e in self._tiers[i][1])
        self._beside.wanted = True  # config.json too, after a command
        self._wake.set()

    def tiers_for(self, sources: Iterable[str]) -> int:
        """How many tiers, from the fastest, a `refresh` needs to read `sources` (at least 2)."""
        wanted = set(sources)
        needed = [i + 1 for i, (_, tier) in enumerate(self._tiers) if wanted & _names(tier)]
        if VITALS in wanted and self._tiers[-1][1] is DETAIL:
            needed.append(len(self._tiers))
        return max((2, *needed))

    async def read_now(self, *, tiers: int = 2) -> GatewayUpdate:
        """Poll the first `tiers` tiers now and return the update of that poll (a poll already
        under way is not it: it may have started before what the caller wants to see)."""
        waiter: asyncio.Future[GatewayUpdate] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self.refresh(tiers=tiers)
        return await waiter

    async def run(self, *, start_delay: float = 0.0) -> None:
        """Poll until cancelled; the first poll after `start_delay` (or a `refresh`), so that
        many gateways do not all log in at once."""
        try:
            if start_delay > 0:
                await self._sleep(start_delay)
            while True:
                await self.poll_once()
                await self._sleep(self._next_delay())
        finally:
            self._beside.cancel()

    async def poll_once(self) -> GatewayUpdate:
        waiters, self._waiters = self._waiters, []
        try:
            update = await self._poll()
        except BaseException:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(GatewayError("the read was cut short"))
            raise
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(update)
        return update

    async def _poll(self) -> GatewayUpdate:
        now = self._clock()
        due = [i for i, when in enumerate(self._due) if when <= now]
        endpoints = [
            endpoint
            for i in due
            for endpoint in self._tiers[i][1]
            if self._health.due(endpoint.name, now)
        ]
        detail = any(self._tiers[i][1] is DETAIL for i in due) and self._health.due(VITALS, now)
        slow_due = any(self._tiers[i][1] is SLOW for i in due)
        self._beside.start(slow_due, self._health.due(SIGNED_CONFIG, now))
        started = time.monotonic()
        try:
            fresh = await self._read(endpoints, detail=detail)
        except GatewayError as err:
            update = self._gateway_failed(err, now)
        else:
            if 0 in due and fresh.fresh & _names(FAST):
                self.latency.add(time.monotonic() - started)
            for i in due:
                self._due[i] = next_due(self._due[i], self._tiers[i][0], now)
            update = self._answered(self._beside.take(fresh), now)
            if update.snapshot is not None:
                update = replace(update, din=await self._beside.find_din(update.snapshot))
        self._deliver(update)
        return update

    # -- reading ------------------------------------------------------------------------------

    async def _read(
        self, endpoints: Sequence[Endpoint[BaseModel]], *, detail: bool
    ) -> GatewaySnapshot:
        fresh = await self._client.fetch_snapshot(endpoints)
        if SITEMASTER not in endpoints and self._newly_stopped(fresh):
            # Say "stopped" now, not at the next medium tick: /api/sitemaster still answers.
            fresh = _joined(fresh, await self._client.fetch_snapshot([SITEMASTER]))
        if detail:
            fresh = await self._with_vitals(fresh)
        return fresh

    def _newly_stopped(self, fresh: GatewaySnapshot) -> bool:
        stopped = any(isinstance(err, SitemasterStoppedError) for err in fresh.failed.values())
        known = self._snapshot.sitemaster if self._snapshot is not None else None
        return stopped and (known is None or known.running is not False)

    async def _with_vitals(self, snapshot: GatewaySnapshot) -> GatewaySnapshot:
        if not self._client.is_supported(VITALS_PATH):
            return snapshot
        try:
            return replace(snapshot, vitals=await read_vitals(self._client))
        except EndpointUnsupportedError:  # removed in firmware 23.44
            return snapshot
        except GatewayBusyError:
            raise
        except GatewayResponseError as err:
            return replace(snapshot, failed={**snapshot.failed, VITALS: err})

    # -- judging ------------------------------------------------------------------------------

    def _answered(self, fresh: GatewaySnapshot, now: float) -> GatewayUpdate:
        answered = _core_answered(fresh)
        for name in fresh.fresh:
            if self._health.answered(name, now) >= self._grace:
                _LOGGER.info("%s: %s answers again", self._client.address, self._paths[name])
        for name, err in fresh.failed.items():
            # While the core gets no answer the gateway's own failure count speaks; the core
            # endpoints are its probe and keep their pace.
            core_down = answered is False
            self._endpoint_failed(
                name,
                err,
                now,
                quiet=core_down or is_key_fault(err),  # the signed reader said it already
                back_off=not (core_down and name in _CORE_NAMES),
            )
        if fresh.sitemaster is not None and fresh.sitemaster.running:
            self._health.retry_now(self._stopped_endpoints())  # power comes back at once
        if answered:
            if self.failures >= self._grace:
                _LOGGER.info("%s: answering again", self._client.address)
            self.failures = 0
        elif answered is False:
            self._count_failure(_first_error(fresh))
        merged = fresh if self._snapshot is None else self._snapshot.merged(fresh)
        answering = self.failures == 0
        return self._update(merged, now, answered=answering, error=_first_error(fresh))

    def _endpoint_failed(
        self, name: str, err: GatewayError, now: float, *, quiet: bool, back_off: bool
    ) -> None:
        interval = self._interval[name]
        in_a_row = self._health.failed(name, err, interval, now, back_off=back_off)
        if isinstance(err, SitemasterStoppedError):
            if name == AGGREGATES.name and in_a_row == 1:
                _LOGGER.warning(
                    "%s: the sitemaster is stopped; power values are unavailable until it runs",
                    self._client.address,
                )
            return
        # A body that is not what the endpoint gives is no passing hiccup: say so at once.
        garbled = isinstance(err, GatewayResponseError) and err.status is None
        if not quiet and in_a_row == (1 if garbled else self._grace):
            _LOGGER.warning(
                "%s: %s fails (%s); its values go unavailable while it does, the rest carry on",
                self._client.address,
                self._paths[name],
                err,
            )
        else:
            _LOGGER.debug("%s: %s failed: %s", self._client.address, self._paths[name], err)

    def _gateway_failed(self, err: GatewayError, now: float) -> GatewayUpdate:
        self._count_failure(err)
        # After an outage every tier is read again, so nothing stale outlives it.
        self._due = [0.0] * len(self._tiers)
        self._beside.lost()
        if self._snapshot is None:
            return GatewayUpdate(None, err, answered=False)
        return self._update(self._snapshot, now, answered=False, error=err)

    def _count_failure(self, err: GatewayError | None) -> None:
        self.failures += 1
        self.last_failure = err
        if self.failures == 1:
            self._reason = None
        reason = failure_kind(err) if err is not None else None
        if reason is not None and reason != self._reason:
            # The first failure of an outage, and each change of reason during it (a certificate
            # regenerated by the reboot that caused the outage, a password changed meanwhile).
            self._reason = reason
            _LOGGER.warning("%s: poll failed: %s", self._client.address, err)
        elif self.failures == self._grace:
            _LOGGER.info(
                "%s: no answer in %d polls in a row; reported unavailable",
                self._client.address,
                self.failures,
            )
        else:
            _LOGGER.debug("%s: poll failed again: %s", self._client.address, err)

    def _update(
        self, merged: GatewaySnapshot, now: float, *, answered: bool, error: GatewayError | None
    ) -> GatewayUpdate:
        """Drop what is too old or cannot be true now, and decide the gateway's availability."""
        drop = [name for name in _present(merged) if self._expired(name, now, error)]
        failed = {
            name: err
            for name, err in self._health.failing().items()
            if self._client.is_supported(self._paths.get(name, ""))
        }
        self._snapshot = merged.judged(failed, drop)
        if self.failures >= self._grace:
            return GatewayUpdate(None, error or GatewayError("no answer"), answered=False)
        return GatewayUpdate(self._snapshot, answered=answered)

    def _expired(self, name: str, now: float, error: GatewayError | None) -> bool:
        current = self._health.error(name)
        if isinstance(current, SitemasterStoppedError) or is_key_fault(current):
            return True
        read_at = self._health.read_at(name)
        interval = self._interval.get(name, 0.0)
        if read_at is None or interval <= 0:
            return False
        if now - read_at <= interval * (self._grace + 1):
            return False
        if current is None:
            self._health.mark(name, error or GatewayError(f"not read for {now - read_at:.0f} s"))
        return True

    def _stopped_endpoints(self) -> list[str]:
        return [
            name
            for name, err in self._health.failing().items()
            if isinstance(err, SitemasterStoppedError)
        ]

    def _next_delay(self) -> float:
        fast_interval = self._tiers[0][0]
        if self.failures and min(self._due) <= 0.0:  # the gateway failed: everything is due
            return max(self._client.paused_for, fast_interval)
        return max(0.0, min(self._due) - self._clock())

    async def _sleep(self, delay: float) -> None:
        self._wake.clear()
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            pass


@dataclass(slots=True)
class Latency:
    """How long the fast tier's reads took: the last, and a moving average over about the last
    ten (seconds)."""

    last: float | None = None
    average: float | None = None

    def add(self, seconds: float) -> None:
        self.last = seconds
        self.average = seconds if self.average is None else self.average * 0.9 + seconds * 0.1


def _names(tier: Sequence[Endpoint[BaseModel]]) -> frozenset[str]:
    return frozenset(endpoint.name for endpoint in tier)


def _core_answered(fresh: GatewaySnapshot) -> bool | None:
    """Whether the core reads of this poll got an answer (a 502 of a stopped sitemaster is one);
    None when none was read: other endpoints speak only for themselves."""
    tried = _CORE_NAMES & (fresh.fresh | fresh.failed.keys())
    if not tried:
        return None
    return any(
        name in fresh.fresh or isinstance(fresh.failed.get(name), SitemasterStoppedError)
        for name in tried
    )


def _first_error(fresh: GatewaySnapshot) -> GatewayError | None:
    for name in (*sorted(_CORE_NAMES), *fresh.failed):
        if name in fresh.failed:
            return fresh.failed[name]
    return None


def _present(snapshot: GatewaySnapshot) -> frozenset[str]:
    return frozenset(name for name in ENDPOINT_NAMES if snapshot.get(name) is not None)


def _joined(first: GatewaySnapshot, second: GatewaySnapshot) -> GatewaySnapshot:
    """One poll's reads from two fetches."""
    models = {
        name: second.get(name) if second.get(name) is not None else first.get(name)
        for name in ENDPOINT_NAMES
    }
    return GatewaySnapshot(
        taken_at=first.taken_at,
        failed={**first.failed, **second.failed},
        **models,  # type: ignore[arg-type]
    )
