"""The site's weather and habits: a day curve of solar and load with seeded, smooth noise.

Deterministic for a seed, so two runs of the simulator see the same days.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass

_MASK = (1 << 64) - 1


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _hash_unit(seed: int, channel: int, k: int) -> float:
    """A deterministic value in [-1, 1] for (seed, channel, bucket k)."""
    h = _splitmix((seed * 1_000_003 + channel * 7_919 + k) & _MASK)
    return (h >> 11) / float(1 << 52) - 1.0


def smooth_noise(seed: int, channel: int, t: float, period: float) -> float:
    """Value noise in [-1, 1], smooth in t, changing over about `period` seconds."""
    x = t / period
    k = math.floor(x)
    f = x - k
    f = f * f * (3.0 - 2.0 * f)
    a = _hash_unit(seed, channel, k)
    b = _hash_unit(seed, channel, k + 1)
    return a + (b - a) * f


def load_zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


@dataclass(frozen=True, slots=True)
class DayShape:
    timezone: str
    seed: int
    peak_solar_w: float
    base_load_w: float
    sunrise_h: float
    sunset_h: float


class DayCurves:
    """Solar production and home load, in W, for a simulated instant."""

    def __init__(self, config: DayShape) -> None:
        self.config = config
        self.zone = load_zone(config.timezone)
        self._offset_cache: tuple[int, float] = (-1, 0.0)

    def local_seconds(self, t: float) -> float:
        """Epoch seconds shifted by the site's UTC offset (cached per hour)."""
        hour_bucket = int(t // 3600)
        cached_bucket, offset = self._offset_cache
        if cached_bucket != hour_bucket:
            delta = dt.datetime.fromtimestamp(t, self.zone).utcoffset()
            offset = delta.total_seconds() if delta is not None else 0.0
            self._offset_cache = (hour_bucket, offset)
        return t + offset

    def local_hour(self, t: float) -> float:
        return (self.local_seconds(t) % 86_400.0) / 3600.0

    def solar(self, t: float) -> float:
        cfg = self.config
        local = self.local_seconds(t)
        hour = (local % 86_400.0) / 3600.0
        if not cfg.sunrise_h < hour < cfg.sunset_h:
            return 0.0
        phase = (hour - cfg.sunrise_h) / (cfg.sunset_h - cfg.sunrise_h)
        shape = float(math.sin(math.pi * phase) ** 1.5)
        day = math.floor(local / 86_400.0)
        daily = 0.8 + 0.2 * _hash_unit(cfg.seed, 1, day)  # 0.6 .. 1.0: the day's weather
        clouds = 0.85 + 0.15 * smooth_noise(cfg.seed, 2, t, 900.0)
        return max(0.0, cfg.peak_solar_w * shape * daily * clouds)

    def load(self, t: float) -> float:
        cfg = self.config
        hour = self.local_hour(t)
        morning = math.exp(-(((hour - 7.5) / 1.2) ** 2))
        evening = math.exp(-(((hour - 19.0) / 2.0) ** 2))
        shape = 0.75 + 0.6 * morning + 1.1 * evening
        noise = 1.0 + 0.2 * smooth_noise(cfg.seed, 3, t, 120.0)
        return max(50.0, cfg.base_load_w * shape * noise)
