"""Availability end to end: the simulator's faults over real HTTPS, a real Mosquitto, a probe.

One endpoint that fails blanks only its own values; one failed request does not make the gateway
unavailable; a stopped sitemaster leaves a usable device with its "run" button.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from tests.harness import TEST_POLL, bridge_settings, running_bridge
from tests.mqtt_probe import Broker, MqttProbe, ProbeMessage

BASE = "pw2mqtt"
SLUG = "tg123456789abc"
GW = f"{BASE}/{SLUG}"
DEVICE_TOPIC = f"homeassistant/device/pw2mqtt_{SLUG}/config"
SYSTEM_STATUS = "/api/system_status"
SITEMASTER_COMMANDS = {"sitemaster": True, "allow_grid_control": True, "min_interval": 0.5}


@pytest.fixture
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[GatewaySimulator]:
    profile = getattr(request, "param", "21.44")
    options = SimulatorOptions(control_port=None, speed=5.0, profile=profile)
    async with GatewaySimulator(options) as simulator:
        yield simulator


def settings(broker: Broker, sim: GatewaySimulator, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return bridge_settings(
        [sim],
        {"host": broker.host, "port": broker.port, "client_id": f"pw2mqtt-{tmp_path.name}"},
        tmp_path / "state",
        gateway={"timeout": 2.0},
        **extra,
    )


def is_text(expected: str) -> Callable[[ProbeMessage], bool]:
    return lambda message: message.text == expected


def texts(probe: MqttProbe, topic: str, start: int = 0) -> list[str]:
    return [m.text for m in probe.messages[start:] if m.topic == topic]


def last_config(probe: MqttProbe) -> dict[str, Any]:
    configs = [m for m in probe.on(DEVICE_TOPIC) if m.payload]
    payload: dict[str, Any] = json.loads(configs[-1].payload)
    return payload


async def test_an_html_page_on_one_endpoint_blanks_only_its_values(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    sim.set_faults(endpoints={SYSTEM_STATUS: "html"})
    async with MqttProbe(broker, ["pw2mqtt/#", "homeassistant/#"]) as probe:
        async with running_bridge(settings(broker, sim, tmp_path)):
            await probe.wait_for(f"{GW}/availability", is_text("online"), timeout=10)
            await probe.wait_for(f"{GW}/battery_level")
            await probe.wait_for(f"{GW}/operation_mode")
            logged = await probe.wait_for(
                f"{BASE}/bridge/logging", lambda m: SYSTEM_STATUS.encode() in m.payload
            )
            mark = len(sim.calls)
            await asyncio.sleep(6)  # three medium ticks
            asked = [c for c in sim.calls[mark:] if c.path == SYSTEM_STATUS]
    record = json.loads(logged.payload)
    assert record["level"] == "warning"
    assert "not valid JSON" in record["message"]
    assert "offline" not in texts(probe, f"{GW}/availability")
    components = last_config(probe)["cmps"]
    assert "battery_level" in components
    assert "energy_remaining" not in components  # never read: nothing announced to fill
    assert len(asked) <= 2  # it backs off on its own instead of every tick


async def test_an_endpoint_that_starts_failing_shows_unavailable_alone(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/#", "homeassistant/#"]) as probe:
        async with running_bridge(settings(broker, sim, tmp_path)):
            online = await probe.wait_for(f"{GW}/availability/system_status", is_text("online"))
            await probe.wait_for(f"{GW}/energy_remaining")
            sim.set_faults(endpoints={SYSTEM_STATUS: "html"})
            mark = probe.mark()
            await probe.wait_for(
                f"{GW}/availability/system_status", is_text("offline"), timeout=15, start=mark
            )
            after = probe.mark()
            await probe.wait_for(f"{GW}/state", start=after, timeout=5)
            sim.clear_faults()
            await probe.wait_for(
                f"{GW}/availability/system_status", is_text("online"), timeout=20, start=after
            )
    assert online.retain
    assert "offline" not in texts(probe, f"{GW}/availability")
    assert texts(probe, f"{GW}/availability/soe") == ["online"]
    assert float(probe.on(f"{GW}/battery_level")[-1].text) > 0
    state = json.loads(next(m for m in probe.messages[after:] if m.topic == f"{GW}/state").payload)
    assert state["energy_remaining"] is None  # unavailable, never a stale or made-up value
    assert state["battery_level"] is not None
    # Kept announced, so Home Assistant shows it unavailable instead of deleting it.
    config = last_config(probe)
    assert "energy_remaining" in config["cmps"]
    assert {"topic": f"{GW}/availability/system_status"} in config["cmps"]["energy_remaining"][
        "availability"
    ]
    assert not [
        m for m in probe.on(DEVICE_TOPIC) if b'"energy_remaining": {"p": "sensor"}' in m.payload
    ]


async def test_a_10_percent_500_rate_is_no_outage(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
        async with running_bridge(settings(broker, sim, tmp_path)):
            await probe.wait_for(f"{GW}/availability", is_text("online"), timeout=10)
            sim.set_faults(error_rate=0.1, error_status=500)
            mark, started = len(sim.calls), time.monotonic()
            await asyncio.sleep(15)
            calls = sim.calls[mark:]
            elapsed = time.monotonic() - started
    failed = [c for c in calls if c.status == 500]
    assert len(failed) >= 0.05 * len(calls)  # the faults were there
    assert texts(probe, f"{GW}/availability") == ["online"]
    events = [json.loads(m.payload)["type"] for m in probe.on(f"{BASE}/bridge/event")]
    assert "gateway_offline" not in events
    # The normal pace: fast endpoints (3) every second, medium ones (4) every two seconds.
    nominal = (3 / TEST_POLL["fast"] + 4 / TEST_POLL["medium"]) * 60
    per_minute = len(calls) / elapsed * 60
    assert 0.8 * nominal <= per_minute <= 1.15 * nominal


@pytest.mark.parametrize("sim", ["1.50"], indirect=True)
async def test_a_gateway_stopped_at_start_is_announced_and_can_be_started(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    sim.set_sitemaster(running=False)
    values = settings(broker, sim, tmp_path, commands=SITEMASTER_COMMANDS)
    async with MqttProbe(broker, ["pw2mqtt/#", "homeassistant/#"]) as probe:
        async with running_bridge(values):
            await probe.wait_for(f"{GW}/availability", is_text("online"), timeout=10)
            running = await probe.wait_for(f"{GW}/sitemaster_running")
            await probe.wait_for(f"{GW}/sitemaster/availability", is_text("online"))
            await probe.wait_for(f"{GW}/operation_mode")
            config = last_config(probe)
            assert not probe.on(f"{GW}/grid_power")
            # Home Assistant's "Sitemaster run" button publishes its payload_press here.
            button = config["cmps"]["sitemaster_run"]
            await broker.pub(button["command_topic"], button["payload_press"], "-q", "1")
            await probe.wait_for(f"{GW}/sitemaster_running", is_text("true"), timeout=20)
            power = await probe.wait_for(f"{GW}/grid_power", timeout=10)
    assert running.text == "false"
    assert running.retain
    assert "grid_power" not in config["cmps"]  # announced once it can be filled
    # The button follows the device alone (bridge and gateway), not the stopped power endpoints.
    assert "availability" not in button
    assert config["availability"] == [
        {"topic": f"{BASE}/bridge/state"},
        {"topic": f"{GW}/availability"},
    ]
    float(power.text)
    assert sim.state.sitemaster_running is True


@pytest.mark.parametrize("sim", ["1.50"], indirect=True)
async def test_stopping_blanks_power_but_keeps_the_run_button_usable(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    values = settings(broker, sim, tmp_path, commands=SITEMASTER_COMMANDS)
    async with MqttProbe(broker, ["pw2mqtt/#", "homeassistant/#"]) as probe:
        async with running_bridge(values):
            await probe.wait_for(f"{GW}/sitemaster_running", is_text("true"), timeout=10)
            await probe.wait_for(f"{GW}/availability/aggregates", is_text("online"))
            await probe.wait_for(f"{GW}/grid_power")
            config = last_config(probe)
            stop, run = config["cmps"]["sitemaster_stop"], config["cmps"]["sitemaster_run"]
            mark = probe.mark()
            await broker.pub(stop["command_topic"], stop["payload_press"], "-q", "1")
            stopped = await probe.wait_for(
                f"{GW}/sitemaster_running", is_text("false"), timeout=15, start=mark
            )
            await probe.wait_for(
                f"{GW}/availability/aggregates", is_text("offline"), timeout=5, start=mark
            )
            await asyncio.sleep(2)  # a few fast polls while stopped
            blank = probe.mark()
            await asyncio.sleep(2)
            stale = [m for m in probe.messages[blank:] if m.topic == f"{GW}/grid_power"]
            await broker.pub(run["command_topic"], run["payload_press"], "-q", "1")
            await probe.wait_for(
                f"{GW}/sitemaster_running", is_text("true"), timeout=20, start=mark
            )
            await probe.wait_for(
                f"{GW}/availability/aggregates", is_text("online"), timeout=10, start=mark
            )
    assert stopped.retain
    assert stale == []
    assert texts(probe, f"{GW}/availability") == ["online"]
    assert texts(probe, f"{GW}/sitemaster/availability")[-1] == "online"
    assert "sitemaster_run" in last_config(probe)["cmps"]
