"""The countdown while waiting for the power toggle: pure parts with a fake clock."""

from __future__ import annotations

import io

from pw2mqtt.app.pair_wait import Progress, countdown, wait_for_toggle
from pw2mqtt.gateway.tedapi.answers import ClientState


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_gets_one_updating_line() -> None:
    stream = io.StringIO()
    progress = Progress(stream, tty=True)
    progress.show("Waiting: 9:59 left")
    progress.show("Waiting: 9:58 left")
    progress.say("Tesla asked to slow down")
    progress.show("Waiting: 9:50 left")
    progress.end()
    text = stream.getvalue()
    assert text.count("\r") == 3
    assert text.count("\n") == 3  # the progress line closed, the message, the end
    assert "9:58 left" in text.split("\n")[0]
    assert text.split("\n")[1] == "Tesla asked to slow down"


def test_elsewhere_a_line_every_15_seconds() -> None:
    stream = io.StringIO()
    clock = Clock()
    progress = Progress(stream, tty=False, clock=clock)
    for second in range(40):
        clock.now = float(second)
        progress.show(f"left {600 - second}")
    assert stream.getvalue().splitlines() == ["left 600", "left 585", "left 570"]
    assert "\r" not in stream.getvalue()


def test_countdown_rounds_up() -> None:
    assert countdown(600) == "10:00"
    assert countdown(59.2) == "1:00"
    assert countdown(0) == "0:00"
    assert countdown(-3) == "0:00"


async def test_wait_ends_on_the_first_state_that_is_not_pending() -> None:
    answers = iter([ClientState.PENDING, None, ClientState.VERIFIED])
    polls: list[int] = []

    async def poll() -> ClientState | None:
        polls.append(1)
        return next(answers)

    stream = io.StringIO()
    state = await wait_for_toggle(
        poll, deadline=1e12, poll_every=0.0, progress=Progress(stream, tty=False, every=0)
    )
    assert state is ClientState.VERIFIED
    assert len(polls) == 3
    assert "waiting for Tesla to list the key" in stream.getvalue()


async def test_wait_times_out_at_the_deadline() -> None:
    clock = Clock()

    async def poll() -> ClientState | None:
        clock.now += 100.0
        return ClientState.PENDING

    state = await wait_for_toggle(
        poll,
        deadline=250.0,
        poll_every=0.0,
        progress=Progress(io.StringIO(), tty=False),
        clock=clock,
    )
    assert state is ClientState.TIMED_OUT
    assert clock.now == 300.0
