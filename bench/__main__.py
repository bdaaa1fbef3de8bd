"""`python -m bench`: run every measurement; write bench/results/latest/report.{md,json}."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import report
from bench.contenders import FAST_INTERVAL, Contender, Pw2Mqtt
from bench.fleet import GATEWAYS_PER_HOST, fleet
from bench.peer import PeerUnavailableError, make_peer
from bench.procstat import imports_rss_mb
from bench.scenarios import (
    Simulation,
    Timing,
    command_latency,
    restart_with_saved_session,
    side_by_side,
)
from pw2mqtt import __version__

HERE = Path(__file__).resolve().parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="pw2mqtt against its peer, and pw2mqtt at fleet scale."
    )
    parser.add_argument(
        "--smoke", action="store_true", help="a short run (seconds) that only proves it all works"
    )
    parser.add_argument("--duration", type=float, help="seconds per side-by-side window (180)")
    parser.add_argument("--fleet-duration", type=float, help="seconds per fleet window (120)")
    parser.add_argument(
        "--fleet",
        help="gateway counts, comma-separated (1,10,50,100; 1,10,100,1000 for the large fleet)",
    )
    parser.add_argument(
        "--sim-hosts",
        type=int,
        help=f"processes to host the simulated gateways (one per {GATEWAYS_PER_HOST} gateways)",
    )
    parser.add_argument("--commands", type=int, help="commands to time (40)")
    parser.add_argument(
        "--peer",
        choices=("auto", "server", "loop", "none"),
        default="auto",
        help="server: pypowerwall-server; loop: a plain pypowerwall + paho-mqtt loop; "
        "auto: the server, else the loop",
    )
    parser.add_argument(
        "--peer-venv", type=Path, help="where the peer's virtual environment lives (a cache)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="report folder (default: bench/results/latest, or bench/results/smoke with --smoke)",
    )
    parser.add_argument("--skip", default="", help="comma-separated: side,restart,commands,fleet")
    return parser


def _settings(args: argparse.Namespace) -> tuple[Timing, Timing, list[int], int]:
    if args.smoke:
        side = Timing(duration=args.duration or 14.0, warmup=1.0)
        fleet_timing = Timing(duration=args.fleet_duration or 11.0, warmup=1.0)
        counts = [1, 3]
        commands = 3
    else:
        side = Timing(duration=args.duration or 180.0, warmup=10.0)
        fleet_timing = Timing(duration=args.fleet_duration or 120.0, warmup=10.0)
        counts = [1, 10, 50, 100]
        commands = 40
    if args.fleet:
        counts = [int(n) for n in args.fleet.split(",") if n.strip()]
    if args.commands is not None:
        commands = args.commands
    return side, fleet_timing, counts, commands


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    cores = os.cpu_count()
    with open("/proc/meminfo", encoding="ascii") as mem:
        total_kb = int(mem.readline().split()[1])
    return f"{cpu}, {cores} cores, {total_kb / 2**20:.0f} GiB, Linux {platform.release()}"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    side, fleet_timing, counts, commands = _settings(args)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    sim = Simulation()
    results: dict[str, Any] = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": _machine(),
            "python": platform.python_version(),
            "pw2mqtt": __version__,
            "mode": "smoke" if args.smoke else "full",
            "profile": sim.profile,
            "latency_ms": f"{sim.latency * 1000:.0f}-{(sim.latency + sim.jitter) * 1000:.0f}",
            "window_s": side.duration,
            "fleet_window_s": fleet_timing.duration,
            "fast_interval_s": FAST_INTERVAL,
            "peer": "none",
        }
    }
    with tempfile.TemporaryDirectory(prefix="pw2mqtt-bench-") as tmp:
        work = Path(tmp)
        if "side" not in skip:
            contenders: list[tuple[str, Contender]] = [("pw2mqtt", Pw2Mqtt())]
            if args.peer != "none":
                try:
                    peer = make_peer(args.peer, args.peer_venv, _say)
                except PeerUnavailableError as err:
                    results["meta"]["peer"] = f"not run: {err}"
                    _say(f"peer: not run: {err}")
                else:
                    results["meta"]["peer"] = peer.description
                    results["meta"]["peer_packages"] = peer.packages()
                    contenders.append(("peer", peer))
            results["pw2mqtt_imports_rss_mb"] = imports_rss_mb()
            for key, contender in contenders:
                _say(f"side by side: {contender.label}, {side.duration:.0f} s …")
                results[key] = await side_by_side(contender, side, sim, work / key)
        if "restart" not in skip:
            _say("restart with a saved session …")
            results["restart"] = await restart_with_saved_session(side, sim, work / "restart")
        if "commands" not in skip and commands > 0:
            _say(f"command latency, {commands} commands …")
            results["commands"] = await command_latency(side, work / "commands", commands)
        if "fleet" not in skip:
            results["fleet"] = []
            for count in counts:
                _say(f"fleet of {count}, {fleet_timing.duration:.0f} s …")
                results["fleet"].append(
                    await fleet(count, fleet_timing, sim, work / f"fleet{count}", args.sim_hosts)
                )
    return results


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    results = asyncio.run(_run(args))
    out = args.out or HERE / "results" / ("smoke" if args.smoke else "latest")
    md, js = report.write(results, out)
    print(md.read_text())
    _say(f"written: {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
