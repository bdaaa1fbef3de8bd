"""Small statistics helpers for the report."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `pct`% of values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or theirs == 0:
        return None
    return ours / theirs


def cycle_gaps(times: Sequence[float], interval: float) -> tuple[int, int, list[float]]:
    """(late, missed, gaps) for poll start times that should be `interval` apart.

    A gap over 1.2 intervals is late; each further whole interval a gap holds, within a tenth of
    one, is a missed cycle (at 5 s: a gap of 9.6 s is one miss, 7.6 s is only late).
    """
    ordered = sorted(times)
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    late = sum(1 for g in gaps if g > 1.2 * interval)
    missed = sum(max(0, int(g / interval + 0.1) - 1) for g in gaps)
    return late, missed, gaps
