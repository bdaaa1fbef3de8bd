"""Each endpoint's own health: when it last answered, why it fails now, and its own backoff.

One endpoint that keeps failing (an HTML page where JSON belongs, a 500, a 503 of its own) is
retried less and less often, while the others keep their pace and the gateway stays available.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pw2mqtt.backoff import Backoff
from pw2mqtt.errors import GatewayError


@dataclass(slots=True)
class _Health:
    backoff: Backoff
    retry_at: float = 0.0
    read_at: float | None = None  # when it last answered (the poller's clock)
    error: GatewayError | None = None  # why it fails now; None while it answers


class EndpointHealth:
    def __init__(self, backoff_max: float) -> None:
        self._backoff_max = backoff_max
        self._health: dict[str, _Health] = {}

    def due(self, name: str, now: float) -> bool:
        """False while the endpoint backs off after failing."""
        health = self._health.get(name)
        return health is None or health.retry_at <= now

    def answered(self, name: str, now: float) -> int:
        """Record an answer; how many times in a row it had failed before."""
        health = self._entry(name, 0.0)
        previous = health.backoff.failures
        health.read_at = now
        health.error = None
        health.retry_at = 0.0
        health.backoff.reset()
        return previous

    def failed(
        self, name: str, err: GatewayError, interval: float, now: float, *, back_off: bool = True
    ) -> int:
        """Record a failure and, unless the gateway as a whole failed (`back_off` False), back
        the endpoint off; its failures in a row."""
        health = self._entry(name, interval)
        health.error = err
        if not back_off:
            return health.backoff.failures
        health.backoff.base = max(interval, 1.0)
        health.backoff.maximum = max(health.backoff.base, self._backoff_max)
        health.retry_at = now + health.backoff.fail()
        return health.backoff.failures

    def mark(self, name: str, err: GatewayError) -> None:
        """Note why an endpoint has no value now, without a backoff of its own (the gateway as a
        whole failed)."""
        self._entry(name, 0.0).error = err

    def retry_now(self, names: Iterable[str]) -> None:
        """Read these at their next tick, backoff or not (after a command changed the site)."""
        for name in names:
            if (health := self._health.get(name)) is not None:
                health.retry_at = 0.0

    def read_at(self, name: str) -> float | None:
        health = self._health.get(name)
        return None if health is None else health.read_at

    def error(self, name: str) -> GatewayError | None:
        health = self._health.get(name)
        return None if health is None else health.error

    def failing(self) -> dict[str, GatewayError]:
        return {name: h.error for name, h in self._health.items() if h.error is not None}

    def _entry(self, name: str, interval: float) -> _Health:
        health = self._health.get(name)
        if health is None:
            base = max(interval, 1.0)
            health = _Health(Backoff(base=base, maximum=max(base, self._backoff_max)))
            self._health[name] = health
        return health
