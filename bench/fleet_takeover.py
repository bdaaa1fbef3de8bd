"""`python -m bench.fleet_takeover`: three bridges share simulated gateways; one is SIGKILLed.

Three `pw2mqtt run` processes share `--gateways` simulated gateways (hosted in processes of
their own) through a private PostgreSQL and a private Mosquitto. Once every gateway is owned by
the instance rendezvous hashing prefers and is online, one instance is SIGKILLed. The figures:

- takeover: seconds from the kill until each of its gateways' `availability` is published
  `online` again (by its new owner; the dead one cannot speak), median and max;
- from the gateways' own call logs (each instance logs in with an e-mail of its own): the
  gateways that two instances used in interleaved turns (must be 0), and the requests that
  reached a gateway after the kill from the instance that was killed (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.broker import Mosquitto
from bench.contenders import Pw2Mqtt, Running, clean_env, spawn
from bench.fleet import default_hosts
from bench.gateways import Call, Gateway, SimulatedGateways
from bench.observer import Observer
from bench.ownership import Use, logins, turns
from bench.postgres import TempPostgres
from bench.scenarios import BenchError
from pw2mqtt.cluster.rendezvous import assign

INSTANCES = ("a", "b", "c")
VICTIM = "b"
FAST_POLL = 5.0


def gateway_names(count: int) -> list[str]:
    return [f"gw{i:04d}" for i in range(count)]


def email(instance: str) -> str:
    return f"{instance}@fleet.bench"


def instance_config(
    instance: str,
    gateways: list[Gateway],
    broker_port: int,
    workdir: Path,
    *,
    dsn: str,
    lease: float,
) -> dict[str, Any]:
    values: dict[str, Any] = Pw2Mqtt().config(gateways, broker_port, workdir / instance)
    for entry, name in zip(values["gateways"], gateway_names(len(gateways)), strict=True):
        entry.update(name=name, email=email(instance))
    values["cluster"] = {"dsn": dsn, "instance_id": instance, "lease_seconds": lease}
    values["mqtt"]["client_id"] = "pw2mqtt-fleet"
    return values


def start(instance: str, values: dict[str, Any], workdir: Path) -> Running:
    config = workdir / f"{instance}.yaml"
    config.write_text(json.dumps(values))  # JSON is YAML
    argv = [sys.executable, "-m", "pw2mqtt", "run", "--config", str(config)]
    return spawn(argv, clean_env(), workdir / f"{instance}.log")


async def owners(dsn: str) -> dict[str, str | None]:
    """Who holds each lease now, as the database says (nothing before the first instance ran)."""
    async with await psycopg.AsyncConnection.connect(dsn) as db:
        try:
            cursor = await db.execute(
                "SELECT gateway, owner FROM pw2mqtt_lease WHERE expires_at > clock_timestamp()"
            )
        except psycopg.errors.UndefinedTable:
            return {}
        rows: list[tuple[str, str | None]] = await cursor.fetchall()
        return dict(rows)


def last_availability(observer: Observer) -> dict[str, tuple[float, str]]:
    found: dict[str, tuple[float, str]] = {}
    for seen in observer.seen:
        found[seen.topic.split("/")[1]] = (seen.at, seen.payload.decode(errors="replace"))
    return found


async def wait(condition: Any, within: float, running: dict[str, Running], what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await condition():
            return
        for name, bridge in running.items():
            if name != VICTIM and not bridge.alive():
                raise BenchError(f"instance {name} exited:\n{bridge.log_tail()}")
        await asyncio.sleep(0.5)
    tails = "\n".join(f"{n}: {b.log_tail(5)}" for n, b in running.items())
    raise BenchError(f"{what}: not within {within:.0f} s\n{tails}")


async def takeover(count: int, lease: float, workdir: Path) -> dict[str, Any]:
    names = gateway_names(count)
    everyone = assign(dict.fromkeys(INSTANCES, frozenset(names)), names)
    survivors = {i for i in INSTANCES if i != VICTIM}
    moved = [n for n in names if everyone[n] == VICTIM]
    simulated = SimulatedGateways(
        count, profile="21.44", latency=0.03, jitter=0.05, hosts=default_hosts(count)
    )
    with TempPostgres() as postgres, Mosquitto(workdir / "broker") as broker:
        async with (
            simulated as sims,
            Observer(broker.port, ("pw2mqtt/+/availability",)).running() as observer,
        ):
            running: dict[str, Running] = {}
            try:
                for instance in INSTANCES:
                    values = instance_config(
                        instance, sims.gateways, broker.port, workdir, dsn=postgres.dsn, lease=lease
                    )
                    running[instance] = start(instance, values, workdir)

                async def settled() -> bool:
                    if await owners(postgres.dsn) != everyone:
                        return False
                    shown = last_availability(observer)
                    return all(shown.get(n, (0, ""))[1] == "online" for n in names)

                spawned = time.monotonic()
                await wait(settled, 60 + count * 0.2, running, "every gateway with its owner")
                settled_s = time.monotonic() - spawned
                await asyncio.sleep(FAST_POLL)  # steady state: the newest owners have polled
                running[VICTIM].process.kill()
                running[VICTIM].process.wait()
                killed = time.monotonic()

                def back() -> dict[str, float]:
                    first: dict[str, float] = {}
                    for seen in observer.seen:
                        name = seen.topic.split("/")[1]
                        if seen.at > killed and seen.payload == b"online" and name in moved:
                            first.setdefault(name, seen.at - killed)
                    return first

                async def all_back() -> bool:
                    return len(back()) == len(moved)

                await wait(all_back, 4 * lease + 30, running, "every moved gateway online again")
                delays = sorted(back().values())
                logs = await asyncio.gather(*(sims.calls(g) for g in sims.gateways))
            finally:
                for bridge in running.values():
                    bridge.stop()
    clocks = [killed + g.clock for g in sims.gateways]  # the kill on each host's simulated clock
    return {
        "gateways": count,
        "instances": len(INSTANCES),
        "lease_seconds": lease,
        "settled_s": round(settled_s, 1),
        "gateways_moved": len(moved),
        "takeover_median_s": round(statistics.median(delays), 2),
        "takeover_max_s": round(max(delays), 2),
        **audit(logs, clocks, survivors),
    }


def audit(logs: list[list[Call]], kills: list[float], survivors: set[str]) -> dict[str, int]:
    """From the gateways' call logs: interleaved turns before the kill, and any request of the
    killed instance after it (a survivor may use a gateway after the kill; the victim may not)."""
    interleaved = victim_after = 0
    alive = {email(i) for i in survivors}
    for calls, kill in zip(logs, kills, strict=True):
        uses = [Use(c.session, c.login) for c in calls]
        whose = logins(uses)
        before = turns([Use(c.session) for c in calls if c.time < kill], whose)
        after = turns([Use(c.session) for c in calls if c.time >= kill], whose)
        interleaved += len(before) != len(set(before)) or len(after) > 1
        victim_after += any(user not in alive for user in after)
    return {"gateways_used_by_two_at_once": interleaved, "gateways_used_by_the_dead": victim_after}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet_takeover", description=__doc__)
    parser.add_argument("--gateways", type=int, default=300)
    parser.add_argument("--lease", type=float, default=15.0, help="lease seconds (default 15)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pw2mqtt-takeover-") as workdir:
        figures = asyncio.run(takeover(args.gateways, args.lease, Path(workdir)))
    sys.stdout.write(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
