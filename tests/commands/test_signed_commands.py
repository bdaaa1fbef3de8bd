"""Commands over signed local control (v1r): mosquitto → bridge → simulator over real HTTPS, with
a real key file in the bridge's state directory and the simulator checking every signature."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pw2mqtt.commands.signed import RESERVE_KEY, write_config
from pw2mqtt.gateway.rest.client import GatewayClient
from pw2mqtt.gateway.tedapi.errors import V1R_PATH
from pw2mqtt.gateway.tedapi.keys import SigningKey, generate_key, key_path_for, save_key
from pw2mqtt.gateway.tedapi.transport import TedapiTransport
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from pw2mqtt.simulator.keys import KeyState
from tests.commands.test_commands import (
    ALL_COMMANDS,
    BASE,
    RESPONSE,
    SLUG,
    WRITES,
    _would_run,
    bridge_for,
    command,
)
from tests.commands.test_parse import BAD_FIELD_VALUES, BAD_JSON
from tests.gateway.tedapi.test_transport import gateway_settings
from tests.harness import bridge_settings, running_bridge
from tests.mqtt_probe import Broker, MqttProbe

SIGNED = {**ALL_COMMANDS, "grid_charging": True, "export_rule": True}


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_key(key_size=2048)


@pytest.fixture
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[GatewaySimulator]:
    profile = getattr(request, "param", "26.26")
    options = SimulatorOptions(control_port=None, speed=1.0, profile=profile)
    async with GatewaySimulator(options) as simulator:
        yield simulator


def with_key(key: SigningKey, tmp_path: Path) -> None:
    save_key(key, key_path_for(tmp_path / "state"))


def rest_writes(sim: GatewaySimulator) -> list[tuple[str, str]]:
    return [(c.method, c.path) for c in sim.calls if (c.method, c.path) in WRITES]


def signed_calls(sim: GatewaySimulator) -> int:
    return sum(1 for c in sim.calls if c.path == V1R_PATH)


def slug_of(sim: GatewaySimulator) -> dict[str, Any]:
    return {"slug": "pw3", "name": "pw3"} if sim.profile.name == "pw3" else {"slug": SLUG}


# -- applied over v1r and confirmed ---------------------------------------------------------------


@pytest.mark.parametrize("sim", ["26.26", "pw3"], indirect=True)
async def test_mode_and_reserve_over_v1r(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    with_key(key, tmp_path)
    sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
    names = slug_of(sim)
    slug = names["slug"]
    async with bridge_for(broker, sim, tmp_path, commands=SIGNED, **names) as probe:
        answer = await command(probe, f"{BASE}/{slug}/operation_mode/set", "backup")
        assert answer["status"] == "ok", answer
        assert answer["data"]["operation_mode"] == "backup"
        assert answer["data"]["transport"] == "v1r"
        assert sim.state.mode == "backup"
        answer = await command(probe, f"{BASE}/{slug}/backup_reserve/set", "40")
        assert answer["status"] == "ok", answer
        assert answer["data"]["backup_reserve_raw"] == 43.0  # app 40 → raw 43
        assert sim.state.backup_reserve_percent == 43.0
        assert sim.state.mode == "backup"  # kept as it was
        answer = await command(probe, f"{BASE}/{slug}/backup_reserve/set", "100")
        assert answer["status"] == "ok", answer  # up to 100 % locally
        assert sim.state.backup_reserve_percent == 100.0
    assert rest_writes(sim) == []
    assert sim.signed.config.writes == 3
    assert signed_calls(sim) >= 6


@contextlib.asynccontextmanager
async def bridge_with(
    broker: Broker,
    sim: GatewaySimulator,
    tmp_path: Path,
    commands: dict[str, Any],
    own: dict[str, Any] | None = None,
    *,
    protocol: str = "3.1.1",
) -> AsyncIterator[MqttProbe]:
    """The bridge with global `commands` and the gateway's `own` command block."""
    gateway: dict[str, Any] = {"timeout": 3.0}
    if own is not None:
        gateway["commands"] = own
    mqtt = {
        "host": broker.host,
        "port": broker.port,
        "client_id": "pw2mqtt-signed",
        "protocol": protocol,
    }
    values = bridge_settings([sim], mqtt, tmp_path / "state", gateway=gateway, commands=commands)
    async with running_bridge(values):
        async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
            await probe.wait_for(f"{BASE}/{SLUG}/availability", lambda m: m.text == "online")
            await probe.wait_for(f"{BASE}/{SLUG}/state", timeout=15)
            yield probe


