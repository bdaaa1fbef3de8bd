"""Invariants of the simulated site over whole days, stepping the clock by hand (speed 0)."""

from __future__ import annotations

import math

from pw2mqtt.simulator import GatewaySimulator, SiteState

from .conftest import MIDNIGHT, Client, options

COUNTERS = (
    ("site", "energy_imported"),
    ("site", "energy_exported"),
    ("battery", "energy_imported"),
    ("battery", "energy_exported"),
    ("load", "energy_imported"),
    ("solar", "energy_exported"),
)


async def test_a_day_over_https_keeps_every_invariant() -> None:
    step = 300.0
    async with GatewaySimulator(
        options(start_time=MIDNIGHT, initial_soe=30.0, session_ttl=1e6)
    ) as sim:
        client = Client(sim)
        await client.login()
        previous: dict[tuple[str, str], float] | None = None
        integrated = dict.fromkeys(COUNTERS, 0.0)
        first: dict[tuple[str, str], float] = {}
        peak_solar = 0.0
        steps = int(86_400 / step)
        for index in range(steps + 1):
            agg = (await client.get("/api/meters/aggregates")).json
            soe = (await client.get("/api/system_status/soe")).json["percentage"]
            site, battery, load, solar = (
                agg[m]["instant_power"] for m in ("site", "battery", "load", "solar")
            )
            assert site == load - solar - battery
            assert load >= 0
            assert solar >= 0
            assert 0.0 <= soe <= 100.0
            peak_solar = max(peak_solar, solar)
            counters = {key: float(agg[key[0]][key[1]]) for key in COUNTERS}
            if previous is None:
                first = counters
            else:
                for key in COUNTERS:
                    assert counters[key] >= previous[key], key
            previous = counters
            if index == steps:
                break
            hours = step / 3600.0
            integrated["site", "energy_imported"] += max(site, 0) * hours
            integrated["site", "energy_exported"] += max(-site, 0) * hours
            integrated["battery", "energy_exported"] += max(battery, 0) * hours
            integrated["battery", "energy_imported"] += max(-battery, 0) * hours
            integrated["load", "energy_imported"] += load * hours
            integrated["solar", "energy_exported"] += solar * hours
            sim.advance(step)
        await client.close()
    assert previous is not None
    assert peak_solar > 3000  # the sun came up
    for key in COUNTERS:
        delta = previous[key] - first[key]
        # A 5-minute left Riemann sum of noisy powers vs the simulator's own 5-second steps.
        assert delta > 0, key
        assert abs(delta - integrated[key]) <= 0.03 * max(delta, integrated[key]) + 100, key


def test_counters_agree_exactly_with_integrated_flows() -> None:
    sim = GatewaySimulator(options(start_time=MIDNIGHT, initial_soe=30.0))
    state = sim.state
    start = state
    sums = dict.fromkeys(("imp", "exp", "chg", "dis", "load", "solar"), 0.0)
    for _ in range(int(2 * 86_400 / 5)):
        hours = 5 / 3600.0
        sums["imp"] += max(state.grid_w, 0) * hours
        sums["exp"] += max(-state.grid_w, 0) * hours
        sums["dis"] += max(state.battery_w, 0) * hours
        sums["chg"] += max(-state.battery_w, 0) * hours
        sums["load"] += state.load_w * hours
        sums["solar"] += state.solar_w * hours
        assert abs(state.grid_w - (state.load_w - state.solar_w - state.battery_w)) < 1e-6
        sim.advance(5)
        state = sim.state
        assert 0.0 <= state.soe <= 100.0
    close = {"rel_tol": 1e-9, "abs_tol": 0.01}
    assert math.isclose(
        state.site_energy_imported - start.site_energy_imported, sums["imp"], **close
    )
    assert math.isclose(
        state.site_energy_exported - start.site_energy_exported, sums["exp"], **close
    )
    assert math.isclose(
        state.battery_energy_exported - start.battery_energy_exported, sums["dis"], **close
    )
    assert math.isclose(
        state.battery_energy_imported - start.battery_energy_imported, sums["chg"], **close
    )
    assert math.isclose(
        state.load_energy_imported - start.load_energy_imported, sums["load"], **close
    )
    assert math.isclose(
        state.solar_energy_exported - start.solar_energy_exported, sums["solar"], **close
    )
    stored = (sums["chg"] - sums["dis"]) / state.full_pack_wh * 100
    assert math.isclose(state.soe - start.soe, stored, abs_tol=1e-6)


def night(sim: GatewaySimulator, hours: float, step: float = 60.0) -> list[SiteState]:
    seen = []
    for _ in range(int(hours * 3600 / step)):
        sim.advance(step)
        seen.append(sim.state)
    return seen


