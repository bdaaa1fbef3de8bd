"""`<base>/bridge/health`: how each gateway and the process fare, for people and monitors.

Sent retained every `interval` seconds, and soon after something that matters changes (a gateway
going offline or back, a new reason, a command's result; at most every `MIN_SPACING` seconds);
counters ticking do not send it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pw2mqtt import __version__
from pw2mqtt.bridge.gateway import BridgedGateway
from pw2mqtt.bridge.outbox import ONLINE, Outbox
from pw2mqtt.entities.catalogue import Entity, Value
from pw2mqtt.mqtt.connection import MqttUnavailableError, Outgoing
from pw2mqtt.mqtt.topics import Topics

_LOGGER = logging.getLogger(__name__)

HEALTH_INTERVAL = 60.0
CHECK_INTERVAL = 1.0
MIN_SPACING = 5.0  # a change waits this long after the last send: at 1000 gateways it is big
ACCEPTED = frozenset({"applied", "unchanged"})
_PROC_STATUS = Path("/proc/self/status")


def _milliseconds(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 1)


def health_value(gateway: BridgedGateway, entity: Entity) -> Value | None:
    """The value of one of the catalogue's `HEALTH_ENTITIES` for this gateway."""
    if entity.key == "poll_latency":
        return _milliseconds(gateway.poller.latency.last)
    if entity.key == "poll_failures":
        return gateway.poller.failures
    if entity.key == "requests_per_hour":
        return gateway.client.requests_per_hour
    return None


def gateway_health(gateway: BridgedGateway) -> dict[str, Any]:
    latency = gateway.poller.latency
    counts = gateway.command_counts
    return {
        "gateway": gateway.slug,
        "host": str(gateway.client.address),
        "available": gateway.availability == ONLINE,
        "last_poll_ok": _iso(gateway.last_ok),
        "failures_in_a_row": gateway.poller.failures,
        "last_error": gateway.last_error,
        "poll_latency_ms": {
            "last": _milliseconds(latency.last),
            "average": _milliseconds(latency.average),
        },
        "requests_per_hour": gateway.client.requests_per_hour,
        "logins_per_hour": gateway.client.logins_per_hour,
        "commands": {
            "accepted": sum(n for status, n in counts.items() if status in ACCEPTED),
            "refused": sum(n for status, n in counts.items() if status not in ACCEPTED),
        },
    }


def process_health(started: float) -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "pid": os.getpid(),
        "uptime_s": round(time.monotonic() - started, 1),
        "rss_bytes": _rss_bytes(),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
    }


def _rss_bytes() -> int | None:
    try:
        text = _PROC_STATUS.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            fields = line.split()
            if len(fields) >= 2 and fields[1].isdigit():
                return int(fields[1]) * 1024
    return None


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _what_matters(gateways: Sequence[BridgedGateway]) -> tuple[object, ...]:
    return tuple(
        (
            g.slug,
            g.availability,
            g.last_error,
            g.poller.failures > 0,
            tuple(sorted(g.command_counts.items())),
        )
        for g in gateways
    )


class HealthReporter:
    """Publishes `<base>/bridge/health` on a change that matters and every `interval` seconds."""

    def __init__(
        self,
        outbox: Outbox,
        topics: Topics,
        gateways: Callable[[], Sequence[BridgedGateway]],
        connected: Callable[[], bool],
        *,
        interval: float = HEALTH_INTERVAL,
    ) -> None:
        self._outbox = outbox
        self._topics = topics
        self._gateways = gateways
        self._connected = connected
        self.interval = interval
        self._started = time.monotonic()
        self._sent: tuple[object, ...] | None = None
        self._sent_at = -interval

    def forget(self) -> None:
        """After a reconnect: send it again at once."""
        self._sent = None
        self._sent_at = -self.interval

    def payload(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "ts": datetime.now(UTC).isoformat(timespec="seconds"),
            "mqtt_connected": self._connected(),
            "process": process_health(self._started),
            "gateways": [gateway_health(g) for g in self._gateways()],
        }

    async def run(self) -> None:
        while True:
            await self.send_if_due()
            await asyncio.sleep(CHECK_INTERVAL)

    async def send_if_due(self) -> None:
        if not self._connected():
            return
        matters = _what_matters(self._gateways())
        now = time.monotonic()
        since = now - self._sent_at
        if since < (self.interval if matters == self._sent else MIN_SPACING):
            return
        message = Outgoing(self._topics.bridge_health, json.dumps(self.payload()), True, 1)
        try:
            await self._outbox.send([message])
        except MqttUnavailableError:
            return  # sent again once reconnected
        self._sent, self._sent_at = matters, now
