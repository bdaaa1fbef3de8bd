"""Tesla tokens: read from a file or the environment (never the command line), never shown.

A token file holds either a JSON object with `refresh_token` and/or `access_token`, or a single
line: a refresh token. When Tesla hands out a new refresh token, a JSON token file is rewritten
with it (mode 0600, atomically), since the old one may stop working.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pw2mqtt.cloud.errors import TokenFileError

REFRESH_ENV: Final = "PW2MQTT_TESLA_REFRESH_TOKEN"
ACCESS_ENV: Final = "PW2MQTT_TESLA_ACCESS_TOKEN"
_MAX_FILE_BYTES: Final = 64 * 1024


@dataclass(slots=True, eq=False)
class TeslaTokens:
    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    path: Path | None = None  # the token file, when they came from one
    rotated: bool = False  # Tesla issued a refresh token other than the one read

    def __repr__(self) -> str:
        kinds = [
            name
            for name, value in (("access", self.access_token), ("refresh", self.refresh_token))
            if value
        ]
        where = str(self.path) if self.path else "environment"
        return f"TeslaTokens({'+'.join(kinds) or 'none'} from {where})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every token value, for redacting text that might echo one."""
        return tuple(value for value in (self.access_token, self.refresh_token) if value)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<token>")
        return text


def find_tokens(
    token_file: Path | None, environ: Mapping[str, str] | None = None
) -> TeslaTokens | None:
    """The tokens of `token_file` if given, else of the environment; None when there are none."""
    if token_file is not None:
        return read_token_file(token_file)
    env = os.environ if environ is None else environ
    access = env.get(ACCESS_ENV, "").strip() or None
    refresh = env.get(REFRESH_ENV, "").strip() or None
    if access is None and refresh is None:
        return None
    return TeslaTokens(access, refresh)


def read_token_file(path: Path) -> TeslaTokens:
    try:
        raw = path.read_bytes()[:_MAX_FILE_BYTES]
    except FileNotFoundError:
        raise TokenFileError(f"token file {path} does not exist") from None
    except OSError as err:
        raise TokenFileError(f"cannot read token file {path}: {err.strerror or err}") from None
    text = raw.decode("utf-8", errors="replace").strip()
    if not text:
        raise TokenFileError(f"token file {path} is empty")
    if text.startswith(("{", "[")):
        return _from_json(path, text)
    if len(text.split()) != 1:
        raise TokenFileError(
            f"token file {path} holds neither a JSON object nor a single refresh token"
        )
    return TeslaTokens(refresh_token=text, path=path)


def token_file_is_private(path: Path) -> bool:
    try:
        return not stat.S_IMODE(path.stat().st_mode) & (stat.S_IRWXG | stat.S_IRWXO)
    except OSError:
        return True


def save_rotated(tokens: TeslaTokens) -> bool:
    """Write a new refresh token back to the JSON token file it came from; False if not possible."""
    path = tokens.path
    if path is None or not tokens.rotated:
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict):
        return False
    data["refresh_token"] = tokens.refresh_token
    data["access_token"] = tokens.access_token
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), 0o600)
            json.dump(data, file, indent=2)
            file.write("\n")
        Path(tmp).replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        return False
    return True


def _from_json(path: Path, text: str) -> TeslaTokens:
    try:
        data = json.loads(text)
    except ValueError:
        raise TokenFileError(f"token file {path} is not valid JSON") from None
    if not isinstance(data, dict):
        raise TokenFileError(f"token file {path} is not a JSON object")
    access = data.get("access_token")
    refresh = data.get("refresh_token")
    access = access.strip() if isinstance(access, str) and access.strip() else None
    refresh = refresh.strip() if isinstance(refresh, str) and refresh.strip() else None
    if access is None and refresh is None:
        raise TokenFileError(f"token file {path} has no access_token or refresh_token")
    return TeslaTokens(access, refresh, path=path)
