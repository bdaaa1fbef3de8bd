"""The wire to one gateway, shared by its REST client and its signed TEDAPI transport.

One keep-alive HTTPS connection with the gateway's TLS pin, a cap on concurrent requests, a pause
when the gateway asks for one, and exponential backoff after network failures: whatever goes to
the gateway passes this gate, so both transports are equally gentle. Every aiohttp, TLS or OS
error leaves it as a `GatewayError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from pw2mqtt.backoff import Backoff
from pw2mqtt.config import GatewaySettings
from pw2mqtt.errors import (
    CertificatePinMismatchError,
    GatewayBackingOffError,
    GatewayConnectionError,
    GatewayError,
    GatewayPausedError,
    GatewayResponseError,
    GatewayTimeoutError,
    GatewayTlsError,
    StateNotKeptError,
)
from pw2mqtt.gateway.address import GatewayAddress, server_name_for
from pw2mqtt.gateway.rate import HourlyCount
from pw2mqtt.gateway.state import GatewayState
from pw2mqtt.gateway.tls import (
    fetch_peer_certificate,
    format_fingerprint,
    handshake_failure_text,
    ssl_for_request,
)

_LOGGER = logging.getLogger(__name__)

_MAX_ERROR_TEXT: Final = 200
FIRST_BUSY_PAUSE: Final = 15.0
"""Seconds of the first pause after the gateway says it is busy; each one in a row doubles it."""
MAX_BODY_BYTES: Final = 512 * 1024
"""Far above any real answer (the largest, the vitals protobuf, is a few kB): a bigger body is
refused unread rather than held in memory and parsed."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    cookies: Mapping[str, str]
    headers: Mapping[str, str]


class GatewayConnection:
    """Sends requests to one gateway, or refuses at once while it is paused or backing off."""

    def __init__(
        self,
        settings: GatewaySettings,
        state: GatewayState,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.address: GatewayAddress = settings.address
        self.server_name = server_name_for(self.address, settings.server_name)
        self.state = state
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._paused_until = 0.0
        self._pause_reason = ""
        self._busy_pauses = 0  # pauses for 429/503 since the last answer that succeeded
        self._backoff = Backoff(maximum=settings.backoff_max)
        self._retry_at = 0.0
        self._last_network_error = ""
        self._ssl: Any = None
        self.fingerprint: str | None = None
        self.requests = HourlyCount(clock)  # every request sent, answered or not

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def paused_for(self) -> float:
        """Seconds left of a pause (429/503/lockout), 0 when requests may be sent."""
        return max(0.0, self._paused_until - self.clock())

    def check_gate(self) -> None:
        """Raise at once, sending nothing, while the gateway is paused or backing off."""
        now = self.clock()
        if self._paused_until > now:
            raise GatewayPausedError(self._pause_reason, self._paused_until - now)
        if self._retry_at > now:
            raise GatewayBackingOffError(
                f"{self.address} unreachable ({self._last_network_error}); "
                f"next attempt in {self._retry_at - now:.0f} s"
            )

    def pause_busy(self, reason: str) -> None:
        """The gateway as a whole said it is busy: pause short at first, longer each time in a
        row, up to `pause_seconds`."""
        seconds = min(
            self.settings.pause_seconds, FIRST_BUSY_PAUSE * 2 ** min(self._busy_pauses, 16)
        )
        self._busy_pauses += 1
        self.pause(reason, seconds)

    def pause(self, reason: str, seconds: float | None = None) -> None:
        """Send nothing for `seconds` (default: `pause_seconds`, as after a login lockout)."""
        if seconds is None:
            seconds = self.settings.pause_seconds
        self._paused_until = self.clock() + seconds
        self._pause_reason = reason
        _LOGGER.warning(
            "%s: %s; leaving the gateway alone for %.0f s", self.address, reason, seconds
        )

    async def fetch_certificate(self) -> str:
        """Handshake once and return the server's SHA-256 fingerprint (sends no request)."""
        peer = await fetch_peer_certificate(
            self.address.host, self.address.port, self.server_name, self.settings.timeout
        )
        return peer.fingerprint

    async def send(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request on the shared connection; any status comes back as an `Answer`."""
        session = await self._http()
        url = self.address.base_url + path
        self.requests.add()
        try:
            async with (
                self._slots,
                session.request(
                    method,
                    url,
                    json=json_body,
                    data=data,
                    headers=dict(headers or {}),
                    ssl=self._ssl,
                    server_hostname=self.server_name,
                    allow_redirects=False,
                ) as response,
            ):
                answer = Answer(
                    response.status,
                    await _read_bounded(response, path),
                    {name: morsel.value for name, morsel in response.cookies.items()},
                    dict(response.headers),
                )
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            raise self._failure(err, path) from err
        self._backoff.reset()
        self._retry_at = 0.0
        if 200 <= answer.status < 300:
            self._busy_pauses = 0
        return answer

    def _failure(self, err: BaseException, path: str) -> GatewayError:
        """What a failed request means, as a `GatewayError`; every one backs off like an outage
        (a changed certificate too: no handshake every poll while it lasts)."""
        if isinstance(err, aiohttp.ServerFingerprintMismatch):
            mismatch = CertificatePinMismatchError(
                str(self.address),
                format_fingerprint(self.fingerprint or ""),
                format_fingerprint(err.got.hex()),
            )
            return self._network_failure(mismatch, "its TLS certificate changed")
        if isinstance(err, TimeoutError | aiohttp.ServerTimeoutError):
            text = f"{self.address} did not answer {path} within {self.settings.timeout:.0f} s"
            return self._network_failure(GatewayTimeoutError(text), "timeout")
        handshake: BaseException | None = None
        if isinstance(err, aiohttp.ClientSSLError):
            handshake = err
        elif isinstance(err, aiohttp.ClientConnectorError) and isinstance(
            err.os_error, ConnectionResetError | ssl.SSLError
        ):
            handshake = err.os_error
        if handshake is not None:
            text = handshake_failure_text(
                self.address.host, self.address.port, self.server_name, handshake
            )
            return self._network_failure(GatewayTlsError(text), "TLS handshake failed")
        reason = _connection_reason(err)
        return self._network_failure(
            GatewayConnectionError(f"cannot reach {self.address}: {reason}"), reason
        )

    def _network_failure(self, error: GatewayError, reason: str) -> GatewayError:
        delay = self._backoff.fail()
        self._retry_at = self.clock() + delay
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
            try:
                path = self.state.save_pin(pinned)
            except OSError as err:
                raise StateNotKeptError(
                    f"cannot save the TLS pin ({err.strerror or err}); "
                    "make the state directory writable"
                ) from None
            _LOGGER.warning(
                "%s: pinned its TLS certificate on first use: sha256 %s (stored in %s)",
                self.address,
                format_fingerprint(pinned),
                path,
            )
        self.fingerprint = pinned
        return ssl_for_request("pin", pinned, None)


async def _read_bounded(response: aiohttp.ClientResponse, path: str) -> bytes:
    declared = response.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise _too_large(path, declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large(path, None)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(path: str, size: int | None) -> GatewayResponseError:
    what = f"{size} bytes" if size is not None else "more"
    return GatewayResponseError(
        path, f"the answer is too large ({what}; at most {MAX_BODY_BYTES // 1024} kB expected)"
    )


def error_text(body: bytes) -> str:
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
