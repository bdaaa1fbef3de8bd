"""Sessions and the failed-login lockout, all on the simulated clock."""

from __future__ import annotations

import base64
import json
import secrets
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    user_record: str
    role: str  # "customer" | "installer"
    created: float  # simulated epoch seconds
    serial: int = 0  # 1 for the first login since start, 2 for the next, ...


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    attempts: int = 5  # failed logins ...
    window: float = 300.0  # ... within this many simulated seconds ...
    duration: float = 300.0  # ... lock the login endpoint (429) for this long


class Sessions:
    def __init__(self, ttl: float, lockout: LockoutPolicy) -> None:
        self.ttl = ttl
        self.lockout = lockout
        self._by_token: dict[str, Session] = {}
        self._failures: deque[float] = deque()
        self._locked_until = float("-inf")
        self._created = 0

    def create(self, role: str, email: str, now: float) -> Session:
        token = base64.b64encode(secrets.token_bytes(64)).decode()  # 88 chars, like the gateway
        record = base64.urlsafe_b64encode(
            json.dumps({"email": email, "roles": [role], "loginTime": int(now)}).encode()
        ).decode()
        self._created += 1
        session = Session(token, record, role, now, self._created)
        self._by_token[token] = session
        return session

    def lookup(self, token: str | None, now: float) -> Session | None:
        if not token:
            return None
        session = self._by_token.get(token)
        if session is None:
            return None
        if now - session.created >= self.ttl:
            del self._by_token[token]
            return None
        return session

    def revoke(self, token: str) -> None:
        self._by_token.pop(token, None)

    def clear(self) -> None:
        self._by_token.clear()

    def __len__(self) -> int:
        return len(self._by_token)

    # -- lockout ------------------------------------------------------------------------------

    def locked(self, now: float) -> bool:
        return now < self._locked_until

    def locked_for(self, now: float) -> float:
        return max(0.0, self._locked_until - now)

    def record_failure(self, now: float) -> None:
        self._failures.append(now)
        while self._failures and self._failures[0] <= now - self.lockout.window:
            self._failures.popleft()
        if len(self._failures) >= self.lockout.attempts:
            self._locked_until = now + self.lockout.duration
            self._failures.clear()

    def reset_lockout(self) -> None:
        self._failures.clear()
        self._locked_until = float("-inf")
