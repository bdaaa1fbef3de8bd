"""What the client keeps between runs: the pinned certificate, the login session, the topic slug.

Files live in `<state_dir>/<gateway key>/` and are written atomically and durably with mode 0600,
because the session file holds a token that is as good as the password until it expires. The
session is bound to the credential it was obtained with by a salted hash (never the password), so
a changed password means a new login, not a session that vouches for a password never checked.

Damaged content (a file cut short, edited by hand, or made a directory) is ignored with a warning
and written afresh; log lines name the file, never its path.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import logging
import math
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from pw2mqtt.config import GatewaySettings, is_slug
from pw2mqtt.errors import StateDirError
from pw2mqtt.files import write_durably

_LOGGER = logging.getLogger(__name__)

_PIN_FILE = "tls-pin.sha256"
_SESSION_FILE = "session.json"
_SLUG_FILE = "topic-slug"
_REFUSALS_FILE = "refused-commands.json"


_PROBE_FILE = ".write-test"
_MAX_STATE_FILE: Final = 64 * 1024
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
_SCRYPT: Final = {"n": 2**14, "r": 8, "p": 1}


_PROCESS_SALT: Final = os.urandom(16)


def credential_hash(role: str, password: str, salt: bytes | None = None) -> str:
    """`scrypt$<salt hex>$<hash hex>` of the role and password: enough to tell whether a saved
    session was obtained with this credential, useless for finding the password.

    scrypt costs ~30 ms of CPU on purpose, so one process salts with one salt and works each
    credential out once: a fleet of gateways sharing a password logs in without paying it per
    gateway, and a restart checks their saved sessions for the price of one."""
    return _credential_hash(role, password, _PROCESS_SALT if salt is None else salt)


@functools.lru_cache(maxsize=256)
def _credential_hash(role: str, password: str, salt: bytes) -> str:
    digest = hashlib.scrypt(f"{role}\0{password}".encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def credential_matches(stored: str | None, role: str, password: str) -> bool:
    kind, _, rest = (stored or "").partition("$")
    salt_hex, _, digest_hex = rest.partition("$")
    try:
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    if kind != "scrypt" or not salt or not digest_hex:
        return False
    return hmac.compare_digest(credential_hash(role, password, salt), stored or "")


@dataclass(frozen=True, slots=True)
class StoredSession:
    role: str
    token: str
    auth_cookie: str | None = None
    user_record: str | None = None
    credential: str | None = None  # `credential_hash` of what it was obtained with

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
    def __init__(self, directory: Path, label: str = "gateway") -> None:
        self.directory = directory
        self.label = label

    def load_pin(self) -> str | None:
        text = self._read(_PIN_FILE, "TLS pin")
        if text is None:
            return None
        pin = text.strip().lower()
        if not _FINGERPRINT.match(pin):
            self._damaged("TLS pin", "not a SHA-256 fingerprint", "pinning the certificate afresh")
            return None
        return pin

    def save_pin(self, fingerprint: str) -> Path:
        return self._write(_PIN_FILE, fingerprint + "\n")

    def load_slug(self) -> str | None:
        """The topic slug this gateway was published under, so it is known before it answers."""
        text = self._read(_SLUG_FILE, "topic slug")
        if text is None:
            return None
        slug = text.strip()
        if not is_slug(slug):
            self._damaged("topic slug", "not a usable topic level", "working it out again")
            return None
        return slug

    def save_slug(self, slug: str) -> None:
        self._write(_SLUG_FILE, slug + "\n")

    def load_session(self, role: str, password: str) -> StoredSession | None:
        """The saved session, if it was obtained as `role` with `password`."""
        text = self._read(_SESSION_FILE, "session")
        if text is None:
            return None
        session = _parse_session(text)
        if session is None:
            self._damaged("session", "not a session pw2mqtt wrote", "logging in afresh")
            return None
        if session.role != role:
            return None
        if not credential_matches(session.credential, role, password):
            _LOGGER.info(
                "%s: the saved session was not obtained with this password; logging in afresh",
                self.label,
            )
            return None
        return session

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

    def check_writable(self) -> None:
        """Raise `StateDirError` unless a session saved now would be kept."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            session = self.directory / _SESSION_FILE
            if session.is_dir():
                self._damaged("session", "a directory", "removing it")
                session.rmdir()  # an empty directory in the way; anything more is the user's
            self._write(_PROBE_FILE, " " * 4096)  # room for a session, not just a name
            (self.directory / _PROBE_FILE).unlink()
        except OSError as err:
            raise StateDirError(self.directory, err) from None

    def check_usable(self, settings: GatewaySettings) -> None:
        """At start-up, before anything connects: raise `StateDirError` when this gateway will
        need something saved (a login's session, a first TLS pin) that cannot be saved."""
        try:
            self.check_writable()
        except StateDirError as err:
            pin_needed = settings.tls.mode == "pin" and not settings.tls.fingerprint
            password = settings.password.get_secret_value()
            if (pin_needed and self.load_pin() is None) or (
                self.load_session(settings.role, password) is None
            ):
                raise
            _LOGGER.warning(
                "%s: the state directory cannot be written (%s); using the saved session, but "
                "a new login will not be possible until it can",
                self.label,
                err.reason,
            )

    def _read(self, name: str, what: str) -> str | None:
        path = self.directory / name
        try:
            with path.open("rb") as file:
                data = file.read(_MAX_STATE_FILE + 1)
        except FileNotFoundError:
            return None
        except OSError as err:
            self._damaged(what, err.strerror or type(err).__name__, "ignoring it")
            return None
        if len(data) > _MAX_STATE_FILE:
            self._damaged(what, "far too large", "ignoring it")
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self._damaged(what, "not text", "ignoring it")
            return None

    def _damaged(self, what: str, why: str, action: str) -> None:
        _LOGGER.warning("%s: the saved %s is damaged (%s); %s", self.label, what, why, action)

    def _write(self, name: str, text: str) -> Path:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / name
        write_durably(path, text.encode("utf-8"))
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


def _parse_session(text: str) -> StoredSession | None:
    try:
        data = json.loads(text)
        session = StoredSession(**data)
    except (ValueError, TypeError):
        return None
    texts = (session.role, session.token, session.auth_cookie or "", session.user_record or "")
    if not all(isinstance(text, str) for text in (*texts, session.credential or "")):
        return None
    if not session.token or not all(_is_header_safe(text) for text in texts):
        return None
    return session


def _is_header_safe(text: str) -> bool:
    """Printable ASCII without `;` or spaces: what a token or cookie value may be."""
    return all(33 <= ord(ch) < 127 and ch not in ";," for ch in text)