@pytest.mark.parametrize("sim", ["26.26", "pw3"], indirect=True)
async def test_grid_charging_and_export_rule_over_v1r(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    with_key(key, tmp_path)
    sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
    assert sim.signed.config.grid_charging is True
    names = slug_of(sim)
    slug = names["slug"]
    async with bridge_for(broker, sim, tmp_path, commands=SIGNED, **names) as probe:
        body = {"grid_charging": False, "export_rule": "never", "transaction": "t-7"}
        answer = await command(probe, f"{BASE}/{slug}/set", json.dumps(body))
        assert answer["status"] == "ok", answer
        assert answer["transaction"] == "t-7"
        assert answer["data"]["grid_charging"] is False
        assert answer["data"]["export_rule"] == "never"
        # The config key is inverted: grid charging off is disallow_… true.
        assert sim.signed.config.grid_charging is False
        assert sim.signed.config.export_rule == "never"
        answer = await command(probe, f"{BASE}/{slug}/grid_charging/set", "ON")
        assert answer["status"] == "ok", answer
        assert sim.signed.config.grid_charging is True
        answer = await command(probe, f"{BASE}/{slug}/export_rule/set", "never")
        assert answer["data"]["unchanged"] is True
    assert sim.signed.config.writes == 2
    assert sim.state.mode == "self_consumption"  # nothing else touched
    assert rest_writes(sim) == []


# -- refused, with the reason and what would make it work -----------------------------------------


async def test_pending_key_under_v1r_is_refused_without_rest(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    with_key(key, tmp_path)
    sim.set_key_state(key.public_key_der, KeyState.PENDING)
    async with bridge_with(broker, sim, tmp_path, SIGNED, {"transport": "v1r"}) as probe:
        answer = await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "30")
        assert answer["status"] == "error"
        assert "is pending" in answer["error"]
        assert "power toggle" in answer["error"]
        assert "not sent over REST" in answer["error"]
        island = await command(probe, f"{BASE}/{SLUG}/off_grid/set", "true")
        assert "is pending" in island["error"]
        sim.set_key_state(key.public_key_der, KeyState.REMOVED)
        answer = await command(probe, f"{BASE}/{SLUG}/operation_mode/set", "backup")
        assert "pending" in answer["error"]  # the state is kept for a while, not asked each time
    assert rest_writes(sim) == []
    assert sim.signed.config.writes == 0
    assert sim.state.backup_reserve_percent == 24.0


async def test_a_key_removed_while_running_is_refused_without_rest(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    """Removed in the Tesla app after it worked: the gateway says the key is unknown, and
    nothing falls back to REST (a customer login's writes are refused there, and repeated
    refused writes are how accounts get locked out)."""
    with_key(key, tmp_path)
    sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
    commands = {**SIGNED, "min_interval": 0.0}
    async with bridge_with(broker, sim, tmp_path, commands) as probe:
        answer = await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "30")
        assert answer["status"] == "ok", answer
        sim.set_key_state(key.public_key_der, KeyState.REMOVED)
        answer = await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "50")
        assert answer["status"] == "error", answer
        assert "the gateway does not know this key" in answer["error"]
        assert "pair the key: pw2mqtt pair" in answer["error"]
    assert rest_writes(sim) == []
    assert sim.signed.config.writes == 1
    assert sim.state.backup_reserve_percent == pytest.approx(30 * 0.95 + 5)


