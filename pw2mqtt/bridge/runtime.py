"""The bridge: gateways are polled, their snapshots published to MQTT.

Data flows one way. Each gateway's poller hands its newest update to a one-slot mailbox; the
publishing task takes whatever is newest when the broker is connected, so a broker outage keeps
only the latest snapshot per gateway, never a backlog.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from collections import deque
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pw2mqtt import __version__
from pw2mqtt.bridge.status_file import BridgeStatus, write_status
from pw2mqtt.commands.executor import CommandExecutor
from pw2mqtt.commands.service import CommandService
from pw2mqtt.config import GatewaySettings, MqttSettings, Settings
from pw2mqtt.entities.catalogue import Entity, Value, entities_for, format_value
from pw2mqtt.entities.devices import (
    ALERT_ENTITIES,
    ActiveAlert,
    PhysicalDevice,
    active_alerts,
    devices_for,
)
from pw2mqtt.gateway.poller import GatewayPoller, GatewayUpdate
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.snapshot import GatewaySnapshot
from pw2mqtt.mqtt.connection import (
    Incoming,
    MqttConnection,
    MqttOptions,
    MqttUnavailableError,
    Outgoing,
)
from pw2mqtt.mqtt.discovery import DeviceInfo, device_id, device_info, discovery_payload
from pw2mqtt.mqtt.topics import Topics, gateway_slug
from pw2mqtt.mqtt.tracker import ValueTracker

_LOGGER = logging.getLogger(__name__)

ONLINE = "online"
OFFLINE = "offline"
HA_BIRTH_DELAY_MAX = 5.0
STATUS_INTERVAL = 5.0


@dataclass(slots=True)
class _Gateway:
    """One gateway as the publishing side sees it."""

    settings: GatewaySettings
    client: GatewayClient
    poller: GatewayPoller
    tracker: ValueTracker
    executor: CommandExecutor
    slug: str | None = None
    device: DeviceInfo | None = None
    latest: GatewayUpdate | None = None
    announced: dict[str, Entity] | None = None
    availability: str | None = None
    grid_status: Value | None = None
    pending: bool = False
    last_ok: float | None = None  # epoch seconds of the last successful poll
    parts: dict[str, frozenset[str]] = field(default_factory=dict)  # announced devices' entities
    alerts: tuple[ActiveAlert, ...] | None = None
    _devices: tuple[PhysicalDevice, ...] = field(default=(), init=False, repr=False)
    _devices_from: tuple[object, object] | None = field(default=None, init=False, repr=False)

    @property
    def label(self) -> str:
        return self.slug or str(self.client.address)

    def devices(self, snapshot: GatewaySnapshot) -> tuple[PhysicalDevice, ...]:
        """The part devices, worked out again only when their source was read again."""
        source = (snapshot.vitals, snapshot.solar_powerwall)
        known = self._devices_from
        if known is None or source[0] is not known[0] or source[1] is not known[1]:
            self._devices = devices_for(snapshot)
            self._devices_from = source
        return self._devices


class Bridge:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topics = Topics(settings.mqtt.base_topic, settings.homeassistant.discovery_prefix)
        self._wake = asyncio.Event()
        self._gateways = [self._make_gateway(gateway) for gateway in settings.gateways]
        self._stale_configs: set[str] = set()
        self._log_relay = LogRelay(self._wake)
        self._birth_task: asyncio.Task[None] | None = None
        self._controls = settings.commands.enabled
        self._tasks: asyncio.TaskGroup | None = None
        subscriptions = [(self.topics.homeassistant_status, 1)]
        if settings.homeassistant.enabled:
            subscriptions.append((self.topics.discovery_filter, 1))
        subscriptions.extend(CommandService.subscriptions_for(self.topics))
        self.connection = MqttConnection(
            mqtt_options(settings.mqtt),
            will=Outgoing(self.topics.bridge_state, OFFLINE, retain=True, qos=1),
            subscriptions=subscriptions,
            on_connect=self._on_connect,
            on_message=self._on_message,
        )
        self.commands = CommandService(
            self.topics, settings.commands, self.connection, self._executors, self._spawn
        )

    async def run(self) -> None:
        """Run until cancelled; on the way out say `offline` and close the gateways' sessions."""
        package_logger = logging.getLogger("pw2mqtt")
        package_logger.addHandler(self._log_relay)
        try:
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                tasks.create_task(self.connection.run(), name="pw2mqtt.mqtt")
                tasks.create_task(self._publish_loop(), name="pw2mqtt.publish")
                tasks.create_task(self._status_loop(), name="pw2mqtt.status")
                for gateway in self._gateways:
                    tasks.create_task(gateway.poller.run(), name=f"pw2mqtt.poll.{gateway.label}")
        finally:
            package_logger.removeHandler(self._log_relay)
            await asyncio.shield(self._shutdown())

    async def _status_loop(self) -> None:
        """Keep `<state_dir>/status.json` current for `pw2mqtt healthcheck`."""
        while True:
            polled = [g.last_ok for g in self._gateways if g.last_ok is not None]
            status = BridgeStatus(
                pid=os.getpid(),
                updated=time.time(),
                mqtt_connected=self.connection.connected,
                last_poll_ok=max(polled, default=None),
            )
            try:
                write_status(self.settings.state_dir, status)
            except OSError as err:
                _LOGGER.warning("cannot write the status file: %s", err)
            await asyncio.sleep(STATUS_INTERVAL)

    async def _shutdown(self) -> None:
        offline = Outgoing(self.topics.bridge_state, OFFLINE, retain=True, qos=1)
        try:
            await asyncio.wait_for(self.connection.close(final=[offline]), timeout=5)
        except TimeoutError:
            _LOGGER.warning("the broker did not take the final 'offline' in time")
        for gateway in self._gateways:
            await gateway.client.close()

    # -- gateways → mailbox -------------------------------------------------------------------

    def _make_gateway(self, settings: GatewaySettings) -> _Gateway:
        client = GatewayClient(settings, self.settings.state_dir)

        def deliver(update: GatewayUpdate) -> None:
            if update.online:
                gateway.last_ok = time.time()
            gateway.latest = update
            gateway.pending = True
            self._wake.set()

        def health() -> GatewayUpdate | None:
            return gateway.latest

        def firmware() -> str | None:
            return gateway.device.firmware if gateway.device else None

        poller = GatewayPoller(client, settings.poll, deliver)
        executor = CommandExecutor(
            client,
            self.settings.commands,
            health=health,
            refresh=lambda: poller.refresh(tiers=2),
            firmware=firmware,
        )
        tracker = ValueTracker(self.settings.mqtt.heartbeat)
        gateway = _Gateway(settings, client, poller, tracker, executor)
        gateway.slug = settings.name or client.state.load_slug()
        return gateway

    # -- mailbox → broker ---------------------------------------------------------------------

    async def _publish_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self.connection.connected:
                continue  # the mailbox keeps the newest update; on_connect wakes us again
            try:
                for gateway in self._gateways:
                    if gateway.pending:
                        gateway.pending = False
                        await self._publish_gateway(gateway)
                await self._clear_stale_configs()
                await self._relay_logs()
            except MqttUnavailableError:
                for gateway in self._gateways:
                    gateway.pending = True  # publish it all again once reconnected

    async def _publish_gateway(self, gateway: _Gateway) -> None:
        update = gateway.latest
        if update is None:
            return
        if update.snapshot is None or update.error is not None:
            await self._set_availability(gateway, OFFLINE, str(update.error))
            return
        snapshot = update.snapshot
        if gateway.slug is None or gateway.device is None:
            self._identify(gateway, snapshot)
        entities = (
            *entities_for(snapshot, self._controls),
            *(e for e in ALERT_ENTITIES if e.value(snapshot) is not None),
        )
        parts = gateway.devices(snapshot)
        if self.settings.homeassistant.enabled:
            await self._announce(gateway, snapshot, entities)
            await self._announce_parts(gateway, parts)
        await self._set_availability(gateway, ONLINE, None)
        await self._publish_alerts(gateway, snapshot)
        await self._publish_values(
            gateway, snapshot, entities, [e for part in parts for e in part.entities]
        )

    def _identify(self, gateway: _Gateway, snapshot: GatewaySnapshot) -> None:
        din = snapshot.status.din if snapshot.status else None
        if din is None and snapshot.powerwalls is not None:
            din = snapshot.powerwalls.gateway_din
        if gateway.slug is None:
            gateway.slug = gateway_slug(din, str(gateway.client.address.host))
            gateway.client.state.save_slug(gateway.slug)
            if din is None:
                _LOGGER.warning(
                    "%s reports no DIN; its topics use %r — set `name` to choose another",
                    gateway.client.address,
                    gateway.slug,
                )
        gateway.device = device_info(snapshot, gateway.slug)

    async def _announce(
        self, gateway: _Gateway, snapshot: GatewaySnapshot, entities: Sequence[Entity]
    ) -> None:
        assert gateway.slug is not None
        current = {entity.key: entity for entity in entities}
        device = device_info(snapshot, gateway.slug)
        unchanged = gateway.announced is not None and current.keys() == gateway.announced.keys()
        if unchanged and device == gateway.device:
            return
        topic = self.topics.discovery(device_id(device))
        messages: list[Outgoing] = []
        gone = (
            {}
            if gateway.announced is None
            else {key: entity for key, entity in gateway.announced.items() if key not in current}
        )
        if gone:
            # Home Assistant drops a component that is first sent bare, then left out.
            bare = discovery_payload(device, entities, self.topics, version=__version__)
            bare["cmps"].update({key: {"p": entity.platform} for key, entity in gone.items()})
            messages.append(Outgoing(topic, json.dumps(bare), retain=True, qos=1))
            messages.extend(
                Outgoing(self.topics.field(gateway.slug, key), "", retain=True, qos=1)
                for key in gone
            )
        payload = discovery_payload(
            device,
            entities,
            self.topics,
            version=__version__,
            legacy_object_id=self.settings.homeassistant.legacy_object_id,
        )
        messages.append(Outgoing(topic, json.dumps(payload), retain=True, qos=1))
        await self._send(messages)
        gateway.device = device
        gateway.announced = current
        gateway.tracker.forget()  # Home Assistant takes state only after the config
        await self._publish_info()

    async def _set_availability(self, gateway: _Gateway, value: str, reason: str | None) -> None:
        if gateway.slug is None or gateway.availability == value:
            return
        previous = gateway.availability
        gateway.availability = value
        await self._send([Outgoing(self.topics.availability(gateway.slug), value, True, 1)])
        if value == ONLINE:
            await self.commands.announce_availability(gateway.slug)
        if previous is not None or value == OFFLINE:
            data: dict[str, Any] = {"gateway": gateway.slug}
            if reason:
                data["reason"] = reason
            await self._event(f"gateway_{value}", data)

    async def _publish_values(
        self,
        gateway: _Gateway,
        snapshot: GatewaySnapshot,
        entities: Sequence[Entity],
        detail: Sequence[Entity] = (),
    ) -> None:
        assert gateway.slug is not None
        readings: list[tuple[Entity, Value]] = []
        for entity in (*entities, *detail):
            value = entity.value(snapshot)
            if value is not None:
                readings.append((entity, value))
        due = gateway.tracker.due(readings, time.monotonic())
        if not due:
            return
        retain = self.settings.mqtt.retain
        messages = [
            Outgoing(self.topics.field(gateway.slug, e.topic_path), format_value(value), retain)
            for e, value in due
        ]
        readings = [(entity, value) for entity, value in readings if entity.path is None]
        state: dict[str, Any] = dict.fromkeys(gateway.announced or {})
        state.update({entity.key: value for entity, value in readings})
        for entity in entities:
            if entity.monotonic:
                state[entity.key] = gateway.tracker.last(entity.key)
        state["ts"] = snapshot.taken_at.isoformat(timespec="seconds")
        messages.append(Outgoing(self.topics.state(gateway.slug), json.dumps(state), retain))
        await self._send(messages)
        grid = next((value for entity, value in readings if entity.key == "grid_status"), None)
        if grid is not None and grid != gateway.grid_status:
            if gateway.grid_status is not None:
                await self._event(
                    "grid_status_changed",
                    {"gateway": gateway.slug, "from": gateway.grid_status, "to": grid},
                )
            gateway.grid_status = grid

    async def _announce_parts(self, gateway: _Gateway, parts: Sequence[PhysicalDevice]) -> None:
        """One Home Assistant device per physical device, linked to the gateway's."""
        assert gateway.slug is not None
        assert gateway.device is not None
        messages: list[Outgoing] = []
        present = {part.slug for part in parts}
        for slug in sorted(set(gateway.parts) - present):
            del gateway.parts[slug]
            gone = replace(gateway.device, part=slug)
            messages.append(Outgoing(self.topics.discovery(device_id(gone)), "", True, 1))
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
            payload = discovery_payload(info, part.entities, self.topics, version=__version__)
            messages.append(
                Outgoing(self.topics.discovery(device_id(info)), json.dumps(payload), True, 1)
            )
        if messages:
            await self._send(messages)
            gateway.tracker.forget()

    async def _publish_alerts(self, gateway: _Gateway, snapshot: GatewaySnapshot) -> None:
        """The active alerts as JSON attributes, and an event for each one raised or cleared."""
        assert gateway.slug is not None
        alerts = active_alerts(snapshot)
        if alerts is None or alerts == gateway.alerts:
            return
        first = gateway.alerts is None
        before = set(gateway.alerts or ())
        gateway.alerts = alerts
        payload = json.dumps({"alerts": [alert.as_json() for alert in alerts]})
        await self._send([Outgoing(self.topics.field(gateway.slug, "alerts"), payload, True, 1)])
        if first:
            return  # alerts present at start-up (or after a reconnect) are not news
        for alert in sorted(set(alerts) - before, key=lambda a: (a.device, a.name)):
            await self._event("alert_raised", {"gateway": gateway.slug, **alert.as_json()})
        for alert in sorted(before - set(alerts), key=lambda a: (a.device, a.name)):
            await self._event("alert_cleared", {"gateway": gateway.slug, **alert.as_json()})

    async def _publish_info(self) -> None:
        gateways = []
        for gateway in self._gateways:
            device = gateway.device
            gateways.append(
                {
                    "gateway": gateway.slug,
                    "host": str(gateway.client.address),
                    "din": device.din if device else None,
                    "firmware": device.firmware if device else None,
                    "available": gateway.availability == ONLINE,
                    "unsupported_endpoints": sorted(gateway.client.unsupported),
                    "entities": sorted(gateway.announced or ()),
                }
            )
        info = {
            "version": __version__,
            "gateways": gateways,
            "config": self.settings.model_dump(mode="json"),
        }
        await self._send([Outgoing(self.topics.bridge_info, json.dumps(info), True, 1)])

    async def _relay_logs(self) -> None:
        records = self._log_relay.take()
        if records:
            await self._send(
                [Outgoing(self.topics.bridge_logging, json.dumps(r), False, 0) for r in records]
            )

    async def _event(self, kind: str, data: dict[str, Any]) -> None:
        payload = json.dumps({"type": kind, "data": data})
        await self._send([Outgoing(self.topics.bridge_event, payload, False, 1)])

    async def _send(self, messages: Sequence[Outgoing]) -> None:
        await self.connection.publish_many(messages)

    # -- broker events --------------------------------------------------------------------

    async def _on_connect(self) -> None:
        await self._send([Outgoing(self.topics.bridge_state, ONLINE, retain=True, qos=1)])
        self._republish_everything()
        await self._publish_info()

    def _republish_everything(self) -> None:
        for gateway in self._gateways:
            gateway.announced = None
            gateway.parts.clear()
            gateway.alerts = None
            gateway.availability = None
            gateway.tracker.forget()
            gateway.pending = gateway.latest is not None
        self._wake.set()

    def _executors(self) -> dict[str, CommandExecutor]:
        return {g.slug: g.executor for g in self._gateways if g.slug is not None}

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        if self._tasks is None:
            work.close()
            return
        self._tasks.create_task(work, name="pw2mqtt.command")

    async def _on_message(self, message: Incoming) -> None:
        if message.topic == self.topics.homeassistant_status:
            if message.payload.strip() == b"online":
                self._schedule_reannounce()
            return
        if self.settings.homeassistant.enabled and message.topic.endswith("/config"):
            self._note_discovery_config(message)
            return
        await self.commands.handle(message)

    def _schedule_reannounce(self) -> None:
        if self._birth_task is not None and not self._birth_task.done():
            return

        async def reannounce() -> None:
            await asyncio.sleep(random.uniform(0, HA_BIRTH_DELAY_MAX))  # noqa: S311
            _LOGGER.info("Home Assistant came online; announcing again")
            await self._send([Outgoing(self.topics.bridge_state, ONLINE, retain=True, qos=1)])
            self._republish_everything()

        self._birth_task = asyncio.get_running_loop().create_task(reannounce())

    def _note_discovery_config(self, message: Incoming) -> None:
        """Remember retained configs of ours that no configured gateway generates any more."""
        if not message.retain or not message.payload:
            return
        device = message.topic.split("/")[-2]
        if not device.startswith("pw2mqtt_"):
            return
        try:
            payload = json.loads(message.payload)
            topics = [entry.get("topic") for entry in payload.get("availability", [])]
        except (ValueError, AttributeError, TypeError):
            return
        if self.topics.bridge_state in topics:
            self._stale_configs.add(message.topic)
            self._wake.set()

    async def _clear_stale_configs(self) -> None:
        if not self._stale_configs or any(g.device is None for g in self._gateways):
            return  # wait until every gateway is identified, or a live one may be cleared
        ours = {
            self.topics.discovery(device_id(replace(g.device, part=part)))
            for g in self._gateways
            if g.device
            for part in (None, *g.parts)
        }
        stale = self._stale_configs - ours
        self._stale_configs.clear()
        if stale:
            _LOGGER.info("clearing %d discovery config(s) no gateway generates", len(stale))
            await self._send([Outgoing(topic, "", retain=True, qos=1) for topic in sorted(stale)])


def mqtt_options(settings: MqttSettings) -> MqttOptions:
    tls = settings.tls
    return MqttOptions(
        host=settings.host,
        port=settings.port,
        client_id=settings.client_id,
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        keepalive=settings.keepalive,
        protocol=settings.protocol,
        tls=tls.enabled,
        ca_file=tls.ca_file,
        certfile=tls.certfile,
        keyfile=tls.keyfile,
        tls_insecure=tls.insecure,
    )


class LogRelay(logging.Handler):
    """Warnings and errors, kept for `<base>/bridge/logging` (the newest 100, no repeats)."""

    def __init__(self, wake: asyncio.Event) -> None:
        super().__init__(logging.WARNING)
        self._wake = wake
        self._records: deque[dict[str, str]] = deque(maxlen=100)
        self._last: tuple[str, str] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if (record.name, message) == self._last:
            return
        self._last = (record.name, message)
        level = record.levelname.lower()
        self._records.append({"level": level, "message": message, "namespace": record.name})
        self._wake.set()

    def take(self) -> list[dict[str, str]]:
        records = list(self._records)
        self._records.clear()
        return records
