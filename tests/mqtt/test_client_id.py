"""Client ids: a default that differs between bridges, and a clear line when one is shared."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from aiomqtt import MqttCodeError, MqttError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from pw2mqtt.config import Settings
from pw2mqtt.mqtt.connection import _session_taken_over
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions, din_for
from tests.harness import bridge_settings, running_bridge
from tests.mqtt.test_connection import Recorder, running
from tests.mqtt_probe import Broker, MqttProbe


def settings(**values: Any) -> Settings:
    return Settings.model_validate({"state_dir": "/nonexistent", **values})


def test_default_client_id_is_stable_and_differs_between_bridges() -> None:
    one = settings(gateways=[{"host": "192.168.1.5", "password": "x"}])
    again = settings(gateways=[{"host": "192.168.1.5", "password": "x"}])
    other_host = settings(gateways=[{"host": "192.168.1.6", "password": "x"}])
    named = settings(gateways=[{"host": "192.168.1.5", "password": "x", "name": "garage"}])
    other_base = settings(
        gateways=[{"host": "192.168.1.5", "password": "x"}], mqtt={"base_topic": "pw2"}
    )
    ids = [s.mqtt_client_id for s in (one, other_host, named, other_base)]
    assert one.mqtt_client_id == again.mqtt_client_id
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("pw2mqtt") and i.isalnum() and len(i) <= 23 for i in ids)
    chosen = settings(gateways=[{"host": "192.168.1.5", "password": "x"}], mqtt={"client_id": "a"})
    assert chosen.mqtt_client_id == "a"


async def test_two_bridges_with_default_ids_stay_connected(broker: Broker, tmp_path: Path) -> None:
    """One bridge per gateway on one broker, nothing set: neither knocks the other off."""
    sims = [GatewaySimulator(SimulatorOptions(control_port=None, din=din_for(i))) for i in range(2)]
    async with sims[0], sims[1]:
        values = [
            bridge_settings([sim], {"host": broker.host, "port": broker.port}, tmp_path / f"s{i}")
            for i, sim in enumerate(sims)
        ]
        async with running_bridge(values[0]) as first, running_bridge(values[1]) as second:
            async with MqttProbe(broker, ["pw2mqtt/+/availability"]) as probe:
                for sim in sims:
                    slug = sim.din.rsplit("--", 1)[-1].lower()
                    await probe.wait_for(f"pw2mqtt/{slug}/availability", timeout=15)
            seen = []
            for _ in range(30):  # 3 s
                seen.append((first.connection.connected, second.connection.connected))
                await asyncio.sleep(0.1)
    assert first.connection._options.client_id != second.connection._options.client_id
    assert all(a and b for a, b in seen)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_a_shared_client_id_is_said_once_and_backs_off(
    broker: Broker, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pw2mqtt.mqtt.connection")
    recorders = [Recorder(), Recorder()]
    shared: dict[str, Any] = {
        "client_id": "pw2mqtt-shared",
        "protocol": protocol,
        "reconnect_min": 0.2,
        "reconnect_max": 1.5,
    }
    async with running(broker, recorders[0], **shared):
        async with running(broker, recorders[1], **shared):
            await asyncio.sleep(6.0)
    connects = [r.connects for r in recorders]
    said = [
        r
        for r in caplog.records
        if r.levelno == logging.ERROR and "Set mqtt.client_id" in r.getMessage()
    ]
    # Without backing off, two clients 0.1-0.2 s apart take the id from each other ~60 times.
    assert sum(connects) <= 16, connects
    assert 1 <= len(said) <= 2  # one line per client; Mosquitto 2.0 closes without a reason
    assert "'pw2mqtt-shared'" in said[0].getMessage()
    assert "same client id" in said[0].getMessage()


def test_the_mqtt5_reason_session_taken_over_is_recognised() -> None:
    taken = ReasonCode(PacketTypes.DISCONNECT, identifier=0x8E)
    err = MqttError("Disconnected during message iteration")
    err.__cause__ = MqttCodeError(taken, "Unexpected disconnection")  # as aiomqtt raises it
    assert _session_taken_over(err)
    other = ReasonCode(PacketTypes.DISCONNECT, identifier=0x8D)  # keep-alive timeout
    assert not _session_taken_over(MqttCodeError(other, "Unexpected disconnection"))
