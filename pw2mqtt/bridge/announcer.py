"""Home Assistant discovery: one device per gateway and per part device, and stale configs cleared.

Each announcement is sent only when what it announces changed; a component that disappears is
first sent bare and then left out, which is how Home Assistant is told to drop it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace

from pw2mqtt import __version__
from pw2mqtt.bridge.gateway import BridgedGateway
from pw2mqtt.bridge.outbox import Outbox
from pw2mqtt.entities.catalogue import Entity
from pw2mqtt.entities.devices import PhysicalDevice
from pw2mqtt.gateway.snapshot import GatewaySnapshot
from pw2mqtt.mqtt.connection import Incoming, Outgoing
from pw2mqtt.mqtt.discovery import device_id, device_info, discovery_payload
from pw2mqtt.mqtt.topics import Topics

_LOGGER = logging.getLogger(__name__)


class Announcer:
    def __init__(self, outbox: Outbox, topics: Topics, *, legacy_object_id: bool) -> None:
        self._outbox = outbox
        self._topics = topics
        self._legacy_object_id = legacy_object_id
        self._stale_configs: set[str] = set()

    async def announce(
        self, gateway: BridgedGateway, snapshot: GatewaySnapshot, entities: Sequence[Entity]
    ) -> bool:
        """Announce the gateway's device; True when something was sent."""
        assert gateway.slug is not None
        current = {entity.key: entity for entity in entities}
        device = device_info(snapshot, gateway.slug)
        unchanged = gateway.announced is not None and current.keys() == gateway.announced.keys()
        if unchanged and device == gateway.device:
            return False
        topic = self._topics.discovery(device_id(device))
        messages: list[Outgoing] = []
        gone = (
            {}
            if gateway.announced is None
            else {key: entity for key, entity in gateway.announced.items() if key not in current}
        )
        if gone:
            bare = discovery_payload(device, entities, self._topics, version=__version__)
            bare["cmps"].update({key: {"p": entity.platform} for key, entity in gone.items()})
            messages.append(Outgoing(topic, json.dumps(bare), retain=True, qos=1))
            messages.extend(
                Outgoing(self._topics.field(gateway.slug, key), "", retain=True, qos=1)
                for key in gone
            )
        payload = discovery_payload(
            device,
            entities,
            self._topics,
            version=__version__,
            legacy_object_id=self._legacy_object_id,
        )
        messages.append(Outgoing(topic, json.dumps(payload), retain=True, qos=1))
        await self._outbox.send(messages)
        gateway.device = device
        gateway.announced = current
        gateway.tracker.forget()  # Home Assistant takes state only after the config
        return True

    async def announce_parts(
        self, gateway: BridgedGateway, parts: Sequence[PhysicalDevice]
    ) -> None:
        """One Home Assistant device per physical device, linked to the gateway's."""
        assert gateway.slug is not None
        assert gateway.device is not None
        messages: list[Outgoing] = []
        present = {part.slug for part in parts}
        for slug in sorted(set(gateway.parts) - present):
            del gateway.parts[slug]
            gone = replace(gateway.device, part=slug)
            messages.append(Outgoing(self._topics.discovery(device_id(gone)), "", True, 1))
        for part in parts:
            keys = frozenset(entity.key for entity in part.entities)
            if gateway.parts.get(part.slug) == keys:
                continue
            gateway.parts[part.slug] = keys
            info = replace(
                gateway.device,
                part=part.slug,
                name=f"{gateway.device.name} {part.name}",
                model=part.model,
                serial=part.serial,
                firmware=part.firmware,
                model_id=None,
                din=None,
                via_device=device_id(gateway.device),
            )
            payload = discovery_payload(
                info,
                part.entities,
                self._topics,
                version=__version__,
                legacy_object_id=self._legacy_object_id,
            )
            messages.append(
                Outgoing(self._topics.discovery(device_id(info)), json.dumps(payload), True, 1)
            )
        if messages:
            await self._outbox.send(messages)
            gateway.tracker.forget()

    def note_config(self, message: Incoming) -> bool:
        """Remember a retained config of ours; True when it may be stale and needs a look."""
        if not message.retain or not message.payload:
            return False
        device = message.topic.split("/")[-2]
        if not device.startswith("pw2mqtt_"):
            return False
        try:
            payload = json.loads(message.payload)
            topics = [entry.get("topic") for entry in payload.get("availability", [])]
        except (ValueError, AttributeError, TypeError):
            return False
        if self._topics.bridge_state not in topics:
            return False
        self._stale_configs.add(message.topic)
        return True

    async def clear_stale(self, gateways: Sequence[BridgedGateway]) -> None:
        """Clear the remembered configs that no configured gateway generates any more."""
        if not self._stale_configs or any(g.device is None for g in gateways):
            return  # wait until every gateway is identified, or a live one may be cleared
        ours = {
            self._topics.discovery(device_id(replace(g.device, part=part)))
            for g in gateways
            if g.device
            for part in (None, *g.parts)
        }
        stale = self._stale_configs - ours
        self._stale_configs.clear()
        if stale:
            _LOGGER.info("clearing %d discovery config(s) no gateway generates", len(stale))
            await self._outbox.send(
                [Outgoing(topic, "", retain=True, qos=1) for topic in sorted(stale)]
            )
