"""What the client keeps between runs: the pinned certificate and the login session.

Files live in `<state_dir>/<gateway key>/` and are written atomically with mode 0600, because the
session file holds a token that is as good as the password until it expires.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

_PIN_FILE = "tls-pin.sha256"
_SESSION_FILE = "session.json"
_SLUG_FILE = "topic-slug"
_REFUSALS_FILE = "refused-commands.json"


@dataclass(frozen=True, slots=True)
class StoredSession:
    role: str
    token: str
    auth_cookie: str | None = None
    user_record: str | None = None

    def __repr__(self) -> str:
        return f"StoredSession(role={self.role!r}, token=<redacted>)"


@dataclass(frozen=True, slots=True)
class StoredRefusal:
    """A command kind the gateway refused, kept so a restart does not ask it again at once."""

    kind: str
    reason: str
    until: float  # epoch seconds
    role: str
    firmware: str | None = None


class GatewayState:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def load_pin(self) -> str | None:
        try:
            text = (self.directory / _PIN_FILE).read_text(encoding="ascii").strip().lower()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        return text or None

    def save_pin(self, fingerprint: str) -> Path:
        return self._write(_PIN_FILE, fingerprint + "\n")

    def load_slug(self) -> str | None:
        """The topic slug this gateway was published under, so it is known before it answers."""
        try:
            text = (self.directory / _SLUG_FILE).read_text(encoding="utf-8").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        return text or None

    def save_slug(self, slug: str) -> None:
        self._write(_SLUG_FILE, slug + "\n")

    def load_session(self, role: str) -> StoredSession | None:
        try:
            data = json.loads((self.directory / _SESSION_FILE).read_text(encoding="utf-8"))
            session = StoredSession(**data)
        except (FileNotFoundError, ValueError, TypeError):
            return None
        return session if session.role == role and session.token else None

    def save_session(self, session: StoredSession) -> None:
        self._write(_SESSION_FILE, json.dumps(asdict(session)))

    def clear_session(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.directory / _SESSION_FILE).unlink()

    def load_refusals(self) -> tuple[StoredRefusal, ...]:
        try:
            data = json.loads((self.directory / _REFUSALS_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return ()
        except (OSError, ValueError) as err:
            _LOGGER.warning(
                "the remembered command refusals could not be read (%s); forgotten", err
            )
            return ()
        entries = data.get("refused") if isinstance(data, dict) else None
        refusals = [_refusal(entry) for entry in entries] if isinstance(entries, list) else [None]
        if None in refusals:
            _LOGGER.warning("some remembered command refusals were not understood; forgotten")
        return tuple(refusal for refusal in refusals if refusal is not None)

    def save_refusals(self, refusals: Iterable[StoredRefusal]) -> None:
        self._write(_REFUSALS_FILE, json.dumps({"refused": [asdict(r) for r in refusals]}))

    def _write(self, name: str, text: str) -> Path:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / name
        temporary = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o600)  # the umask or an existing file may have widened it
        temporary.replace(path)
        return path


def _refusal(entry: object) -> StoredRefusal | None:
    if not isinstance(entry, dict) or set(entry) - set(StoredRefusal.__dataclass_fields__):
        return None
    kind, reason, role = entry.get("kind"), entry.get("reason"), entry.get("role")
    until, firmware = entry.get("until"), entry.get("firmware")
    if not (isinstance(kind, str) and isinstance(reason, str) and isinstance(role, str)):
        return None
    if isinstance(until, bool) or not isinstance(until, int | float) or not math.isfinite(until):
        return None
    if firmware is not None and not isinstance(firmware, str):
        return None
    return StoredRefusal(kind, reason, float(until), role, firmware)
