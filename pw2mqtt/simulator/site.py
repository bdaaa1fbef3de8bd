"""Site physics on the simulated clock, computed lazily: nothing ticks, every read integrates.

Conventions (as the gateway reports them): site/grid > 0 imports, battery > 0 discharges,
load >= 0, solar >= 0, and `grid = load - solar - battery` at every instant. Energy is
integrated in steps of at most `MAX_STEP` simulated seconds with the power at the start of each
step, so the lifetime counters agree exactly with the integrated flows.

Battery policy (5 kW charge and discharge per Powerwall, 13.5 kWh each by default):
- self_consumption, and autonomous (treated the same): cover load from solar, then battery down
  to the reserve; charge from excess solar only, never from the grid.
- backup, or a manual backup event in force: charge at full rate (from solar and grid) up to
  100 %; never discharge on grid.
- islanded: grid is 0; the battery covers load - solar down to 0 %. At 0 % the unmet load is
  dropped (the reported load is what was actually served). When full, excess solar is curtailed.
- sitemaster stopped: battery 0 (on grid the grid covers everything; islanded the site is dark).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pw2mqtt.simulator.weather import DayCurves, DayShape

MAX_STEP: Final = 5.0

SELF_CONSUMPTION: Final = "self_consumption"
AUTONOMOUS: Final = "autonomous"
BACKUP: Final = "backup"
MODES: Final = (SELF_CONSUMPTION, AUTONOMOUS, BACKUP)

CONNECTED: Final = "SystemGridConnected"
ISLANDED: Final = "SystemIslandedActive"
TO_ISLAND: Final = "SystemTransitionToIsland"
TO_GRID: Final = "SystemTransitionToGrid"


@dataclass(frozen=True, slots=True)
class SiteConfig:
    powerwalls: int = 2
    capacity_wh: float = 13_500.0  # per Powerwall
    max_power_w: float = 5_000.0  # charge and discharge, per Powerwall
    peak_solar_w: float = 7_000.0
    base_load_w: float = 900.0
    timezone: str = "America/Los_Angeles"
    seed: int = 1
    island_transition_s: float = 2.0  # SystemTransitionToIsland lasts this long
    grid_transition_s: float = 5.0  # SystemTransitionToGrid lasts this long
    sunrise_h: float = 6.5
    sunset_h: float = 19.5


@dataclass(frozen=True, slots=True)
class Flows:
    solar: float
    load: float
    battery: float
    grid: float


@dataclass(frozen=True, slots=True)
class SiteState:
    """A read-only view of the site at one simulated instant."""

    time: float
    soe: float  # raw %
    energy_remaining_wh: float
    full_pack_wh: float
    solar_w: float
    load_w: float
    battery_w: float
    grid_w: float
    site_energy_imported: float
    site_energy_exported: float
    battery_energy_imported: float  # charged
    battery_energy_exported: float  # discharged
    solar_energy_exported: float
    solar_energy_imported: float
    load_energy_imported: float
    mode: str
    backup_reserve_percent: float  # raw %
    staged_mode: str | None
    staged_reserve_percent: float | None
    grid_status: str
    grid_services_active: bool
    sitemaster_running: bool
    outage: bool
    island_requested: bool
    solar_override: float | None
    load_override: float | None
    powerwalls: int
    last_toggle_time: float


class Site:
    def __init__(
        self,
        config: SiteConfig,
        now: float,
        *,
        soe: float = 60.0,
        mode: str = SELF_CONSUMPTION,
        reserve: float = 24.0,
    ) -> None:
        self.config = config
        self.curves = DayCurves(
            DayShape(
                config.timezone,
                config.seed,
                config.peak_solar_w,
                config.base_load_w,
                config.sunrise_h,
                config.sunset_h,
            )
        )
        self.zone = self.curves.zone
        self._t = now
        self.full_pack_wh = config.capacity_wh * config.powerwalls
        self.max_power_w = config.max_power_w * config.powerwalls
        self._energy = self.full_pack_wh * _clamp(soe, 0.0, 100.0) / 100.0
        # Plausible lifetime totals so a fresh simulator does not look brand new.
        self.site_imported = 752_045.9551097859
        self.site_exported = 348_463.5610710742
        self.battery_imported = 642_500.0
        self.battery_exported = 567_740.0
        self.solar_exported = 1_269_175.54256601
        self.solar_imported = 2_655.4902861339488
        self.load_imported = 1_595_342.4463185878
        self.mode = mode
        self.reserve = reserve
        self.staged_mode: str | None = None
        self.staged_reserve: float | None = None
        self.sitemaster_running = True
        self.outage = False
        self.island_requested = False
        self.grid_status = CONNECTED
        self._transition_end: float | None = None
        self._transition_to = CONNECTED
        self.last_toggle = now - 86_400.0 * 9.5
        self.grid_fault_times: list[float] = []
        self.solar_override: float | None = None
        self.load_override: float | None = None
        self.backup_event: tuple[float, float] | None = None  # manual backup event: start, end

    # -- time ---------------------------------------------------------------------------------

    @property
    def time(self) -> float:
        return self._t

    def update(self, now: float) -> None:
        """Integrate the site from its last update up to `now` (simulated epoch seconds)."""
        while self._t < now:
            end = min(self._t + MAX_STEP, now)
            if self._transition_end is not None and self._transition_end <= end:
                end = max(self._transition_end, self._t)
            step = end - self._t
            if step > 0:
                self._integrate(self._flows(self._t, step), step)
            self._t = end
            if self._transition_end is not None and self._transition_end <= self._t:
                self._finish_transition()
        if self._transition_end is not None and self._transition_end <= self._t:
            self._finish_transition()

    def snapshot(self, now: float) -> SiteState:
        self.update(now)
        flows = self._flows(self._t, MAX_STEP)  # the rate the next step will integrate
        return SiteState(
            time=self._t,
            soe=self.soe,
            energy_remaining_wh=self._energy,
            full_pack_wh=self.full_pack_wh,
            solar_w=flows.solar,
            load_w=flows.load,
            battery_w=flows.battery,
            grid_w=flows.grid,
            site_energy_imported=self.site_imported,
            site_energy_exported=self.site_exported,
            battery_energy_imported=self.battery_imported,
            battery_energy_exported=self.battery_exported,
            solar_energy_exported=self.solar_exported,
            solar_energy_imported=self.solar_imported,
            load_energy_imported=self.load_imported,
            mode=self.mode,
            backup_reserve_percent=self.reserve,
            staged_mode=self.staged_mode,
            staged_reserve_percent=self.staged_reserve,
            grid_status=self.grid_status,
            grid_services_active=False,
            sitemaster_running=self.sitemaster_running,
            outage=self.outage,
            island_requested=self.island_requested,
            solar_override=self.solar_override,
            load_override=self.load_override,
            powerwalls=self.config.powerwalls,
            last_toggle_time=self.last_toggle,
        )

    @property
    def soe(self) -> float:
        return self._energy / self.full_pack_wh * 100.0

    # -- commands (callers update() to `now` first) ------------------------------------------

    def set_soe(self, now: float, percent: float) -> None:
        self.update(now)
        self._energy = self.full_pack_wh * _clamp(percent, 0.0, 100.0) / 100.0

    def set_solar(self, now: float, watts: float | None) -> None:
        self.update(now)
        self.solar_override = None if watts is None else max(0.0, float(watts))

    def set_load(self, now: float, watts: float | None) -> None:
        self.update(now)
        self.load_override = None if watts is None else max(0.0, float(watts))

    def stage_operation(self, mode: str | None, reserve: float | None) -> None:
        if mode is not None:
            self.staged_mode = mode
        if reserve is not None:
            self.staged_reserve = reserve

    def apply_staged(self, now: float) -> None:
        self.update(now)
        if self.staged_mode is not None:
            self.mode = self.staged_mode
        if self.staged_reserve is not None:
            self.reserve = self.staged_reserve
        self.staged_mode = self.staged_reserve = None

    def set_operation(self, now: float, mode: str | None, reserve: float | None) -> None:
        self.update(now)
        if mode is not None:
            self.mode = mode
        if reserve is not None:
            self.reserve = reserve

    def set_backup_event(self, now: float, event: tuple[float, float] | None) -> None:
        self.update(now)
        self.backup_event = event

    def set_sitemaster(self, now: float, running: bool) -> None:
        self.update(now)
        self.sitemaster_running = running

    def request_island(self, now: float, off_grid: bool) -> None:
        """What POST /api/v2/islanding/mode does: go off grid, or back on grid."""
        self.update(now)
        self.island_requested = off_grid
        if off_grid:
            if self.grid_status in (CONNECTED, TO_GRID) and not self.outage:
                self._begin(now, TO_ISLAND, ISLANDED, self.config.island_transition_s)
        elif not self.outage and self.grid_status in (ISLANDED, TO_ISLAND):
            self._begin(now, TO_GRID, CONNECTED, self.config.grid_transition_s)

    def start_outage(self, now: float) -> None:
        """The grid goes away: the site islands by itself, at once."""
        self.update(now)
        if self.outage:
            return
        self.outage = True
        self.grid_fault_times.append(now)
        del self.grid_fault_times[:-10]
        self._transition_end = None
        if self.grid_status != ISLANDED:
            self.last_toggle = now
        self.grid_status = ISLANDED

    def end_outage(self, now: float) -> None:
        self.update(now)
        if not self.outage:
            return
        self.outage = False
        if not self.island_requested:
            self._begin(now, TO_GRID, CONNECTED, self.config.grid_transition_s)

    def restart(self, now: float) -> None:
        """A gateway reboot: the sitemaster comes back running; staged changes are lost."""
        self.update(now)
        self.sitemaster_running = True
        self.staged_mode = self.staged_reserve = None

    # -- physics ------------------------------------------------------------------------------

    @property
    def islanded(self) -> bool:
        return self.grid_status in (ISLANDED, TO_GRID)

    def _begin(self, now: float, during: str, target: str, seconds: float) -> None:
        self.grid_status = during
        self.last_toggle = now
        self._transition_to = target
        self._transition_end = now + max(0.0, seconds)
        if seconds <= 0:
            self._finish_transition()

    def _finish_transition(self) -> None:
        self.grid_status = self._transition_to
        self._transition_end = None

    def _flows(self, t: float, step: float) -> Flows:
        solar = self.solar_override if self.solar_override is not None else self.curves.solar(t)
        load = self.load_override if self.load_override is not None else self.curves.load(t)
        islanded = self.islanded
        if not self.sitemaster_running:
            if islanded:
                return Flows(0.0, 0.0, 0.0, 0.0)
            return Flows(solar, load, 0.0, load - solar)
        can_charge = self._room(self.full_pack_wh - self._energy, step)
        if islanded:
            need = load - solar
            if need >= 0:
                battery = min(need, self._room(self._energy, step))
                return Flows(solar, solar + battery, battery, 0.0)
            battery = -min(-need, can_charge)
            return Flows(load - battery, load, battery, 0.0)
        event = self.backup_event
        if self.mode == BACKUP or (event is not None and event[0] <= t < event[1]):
            battery = -can_charge
        else:
            need = load - solar
            if need > 0:
                floor = self.full_pack_wh * _clamp(self.reserve, 0.0, 100.0) / 100.0
                battery = min(need, self._room(self._energy - floor, step))
            else:
                battery = -min(-need, can_charge)
        return Flows(solar, load, battery, load - solar - battery)

    def _room(self, energy_wh: float, step: float) -> float:
        """The most power (W) that moves `energy_wh` within one step, capped at the rating."""
        if energy_wh <= 1e-9:
            return 0.0
        if step <= 0:
            return self.max_power_w
        return min(self.max_power_w, energy_wh * 3600.0 / step)

    def _integrate(self, flows: Flows, step: float) -> None:
        hours = step / 3600.0
        self._energy = _clamp(self._energy - flows.battery * hours, 0.0, self.full_pack_wh)
        if flows.grid > 0:
            self.site_imported += flows.grid * hours
        else:
            self.site_exported -= flows.grid * hours
        if flows.battery > 0:
            self.battery_exported += flows.battery * hours
        else:
            self.battery_imported -= flows.battery * hours
        self.solar_exported += flows.solar * hours
        self.load_imported += flows.load * hours


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value
