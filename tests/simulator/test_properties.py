"""Random command sequences never break the site's invariants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pw2mqtt.simulator import GatewaySimulator

from .conftest import MIDNIGHT, options

actions = st.one_of(
    st.tuples(st.just("advance"), st.floats(0, 7200)),
    st.tuples(st.just("solar"), st.none() | st.floats(0, 15_000)),
    st.tuples(st.just("load"), st.none() | st.floats(0, 15_000)),
    st.tuples(st.just("soe"), st.floats(0, 100)),
    st.tuples(st.just("mode"), st.sampled_from(["self_consumption", "autonomous", "backup"])),
    st.tuples(st.just("reserve"), st.floats(0, 100)),
    st.tuples(st.just("outage"), st.booleans()),
    st.tuples(st.just("island"), st.booleans()),
    st.tuples(st.just("sitemaster"), st.booleans()),
)


def apply(sim: GatewaySimulator, name: str, value: Any) -> None:
    commands: dict[str, Callable[[], None]] = {
        "advance": lambda: sim.advance(value),
        "solar": lambda: sim.set_solar(value),
        "load": lambda: sim.set_load(value),
        "soe": lambda: sim.set_soe(value),
        "mode": lambda: sim.set_operation(value),
        "reserve": lambda: sim.set_operation(reserve=value),
        "outage": lambda: sim.start_outage() if value else sim.end_outage(),
        "island": lambda: sim.core.site.request_island(sim.now(), off_grid=value),
        "sitemaster": lambda: sim.set_sitemaster(value),
    }
    commands[name]()


@settings(max_examples=60, deadline=None)
@given(st.lists(actions, max_size=25), st.integers(0, 1000))
def test_invariants_hold_for_any_command_sequence(steps: list[tuple[str, Any]], seed: int) -> None:
    sim = GatewaySimulator(options(start_time=MIDNIGHT, seed=seed))
    before = sim.state
    for name, value in steps:
        apply(sim, name, value)
        state = sim.state
        assert 0.0 <= state.soe <= 100.0
        assert state.load_w >= 0
        assert state.solar_w >= 0
        assert abs(state.grid_w - (state.load_w - state.solar_w - state.battery_w)) < 1e-6
        if state.grid_status in ("SystemIslandedActive", "SystemTransitionToGrid"):
            assert state.grid_w == 0
        if not state.sitemaster_running:
            assert state.battery_w == 0
        if state.mode == "backup" and state.grid_status == "SystemGridConnected":
            assert state.battery_w <= 0
        for field in (
            "site_energy_imported",
            "site_energy_exported",
            "battery_energy_imported",
            "battery_energy_exported",
            "solar_energy_exported",
            "load_energy_imported",
        ):
            assert getattr(state, field) >= getattr(before, field)
        before = state
