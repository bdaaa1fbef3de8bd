"""An asyncio client for one Powerwall gateway's local REST API.

It is gentle with the gateway by construction: everything goes through the shared connection's
gate (one keep-alive connection, a pause after 429/503, backoff after network failures), there is
one login per session (kept on disk across restarts) and a single re-login on a read that is
refused. Endpoints the gateway does not offer (404) or refuses to the role (403) are remembered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

from pydantic import BaseModel

from pw2mqtt.config import GatewaySettings
from pw2mqtt.errors import (
    EndpointUnsupportedError,
    GatewayAuthError,
    GatewayBusyError,
    GatewayError,
    GatewayResponseError,
    PermissionDeniedError,
)
from pw2mqtt.gateway.address import GatewayAddress
from pw2mqtt.gateway.connection import Answer, GatewayConnection, error_text
from pw2mqtt.gateway.rest.login import RestLogin
from pw2mqtt.gateway.rest.models import (
    AGGREGATES,
    GRID_STATUS,
    OPERATION,
    SITEMASTER,
    SOE,
    STATUS,
    Endpoint,
)
from pw2mqtt.gateway.rest.statuses import status_error
from pw2mqtt.gateway.snapshot import GatewaySnapshot
from pw2mqtt.gateway.state import GatewayState, StoredSession
from pw2mqtt.gateway.tedapi.din import parse_din
from pw2mqtt.gateway.tedapi.errors import DIN_PATH, SignedControlUnsupportedError
from pw2mqtt.gateway.tedapi.keys import SigningKey
from pw2mqtt.gateway.tedapi.transport import TedapiTransport
from pw2mqtt.lifecycle import Closing

_LOGGER = logging.getLogger(__name__)

UNAUTHENTICATED_PATHS: Final = frozenset({"/api/status"})
UNSUPPORTED_RECHECK_SECONDS: Final = 6 * 3600.0

CORE: Final[tuple[Endpoint[BaseModel], ...]] = (AGGREGATES, SOE, GRID_STATUS)
"""The reads that say whether the gateway answers; with a stopped sitemaster they answer 502 and
`STOPPED_CORE` still answers."""
STOPPED_CORE: Final[tuple[Endpoint[BaseModel], ...]] = (STATUS, SITEMASTER, OPERATION)
_SPEAKS_FOR_GATEWAY: Final = frozenset(endpoint.path for endpoint in (*CORE, *STOPPED_CORE))

M = TypeVar("M", bound=BaseModel)


class GatewayClient(Closing):
    """Talks to one gateway. Use as an async context manager."""

    def __init__(
        self,
        settings: GatewaySettings,
        state_dir: Path,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.address: GatewayAddress = settings.address
        self.state = GatewayState(state_dir / self.address.key, str(self.address))
        self.connection = GatewayConnection(settings, self.state, clock=clock)
        self.server_name = self.connection.server_name
        self._login = RestLogin(self.connection)
        self._clock = clock
        self._unsupported: dict[str, float] = {}
        self._forbidden: dict[str, float] = {}
        self._signed_lock = asyncio.Lock()  # one signed request at a time, whatever the key
        self._tedapi: TedapiTransport | None = None
        self._implausible: dict[str, str] = {}

    async def close(self) -> None:
        await self.connection.close()

    # -- what callers use -------------------------------------------------------------------

    @property
    def paused_for(self) -> float:
        """Seconds left of a pause (429/503/lockout), 0 when requests may be sent."""
        return self.connection.paused_for

    @property
    def fingerprint(self) -> str | None:
        return self.connection.fingerprint

    @property
    def logins(self) -> int:
        return self._login.logins

    @property
    def logins_per_hour(self) -> int:
        return self._login.recent_logins.per_hour()

    @property
    def requests_per_hour(self) -> int:
        """Requests sent in the last hour, TEDAPI's and logins included."""
        return self.connection.requests.per_hour()

    @property
    def _auth(self) -> StoredSession | None:
        return self._login.session

    @property
    def unsupported(self) -> frozenset[str]:
        """Endpoints that answered 404 and are not due for a recheck."""
        now = self._clock()
        return frozenset(path for path, until in self._unsupported.items() if until > now)

    @property
    def has_session(self) -> bool:
        return self._login.session is not None

    def is_supported(self, path: str) -> bool:
        until = self._unsupported.get(path)
        return until is None or until <= self._clock()

    async def log_in_afresh(self) -> None:
        """Log in whether or not a saved session exists: what proves a password right."""
        await self._login.login(stale=self._login.session)

    async def read(self, endpoint: Endpoint[M]) -> M:
        """GET a JSON endpoint and validate its body."""
        return endpoint.decode(await self.request("GET", endpoint.path))

    async def request(
        self, method: str, path: str, *, payload: Mapping[str, Any] | None = None
    ) -> bytes:
        """Send one request and return the body of a 2xx answer.

        A read refused with 401/403 logs in again once and is retried once. A write refused with
        403 is never retried: the role may not do it. A write refused with 401 was not carried
        out, so it is retried once after a new login.
        """
        self._check_gate(path)
        needs_auth = path not in UNAUTHENTICATED_PATHS
        if needs_auth and self._login.session is None:
            await self._login.login()
        answer = await self._send(method, path, payload)
        refused = answer.status == 401 or (answer.status == 403 and method == "GET")
        if needs_auth and refused and not self._login.is_fresh():
            _LOGGER.info(
                "%s: session refused on %s (%d); logging in again",
                self.address,
                path,
                answer.status,
            )
            await self._login.login(stale=self._login.session)
            answer = await self._send(method, path, payload)
        if needs_auth and answer.status == 401:
            raise GatewayAuthError(
                f"{self.address} refused a fresh session on {path}; check the role and password"
            )
        if answer.status == 403 and method == "GET":  # a fresh session may not read it
            self._forbidden[path] = self._clock() + UNSUPPORTED_RECHECK_SECONDS
            _LOGGER.info(
                "%s: %s is refused to the %s role (403); not asking again for a while",
                self.address,
                path,
                self.settings.role,
            )
        return self._interpret(method, path, answer.status, answer.body)

    async def fetch_snapshot(self, endpoints: Iterable[Endpoint[BaseModel]]) -> GatewaySnapshot:
        """Read each supported endpoint once, each on its own.

        Endpoints the gateway does not offer (404) or refuses to the role (403) are left out; an
        endpoint that fails otherwise (an unexpected status, a body that is not its JSON, a 502
        from a stopped sitemaster) is listed in `failed` and the others are still read. Only a
        failure of the gateway as a whole (unreachable, paused, busy, login refused) raises.
        """
        models: dict[str, BaseModel] = {}
        failed: dict[str, GatewayError] = {}
        for endpoint in endpoints:
            if not self.is_supported(endpoint.path):
                continue
            try:
                model = await self.read(endpoint)
            except (EndpointUnsupportedError, PermissionDeniedError):
                continue
            except GatewayBusyError:
                raise
            except GatewayResponseError as err:
                failed[endpoint.name] = err
                continue
            if self._plausible(endpoint.path, model):
                models[endpoint.name] = model
        return GatewaySnapshot(taken_at=datetime.now(UTC), failed=failed, **models)  # type: ignore[arg-type]

    def _plausible(self, path: str, model: BaseModel) -> bool:
        """False for a bad reading, which is left out so the last good one carries over; said
        once per run of bad readings."""
        check = getattr(model, "implausible", None)
        reason: str | None = check() if callable(check) else None
        if reason is None:
            if self._implausible.pop(path, None) is not None:
                _LOGGER.info("%s: %s reads plausibly again", self.address, path)
            return True
        if path not in self._implausible:
            _LOGGER.warning(
                "%s: %s reported %s; keeping the last good value", self.address, path, reason
            )
        self._implausible[path] = reason
        return False

    async def fetch_certificate(self) -> str:
        """Handshake once and return the server's SHA-256 fingerprint (sends no request)."""
        return await self.connection.fetch_certificate()

    async def read_din(self) -> str:
        """The gateway's DIN from GET /tedapi/din, with the REST login; gzip is tolerated."""
        try:
            body = await self.request("GET", DIN_PATH)
        except EndpointUnsupportedError:
            raise SignedControlUnsupportedError(DIN_PATH) from None
        return parse_din(body)

    def tedapi(
        self, key: SigningKey, *, wall_clock: Callable[[], float] = time.time
    ) -> TedapiTransport:
        """Signed control of this gateway over the same connection (TLS pin, gate) as REST."""
        current = self._tedapi
        if current is None or current.key is not key or current.wall_clock != wall_clock:
            current = TedapiTransport(
                self.connection, key, self, lock=self._signed_lock, wall_clock=wall_clock
            )
            self._tedapi = current
        return current

    async def logout(self) -> None:
        """End the session on the gateway and forget it here."""
        if self._login.session is None:
            return
        try:
            await self._send("GET", "/api/logout", None)
        finally:
            self._login.forget()

    # -- internals --------------------------------------------------------------------------

    async def _send(self, method: str, path: str, payload: Mapping[str, Any] | None) -> Answer:
        return await self.connection.send(
            method, path, json_body=payload, headers=self._login.headers()
        )

    def _check_gate(self, path: str) -> None:
        self.connection.check_gate()
        if not self.is_supported(path):
            raise EndpointUnsupportedError(path, "not offered by this gateway (404)", 404)
        if self._forbidden.get(path, 0.0) > self._clock():
            raise PermissionDeniedError(
                path, f"refused for the {self.settings.role} role (403, remembered)", 403
            )

    def _interpret(self, method: str, path: str, status: int, body: bytes) -> bytes:
        if 200 <= status < 300:
            self._unsupported.pop(path, None)
            return body
        if status == 404:
            self._unsupported[path] = self._clock() + UNSUPPORTED_RECHECK_SECONDS
            _LOGGER.info(
                "%s: %s is not offered (404); not asking again for a while", self.address, path
            )
            raise EndpointUnsupportedError(path, "not offered by this gateway (404)", 404)
        if status == 403:
            detail = error_text(body) or "forbidden"
            raise PermissionDeniedError(
                path, f"refused for the {self.settings.role} role (403: {detail})", 403
            )
        if status == 405:
            raise PermissionDeniedError(
                path, f"the gateway does not allow {method} here (405)", 405
            )
        gateway_wide = method != "GET" or path in _SPEAKS_FOR_GATEWAY
        raise status_error(self.connection, path, status, body, gateway_wide=gateway_wide)
