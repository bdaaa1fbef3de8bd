"""Publishing one gateway's update: identity, discovery, availability, alerts, values, events."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pw2mqtt.bridge.announcer import Announcer
from pw2mqtt.bridge.gateway import BridgedGateway
from pw2mqtt.bridge.health import health_value
from pw2mqtt.bridge.identity import GatewayIdentityError, gateway_identity, rest_din
from pw2mqtt.bridge.outbox import OFFLINE, ONLINE, Outbox
from pw2mqtt.bridge.reasons import reason_text
from pw2mqtt.entities.catalogue import (
    COMMAND_ENTITIES,
    COMMANDS_SOURCE,
    HEALTH_ENTITIES,
    HEALTH_SOURCE,
    LAST_ERROR,
    LAST_ERROR_OK,
    Entity,
    Value,
    command_entities,
    entities_for,
    format_value,
)
from pw2mqtt.entities.devices import ALERT_ENTITIES, active_alerts
from pw2mqtt.errors import GatewayError
from pw2mqtt.gateway.poller import failure_kind
from pw2mqtt.gateway.snapshot import GatewaySnapshot
from pw2mqtt.mqtt.connection import Outgoing
from pw2mqtt.mqtt.discovery import device_id, device_info
from pw2mqtt.mqtt.topics import Topics, gateway_slug

_LOGGER = logging.getLogger(__name__)


class GatewayPublisher:
    """Turns each gateway's newest update into MQTT messages, sending only what changed."""

    def __init__(
        self,
        outbox: Outbox,
        topics: Topics,
        announcer: Announcer | None,
        *,
        controls: Callable[[BridgedGateway], frozenset[str]],
        retain: bool,
        on_announced: Callable[[], Awaitable[None]],
        on_online: Callable[[str], Awaitable[None]],
    ) -> None:
        self._outbox = outbox
        self._topics = topics
        self._announcer = announcer
        self._controls = controls
        self._retain = retain
        self._on_announced = on_announced
        self._on_online = on_online

    async def publish(self, gateway: BridgedGateway) -> None:
        update = gateway.latest
        if update is None:
            return
        if update.snapshot is None or update.error is not None:
            await self._publish_failure(gateway, update.error)
            return
        snapshot = update.snapshot
        if gateway.slug is None or gateway.device is None or gateway.slug_provisional:
            try:
                await self._identify(gateway, snapshot)
            except GatewayIdentityError as err:
                await self._unidentified(gateway, err)
                return
        entities = _kept(
            gateway,
            snapshot,
            (
                *entities_for(snapshot, self._controls(gateway)),
                *(e for e in ALERT_ENTITIES if e.value(snapshot) is not None),
                LAST_ERROR,
                *HEALTH_ENTITIES,
                *command_entities(self._controls(gateway)),
            ),
        )
        parts = gateway.devices(snapshot)
        detail = [e for part in parts for e in part.entities]
        if self._announcer is not None:
            if await self._announcer.announce(gateway, snapshot, entities):
                await self._on_announced()
            await self._announcer.announce_parts(gateway, parts)
        await self._set_availability(gateway, ONLINE, None)
        gateway.last_error = None
        await self._set_last_error(gateway, LAST_ERROR_OK)
        await self._publish_sources(gateway, snapshot, (*entities, *detail))
        await self._publish_alerts(gateway, snapshot)
        await self._publish_command_details(gateway)
        await self._publish_values(gateway, snapshot, entities, detail)

    async def _unidentified(self, gateway: BridgedGateway, err: GatewayIdentityError) -> None:
        """Keep a gateway without identity offline, with the reason where the user looks."""
        if gateway.unidentified is None:
            _LOGGER.error("%s", err)
        gateway.unidentified = gateway.last_error = str(err)
        await self._publish_failure(gateway, None, alone=True)

    async def _publish_failure(
        self, gateway: BridgedGateway, error: GatewayError | None, *, alone: bool = False
    ) -> None:
        """`offline` and the reason, retained: also for a gateway that never answered (a wrong
        password at start-up) or cannot be named, under its saved slug, its `name`, or one made
        from its host; `alone` announces its device with `last_error` only."""
        if gateway.slug is None:
            gateway.slug = gateway_slug(None, str(gateway.client.address.host))
            gateway.slug_provisional = True
            _LOGGER.warning(
                "%s: its availability and last_error are published under %r (made from its "
                "host) until it can be named by its DIN or `name`",
                gateway.client.address,
                gateway.slug,
            )
        if error is not None and (failure_kind(error) is not None or gateway.last_error is None):
            gateway.last_error = reason_text(error)
        reason = gateway.last_error or "unavailable"
        never_announced = not gateway.published_before and gateway.poller.snapshot is None
        if self._announcer is not None and (alone or never_announced) and not gateway.announced:
            empty = GatewaySnapshot(taken_at=datetime.now(UTC))
            if await self._announcer.announce(gateway, empty, (LAST_ERROR,)):
                await self._on_announced()
        await self._set_last_error(gateway, reason)
        await self._set_availability(gateway, OFFLINE, reason)

    async def _set_last_error(self, gateway: BridgedGateway, text: str) -> None:
        assert gateway.slug is not None
        if gateway.last_error_sent == text:
            return
        gateway.last_error_sent = text
        topic = self._topics.field(gateway.slug, LAST_ERROR.key)
        await self._outbox.send([Outgoing(topic, text, True, 1)])

    async def _identify(self, gateway: BridgedGateway, snapshot: GatewaySnapshot) -> None:
        provisional = gateway.slug if gateway.slug_provisional else None
        if provisional is not None:
            gateway.slug = None
        try:
            _identify(gateway, snapshot)
        except GatewayIdentityError:
            gateway.slug = provisional
            raise
        gateway.slug_provisional = False
        if provisional is not None and provisional != gateway.slug:
            await self._clear_provisional(gateway, provisional)

    async def _clear_provisional(self, gateway: BridgedGateway, slug: str) -> None:
        """The gateway answered with its DIN: what was published under the host's slug goes."""
        topics = [
            self._topics.availability(slug),
            self._topics.field(slug, LAST_ERROR.key),
        ]
        if gateway.device is not None and gateway.announced is not None:
            topics.append(self._topics.discovery(device_id(replace(gateway.device, slug=slug))))
        await self._outbox.send([Outgoing(topic, "", True, 1) for topic in topics])
        gateway.announced = None
        gateway.availability = None
        gateway.last_error_sent = None

    async def _set_availability(
        self, gateway: BridgedGateway, value: str, reason: str | None
    ) -> None:
        if gateway.slug is None or gateway.availability == value:
            return
        previous = gateway.availability
        gateway.availability = value
        await self._outbox.send([Outgoing(self._topics.availability(gateway.slug), value, True, 1)])
        if value == ONLINE:
            await self._on_online(gateway.slug)
        if previous is not None or value == OFFLINE:
            data: dict[str, Any] = {"gateway": gateway.slug}
            if reason:
                data["reason"] = reason
            await self._outbox.event(f"gateway_{value}", data)

    async def _publish_sources(
        self, gateway: BridgedGateway, snapshot: GatewaySnapshot, entities: Sequence[Entity]
    ) -> None:
        """`online`/`offline` per endpoint that announced entities read, where it changed."""
        assert gateway.slug is not None
        sources = {entity.source for entity in entities if entity.from_endpoint}
        states = {s: ONLINE if snapshot.get(s) is not None else OFFLINE for s in sorted(sources)}
        changed = {s: state for s, state in states.items() if gateway.sources.get(s) != state}
        if not changed:
            return
        gateway.sources.update(changed)
        topic = self._topics.source_availability
        await self._outbox.send(
            [Outgoing(topic(gateway.slug, s), state, True, 1) for s, state in changed.items()]
        )

    async def _publish_values(
        self,
        gateway: BridgedGateway,
        snapshot: GatewaySnapshot,
        entities: Sequence[Entity],
        detail: Sequence[Entity] = (),
    ) -> None:
        assert gateway.slug is not None
        readings: list[tuple[Entity, Value]] = []
        for entity in (*entities, *detail):
            value = _value(gateway, snapshot, entity)
            if value is not None:
                readings.append((entity, value))
        due = gateway.tracker.due(readings, time.monotonic())
        if not due:
            return
        messages = [
            Outgoing(
                self._topics.field(gateway.slug, e.topic_path), format_value(value), self._retain
            )
            for e, value in due
        ]
        readings = [(entity, value) for entity, value in readings if entity.path is None]
        state: dict[str, Any] = dict.fromkeys(gateway.announced or {})
        state.update({entity.key: value for entity, value in readings})
        state.pop(LAST_ERROR.key, None)  # a topic of its own, published also while offline
        for entity in entities:
            if entity.monotonic:
                state[entity.key] = gateway.tracker.last(entity.key)
        state["ts"] = snapshot.taken_at.isoformat(timespec="seconds")
        messages.append(Outgoing(self._topics.state(gateway.slug), json.dumps(state), self._retain))
        await self._outbox.send(messages)
        grid = next((value for entity, value in readings if entity.key == "grid_status"), None)
        if grid is not None and grid != gateway.grid_status:
            if gateway.grid_status is not None:
                await self._outbox.event(
                    "grid_status_changed",
                    {"gateway": gateway.slug, "from": gateway.grid_status, "to": grid},
                )
            gateway.grid_status = grid

    async def _publish_command_details(self, gateway: BridgedGateway) -> None:
        """The last command's result as JSON attributes (retained), once per result."""
        assert gateway.slug is not None
        result = gateway.last_command
        if result is None or result is gateway.shown_command or not self._controls(gateway):
            return
        topic = self._topics.field(gateway.slug, COMMAND_ENTITIES[0].attributes or "")
        await self._outbox.send([Outgoing(topic, json.dumps(result.as_json()), True, 1)])
        gateway.shown_command = result

    async def _publish_alerts(self, gateway: BridgedGateway, snapshot: GatewaySnapshot) -> None:
        """The active alerts as JSON attributes, and an event for each one raised or cleared."""
        assert gateway.slug is not None
        alerts = active_alerts(snapshot)
        if alerts is None or alerts == gateway.alerts:
            return
        first = gateway.alerts is None
        before = set(gateway.alerts or ())
        gateway.alerts = alerts
        payload = json.dumps({"alerts": [alert.as_json() for alert in alerts]})
        topic = self._topics.field(gateway.slug, "alerts")
        await self._outbox.send([Outgoing(topic, payload, True, 1)])
        if first:
            return  # alerts present at start-up (or after a reconnect) are not news
        for alert in sorted(set(alerts) - before, key=lambda a: (a.device, a.name)):
            await self._outbox.event("alert_raised", {"gateway": gateway.slug, **alert.as_json()})
        for alert in sorted(before - set(alerts), key=lambda a: (a.device, a.name)):
            await self._outbox.event("alert_cleared", {"gateway": gateway.slug, **alert.as_json()})


