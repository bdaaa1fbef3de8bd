"""Where the bridge's parts send what they publish: one connection, one shape for events."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pw2mqtt.mqtt.connection import MqttConnection, Outgoing
from pw2mqtt.mqtt.topics import Topics

ONLINE = "online"
OFFLINE = "offline"


class Outbox:
    def __init__(self, connection: MqttConnection, topics: Topics) -> None:
        self._connection = connection
        self._topics = topics

    async def send(self, messages: Sequence[Outgoing]) -> None:
        await self._connection.publish_many(messages)

    async def event(self, kind: str, data: dict[str, Any]) -> None:
        payload = json.dumps({"type": kind, "data": data})
        await self.send([Outgoing(self._topics.bridge_event, payload, False, 1)])
