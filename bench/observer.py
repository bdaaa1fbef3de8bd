"""A broker-side subscriber: counts what a bridge publishes and times when values arrive."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiomqtt

from bench.broker import HOST


@dataclass(frozen=True, slots=True)
class Seen:
    at: float  # time.monotonic() on arrival
    topic: str
    payload: bytes
    retain: bool

    @property
    def size(self) -> int:
        """Topic and payload bytes: what a PUBLISH carries besides a few bytes of header."""
        return len(self.topic.encode()) + len(self.payload)


Match = Callable[[Seen], bool]


class Observer:
    """Subscribes to everything on the broker (or to `topics`) and keeps every message with its
    arrival time."""

    def __init__(self, port: int, topics: tuple[str, ...] = ("#",)) -> None:
        self._port = port
        self._topics = topics
        self.seen: list[Seen] = []
        self._waiters: list[tuple[Match, asyncio.Future[Seen]]] = []

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Observer]:
        async with aiomqtt.Client(HOST, self._port, identifier="bench-observer") as client:
            for topic in self._topics:
                await client.subscribe(topic)
            task = asyncio.create_task(self._read(client))
            try:
                yield self
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            seen = Seen(time.monotonic(), str(message.topic), payload, message.retain)
            self.seen.append(seen)
            for waiter in list(self._waiters):
                match, future = waiter
                if not future.done() and match(seen):
                    future.set_result(seen)
                    self._waiters.remove(waiter)

    async def wait_for(self, match: Match, timeout: float) -> Seen | None:  # noqa: ASYNC109
        """The first message from now on that `match` accepts, or None after `timeout` seconds."""
        future: asyncio.Future[Seen] = asyncio.get_running_loop().create_future()
        waiter = (match, future)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def between(self, start: float, end: float) -> list[Seen]:
        return [s for s in self.seen if start <= s.at < end]
