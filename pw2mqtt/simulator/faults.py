"""Faults on demand: latency with jitter, a share of 5xx, 503 busy, 429 rate limit, connection
resets and hangs."""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from typing import Any, Literal

Outcome = Literal["ok", "busy", "limited", "error", "reset", "hang"]

ERROR_STATUSES = (500, 502, 503, 504)


@dataclass(frozen=True, slots=True)
class FaultConfig:
    latency: float = 0.0  # real seconds added to every answer
    jitter: float = 0.0  # plus a uniform random 0..jitter real seconds
    error_rate: float = 0.0  # share of requests answered with a 5xx (0..1)
    busy: bool = False  # every request gets 503 {"code":503,...}
    rate_limit: bool = False  # every request gets 429 "Api Limit reached", /tedapi/v1r included
    reset: bool = False  # every connection is dropped without an answer
    hang: bool = False  # no request is ever answered (the client must time out)

    def __post_init__(self) -> None:
        if self.latency < 0 or self.jitter < 0:
            raise ValueError("latency and jitter must be >= 0")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be within 0..1")

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(sorted(unknown))}")
        return cls(
            latency=float(data.get("latency", 0.0)),
            jitter=float(data.get("jitter", 0.0)),
            error_rate=float(data.get("error_rate", 0.0)),
            busy=bool(data.get("busy", False)),
            rate_limit=bool(data.get("rate_limit", False)),
            reset=bool(data.get("reset", False)),
            hang=bool(data.get("hang", False)),
        )

    @property
    def active(self) -> bool:
        return self != FaultConfig()


class FaultInjector:
    def __init__(self, seed: int) -> None:
        self.config = FaultConfig()
        self._random = random.Random(seed)  # noqa: S311 - deterministic noise, not crypto

    def delay(self) -> float:
        cfg = self.config
        if cfg.jitter:
            return cfg.latency + self._random.uniform(0.0, cfg.jitter)
        return cfg.latency

    def outcome(self) -> tuple[Outcome, int]:
        cfg = self.config
        if cfg.hang:
            return "hang", 0
        if cfg.reset:
            return "reset", 0
        if cfg.busy:
            return "busy", 503
        if cfg.rate_limit:
            return "limited", 429
        if cfg.error_rate and self._random.random() < cfg.error_rate:
            return "error", self._random.choice(ERROR_STATUSES)
        return "ok", 200
