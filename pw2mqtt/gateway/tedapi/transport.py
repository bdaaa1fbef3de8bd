"""Signed requests to one gateway's /tedapi/v1r, over the connection its REST client already holds.

The REST client and this transport share one wire: the TLS pin, the keep-alive connection and
the gate (a pause after 429/503, backoff after network failures), so signed control is exactly
as gentle with the gateway as polling is. One signed request is in flight at a time. The DIN that
every request is signed for comes once from GET /tedapi/din, which needs the REST login.

Nothing here retries: a refused or failed request raises one clear error and the caller decides.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any, Final, Literal, Protocol

from pw2mqtt.errors import EndpointUnsupportedError
from pw2mqtt.gateway.connection import Answer, GatewayConnection
from pw2mqtt.gateway.rest.statuses import status_error
from pw2mqtt.gateway.tedapi import messages
from pw2mqtt.gateway.tedapi.answers import (
    AnswerT,
    AuthorizedClients,
    BackupEvents,
    FileContent,
    FileUpdated,
    IslandModeSet,
    ManualBackupCancelled,
    ManualBackupScheduled,
    parse_answer_as,
)
from pw2mqtt.gateway.tedapi.errors import (
    DIN_PATH,
    V1R_PATH,
    CommandRejectedError,
    ConfigChangedError,
    InvalidSignatureError,
    KeyNotPairedError,
    PairingNotFinishedError,
    SignedControlUnsupportedError,
    TedapiResponseError,
)
from pw2mqtt.gateway.tedapi.keys import SigningKey

KeyStatus = Literal["unknown", "pending", "verified"]

UNSUPPORTED_RECHECK_SECONDS: Final = 6 * 3600.0
# gRPC's FAILED_PRECONDITION and ABORTED: how a refused optimistic lock is reported.
STALE_HASH_CODES: Final = frozenset({9, 10})
_HEADERS: Final = {"Content-Type": "application/octet-stream"}


class DinReader(Protocol):
    async def read_din(self) -> str: ...


class TedapiTransport:
    """Signs and sends v1r requests for one gateway; get it from `GatewayClient.tedapi(key)`."""

    def __init__(
        self,
        connection: GatewayConnection,
        key: SigningKey,
        din_reader: DinReader,
        *,
        lock: asyncio.Lock | None = None,
        wall_clock: Callable[[], float] = time.time,
        lifetime_s: int = messages.DEFAULT_LIFETIME_S,
    ) -> None:
        self.key = key
        self.wall_clock = wall_clock
        self._connection = connection
        self._din_reader = din_reader
        self._lock = lock or asyncio.Lock()
        self._lifetime_s = lifetime_s
        self._din: str | None = None
        self._unsupported_until = 0.0
        self.sent = 0  # signed requests that went on the wire

    async def din(self) -> str:
        """The gateway's DIN, read once (and again after a signature it refused)."""
        if self._din is None:
            try:
                self._din = await self._din_reader.read_din()
            except SignedControlUnsupportedError:
                raise
            except EndpointUnsupportedError:
                raise SignedControlUnsupportedError(DIN_PATH) from None
        return self._din

    # -- operations --------------------------------------------------------------------------

    async def read_config(self) -> tuple[dict[str, Any], bytes]:
        """config.json as a dict, and the hash `write_config` must quote."""
        content = await self._call(messages.read_config, FileContent)
        return _config_dict(content.blob), content.hash

    async def write_config(self, config: Mapping[str, Any], read_hash: bytes) -> bytes:
        """Replace config.json unless it changed since the read that gave `read_hash`.

        Returns the new hash. A stale hash raises `ConfigChangedError`: read again, re-apply the
        change, write once more.
        """
        blob = json.dumps(config, separators=(",", ":"), allow_nan=False).encode()
        try:
            updated = await self._call(
                lambda din: messages.update_config(din, blob, read_hash), FileUpdated
            )
        except CommandRejectedError as err:
            if err.code in STALE_HASH_CODES or "hash" in err.detail.lower():
                raise ConfigChangedError(err.detail) from None
            raise
        return updated.hash

    async def schedule_manual_backup(self, duration_s: int) -> None:
        """Keep the battery for backup from now on for `duration_s` (>= 60) seconds."""
        start = int(self.wall_clock())
        await self._call(
            lambda din: messages.schedule_manual_backup(din, start=start, duration_s=duration_s),
            ManualBackupScheduled,
        )

    async def cancel_manual_backup(self) -> None:
        await self._call(messages.cancel_manual_backup, ManualBackupCancelled)

    async def backup_events(self) -> BackupEvents:
        return await self._call(messages.get_backup_events, BackupEvents)

    async def set_island_mode(self, off_grid: bool) -> IslandModeSet:
        """Go off-grid or reconnect. Experimental: not shown publicly to work over v1r."""
        mode = messages.IslandMode.OFF_GRID if off_grid else messages.IslandMode.ON_GRID
        return await self._call(lambda din: messages.set_island_mode(din, mode), IslandModeSet)

    async def authorized_clients(self) -> AuthorizedClients:
        return await self._call(messages.list_authorized_clients, AuthorizedClients)

    async def key_status(self) -> KeyStatus:
        """Where this key stands with the gateway, from one signed read of config.json."""
        try:
            await self._call(messages.read_config, FileContent)
        except PairingNotFinishedError:
            return "pending"
        except KeyNotPairedError:
            return "unknown"
        return "verified"

    # -- the exchange -------------------------------------------------------------------------

    async def _call(self, build: Callable[[str], bytes], kind: type[AnswerT]) -> AnswerT:
        async with self._lock:
            self._check_gate()
            din = await self.din()
            request = await asyncio.to_thread(
                messages.sign_request,
                build(din),
                din=din,
                key=self.key,
                now=self.wall_clock(),
                request_id=str(uuid.uuid4()),
                lifetime_s=self._lifetime_s,
            )
            self._check_gate()  # a REST request may have been paused while this one signed
            self.sent += 1
            answer = await self._connection.send(
                "POST", V1R_PATH, data=request.body, headers=_HEADERS
            )
            if answer.status != 200:
                raise self._status_error(answer)
            try:
                return parse_answer_as(
                    kind, answer.body, sent=request, gateway_clock=gateway_clock(answer.headers)
                )
            except InvalidSignatureError:
                self._din = None  # perhaps another gateway now answers at this address
                raise

    def _check_gate(self) -> None:
        self._connection.check_gate()
        if self._unsupported_until > self._connection.clock():
            raise SignedControlUnsupportedError()

    def _status_error(self, answer: Answer) -> Exception:
        if answer.status == 404:
            self._unsupported_until = self._connection.clock() + UNSUPPORTED_RECHECK_SECONDS
            return SignedControlUnsupportedError()
        return status_error(self._connection, V1R_PATH, answer.status, answer.body)


def gateway_clock(headers: Mapping[str, str]) -> float | None:
    """The gateway's clock from an answer's Date header, in Unix seconds, if it has a valid one."""
    value = next((v for k, v in headers.items() if k.lower() == "date"), None)
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _config_dict(blob: bytes) -> dict[str, Any]:
    try:
        config = json.loads(blob)
    except (UnicodeDecodeError, ValueError):
        msg = f"config.json is not valid JSON ({len(blob)} bytes)"
        raise TedapiResponseError(msg) from None
    if not isinstance(config, dict):
        msg = f"config.json is a JSON {type(config).__name__}, not an object"
        raise TedapiResponseError(msg)
    return config