async def test_unknown_key_under_v1r_says_to_pair(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    with_key(key, tmp_path)  # never registered with the gateway
    async with bridge_with(broker, sim, tmp_path, {**SIGNED, "transport": "v1r"}) as probe:
        answer = await command(probe, f"{BASE}/{SLUG}/grid_charging/set", "false")
    assert "unknown to the gateway" in answer["error"]
    assert "pw2mqtt pair" in answer["error"]
    assert rest_writes(sim) == []
    assert sim.signed.config.writes == 0


async def test_auto_without_a_verified_key_uses_rest_and_hints_at_pairing(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    with_key(key, tmp_path)
    sim.set_key_state(key.public_key_der, KeyState.PENDING)
    async with bridge_with(broker, sim, tmp_path, SIGNED) as probe:
        answer = await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "30")
        assert answer["error"] == (
            "not permitted for the customer role on firmware 26.26.4 (403); "
            "pair a key: pw2mqtt pair"
        )
        answer = await command(probe, f"{BASE}/{SLUG}/export_rule/set", "never")
        assert "only be set over signed local control" in answer["error"]
        assert "pw2mqtt pair" in answer["error"]
    assert rest_writes(sim) == [("POST", "/api/operation")]
    assert sim.signed.config.writes == 0


@pytest.mark.parametrize("sim", ["1.50"], indirect=True)
async def test_old_firmware_stays_on_rest_with_a_key(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    with_key(key, tmp_path)
    async with bridge_with(broker, sim, tmp_path, SIGNED) as probe:
        answer = await command(probe, f"{BASE}/{SLUG}/operation_mode/set", "backup")
        assert answer["status"] == "ok", answer
        assert "transport" not in answer["data"]
        answer = await command(probe, f"{BASE}/{SLUG}/grid_charging/set", "false")
        assert "only be set over signed local control" in answer["error"]
    assert sim.state.mode == "backup"
    assert rest_writes(sim) == [("POST", "/api/operation"), ("GET", "/api/config/completed")]
    assert signed_calls(sim) == 0


# -- the "next dispatch" quirk --------------------------------------------------------------------


async def test_quirk_workaround_is_used_and_reported(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    with_key(key, tmp_path)
    sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
    sim.set_signed_options(apply_at_dispatch=True)
    async with bridge_with(broker, sim, tmp_path, SIGNED) as probe:
        answer = await command(probe, f"{BASE}/{SLUG}/operation_mode/set", "backup")
        assert answer["status"] == "ok", answer
        assert "manual backup event was scheduled and cancelled" in answer["data"]["workaround"]
        assert sim.state.mode == "backup"
        assert sim.signed.config.pending is False
        # Grid charging alone needs no dispatch: no workaround.
        answer = await command(probe, f"{BASE}/{SLUG}/grid_charging/set", "false")
        assert answer["status"] == "ok", answer
        assert "workaround" not in answer["data"]
    assert sim.signed.state_json(sim.now())["manual_backup_until"] is None  # none left behind


async def test_quirk_without_the_workaround_is_not_ok(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    with_key(key, tmp_path)
    sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
    sim.set_signed_options(apply_at_dispatch=True)
    commands = {**SIGNED, "dispatch_workaround": False, "confirm_timeout": 3.0}
    async with bridge_with(broker, sim, tmp_path, commands) as probe:
        answer = await command(probe, f"{BASE}/{SLUG}/operation_mode/set", "backup")
    assert answer["status"] == "error"
    assert "did not show" in answer["error"]
    assert sim.state.mode == "self_consumption"
    assert sim.signed.config.pending is True


# -- a config.json that changed between read and write --------------------------------------------


class _ChangedAfterFirstRead:
    """The real transport, with the site changed behind its back right after its first read."""

    def __init__(self, inner: TedapiTransport, sim: GatewaySimulator) -> None:
        self._inner = inner
        self._sim = sim
        self.reads = 0

    async def read_config(self) -> tuple[dict[str, Any], bytes]:
        got = await self._inner.read_config()
        self.reads += 1
        if self.reads == 1:
            self._sim.set_operation("autonomous", 50.0)
        return got

    async def write_config(self, config: dict[str, Any], read_hash: bytes) -> bytes:
        return await self._inner.write_config(config, read_hash)


async def test_stale_hash_reads_again_and_writes_once_more(
    sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
    async with GatewayClient(gateway_settings(sim.port), tmp_path) as client:
        signed = _ChangedAfterFirstRead(client.tedapi(key), sim)
        await write_config(signed, {RESERVE_KEY: 43.0})  # type: ignore[arg-type]
    assert signed.reads == 2
    assert sim.signed.config.writes == 1
    assert sim.state.backup_reserve_percent == 43.0
    assert sim.state.mode == "autonomous"  # the other change is kept, not overwritten


# -- per-gateway settings and retained commands ---------------------------------------------------


async def test_gateway_block_overrides_the_global_one(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    with_key(key, tmp_path)
    sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
    own = {"backup_reserve": True, "operation_mode": False, "min_interval": 3.0}
    common = {"operation_mode": True, "min_interval": 0.0}
    async with bridge_with(broker, sim, tmp_path, common, own) as probe:
        answer = await command(probe, f"{BASE}/{SLUG}/operation_mode/set", "backup")
        assert "operation_mode commands are not enabled" in answer["error"]
        answer = await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "40")
        assert answer["status"] == "ok", answer
        first = time.monotonic()
        answer = await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "45")
        assert answer["status"] == "ok", answer
        # The gateway's own min_interval, not the global 0: the second write waited for it.
        assert time.monotonic() - first >= 2.5
    assert sim.state.backup_reserve_percent == pytest.approx(45 * 0.95 + 5)
    assert sim.state.mode == "self_consumption"


async def test_retained_command_is_refused_and_cleared(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    with_key(key, tmp_path)
    sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
    topic = f"{BASE}/{SLUG}/grid_charging/set"
    async with MqttProbe(broker, [f"{BASE}/bridge/#"]) as probe:
        await probe.publish(topic, "false", retain=True)
        async with bridge_with(broker, sim, tmp_path, SIGNED):
            answer = await probe.wait_for(f"{BASE}/bridge/response/gateway/set", timeout=15)
            assert "retained command messages are never executed" in answer.text
            await asyncio.sleep(1.0)
            async with MqttProbe(broker, [topic]) as late:
                await asyncio.sleep(1.0)
                assert late.on(topic) == []  # nothing retained is left for a new subscriber
        responses = probe.on(f"{BASE}/bridge/response/gateway/set")
        assert len(responses) == 1  # the clearing message itself is not answered
    assert sim.signed.config.writes == 0
    assert sim.signed.config.grid_charging is True


async def test_bad_new_commands_never_reach_the_gateway(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    with_key(key, tmp_path)
    sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
    cases: list[tuple[str, bytes, str]] = [
        (f"{BASE}/{SLUG}/{field}/set", payload, message)
        for field, payload, message in BAD_FIELD_VALUES
        if field in ("grid_charging", "export_rule")
    ]
    cases += [
        (f"{BASE}/{SLUG}/set", payload, message)
        for payload, message in BAD_JSON
        if b"grid" in payload or b"export" in payload
    ]
    cases += [
        (f"{BASE}/nosuch/grid_charging/set", b"false", "unknown gateway"),
        (f"{BASE}/bridge/request/gateway/set", b'{"gateway": "+", "export_rule": "never"}',
         "unknown gateway"),
        (f"{BASE}/bridge/request/gateway/set", b'{"gateway": "#", "grid_charging": false}',
         "unknown gateway"),
    ]  # fmt: skip
    async with bridge_with(broker, sim, tmp_path, {**SIGNED, "min_interval": 3.0}) as probe:
        for topic, payload, message in cases:
            answer = await command(probe, topic, payload, timeout=5)
            assert answer["status"] == "error", (topic, payload, answer)
            assert message in answer["error"], (topic, payload, answer)
        first = await command(probe, f"{BASE}/{SLUG}/export_rule/set", "never")
        assert first["status"] == "ok", first
        # A second write of the kind within min_interval waits; a newer one supersedes it.
        mark = probe.mark()
        await probe.publish(f"{BASE}/{SLUG}/export_rule/set", "battery_ok")
        await probe.publish(f"{BASE}/{SLUG}/export_rule/set", "pv_only")
        superseded = await probe.wait_for(RESPONSE, timeout=10, start=mark)
        assert "superseded" in json.loads(superseded.payload)["error"]
    assert len(cases) >= 25
    assert sim.signed.config.writes == 1  # only the one valid command
    assert sim.signed.config.export_rule == "never"


# -- manual backup events ---------------------------------------------------------------------


@pytest.mark.parametrize("sim", ["26.26", "pw3"], indirect=True)
async def test_manual_backup_start_replace_and_cancel(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    with_key(key, tmp_path)
    sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
    commands = {**SIGNED, "manual_backup": True, "min_interval": 0.0}
    names = slug_of(sim)
    slug = names["slug"]
    async with bridge_for(broker, sim, tmp_path, commands=commands, **names) as p:
        answer = await command(p, f"{BASE}/{slug}/manual_backup/set", "start")
        assert answer["status"] == "ok", answer
        assert answer["data"]["manual_backup"] == 3600
        until = sim.signed.state_json(sim.now())["manual_backup_until"]
        assert until == pytest.approx(sim.now() + 3600, abs=5)
        # A running event is cancelled first, as the gateway requires, then the new one starts.
        body = {"manual_backup": {"duration": 7200}, "transaction": 5}
        answer = await command(p, f"{BASE}/{slug}/set", json.dumps(body))
        assert answer["status"] == "ok", answer
        assert answer["transaction"] == 5
        until = sim.signed.state_json(sim.now())["manual_backup_until"]
        assert until == pytest.approx(sim.now() + 7200, abs=5)
        answer = await command(p, f"{BASE}/{slug}/manual_backup/set", "cancel")
        assert answer["status"] == "ok", answer
        assert sim.signed.state_json(sim.now())["manual_backup_until"] is None
        answer = await command(p, f"{BASE}/{slug}/manual_backup/set", "cancel")
        assert answer["data"]["unchanged"] is True
        components = json.loads(
            (await p.wait_for(f"homeassistant/device/pw2mqtt_{slug}/config")).payload
        )["cmps"]
    assert components["manual_backup_start"]["p"] == "button"
    assert components["manual_backup_start"]["payload_press"] == "start"
    assert components["manual_backup_cancel"]["payload_press"] == "cancel"
    assert rest_writes(sim) == []


async def test_manual_backup_bad_input_never_reaches_the_gateway(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    with_key(key, tmp_path)
    sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
    cases = [
        (f"{BASE}/{SLUG}/manual_backup/set", payload, message)
        for field, payload, message in BAD_FIELD_VALUES
        if field == "manual_backup"
    ]
    cases += [
        (f"{BASE}/{SLUG}/set", payload, message)
        for payload, message in BAD_JSON
        if b"manual_backup" in payload
    ]
    cases.append((f"{BASE}/nosuch/manual_backup/set", b"start", "unknown gateway"))
    commands = {**SIGNED, "manual_backup": True}
    async with bridge_with(broker, sim, tmp_path, commands, protocol="5") as probe:
        for topic, payload, message in cases:
            answer = await command(probe, topic, payload, timeout=5)
            assert answer["status"] == "error", (topic, payload, answer)
            assert message in answer["error"], (topic, payload, answer)
        calls = signed_calls(sim)
        live = await command(probe, f"{BASE}/{SLUG}/manual_backup/set", "start", retain=True)
        assert "retained" in live["error"]
    assert len(cases) >= 15
    assert sim.signed.state_json(sim.now())["manual_backup_until"] is None
    assert signed_calls(sim) == calls  # the retained start reached nothing


async def test_pairing_lifts_a_remembered_rest_refusal(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    async with bridge_with(broker, sim, tmp_path, SIGNED) as probe:  # no key yet
        answer = await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "30")
        assert answer["error"].endswith("(403); pair a key: pw2mqtt pair")
        again = await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "30")
        assert again["error"] == answer["error"]  # remembered, not asked again
    assert rest_writes(sim) == [("POST", "/api/operation")]
    with_key(key, tmp_path)  # paired, then the bridge restarted
    sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
    async with bridge_with(broker, sim, tmp_path, SIGNED) as probe:
        mark = probe.mark()
        answer = await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "30")
        assert answer["status"] == "ok", answer
        await probe.wait_for(
            f"{BASE}/{SLUG}/backup_reserve/availability",
            lambda m: m.text == "online",
            start=mark,
        )
    assert sim.state.backup_reserve_percent == 33.5
    assert rest_writes(sim) == [("POST", "/api/operation")]


# -- off-grid over v1r (experimental) ----------------------------------------------------------


@pytest.mark.parametrize("sim", ["26.26", "pw3"], indirect=True)
async def test_off_grid_over_v1r_needs_confirming(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    with_key(key, tmp_path)
    sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
    commands = {**SIGNED, "transport": "v1r", "min_interval": 0.0}
    names = slug_of(sim)
    slug = names["slug"]
    async with bridge_for(broker, sim, tmp_path, commands=commands, **names) as probe:
        bare = await command(probe, f"{BASE}/{slug}/off_grid/set", "true")
        assert "needs confirming" in bare["error"]
        assert sim.state.grid_status == "SystemGridConnected"
        unconfirmed = json.dumps({"off_grid": True, "confirm": False})
        answer = await command(probe, f"{BASE}/{slug}/set", unconfirmed)
        # The second unconfirmed request within 30 s is the confirmation.
        assert answer["status"] == "ok", answer
        assert answer["data"] == {"gateway": slug, "off_grid": True, "transport": "v1r"}
        assert sim.state.grid_status == "SystemIslandedActive"
        back = await command(probe, f"{BASE}/{slug}/off_grid/set", "false")
        assert back["status"] == "ok", back  # going back needs no confirmation
        assert sim.state.grid_status == "SystemGridConnected"
        confirmed = json.dumps({"off_grid": True, "confirm": True, "transaction": "storm"})
        answer = await command(probe, f"{BASE}/{slug}/set", confirmed)
        assert answer["status"] == "ok", answer
        assert sim.state.grid_status == "SystemIslandedActive"
        bad = await command(probe, f"{BASE}/{slug}/set", '{"backup_reserve": 20, "confirm": true}')
        assert '"confirm" goes with "off_grid" only' in bad["error"]
    assert rest_writes(sim) == []


async def test_random_messages_never_write_over_v1r(
    broker: Broker, sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    with_key(key, tmp_path)
    sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "pw2mqtt")
    rng = random.Random(20261202)
    alphabet = 'abcdefghijklmnopqrstuvwxyz_0123456789 .-{}[]":,ONFTRUE\\\x00é'
    keys = ["grid_charging", "export_rule", "manual_backup", "off_grid", "backup_reserve",
            "operation_mode", "confirm", "duration", ""]  # fmt: skip
    messages: list[tuple[str, bytes]] = []
    while len(messages) < 1000:
        payload = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))).encode()
        if rng.random() < 0.3:
            field = rng.choice(keys) or "x"
            payload = json.dumps({field: payload.decode(errors="replace")}).encode()
        gateway = SLUG if rng.random() < 0.8 else "".join(rng.choice("abc_1") for _ in range(5))
        topic = rng.choice(
            [f"{BASE}/{gateway}/{rng.choice(keys) or 'k'}/set", f"{BASE}/{gateway}/set"]
        )
        if not _would_run(topic, gateway, payload):
            messages.append((topic, payload))
    commands = {**SIGNED, "manual_backup": True, "transport": "v1r"}
    async with bridge_with(broker, sim, tmp_path, commands) as probe:
        for topic, payload in messages:
            await probe.publish(topic, payload)
        await probe.wait_for(f"{BASE}/{SLUG}/state", start=probe.mark(), timeout=10)  # alive
    assert sim.signed.config.writes == 0
    assert sim.signed.state_json(sim.now())["manual_backup_until"] is None
    assert sim.state.grid_status == "SystemGridConnected"
    assert rest_writes(sim) == []
