"""One gateway as the bridge sees it: its client, poller, executor and what was last published."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pw2mqtt.cluster import gateway_key
from pw2mqtt.commands.executor import CommandExecutor
from pw2mqtt.commands.result import CommandResult
from pw2mqtt.config import GatewaySettings, Settings
from pw2mqtt.entities.catalogue import Entity, Value
from pw2mqtt.entities.devices import ActiveAlert, PhysicalDevice, devices_for
from pw2mqtt.gateway.poller import GatewayPoller, GatewayUpdate
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.signed_reads import SignedReader, load_signing_key
from pw2mqtt.gateway.snapshot import GatewaySnapshot
from pw2mqtt.mqtt.discovery import DeviceInfo
from pw2mqtt.mqtt.tracker import ValueTracker

STARTUP_POLLS_PER_SECOND = 100  # first polls (and logins) spread so no herd hits at once


def start_delays(count: int, fast_interval: float) -> list[float]:
    """When each of `count` pollers first polls: evenly over one fast interval, or longer
    when that would start more than `STARTUP_POLLS_PER_SECOND` a second."""
    if count <= 1:
        return [0.0] * count
    spread = max(fast_interval, count / STARTUP_POLLS_PER_SECOND)
    return [i * spread / count for i in range(count)]


@dataclass(slots=True)
class BridgedGateway:
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
    sources: dict[str, str] = field(default_factory=dict)  # endpoint -> its published availability
    grid_status: Value | None = None
    pending: bool = False
    last_ok: float | None = None  # epoch seconds of the last poll the gateway answered
    unidentified: str | None = None  # why the gateway has no slug yet (no DIN, no `name`)
    parts: dict[str, frozenset[str]] = field(default_factory=dict)  # announced devices' entities
    alerts: tuple[ActiveAlert, ...] | None = None
    last_command: CommandResult | None = None
    shown_command: CommandResult | None = None  # whose details were last published
    slug_provisional: bool = False  # derived from the host before the gateway ever answered
    published_before: bool = False  # a slug was saved: Home Assistant knows this device
    last_error: str | None = None  # why the gateway is offline; None while it answers
    last_error_sent: str | None = None  # what `<gw>/last_error` says
    command_counts: dict[str, int] = field(default_factory=dict)  # command results by status
    epoch: int | None = None  # the ownership under which this instance polls and commands it
    polling: asyncio.Task[None] | None = None
    start_delay: float = 0.0  # how long after being owned the first poll waits (no herd)
    tell_lost: bool = False  # say `offline` for it: this instance let it go just now
    _devices: tuple[PhysicalDevice, ...] = field(default=(), init=False, repr=False)
    _devices_from: tuple[object, object] | None = field(default=None, init=False, repr=False)

    @property
    def label(self) -> str:
        return self.slug or str(self.client.address)

    def devices(self, snapshot: GatewaySnapshot) -> tuple[PhysicalDevice, ...]:
        """The part devices, worked out again only when their source was read again; kept while
        their source fails, so that they show as unavailable rather than vanish."""
        source = (snapshot.vitals, snapshot.solar_powerwall)
        if source == (None, None) and {"vitals", "solar_powerwall"} & snapshot.failed.keys():
            return self._devices
        known = self._devices_from
        if known is None or source[0] is not known[0] or source[1] is not known[1]:
            self._devices = devices_for(snapshot)
            self._devices_from = source
        return self._devices

    def forget_published(self) -> None:
        """After a reconnect or a Home Assistant restart: publish everything again."""
        self.announced = None
        self.parts.clear()
        self.alerts = None
        self.shown_command = None
        self.availability = None
        self.sources.clear()
        self.last_error_sent = None
        self.tracker.forget()
        self.pending = self.latest is not None


def bridged_gateways(
    settings: Settings,
    *,
    wake: asyncio.Event,
    fence: Callable[[str, int], Awaitable[bool]],
) -> list[BridgedGateway]:
    """Every configured gateway, each with its first poll's delay (see `start_delays`)."""
    gateways = [bridged_gateway(g, settings, wake=wake, fence=fence) for g in settings.gateways]
    fast = min((g.poll.fast for g in settings.gateways), default=1.0)
    for gateway, delay in zip(gateways, start_delays(len(gateways), fast), strict=True):
        gateway.start_delay = delay
    return gateways


def bridged_gateway(
    gateway: GatewaySettings,
    settings: Settings,
    *,
    wake: asyncio.Event,
    fence: Callable[[str, int], Awaitable[bool]],
) -> BridgedGateway:
    """A configured gateway with its client, poller and executor; each update it reads lands in
    its one-slot mailbox (`latest`, `pending`) and sets `wake`."""
    client = GatewayClient(gateway, settings.state_dir)
    owner_key = gateway_key(gateway)

    def deliver(update: GatewayUpdate) -> None:
        if update.online and update.answered:
            bridged.last_ok = time.time()
        bridged.latest = update
        bridged.pending = True
        wake.set()

    def health() -> GatewayUpdate | None:
        return bridged.latest

    def firmware() -> str | None:
        return bridged.device.firmware if bridged.device else None

    saved = client.state.load_slug()
    key = load_signing_key(settings.state_dir, gateway.name or saved, str(client.address))
    signed = None if key is None else SignedReader(client, key)
    poller = GatewayPoller(client, gateway.poll, deliver, signed=signed)
    executor = CommandExecutor(
        client,
        settings.commands_for(gateway),
        health=health,
        refresh=lambda: poller.refresh(tiers=2),
        firmware=firmware,
        state_dir=settings.state_dir,
        slug=lambda: bridged.slug,
        fence=lambda epoch: fence(owner_key, epoch),
    )
    tracker = ValueTracker(settings.mqtt.heartbeat)
    bridged = BridgedGateway(gateway, client, poller, tracker, executor)
    bridged.slug = gateway.name or saved
    bridged.published_before = saved is not None
    return bridged
