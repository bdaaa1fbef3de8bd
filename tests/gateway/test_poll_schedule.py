"""The poll schedule keeps its cadence however late a poll starts."""

from __future__ import annotations

import pytest

from pw2mqtt.gateway.poller import next_due


def test_a_late_start_does_not_shift_the_grid() -> None:
    assert next_due(100.0, 5.0, 100.3) == pytest.approx(105.0)


def test_first_poll_and_forced_refresh_start_a_new_grid() -> None:
    assert next_due(0.0, 5.0, 42.0) == pytest.approx(47.0)


def test_a_whole_missed_interval_restarts_from_now() -> None:
    assert next_due(100.0, 5.0, 106.0) == pytest.approx(111.0)


def test_many_late_starts_keep_the_average_interval() -> None:
    due, starts = 0.0, []
    now = 10.0
    for n in range(100):
        start = now + (0.3 if n % 2 else 0.05)  # the loop wakes a little late, by varying amounts
        starts.append(start)
        due = next_due(due, 5.0, start)
        now = due
    span = starts[-1] - starts[0]
    assert span / (len(starts) - 1) == pytest.approx(5.0, abs=0.01)
