"""The measured runs: side by side, restart, commands, fleet; each returns a dict for the report."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt

from bench.broker import HOST, Mosquitto
from bench.contenders import FAST_INTERVAL, TOPICS, Contender, Pw2Mqtt, Running
from bench.gateways import LOGIN, Call, Gateway, SimulatedGateways
from bench.observer import Observer, Seen
from bench.procstat import Sampler
from bench.stats import median, percentile

FAST_PATH = "/api/meters/aggregates"  # read on every fast cycle by both bridges
SOLAR_STEPS = (1500.0, 3200.0, 4700.0, 2600.0, 5300.0, 2000.0, 3900.0)


@dataclass(frozen=True, slots=True)
class Timing:
    """How long each phase lasts, in real seconds."""

    duration: float  # the measurement window
    warmup: float  # after the first state arrives, before the window opens
    start_timeout: float = 90.0
    fast_interval: float = FAST_INTERVAL  # both bridges' poll interval for power flows


@dataclass(frozen=True, slots=True)
class Simulation:
    profile: str = "21.44"
    latency: float = 0.03
    jitter: float = 0.05


class BenchError(RuntimeError):
    pass


@contextlib.asynccontextmanager
async def _stage(
    count: int, sim: Simulation, workdir: Path
) -> AsyncIterator[tuple[SimulatedGateways, Mosquitto, Observer]]:
    """Fresh simulators, a fresh broker and a subscriber, for one contender's run."""
    async with SimulatedGateways(
        count, profile=sim.profile, latency=sim.latency, jitter=sim.jitter
    ) as gateways:
        with Mosquitto(workdir / "broker") as broker:
            async with Observer(broker.port).running() as observer:
                yield gateways, broker, observer


