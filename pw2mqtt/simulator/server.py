"""`GatewaySimulator`: one fake gateway over real HTTPS on loopback, and its lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence

from pw2mqtt.lifecycle import Service
from pw2mqtt.simulator.app import build_app
from pw2mqtt.simulator.auth import LockoutPolicy
from pw2mqtt.simulator.certs import GATEWAY_NAMES, make_certificate, server_context
from pw2mqtt.simulator.clock import SimClock
from pw2mqtt.simulator.core import CallRecord, GatewayCore
from pw2mqtt.simulator.faults import FaultConfig
from pw2mqtt.simulator.keys import KeyRegistry, KeyState
from pw2mqtt.simulator.listener import HttpsListener
from pw2mqtt.simulator.options import (
    DEFAULT_DIN,
    SimulatorOptions,
    din_for,
    fleet_options,
    is_loopback,
)
from pw2mqtt.simulator.profiles import Profile, get_profile
from pw2mqtt.simulator.site import MODES, SiteConfig, SiteState
from pw2mqtt.simulator.tedapi import FAULT_LAYOUTS, SignedControl

# The options are defined beside, and known to callers from here too.
__all__ = [
    "DEFAULT_DIN",
    "GatewaySimulator",
    "SimulatorOptions",
    "din_for",
    "fleet_options",
    "is_loopback",
    "run_simulators",
]

_LOGGER = logging.getLogger(__name__)


class GatewaySimulator(Service):
    """A simulated Powerwall gateway. Use as an async context manager."""

    def __init__(self, options: SimulatorOptions | None = None) -> None:
        self.options = opts = options or SimulatorOptions()
        self._clock = SimClock(opts.start_time, opts.speed)
        site_config = SiteConfig(
            powerwalls=opts.powerwalls,
            peak_solar_w=opts.peak_solar_w,
            base_load_w=opts.base_load_w,
            timezone=opts.timezone,
            seed=opts.seed,
            island_transition_s=opts.island_transition,
            grid_transition_s=opts.grid_transition,
        )
        self._core = GatewayCore(
            clock=self._clock,
            site_config=site_config,
            profile=opts.profile,
            din=opts.din,
            customer_password=opts.customer_password,
            installer_password=opts.installer_password,
            session_ttl=opts.session_ttl,
            lockout=LockoutPolicy(
                opts.lockout_attempts, opts.lockout_window, opts.lockout_duration
            ),
            installer_toggle=opts.installer_toggle,
            initial_soe=opts.initial_soe,
            seed=opts.seed,
        )
        addresses = {opts.host, "127.0.0.1", "::1"} if is_loopback(opts.host) else {opts.host}
        self._addresses = sorted(addresses)
        self._cert = make_certificate((*GATEWAY_NAMES, *opts.extra_server_names), self._addresses)
        self._ssl = server_context(self._cert, opts.extra_server_names)
        self._listener = HttpsListener(build_app(self._core), opts.host, opts.port, self._ssl)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        await self._listener.start()

    async def close(self) -> None:
        self._core.drop_hanging()
        await self._listener.close()

    async def reboot(self, downtime: float = 5.0, *, new_certificate: bool = False) -> None:
        """Drop every session and connection and refuse connections for `downtime` real seconds.

        Returns as soon as the listener is closed; the gateway comes back by itself (await
        `wait_up()` to wait for it). Hanging requests are dropped, the sitemaster comes back
        running, staged operation changes are lost and `up_time_seconds` starts again. With
        `new_certificate` it comes back with a certificate of its own making, as a reset does.
        """
        self._core.drop_hanging()
        self._core.rebooted()
        if new_certificate:
            names = (*GATEWAY_NAMES, *self.options.extra_server_names)
            self._cert = make_certificate(names, self._addresses)
            self._ssl = server_context(self._cert, self.options.extra_server_names)
        await self._listener.go_away(downtime, context=self._ssl)

    async def wait_up(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            await self._listener.wait_up()

    @property
    def is_up(self) -> bool:
        return self._listener.is_up

    @property
    def connections(self) -> int:
        """TCP connections accepted (each one a TLS handshake)."""
        return self._listener.connections

    # -- identity -----------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.options.host

    @property
    def port(self) -> int:
        return self._listener.port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @property
    def fingerprint(self) -> str:
        return self._cert.fingerprint

    @property
    def cert_pem(self) -> bytes:
        return self._cert.cert_pem

    @property
    def din(self) -> str:
        return self._core.identity.din

    @property
    def profile(self) -> Profile:
        return self._core.profile

    @property
    def core(self) -> GatewayCore:
        return self._core

    # -- observation --------------------------------------------------------------------------

    @property
    def calls(self) -> list[CallRecord]:
        return self._core.calls

    def clear_calls(self) -> None:
        self._core.calls.clear()

    @property
    def logins(self) -> int:
        return self._core.logins

    @property
    def state(self) -> SiteState:
        return self._core.state()

    @property
    def keys(self) -> KeyRegistry:
        return self._core.keys

    @property
    def signed(self) -> SignedControl:
        """Signed control (/tedapi/v1r): config.json, fault layout, manual backup event."""
        return self._core.signed

    @property
    def faults(self) -> FaultConfig:
        return self._core.faults.config

    # -- control ------------------------------------------------------------------------------

    def now(self) -> float:
        """Simulated time, epoch seconds."""
        return self._clock.now()

    def advance(self, seconds: float) -> None:
        self._clock.advance(seconds)

    def set_speed(self, speed: float) -> None:
        self._clock.set_speed(speed)

    def set_soe(self, raw_percent: float) -> None:
        self._core.site.set_soe(self.now(), raw_percent)

    def set_solar(self, watts: float | None) -> None:
        """Pin solar production; None returns to the day curve."""
        self._core.site.set_solar(self.now(), watts)

    def set_load(self, watts: float | None) -> None:
        """Pin the home load; None returns to the simulated load."""
        self._core.site.set_load(self.now(), watts)

    def set_operation(self, mode: str | None = None, reserve: float | None = None) -> None:
        """Change mode and raw reserve at once, as if an installer had committed them."""
        if mode is not None and mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        if reserve is not None and not 0.0 <= reserve <= 100.0:
            raise ValueError("the reserve is a raw percentage within 0..100")
        self._core.site.set_operation(self.now(), mode, reserve)

    def set_sitemaster(self, running: bool) -> None:
        self._core.site.set_sitemaster(self.now(), running)

    def set_profile(self, name: str) -> None:
        """Switch firmware profile. Sessions survive; use expire_sessions() for an update."""
        self._core.profile = get_profile(name)

    def start_outage(self) -> None:
        self._core.site.start_outage(self.now())

    def end_outage(self) -> None:
        self._core.site.end_outage(self.now())

    def set_faults(
        self,
        *,
        latency: float = 0.0,
        jitter: float = 0.0,
        error_rate: float = 0.0,
        error_status: int | None = None,
        busy: bool = False,
        reset: bool = False,
        hang: bool = False,
        rate_limit: bool = False,
        endpoints: Mapping[str, str] | None = None,
    ) -> None:
        """Replace the active faults (every argument left out is cleared). `endpoints` confines
        a fault to one path: "html" (200 with a web page) or a 5xx status such as "503"."""
        self._core.faults.config = FaultConfig(
            latency=latency,
            jitter=jitter,
            error_rate=error_rate,
            error_status=error_status,
            busy=busy,
            reset=reset,
            hang=hang,
            rate_limit=rate_limit,
            endpoints=dict(endpoints or {}),
        )
        if not hang:
            self._core.drop_hanging()

    def clear_faults(self) -> None:
        self.set_faults()

    def set_key_state(self, public_key_der: bytes, state: KeyState, description: str = "") -> None:
        """Put a signing key in `state`, registering it first if the gateway does not know it."""
        if self.keys.get(public_key_der) is None:
            self.keys.add(public_key_der, description, self.now())
        self.keys.set_state(public_key_der, state)

    def set_signed_options(
        self, *, fault_layout: str | None = None, apply_at_dispatch: bool | None = None
    ) -> None:
        """Faults in Tesla's layout (field 2) or pypowerwall's (field 1); the apply quirk."""
        if fault_layout is not None:
            if fault_layout not in FAULT_LAYOUTS:
                raise ValueError(f"fault_layout must be one of {', '.join(FAULT_LAYOUTS)}")
            self._core.signed.fault_layout = "tesla" if fault_layout == "tesla" else "pypowerwall"
        if apply_at_dispatch is not None:
            self._core.signed.config.apply_at_dispatch = apply_at_dispatch

    def replace_body(self, path: str, body: bytes | None) -> None:
        """Answer GET `path` with `body` (after the usual checks), or as usual again with None."""
        if body is None:
            self._core.replaced_bodies.pop(path, None)
        else:
            self._core.replaced_bodies[path] = body

    def expire_sessions(self) -> None:
        self._core.sessions.clear()

    def reset_lockout(self) -> None:
        self._core.sessions.reset_lockout()


@contextlib.asynccontextmanager
async def run_simulators(
    options: Sequence[SimulatorOptions],
) -> AsyncIterator[list[GatewaySimulator]]:
    """Start several simulators in one process; DINs must differ (use `din_for`)."""
    dins = [o.din for o in options]
    if len(set(dins)) != len(dins):
        raise ValueError("every simulator needs its own DIN")
    async with contextlib.AsyncExitStack() as stack:
        sims = [GatewaySimulator(o) for o in options]
        for sim in sims:
            stack.push_async_callback(sim.close)
        await asyncio.gather(*(sim.start() for sim in sims))
        yield sims
