"""Parsers for the value formats the gateway uses, and pydantic types built on them.

Every parser raises `ValueError` (never `TypeError`) on bad input, so pydantic turns the failure
into a `ValidationError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar, get_args

from pydantic import BeforeValidator, GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

_DATETIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?"
    r"(?: ?(?P<offset>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?"
)
_NANOS_PER_UNIT = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign; Go also accepts the Greek mu below
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_UNITS = "|".join(sorted(_NANOS_PER_UNIT, key=len, reverse=True))  # "ms" before "m"
_GO_DURATION_PART = re.compile(rf"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)({_UNITS})")
_GO_DURATION = re.compile(rf"[+-]?(?:{_GO_DURATION_PART.pattern})+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T")


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse_datetime(value: str, *, need_offset: bool) -> datetime | None:
    """Return an aware datetime (naive when there is no offset), or None for Go's zero time."""
    match = _DATETIME.fullmatch(value)
    if match is None:
        raise ValueError(f"not a timestamp: {_describe(value)}")
    offset = match["offset"]
    if offset is None and need_offset:
        raise ValueError(f"timestamp without a UTC offset: {_describe(value)}")
    year, month, day = (int(part) for part in match["date"].split("-"))
    if year <= 1:  # Go's zero time, 0001-01-01T00:00:00Z, means "never"
        return None
    micros = int((match["fraction"] or "0")[:6].ljust(6, "0"))  # truncate nanoseconds
    tz: timezone | None = None
    if offset is not None:
        tz = UTC if offset in "Zz" else _offset(offset)
    return datetime(
        year,
        month,
        day,
        int(match["hour"]),
        int(match["minute"]),
        int(match["second"]),
        micros,
        tzinfo=tz,
    )


def _offset(text: str) -> timezone:
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:] or "0")
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(minutes=minutes))  # ValueError beyond ±24 h


def parse_timestamp(value: object) -> datetime | None:
    """RFC 3339 with up to nanoseconds (truncated to µs) and an offset; year 1 means never."""
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("timestamp without a UTC offset")
        return value
    if not isinstance(value, str):
        raise ValueError(f"a timestamp must be a string, got {type(value).__name__}")
    return _parse_datetime(value, need_offset=True)


def parse_start_time(value: object) -> datetime | None:
    """`/api/status` start_time, e.g. "2021-12-16 22:13:25 +0800", as a naive local time.

    The offset is dropped on purpose: the captures show the gateway prints its *local* wall-clock
    time and labels it "+0800" whatever its time zone (start_time plus up_time matches the
    gateway's -07:00 timestamps in two sweeps). Derive the boot instant from up_time instead.
    """
    if value is None or isinstance(value, datetime):
        return None if value is None else value.replace(tzinfo=None)
    if not isinstance(value, str):
        raise ValueError(f"start_time must be a string, got {type(value).__name__}")
    parsed = _parse_datetime(value, need_offset=False)
    return None if parsed is None else parsed.replace(tzinfo=None)


def parse_go_duration(value: object) -> timedelta:
    """A Go `time.Duration` string such as "230h55m59.93s", "1m30s", "500ms" or "-1.5h".

    Precision below a microsecond is truncated toward zero.
    """
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f"a duration must be a string, got {type(value).__name__}")
    if value in {"0", "+0", "-0"}:
        return timedelta(0)
    if _GO_DURATION.fullmatch(value) is None:
        raise ValueError(f"not a Go duration: {_describe(value)}")
    nanos = sum(
        (
            Decimal(number) * _NANOS_PER_UNIT[unit]
            for number, unit in _GO_DURATION_PART.findall(value)
        ),
        Decimal(0),
    )
    if value.startswith("-"):
        nanos = -nanos
    try:
        return timedelta(microseconds=int(nanos / 1000))
    except (OverflowError, InvalidOperation) as exc:
        raise ValueError(f"duration out of range: {_describe(value)}") from exc


def parse_legacy_uptime(value: object) -> timedelta:
    """Very old firmware's sitemaster `uptime`, e.g. "802459s," (note the trailing comma)."""
    if isinstance(value, str):
        value = value.strip().rstrip(",").strip()
    return parse_go_duration(value)