async def _first_state(
    observer: Observer,
    contender: Contender,
    running: Running,
    timeout: float,  # noqa: ASYNC109
    gateways: int = 1,
) -> Seen:
    """The first reading the bridge published, once readings from `gateways` gateways arrived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [s for s in observer.seen if contender.is_state(s)]
        if len({s.topic.split("/")[1] for s in states}) >= gateways:
            return states[0]
        if not running.alive():
            raise BenchError(
                f"{contender.label} exited with {running.process.returncode}:\n{running.log_tail()}"
            )
        await asyncio.sleep(0.05)
    raise BenchError(
        f"{contender.label}: readings from {gateways} gateway(s) did not arrive in "
        f"{timeout:.0f} s:\n{running.log_tail()}"
    )


async def _sample_until(sampler: Sampler, end: float, running: Running) -> None:
    while (left := end - time.monotonic()) > 0:
        if not running.alive():
            raise BenchError(f"the process ended during the measurement:\n{running.log_tail()}")
        sampler.sample()
        await asyncio.sleep(min(0.5, left))


async def _step_solar(
    *,
    gateways: SimulatedGateways,
    gateway: Gateway,
    observer: Observer,
    contender: Contender,
    end: float,
    timing: Timing,
    rng: random.Random,
) -> tuple[list[float], int]:
    """Step the solar power now and then; the delays until the new value reached the subscriber.

    Each step waits a random time after the previous value arrived, uniform over two fast
    intervals: a whole number of cycles both for a bridge that reads every interval and for one
    that reads every other interval (the peer serves every other poll from its cache), so every
    moment of either cycle is sampled alike.
    """
    delays: list[float] = []
    lost = 0
    step = 0
    while True:
        await asyncio.sleep(rng.uniform(0.5, 0.5 + 2 * timing.fast_interval))
        if time.monotonic() > end:
            return delays, lost  # the last step may still be in flight when the window closes
        target = SOLAR_STEPS[step % len(SOLAR_STEPS)]
        step += 1

        def carries(seen: Seen, target: float = target) -> bool:
            watts = contender.solar_watts(seen)
            return watts is not None and abs(watts - target) <= max(15.0, 0.005 * target)

        arrival = asyncio.ensure_future(observer.wait_for(carries, 3 * timing.fast_interval))
        await asyncio.sleep(0)  # the waiter is registered before the change is made
        changed_at = time.monotonic()
        await gateways.set_solar(gateway, target)
        seen = await arrival
        if seen is None:
            lost += 1
        else:
            delays.append(seen.at - changed_at)


def _summarise_calls(calls: list[Call], minutes: float, count: int) -> dict[str, Any]:
    reads = [c for c in calls if c.path != LOGIN]
    return {
        "requests_per_min": len(calls) / minutes / count,
        "logins": sum(1 for c in calls if c.path == LOGIN),
        "by_path": dict(Counter(c.path for c in reads).most_common()),
        "errors": _errors(calls),
    }


def _errors(calls: list[Call]) -> int:
    """Answers of 400 and above (0 only means: still being answered when the log was read)."""
    return sum(1 for c in calls if c.status >= 400)


def _value_topics(seen: list[Seen], contender: Contender) -> int:
    """How many distinct topics carried readings: what 'every value every poll' would resend."""
    return len(
        {
            s.topic
            for s in seen
            if contender.owns(s)
            and not s.topic.startswith("homeassistant/")
            and not s.topic.endswith(("/availability", "/config", "/state", "/info", "/logging"))
            and "/bridge/" not in s.topic
        }
    )


async def side_by_side(
    contender: Contender, timing: Timing, sim: Simulation, workdir: Path, seed: int = 7
) -> dict[str, Any]:
    """One contender against one fresh gateway: cost, traffic and freshness over the window."""
    async with _stage(1, sim, workdir) as (gateways, broker, observer):
        gateway = gateways.gateways[0]
        running = contender.start(gateways.gateways, broker.port, workdir)
        try:
            first = await _first_state(observer, contender, running, timing.start_timeout)
            startup = first.at - running.started_at
            await asyncio.sleep(timing.warmup)
            sampler = Sampler(running.pid)
            call_mark = await gateways.call_count(gateway)
            sampler.begin()
            begin = time.monotonic()
            end = begin + timing.duration
            stepping = asyncio.create_task(
                _step_solar(
                    gateways=gateways,
                    gateway=gateway,
                    observer=observer,
                    contender=contender,
                    end=end,
                    timing=timing,
                    rng=random.Random(seed),
                )
            )
            await _sample_until(sampler, end, running)
            usage = sampler.end()
            window_calls = await gateways.calls(gateway, since=call_mark)
            all_calls = await gateways.calls(gateway)
            delays, lost = await stepping
        finally:
            code = running.stop()
        minutes = usage.wall_s / 60
        published = [s for s in observer.between(begin, end) if contender.owns(s)]
        fast_polls = sum(1 for c in window_calls if c.path == FAST_PATH)
        value_topics = _value_topics(observer.seen, contender)
        calls = _summarise_calls(window_calls, minutes, 1)
        return {
            "contender": contender.label,
            "window_s": usage.wall_s,
            "startup_s": startup,
            "cpu_s_per_min": usage.cpu_s / minutes,
            "cpu_share": usage.cpu_share,
            "rss_peak_mb": usage.rss_peak / 2**20,
            "rss_steady_mb": usage.rss_steady / 2**20,
            "requests_per_min": calls["requests_per_min"],
            "requests_by_path": calls["by_path"],
            "request_errors": calls["errors"],
            "logins_life": sum(1 for c in all_calls if c.path == LOGIN),
            "mqtt_msgs_per_min": len(published) / minutes,
            "mqtt_bytes_per_min": sum(s.size for s in published) / minutes,
            "busiest_topics": dict(Counter(s.topic for s in published).most_common(8)),
            "fast_polls": fast_polls,
            "value_topics": value_topics,
            "every_value_every_poll_msgs_per_min": value_topics * fast_polls / minutes,
            "freshness_s": {
                "median": median(delays),
                "p95": percentile(delays, 95),
                "samples": len(delays),
                "not_delivered": lost,
            },
            "exit_code": code,
        }


async def restart_with_saved_session(
    timing: Timing, sim: Simulation, workdir: Path
) -> dict[str, Any]:
    """pw2mqtt twice against the same gateway and state directory: logins in each life."""
    state_dir = workdir / "state"
    contender = Pw2Mqtt(state_dir=state_dir)
    lives: list[dict[str, Any]] = []
    async with _stage(1, sim, workdir) as (gateways, broker, observer):
        gateway = gateways.gateways[0]
        for life in (1, 2):
            mark = await gateways.call_count(gateway)
            observer.seen.clear()
            running = contender.start(gateways.gateways, broker.port, workdir / f"life{life}")
            try:
                first = await _first_state(observer, contender, running, timing.start_timeout)
                await asyncio.sleep(timing.warmup)
            finally:
                running.stop()
            calls = await gateways.calls(gateway, since=mark)
            lives.append(
                {
                    "life": life,
                    "startup_s": first.at - running.started_at,
                    "logins": sum(1 for c in calls if c.path == LOGIN),
                    "requests": len(calls),
                }
            )
    return {"lives": lives}


@dataclass(frozen=True, slots=True)
class _CommandTimes:
    first_request: float
    write: float
    answer: float
    state: float


async def command_latency(
    timing: Timing, workdir: Path, commands: int, seed: int = 11
) -> dict[str, Any]:
    """Backup-reserve commands through the broker: to the gateway's write, the answer, the state."""
    sim = Simulation(profile="1.50")  # customer writes are allowed on this firmware
    rng = random.Random(seed)
    times: list[_CommandTimes] = []
    failures: list[str] = []
    async with _stage(1, sim, workdir) as (gateways, broker, observer):
        running = Pw2Mqtt(commands=True).start(gateways.gateways, broker.port, workdir)
        try:
            first = await _first_state(observer, Pw2Mqtt(), running, timing.start_timeout)
            slug = first.topic.split("/")[1]
            await asyncio.sleep(timing.warmup)
            async with aiomqtt.Client(HOST, broker.port, identifier="bench-commander") as client:
                for n in range(commands):
                    reserve = 30 + (n % 2) * 15 + n % 7  # always a change from the one before
                    outcome = await _one_command(gateways, observer, client, slug, reserve)
                    if isinstance(outcome, str):
                        failures.append(f"command {n}: {outcome}")
                    else:
                        times.append(outcome)
                    await asyncio.sleep(rng.uniform(0.2, 1.0))
        finally:
            running.stop()
    return {
        "commands": commands,
        "failures": failures,
        "to_first_request_s": _spread([t.first_request for t in times]),
        "to_gateway_call_s": _spread([t.write for t in times]),
        "to_answer_s": _spread([t.answer for t in times]),
        "to_state_s": _spread([t.state for t in times]),
    }


