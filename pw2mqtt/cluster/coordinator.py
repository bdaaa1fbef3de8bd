"""One instance's share of a fleet, held as leases in PostgreSQL.

Every `lease / 3` seconds the coordinator, in one round of statements: renews its membership,
renews the leases it holds, reads the live members, hands over what rendezvous hashing now
prefers for another member (calling `on_change(key, None)` before the release is sent) and
takes the free leases preferred for itself (each with the next epoch).

Safety does not depend on the database noticing anything: a lease runs out on the database's
clock `lease` seconds after the renewal was *executed*, and the instance stops owning on its own
monotonic clock `lease - lease / 10` seconds after it *sent* that renewal, so it has stopped
before anyone else can take the gateway, whether the database, the network or the instance
itself is what failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterable
from typing import Literal

import psycopg
from psycopg.conninfo import conninfo_to_dict

from pw2mqtt.backoff import Backoff
from pw2mqtt.cluster.leases import LeaseTable
from pw2mqtt.cluster.ownership import ClusterError, OwnershipListener, Solo, default_instance_id
from pw2mqtt.cluster.rendezvous import assign

_LOGGER = logging.getLogger(__name__)
_FAILURES = (psycopg.Error, OSError, TimeoutError)
# A statement that cannot finish within a round is abandoned on the server too; and an epoch
# must survive a crash of the server, whatever the database's own default is.
_SESSION = (
    "SELECT set_config('statement_timeout', %s, false),"
    " set_config('synchronous_commit', 'on', false)"
)


class _NameTakenError(Exception):
    pass


def describe_dsn(dsn: str) -> str:
    """Where the database is, for log lines and errors: never the password."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.Error:
        return "PostgreSQL (cluster.dsn cannot be parsed)"
    host = parts.get("host") or "the local socket"
    return f"PostgreSQL at {host}:{parts.get('port') or 5432}"


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