def test_self_consumption_never_discharges_below_reserve() -> None:
    sim = GatewaySimulator(options(start_time=MIDNIGHT, initial_soe=35.0))
    sim.set_solar(0)
    sim.set_load(3000)
    sim.set_operation("self_consumption", 30.0)
    states = night(sim, 6)
    assert states[0].battery_w > 0  # it discharged at first
    assert min(s.soe for s in states) >= 30.0 - 1e-9
    last = states[-1]
    assert abs(last.soe - 30.0) < 1e-6
    assert last.battery_w == 0
    assert last.grid_w == 3000  # the grid covers the load once at the reserve


def test_self_consumption_charges_from_excess_solar_only() -> None:
    sim = GatewaySimulator(options(start_time=MIDNIGHT, initial_soe=50.0))
    sim.set_solar(6000)
    sim.set_load(1000)
    state = sim.state
    assert state.battery_w == -5000  # 5000 W of excess into the battery
    assert state.grid_w == 0
    sim.set_solar(12000)
    state = sim.state
    assert state.battery_w == -10_000  # 2 x 5 kW limit
    assert state.grid_w == -1000
    sim.set_soe(100)
    assert sim.state.battery_w == 0
    assert sim.state.grid_w == -11_000


def test_backup_mode_charges_to_full_and_never_discharges_on_grid() -> None:
    sim = GatewaySimulator(options(start_time=MIDNIGHT, initial_soe=40.0))
    sim.set_operation("backup")
    sim.set_solar(0)
    states = night(sim, 5)
    assert all(s.battery_w <= 0 for s in states)
    assert states[-1].soe == 100.0
    assert states[-1].battery_w == 0


def test_islanded_site_runs_on_battery_and_goes_dark_when_empty() -> None:
    sim = GatewaySimulator(options(start_time=MIDNIGHT, initial_soe=10.0))
    sim.set_solar(0)
    sim.set_load(2000)
    sim.start_outage()
    state = sim.state
    assert state.grid_status == "SystemIslandedActive"
    assert state.grid_w == 0
    assert state.battery_w == 2000
    states = night(sim, 3)
    assert all(s.grid_w == 0 for s in states)
    assert states[-1].soe == 0.0
    assert states[-1].load_w == 0  # unmet: nothing left to serve it with
    assert min(s.soe for s in states) >= 0.0


def test_islanded_full_battery_curtails_solar() -> None:
    sim = GatewaySimulator(options(initial_soe=100.0))
    sim.set_solar(6000)
    sim.set_load(1000)
    sim.start_outage()
    state = sim.state
    assert state.grid_w == 0
    assert state.battery_w == 0
    assert state.solar_w == 1000


def test_overrides_pin_until_cleared() -> None:
    sim = GatewaySimulator(options(start_time=MIDNIGHT + 12 * 3600))
    natural = sim.state.solar_w
    assert natural > 1000
    sim.set_solar(123.0)
    sim.advance(3600)
    assert sim.state.solar_w == 123.0
    sim.set_solar(None)
    assert sim.state.solar_w not in (0.0, 123.0)


def test_noise_is_deterministic_per_seed() -> None:
    a = GatewaySimulator(options(seed=7)).state
    b = GatewaySimulator(options(seed=7)).state
    c = GatewaySimulator(options(seed=8)).state
    assert (a.solar_w, a.load_w) == (b.solar_w, b.load_w)
    assert (a.solar_w, a.load_w) != (c.solar_w, c.load_w)


async def test_endpoints_tell_one_story(sim: GatewaySimulator, customer: Client) -> None:
    sim.set_soe(42.5)
    agg = (await customer.get("/api/meters/aggregates")).json
    soe = (await customer.get("/api/system_status/soe")).json["percentage"]
    status = (await customer.get("/api/system_status")).json
    grid = (await customer.get("/api/system_status/grid_status")).json
    walls = (await customer.get("/api/powerwalls")).json
    assert soe == 42.5
    ratio = status["nominal_energy_remaining"] / status["nominal_full_pack_energy"] * 100
    assert abs(ratio - soe) < 0.01
    assert status["nominal_full_pack_energy"] == 27_000
    assert len(status["battery_blocks"]) == 2
    assert len(walls["powerwalls"]) == 2
    assert walls["gateway_din"] == sim.din
    assert status["system_island_state"] == grid["grid_status"] == "SystemGridConnected"
    blocks_p = sum(b["p_out"] for b in status["battery_blocks"])
    assert abs(blocks_p - agg["battery"]["instant_power"]) <= 2
    charged = sum(b["energy_charged"] for b in status["battery_blocks"])
    assert abs(charged - agg["battery"]["energy_imported"]) <= 2
