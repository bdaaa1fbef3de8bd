"""Everything a simulated gateway knows, without the network: clock, site, sessions, faults, log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pw2mqtt.simulator.auth import LockoutPolicy, Sessions
from pw2mqtt.simulator.clock import SimClock
from pw2mqtt.simulator.faults import FaultInjector
from pw2mqtt.simulator.keys import KeyRegistry
from pw2mqtt.simulator.payloads import Identity
from pw2mqtt.simulator.profiles import Profile, get_profile
from pw2mqtt.simulator.site import Site, SiteConfig, SiteState
from pw2mqtt.simulator.tedapi import SignedControl
from pw2mqtt.simulator.vitals import vitals_body

VitalsProvider = Callable[[SiteState], bytes]


@dataclass(slots=True)
class CallRecord:
    """One request the gateway received. `status` is 0 while unanswered or when never answered
    (reset, hang); `role` and `session` are the role and serial number of the session the request
    carried (or, for a login, created), if valid: which client made it; `body` is the decoded
    JSON or form body (passwords masked), or None."""

    time: float  # simulated epoch seconds on arrival
    method: str
    path: str
    status: int
    role: str | None
    body: Any
    session: int | None = None


class GatewayCore:
    def __init__(
        self,
        *,
        clock: SimClock,
        site_config: SiteConfig,
        profile: str,
        din: str,
        customer_password: str,
        installer_password: str,
        session_ttl: float,
        lockout: LockoutPolicy,
        installer_toggle: bool,
        initial_soe: float,
        seed: int,
    ) -> None:
        self.clock = clock
        self.profile: Profile = get_profile(profile)
        now = clock.now()
        self.site = Site(site_config, now, soe=initial_soe)
        self.sessions = Sessions(session_ttl, lockout)
        self.faults = FaultInjector(seed)
        self.customer_password = customer_password
        self.installer_password = installer_password
        self.installer_toggle = installer_toggle
        self.identity = Identity(
            din=din,
            zone=self.site.zone,
            timezone=site_config.timezone,
            boot_time=now - 831_359.93,  # up for 230h55m59.93s, as in the 21.44 capture
            seed=seed,
        )
        self.calls: list[CallRecord] = []
        self.keys = KeyRegistry()  # signing keys paired for TEDAPI v1r
        self.signed = SignedControl(self.site, din, site_config.timezone)  # config.json, events
        self.logins = 0
        # The /api/devices/vitals body (protobuf); only profiles whose table lists it serve it.
        self.vitals: VitalsProvider | None = self._vitals_body
        self.drop = asyncio.Event()  # set to drop hanging requests (reboot, close)
        self.replaced_bodies: dict[str, bytes] = {}  # path → a body served instead (hostile tests)

    def now(self) -> float:
        return self.clock.now()

    def state(self) -> SiteState:
        return self.site.snapshot(self.clock.now())

    def _vitals_body(self, state: SiteState) -> bytes:
        return vitals_body(self.profile, self.identity, state)

    def record(self, method: str, path: str, body: Any) -> CallRecord:
        call = CallRecord(self.clock.now(), method, path, 0, None, body)
        self.calls.append(call)
        return call

    def rebooted(self) -> None:
        now = self.clock.now()
        self.sessions.clear()
        self.site.restart(now)
        self.identity = Identity(
            din=self.identity.din,
            zone=self.identity.zone,
            timezone=self.identity.timezone,
            boot_time=now,
            seed=self.identity.seed,
        )

    def drop_hanging(self) -> None:
        self.drop.set()
        self.drop = asyncio.Event()
