"""`python -m bench.cluster`: how long a fleet takes to recover from the loss of one instance.

Three instances (`python -m pw2mqtt.cluster.probe` processes) share 300 gateway keys on a private
PostgreSQL; once each key is where rendezvous hashing puts it, one instance is SIGKILLed. The
figures: seconds until each of its keys is owned again (median, max over every key of every
round), and the moments at which a key had two owners (must be 0), from the instances' own
reports of every gain and loss on one monotonic clock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.ownership import Event, Tenure, double_owned, epochs_not_increasing, takeovers, tenures
from bench.postgres import TempPostgres
from pw2mqtt.cluster.rendezvous import assign


class ProbeFleet:
    """Probe processes sharing `keys` gateway keys; every ownership change they print."""

    def __init__(self, dsn: str, keys: int, lease: float) -> None:
        self._dsn, self._keys, self._lease = dsn, keys, lease
        self.events: list[Event] = []
        self.ends: dict[str, float] = {}
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._readers: list[asyncio.Task[None]] = []

    @property
    def key_names(self) -> list[str]:
        return [f"gw-{i:03d}" for i in range(self._keys)]

    async def start(self, name: str) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pw2mqtt.cluster.probe",
            *("--instance", name, "--keys", str(self._keys), "--lease", str(self._lease)),
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PW2MQTT_CLUSTER__DSN": self._dsn},
        )
        self._processes[name] = process
        self._readers.append(asyncio.create_task(self._read(process)))

    def kill(self, name: str) -> float:
        """SIGKILL `name`; from that moment on it owns nothing."""
        self._processes.pop(name).kill()
        self.ends[name] = time.monotonic()
        return self.ends[name]

    async def close(self) -> None:
        for process in self._processes.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT)
        for process in self._processes.values():
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
        self._processes.clear()
        await asyncio.gather(*self._readers, return_exceptions=True)

    def tenures(self) -> list[Tenure]:
        return tenures(self.events, self.ends)

    def owners(self) -> dict[str, list[str]]:
        now = time.monotonic()
        found: dict[str, list[str]] = {key: [] for key in self.key_names}
        for tenure in self.tenures():
            if tenure.start <= now < tenure.end:
                found[tenure.key].append(tenure.instance)
        return found

    async def until(self, condition: Callable[[], bool], within: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < within:
            if condition():
                return time.monotonic() - started
            await asyncio.sleep(0.05)
        raise TimeoutError(f"not within {within} s")

    def converged(self, among: set[str]) -> bool:
        wanted = assign(dict.fromkeys(among, frozenset(self.key_names)), self.key_names)
        return self.owners() == {key: [name] for key, name in wanted.items()}

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            item = json.loads(line)
            self.events.append(Event(item["at"], item["instance"], item["key"], item["epoch"]))


@dataclass
class Round:
    delays: list[float]
    two_owners: int
    epochs_not_increasing: int


async def takeover_round(dsn: str, number: int, keys: int, lease: float) -> Round:
    """Three instances converge, one of them is SIGKILLed, the other two take its keys."""
    names = {f"r{number}-{letter}" for letter in "abc"}
    victim = f"r{number}-b"
    fleet = ProbeFleet(dsn, keys, lease)
    try:
        for name in sorted(names):
            await fleet.start(name)
        await fleet.until(lambda: fleet.converged(names), 6 * lease)
        killed = fleet.kill(victim)
        await fleet.until(lambda: fleet.converged(names - {victim}), 4 * lease)
        held = fleet.tenures()
        return Round(
            delays=sorted(takeovers(held, victim, killed).values()),
            two_owners=len(double_owned(held)),
            epochs_not_increasing=len(epochs_not_increasing(held)),
        )
    finally:
        await fleet.close()


async def measure(rounds: int, keys: int, lease: float) -> dict[str, float | int]:
    with TempPostgres() as postgres:
        results = [await takeover_round(postgres.dsn, n, keys, lease) for n in range(rounds)]
    delays = [delay for result in results for delay in result.delays]
    return {
        "rounds": rounds,
        "keys": keys,
        "lease_seconds": lease,
        "keys_moved": len(delays),
        "takeover_median_s": round(statistics.median(delays), 2),
        "takeover_max_s": round(max(delays), 2),
        "two_owner_moments": sum(r.two_owners for r in results),
        "epochs_not_increasing": sum(r.epochs_not_increasing for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keys", type=int, default=300)
    parser.add_argument("--lease", type=float, default=15.0, help="lease seconds (default 15)")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.rounds, args.keys, args.lease))
    sys.stdout.write(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
