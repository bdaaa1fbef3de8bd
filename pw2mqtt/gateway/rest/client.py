"""An asyncio client for one Powerwall gateway's local HTTPS API.

It is gentle with the gateway by construction: one keep-alive connection, a cap on concurrent
requests, one login per session (kept on disk across restarts), a single re-login on a read
that is refused, a pause after 429/503 or repeated failed logins, and exponential backoff after
network failures. Every aiohttp or parsing error leaves it as a `GatewayError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import aiohttp
from pydantic import BaseModel

from pw2mqtt.backoff import Backoff
from pw2mqtt.config import GatewaySettings
from pw2mqtt.errors import (
    CertificatePinMismatchError,
    EndpointUnsupportedError,
    GatewayAuthError,
    GatewayBusyError,
    GatewayConnectionError,
    GatewayError,
    GatewayLockedOutError,
    GatewayPausedError,
    GatewayResponseError,
    GatewayTimeoutError,
    GatewayTlsError,
    PermissionDeniedError,
    SitemasterStoppedError,
)
from pw2mqtt.gateway.address import GatewayAddress, server_name_for
from pw2mqtt.gateway.rest.models import Endpoint
from pw2mqtt.gateway.snapshot import GatewaySnapshot
from pw2mqtt.gateway.state import GatewayState, StoredSession
from pw2mqtt.gateway.tls import (
    fetch_peer_certificate,
    format_fingerprint,
    handshake_failure_text,
    ssl_for_request,
)

_LOGGER = logging.getLogger(__name__)

LOGIN_PATH: Final = "/api/login/Basic"
UNAUTHENTICATED_PATHS: Final = frozenset({"/api/status"})
UNSUPPORTED_RECHECK_SECONDS: Final = 6 * 3600.0
MIN_LOGIN_SPACING_SECONDS: Final = 10.0
_MAX_ERROR_TEXT = 200

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes
    cookies: Mapping[str, str]


class GatewayClient:
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
        self.server_name = server_name_for(self.address, settings.server_name)
        self.state = GatewayState(state_dir / self.address.key)
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._login_lock = asyncio.Lock()
        self._auth: StoredSession | None = self.state.load_session(settings.role)
        self._last_login_at: float | None = None
        self._failed_logins = 0
        self._paused_until = 0.0
        self._pause_reason = ""
        self._backoff = Backoff(maximum=settings.backoff_max)
        self._retry_at = 0.0
        self._last_network_error = ""
        self._unsupported: dict[str, float] = {}
        self._forbidden: dict[str, float] = {}
        self._ssl: Any = None
        self.fingerprint: str | None = None
        self.logins = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- what callers use -------------------------------------------------------------------

    @property
    def paused_for(self) -> float:
        """Seconds left of a pause (429/503/lockout), 0 when requests may be sent."""
        return max(0.0, self._paused_until - self._clock())

    @property
    def unsupported(self) -> frozenset[str]:
        """Endpoints that answered 404 and are not due for a recheck."""
        now = self._clock()
        return frozenset(path for path, until in self._unsupported.items() if until > now)

    @property
    def has_session(self) -> bool:
        return self._auth is not None

    def is_supported(self, path: str) -> bool:
        until = self._unsupported.get(path)
        return until is None or until <= self._clock()

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
        if needs_auth and self._auth is None:
            await self._login()
        answer = await self._send(method, path, payload, authenticated=True)
        refused = answer.status == 401 or (answer.status == 403 and method == "GET")
        if needs_auth and refused and not self._session_is_fresh():
            _LOGGER.info(
                "%s: session refused on %s (%d); logging in again",
                self.address,
                path,
                answer.status,
            )
            await self._login(stale=self._auth)
            answer = await self._send(method, path, payload, authenticated=True)
        if needs_auth and answer.status == 401:
            raise GatewayAuthError(
                f"{self.address} refused a fresh session on {path}; check the role and password"
            )
        if answer.status == 403 and method == "GET":  # a fresh session may not read it
            self._forbidden[path] = self._clock() + UNSUPPORTED_RECHECK_SECONDS
        return self._interpret(method, path, answer.status, answer.body)

    def _session_is_fresh(self) -> bool:
        """Logged in moments ago: a refusal now is about the role, not an expired session."""
        last = self._last_login_at
        return last is not None and self._clock() - last < MIN_LOGIN_SPACING_SECONDS

    async def fetch_snapshot(self, endpoints: Iterable[Endpoint[BaseModel]]) -> GatewaySnapshot:
        """Read each supported endpoint once; endpoints answering 404 are left out.

        Any other failure fails the whole snapshot: a partial poll must not pass for a full one.
        """
        models: dict[str, BaseModel] = {}
        for endpoint in endpoints:
            if not self.is_supported(endpoint.path):
                continue
            try:
                models[endpoint.name] = await self.read(endpoint)
            except EndpointUnsupportedError:
                continue
        return GatewaySnapshot(taken_at=datetime.now(UTC), **models)  # type: ignore[arg-type]

    async def fetch_certificate(self) -> str:
        """Handshake once and return the server's SHA-256 fingerprint (sends no request)."""
        peer = await fetch_peer_certificate(
            self.address.host, self.address.port, self.server_name, self.settings.timeout
        )
        return peer.fingerprint

    async def logout(self) -> None:
        """End the session on the gateway and forget it here."""
        if self._auth is None:
            return
        try:
            await self._send("GET", "/api/logout", None, authenticated=True)
        finally:
            self._auth = None
            self.state.clear_session()

    # -- the gate in front of every request ------------------------------------------------

    def _check_gate(self, path: str) -> None:
        now = self._clock()
        if self._paused_until > now:
            raise GatewayPausedError(self._pause_reason, self._paused_until - now)
        if self._retry_at > now:
            raise GatewayConnectionError(
                f"{self.address} unreachable ({self._last_network_error}); "
                f"next attempt in {self._retry_at - now:.0f} s"
            )
        if not self.is_supported(path):
            raise EndpointUnsupportedError(path, "not offered by this gateway (404)", 404)
        if self._forbidden.get(path, 0.0) > now:
            raise PermissionDeniedError(
                path, f"refused for the {self.settings.role} role (403, remembered)", 403
            )

    def _pause(self, reason: str) -> None:
        seconds = self.settings.pause_seconds
        self._paused_until = self._clock() + seconds
        self._pause_reason = reason
        _LOGGER.warning(
            "%s: %s; leaving the gateway alone for %.0f s", self.address, reason, seconds
        )

    # -- login ------------------------------------------------------------------------------

    async def _login(self, stale: StoredSession | None = None) -> None:
        async with self._login_lock:
            if self._auth is not None and self._auth is not stale:
                return  # another task logged in while this one waited
            now = self._clock()
            if (
                self._last_login_at is not None
                and now - self._last_login_at < MIN_LOGIN_SPACING_SECONDS
            ):
                raise GatewayAuthError(
                    f"{self.address} refused a session obtained {now - self._last_login_at:.0f} s "
                    "ago; not logging in again so soon"
                )
            self._last_login_at = now
            self._auth = None
            payload = {
                "username": self.settings.role,
                "email": self.settings.email,
                "password": self.settings.password.get_secret_value(),
                "force_sm_off": False,
            }
            self.logins += 1
            answer = await self._send("POST", LOGIN_PATH, payload, authenticated=False)
            if answer.status == 200:
                self._accept_login(answer)
                return
            self._reject_login(answer.status, answer.body)

    def _accept_login(self, answer: _Answer) -> None:
        cookies = answer.cookies
        token = cookies.get("AuthCookie") or _body_token(answer.body)
        if not token:
            raise GatewayResponseError(LOGIN_PATH, "login answered 200 without a token")
        self._auth = StoredSession(
            role=self.settings.role,
            token=token,
            auth_cookie=cookies.get("AuthCookie"),
            user_record=cookies.get("UserRecord"),
        )
        self._failed_logins = 0
        self.state.save_session(self._auth)
        _LOGGER.info("%s: logged in as %s; session saved", self.address, self.settings.role)

    def _reject_login(self, status: int, body: bytes) -> None:
        detail = _error_text(body)
        if status == 429:
            self._pause("login rate limit reached (429)")
            raise GatewayLockedOutError(
                f"{self.address} refuses logins for now (429: {detail or 'Api Limit reached'}); "
                f"pw2mqtt waits {self.settings.pause_seconds:.0f} s before trying again"
            )
        if status in (401, 403):
            self._failed_logins += 1
            if self._failed_logins >= self.settings.login_failure_limit:
                self._pause(f"{self._failed_logins} failed logins in a row")
            hint = (
                " (the gateway no longer accepts the default password: set a new one)"
                if ("default password" in detail)
                else ""
            )
            raise GatewayAuthError(
                f"{self.address} rejected the {self.settings.role} login: {detail or status}{hint}"
            )
        self._raise_for_status(LOGIN_PATH, status, body)

    # -- the wire ---------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        payload: Mapping[str, Any] | None,
        *,
        authenticated: bool,
    ) -> _Answer:
        session = await self._http()
        headers = self._auth_headers() if authenticated else {}
        url = self.address.base_url + path
        try:
            async with (
                self._slots,
                session.request(
                    method,
                    url,
                    json=payload,
                    headers=headers,
                    ssl=self._ssl,
                    server_hostname=self.server_name,
                    allow_redirects=False,
                ) as response,
            ):
                answer = _Answer(
                    response.status,
                    await response.read(),
                    {name: morsel.value for name, morsel in response.cookies.items()},
                )
        except aiohttp.ServerFingerprintMismatch as err:
            raise CertificatePinMismatchError(
                str(self.address),
                format_fingerprint(self.fingerprint or ""),
                format_fingerprint(err.got.hex()),
            ) from err
        except (TimeoutError, aiohttp.ServerTimeoutError) as err:
            raise self._network_failure(
                GatewayTimeoutError(
                    f"{self.address} did not answer {path} within {self.settings.timeout:.0f} s"
                ),
                "timeout",
            ) from err
        except aiohttp.ClientSSLError as err:
            text = handshake_failure_text(
                self.address.host, self.address.port, self.server_name, err
            )
            raise self._network_failure(GatewayTlsError(text), "TLS handshake failed") from err
        except aiohttp.ClientConnectorError as err:
            if not isinstance(err.os_error, ConnectionResetError | ssl.SSLError):
                reason = _connection_reason(err)
                raise self._network_failure(
                    GatewayConnectionError(f"cannot reach {self.address}: {reason}"), reason
                ) from err
            text = handshake_failure_text(
                self.address.host, self.address.port, self.server_name, err.os_error
            )
            raise self._network_failure(GatewayTlsError(text), "TLS handshake failed") from err
        except (aiohttp.ClientError, OSError) as err:
            reason = _connection_reason(err)
            raise self._network_failure(
                GatewayConnectionError(f"cannot reach {self.address}: {reason}"), reason
            ) from err
        self._backoff.reset()
        self._retry_at = 0.0
        return answer

    def _network_failure(self, error: GatewayError, reason: str) -> GatewayError:
        delay = self._backoff.fail()
        self._retry_at = self._clock() + delay
        self._last_network_error = reason
        return error

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._ssl = await self._resolve_ssl()
            connector = aiohttp.TCPConnector(
                limit=self.settings.max_concurrency,
                keepalive_timeout=60.0,
                force_close=False,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"Accept": "application/json"},
            )
        return self._session

    async def _resolve_ssl(self) -> Any:
        tls = self.settings.tls
        if tls.mode != "pin":
            return ssl_for_request(tls.mode, None, tls.ca_file)
        pinned = tls.fingerprint or self.state.load_pin()
        if pinned is None:
            pinned = await self.fetch_certificate()
            path = self.state.save_pin(pinned)
            _LOGGER.warning(
                "%s: pinned its TLS certificate on first use: sha256 %s (stored in %s)",
                self.address,
                format_fingerprint(pinned),
                path,
            )
        self.fingerprint = pinned
        return ssl_for_request("pin", pinned, None)

    def _auth_headers(self) -> dict[str, str]:
        auth = self._auth
        if auth is None:
            return {}
        if auth.auth_cookie:
            cookie = f"AuthCookie={auth.auth_cookie}"
            if auth.user_record:
                cookie += f"; UserRecord={auth.user_record}"
            return {"Cookie": cookie}
        return {"Authorization": f"Bearer {auth.token}"}

    # -- statuses ---------------------------------------------------------------------------

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
            detail = _error_text(body) or "forbidden"
            raise PermissionDeniedError(
                path, f"refused for the {self.settings.role} role (403: {detail})", 403
            )
        if status == 405:
            raise PermissionDeniedError(
                path, f"the gateway does not allow {method} here (405)", 405
            )
        self._raise_for_status(path, status, body)
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise_for_status(self, path: str, status: int, body: bytes) -> None:
        detail = _error_text(body)
        if status in (429, 503):
            what = "rate limit reached" if status == 429 else "gateway busy"
            self._pause(f"{what} ({status}{': ' + detail if detail else ''})")
            raise GatewayBusyError(path, f"{what} ({status}); paused", status)
        if status == 502 and not body.strip():
            raise SitemasterStoppedError(path, "the sitemaster is stopped (502, empty body)", 502)
        raise GatewayResponseError(
            path, f"unexpected HTTP {status}{': ' + detail if detail else ''}", status
        )


def _error_text(body: bytes) -> str:
    """The gateway's `message`/`error` text, or a short printable excerpt of the body."""
    text = body[:2048].decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        parts = [str(data[key]) for key in ("error", "message") if data.get(key)]
        if parts:
            text = ": ".join(dict.fromkeys(parts))
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text[:_MAX_ERROR_TEXT]


def _connection_reason(err: BaseException) -> str:
    if isinstance(err, aiohttp.ClientConnectorError):
        return err.strerror or str(err.os_error) or "connection failed"
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return "the gateway closed the connection"
    if isinstance(err, aiohttp.ClientPayloadError):
        return "the answer was cut off"
    return str(err) or type(err).__name__


def _body_token(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    token = data.get("token") if isinstance(data, dict) else None
    return token if isinstance(token, str) and token else None
