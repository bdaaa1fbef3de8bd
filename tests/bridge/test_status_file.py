"""`pw2mqtt healthcheck`'s verdict from the status file, alone and as a member of a fleet."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pw2mqtt.bridge.status_file import BridgeStatus, check_health, write_status

NOW = 1_800_000_000.0


def status(**changes: object) -> BridgeStatus:
    values: dict[str, object] = {
        "pid": os.getpid(),
        "updated": NOW - 2,
        "mqtt_connected": True,
        "last_poll_ok": NOW - 3,
        "gateways_owned": 2,
        **changes,
    }
    return BridgeStatus(**values)  # type: ignore[arg-type]


def verdict(tmp_path: Path, written: BridgeStatus) -> tuple[bool, str]:
    write_status(tmp_path, written)
    return check_health(tmp_path, max_age=120, now=NOW)


def test_a_bridge_polling_its_gateways_is_healthy(tmp_path: Path) -> None:
    assert verdict(tmp_path, status()) == (True, "ok: MQTT connected, gateway polled recently")


def test_no_recent_poll_of_its_own_gateways_is_unhealthy(tmp_path: Path) -> None:
    assert verdict(tmp_path, status(last_poll_ok=NOW - 600)) == (
        False,
        "no gateway answered recently",
    )
    assert verdict(tmp_path, status(last_poll_ok=None))[0] is False


def test_a_fleet_member_with_no_gateway_of_its_own_is_healthy_while_connected(
    tmp_path: Path,
) -> None:
    idle = status(last_poll_ok=None, gateways_owned=0)
    assert verdict(tmp_path, idle) == (
        True,
        "ok: MQTT connected, no gateway is this instance's to poll right now",
    )
    assert verdict(tmp_path, status(last_poll_ok=None, gateways_owned=0, mqtt_connected=False)) == (
        False,
        "the MQTT broker is not connected",
    )
    stale = status(gateways_owned=0, updated=NOW - 600)
    assert verdict(tmp_path, stale)[1] == "the bridge has not updated its status for 600 s"


def test_a_status_file_from_before_fleets_is_read_as_before(tmp_path: Path) -> None:
    old = {"pid": os.getpid(), "updated": NOW - 2, "mqtt_connected": True, "last_poll_ok": None}
    (tmp_path / "status.json").write_text(json.dumps(old))
    assert check_health(tmp_path, max_age=120, now=NOW) == (False, "no gateway answered recently")
