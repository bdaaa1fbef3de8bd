"""A real PostgreSQL per test (from the system's packages, in a temporary folder, on a free
loopback port), a fleet of coordinators in the test's event loop, and a TCP proxy that can cut
the network between one of them and the database."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from bench.ownership import Event, Tenure, double_owned, epochs_not_increasing, tenures
from bench.postgres import TempPostgres
from pw2mqtt.cluster.coordinator import Coordinator
from pw2mqtt.cluster.rendezvous import assign
from tests import rigs

LEASE = 3.0
"""Short leases keep the tests quick; the coordinator's arithmetic is the same at 15 s."""


@pytest.fixture
def postgres() -> Iterator[TempPostgres]:
    if reason := rigs.missing("cluster"):
        pytest.skip(reason)
    server = TempPostgres()
    try:
        server.start()
        yield server
    finally:
        server.close()


def keys(count: int) -> list[str]:
    return [f"gw-{i:03d}" for i in range(count)]


class Fleet:
    """Coordinators of one test, every ownership change they report, and a watch that samples
    every instance's `owns()` and notes any moment at which a key had two owners."""

    def __init__(self, dsn: str, all_keys: list[str], lease: float = LEASE) -> None:
        self.dsn = dsn
        self.keys = all_keys
        self.lease = lease
        self.events: list[Event] = []
        self.members: dict[str, Coordinator] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.two_owners: list[tuple[float, str, list[str]]] = []
        self._watch: asyncio.Task[None] | None = None

    def start(self, name: str, *, dsn: str | None = None, **options: object) -> Coordinator:
        def record(key: str, epoch: int | None) -> None:
            self.events.append(Event(time.monotonic(), name, key, epoch))

        member = Coordinator(
            dsn or self.dsn,
            self.keys,
            instance_id=name,
            lease_seconds=self.lease,
            on_change=record,
            **options,  # type: ignore[arg-type]
        )
        self.members[name] = member
        self.tasks[name] = asyncio.create_task(member.run(), name=name)
        if self._watch is None:
            self._watch = asyncio.create_task(self._sample())
        return member

    async def stop(self, name: str) -> None:
        task = self.tasks.pop(name)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def close(self) -> None:
        for name in list(self.tasks):
            await self.stop(name)
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch

    def owners(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {key: [] for key in self.keys}
        for name, member in self.members.items():
            for key in member.owned():
                found[key].append(name)
        return found

    def share(self) -> dict[str, int]:
        return {name: len(member.owned()) for name, member in self.members.items()}

    async def settled(self, timeout: float, among: set[str] | None = None) -> float:
        """Wait until every key has one owner (one of `among`, if given); the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            owners = self.owners()
            if all(len(o) == 1 and (among is None or o[0] in among) for o in owners.values()):
                return time.monotonic() - started
            await asyncio.sleep(0.05)
        raise AssertionError(f"not settled within {timeout} s: {self.share()}")

    async def converged(self, timeout: float, among: set[str]) -> float:
        """Wait until each key is owned by the member of `among` rendezvous hashing prefers."""
        started = time.monotonic()
        wanted = assign(dict.fromkeys(among, frozenset(self.keys)), self.keys)
        while time.monotonic() - started < timeout:
            if self.owners() == {key: [name] for key, name in wanted.items()}:
                return time.monotonic() - started
            await asyncio.sleep(0.05)
        raise AssertionError(f"not converged within {timeout} s: {self.share()}")

    def tenures(self) -> list[Tenure]:
        return tenures(self.events)

    def assert_never_two_owners(self) -> None:
        assert not self.two_owners, self.two_owners[:5]
        assert not double_owned(self.tenures()), double_owned(self.tenures())[:5]
        assert not epochs_not_increasing(self.tenures())

    async def _sample(self) -> None:
        while True:
            for key, owners in self.owners().items():
                if len(owners) > 1:
                    self.two_owners.append((time.monotonic(), key, owners))
            await asyncio.sleep(0.01)


@pytest.fixture
async def fleet(postgres: TempPostgres) -> AsyncIterator[Fleet]:
    running = Fleet(postgres.dsn, keys(60))
    try:
        yield running
    finally:
        await running.close()


class Proxy:
    """Forwards 127.0.0.1:`port` to the database; `cut()` is a partition: the bytes stop flowing
    both ways and new connections hang, without any connection being closed."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._open = asyncio.Event()
        self._open.set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        self._open.clear()

    def heal(self) -> None:
        self._open.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._open.wait()
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        await asyncio.gather(
            self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True
        )
        for stream in (writer, up_writer):
            stream.close()

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(65536):
            await self._open.wait()
            sink.write(data)
            await sink.drain()
        sink.close()


@pytest.fixture
async def proxy(postgres: TempPostgres) -> AsyncIterator[Proxy]:
    running = Proxy(postgres.port)
    await running.start()
    try:
        yield running
    finally:
        running.heal()
        await running.close()
