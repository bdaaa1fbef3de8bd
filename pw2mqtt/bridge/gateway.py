"""One gateway as the publishing side sees it: its client, poller and what was last published."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pw2mqtt.commands.executor import CommandExecutor
from pw2mqtt.commands.result import CommandResult
from pw2mqtt.config import GatewaySettings
from pw2mqtt.entities.catalogue import Entity, Value
from pw2mqtt.entities.devices import ActiveAlert, PhysicalDevice, devices_for
from pw2mqtt.gateway.poller import GatewayPoller, GatewayUpdate
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.snapshot import GatewaySnapshot
from pw2mqtt.mqtt.discovery import DeviceInfo
from pw2mqtt.mqtt.tracker import ValueTracker


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