def _finite(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"{what} must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError as exc:
        raise ValueError(f"{what} out of range") from exc
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {number}")
    return number


def parse_epoch_millis(value: object) -> datetime:
    """Milliseconds since the Unix epoch (`current_time`, `grid_faults[].timestamp`) → aware UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("timestamp without a UTC offset")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        millis: float = value
    else:
        millis = _finite(value, "epoch milliseconds")
    try:
        return _EPOCH + timedelta(milliseconds=millis)
    except OverflowError as exc:
        raise ValueError(f"epoch milliseconds out of range: {_describe(value)}") from exc


def parse_number(value: object) -> float:
    """Any JSON number (int or float) as a finite float; bools and strings are refused."""
    return _finite(value, "value")


def parse_integer(value: object) -> int:
    """An int, or a float with no fractional part (firmware may send 11.0 for 11)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = _finite(value, "value")
    if not number.is_integer():
        raise ValueError(f"expected a whole number, got {number}")
    return int(number)


MAX_LIST_ITEMS = 2000
"""Far more items than any gateway list holds (alerts, faults, batteries, meters, networks)."""


def _none_as_empty(value: object) -> object:
    """`None` as an empty list, and a list far too long refused as one error, before pydantic
    would build an error for each of its items."""
    if value is None:
        return ()
    if isinstance(value, list | tuple) and len(value) > MAX_LIST_ITEMS:
        raise ValueError(f"a list of {len(value)} items; at most {MAX_LIST_ITEMS} expected")
    return value


def _lenient(parse: Callable[[object], T | None]) -> Callable[[object], T | None]:
    """Time values are metadata: one in a format never seen before becomes None rather than
    sinking the power and energy readings that arrive beside it."""

    def parse_or_none(value: object) -> T | None:
        try:
            return parse(value)
        except ValueError:
            return None

    return parse_or_none


Timestamp = Annotated[datetime | None, BeforeValidator(_lenient(parse_timestamp))]
"""Aware datetime in the gateway's own offset; None for "never" (0001-01-01T00:00:00Z)."""
StartTime = Annotated[datetime | None, BeforeValidator(_lenient(parse_start_time))]
GoDuration = Annotated[timedelta | None, BeforeValidator(_lenient(parse_go_duration))]
LegacyUptime = Annotated[timedelta | None, BeforeValidator(_lenient(parse_legacy_uptime))]
EpochMillis = Annotated[datetime | None, BeforeValidator(_lenient(parse_epoch_millis))]
Number = Annotated[float, BeforeValidator(parse_number)]
Integer = Annotated[int, BeforeValidator(parse_integer)]
NULL_AS_EMPTY = BeforeValidator(_none_as_empty)
"""Use as `Annotated[tuple[X, ...], NULL_AS_EMPTY]` for lists the gateway may send as null."""


E = TypeVar("E", bound=StrEnum)


class Tolerant(Generic[E]):
    """A known enum member, or the enum's `UNKNOWN` member, together with the text that was sent.

    Use `Tolerant[SomeStrEnum]` as a model field type; `SomeStrEnum` must have an `UNKNOWN`
    member. Validation never fails on an unseen string, only on a value that is not a string.
    (A plain immutable class: pydantic would treat a dataclass as a dataclass, not call the
    schema hook below.)
    """

    __slots__ = ("_raw", "_value")

    def __init__(self, value: E, raw: str) -> None:
        self._value = value
        self._raw = raw

    @property
    def value(self) -> E:
        return self._value

    @property
    def raw(self) -> str:
        return self._raw

    @property
    def known(self) -> bool:
        return self._value.name != "UNKNOWN"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tolerant):
            return NotImplemented
        return (self._value, self._raw) == (other._value, other._raw)

    def __hash__(self) -> int:
        return hash((self._value, self._raw))

    def __repr__(self) -> str:
        return f"Tolerant({self._value!r}, raw={self._raw!r})"

    def __str__(self) -> str:
        return self._raw

    @classmethod
    def parse(cls, enum: type[E], value: object) -> Tolerant[E]:
        if isinstance(value, Tolerant):
            value = value.raw
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {type(value).__name__}")
        try:
            member = enum(value)
        except ValueError:
            member = enum["UNKNOWN"]
        return cls(member, value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        args = get_args(source)
        enum = args[0] if len(args) == 1 else None
        if not (
            isinstance(enum, type) and issubclass(enum, StrEnum) and "UNKNOWN" in enum.__members__
        ):
            raise TypeError("use Tolerant[E] where E is a StrEnum with an UNKNOWN member")
        enum_cls: Any = enum  # mypy cannot tie this runtime class to the TypeVar E
        return core_schema.no_info_plain_validator_function(
            lambda value: cls.parse(enum_cls, value),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda tolerant: tolerant.raw, return_schema=core_schema.str_schema()
            ),
        )
