"""Decide which values are worth publishing: changed beyond their deadband, or due a heartbeat.

Lifetime counters are monotonic: a reading below the last one published is held back, so Home
Assistant's statistics never see a drop (a gateway that briefly reports a smaller total, or 0,
would otherwise register as a meter reset).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from pw2mqtt.entities.catalogue import Entity, Value

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class _Published:
    value: Value
    at: float


class ValueTracker:
    def __init__(self, heartbeat: float) -> None:
        self._heartbeat = heartbeat
        self._published: dict[str, _Published] = {}

    def due(
        self, readings: Iterable[tuple[Entity, Value]], now: float
    ) -> list[tuple[Entity, Value]]:
        """The readings to publish now; each one returned is recorded as published."""
        out: list[tuple[Entity, Value]] = []
        for entity, value in readings:
            last = self._published.get(entity.key)
            if last is not None and not self._worth_publishing(entity, last, value, now):
                continue
            self._published[entity.key] = _Published(value, now)
            out.append((entity, value))
        return out

    def last(self, key: str) -> Value | None:
        published = self._published.get(key)
        return None if published is None else published.value

    def forget(self) -> None:
        """Publish everything again on the next round (a new broker session, an HA restart)."""
        for published in self._published.values():
            published.at = float("-inf")

    def _worth_publishing(self, entity: Entity, last: _Published, value: Value, now: float) -> bool:
        old, new = _number(last.value), _number(value)
        if entity.monotonic and old is not None and new is not None and new < old:
            _LOGGER.debug("%s fell from %s to %s; not published", entity.key, old, new)
            return False
        if now - last.at >= self._heartbeat:
            return True
        if old is not None and new is not None:
            return abs(new - old) > entity.deadband
        return value != last.value


def _number(value: Value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
