"""The fleet: N simulated gateways in one pw2mqtt process.

Figures: the bridge's CPU share of one core and its RSS; the poll cycles at each gateway (late,
missed); the time until every gateway's first value reached the broker; and the logins as the
simulators saw them, on one clock: how many in the busiest second (a thundering herd shows here).
The simulators' own CPU is measured too, per host process, to show whether they kept up.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.broker import Mosquitto
from bench.contenders import TOPICS, Pw2Mqtt, Running
from bench.gateways import LOGIN, Call, Gateway, SimulatedGateways
from bench.observer import Observer
from bench.procstat import Sampler, Usage
from bench.scenarios import FAST_PATH, BenchError, Simulation, Timing
from bench.stats import cycle_gaps, percentile

GATEWAYS_PER_HOST = 250  # simulators per host process, unless told otherwise
START_TIMEOUT_PER_GATEWAY = 0.6  # seconds added to the start-up timeout for each gateway


def default_hosts(count: int) -> int:
    return max(1, -(-count // GATEWAYS_PER_HOST))


@dataclass(frozen=True, slots=True)
class _Online:
    """When each gateway's first value reached the broker, in seconds after the bridge's spawn."""

    times: list[float]

    def at(self, share: float) -> float:
        ordered = sorted(self.times)
        return ordered[max(0, round(share * len(ordered)) - 1)]


async def _all_online(observer: Observer, running: Running, count: int, timeout: float) -> _Online:  # noqa: ASYNC109
    first: dict[str, float] = {}
    read = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = observer.seen
        for message in seen[read:]:
            first.setdefault(message.topic.split("/")[1], message.at - running.started_at)
        read = len(seen)
        if len(first) >= count:
            return _Online(list(first.values()))
        if not running.alive():
            raise BenchError(
                f"pw2mqtt exited with {running.process.returncode}:\n{running.log_tail()}"
            )
        await asyncio.sleep(0.2)
    raise BenchError(
        f"pw2mqtt: values from {len(first)} of {count} gateways in {timeout:.0f} s:\n"
        f"{running.log_tail()}"
    )


async def _measure(
    running: Running, gateways: SimulatedGateways, timing: Timing
) -> tuple[Usage, list[Usage], list[int]]:
    """The window: the bridge's and the simulator hosts' usage, and where each call log stood."""
    marks = await asyncio.gather(*(gateways.call_count(g) for g in gateways.gateways))
    bridge = Sampler(running.pid)
    hosts = [Sampler(pid) for pid in gateways.pids]
    for sampler in (bridge, *hosts):
        sampler.begin()
    end = time.monotonic() + timing.duration
    while (left := end - time.monotonic()) > 0:
        if not running.alive():
            raise BenchError(f"the process ended during the measurement:\n{running.log_tail()}")
        bridge.sample()
        await asyncio.sleep(min(0.5, left))
    return bridge.end(), [host.end() for host in hosts], list(marks)


async def fleet(
    count: int, timing: Timing, sim: Simulation, workdir: Path, hosts: int | None = None
) -> dict[str, Any]:
    """`count` gateways in one pw2mqtt process: CPU share of a core, RSS, cycles, logins."""
    hosts = hosts or default_hosts(count)
    timeout = timing.start_timeout + START_TIMEOUT_PER_GATEWAY * count
    simulated = SimulatedGateways(
        count, profile=sim.profile, latency=sim.latency, jitter=sim.jitter, hosts=hosts
    )
    async with simulated as gateways:
        with Mosquitto(workdir / "broker") as broker:
            # Only the solar topic: the benchmark's subscriber must not compete for the CPU.
            topics = (TOPICS.field("+", "solar_power"),)
            async with Observer(broker.port, topics).running() as observer:
                running = Pw2Mqtt().start(gateways.gateways, broker.port, workdir)
                try:
                    online = await _all_online(observer, running, count, timeout)
                    await asyncio.sleep(timing.warmup)
                    usage, host_usage, marks = await _measure(running, gateways, timing)
                    logs = await asyncio.gather(*(gateways.calls(g) for g in gateways.gateways))
                finally:
                    running.stop()
    windows = [log[mark:] for log, mark in zip(logs, marks, strict=True)]
    return {
        "gateways": count,
        "interval_s": timing.fast_interval,
        "window_s": usage.wall_s,
        "all_online_s": max(online.times),
        "half_online_s": online.at(0.5),
        "cpu_share": usage.cpu_share,
        "rss_peak_mb": usage.rss_peak / 2**20,
        "rss_steady_mb": usage.rss_steady / 2**20,
        "sim_hosts": len(host_usage),
        "sim_cpu_share": sum(u.cpu_share for u in host_usage),
        "sim_cpu_share_max": max(u.cpu_share for u in host_usage),
        **_cycles(windows, timing.fast_interval, usage.wall_s),
        "logins": _logins(gateways.gateways, logs, running.started_at),
        "logins_in_window": sum(1 for calls in windows for c in calls if c.path == LOGIN),
        "request_errors": sum(1 for calls in windows for c in calls if c.status >= 400),
    }


def _cycles(windows: list[list[Call]], interval: float, wall_s: float) -> dict[str, Any]:
    late = missed = cycles = 0
    gaps: list[float] = []
    for calls in windows:
        times = [c.time for c in calls if c.path == FAST_PATH]
        cycles += len(times)
        g_late, g_missed, g_gaps = cycle_gaps(times, interval)
        # Gaps between reads cannot show a gateway that stopped being read at the window's edges:
        # count what is short of the window's whole intervals (less one, for the phase) as missed.
        shortfall = int(wall_s / interval) - 1 - len(times)
        late, missed = late + g_late, missed + max(g_missed, shortfall)
        gaps += g_gaps
    return {
        "cycles": cycles,
        "cycles_expected": len(windows) * wall_s / interval,
        "late_cycles": late,
        "missed_cycles": missed,
        "gap_p95_s": percentile(gaps, 95),
        "gap_max_s": max(gaps) if gaps else None,
    }


def _logins(gateways: list[Gateway], logs: list[list[Call]], spawned: float) -> dict[str, Any]:
    """Every login the simulators answered, in seconds after the bridge's spawn (one clock)."""
    times = sorted(
        c.time - g.clock - spawned
        for g, calls in zip(gateways, logs, strict=True)
        for c in calls
        if c.path == LOGIN
    )
    busiest = 0
    low = 0
    for high, at in enumerate(times):  # the most logins inside any one-second span
        while at - times[low] > 1.0:
            low += 1
        busiest = max(busiest, high - low + 1)
    per_second = Counter(int(t) for t in times)
    return {
        "count": len(times),
        "first_s": times[0] if times else None,
        "last_s": times[-1] if times else None,
        "max_per_s": busiest,
        "per_s": [per_second.get(s, 0) for s in range(int(times[-1]) + 1)] if times else [],
    }
