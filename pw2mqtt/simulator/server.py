"""`GatewaySimulator`: one fake gateway over real HTTPS on loopback, and its lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Self

from aiohttp import web

from pw2mqtt.simulator.app import build_app
from pw2mqtt.simulator.auth import LockoutPolicy
from pw2mqtt.simulator.certs import GATEWAY_NAMES, make_certificate, server_context
from pw2mqtt.simulator.clock import SimClock
from pw2mqtt.simulator.core import CallRecord, GatewayCore
from pw2mqtt.simulator.faults import FaultConfig
from pw2mqtt.simulator.keys import KeyRegistry
from pw2mqtt.simulator.options import (
    DEFAULT_DIN,
    SimulatorOptions,
    din_for,
    fleet_options,
    is_loopback,
)
from pw2mqtt.simulator.profiles import Profile, get_profile
from pw2mqtt.simulator.site import MODES, SiteConfig, SiteState

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


class GatewaySimulator:
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
        self.connections = 0  # TCP connections accepted (each one a TLS handshake)
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._port = opts.port
        self._up = asyncio.Event()
        self._restart: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._runner = web.AppRunner(
            build_app(self._core), handle_signals=False, access_log=None, shutdown_timeout=0.25
        )
        await self._runner.setup()
        await self._listen()

    async def close(self) -> None:
        if self._restart is not None:
            self._restart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restart
            self._restart = None
        self._core.drop_hanging()
        await self._stop_listening()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _listen(self) -> None:
        assert self._runner is not None
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()

        def accept() -> asyncio.BaseProtocol:
            self.connections += 1
            return server()

        self._listener = await loop.create_server(
            accept, self.options.host, self._port, ssl=self._ssl, reuse_address=True
        )
        self._port = self._listener.sockets[0].getsockname()[1]
        self._up.set()

    async def _stop_listening(self) -> None:
        self._up.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._runner is not None and self._runner.server is not None:
            for connection in self._runner.server.connections:
                transport = connection.transport
                if transport is not None:
                    transport.abort()

    async def reboot(self, downtime: float = 5.0, *, new_certificate: bool = False) -> None:
        """Drop every session and connection and refuse connections for `downtime` real seconds.

        Returns as soon as the listener is closed; the gateway comes back by itself (await
        `wait_up()` to wait for it). Hanging requests are dropped, the sitemaster comes back
        running, staged operation changes are lost and `up_time_seconds` starts again. With
        `new_certificate` it comes back with a certificate of its own making, as a reset does.
        """
        if self._restart is not None:
            self._restart.cancel()
        self._core.drop_hanging()
        self._core.rebooted()
        await self._stop_listening()
        if new_certificate:
            names = (*GATEWAY_NAMES, *self.options.extra_server_names)
            self._cert = make_certificate(names, self._addresses)
            self._ssl = server_context(self._cert, self.options.extra_server_names)
        self._restart = asyncio.create_task(self._come_back(downtime))

    async def _come_back(self, downtime: float) -> None:
        await asyncio.sleep(max(0.0, downtime))
        if self._runner is None:
            return
        for _attempt in range(50):
            try:
                await self._listen()
            except OSError:  # the port is briefly unavailable; try again
                await asyncio.sleep(0.1)
            else:
                return
        _LOGGER.error("simulated gateway could not listen on port %s again", self._port)

    async def wait_up(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            await self._up.wait()

    @property
    def is_up(self) -> bool:
        return self._up.is_set()

    # -- identity -----------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.options.host

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self._port}"

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
        busy: bool = False,
        reset: bool = False,
        hang: bool = False,
    ) -> None:
        """Replace the active faults (every argument left out is cleared)."""
        self._core.faults.config = FaultConfig(
            latency=latency, jitter=jitter, error_rate=error_rate, busy=busy, reset=reset, hang=hang
        )
        if not hang:
            self._core.drop_hanging()

    def clear_faults(self) -> None:
        self.set_faults()

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
