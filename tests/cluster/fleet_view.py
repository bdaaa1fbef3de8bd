"""What the tests of bridges in a fleet share: their settings, simulators named `gw0`, `gw1`, …,
and what a probe on the broker sees of who announces each gateway and whether it is online."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions, din_for
from tests.harness import bridge_settings
from tests.mqtt_probe import Broker, MqttProbe

BASE = "pw2mqtt"
LEASE = 3.0


def names(count: int) -> list[str]:
    return [f"gw{i}" for i in range(count)]


@contextlib.asynccontextmanager
async def simulators(count: int) -> AsyncIterator[list[GatewaySimulator]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                GatewaySimulator(
                    SimulatorOptions(control_port=None, din=din_for(i), profile="1.50")
                )
            )
            for i in range(count)
        ]


def fleet_settings(
    instance: str,
    sims: list[GatewaySimulator],
    broker: Broker,
    dsn: str,
    state_dir: Path,
    *,
    gateway: Mapping[str, Any] | None = None,
    cluster: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One instance's settings: every simulator as `gw<i>`, a lease of `LEASE` seconds."""
    values = bridge_settings(
        sims,
        {"host": broker.host, "port": broker.port, "client_id": "pw2mqtt-fleet"},
        state_dir,
        gateway={"timeout": 2.0, **(gateway or {})},
        cluster={"dsn": dsn, "instance_id": instance, "lease_seconds": LEASE, **(cluster or {})},
        **extra,
    )
    for entry, name in zip(values["gateways"], names(len(sims)), strict=True):
        entry["name"] = name
    return values


def owner_of(probe: MqttProbe, name: str) -> str | None:
    """The instance whose state topic the gateway's retained discovery names, if announced."""
    config = probe.retained(f"homeassistant/device/pw2mqtt_{name}/config")
    if config is None or not config.payload:
        return None
    for entry in json.loads(config.payload)["availability"]:
        topic: str = entry["topic"]
        if topic.startswith(f"{BASE}/bridge/instance/"):
            return topic.split("/")[-2]
    return None


def online(probe: MqttProbe, name: str) -> bool:
    state = probe.retained(f"{BASE}/{name}/availability")
    return state is not None and state.text == "online"


def view(probe: MqttProbe, gateways: list[str]) -> dict[str, tuple[str | None, bool]]:
    return {n: (owner_of(probe, n), online(probe, n)) for n in gateways}


def announced_as(probe: MqttProbe, plan: Mapping[str, str]) -> bool:
    """Each gateway announced by the instance `plan` names, and online."""
    return all(owner_of(probe, n) == owner and online(probe, n) for n, owner in plan.items())


async def until(
    check: Callable[[], bool], timeout: float, seen: Callable[[], object] | None = None
) -> None:
    """Retained state is looked at again every 0.1 s until `check` holds; on a timeout the
    failure shows `seen()`."""
    try:
        async with asyncio.timeout(timeout):
            while not check():  # noqa: ASYNC110 - the probe has no event per condition
                await asyncio.sleep(0.1)
    except TimeoutError:
        shown = "" if seen is None else f": {seen()}"
        raise AssertionError(f"not within {timeout:.0f} s{shown}") from None
