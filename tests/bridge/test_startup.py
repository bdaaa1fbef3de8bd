"""Start-up of several gateways: first polls spread out, `bridge/info` not sent per gateway."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pw2mqtt.bridge.gateway import STARTUP_POLLS_PER_SECOND, start_delays
from pw2mqtt.bridge.runtime import INFO_SPACING
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions, din_for
from tests.harness import bridge_settings, running_bridge
from tests.mqtt_probe import Broker, MqttProbe

BASE = "pw2mqtt"
LOGIN = "/api/login/Basic"
COUNT = 4


def test_first_polls_spread_over_one_fast_interval() -> None:
    assert start_delays(1, 5.0) == [0.0]
    assert start_delays(4, 2.0) == [0.0, 0.5, 1.0, 1.5]


def test_a_large_fleet_starts_no_faster_than_the_cap() -> None:
    delays = start_delays(1000, 5.0)
    spread = 1000 / STARTUP_POLLS_PER_SECOND
    assert delays[-1] == pytest.approx(spread * 999 / 1000)
    in_first_second = sum(1 for delay in delays if delay < 1.0)
    assert in_first_second == STARTUP_POLLS_PER_SECOND


async def test_gateways_log_in_apart_and_bridge_info_is_coalesced(
    broker: Broker, tmp_path: Path
) -> None:
    options = [SimulatorOptions(control_port=None, din=din_for(i)) for i in range(COUNT)]
    sims = [GatewaySimulator(option) for option in options]
    for sim in sims:
        await sim.start()
    try:
        mqtt = {"host": broker.host, "port": broker.port, "client_id": f"pw2mqtt-{tmp_path.name}"}
        values = bridge_settings(sims, mqtt, tmp_path / "state", gateway={"poll": {"fast": 2.0}})
        async with MqttProbe(broker, [f"{BASE}/#"]) as probe:
            async with running_bridge(values):
                for i in range(COUNT):
                    slug = din_for(i).rsplit("--", 1)[-1].lower()
                    await probe.wait_for(
                        f"{BASE}/{slug}/availability", lambda m: m.text == "online", timeout=15
                    )
                last = await probe.wait_for(
                    f"{BASE}/bridge/info",
                    lambda m: (
                        len([g for g in json.loads(m.payload)["gateways"] if g["entities"]])
                        == COUNT
                    ),
                    timeout=INFO_SPACING + 5,
                )
    finally:
        for sim in sims:
            await sim.close()
    logins = sorted(call.time for sim in sims for call in sim.calls if call.path == LOGIN)
    assert len(logins) == COUNT
    assert logins[-1] - logins[0] >= 1.0  # over one fast interval (2 s), not all at once
    infos = probe.on(f"{BASE}/bridge/info")
    # One on connecting, then at most one per INFO_SPACING, not one per announced gateway.
    assert len(infos) <= 3, [len(m.payload) for m in infos]
    assert last in infos
