"""A cancellation that a library swallowed still stops the task that was cancelled."""

from __future__ import annotations

import asyncio

import pytest

from pw2mqtt.mqtt.connection import honour_cancellation


async def test_a_swallowed_cancellation_is_raised_again() -> None:
    reached = asyncio.Event()

    async def publisher() -> None:
        try:
            reached.set()
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            pass  # what Python 3.11's wait_for does when the result arrives with the cancel
        honour_cancellation()
        pytest.fail("carried on after being cancelled")

    task = asyncio.create_task(publisher())
    await reached.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_nothing_happens_without_a_cancellation() -> None:
    async def publisher() -> str:
        await asyncio.sleep(0)
        honour_cancellation()
        return "published"

    assert await asyncio.create_task(publisher()) == "published"
    honour_cancellation()  # the test's own task was not cancelled either
