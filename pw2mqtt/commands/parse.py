"""Commands arriving over MQTT, validated into a `Change` before anything reaches a gateway.

Three ways in, one validation:
- `<base>/<gw>/<field>/set` with a plain value (`backup`, `20`, `true`, `run`);
- `<base>/<gw>/set` with a JSON object of fields (`{"backup_reserve": 20}`), applied as one change;
- `<base>/bridge/request/gateway/set` with the same object plus `"gateway"`.
Each may carry a `"transaction"` (JSON forms) that is echoed in the response.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final

from pw2mqtt.entities.catalogue import SETTABLE_MODES
from pw2mqtt.errors import CommandError
from pw2mqtt.gateway.percent import raw_from_app
from pw2mqtt.gateway.signed_config import EXPORT_RULES

MAX_PAYLOAD: Final = 4096
MAX_TRANSACTION: Final = 256
SET_REQUEST: Final = "gateway/set"

Transaction = str | int | float | bool | None


class Kind(StrEnum):
    """What the user enables, separately: each kind is one gateway call."""

    OPERATION_MODE = "operation_mode"
    BACKUP_RESERVE = "backup_reserve"
    OFF_GRID = "off_grid"
    SITEMASTER = "sitemaster"
    GRID_CHARGING = "grid_charging"
    EXPORT_RULE = "export_rule"
    MANUAL_BACKUP = "manual_backup"


SIGNED_ONLY: Final = frozenset({Kind.GRID_CHARGING, Kind.EXPORT_RULE, Kind.MANUAL_BACKUP})
"""Kinds that only signed local control (v1r) can change."""
BACKUP_DEFAULT_S: Final = 3600  # `start` without a duration
BACKUP_MIN_S: Final = 60  # the gateway refuses shorter events
BACKUP_MAX_S: Final = 7 * 24 * 3600
CANCEL: Final = 0  # `Change.manual_backup` of a cancel


_MODE_ALIASES: Final = {"self_powered": "self_consumption", "time_based_control": "autonomous"}
_TRUE: Final = frozenset({"true", "on"})
_FALSE: Final = frozenset({"false", "off"})
# ASCII only: Python's float() also takes Arabic-Indic, full-width or mathematical bold digits,
# which the docs never promise.
_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$", re.ASCII)
_SPACE: Final = " \t\r\n"  # the blanks stripped around a value; others (U+00A0, …) are refused

FIELDS: Final = (
    "operation_mode",
    "backup_reserve",
    "backup_reserve_raw",
    "off_grid",
    "sitemaster",
    "grid_charging",
    "export_rule",
    "manual_backup",
)
FIELD_KINDS: Final = {
    "operation_mode": Kind.OPERATION_MODE,
    "backup_reserve": Kind.BACKUP_RESERVE,
    "backup_reserve_raw": Kind.BACKUP_RESERVE,
    "off_grid": Kind.OFF_GRID,
    "sitemaster": Kind.SITEMASTER,
    "grid_charging": Kind.GRID_CHARGING,
    "export_rule": Kind.EXPORT_RULE,
    "manual_backup": Kind.MANUAL_BACKUP,
}


@dataclass(frozen=True, slots=True)
class Change:
    """What to change on one gateway; None leaves a setting as it is."""

    operation_mode: str | None = None
    backup_reserve_raw: float | None = None
    off_grid: bool | None = None
    sitemaster: str | None = None  # "run" or "stop"
    grid_charging: bool | None = None
    export_rule: str | None = None  # one of EXPORT_RULES
    manual_backup: int | None = None  # seconds of a manual backup event; CANCEL cancels it
    confirm: bool = False  # `"confirm": true` beside `"off_grid": true`

    @property
    def kinds(self) -> frozenset[Kind]:
        values = {
            Kind.OPERATION_MODE: self.operation_mode,
            Kind.BACKUP_RESERVE: self.backup_reserve_raw,
            Kind.OFF_GRID: self.off_grid,
            Kind.SITEMASTER: self.sitemaster,
            Kind.GRID_CHARGING: self.grid_charging,
            Kind.EXPORT_RULE: self.export_rule,
            Kind.MANUAL_BACKUP: self.manual_backup,
        }
        return frozenset(kind for kind, value in values.items() if value is not None)

    def describe(self) -> dict[str, Any]:
        """The change as the user would write it (reserve on the app scale, with the raw value)."""
        out: dict[str, Any] = {}
        if self.operation_mode is not None:
            out["operation_mode"] = self.operation_mode
        if self.backup_reserve_raw is not None:
            out["backup_reserve"] = round(max(0.0, (self.backup_reserve_raw - 5) / 0.95), 2)
            out["backup_reserve_raw"] = self.backup_reserve_raw
        if self.off_grid is not None:
            out["off_grid"] = self.off_grid
        if self.sitemaster is not None:
            out["sitemaster"] = self.sitemaster
        if self.grid_charging is not None:
            out["grid_charging"] = self.grid_charging
        if self.export_rule is not None:
            out["export_rule"] = self.export_rule
        if self.manual_backup is not None:
            out["manual_backup"] = self.manual_backup or "cancel"
        return out


@dataclass(frozen=True, slots=True)
class CommandRequest:
    gateway: str
    change: Change
    transaction: Transaction = None
    source: str = ""  # the topic it came from, for logs and events
    extra: dict[str, Any] = field(default_factory=dict)


def parse_field_set(gateway: str, key: str, payload: bytes, *, source: str = "") -> CommandRequest:
    """`<base>/<gw>/<key>/set` with a plain value (a JSON string, number or bool also works)."""
    if key not in FIELDS:
        raise CommandError(f"{key!r} cannot be set; settable: {', '.join(FIELDS)}")
    if key == "manual_backup" and payload.lstrip(_SPACE.encode())[:1] == b"{":
        value: Any = _decode_object(payload)  # {"duration": seconds}
    else:
        value = _decode_plain(payload)
    return CommandRequest(gateway, _change({key: value}), source=source)


def parse_json_set(
    payload: bytes, *, gateway: str | None = None, source: str = ""
) -> CommandRequest:
    """`<base>/<gw>/set` (gateway given by the topic) or a `gateway/set` request (in the body)."""
    body = _decode_object(payload)
    transaction = _transaction(body.pop("transaction", None))
    try:
        named = body.pop("gateway", None)
        if gateway is None:
            if not isinstance(named, str) or not named:
                raise CommandError('"gateway" is required: the slug of the gateway to change')
            gateway = named
        elif named is not None and named != gateway:
            raise CommandError(f'"gateway" {named!r} does not match the topic\'s {gateway!r}')
        unknown = sorted(set(body) - {*FIELDS, "confirm"})
        if unknown:
            raise CommandError(
                f"unknown field(s) {', '.join(unknown)}; settable: {', '.join(FIELDS)}"
            )
        confirm = body.pop("confirm", None)
        if not body:
            raise CommandError(f"nothing to change; settable: {', '.join(FIELDS)}")
        change = _change(body)
        if confirm is not None:
            change = _confirmed(change, confirm)
    except CommandError as err:
        err.transaction = transaction
        raise
    return CommandRequest(gateway, change, transaction, source=source)


def parse_request(command: str, payload: bytes, *, source: str = "") -> CommandRequest:
    """`<base>/bridge/request/<command>`."""
    if command != SET_REQUEST:
        raise CommandError(f"unknown request {command!r}; requests: {SET_REQUEST}")
    return parse_json_set(payload, source=source)


def transaction_of(payload: bytes) -> Transaction:
    """The transaction of a JSON payload, when there is one, for answering a rejected request."""
    try:
        body = json.loads(payload)
        return _transaction(body.get("transaction")) if isinstance(body, dict) else None
    except (ValueError, CommandError, RecursionError):
        return None


# -- values -----------------------------------------------------------------------------------


def _change(values: dict[str, Any]) -> Change:
    if "backup_reserve" in values and "backup_reserve_raw" in values:
        raise CommandError("give backup_reserve or backup_reserve_raw, not both")
    fields: dict[str, Any] = {}
    for key, value in values.items():
        attribute, parse = _PARSERS[key]
        fields[attribute] = parse(value, key)
    change = Change(**fields)
    kinds = change.kinds
    for alone in _ALONE:
        if alone in kinds and len(kinds) > 1:
            raise CommandError(f"{alone} must be sent on its own")
    return change


def _mode(value: Any) -> str:
    if not isinstance(value, str):
        raise CommandError(f"operation_mode must be one of {', '.join(SETTABLE_MODES)}")
    text = re.sub(r"[ \t-]+", "_", _word(value))
    text = _MODE_ALIASES.get(text, text)
    if text not in SETTABLE_MODES:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise CommandError(
            f"operation_mode {shown!r} is not one of {', '.join(SETTABLE_MODES)} "
            "(or the app's self_powered, time_based_control)"
        )
    return text


def _percent(value: Any, key: str, lowest: float) -> float:
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip(_SPACE)):
        value = float(value.strip(_SPACE))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CommandError(f"{key} must be a number from {lowest:g} to 100")
    number = float(value)
    if not math.isfinite(number) or not lowest <= number <= 100:
        raise CommandError(f"{key} must be a number from {lowest:g} to 100, not {value!r}")
    return number


def _boolean(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = _word(value)
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise CommandError(f"{key} must be true/false or ON/OFF")


def _sitemaster(value: Any) -> str:
    text = _word(value) if isinstance(value, str) else None
    if text not in {"run", "stop"}:
        raise CommandError("sitemaster must be run or stop")
    return text


def _confirmed(change: Change, confirm: Any) -> Change:
    if change.off_grid is None:
        raise CommandError('"confirm" goes with "off_grid" only')
    if not isinstance(confirm, bool):
        raise CommandError('"confirm" must be true or false')
    return replace(change, confirm=confirm)


def _export_rule(value: Any) -> str:
    text = _word(value) if isinstance(value, str) else None
    if text not in EXPORT_RULES:
        raise CommandError(f"export_rule must be one of {', '.join(EXPORT_RULES)}")
    return text


def _manual_backup(value: Any) -> int:
    """`start` (an hour), `cancel`, seconds, or `{"duration": seconds}`."""
    wrong = (
        f"manual_backup must be start, cancel, or a whole number of seconds from "
        f'{BACKUP_MIN_S} to {BACKUP_MAX_S} (also as {{"duration": seconds}})'
    )
    if isinstance(value, dict):
        if set(value) != {"duration"}:
            raise CommandError(wrong)
        value = value["duration"]
    elif isinstance(value, str) and _word(value) in ("start", "cancel"):
        return BACKUP_DEFAULT_S if _word(value) == "start" else CANCEL
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,7}", value.strip(_SPACE), re.ASCII):
        value = int(value.strip(_SPACE))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommandError(wrong)
    if not BACKUP_MIN_S <= value <= BACKUP_MAX_S:
        raise CommandError(wrong)
    return value


_PARSERS: Final[dict[str, tuple[str, Callable[[Any, str], Any]]]] = {
    # field → (the Change attribute it sets, its parser)
    "operation_mode": ("operation_mode", lambda v, k: _mode(v)),
    "backup_reserve": (
        "backup_reserve_raw",
        lambda v, k: round(raw_from_app(_percent(v, k, 0.0)), 3),
    ),
    "backup_reserve_raw": ("backup_reserve_raw", lambda v, k: round(_percent(v, k, 5.0), 3)),
    "off_grid": ("off_grid", _boolean),
    "sitemaster": ("sitemaster", lambda v, k: _sitemaster(v)),
    "grid_charging": ("grid_charging", _boolean),
    "export_rule": ("export_rule", lambda v, k: _export_rule(v)),
    "manual_backup": ("manual_backup", lambda v, k: _manual_backup(v)),
}
_ALONE: Final = (Kind.SITEMASTER, Kind.OFF_GRID, Kind.MANUAL_BACKUP)


def _word(value: str) -> str:
    """Lower-cased ASCII; other text becomes "" (the Kelvin sign U+212A lower-cases to "k")."""
    text = value.strip(_SPACE)
    return text.lower() if text.isascii() else ""


def _transaction(value: Any) -> Transaction:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str) and len(value) <= MAX_TRANSACTION:
        return value
    raise CommandError(
        f"transaction must be a string of at most {MAX_TRANSACTION} characters or a number"
    )


# -- payloads ---------------------------------------------------------------------------------


def _text(payload: bytes) -> str:
    if len(payload) > MAX_PAYLOAD:
        raise CommandError(f"payload too large ({len(payload)} bytes; at most {MAX_PAYLOAD})")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError("payload is not UTF-8 text") from None
    if not text.strip(_SPACE):
        raise CommandError("payload is empty")
    if any(not ch.isprintable() and not ch.isspace() for ch in text):
        raise CommandError("payload contains control characters")
    return text


def _decode_plain(payload: bytes) -> Any:
    text = _text(payload).strip(_SPACE)
    if text[:1] in '"[{':
        try:
            value = json.loads(text, parse_constant=_no_constants)
        except (ValueError, RecursionError):
            raise CommandError("payload is not valid JSON") from None
        if isinstance(value, dict | list):
            raise CommandError("expected a plain value, not a JSON object or list")
        return value
    return text


def _decode_object(payload: bytes) -> dict[str, Any]:
    text = _text(payload)
    try:
        body = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise CommandError("payload is not a valid JSON object") from None
    if not isinstance(body, dict):
        raise CommandError("payload must be a JSON object")
    return body


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not a number")
