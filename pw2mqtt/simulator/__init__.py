"""A faithful fake Powerwall gateway over real HTTPS on loopback, for tests, demos and users
without hardware. See docs/simulator.md."""

from pw2mqtt.simulator.core import CallRecord
from pw2mqtt.simulator.faults import FaultConfig
from pw2mqtt.simulator.profiles import PROFILES, Access, Profile
from pw2mqtt.simulator.server import (
    DEFAULT_DIN,
    GatewaySimulator,
    SimulatorOptions,
    din_for,
    fleet_options,
    run_simulators,
)
from pw2mqtt.simulator.site import SiteState

__all__ = [
    "DEFAULT_DIN",
    "PROFILES",
    "Access",
    "CallRecord",
    "FaultConfig",
    "GatewaySimulator",
    "Profile",
    "SimulatorOptions",
    "SiteState",
    "din_for",
    "fleet_options",
    "run_simulators",
]