def _value(gateway: BridgedGateway, snapshot: GatewaySnapshot, entity: Entity) -> Value | None:
    if entity.source == COMMANDS_SOURCE:
        result = gateway.last_command
        return None if result is None else result.summary
    if entity.source == HEALTH_SOURCE:
        return health_value(gateway, entity)
    return entity.value(snapshot)


def _kept(
    gateway: BridgedGateway, snapshot: GatewaySnapshot, entities: tuple[Entity, ...]
) -> tuple[Entity, ...]:
    """`entities`, plus the announced ones whose endpoint fails for now: they stay announced
    (and show as unavailable) instead of vanishing from Home Assistant and coming back."""
    if not gateway.announced or not snapshot.failed:
        return entities
    keys = {entity.key for entity in entities}
    failing = [
        entity
        for key, entity in gateway.announced.items()
        if key not in keys and entity.source in snapshot.failed
    ]
    return (*entities, *failing)


def _identify(gateway: BridgedGateway, snapshot: GatewaySnapshot) -> None:
    din = rest_din(snapshot) or (gateway.latest.din if gateway.latest else None)
    slug = gateway_identity(gateway.settings.name, din, str(gateway.client.address))
    if gateway.slug != slug:
        gateway.slug = slug
        _save_slug(gateway, slug)
    gateway.unidentified = None
    gateway.device = device_info(snapshot, slug, din)


def _save_slug(gateway: BridgedGateway, slug: str) -> None:
    try:
        gateway.client.state.save_slug(slug)
    except OSError as err:  # the state directory went read-only or full: say so, carry on
        _LOGGER.warning("%s: cannot save its topic slug (%s)", gateway.client.address, err.strerror)
    gateway.published_before = True
