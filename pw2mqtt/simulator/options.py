"""What a simulated gateway is made of, kept apart from the server so that building the CLI or
a configuration does not load the HTTPS stack."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from pw2mqtt.simulator.profiles import DEFAULT_PROFILE, get_profile

DEFAULT_DIN = "1232100-00-E--TG123456789ABC"


@dataclass(frozen=True, slots=True)
class SimulatorOptions:
    host: str = "127.0.0.1"
    port: int = 0  # 0 = a free port
    profile: str = DEFAULT_PROFILE
    speed: float = 1.0  # simulated seconds per real second; 0 = only advance() moves the clock
    customer_password: str = "Pw2MqttSim"  # noqa: S105 - a simulator default
    installer_password: str = "Installer1"  # noqa: S105 - a simulator default
    extra_server_names: tuple[str, ...] = ()  # SNI names accepted besides teg/powerwall/powerpack
    powerwalls: int = 2
    session_ttl: float = 86_400.0  # simulated seconds
    din: str = DEFAULT_DIN
    control_port: int | None = 0  # plain-HTTP control API on loopback; None = none
    seed: int = 1
    # Beyond the basics:
    start_time: float | None = None  # simulated epoch seconds at start; None = now
    timezone: str = "America/Los_Angeles"
    initial_soe: float = 60.0  # raw %
    peak_solar_w: float = 7_000.0
    base_load_w: float = 900.0
    lockout_attempts: int = 5  # failed logins within lockout_window ...
    lockout_window: float = 300.0  # ... simulated seconds ...
    lockout_duration: float = 300.0  # ... lock logins (429) for this many simulated seconds
    island_transition: float = 2.0  # simulated seconds in SystemTransitionToIsland
    grid_transition: float = 5.0  # simulated seconds in SystemTransitionToGrid
    installer_toggle: bool = True  # False: installer login gets 401 "require physical access"

    def __post_init__(self) -> None:
        get_profile(self.profile)
        if self.powerwalls < 1:
            raise ValueError("powerwalls must be >= 1")
        if self.speed < 0:
            raise ValueError("speed must be >= 0")
        if self.session_ttl <= 0:
            raise ValueError("session_ttl must be > 0")


def din_for(index: int, base: str = DEFAULT_DIN) -> str:
    """The base DIN for index 0, then distinct DINs of the same shape (`…--TG1234567890AF`)."""
    if index == 0:
        return base
    head, _, serial = base.rpartition("--")
    digits = serial[2:] if serial.startswith("TG") else serial
    try:
        value = int(digits, 16) + index
        new = f"{value:0{len(digits)}X}"[-len(digits) :]
    except ValueError:
        new = f"{digits}{index}"
    return f"{head}--TG{new}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fleet_options(count: int, base: SimulatorOptions | None = None) -> list[SimulatorOptions]:
    """`count` options like `base`, with distinct DINs and seeds and consecutive ports (if set)."""
    base = base or SimulatorOptions()
    return [
        replace(
            base,
            din=din_for(i, base.din),
            seed=base.seed + i,
            port=base.port + i if base.port else 0,
            control_port=(
                None
                if base.control_port is None
                else base.control_port + i
                if base.control_port
                else 0
            ),
        )
        for i in range(count)
    ]
