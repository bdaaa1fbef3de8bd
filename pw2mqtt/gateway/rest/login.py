"""The REST session: one login, kept on disk across restarts, and never repeated in a hurry."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Final

from pw2mqtt.errors import (
    GatewayAuthError,
    GatewayLockedOutError,
    GatewayResponseError,
    StateDirError,
    StateNotKeptError,
)
from pw2mqtt.gateway.connection import Answer, GatewayConnection, error_text
from pw2mqtt.gateway.pace import LOGINS
from pw2mqtt.gateway.rate import HourlyCount
from pw2mqtt.gateway.rest.statuses import status_error
from pw2mqtt.gateway.state import StoredSession, credential_hash

_LOGGER = logging.getLogger(__name__)

LOGIN_PATH: Final = "/api/login/Basic"
MIN_LOGIN_SPACING_SECONDS: Final = 10.0


class RestLogin:
    """Logs in once, keeps the session, and says how to authenticate a request."""

    def __init__(self, connection: GatewayConnection) -> None:
        self._connection = connection
        self._settings = connection.settings
        self._lock = asyncio.Lock()
        self.session: StoredSession | None = connection.state.load_session(
            self._settings.role, self._settings.password.get_secret_value()
        )
        self._last_login_at: float | None = None
        self._failed = 0
        self.logins = 0
        self.recent_logins = HourlyCount(connection.clock)

    def is_fresh(self) -> bool:
        """Logged in moments ago: a refusal now is about the role, not an expired session."""
        last = self._last_login_at
        return last is not None and self._connection.clock() - last < MIN_LOGIN_SPACING_SECONDS

    def headers(self) -> dict[str, str]:
        auth = self.session
        if auth is None:
            return {}
        if auth.auth_cookie:
            cookie = f"AuthCookie={auth.auth_cookie}"
            if auth.user_record:
                cookie += f"; UserRecord={auth.user_record}"
            return {"Cookie": cookie}
        return {"Authorization": f"Bearer {auth.token}"}

    def forget(self) -> None:
        self.session = None
        self._connection.state.clear_session()

    async def login(self, stale: StoredSession | None = None) -> None:
        """Log in, unless another task did while this one waited for the lock."""
        async with self._lock:
            if self.session is not None and self.session is not stale:
                return
            now = self._connection.clock()
            if (
                self._last_login_at is not None
                and now - self._last_login_at < MIN_LOGIN_SPACING_SECONDS
            ):
                raise GatewayAuthError(
                    f"{self._connection.address} refused a session obtained "
                    f"{now - self._last_login_at:.0f} s ago; not logging in again so soon"
                )
            self._check_session_can_be_kept()
            self._last_login_at = now
            self.session = None
            payload = {
                "username": self._settings.role,
                "email": self._settings.email,
                "password": self._settings.password.get_secret_value(),
                "force_sm_off": False,
            }
            await LOGINS.turn()
            self.logins += 1
            self.recent_logins.add()
            answer = await self._connection.send("POST", LOGIN_PATH, json_body=payload)
            if answer.status == 200:
                self._accept(answer)
                return
            self._reject(answer)

    def _check_session_can_be_kept(self) -> None:
        try:
            self._connection.state.check_writable()
        except StateDirError as err:
            raise StateNotKeptError(
                "not logging in: the session could not be saved "
                f"({err.reason}), so every restart would log in again; make the state "
                "directory writable"
            ) from None

    def _accept(self, answer: Answer) -> None:
        token = answer.cookies.get("AuthCookie") or _body_token(answer.body)
        if not token:
            raise GatewayResponseError(LOGIN_PATH, "login answered 200 without a token")
        role, password = self._settings.role, self._settings.password.get_secret_value()
        self.session = StoredSession(
            role=role,
            token=token,
            auth_cookie=answer.cookies.get("AuthCookie"),
            user_record=answer.cookies.get("UserRecord"),
            credential=credential_hash(role, password),
        )
        self._failed = 0
        try:
            self._connection.state.save_session(self.session)
        except OSError as err:  # writable a moment ago: full, or made read-only since
            _LOGGER.warning(
                "%s: logged in as %s, but the session could not be saved (%s)",
                self._connection.address,
                role,
                err.strerror or err,
            )
            return
        _LOGGER.info("%s: logged in as %s; session saved", self._connection.address, role)

    def _reject(self, answer: Answer) -> None:
        detail = error_text(answer.body)
        address = self._connection.address
        if answer.status == 429:
            self._connection.pause("login rate limit reached (429)")
            raise GatewayLockedOutError(
                f"{address} refuses logins for now (429: {detail or 'Api Limit reached'}); "
                f"pw2mqtt waits {self._settings.pause_seconds:.0f} s before trying again"
            )
        if answer.status in (401, 403):
            self._failed += 1
            if self._failed >= self._settings.login_failure_limit:
                self._connection.pause(f"{self._failed} failed logins in a row")
            hint = (
                " (the gateway no longer accepts the default password: set a new one)"
                if ("default password" in detail)
                else ""
            )
            raise GatewayAuthError(
                f"{address} rejected the {self._settings.role} login: "
                f"{detail or answer.status}{hint}"
            )
        raise status_error(self._connection, LOGIN_PATH, answer.status, answer.body)


def _body_token(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    token = data.get("token") if isinstance(data, dict) else None
    return token if isinstance(token, str) and token else None
