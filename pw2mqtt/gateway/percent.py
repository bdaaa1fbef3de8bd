"""Conversions between the gateway's raw percentages and the Tesla app's percentages.

The gateway reports state of energy and backup reserve on a raw scale whose bottom 5 % is a hidden
buffer; the app shows `app = (raw - 5) / 0.95`. Both scales run up to 100.
"""

from __future__ import annotations

import math

_BUFFER = 5.0
_SCALE = 0.95


def app_from_raw(raw: float) -> float:
    """`(raw - 5) / 0.95`, clipped to [0, 100]."""
    if math.isnan(raw):
        raise ValueError("raw percentage is NaN")
    return min(100.0, max(0.0, (raw - _BUFFER) / _SCALE))


def raw_from_app(app: float) -> float:
    """`app * 0.95 + 5`; `app` must lie within [0, 100]."""
    if not 0.0 <= app <= 100.0:
        raise ValueError(f"app percentage must be within 0..100, got {app}")
    return app * _SCALE + _BUFFER
