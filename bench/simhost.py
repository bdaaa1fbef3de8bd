"""A child process that hosts N simulated gateways, so their CPU is not counted as anyone else's.

It prints one JSON line describing the gateways, then serves until stdin closes or SIGTERM.
The parent steers them through each simulator's control API and reads their call logs there.
A large fleet is spread over several such processes (`--first` keeps their DINs apart); each
gateway's `clock` is its simulated time less `time.monotonic()`, which every process on the
machine shares, so that call times from different processes can be put on one clock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import signal
import sys
import time
from zoneinfo import ZoneInfo

from pw2mqtt.simulator.control import ControlServer
from pw2mqtt.simulator.server import SimulatorOptions, fleet_options, run_simulators

SITE_TZ = "America/Los_Angeles"
# A fixed summer noon, so every run sees the same sun and the same weather (seeded).
START = dt.datetime(2026, 6, 21, 12, 0, tzinfo=ZoneInfo(SITE_TZ)).timestamp()


def _options(args: argparse.Namespace) -> list[SimulatorOptions]:
    base = SimulatorOptions(
        profile=args.profile,
        start_time=START,
        timezone=SITE_TZ,
        control_port=0,
        seed=args.seed,
    )
    return fleet_options(args.first + args.count, base)[args.first :]


async def _serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.readline() else None)
    async with run_simulators(_options(args)) as sims, contextlib.AsyncExitStack() as stack:
        controls = [await stack.enter_async_context(ControlServer(sim)) for sim in sims]
        for sim in sims:
            if args.latency or args.jitter:
                sim.set_faults(latency=args.latency, jitter=args.jitter)
        described = [
            {
                "port": sim.port,
                "fingerprint": sim.fingerprint,
                "control": control.url,
                "din": sim.din,
                "password": sim.options.customer_password,
                "clock": sim.now() - time.monotonic(),
            }
            for sim, control in zip(sims, controls, strict=True)
        ]
        print(json.dumps({"gateways": described}), flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--first", type=int, default=0, help="index of the first gateway (DIN)")
    parser.add_argument("--profile", default="21.44")
    parser.add_argument("--latency", type=float, default=0.03, help="seconds added to each answer")
    parser.add_argument("--jitter", type=float, default=0.05, help="up to this much more, random")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
