"""The bridge: gateways are polled, their snapshots published to MQTT.

Data flows one way. Each gateway's poller hands its newest update to a one-slot mailbox; the
publishing task takes whatever is newest when the broker is connected, so a broker outage keeps
only the latest snapshot per gateway, never a backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Coroutine
from typing import Any

from pw2mqtt.bridge.announcer import Announcer
from pw2mqtt.bridge.gateway import BridgedGateway, bridged_gateways
from pw2mqtt.bridge.health import HealthReporter
from pw2mqtt.bridge.log_relay import LogRelay
from pw2mqtt.bridge.outbox import OFFLINE, ONLINE, Outbox
from pw2mqtt.bridge.publisher import GatewayPublisher
from pw2mqtt.bridge.refresh import Refresher
from pw2mqtt.bridge.share import FleetShare
from pw2mqtt.bridge.status import bridge_info, keep_status_file
from pw2mqtt.bridge.throttle import Throttled
from pw2mqtt.cluster import ClusterError, gateway_key, instance_name, ownership_for
from pw2mqtt.commands.executor import CommandExecutor
from pw2mqtt.commands.result import CommandResult
from pw2mqtt.commands.service import CommandService
from pw2mqtt.config import Settings
from pw2mqtt.mqtt.connection import (
    Incoming,
    MqttConnection,
    MqttOptions,
    MqttUnavailableError,
    Outgoing,
)
from pw2mqtt.mqtt.topics import Topics

_LOGGER = logging.getLogger(__name__)

HA_BIRTH_DELAY_MAX = 5.0
INFO_SPACING = 5.0  # `bridge/info` at most this often: at 1000 gateways it is megabytes
PUBLISHING_AT_ONCE = 32  # gateways whose updates are being published at the same time
IN_FLIGHT_PER_GATEWAY = 100  # messages one gateway's first publication has in flight, at most


class Bridge:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.instance = instance_name(settings.cluster)
        self.topics = Topics(
            settings.mqtt.base_topic, settings.homeassistant.discovery_prefix, self.instance
        )
        self._wake = asyncio.Event()
        self._log_relay = LogRelay(self._wake, settings.state_dir)
        # What reading the state directory finds wrong is said on bridge/logging too.
        with self._log_relay.listening(logging.getLogger("pw2mqtt")):
            self._gateways = bridged_gateways(settings, wake=self._wake, fence=self._still_owned)
        self._by_key = {gateway_key(g.settings): g for g in self._gateways}
        self._birth_task: asyncio.Task[None] | None = None
        self._tasks: asyncio.TaskGroup | None = None
        self.connection = self._make_connection()
        self._outbox = Outbox(self.connection, self.topics)
        self._share = FleetShare(
            self._by_key,
            fleet=self.instance is not None,
            outbox=self._outbox,
            topics=self.topics,
            wake=self._wake,
            connected=lambda: self.connection.connected,
            start_polling=self._start_polling,
        )
        self.ownership = ownership_for(
            settings.cluster, self._by_key, self._share.on_change, instance_id=self.instance
        )
        self._info = Throttled(self._publish_info, INFO_SPACING)
        self.health = HealthReporter(
            self._outbox, self.topics, self._share.owned, lambda: self.connection.connected
        )
        self.refresher = Refresher(
            self.topics, self.connection, self._by_slug, self._spawn, self._read_on_demand
        )
        self.commands = CommandService(
            self.topics,
            settings.commands,
            self.connection,
            self._executors,
            self._spawn,
            on_result=self._on_command_result,
            epoch_of=self._share.epoch_of,
            speaks=self.ownership.speaks_for_fleet,
        )
        self._announcer = (
            Announcer(
                self._outbox,
                self.topics,
                legacy_object_id=settings.homeassistant.legacy_object_id,
            )
            if settings.homeassistant.enabled
            else None
        )
        self._publisher = GatewayPublisher(
            self._outbox,
            self.topics,
            self._announcer,
            controls=lambda gateway: gateway.executor.settings.enabled,
            retain=settings.mqtt.retain,
            on_announced=self._info.ask_async,
            on_online=self.commands.announce_availability,
        )

    async def run(self) -> None:
        """Run until cancelled; on the way out say `offline` and close the gateways' sessions."""
        try:
            with self._log_relay.listening(logging.getLogger("pw2mqtt")):
                await self._run_parts()
        finally:
            await asyncio.shield(self._shutdown())

    async def _run_parts(self) -> None:
        try:
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                # Pollers start as gateways are owned: all at once alone, a share in a fleet.
                tasks.create_task(self.ownership.run(), name="pw2mqtt.ownership")
                await self.ownership.wait_started()
                tasks.create_task(self.connection.run(), name="pw2mqtt.mqtt")
                tasks.create_task(self._publish_loop(), name="pw2mqtt.publish")
                tasks.create_task(
                    keep_status_file(
                        self.settings.state_dir,
                        self._share.owned,
                        lambda: self.connection.connected,
                    ),
                    name="pw2mqtt.status",
                )
                tasks.create_task(self._info.run(), name="pw2mqtt.info")
                tasks.create_task(self.health.run(), name="pw2mqtt.health")
        except* ClusterError as group:
            raise group.exceptions[0] from None  # the fleet's database cannot be used

    async def _shutdown(self) -> None:
        offline = Outgoing(self.topics.bridge_state, OFFLINE, retain=True, qos=1)
        try:
            await asyncio.wait_for(self.connection.close(final=[offline]), timeout=5)
        except TimeoutError:
            _LOGGER.warning("the broker did not take the final 'offline' in time")
        for gateway in self._gateways:
            await gateway.client.close()

    async def _still_owned(self, key: str, epoch: int) -> bool:
        return await self.ownership.check_fence(key, epoch)

    def _make_connection(self) -> MqttConnection:
        subscriptions = [(self.topics.homeassistant_status, 1)]
        if self.settings.homeassistant.enabled:
            subscriptions.append((self.topics.discovery_filter, 1))
        subscriptions.extend(CommandService.subscriptions_for(self.topics))
        subscriptions.append((self.topics.get_filter, 1))
        subscriptions.extend(
            FleetShare.subscriptions_for(self.topics, fleet=self.instance is not None)
        )
        return MqttConnection(
            MqttOptions.from_settings(self.settings.mqtt, self._client_id()),
            will=Outgoing(self.topics.bridge_state, OFFLINE, retain=True, qos=1),
            subscriptions=subscriptions,
            on_connect=self._on_connect,
            on_message=self._on_message,
            in_flight_warning=PUBLISHING_AT_ONCE * IN_FLIGHT_PER_GATEWAY,
        )

    def _client_id(self) -> str:
        """Each member of a fleet has its own client id, so that its last will is its own."""
        base = self.settings.mqtt_client_id
        return base if self.instance is None else f"{base}-{self.instance}"

    async def _publish_loop(self) -> None:
        """Mailboxes → broker: each gateway's newest update, whenever the broker is there."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self.connection.connected:
                continue  # the mailbox keeps the newest update; on_connect wakes us again
            try:
                await self._share.say_lost()
                await self._publish_due()
                if self._announcer is not None:
                    await self._announcer.clear_stale(self._gateways)
                await self._relay_logs()
            except* MqttUnavailableError:
                for gateway in self._gateways:
                    gateway.pending = True  # publish it all again once reconnected

    async def _publish_due(self) -> None:
        """Each gateway's messages go in order, but gateways go side by side: a first
        publication waits on the broker's acknowledgements a dozen times, and one gateway after
        another would make a thousand of them take minutes at start-up."""
        due = [g for g in self._gateways if g.pending]
        for gateway in due:
            gateway.pending = False
        due = [g for g in due if g.epoch is not None]
        if len(due) == 1:
            await self._publisher.publish(due[0])
            return
        turns = asyncio.Semaphore(PUBLISHING_AT_ONCE)

        async def publish(gateway: BridgedGateway) -> None:
            async with turns:
                await self._publisher.publish(gateway)

        async with asyncio.TaskGroup() as group:
            for gateway in due:
                group.create_task(publish(gateway))

    def _start_polling(self, gateway: BridgedGateway) -> asyncio.Task[None] | None:
        if self._tasks is None:
            return None
        return self._tasks.create_task(
            gateway.poller.run(start_delay=gateway.start_delay),
            name=f"pw2mqtt.poll.{gateway.label}",
        )

    async def _publish_info(self) -> None:
        info = bridge_info(self.settings, self._share.owned())
        with contextlib.suppress(MqttUnavailableError):  # sent again on connecting
            await self._outbox.send([Outgoing(self.topics.bridge_info, json.dumps(info), True, 1)])

    async def _relay_logs(self) -> None:
        records = self._log_relay.take()
        if records:
            await self._outbox.send(
                [Outgoing(self.topics.bridge_logging, json.dumps(r), False, 0) for r in records]
            )

    # -- broker events --------------------------------------------------------------------

    async def _on_connect(self) -> None:
        await self._outbox.send([Outgoing(self.topics.bridge_state, ONLINE, retain=True, qos=1)])
        self._republish_everything()
        self.health.forget()
        await self._publish_info()

    def _republish_everything(self) -> None:
        for gateway in self._gateways:
            gateway.forget_published()
        self._wake.set()

    def _executors(self) -> dict[str, CommandExecutor]:
        return {g.slug: g.executor for g in self._gateways if g.slug is not None}

    def _by_slug(self) -> dict[str, BridgedGateway]:
        return {g.slug: g for g in self._share.owned() if g.slug is not None}

    def _read_on_demand(self, gateway: BridgedGateway) -> None:
        """A `get` read the gateway: publish all its values, changed or not."""
        gateway.tracker.forget()
        gateway.pending = True
        self._wake.set()

    async def _on_command_result(self, result: CommandResult) -> None:
        """Shown on the gateway's `last_command` entity with the next publication, now."""
        for gateway in self._gateways:
            if gateway.slug == result.gateway:
                gateway.last_command = result
                counts = gateway.command_counts
                counts[result.status] = counts.get(result.status, 0) + 1
                gateway.pending = gateway.latest is not None
                self._wake.set()

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
        if self._announcer is not None and message.topic.endswith("/config"):
            if self._announcer.note_config(message):
                self._wake.set()
            return
        slug = self.refresher.gateway_of(message.topic)
        if slug is not None:
            if not self._answers_for(slug):
                return  # another member of the fleet answers
            await self.refresher.handle(slug, message)
            return
        if await self._share.hear(message):
            return
        await self.commands.handle(message)

    def _answers_for(self, slug: str) -> bool:
        """The owner answers for its gateway; for an unknown one, the fleet's speaker does."""
        if self._share.known(slug):
            return self._share.epoch_of(slug) is not None
        return self.ownership.speaks_for_fleet()

    def _schedule_reannounce(self) -> None:
        if self._birth_task is not None and not self._birth_task.done():
            return

        async def reannounce() -> None:
            await asyncio.sleep(random.uniform(0, HA_BIRTH_DELAY_MAX))  # noqa: S311
            _LOGGER.info("Home Assistant came online; announcing again")
            online = Outgoing(self.topics.bridge_state, ONLINE, retain=True, qos=1)
            await self._outbox.send([online])
            self._republish_everything()

        self._birth_task = asyncio.get_running_loop().create_task(reannounce())
