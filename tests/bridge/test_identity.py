"""A gateway's identity: its DIN or its `name`, never its address."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from pw2mqtt.bridge.identity import GatewayIdentityError, gateway_identity
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from tests.harness import bridge_settings, running_bridge
from tests.mqtt_probe import Broker, MqttProbe

BASE = "pw2mqtt"


def test_identity_is_the_name_then_the_din_and_never_the_address() -> None:
    din = "1232100-00-E--TG123456789ABC"
    assert gateway_identity("home", din, "192.168.1.5:443") == "home"
    assert gateway_identity(None, din, "192.168.1.5:443") == "tg123456789abc"
    with pytest.raises(GatewayIdentityError, match="set `name` for this gateway"):
        gateway_identity(None, None, "192.168.1.5:443")
    with pytest.raises(GatewayIdentityError, match=r"^192\.168\.1\.5:443 reports no DIN"):
        gateway_identity(None, None, "192.168.1.5:443")


def settings(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path, **gateway: object
) -> dict[str, Any]:
    return bridge_settings(
        [sim],
        {"host": broker.host, "port": broker.port, "client_id": f"identity-{tmp_path.name}"},
        tmp_path / "state",
        gateway={"timeout": 3.0, **gateway},
    )


async def test_a_gateway_without_din_or_name_stays_offline_and_says_why(
    broker: Broker, tmp_path: Path
) -> None:
    options = SimulatorOptions(control_port=None, profile="pw3-restricted")
    async with GatewaySimulator(options) as sim:
        # What an earlier release left: topics under a slug derived from the address.
        host_dir = tmp_path / "state" / f"localhost_{sim.port}"
        host_dir.mkdir(parents=True)
        (host_dir / "topic-slug").write_text("localhost\n")
        async with MqttProbe(broker, [f"{BASE}/#", "homeassistant/#"]) as probe:
            async with running_bridge(settings(broker, sim, tmp_path)):
                offline = await probe.wait_for(
                    f"{BASE}/localhost/availability", lambda m: m.text == "offline", timeout=10
                )
                logged = await probe.wait_for(
                    f"{BASE}/bridge/logging", lambda m: b"reports no DIN" in m.payload
                )
                event = await probe.wait_for(
                    f"{BASE}/bridge/event", lambda m: b"gateway_offline" in m.payload
                )
                reason = await probe.wait_for(
                    f"{BASE}/localhost/last_error", lambda m: b"set `name`" in m.payload
                )
                await asyncio.sleep(3.0)  # several polls: said once, no values announced
    assert offline.retain
    record = json.loads(logged.payload)
    assert record["level"] == "error"
    assert "set `name` for this gateway" in record["message"]
    assert "set `name`" in json.loads(event.payload)["data"]["reason"]
    said = [m for m in probe.messages if m.topic.endswith("/logging") and b"no DIN" in m.payload]
    assert len(said) == 1
    assert reason.retain
    # Home Assistant shows the device with the reason alone, and no value under the address.
    configs = [m for m in probe.messages if m.topic.startswith("homeassistant/") and m.payload]
    assert configs
    assert all(set(json.loads(m.payload)["cmps"]) == {"last_error"} for m in configs)
    assert not [m for m in probe.messages if m.topic.endswith("/battery_level")]


async def test_a_named_gateway_without_din_keeps_its_topics_when_its_address_changes(
    broker: Broker, tmp_path: Path
) -> None:
    options = SimulatorOptions(control_port=None, profile="pw3-restricted")
    for host in ("localhost", "127.0.0.1"):  # the same gateway at another address
        async with GatewaySimulator(options) as sim:
            values = settings(broker, sim, tmp_path, name="garage")
            values["gateways"][0]["host"] = f"{host}:{sim.port}"
            async with MqttProbe(broker, ["homeassistant/#", f"{BASE}/+/battery_level"]) as probe:
                async with running_bridge(values):
                    await probe.wait_for(f"{BASE}/garage/battery_level", timeout=10)
    devices = {m.topic for m in probe.messages if m.topic.startswith("homeassistant/")}
    assert devices == {"homeassistant/device/pw2mqtt_garage/config"}


async def test_a_damaged_saved_slug_is_said_ignored_and_written_afresh(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with GatewaySimulator(SimulatorOptions(control_port=None)) as sim:
        host_dir = tmp_path / "state" / f"localhost_{sim.port}"
        host_dir.mkdir(parents=True)
        (host_dir / "topic-slug").write_text("a/+/#\n")  # not a topic level: never used as one
        slug = sim.din.rsplit("--", 1)[-1].lower()
        async with MqttProbe(broker, [f"{BASE}/#"]) as probe:
            async with running_bridge(settings(broker, sim, tmp_path)):
                # Found while the bridge was being built, said once it has a broker.
                logged = await probe.wait_for(
                    f"{BASE}/bridge/logging", lambda m: b"topic slug is damaged" in m.payload
                )
                await probe.wait_for(
                    f"{BASE}/{slug}/availability", lambda m: m.text == "online", timeout=10
                )
        assert "working it out again" in json.loads(logged.payload)["message"]
        assert "the saved topic slug is damaged" in caplog.text
        assert (host_dir / "topic-slug").read_text() == f"{slug}\n"
        assert all(m.topic.split("/")[1] in {slug, "bridge"} for m in probe.messages)
