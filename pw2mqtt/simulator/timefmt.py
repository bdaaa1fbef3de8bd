"""Time formats the gateway uses: Go's RFC 3339 with nanoseconds, Go durations, epoch ms."""

from __future__ import annotations

import datetime as dt
import math

NEVER = "0001-01-01T00:00:00Z"
_PLUS_8 = dt.timezone(dt.timedelta(hours=8))


def rfc3339(t: float, zone: dt.tzinfo) -> str:
    """`2021-12-26T13:09:22.321056599-07:00`; like Go, trailing zeros of the fraction go."""
    seconds = math.floor(t)
    nanos = round((t - seconds) * 1e9)
    if nanos >= 1_000_000_000:
        seconds, nanos = seconds + 1, nanos - 1_000_000_000
    moment = dt.datetime.fromtimestamp(seconds, zone)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    offset = moment.strftime("%z")
    zone_text = "Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"
    return f"{base}{fraction}{zone_text}"


def start_time_text(t: float) -> str:
    """`/api/status` start_time: `2021-12-16 22:13:25 +0800`; every capture shows +0800."""
    return dt.datetime.fromtimestamp(math.floor(t), _PLUS_8).strftime("%Y-%m-%d %H:%M:%S %z")


def go_duration(seconds: float) -> str:
    """Go's time.Duration.String(): `230h55m59.932079901s`, `1.5s`, `250ms`, `0s`."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size or unit == "ns":
                return f"{sign}{_fraction(nanos, size)}{unit}"
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = f"{_fraction(rest, 1_000_000_000)}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _fraction(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{frac:0{digits}d}".rstrip("0")


def epoch_ms(t: float) -> int:
    return math.floor(t * 1000)
