import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pw2mqtt.gateway.percent import app_from_raw, raw_from_app

app_values = st.floats(min_value=0, max_value=100)
raw_values = st.floats(min_value=-1e6, max_value=1e6)


@pytest.mark.parametrize(("app", "raw"), [(0, 5), (20, 24), (100, 100), (50, 52.5)])
def test_known_points(app: float, raw: float) -> None:
    assert raw_from_app(app) == pytest.approx(raw)
    assert app_from_raw(raw) == pytest.approx(app)


def test_captured_reserve_for_app_zero() -> None:
    # 5.000019999999999 is what the gateway stores when the app is set to 0 %.
    assert app_from_raw(5.000019999999999) == pytest.approx(0, abs=1e-4)


@given(app_values)
def test_round_trip(app: float) -> None:
    assert app_from_raw(raw_from_app(app)) == pytest.approx(app, abs=1e-9)


@given(raw_values, raw_values)
def test_app_from_raw_is_monotonic_and_clipped(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert app_from_raw(low) <= app_from_raw(high)
    assert 0 <= app_from_raw(a) <= 100


@given(app_values, app_values)
def test_raw_from_app_is_monotonic(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert 5 <= raw_from_app(low) <= raw_from_app(high) <= 100


@given(st.floats(max_value=5, allow_nan=False))
def test_below_the_buffer_clips_to_zero(raw: float) -> None:
    assert app_from_raw(raw) == 0


def test_above_100_clips() -> None:
    assert app_from_raw(100.4) == 100


@pytest.mark.parametrize("app", [-0.001, 100.001, math.nan, math.inf, -math.inf])
def test_raw_from_app_refuses_out_of_range(app: float) -> None:
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        raw_from_app(app)


def test_app_from_raw_refuses_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        app_from_raw(math.nan)
