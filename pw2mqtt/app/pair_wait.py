"""Waiting for the owner's power toggle: the instructions, a live countdown, and the outcome."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final, TextIO

from pw2mqtt.gateway.tedapi.answers import ClientState

PLAIN_EVERY: Final = 15.0  # seconds between progress lines when stdout is not a terminal
TOGGLE_STEPS: Final = (
    "Now confirm the pairing at the Powerwall itself, within the time shown below:",
    "  Powerwall 2: switch its AC disconnect (or the Powerwall's breaker in the panel) OFF, "
    "then ON again.",
    "  Powerwall 3: switch its On/Off switch OFF, wait about 15 seconds, then switch it ON.",
    "The home stays powered by the grid meanwhile. Only one Powerwall needs the toggle.",
)


class Progress:
    """One updating line on a terminal; elsewhere a line every `every` seconds."""

    def __init__(
        self,
        stream: TextIO,
        *,
        tty: bool | None = None,
        every: float = PLAIN_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._tty = stream.isatty() if tty is None else tty
        self._every = every
        self._clock = clock
        self._last_plain: float | None = None
        self._open_line = False

    def show(self, text: str) -> None:
        if self._tty:
            self._stream.write("\r" + text.ljust(78))
            self._open_line = True
        else:
            now = self._clock()
            if self._last_plain is not None and now - self._last_plain < self._every:
                return
            self._last_plain = now
            self._stream.write(text + "\n")
        self._stream.flush()

    def say(self, text: str) -> None:
        """A line of its own, which the progress line does not overwrite."""
        self.end()
        self._stream.write(text + "\n")
        self._stream.flush()

    def end(self) -> None:
        if self._open_line:
            self._stream.write("\n")
            self._open_line = False


def countdown(seconds: float) -> str:
    whole = max(0, int(seconds + 0.999))
    return f"{whole // 60}:{whole % 60:02d}"


async def wait_for_toggle(
    poll: Callable[[], Awaitable[ClientState | None]],
    *,
    deadline: float,
    poll_every: float,
    progress: Progress,
    clock: Callable[[], float] = time.monotonic,
) -> ClientState:
    """Poll until the key is no longer pending; TIMED_OUT once `deadline` passes."""
    state: ClientState | None = ClientState.PENDING
    next_poll = clock()
    while True:
        now = clock()
        if now >= next_poll:
            state = await poll()
            next_poll = clock() + poll_every
            if state not in (ClientState.PENDING, None):
                progress.end()
                return state
        left = deadline - clock()
        if left <= 0:
            progress.end()
            return ClientState.TIMED_OUT
        shown = "waiting for Tesla to list the key" if state is None else "pending"
        progress.show(f"Waiting for the power toggle: {countdown(left)} left ({shown})")
        await asyncio.sleep(max(0.0, min(1.0, next_poll - clock(), left)))
