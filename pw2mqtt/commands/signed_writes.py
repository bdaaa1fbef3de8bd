"""Mode, reserve, grid charging and the export rule written through config.json over v1r.

"ok" means read-back shows the gateway holds the new values: config.json through the signed
transport, and, where the gateway still answers GET /api/operation, the mode and reserve in
force. Firmware that stores a write without applying it (the "next dispatch" quirk) is nudged
once with a 60 s manual backup event, scheduled and cancelled, and the answer says so.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from pw2mqtt.commands.parse import CANCEL, Change, Kind
from pw2mqtt.commands.result import Outcome
from pw2mqtt.commands.signed import (
    EXPORT_RULE_KEY,
    MODE_KEY,
    NO_GRID_CHARGING_KEY,
    RESERVE_KEY,
    ConfigEdit,
    config_edit,
    get_key,
    write_config,
)
from pw2mqtt.config import CommandSettings
from pw2mqtt.errors import CommandError, EndpointUnsupportedError, PermissionDeniedError
from pw2mqtt.gateway.percent import app_from_raw
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.rest.models import GRID_STATUS, OPERATION, GridStatus
from pw2mqtt.gateway.tedapi.transport import TedapiTransport

_LOGGER = logging.getLogger(__name__)

RESERVE_TOLERANCE: Final = 0.5  # raw %, as for REST
WORKAROUND_S: Final = 60
WORKAROUND_NOTE: Final = (
    "the gateway stored the change without applying it; a 60 s manual backup event was "
    "scheduled and cancelled to apply it"
)

Matches = Callable[[], Awaitable[dict[str, Any] | None]]
Confirm = Callable[[Matches, str], Awaitable[Outcome]]


class SignedWrites:
    def __init__(
        self,
        client: GatewayClient,
        settings: CommandSettings,
        confirm: Confirm,
        before_write: Callable[[frozenset[Kind]], Awaitable[None]],
    ) -> None:
        self._client = client
        self._settings = settings
        self._confirm = confirm
        self._before_write = before_write

    async def set_config(self, change: Change, signed: TedapiTransport) -> Outcome:
        edit = config_edit(change)
        config, _ = await signed.read_config()
        if _holds(config, edit) and await self._in_force(edit):
            return Outcome("unchanged", _data(config, edit))
        await self._before_write(change.kinds)
        await write_config(signed, edit)
        nudged = False

        async def matches() -> dict[str, Any] | None:
            nonlocal nudged
            now, _ = await signed.read_config()
            if not _holds(now, edit):
                return None
            if await self._in_force(edit):
                return _data(now, edit)
            if self._settings.dispatch_workaround and not nudged:
                nudged = await self._nudge(signed)
            return None

        outcome = await self._confirm(matches, "the new settings in config.json")
        if nudged:
            return Outcome(outcome.status, {**outcome.data, "workaround": WORKAROUND_NOTE})
        return outcome

    async def manual_backup(self, duration_s: int, signed: TedapiTransport) -> Outcome:
        """Start a manual backup event (cancelling one that runs, as the gateway requires), or
        cancel it; confirmed by reading the gateway's backup events."""
        kinds = frozenset({Kind.MANUAL_BACKUP})
        shown: dict[str, Any] = {"manual_backup": duration_s or "cancel", "transport": "v1r"}
        events = await signed.backup_events()
        if duration_s == CANCEL and events.manual is None:
            return Outcome("unchanged", shown)
        await self._before_write(kinds)
        if events.manual is not None:
            await signed.cancel_manual_backup()
        if duration_s != CANCEL:
            await signed.schedule_manual_backup(duration_s)

        async def matches() -> dict[str, Any] | None:
            now = (await signed.backup_events()).manual
            if duration_s == CANCEL:
                return shown if now is None else None
            if now is None or now.duration_s != duration_s:
                return None
            start = now.start.isoformat(timespec="seconds") if now.start else None
            return {**shown, "start": start}

        what = "no manual backup event" if duration_s == CANCEL else "the manual backup event"
        return await self._confirm(matches, what)

    async def island(self, off_grid: bool, signed: TedapiTransport) -> Outcome:
        """Experimental: the TEG island message over v1r, confirmed by the REST grid status."""
        goal = GridStatus.ISLANDED_ACTIVE if off_grid else GridStatus.CONNECTED
        shown = {"off_grid": off_grid, "transport": "v1r"}
        if (await self._client.read(GRID_STATUS)).grid_status.value is goal:
            return Outcome("unchanged", shown)
        await self._before_write(frozenset({Kind.OFF_GRID}))
        answer = await signed.set_island_mode(off_grid)
        _LOGGER.info("island mode over v1r: the gateway answered result %s", answer.result)

        async def matches() -> dict[str, Any] | None:
            now = await self._client.read(GRID_STATUS)
            return shown if now.grid_status.value is goal else None

        return await self._confirm(matches, "off-grid" if off_grid else "back on the grid")

    async def _in_force(self, edit: ConfigEdit) -> bool:
        """Whether the mode and reserve in force match, where the gateway still shows them."""
        if MODE_KEY not in edit and RESERVE_KEY not in edit:
            return True
        try:
            now = await self._client.read(OPERATION)
        except (EndpointUnsupportedError, PermissionDeniedError):
            return True  # not readable here: config.json is all the gateway shows
        mode = edit.get(MODE_KEY)
        reserve = edit.get(RESERVE_KEY)
        if mode is not None and (now.real_mode is None or now.real_mode.raw != mode):
            return False
        got = now.backup_reserve_percent
        return reserve is None or (got is not None and _same_reserve(reserve, got))

    async def _nudge(self, signed: TedapiTransport) -> bool:
        """Schedule a 60 s manual backup event and cancel it, unless the user has one running."""
        events = await signed.backup_events()
        if events.manual is not None:
            raise CommandError(
                "the gateway stored the change but has not applied it, and a manual backup "
                "event is running (cancelling it would apply the change)"
            )
        _LOGGER.info("config.json stored but not applied; scheduling and cancelling a backup event")
        await self._before_write(frozenset())
        await signed.schedule_manual_backup(WORKAROUND_S)
        await signed.cancel_manual_backup()
        return True


def _same_reserve(wanted: float, got: float) -> bool:
    return abs(wanted - got) <= RESERVE_TOLERANCE


def _same(path: tuple[str, ...], wanted: Any, got: Any) -> bool:
    if path == RESERVE_KEY:
        return (
            isinstance(got, int | float)
            and not isinstance(got, bool)
            and _same_reserve(wanted, float(got))
        )
    return bool(wanted == got and type(wanted) is type(got))


def _holds(config: dict[str, Any], edit: ConfigEdit) -> bool:
    return all(_same(path, wanted, get_key(config, path)) for path, wanted in edit.items())


def _data(config: dict[str, Any], edit: ConfigEdit) -> dict[str, Any]:
    """The answer's data: what the gateway now holds, for the keys the command named."""
    data: dict[str, Any] = {}
    if MODE_KEY in edit:
        data["operation_mode"] = get_key(config, MODE_KEY)
    if RESERVE_KEY in edit:
        raw = float(get_key(config, RESERVE_KEY))
        data["backup_reserve"] = round(app_from_raw(raw), 1)
        data["backup_reserve_raw"] = round(raw, 3)
    if NO_GRID_CHARGING_KEY in edit:
        data["grid_charging"] = not get_key(config, NO_GRID_CHARGING_KEY)
    if EXPORT_RULE_KEY in edit:
        data["export_rule"] = get_key(config, EXPORT_RULE_KEY)
    data["transport"] = "v1r"
    return data
