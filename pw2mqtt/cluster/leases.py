"""The two tables instances share, and every statement the coordinator sends.

All times are the database's (`clock_timestamp()`), so the instances' clocks never matter; each
instance keeps its own deadlines on its monotonic clock (see `Coordinator`). Key lists are sorted
so that two instances lock rows in the same order and never deadlock each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

Connection = AsyncConnection[TupleRow]

SCHEMA_LOCK = 0x70_77_32_6D  # pg_advisory_xact_lock key: one instance creates the tables at a time
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS pw2mqtt_member (
        instance text PRIMARY KEY,
        token uuid NOT NULL,
        keys text[] NOT NULL,
        expires_at timestamptz NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS pw2mqtt_lease (
        gateway text PRIMARY KEY,
        owner text,
        token uuid,
        epoch bigint NOT NULL,
        expires_at timestamptz NOT NULL)""",
)

_HEARTBEAT = """
INSERT INTO pw2mqtt_member AS m (instance, token, keys, expires_at)
VALUES (%(instance)s, %(token)s, %(keys)s, clock_timestamp() + make_interval(secs => %(lease)s))
ON CONFLICT (instance) DO UPDATE
    SET token = excluded.token, keys = excluded.keys, expires_at = excluded.expires_at
    WHERE m.token = excluded.token OR m.expires_at <= clock_timestamp()
RETURNING instance"""

_MEMBERS = "SELECT instance, keys FROM pw2mqtt_member WHERE expires_at > clock_timestamp()"

_RENEW = """
UPDATE pw2mqtt_lease SET expires_at = clock_timestamp() + make_interval(secs => %(lease)s)
WHERE token = %(token)s AND gateway = ANY(%(keys)s) AND expires_at > clock_timestamp()
RETURNING gateway, epoch"""

_RELEASE = """
UPDATE pw2mqtt_lease SET owner = NULL, token = NULL, expires_at = clock_timestamp()
WHERE token = %(token)s AND gateway = ANY(%(keys)s)"""

# A free, expired or (after a reconnection) our own row is taken with the next epoch; a row
# another instance holds is left alone: ON CONFLICT re-checks WHERE on the newest row version.
_ACQUIRE = """
INSERT INTO pw2mqtt_lease AS l (gateway, owner, token, epoch, expires_at)
SELECT key, %(instance)s, %(token)s, 1, clock_timestamp() + make_interval(secs => %(lease)s)
FROM unnest(%(keys)s::text[]) WITH ORDINALITY AS k(key, n) ORDER BY n
ON CONFLICT (gateway) DO UPDATE
    SET owner = excluded.owner, token = excluded.token, epoch = l.epoch + 1,
        expires_at = excluded.expires_at
    WHERE l.token IS NULL OR l.expires_at <= clock_timestamp() OR l.token = excluded.token
RETURNING gateway, epoch"""

_FENCE = """
SELECT epoch FROM pw2mqtt_lease
WHERE gateway = %(key)s AND token = %(token)s AND expires_at > clock_timestamp()"""

_RELEASE_ALL = """
UPDATE pw2mqtt_lease SET owner = NULL, token = NULL, expires_at = clock_timestamp()
WHERE token = %(token)s"""

_LEAVE = "DELETE FROM pw2mqtt_member WHERE instance = %(instance)s AND token = %(token)s"


class LeaseTable:
    """The statements of one instance (`instance`, with a fresh `token` per run) on `conn`."""

    def __init__(self, conn: Connection, instance: str, token: uuid.UUID, lease: float) -> None:
        self._conn = conn
        self._base = {"instance": instance, "token": token, "lease": lease}

    @property
    def connection(self) -> Connection:
        return self._conn

    async def create_schema(self) -> None:
        async with self._conn.transaction():
            await self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            for statement in SCHEMA:
                await self._conn.execute(statement)

    async def heartbeat(self, keys: Sequence[str]) -> bool:
        """Renew this instance's membership; False if a live instance already uses its name."""
        cursor = await self._conn.execute(_HEARTBEAT, {**self._base, "keys": sorted(keys)})
        return await cursor.fetchone() is not None

    async def members(self) -> dict[str, frozenset[str]]:
        cursor = await self._conn.execute(_MEMBERS)
        return {str(name): frozenset(keys) for name, keys in await cursor.fetchall()}

    async def renew(self, keys: Sequence[str]) -> dict[str, int]:
        return await self._rows(_RENEW, keys)

    async def acquire(self, keys: Sequence[str]) -> dict[str, int]:
        return await self._rows(_ACQUIRE, keys)

    async def release(self, keys: Sequence[str]) -> None:
        await self._conn.execute(_RELEASE, {**self._base, "keys": sorted(keys)})

    async def fence(self, key: str) -> int | None:
        cursor = await self._conn.execute(_FENCE, {**self._base, "key": key})
        row = await cursor.fetchone()
        return None if row is None else int(row[0])

    async def leave(self) -> None:
        """Give back every lease and the membership at once, so others need not wait."""
        await self._conn.execute(_RELEASE_ALL, self._base)
        await self._conn.execute(_LEAVE, self._base)

    async def _rows(self, statement: str, keys: Sequence[str]) -> dict[str, int]:
        if not keys:
            return {}
        cursor = await self._conn.execute(statement, {**self._base, "keys": sorted(keys)})
        return {str(key): int(epoch) for key, epoch in await cursor.fetchall()}
