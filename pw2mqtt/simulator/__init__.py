"""A faithful fake Powerwall gateway over real HTTPS on loopback, for tests, demos and users
without hardware. See docs/simulator.md.

The server (aiohttp's web stack and cryptography) and the physics load on first use of what needs
them, so that the bridge, which only needs the profiles for its CLI, stays lean.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pw2mqtt.simulator.options import DEFAULT_DIN, SimulatorOptions, din_for, fleet_options
from pw2mqtt.simulator.profiles import PROFILES, Access, Profile

if TYPE_CHECKING:
    from pw2mqtt.simulator.core import CallRecord
    from pw2mqtt.simulator.faults import FaultConfig
    from pw2mqtt.simulator.server import GatewaySimulator, run_simulators
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

_LAZY = {
    "CallRecord": "core",
    "FaultConfig": "faults",
    "GatewaySimulator": "server",
    "SiteState": "site",
    "run_simulators": "server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"pw2mqtt.simulator.{module}"), name)
