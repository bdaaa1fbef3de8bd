"""`TeslaCloud`: the few calls of Tesla's Owner or Fleet API that pairing needs."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

from pw2mqtt.cloud import payloads
from pw2mqtt.cloud.errors import (
    CloudConnectionError,
    CloudError,
    CloudResponseError,
    RateLimitedError,
    TokenRejectedError,
)
from pw2mqtt.cloud.payloads import EnergySite
from pw2mqtt.cloud.tokens import TeslaTokens
from pw2mqtt.gateway.tedapi.answers import ClientState
from pw2mqtt.lifecycle import Closing

OWNER_API_URL: Final = "https://owner-api.teslamotors.com"
TOKEN_URL: Final = "https://auth.tesla.com/oauth2/v3/token"  # noqa: S105 - a URL
OWNER_CLIENT_ID: Final = "ownerapi"
_DEFAULT_RETRY_AFTER: Final = 10.0
_MAX_RETRY_AFTER: Final = 120.0
_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CloudEndpoints:
    api_url: str = OWNER_API_URL  # Owner API, or the Fleet API base URL of the user's region
    token_url: str = TOKEN_URL
    client_id: str = OWNER_CLIENT_ID

    def __post_init__(self) -> None:
        for url in (self.api_url, self.token_url):
            check_url(url)


def check_url(url: str) -> None:
    """Tokens travel only over HTTPS, or plain HTTP to this machine (a simulated cloud)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and _is_loopback(parts.hostname or ""):
        return
    raise CloudError(f"{url}: use an https:// URL (plain http only to 127.0.0.1 or ::1)")


class TeslaCloud(Closing):
    """Use as an async context manager. `deadline` (time.monotonic) bounds waits after 429."""

    def __init__(
        self,
        tokens: TeslaTokens,
        endpoints: CloudEndpoints,
        *,
        deadline: float,
        say: Callable[[str], None] = print,
        timeout: float = 30.0,
    ) -> None:
        self.tokens = tokens
        self.endpoints = endpoints
        self.deadline = deadline
        self._say = say
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))

    def __repr__(self) -> str:
        return f"TeslaCloud({self.endpoints.api_url}, {self.tokens!r})"

    async def close(self) -> None:
        await self._session.close()

    # -- the steps of pairing -------------------------------------------------------------------

    async def energy_sites(self) -> list[EnergySite]:
        return payloads.energy_sites(await self._api("GET", "/api/1/products", "listing products"))

    async def add_authorized_client(
        self, site_id: int, public_key_der: bytes, description: str
    ) -> ClientState | None:
        body = payloads.add_client_command(public_key_der, description)
        answer = await self._command(site_id, body, "the pairing request")
        return payloads.client_state(answer, public_key_der)

    async def client_state(self, site_id: int, public_key_der: bytes) -> ClientState | None:
        """Where the key stands by Tesla's list of the gateway's clients; None if not listed."""
        body = payloads.list_clients_command()
        answer = await self._command(site_id, body, "reading the pairing state")
        return payloads.client_state(answer, public_key_der)

    async def _command(self, site_id: int, body: dict[str, Any], what: str) -> Any:
        return await self._api("POST", f"/api/1/energy_sites/{site_id}/command", what, body)

    # -- HTTP -------------------------------------------------------------------------------------

    async def _api(self, method: str, path: str, what: str, body: Any = None) -> Any:
        if self.tokens.access_token is None:
            await self.refresh()
        status, answer = await self._send(method, self.endpoints.api_url + path, what, body)
        if status == 401 and self.tokens.refresh_token is not None:
            _LOGGER.info("%s: access token refused; refreshing it", what)
            await self.refresh()
            status, answer = await self._send(method, self.endpoints.api_url + path, what, body)
        if status == 401:
            raise TokenRejectedError("the access token")
        if status != 200:
            raise CloudResponseError(what, status, self._detail(answer))
        return answer

    async def refresh(self) -> None:
        """A new access token from the refresh token."""
        refresh_token = self.tokens.refresh_token
        if refresh_token is None:
            raise TokenRejectedError("the access token")
        form = {
            "grant_type": "refresh_token",
            "client_id": self.endpoints.client_id,
            "refresh_token": refresh_token,
            "scope": "openid email offline_access",
        }
        status, answer = await self._send(
            "POST", self.endpoints.token_url, "refreshing the token", form=form
        )
        if status in (400, 401, 403):
            raise TokenRejectedError("the refresh token")
        access = answer.get("access_token") if isinstance(answer, dict) else None
        if status != 200 or not isinstance(access, str) or not access:
            raise CloudResponseError("refreshing the token", status, self._detail(answer))
        self.tokens.access_token = access
        new_refresh = answer.get("refresh_token")
        if isinstance(new_refresh, str) and new_refresh and new_refresh != refresh_token:
            self.tokens.refresh_token = new_refresh
            self.tokens.rotated = True

    async def _send(
        self,
        method: str,
        url: str,
        what: str,
        body: Any = None,
        *,
        form: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One request, waiting out 429s until the deadline."""
        while True:
            status, answer, retry_after = await self._once(method, url, what, body, form)
            if status != 429:
                return status, answer
            wait = retry_after if retry_after is not None else _DEFAULT_RETRY_AFTER
            wait = min(max(wait, 0.0), _MAX_RETRY_AFTER)
            if time.monotonic() + wait > self.deadline:
                raise RateLimitedError(
                    f"{what}: Tesla's cloud is rate limiting (429) and the time for pairing is "
                    "up; wait a few minutes and run pw2mqtt pair again"
                )
            self._say(f"Tesla's cloud asked to slow down (429) while {what}: waiting {wait:.0f} s")
            await asyncio.sleep(wait)

    async def _once(
        self, method: str, url: str, what: str, body: Any, form: dict[str, str] | None
    ) -> tuple[int, Any, float | None]:
        headers = {"Accept": "application/json"}
        if form is None and self.tokens.access_token is not None:
            headers["Authorization"] = f"Bearer {self.tokens.access_token}"
        try:
            async with self._session.request(
                method, url, json=body, data=form, headers=headers
            ) as response:
                raw = await response.read()
                retry_after = _seconds(response.headers.get("Retry-After"))
                return response.status, _json(raw), retry_after
        except TimeoutError:
            raise CloudConnectionError(f"{what}: {_host(url)} did not answer in time") from None
        except aiohttp.ClientError as err:
            reason = self.tokens.redact(str(err)) or type(err).__name__
            raise CloudConnectionError(f"{what}: cannot reach {_host(url)} ({reason})") from None

    def _detail(self, answer: Any) -> str:
        if not isinstance(answer, dict):
            return ""
        parts = [answer.get(key) for key in ("error", "error_description")]
        return self.tokens.redact("; ".join(str(p) for p in parts if p))[:200]


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return None


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
