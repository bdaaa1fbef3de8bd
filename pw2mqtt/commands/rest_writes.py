"""The documented REST calls behind mode and reserve, off-grid and the sitemaster."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from pw2mqtt.commands.parse import Change, Kind
from pw2mqtt.commands.result import Outcome
from pw2mqtt.commands.signed_writes import Confirm
from pw2mqtt.errors import CommandError
from pw2mqtt.gateway.percent import app_from_raw
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.rest.models import GRID_STATUS, OPERATION, SITEMASTER, GridStatus

OPERATION_PATH: Final = "/api/operation"
COMPLETE_PATH: Final = "/api/config/completed"
ISLANDING_PATH: Final = "/api/v2/islanding/mode"
SITEMASTER_RUN_PATH: Final = "/api/sitemaster/run"
SITEMASTER_STOP_PATH: Final = "/api/sitemaster/stop"
RESERVE_TOLERANCE: Final = 0.5  # raw %; the gateway may store 24 as 24.000019


class RestWrites:
    def __init__(
        self,
        client: GatewayClient,
        confirm: Confirm,
        before_write: Callable[[frozenset[Kind]], Awaitable[None]],
    ) -> None:
        self._client = client
        self._confirm = confirm
        self._before_write = before_write

    async def set_operation(self, change: Change) -> Outcome:
        current = await self._client.read(OPERATION)
        mode_now = current.real_mode.raw if current.real_mode is not None else None
        reserve_now = current.backup_reserve_percent
        mode = change.operation_mode or mode_now
        reserve = (
            change.backup_reserve_raw if change.backup_reserve_raw is not None else reserve_now
        )
        if mode is None or reserve is None:
            raise CommandError("the gateway did not report its current mode and reserve")
        if mode == mode_now and reserve_now is not None and _same_reserve(reserve, reserve_now):
            return Outcome("unchanged", _operation_data(mode, reserve_now))
        body = {"real_mode": mode, "backup_reserve_percent": reserve}
        await self._before_write(change.kinds)
        await self._client.request("POST", OPERATION_PATH, payload=body)
        await self._client.request("GET", COMPLETE_PATH)

        async def matches() -> dict[str, Any] | None:
            now = await self._client.read(OPERATION)
            got = now.backup_reserve_percent
            same_mode = now.real_mode is not None and now.real_mode.raw == mode
            if same_mode and got is not None and _same_reserve(reserve, got):
                return _operation_data(mode, got)
            return None

        return await self._confirm(matches, "the new mode and reserve")

    async def set_off_grid(self, off_grid: bool) -> Outcome:
        goal = GridStatus.ISLANDED_ACTIVE if off_grid else GridStatus.CONNECTED
        current = await self._client.read(GRID_STATUS)
        if current.grid_status.value is goal:
            return Outcome("unchanged", {"off_grid": off_grid})
        mode = "intentional_reconnect_failsafe" if off_grid else "backup"
        await self._before_write(frozenset({Kind.OFF_GRID}))
        await self._client.request("POST", ISLANDING_PATH, payload={"island_mode": mode})

        async def matches() -> dict[str, Any] | None:
            now = await self._client.read(GRID_STATUS)
            return {"off_grid": off_grid} if now.grid_status.value is goal else None

        return await self._confirm(matches, "off-grid" if off_grid else "back on the grid")

    async def set_sitemaster(self, action: str) -> Outcome:
        running_goal = action == "run"
        current = await self._client.read(SITEMASTER)
        if current.running is running_goal:
            return Outcome("unchanged", {"sitemaster": action})
        await self._before_write(frozenset({Kind.SITEMASTER}))
        path = SITEMASTER_RUN_PATH if running_goal else SITEMASTER_STOP_PATH
        await self._client.request("GET", path)  # both are GETs in the documented API

        async def matches() -> dict[str, Any] | None:
            now = await self._client.read(SITEMASTER)
            return {"sitemaster": action} if now.running is running_goal else None

        return await self._confirm(
            matches, "the sitemaster " + ("running" if running_goal else "stopped")
        )


def _same_reserve(wanted: float, got: float) -> bool:
    return abs(wanted - got) <= RESERVE_TOLERANCE


def _operation_data(mode: str, reserve_raw: float) -> dict[str, Any]:
    return {
        "operation_mode": mode,
        "backup_reserve": round(app_from_raw(reserve_raw), 1),
        "backup_reserve_raw": round(reserve_raw, 3),
    }
