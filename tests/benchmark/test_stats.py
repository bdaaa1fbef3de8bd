"""The benchmark's arithmetic, on numbers worked out by hand."""

from __future__ import annotations

import os
import time

import pytest

from bench.procstat import Sampler, cpu_seconds, rss_bytes
from bench.stats import cycle_gaps, median, percentile, ratio


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1 … 20
    assert percentile(values, 95) == 19.0
    assert percentile(values, 50) == 10.0
    assert percentile(values, 100) == 20.0
    assert percentile([3.0], 95) == 3.0
    assert percentile([], 95) is None
    assert median([1.0, 5.0, 2.0]) == 2.0


def test_ratio_refuses_what_cannot_be_divided() -> None:
    assert ratio(1.0, 4.0) == pytest.approx(0.25)
    assert ratio(None, 4.0) is None
    assert ratio(1.0, 0.0) is None


def test_cycle_gaps_count_late_and_missed_cycles() -> None:
    times = [0.0, 5.0, 10.1, 16.5, 24.1, 34.0, 48.6]
    late, missed, gaps = cycle_gaps(times, 5.0)
    assert gaps == pytest.approx([5.0, 5.1, 6.4, 7.6, 9.9, 14.6])
    assert late == 4  # 6.4, 7.6, 9.9 and 14.6 are over 6 s
    assert missed == 3  # 7.6 s is only late; 9.9 s is one cycle missed, 14.6 s two


def test_sampler_reads_this_process() -> None:
    sampler = Sampler(os.getpid())
    sampler.begin()
    busy_until = time.process_time() + 0.2
    while time.process_time() < busy_until:
        pass
    usage = sampler.end()
    assert usage.cpu_s >= 0.15
    now, peak = rss_bytes(os.getpid())
    assert 0 < now <= peak
    assert usage.rss_steady > 0
    assert cpu_seconds(os.getpid()) > 0
