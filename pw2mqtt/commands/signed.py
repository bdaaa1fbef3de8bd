"""Commands over signed local control (TEDAPI v1r): which way a command goes, and config.json.

The way: `rest` always REST; `v1r` only signed control, refused with the key's state when the key
is not verified (never a REST fallback, whose failed logins could lock the account out); `auto`
signed control when the gateway says the key is verified, else REST. The key's state is asked
once and kept; a signed request that fails for the key or the signature asks again next time.

A write reads config.json (blob and hash), changes only the named keys and writes with the read
hash; a stale hash reads again and retries once.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from pw2mqtt.commands.parse import Change
from pw2mqtt.config import CommandSettings
from pw2mqtt.errors import CommandError, GatewayError
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.tedapi.errors import (
    ConfigChangedError,
    KeyStoreError,
    SignedControlUnsupportedError,
)
from pw2mqtt.gateway.tedapi.keys import SigningKey, load_key, resolve_key_path
from pw2mqtt.gateway.tedapi.transport import TedapiTransport

_LOGGER = logging.getLogger(__name__)

PAIR_HINT: Final = "pair a key: pw2mqtt pair"
RECHECK_NOT_VERIFIED: Final = 300.0  # seconds before a key that was not verified is asked again
RESERVE_KEY: Final = ("site_info", "backup_reserve_percent")
MODE_KEY: Final = ("default_real_mode",)
NO_GRID_CHARGING_KEY: Final = ("site_info", "disallow_charge_from_grid_with_solar_installed")
EXPORT_RULE_KEY: Final = ("site_info", "customer_preferred_export_rule")

ConfigEdit = dict[tuple[str, ...], Any]


class SignedRoute:
    """Chooses REST or signed control for one gateway's commands."""

    def __init__(
        self,
        client: GatewayClient,
        settings: CommandSettings,
        state_dir: Path | None,
        slug: Callable[[], str | None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._settings = settings
        self._state_dir = state_dir
        self._slug = slug
        self._clock = clock
        self._status: tuple[str, str, float] | None = None  # fingerprint, state, asked at
        self._loaded: tuple[tuple[str, int, int, int], SigningKey] | None = None

    @property
    def verified(self) -> bool:
        """Whether the key was verified when last asked (and nothing failed since)."""
        return self._settings.transport != "rest" and (
            self._status is not None and self._status[1] == "verified"
        )

    def forget(self) -> None:
        """Ask the gateway about the key again before the next command."""
        self._status = None

    async def probe(self) -> None:
        """Learn where the key stands under `auto`, quietly; for lifting REST refusals."""
        if self._settings.transport != "auto":
            return
        try:
            await self.choose()
        except (GatewayError, CommandError) as err:
            _LOGGER.debug("signed control not usable now: %s", err)

    async def choose(self) -> TedapiTransport | None:
        """The signed transport to use, or None for REST; a CommandError when neither may."""
        mode = self._settings.transport
        if mode == "rest":
            return None
        key = self._key(required=mode == "v1r")
        if key is None:
            return None
        state = await self._state(key)
        if state == "verified":
            return self._client.tedapi(key)
        if mode == "auto":
            return None
        raise CommandError(_not_ready(state, key))

    def _key(self, *, required: bool) -> SigningKey | None:
        """The key file's key; loaded again only when the file changed (loading checks an RSA
        key, which takes a good part of a second)."""
        try:
            if self._state_dir is None:
                raise KeyStoreError("no state directory to keep a key in")
            path = resolve_key_path(self._state_dir, self._slug())
            try:
                stat = path.stat()
                version = (str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino)
            except OSError:
                version = (str(path), 0, 0, 0)
            if self._loaded is None or self._loaded[0] != version:
                self._loaded = (version, load_key(path))
            return self._loaded[1]
        except KeyStoreError as err:
            if required:
                raise CommandError(
                    f"commands.transport is v1r but the signing key cannot be used ({err}); "
                    "run pw2mqtt keys generate, then pw2mqtt pair; not sent over REST"
                ) from None
            return None

    async def _state(self, key: SigningKey) -> str:
        known = self._status
        fresh = known is not None and (
            known[1] == "verified" or self._clock() - known[2] < RECHECK_NOT_VERIFIED
        )
        if known is not None and fresh and known[0] == key.fingerprint:
            return known[1]
        try:
            state: str = await self._client.tedapi(key).key_status()
        except SignedControlUnsupportedError:
            state = "unsupported"
        if known is None or known[1] != state:
            _LOGGER.info("signed control of %s: key %s is %s", self._slug(), key.fingerprint, state)
        self._status = (key.fingerprint, state, self._clock())
        return state


def _not_ready(state: str, key: SigningKey) -> str:
    what = {
        "pending": "pending: the owner's power toggle was not seen; switch the Powerwall off and "
        "on as pw2mqtt pair describes",
        "unknown": f"unknown to the gateway (not paired or removed): {PAIR_HINT}",
        "unsupported": "unusable: this gateway does not offer signed control; set "
        "commands.transport: rest",
    }[state]
    return (
        f"signed control key {key.fingerprint} is {what}; not sent over REST "
        "(commands.transport is v1r)"
    )


def config_edit(change: Change) -> ConfigEdit:
    """The config.json keys a change sets, with the values the gateway stores."""
    edit: ConfigEdit = {}
    if change.operation_mode is not None:
        edit[MODE_KEY] = change.operation_mode
    if change.backup_reserve_raw is not None:
        edit[RESERVE_KEY] = change.backup_reserve_raw
    if change.grid_charging is not None:
        edit[NO_GRID_CHARGING_KEY] = not change.grid_charging
    if change.export_rule is not None:
        edit[EXPORT_RULE_KEY] = change.export_rule
    return edit


def get_key(config: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = config
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _applied(config: Mapping[str, Any], edit: ConfigEdit) -> dict[str, Any]:
    out = copy.deepcopy(dict(config))
    for path, value in edit.items():
        place = out
        for part in path[:-1]:
            inner = place.get(part)
            if not isinstance(inner, dict):
                raise CommandError(f"the gateway's config.json has no {part!r} object")
            place = inner
        place[path[-1]] = value
    return out


async def write_config(transport: TedapiTransport, edit: ConfigEdit) -> None:
    """Read, change only `edit`'s keys, write with the read hash; once more on a stale hash."""
    for attempt in (1, 2):
        config, read_hash = await transport.read_config()
        try:
            await transport.write_config(_applied(config, edit), read_hash)
            return
        except ConfigChangedError:
            if attempt == 2:
                raise
            _LOGGER.info("config.json changed between read and write; reading it again")