class Coordinator:
    """Owns the gateways (by key) that this instance holds a lease on; see the module docstring."""

    def __init__(
        self,
        dsn: str,
        keys: Iterable[str],
        *,
        instance_id: str | None = None,
        lease_seconds: float = 15.0,
        on_change: OwnershipListener | None = None,
        on_database_down: Literal["stop", "standalone"] = "stop",
    ) -> None:
        self.instance_id = instance_id or default_instance_id()
        self.lease = lease_seconds
        self._dsn = dsn
        self._keys = frozenset(keys)
        self._margin = lease_seconds / 10
        self._interval = lease_seconds / 3
        self._on_change = on_change
        self._on_database_down = on_database_down
        self._token = uuid.uuid4()
        self._held: dict[str, int] = {}
        self._valid_until = 0.0
        self._speaks_until = 0.0  # while the first-named live member, as of the last round
        self._expiry: asyncio.TimerHandle | None = None
        self._generation = 0  # bumped when everything is lost: late answers are then ignored
        self._table: LeaseTable | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._backoff = Backoff(base=min(1.0, self._interval), maximum=self._interval)
        self._solo: Solo | None = None
        self._outage: str | None = None
        self._name_taken_since: float | None = None
        self._started = asyncio.Event()

    def owns(self, key: str) -> int | None:
        if self._solo is not None:
            return self._solo.owns(key)
        epoch = self._held.get(key)
        return epoch if epoch is not None and time.monotonic() < self._valid_until else None

    def owned(self) -> dict[str, int]:
        """Every key owned right now, with its epoch."""
        return {key: epoch for key in self._keys if (epoch := self.owns(key)) is not None}

    async def check_fence(self, key: str, epoch: int) -> bool:
        if self._solo is not None:
            return await self._solo.check_fence(key, epoch)
        table = self._table
        if self.owns(key) != epoch or table is None:
            return False
        try:
            async with asyncio.timeout_at(self._valid_until):
                current = await table.fence(key)
        except _FAILURES as err:
            _LOGGER.warning("cluster: cannot confirm the lease on %s (%s)", key, _reason(err))
            return False
        return current == epoch and self.owns(key) == epoch

    def speaks_for_fleet(self) -> bool:
        """The live member with the first name speaks, until its membership could have lapsed."""
        if self._solo is not None:
            return self._solo.speaks_for_fleet()
        return time.monotonic() < self._speaks_until

    async def wait_started(self) -> None:
        await self._started.wait()

    async def run(self) -> None:
        try:
            if not await self._start():
                self._solo = Solo(self._keys, self._on_change)
                self._started.set()
                await self._solo.run()
                return
            self._started.set()
            while True:
                healthy = await self._tick_guarded()
                await asyncio.sleep(self._interval if healthy else self._backoff.fail())
        finally:
            self._lose_all("this instance is stopping")
            await self._leave()

    async def _start(self) -> bool:
        """Connect once; False: run alone, as `on_database_down: standalone` allows."""
        try:
            await self._connect()
        except _FAILURES as err:
            where = describe_dsn(self._dsn)
            if self._on_database_down == "standalone":
                _LOGGER.warning(
                    "cluster: cannot reach %s (%s): running alone and owning every gateway, "
                    "as cluster.on_database_down: standalone allows",
                    where,
                    _reason(err),
                )
                return False
            raise ClusterError(
                f"cannot reach {where}: {_reason(err)} "
                "(cluster.on_database_down: standalone would run alone instead)"
            ) from None
        _LOGGER.info("cluster: %s joined %s", self.instance_id, describe_dsn(self._dsn))
        return True

    async def _connect(self) -> LeaseTable:
        timeout = max(2.0, self._interval)
        async with asyncio.timeout(timeout):
            conn = await psycopg.AsyncConnection.connect(
                self._dsn,
                autocommit=True,
                connect_timeout=max(2, round(timeout)),
                application_name=f"pw2mqtt {self.instance_id}",
            )
        try:
            async with asyncio.timeout(timeout):
                await conn.execute(_SESSION, (str(round(self._interval * 1000)),))
                table = LeaseTable(conn, self.instance_id, self._token, self.lease)
                await table.create_schema()
        except BaseException:
            await conn.close()
            raise
        self._table = table
        return table

    async def _tick_guarded(self) -> bool:
        """One round; False (and the connection dropped) when the database failed it."""
        try:
            task = asyncio.create_task(self._tick(self._table or await self._connect()))
            self._tick_task = task
            try:
                done, _ = await asyncio.wait({task}, timeout=self._interval)
            finally:
                self._tick_task = None
                if not task.done():
                    task.cancel()
                    await asyncio.wait({task}, timeout=1.0)
            if not done or task.cancelled():
                raise TimeoutError(f"no answer within {self._interval:.1f} s")
            task.result()
        except _NameTakenError:
            return self._name_taken()
        except _FAILURES as err:
            self._report_outage(err)
            await self._disconnect()
            return False
        self._name_taken_since = None
        if self._outage is not None:
            _LOGGER.info("cluster: %s is reachable again", describe_dsn(self._dsn))
            self._outage = None
        self._backoff.reset()
        return True

    async def _tick(self, table: LeaseTable) -> None:
        generation, started = self._generation, asyncio.get_running_loop().time()
        valid_until = started + self.lease - self._margin
        if not await table.heartbeat(sorted(self._keys)):
            raise _NameTakenError
        renewed = await table.renew(list(self._held))
        members = await table.members()
        if not self._current(generation, valid_until):
            return
        first = min(members, default=None) == self.instance_id
        self._speaks_until = valid_until if first else 0.0
        lost = [key for key, epoch in self._held.items() if renewed.get(key) != epoch]
        self._lose(lost, "its lease is no longer this instance's")
        if self._held:
            self._extend(valid_until)
        plan = assign(members, self._keys)
        if give := [key for key in self._held if plan.get(key) != self.instance_id]:
            self._lose(give, "handed over to the member rendezvous hashing prefers")
            await table.release(give)
        want = [k for k in self._keys if plan.get(k) == self.instance_id and k not in self._held]
        gained = await table.acquire(want)
        if gained and self._current(generation, valid_until):
            self._extend(valid_until)
            for key, epoch in sorted(gained.items()):
                self._held[key] = epoch
                self._notify(key, epoch)

    def _current(self, generation: int, valid_until: float) -> bool:
        return generation == self._generation and time.monotonic() < valid_until

    def _extend(self, valid_until: float) -> None:
        self._valid_until = valid_until
        if self._expiry is not None:
            self._expiry.cancel()
        self._expiry = asyncio.get_running_loop().call_at(valid_until, self._expire)

    def _expire(self) -> None:
        self._expiry = None
        if self._held and time.monotonic() >= self._valid_until:
            self._lose_all(f"no lease renewal within {self.lease - self._margin:.1f} s")
            if self._tick_task is not None:
                self._tick_task.cancel()

    def _lose_all(self, reason: str) -> None:
        self._generation += 1
        self._speaks_until = 0.0
        if self._held:
            _LOGGER.warning("cluster: every gateway of %s let go: %s", self.instance_id, reason)
        self._lose(list(self._held), reason)

    def _lose(self, keys: list[str], reason: str) -> None:
        for key in sorted(keys):
            if self._held.pop(key, None) is not None:
                _LOGGER.debug("cluster: %s no longer owned: %s", key, reason)
                self._notify(key, None)
        if not self._held and self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    def _notify(self, key: str, epoch: int | None) -> None:
        if self._on_change is not None:
            self._on_change(key, epoch)

    def _name_taken(self) -> bool:
        now = time.monotonic()
        self._name_taken_since = self._name_taken_since or now
        if now - self._name_taken_since > self.lease + self._interval:
            raise ClusterError(
                f"cluster.instance_id {self.instance_id!r} is in use by another running instance"
            )
        return False

    def _report_outage(self, err: BaseException) -> None:
        level = logging.DEBUG if self._outage is not None else logging.WARNING
        self._outage = _reason(err)
        left = max(0.0, self._valid_until - time.monotonic()) if self._held else 0.0
        _LOGGER.log(
            level,
            "cluster: %s failed (%s); gateways held stay owned for %.1f s more at most",
            describe_dsn(self._dsn),
            self._outage,
            left,
        )

    async def _disconnect(self) -> None:
        table, self._table = self._table, None
        if table is not None:
            with contextlib.suppress(*_FAILURES):
                await table.connection.close()

    async def _leave(self) -> None:
        """Give every lease back at once, so that the others need not wait for it to run out."""
        if self._table is not None:
            with contextlib.suppress(*_FAILURES):
                async with asyncio.timeout(2.0):
                    await self._table.leave()
        await self._disconnect()
