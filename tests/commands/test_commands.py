"""Commands end to end: mosquitto_pub and JSON requests → bridge → simulator, and the answers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pw2mqtt.commands.parse import parse_field_set, parse_json_set
from pw2mqtt.errors import CommandError
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from tests.commands.test_parse import BAD_FIELD_VALUES, BAD_JSON
from tests.harness import bridge_settings, running_bridge
from tests.mqtt_probe import Broker, MqttProbe

BASE = "pw2mqtt"
SLUG = "tg123456789abc"
RESPONSE = f"{BASE}/bridge/response/gateway/set"
WRITES = {
    ("POST", "/api/operation"),
    ("GET", "/api/config/completed"),
    ("POST", "/api/v2/islanding/mode"),
    ("GET", "/api/sitemaster/run"),
    ("GET", "/api/sitemaster/stop"),
    ("POST", "/api/sitemaster/stop"),
}
ALL_COMMANDS = {
    "operation_mode": True,
    "backup_reserve": True,
    "off_grid": True,
    "sitemaster": True,
    "allow_grid_control": True,
    "min_interval": 0.5,
    "confirm_timeout": 20.0,
}


def writes(sim: GatewaySimulator) -> list[tuple[str, str]]:
    return [(c.method, c.path) for c in sim.calls if (c.method, c.path) in WRITES]


@contextlib.asynccontextmanager
async def bridge_for(
    broker: Broker,
    sim: GatewaySimulator,
    tmp_path: Path,
    *,
    commands: dict[str, Any] | None = None,
    role: str = "customer",
    protocol: str = "3.1.1",
    slug: str = SLUG,
    name: str | None = None,
) -> AsyncIterator[MqttProbe]:
    """The bridge with commands, and a probe that has seen the gateway come online."""
    password = "Installer1" if role == "installer" else "Pw2MqttSim"
    named = {"name": name} if name else {}
    values = bridge_settings(
        [sim],
        {
            "host": broker.host,
            "port": broker.port,
            "client_id": "pw2mqtt-commands",
            "protocol": protocol,
        },
        tmp_path / "state",
        gateway={"password": password, "role": role, "timeout": 3.0, **named},
        commands=ALL_COMMANDS if commands is None else commands,
    )
    async with running_bridge(values):
        async with MqttProbe(broker, ["pw2mqtt/#", "homeassistant/#", "replies/#"]) as probe:
            await probe.wait_for(f"{BASE}/{slug}/availability", lambda m: m.text == "online")
            await probe.wait_for(f"{BASE}/{slug}/state", timeout=15)
            yield probe


async def command(
    probe: MqttProbe,
    topic: str,
    payload: str | bytes,
    *,
    retain: bool = False,
    timeout: float = 30.0,
    response: str = RESPONSE,
) -> dict[str, Any]:
    mark = probe.mark()
    await probe.publish(topic, payload, retain=retain)
    message = await probe.wait_for(response, timeout=timeout, start=mark)
    answer: dict[str, Any] = json.loads(message.payload)
    return answer


@pytest.fixture
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[GatewaySimulator]:
    profile = getattr(request, "param", "1.50")
    options = SimulatorOptions(control_port=None, speed=5.0, profile=profile)
    async with GatewaySimulator(options) as simulator:
        yield simulator


# -- applied and confirmed ---------------------------------------------------------------------


async def test_mode_and_reserve_from_plain_topics(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with bridge_for(broker, sim, tmp_path) as probe:
        answer = await command(probe, f"{BASE}/{SLUG}/operation_mode/set", "Backup")
        assert answer["status"] == "ok", answer
        assert answer["data"]["operation_mode"] == "backup"
        assert sim.state.mode == "backup"
        await probe.wait_for(f"{BASE}/{SLUG}/operation_mode", lambda m: m.text == "backup")

        answer = await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "30")
        assert answer["status"] == "ok", answer
        assert answer["data"]["backup_reserve"] == pytest.approx(30.0, abs=0.1)
        assert sim.state.backup_reserve_percent == pytest.approx(30 * 0.95 + 5, abs=0.01)
        await probe.wait_for(f"{BASE}/{SLUG}/backup_reserve", lambda m: m.text == "30")
        assert sim.state.mode == "backup"  # kept as it was
    assert writes(sim) == [
        ("POST", "/api/operation"),
        ("GET", "/api/config/completed"),
        ("POST", "/api/operation"),
        ("GET", "/api/config/completed"),
    ]


async def test_json_set_applies_one_change_with_transaction(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with bridge_for(broker, sim, tmp_path) as probe:
        body = {"operation_mode": "autonomous", "backup_reserve": 40, "transaction": "t-1"}
        answer = await command(probe, f"{BASE}/{SLUG}/set", json.dumps(body))
    assert answer["status"] == "ok", answer
    assert answer["transaction"] == "t-1"
    assert (sim.state.mode, round(sim.state.backup_reserve_percent)) == ("autonomous", 43)
    operation_posts = [c for c in sim.calls if (c.method, c.path) == ("POST", "/api/operation")]
    assert len(operation_posts) == 1
    assert operation_posts[0].body == {"real_mode": "autonomous", "backup_reserve_percent": 43.0}


async def test_bridge_request_with_gateway_and_transaction(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with bridge_for(broker, sim, tmp_path) as probe:
        body = {"gateway": SLUG, "backup_reserve": 15, "transaction": 42}
        answer = await command(probe, f"{BASE}/bridge/request/gateway/set", json.dumps(body))
        event = await probe.wait_for(
            f"{BASE}/bridge/event", lambda m: b"command_applied" in m.payload
        )
    assert answer == {
        "status": "ok",
        "data": {
            "gateway": SLUG,
            "operation_mode": "self_consumption",
            "backup_reserve": 15.0,
            "backup_reserve_raw": 19.25,
        },
        "transaction": 42,
    }
    assert json.loads(event.payload)["data"]["transaction"] == 42
    assert b"Pw2MqttSim" not in b"".join(m.payload for m in probe.messages)


async def test_value_already_set_answers_ok_without_a_write(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with bridge_for(broker, sim, tmp_path) as probe:
        answer = await command(probe, f"{BASE}/{SLUG}/operation_mode/set", "self_consumption")
    assert answer["status"] == "ok"
    assert answer["data"]["unchanged"] is True
    assert writes(sim) == []


async def test_off_grid_and_back(broker: Broker, sim: GatewaySimulator, tmp_path: Path) -> None:
    async with bridge_for(broker, sim, tmp_path) as probe:
        answer = await command(probe, f"{BASE}/{SLUG}/off_grid/set", "ON")
        assert answer["status"] == "ok", answer
        assert sim.state.grid_status == "SystemIslandedActive"
        await probe.wait_for(f"{BASE}/{SLUG}/grid_status", lambda m: m.text == "islanded")
        answer = await command(probe, f"{BASE}/{SLUG}/off_grid/set", "false")
        assert answer["status"] == "ok", answer
        assert sim.state.grid_status == "SystemGridConnected"
    islanding = [c.body for c in sim.calls if c.path == "/api/v2/islanding/mode"]
    assert islanding == [
        {"island_mode": "intentional_reconnect_failsafe"},
        {"island_mode": "backup"},
    ]


async def test_sitemaster_stop_and_run_on_old_firmware(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with bridge_for(broker, sim, tmp_path) as probe:
        answer = await command(probe, f"{BASE}/{SLUG}/sitemaster/set", "stop")
        assert answer["status"] == "ok", answer
        assert sim.state.sitemaster_running is False
        await probe.wait_for(f"{BASE}/{SLUG}/sitemaster_running", lambda m: m.text == "false")
        mode = await command(probe, f"{BASE}/{SLUG}/operation_mode/set", "backup")
        assert "sitemaster is stopped" in mode["error"]  # only `run` may go to a stopped site
        answer = await command(probe, f"{BASE}/{SLUG}/sitemaster/set", "run")
        assert answer["status"] == "ok", answer
        assert sim.state.sitemaster_running is True
        await probe.wait_for(f"{BASE}/{SLUG}/sitemaster_running", lambda m: m.text == "true")
    assert writes(sim) == [("GET", "/api/sitemaster/stop"), ("GET", "/api/sitemaster/run")]
    # A stopped sitemaster is not an unreachable gateway.
    assert [m.text for m in probe.on(f"{BASE}/{SLUG}/availability")] == ["online"]


# -- refused by the gateway --------------------------------------------------------------------


@pytest.mark.parametrize("sim", ["21.44"], indirect=True)
async def test_customer_write_refused_then_refused_locally(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with bridge_for(broker, sim, tmp_path) as probe:
        answer = await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "25")
        assert answer["status"] == "error"
        assert answer["error"] == (
            "not permitted for the customer role on firmware 21.44 (403); pair a key: pw2mqtt pair"
        )
        await probe.wait_for(
            f"{BASE}/{SLUG}/backup_reserve/availability", lambda m: m.text == "offline"
        )
        calls = len(sim.calls)
        logins = sim.logins
        again = await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "26")
        assert again["error"] == answer["error"]
        assert [c for c in sim.calls[calls:] if (c.method, c.path) in WRITES] == []
        assert sim.logins == logins  # a write's 403 never triggers a new login
        stop = await command(probe, f"{BASE}/{SLUG}/sitemaster/set", "stop")
        assert stop["error"] == "not allowed by this gateway's firmware 21.44 (405)"
    assert writes(sim) == [("POST", "/api/operation"), ("GET", "/api/sitemaster/stop")]
    assert sim.state.sitemaster_running is True


@pytest.mark.parametrize("sim", ["21.44"], indirect=True)
async def test_installer_may_write(broker: Broker, sim: GatewaySimulator, tmp_path: Path) -> None:
    async with bridge_for(broker, sim, tmp_path, role="installer") as probe:
        answer = await command(probe, f"{BASE}/{SLUG}/operation_mode/set", "backup")
    assert answer["status"] == "ok", answer
    assert sim.state.mode == "backup"


@pytest.mark.parametrize("sim", ["25.10"], indirect=True)
async def test_customer_islanding_refused_on_25(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with bridge_for(broker, sim, tmp_path) as probe:
        answer = await command(probe, f"{BASE}/{SLUG}/off_grid/set", "true")
    assert answer["error"] == "not permitted for the customer role on firmware 25.10.1 (403)"
    assert sim.state.grid_status == "SystemGridConnected"


@pytest.mark.parametrize("sim", ["pw3-restricted"], indirect=True)
async def test_not_supported_on_a_powerwall_3(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with bridge_for(broker, sim, tmp_path, slug="pw3", name="pw3") as probe:
        answer = await command(probe, f"{BASE}/pw3/backup_reserve/set", "25")
    assert answer["error"] == "not supported on this gateway (404)"
    assert writes(sim) == []


# -- never executed ---------------------------------------------------------------------------


async def test_bad_inputs_never_reach_the_gateway(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    cases: list[tuple[str, bytes, str]] = [
        (f"{BASE}/{SLUG}/{key}/set", payload, message) for key, payload, message in BAD_FIELD_VALUES
    ]
    cases += [(f"{BASE}/{SLUG}/set", payload, message) for payload, message in BAD_JSON]
    cases += [
        (f"{BASE}/nosuchgateway/backup_reserve/set", b"20", "unknown gateway"),
        (f"{BASE}/nosuchgateway/set", b'{"backup_reserve": 20}', "unknown gateway"),
    ]
    async with bridge_for(broker, sim, tmp_path) as probe:
        for topic, payload, message in cases:
            answer = await command(probe, topic, payload, timeout=5)
            assert answer["status"] == "error", (topic, payload, answer)
            assert message in answer["error"], (topic, payload, answer)
            assert answer["data"] == {}
        request = await command(
            probe,
            f"{BASE}/bridge/request/gateway/set",
            b'{"gateway": "nope", "backup_reserve": 20, "transaction": "x"}',
            response=f"{BASE}/bridge/response/gateway/set",
        )
        assert request["transaction"] == "x"
        unknown = await command(
            probe,
            f"{BASE}/bridge/request/gateway/reboot",
            b"{}",
            response=f"{BASE}/bridge/response/gateway/reboot",
        )
        assert "unknown request" in unknown["error"]
    assert len(cases) >= 75
    assert writes(sim) == []


async def test_retained_commands_are_ignored(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
        # Left on the broker before the bridge starts, as a stale command would be.
        await probe.publish(f"{BASE}/{SLUG}/operation_mode/set", "backup", retain=True)
        await probe.publish(f"{BASE}/{SLUG}/set", '{"off_grid": true}', retain=True)
        async with bridge_for(broker, sim, tmp_path, protocol="5") as watcher:
            answer = await probe.wait_for(RESPONSE, timeout=10)  # subscribed before the bridge
            assert (
                "retained command messages are never executed"
                in json.loads(answer.payload)["error"]
            )
            # Under MQTT 5 the retain flag of a command published live is seen too.
            live = await command(watcher, f"{BASE}/{SLUG}/backup_reserve/set", "12", retain=True)
            assert live["status"] == "error"
        await probe.publish(f"{BASE}/{SLUG}/operation_mode/set", "", retain=True)
        await probe.publish(f"{BASE}/{SLUG}/set", "", retain=True)
        await probe.publish(f"{BASE}/{SLUG}/backup_reserve/set", "", retain=True)
    assert writes(sim) == []
    assert sim.state.mode == "self_consumption"


async def test_commands_are_off_until_enabled(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with bridge_for(broker, sim, tmp_path, commands={}) as probe:
        answer = await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "20")
        assert (
            answer["error"]
            == "backup_reserve commands are not enabled (set commands.backup_reserve: true)"
        )
        answer = await command(probe, f"{BASE}/{SLUG}/off_grid/set", "true")
        assert "commands.allow_grid_control" in answer["error"]
        config = await probe.wait_for(f"homeassistant/device/pw2mqtt_{SLUG}/config")
    components = json.loads(config.payload)["cmps"]
    assert components["operation_mode"]["p"] == "sensor"
    assert components["backup_reserve"]["p"] == "sensor"
    assert not {"off_grid", "sitemaster_run", "sitemaster_stop"} & set(components)
    assert writes(sim) == []


async def test_enabled_commands_are_announced_as_controls(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with bridge_for(broker, sim, tmp_path) as probe:
        config = await probe.wait_for(f"homeassistant/device/pw2mqtt_{SLUG}/config")
        await probe.wait_for(f"{BASE}/{SLUG}/off_grid/availability", lambda m: m.text == "online")
    components = json.loads(config.payload)["cmps"]
    assert components["operation_mode"]["p"] == "select"
    assert components["backup_reserve"]["p"] == "number"
    assert components["off_grid"]["p"] == "switch"
    assert components["sitemaster_stop"]["p"] == "button"


async def test_a_command_during_an_outage_is_rejected_and_never_runs_later(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with bridge_for(broker, sim, tmp_path) as probe:
        sim.set_faults(hang=True)
        await probe.wait_for(
            f"{BASE}/{SLUG}/availability", lambda m: m.text == "offline", timeout=15
        )
        answer = await command(probe, f"{BASE}/{SLUG}/operation_mode/set", "backup", timeout=5)
        assert answer["status"] == "error"
        assert "not queued" in answer["error"]
        sim.clear_faults()
        await probe.wait_for(
            f"{BASE}/{SLUG}/availability", lambda m: m.text == "online", timeout=20
        )
        await asyncio.sleep(3.0)
    assert writes(sim) == []
    assert sim.state.mode == "self_consumption"


async def test_a_burst_collapses_to_the_last_value(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with bridge_for(broker, sim, tmp_path) as probe:
        mark = probe.mark()
        for reserve in range(10, 60):  # 50 writes
            await probe.publish(f"{BASE}/{SLUG}/backup_reserve/set", str(reserve))
        deadline = asyncio.get_running_loop().time() + 60
        while len([m for m in probe.messages[mark:] if m.topic == RESPONSE]) < 50:
            assert asyncio.get_running_loop().time() < deadline, "not every command was answered"
            await asyncio.sleep(0.2)
        answers = [json.loads(m.payload) for m in probe.messages[mark:] if m.topic == RESPONSE]
    assert sim.state.backup_reserve_percent == pytest.approx(59 * 0.95 + 5, abs=0.01)
    ok = [a for a in answers if a["status"] == "ok"]
    superseded = [a for a in answers if "superseded" in a.get("error", "")]
    assert len(ok) + len(superseded) == 50
    assert ok[-1]["data"]["backup_reserve"] == pytest.approx(59)
    posts = [c for c in sim.calls if (c.method, c.path) == ("POST", "/api/operation")]
    assert 1 <= len(posts) <= 5  # serialized and collapsed, not 50 writes
    times = [c.time for c in posts]
    assert all(b - a >= 0.5 * 5 - 0.01 for a, b in itertools.pairwise(times))


async def test_mqtt5_response_topic_and_correlation_data(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with bridge_for(broker, sim, tmp_path, protocol="5") as probe:
        mark = probe.mark()
        await probe.publish(
            f"{BASE}/{SLUG}/backup_reserve/set",
            "22",
            response_topic="replies/node-red",
            correlation_data=b"\x01corr",
        )
        reply = await probe.wait_for("replies/node-red", start=mark, timeout=30)
    assert reply.correlation_data == b"\x01corr"
    assert json.loads(reply.payload)["status"] == "ok"


async def test_random_topics_and_payloads_never_write(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    rng = random.Random(20261123)
    alphabet = 'abcdefghijklmnopqrstuvwxyz_0123456789 .-{}[]":,ONFTRUE\\\x00é'
    keys = ["operation_mode", "backup_reserve", "backup_reserve_raw", "off_grid", "sitemaster",
            "grid_charging", "export_rule", "manual_backup",
            "grid_power", "", "set", "x"]  # fmt: skip
    messages: list[tuple[str, bytes]] = []
    while len(messages) < 1000:
        payload = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))).encode()
        shape = rng.randint(0, 3)
        gateway = SLUG if rng.random() < 0.8 else "".join(rng.choice("abc_1") for _ in range(5))
        if shape == 0:
            topic = f"{BASE}/{gateway}/{rng.choice(keys) or 'k'}/set"
        elif shape == 1:
            topic = f"{BASE}/{gateway}/set"
        elif shape == 2:
            topic = f"{BASE}/bridge/request/{rng.choice(['gateway/set', 'x', 'gateway/set/y'])}"
        else:
            topic = f"{BASE}/{gateway}/{rng.choice(keys) or 'k'}/set/extra"
        if _would_run(topic, gateway, payload):
            continue  # only invalid commands here; valid ones are tested above
        messages.append((topic, payload))
    async with bridge_for(broker, sim, tmp_path) as probe:
        for topic, payload in messages:
            await probe.publish(topic, payload)
        await probe.wait_for(f"{BASE}/{SLUG}/state", start=probe.mark(), timeout=10)  # still alive
    assert writes(sim) == []


def _would_run(topic: str, gateway: str, payload: bytes) -> bool:
    try:
        if topic.endswith(f"/{gateway}/set"):
            parse_json_set(payload, gateway=gateway)
        elif topic.count("/") == 3 and topic.endswith("/set") and "/bridge/" not in topic:
            parse_field_set(gateway, topic.split("/")[2], payload)
        elif "/bridge/request/gateway/set" in topic and topic.endswith("gateway/set"):
            parse_json_set(payload)
        else:
            return False
    except CommandError:
        return False
    return gateway == SLUG