async def _one_command(
    gateways: SimulatedGateways,
    observer: Observer,
    client: aiomqtt.Client,
    slug: str,
    reserve: int,
) -> _CommandTimes | str:
    gateway = gateways.gateways[0]
    state_topic = TOPICS.field(slug, "backup_reserve")
    answer = asyncio.ensure_future(
        observer.wait_for(lambda s: s.topic == TOPICS.response("gateway/set"), 30)
    )
    state = asyncio.ensure_future(
        observer.wait_for(lambda s: s.topic == state_topic and _near(s.payload, reserve), 60)
    )
    await asyncio.sleep(0)  # both waiters are registered before the command goes out
    offset = await _clock_offset(gateways, gateway)
    mark = await gateways.call_count(gateway)
    sent = time.monotonic()
    await client.publish(TOPICS.field_set(slug, "backup_reserve"), str(reserve))
    answered, updated = await answer, await state
    if answered is None or b'"ok"' not in answered.payload:
        return f"answer {answered.payload if answered else None!r}"
    calls = await gateways.calls(gateway, since=mark)
    writes = [c for c in calls if c.method == "POST" and c.path == "/api/operation"]
    if not writes or updated is None:
        return "no write reached the gateway, or no state update followed"
    # The executor reads the current settings first: the write carries both mode and reserve.
    reads = [
        c
        for c in calls
        if c.method == "GET" and c.path == "/api/operation" and c.time <= writes[0].time
    ]
    return _CommandTimes(
        first_request=(reads[-1] if reads else writes[0]).time - offset - sent,
        write=writes[0].time - offset - sent,
        answer=answered.at - sent,
        state=updated.at - sent,
    )


def _near(payload: bytes, value: float) -> bool:
    try:
        return abs(float(payload) - value) < 0.6
    except ValueError:
        return False


def _spread(values: list[float]) -> dict[str, float | int | None]:
    return {"median": median(values), "p95": percentile(values, 95), "samples": len(values)}


async def _clock_offset(gateways: SimulatedGateways, gateway: Gateway) -> float:
    """Simulated time minus our monotonic clock, taken over loopback (error ≈ half a round trip)."""
    best: tuple[float, float] | None = None
    for _ in range(5):
        before = time.monotonic()
        state = await gateways.state(gateway)
        after = time.monotonic()
        estimate = float(state["site"]["time"]) - (before + after) / 2
        if best is None or after - before < best[0]:
            best = (after - before, estimate)
    assert best is not None
    return best[1]
