"""Faults on demand: latency with jitter, a share of 5xx, 503 busy, 429 rate limit, connection
resets and hangs, and faults confined to one endpoint (a 200 with an HTML page, or a fixed 5xx)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

Outcome = Literal["ok", "busy", "limited", "error", "reset", "hang", "html"]

ERROR_STATUSES = (500, 502, 503, 504)
ENDPOINT_FAULTS = ("html", *(str(status) for status in ERROR_STATUSES))
"""What `endpoints` may give a path: "html" (200 with the web portal's page) or a 5xx status."""


@dataclass(frozen=True, slots=True)
class FaultConfig:
    latency: float = 0.0  # real seconds added to every answer
    jitter: float = 0.0  # plus a uniform random 0..jitter real seconds
    error_rate: float = 0.0  # share of requests answered with a 5xx (0..1)
    error_status: int | None = None  # that 5xx only, instead of a random one of ERROR_STATUSES
    busy: bool = False  # every request gets 503 {"code":503,...}
    rate_limit: bool = False  # every request gets 429 "Api Limit reached", /tedapi/v1r included
    reset: bool = False  # every connection is dropped without an answer
    hang: bool = False  # no request is ever answered (the client must time out)
    endpoints: Mapping[str, str] = field(default_factory=dict)  # path -> an ENDPOINT_FAULTS entry

    def __post_init__(self) -> None:
        if self.latency < 0 or self.jitter < 0:
            raise ValueError("latency and jitter must be >= 0")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be within 0..1")
        if self.error_status is not None and self.error_status not in ERROR_STATUSES:
            raise ValueError(f"error_status must be one of {ERROR_STATUSES}")
        for path, fault in self.endpoints.items():
            if not path.startswith("/") or fault not in ENDPOINT_FAULTS:
                raise ValueError(
                    f"endpoints: {path!r}: use a path starting with '/' and one of "
                    + ", ".join(ENDPOINT_FAULTS)
                )

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(sorted(unknown))}")
        endpoints = data.get("endpoints") or {}
        if not isinstance(endpoints, dict):
            raise ValueError("endpoints must be an object of path -> fault")
        status = data.get("error_status")
        return cls(
            latency=float(data.get("latency", 0.0)),
            jitter=float(data.get("jitter", 0.0)),
            error_rate=float(data.get("error_rate", 0.0)),
            error_status=None if status is None else int(status),
            busy=bool(data.get("busy", False)),
            rate_limit=bool(data.get("rate_limit", False)),
            reset=bool(data.get("reset", False)),
            hang=bool(data.get("hang", False)),
            endpoints={str(path): str(fault) for path, fault in endpoints.items()},
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

    def outcome(self, path: str = "") -> tuple[Outcome, int]:
        cfg = self.config
        whole_gateway: tuple[tuple[bool, tuple[Outcome, int]], ...] = (
            (cfg.hang, ("hang", 0)),
            (cfg.reset, ("reset", 0)),
            (cfg.busy, ("busy", 503)),
            (cfg.rate_limit, ("limited", 429)),
        )
        for active, outcome in whole_gateway:
            if active:
                return outcome
        confined = cfg.endpoints.get(path)
        if confined is not None:
            return _confined(confined)
        if cfg.error_rate and self._random.random() < cfg.error_rate:
            return "error", cfg.error_status or self._random.choice(ERROR_STATUSES)
        return "ok", 200


def _confined(fault: str) -> tuple[Outcome, int]:
    if fault == "html":
        return "html", 200
    status = int(fault)
    return ("busy" if status == 503 else "error"), status
