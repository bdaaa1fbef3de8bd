"""Carry out validated commands on one gateway, safely.

- One command at a time per gateway; a minimum interval between two writes of one kind.
- A burst collapses: a command still waiting is superseded by a newer one of the same kind.
- Nothing is queued for later: a gateway that is paused or unreachable rejects at once.
- A value equal to the current state answers ok without a write.
- "ok" means the gateway shows the new state: it is read back until it matches or a deadline
  passes. Nothing is set optimistically; the fresh state is published by the normal poll path.
- A 403, 404 or 405 is remembered per kind, and across restarts in the gateway's state
  directory, so later commands are refused here with the same reason; kinds written by the same
  gateway call (mode and reserve: `/api/operation`) are refused together.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from pw2mqtt.commands.parse import SIGNED_ONLY, Change, Kind
from pw2mqtt.commands.rest_writes import RestWrites
from pw2mqtt.commands.result import Outcome
from pw2mqtt.commands.signed import PAIR_HINT, SignedRoute
from pw2mqtt.commands.signed_writes import SignedWrites
from pw2mqtt.config import CommandSettings
from pw2mqtt.errors import (
    CommandError,
    EndpointUnsupportedError,
    GatewayError,
    PermissionDeniedError,
    SitemasterStoppedError,
)
from pw2mqtt.gateway.poller import GatewayUpdate
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.state import StoredRefusal
from pw2mqtt.gateway.tedapi.errors import (
    CommandRejectedError,
    SignedControlUnsupportedError,
    SignedMessageFaultError,
    TedapiError,
)

_LOGGER = logging.getLogger(__name__)

CONFIRM_POLL: Final = 1.0
ISLAND_CONFIRM_S: Final = 30.0
STOPPED: Final = "the gateway's sitemaster is stopped; start it before other commands"
REST_ONLY: Final = "sitemaster has no signed command and always goes over REST"


class SupersededError(CommandError):
    """A newer command of the same kind arrived before this one ran."""


class FencedError(CommandError):
    """This instance no longer owns the gateway: another member of the fleet has it now."""


class RefusedError(CommandError):
    """The gateway refused this kind of command (403/404/405), now or recently."""


SHARED_CALLS: Final = (frozenset({Kind.OPERATION_MODE, Kind.BACKUP_RESERVE}),)
"""Kinds that one gateway call writes together: a refusal of the call refuses them all."""


def sharing_a_call(kinds: frozenset[Kind]) -> frozenset[Kind]:
    return kinds.union(*(group for group in SHARED_CALLS if group & kinds))


class CommandExecutor:
    def __init__(
        self,
        client: GatewayClient,
        settings: CommandSettings,
        *,
        health: Callable[[], GatewayUpdate | None],
        refresh: Callable[[], None],
        firmware: Callable[[], str | None],
        state_dir: Path | None = None,
        slug: Callable[[], str | None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        fence: Callable[[int], Awaitable[bool]] | None = None,
    ) -> None:
        self._client = client
        self._fence = fence
        self._epoch: int | None = None  # the running command's ownership epoch
        self._settings = settings
        self._health = health
        self._refresh = refresh
        self._firmware = firmware
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._pending: list[tuple[frozenset[Kind], asyncio.Future[None]]] = []
        self._last_write: dict[Kind, float] = {}
        self._wall_clock = wall_clock
        known = {kind.value for kind in Kind}
        self._refused = {Kind(r.kind): r for r in client.state.load_refusals() if r.kind in known}
        self._route = SignedRoute(client, settings, state_dir, slug, clock=clock)
        self._signed = SignedWrites(client, settings, self._confirm, self._before_write)
        self._rest = RestWrites(client, self._confirm, self._before_write)
        # Sitemaster always goes over REST; off-grid too unless the transport is v1r.
        self._rest_kinds = frozenset(
            {Kind.SITEMASTER} if settings.transport == "v1r" else {Kind.SITEMASTER, Kind.OFF_GRID}
        )
        self._island_asked: float | None = None  # an unconfirmed off-grid over v1r, when

    @property
    def settings(self) -> CommandSettings:
        return self._settings

    def refusal(self, kind: Kind) -> str | None:
        """Why commands of `kind` are refused here for now, if they are.

        A refusal remembered for another role or another firmware no longer holds.
        """
        refused = self._refused.get(kind)
        if kind not in self._rest_kinds and (
            self._settings.transport == "v1r" or self._route.verified
        ):
            return None  # a REST refusal does not hold for signed control
        if refused is None or refused.until <= self._wall_clock():
            return None
        if refused.role != self._client.settings.role:
            return None
        firmware = self._firmware()
        if firmware and refused.firmware and firmware != refused.firmware:
            return None
        return refused.reason

    async def execute(self, change: Change, epoch: int | None = None) -> Outcome:
        """Run `change`; in a fleet, `epoch` is the ownership it was accepted under, and nothing
        is written once the gateway's lease has moved on from it."""
        kinds = change.kinds
        if any(self.refusal(kind) for kind in kinds - self._rest_kinds):
            await self._route.probe()  # a key paired since REST refused may lift the refusal
        self._check_now(kinds)
        ticket = self._queue(kinds)
        try:
            async with self._lock:
                # Wait out the interval while a newer command may still take this one's place.
                await self._respect_interval(kinds)
                if ticket.done():
                    raise SupersededError("superseded by a newer command of the same kind")
                self._pending.remove((kinds, ticket))
                self._check_now(kinds)
                self._epoch = epoch
                await self._before_write(frozenset())  # not even a read once the gateway moved
                return await self._run_translated(change)
        finally:
            if (kinds, ticket) in self._pending:
                self._pending.remove((kinds, ticket))

    async def _run_translated(self, change: Change) -> Outcome:
        kinds = change.kinds
        try:
            return await self._run(change)
        except (PermissionDeniedError, EndpointUnsupportedError) as err:
            raise self._remember_refusal(kinds, err) from err
        except SitemasterStoppedError as err:
            raise CommandError(STOPPED) from err
        except TedapiError as err:
            raise self._signed_failure(err) from err
        except GatewayError as err:
            raise CommandError(f"the gateway could not be used: {err}") from err

    # -- before anything is sent -------------------------------------------------------------

    def _check_now(self, kinds: frozenset[Kind]) -> None:
        for kind in kinds:
            if (reason := self.refusal(kind)) is not None:
                raise RefusedError(reason)
        if self._client.paused_for > 0:
            raise CommandError(
                f"the gateway is paused for {self._client.paused_for:.0f} s after it asked to be "
                "left alone; not queued, send the command again later"
            )
        update = self._health()
        if update is None:
            raise CommandError("the gateway has not answered yet; not queued, send it again later")
        if update.error is not None:
            raise CommandError(
                f"the gateway is unavailable ({update.error}); not queued, send it again later"
            )
        if update.sitemaster_stopped and kinds != {Kind.SITEMASTER}:
            # A stopped sitemaster leaves only the command that starts it again.
            raise CommandError(STOPPED)

    def _queue(self, kinds: frozenset[Kind]) -> asyncio.Future[None]:
        """Enter the queue; a waiting command that changes nothing beyond `kinds` is superseded."""
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for older_kinds, older in self._pending:
            if older_kinds <= kinds and not older.done():
                older.set_result(None)  # its owner sees this and answers "superseded"
        self._pending.append((kinds, ticket))
        return ticket

    async def _respect_interval(self, kinds: frozenset[Kind]) -> None:
        now = self._clock()
        ready_at = max(
            (self._last_write.get(k, float("-inf")) + self._settings.min_interval for k in kinds),
            default=now,
        )
        if ready_at > now:
            await self._sleep(ready_at - now)

    def _remember_refusal(self, kinds: frozenset[Kind], err: GatewayError) -> RefusedError:
        if isinstance(err, EndpointUnsupportedError):
            reason = "not supported on this gateway (404)"
        elif getattr(err, "status", None) == 405:
            reason = f"not allowed by this gateway's firmware {self._firmware_text()} (405)"
        else:
            reason = (
                f"not permitted for the {self._client.settings.role} role on firmware "
                f"{self._firmware_text()} (403)"
            )
            if self._settings.transport != "rest" and Kind.SITEMASTER in kinds:
                reason += f"; {REST_ONLY}"
            elif self._settings.transport != "rest" and Kind.OFF_GRID not in kinds:
                reason += f"; {PAIR_HINT}"  # mode and reserve work over signed control
        until = self._wall_clock() + self._settings.recheck_refused
        role, firmware = self._client.settings.role, self._firmware()
        for kind in sharing_a_call(kinds):
            self._refused[kind] = StoredRefusal(kind.value, reason, until, role, firmware)
        try:
            self._client.state.save_refusals(self._refused.values())
        except OSError as problem:
            _LOGGER.warning("could not remember the refusal across restarts: %s", problem)
        return RefusedError(reason)

    def _firmware_text(self) -> str:
        return self._firmware() or "unknown"

    # -- the calls --------------------------------------------------------------------------

    def _signed_failure(self, err: TedapiError) -> CommandError:
        if isinstance(err, SignedMessageFaultError | SignedControlUnsupportedError):
            self._route.forget()  # ask about the key again before the next command
        if isinstance(err, CommandRejectedError):
            return CommandError(f"the gateway refused the signed request: {err.detail}")
        return CommandError(f"signed control failed: {err}")

    async def _run(self, change: Change) -> Outcome:
        if change.sitemaster is not None:
            return await self._rest.set_sitemaster(change.sitemaster)
        if change.off_grid is not None and self._settings.transport != "v1r":
            return await self._rest.set_off_grid(change.off_grid)
        signed = await self._route.choose()
        if signed is not None and change.off_grid is not None:
            self._check_island_confirmed(change)
            return await self._signed.island(change.off_grid, signed)
        if signed is not None and change.manual_backup is not None:
            return await self._signed.manual_backup(change.manual_backup, signed)
        if signed is not None:
            return await self._signed.set_config(change, signed)
        if change.kinds & SIGNED_ONLY:
            names = ", ".join(sorted(change.kinds & SIGNED_ONLY))
            how = (
                "commands.transport is rest"
                if self._settings.transport == "rest"
                else f"no verified signing key: {PAIR_HINT}"
            )
            raise CommandError(f"{names} can only be set over signed local control ({how})")
        return await self._rest.set_operation(change)

    def _check_island_confirmed(self, change: Change) -> None:
        """Off-grid over v1r needs `"confirm": true`, or the same command twice within
        ISLAND_CONFIRM_S: one stray or replayed `true` never islands a house."""
        if not change.off_grid or change.confirm:
            return
        asked, self._island_asked = self._island_asked, self._clock()
        if asked is not None and self._island_asked - asked <= ISLAND_CONFIRM_S:
            self._island_asked = None
            return
        raise CommandError(
            'going off-grid needs confirming: send {"off_grid": true, "confirm": true} to the '
            f"gateway's set topic, or off_grid true again within {ISLAND_CONFIRM_S:.0f} s"
        )

    async def _before_write(self, kinds: frozenset[Kind]) -> None:
        """Called before a command's first request and right before each one that changes
        the gateway: in a fleet, nothing is sent once the gateway's lease has moved on."""
        if self._fence is not None and (self._epoch is None or not await self._fence(self._epoch)):
            raise FencedError(
                "not sent: this instance no longer owns the gateway (another member of the "
                "fleet has taken it over); send the command again"
            )
        now = self._clock()
        for kind in kinds:
            self._last_write[kind] = now

    async def _confirm(
        self, matches: Callable[[], Awaitable[dict[str, Any] | None]], what: str
    ) -> Outcome:
        deadline = self._clock() + self._settings.confirm_timeout
        try:
            while True:
                try:
                    data = await matches()
                except SitemasterStoppedError:
                    data = None  # mid-transition reads may fail; keep looking until the deadline
                if data is not None:
                    return Outcome("applied", data)
                if self._clock() >= deadline:
                    raise CommandError(
                        f"the gateway accepted the command but did not show {what} within "
                        f"{self._settings.confirm_timeout:.0f} s"
                    )
                await self._sleep(CONFIRM_POLL)
        finally:
            self._refresh()
