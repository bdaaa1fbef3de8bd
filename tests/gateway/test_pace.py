"""The login pacer: turns at most `rate` a second, also after the event loop was busy."""

from __future__ import annotations

import asyncio
import itertools
import time

from pw2mqtt.gateway.pace import Pacer


async def test_turns_are_spaced() -> None:
    pacer = Pacer(100.0)
    taken: list[float] = []

    async def take() -> None:
        await pacer.turn()
        taken.append(time.monotonic())

    await asyncio.gather(*(take() for _ in range(20)))
    gaps = [b - a for a, b in itertools.pairwise(taken)]
    assert len(taken) == 20
    assert min(gaps) >= 0.0099
    assert taken[-1] - taken[0] >= 0.19


async def test_a_busy_loop_does_not_release_the_waiters_together() -> None:
    pacer = Pacer(50.0)
    taken: list[float] = []

    async def take() -> None:
        await pacer.turn()
        taken.append(time.monotonic())

    tasks = [asyncio.create_task(take()) for _ in range(10)]
    await asyncio.sleep(0)
    time.sleep(0.3)  # the loop is blocked while every turn falls due  # noqa: ASYNC251
    await asyncio.gather(*tasks)
    gaps = [b - a for a, b in itertools.pairwise(taken)]
    assert min(gaps) >= 0.0199
