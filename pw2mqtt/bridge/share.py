"""Which configured gateways this instance polls and commands, and what it says when that changes.

Alone, an instance owns every gateway from start to stop. In a fleet, ownership moves: a
gateway is polled from the moment it is gained and stops being polled the moment it is lost.
Two instances then write the same retained `<gw>/availability` topic, and the broker keeps
whichever arrived last, not whichever is true. So the owner listens to that topic and, when it
hears something other than what it last said, says it again: the owner has the last word.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from pw2mqtt.bridge.gateway import BridgedGateway
from pw2mqtt.bridge.outbox import OFFLINE, Outbox
from pw2mqtt.mqtt.connection import Incoming, Outgoing
from pw2mqtt.mqtt.topics import Topics

_LOGGER = logging.getLogger(__name__)

StartPolling = Callable[[BridgedGateway], "asyncio.Task[None] | None"]


class FleetShare:
    def __init__(
        self,
        gateways: Mapping[str, BridgedGateway],
        *,
        fleet: bool,
        outbox: Outbox,
        topics: Topics,
        wake: asyncio.Event,
        connected: Callable[[], bool],
        start_polling: StartPolling,
    ) -> None:
        self._by_key = gateways
        self._fleet = fleet
        self._outbox = outbox
        self._topics = topics
        self._wake = wake
        self._connected = connected
        self._start_polling = start_polling

    @staticmethod
    def subscriptions_for(topics: Topics, *, fleet: bool) -> list[tuple[str, int]]:
        return [(topics.availability_filter, 1)] if fleet else []

    def owned(self) -> list[BridgedGateway]:
        return [g for g in self._by_key.values() if g.epoch is not None]

    def epoch_of(self, slug: str) -> int | None:
        return next((g.epoch for g in self._by_key.values() if g.slug == slug), None)

    def known(self, slug: str) -> bool:
        return any(g.slug == slug for g in self._by_key.values())

    def on_change(self, key: str, epoch: int | None) -> None:
        """Poll a gateway from the moment this instance owns it; stop the moment it does not."""
        gateway = self._by_key[key]
        gateway.epoch = epoch
        if epoch is not None:
            gateway.tell_lost = False
            if gateway.polling is None or gateway.polling.done():
                gateway.forget_published()  # announced again, under this instance's availability
                gateway.polling = self._start_polling(gateway)
            return
        if gateway.polling is not None:
            gateway.polling.cancel()
            gateway.polling = None
        gateway.pending = False
        if self._fleet:
            _LOGGER.info("cluster: %s is no longer polled or commanded here", gateway.label)
            # Said only now: once disconnected, its new owner may speak for it before we can.
            gateway.tell_lost = self._connected()
            self._wake.set()

    async def say_lost(self) -> None:
        """Until its new owner takes it (seconds at most), a gateway let go is unavailable, not
        showing this instance's last values as current."""
        for gateway in self._by_key.values():
            if not gateway.tell_lost:
                continue
            gateway.tell_lost = False
            if gateway.epoch is None and gateway.slug is not None:
                gateway.availability = None
                topic = self._topics.availability(gateway.slug)
                await self._outbox.send([Outgoing(topic, OFFLINE, retain=True, qos=1)])

    async def hear(self, message: Incoming) -> bool:
        """Whether `message` is a gateway's availability; when it contradicts what this
        instance, the owner, last said there, it is said again."""
        slug = self._topics.gateway_of(message.topic, "availability")
        if slug is None:
            return False
        heard = message.payload.decode(errors="replace")
        for gateway in self.owned():
            said = gateway.availability
            if gateway.slug == slug and said is not None and heard != said:
                _LOGGER.debug("%s: availability %r heard, %r said again", slug, heard, said)
                await self._outbox.send(
                    [Outgoing(self._topics.availability(slug), said, retain=True, qos=1)]
                )
        return True
