"""What Home Assistant users see of their commands: the result entity, controls that stay
available, refusals shared by one gateway call and remembered across restarts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from pw2mqtt.commands.result import CommandResult
from pw2mqtt.gateway.state import GatewayState, StoredRefusal
from pw2mqtt.simulator import GatewaySimulator
from tests.commands.test_commands import BASE, SLUG, bridge_for, command, sim, writes
from tests.mqtt_probe import Broker

LAST = f"{BASE}/{SLUG}/last_command"
DETAILS = f"{BASE}/{SLUG}/last_command_details"
__all__ = ["sim"]  # the fixture, shared with test_commands
REFUSED = "not permitted for the customer role on firmware 21.44 (403); pair a key: pw2mqtt pair"


@pytest.mark.parametrize("sim", ["21.44"], indirect=True)
async def test_a_refusal_is_shown_and_the_controls_keep_the_real_value(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with bridge_for(broker, sim, tmp_path) as probe:
        config = await probe.wait_for(
            f"homeassistant/device/pw2mqtt_{SLUG}/config", lambda m: b"last_command" in m.payload
        )
        reserve_before = (await probe.wait_for(f"{BASE}/{SLUG}/backup_reserve")).text
        answer = await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "25")
        last = await probe.wait_for(LAST, lambda m: "refused" in m.text)
        details = await probe.wait_for(DETAILS, lambda m: b"refused" in m.payload)
        # Mode and reserve are one gateway call: the mode is refused too, without a write.
        mode = await command(probe, f"{BASE}/{SLUG}/operation_mode/set", "backup")
        mode_last = await probe.wait_for(LAST, lambda m: m.text.startswith("operation_mode"))
        await probe.wait_for(
            f"{BASE}/{SLUG}/operation_mode/availability", lambda m: m.text == "offline"
        )
        mark = probe.mark()
        reserve_after = await probe.wait_for(f"{BASE}/{SLUG}/state", start=mark, timeout=15)
    assert answer["error"] == REFUSED
    assert last.text == f"backup_reserve 25: refused, {REFUSED}"
    assert last.retain
    body = json.loads(details.payload)
    assert (body["status"], body["reason"], body["change"]["backup_reserve"]) == (
        "refused",
        REFUSED,
        25,
    )
    assert details.retain
    assert mode["error"] == REFUSED
    assert mode_last.text == f"operation_mode backup: refused, {REFUSED}"
    assert writes(sim) == [("POST", "/api/operation")]
    components = json.loads(config.payload)["cmps"]
    assert components["last_command"]["p"] == "sensor"
    assert components["last_command"]["json_attributes_topic"] == DETAILS
    assert components["last_command"]["entity_category"] == "diagnostic"
    for control in ("backup_reserve", "operation_mode"):
        # The bridge, the gateway and the endpoint the value is read from; never the refused kind.
        topics = [entry["topic"] for entry in components[control]["availability"]]
        gateway = f"{BASE}/{SLUG}/availability"
        assert topics == [f"{BASE}/bridge/state", gateway, f"{gateway}/operation"]
    # Filled by the bridge itself: it follows the bridge and the gateway alone.
    assert [entry["topic"] for entry in components["last_command"]["availability"]] == [
        f"{BASE}/bridge/state",
        f"{BASE}/{SLUG}/availability",
    ]
    state = json.loads(reserve_after.payload)
    assert format(state["backup_reserve"], "g") == reserve_before  # the gateway's real value
    assert state["last_command"] == mode_last.text


@pytest.mark.parametrize("sim", ["21.44"], indirect=True)
async def test_a_refusal_is_remembered_across_a_restart(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with bridge_for(broker, sim, tmp_path) as probe:
        await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "25")
    [stored] = list((tmp_path / "state").glob("*/refused-commands.json"))
    assert stored.stat().st_mode & 0o777 == 0o600
    async with bridge_for(broker, sim, tmp_path) as probe:
        await probe.wait_for(
            f"{BASE}/{SLUG}/backup_reserve/availability", lambda m: m.text == "offline"
        )
        again = await command(probe, f"{BASE}/{SLUG}/operation_mode/set", "autonomous")
    assert again["error"] == REFUSED
    assert writes(sim) == [("POST", "/api/operation")]  # the first bridge's, only


async def test_applied_unchanged_and_rejected_commands_are_shown(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    async with bridge_for(broker, sim, tmp_path) as probe:
        await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "30")
        applied = await probe.wait_for(LAST, lambda m: "applied" in m.text)
        await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "30")
        unchanged = await probe.wait_for(LAST, lambda m: "unchanged" in m.text)
        await command(probe, f"{BASE}/{SLUG}/backup_reserve/set", "\u0662\u0660")
        rejected = await probe.wait_for(LAST, lambda m: "rejected" in m.text)
        await command(probe, f"{BASE}/nosuchgateway/backup_reserve/set", "20")
        details = await probe.wait_for(DETAILS, lambda m: b"rejected" in m.payload)
    assert applied.text == "backup_reserve 30: applied"
    assert unchanged.text == "backup_reserve 30: unchanged"
    assert rejected.text == "command: rejected, backup_reserve must be a number from 0 to 100"
    assert json.loads(details.payload)["status"] == "rejected"
    assert not [m for m in probe.messages if "nosuchgateway/last_command" in m.topic]


def test_a_long_reason_is_cut_to_what_home_assistant_keeps() -> None:
    result = CommandResult("gw", "failed", {"operation_mode": "backup"}, "x" * 400)
    assert len(result.summary) == 255
    assert result.summary.startswith("operation_mode backup: failed, xxx")


def test_stored_refusals_that_cannot_be_read_are_forgotten_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = GatewayState(tmp_path)
    refusal = StoredRefusal("backup_reserve", "no (403)", 2e9, "customer", "21.44")
    state.save_refusals([refusal])
    assert state.load_refusals() == (refusal,)
    for broken in ("{", "[]", '{"refused": 5}', '{"refused": [{"kind": 1}]}', "\udcff"):
        (tmp_path / "refused-commands.json").write_text(broken, errors="surrogateescape")
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert state.load_refusals() == ()
        assert len(caplog.records) == 1, broken
        assert "forgotten" in caplog.records[0].getMessage()
