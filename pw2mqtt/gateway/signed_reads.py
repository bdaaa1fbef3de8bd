"""Reading config.json through signed control for the poller, and what to do when it cannot.

A key the gateway does not know (never paired, removed while running) or whose pairing was not
finished is said once, with its fingerprint and how to fix it; signed reads then rest for a while
and try once more. Firmware without v1r (404) is remembered: no signed request is sent again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Final

from pw2mqtt.errors import GatewayBackingOffError, GatewayError, GatewayPausedError
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.signed_config import SIGNED_CONFIG, SignedConfig, parse_signed_config
from pw2mqtt.gateway.snapshot import GatewaySnapshot, rest_din
from pw2mqtt.gateway.tedapi.errors import (
    KeyFileMissingError,
    KeyNotPairedError,
    KeyStoreError,
    PairingNotFinishedError,
    SignedControlUnsupportedError,
)
from pw2mqtt.gateway.tedapi.keys import SigningKey, load_key, resolve_key_path

_LOGGER = logging.getLogger(__name__)

KEY_FAULT_PAUSE_S: Final = 600.0


def is_key_fault(err: BaseException | None) -> bool:
    """The gateway does not accept the key: what it read through it no longer holds."""
    return isinstance(err, KeyNotPairedError | PairingNotFinishedError)


def load_signing_key(state_dir: Path, slug: str | None, label: str) -> SigningKey | None:
    """The key to sign reads with, or None (no key: nothing signed; an unusable one: said)."""
    try:
        return load_key(resolve_key_path(state_dir, slug))
    except KeyFileMissingError:
        return None
    except KeyStoreError as err:
        _LOGGER.warning("%s: signed control not used: %s", label, err)
        return None


class SignedReader:
    """One gateway's signed reads of config.json; `read` raises what the poller must record."""

    def __init__(
        self,
        client: GatewayClient,
        key: SigningKey,
        *,
        pause_s: float = KEY_FAULT_PAUSE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._key = key
        self._pause_s = pause_s
        self._clock = clock
        self._resting_until = 0.0
        self._fault: type[GatewayError] | None = None  # the key fault last said
        self._problems: tuple[str, ...] = ()
        self.unsupported = False

    def due(self) -> bool:
        return not self.unsupported and self._clock() >= self._resting_until

    async def read(self) -> SignedConfig | None:
        """config.json's settings; None when nothing was asked (paused gate, no v1r)."""
        try:
            config, config_hash = await self._client.tedapi(self._key).read_config()
        except SignedControlUnsupportedError:
            self.unsupported = True
            _LOGGER.info(
                "%s: signed control (/tedapi/v1r) is not offered by this firmware; "
                "not asking again",
                self._client.address,
            )
            return None
        except (GatewayPausedError, GatewayBackingOffError):
            return None
        except GatewayError as err:
            if is_key_fault(err):
                self._key_refused(err)
            raise
        self._accepted()
        parsed, problems = parse_signed_config(config, config_hash)
        if problems and problems != self._problems:
            _LOGGER.warning(
                "%s: config.json read through signed control has unusable values (%s); "
                "those stay unknown",
                self._client.address,
                "; ".join(problems),
            )
        self._problems = problems
        return parsed

    def _key_refused(self, err: GatewayError) -> None:
        self._resting_until = self._clock() + self._pause_s
        if type(err) is self._fault:
            _LOGGER.debug("%s: signed read refused again: %s", self._client.address, err)
            return
        self._fault = type(err)
        _LOGGER.warning(
            "%s: signed reads stop: %s [key %s; `pw2mqtt pair --status` tells where it stands]. "
            "Values read through signed control are unavailable, REST values carry on; next try "
            "in %.0f min",
            self._client.address,
            err,
            self._key.fingerprint,
            self._pause_s / 60,
        )

    def _accepted(self) -> None:
        if self._fault is not None:
            _LOGGER.info(
                "%s: signing key %s is accepted again", self._client.address, self._key.fingerprint
            )
        self._fault = None


class SignedPolling:
    """The poller's reads beside the REST tiers: config.json, and the DIN a PW3 is named by.

    A signed read runs as a task of its own, so a slow one delays no fast tick; its result joins
    the first poll after it ends (`on_done` wakes the poller for it).
    """

    def __init__(self, client: GatewayClient, reader: SignedReader | None) -> None:
        self._client = client
        self._reader = reader
        self._task: asyncio.Task[SignedConfig | None] | None = None
        self.wanted = True  # read at the next poll whatever the schedule (start, after a command)
        self.on_done: Callable[[], None] = lambda: None
        self.din: str | None = None  # from /tedapi/din, read once when REST names none
        self._din_asked = False

    def start(self, slow_due: bool, health_due: bool) -> None:
        reader = self._reader
        if reader is None or self._task is not None or not reader.due():
            return
        if not self.wanted and not (slow_due and health_due):
            return
        self.wanted = False
        self._task = asyncio.get_running_loop().create_task(reader.read())
        self._task.add_done_callback(lambda _: self.on_done())

    def take(self, fresh: GatewaySnapshot) -> GatewaySnapshot:
        """`fresh` with the finished signed read's outcome, if one finished."""
        task = self._task
        if task is None or not task.done():
            return fresh
        self._task = None
        try:
            config = task.result()
        except GatewayError as err:
            return replace(fresh, failed={**fresh.failed, SIGNED_CONFIG: err})
        except Exception as err:  # a fault in a signed read must not stop polling
            _LOGGER.exception("%s: the signed read failed unexpectedly", self._client.address)
            failure = GatewayError(f"signed read failed: {type(err).__name__}")
            return replace(fresh, failed={**fresh.failed, SIGNED_CONFIG: failure})
        return fresh if config is None else replace(fresh, signed_config=config)

    async def find_din(self, snapshot: GatewaySnapshot) -> str | None:
        """The DIN from /tedapi/din for a gateway whose REST API names none, asked once (and
        again after an outage while it is unknown)."""
        if self.din is not None or self._din_asked or rest_din(snapshot) is not None:
            return self.din
        self._din_asked = True
        try:
            self.din = await self._client.read_din()
        except SignedControlUnsupportedError:
            _LOGGER.debug("%s: no /tedapi/din either", self._client.address)
        except GatewayError as err:
            _LOGGER.info("%s: its DIN could not be read (%s)", self._client.address, err)
        return self.din

    def lost(self) -> None:
        """The gateway stopped answering: ask for a DIN still unknown once it answers again."""
        self._din_asked = self.din is not None

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
