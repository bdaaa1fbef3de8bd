"""A small status file the bridge keeps, so a health check needs no broker or gateway request.

The bridge rewrites `<state_dir>/status.json` at most every few seconds; `pw2mqtt healthcheck`
(Docker's HEALTHCHECK) reads it: healthy while the MQTT connection is up and some gateway was
polled successfully recently, or, in a fleet, no gateway is this instance's to poll.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

STATUS_FILE = "status.json"


@dataclass(frozen=True, slots=True)
class BridgeStatus:
    pid: int
    updated: float  # epoch seconds
    mqtt_connected: bool
    last_poll_ok: float | None  # epoch seconds of the newest successful poll of any gateway
    gateways_owned: int | None = None  # polled by this instance (None: written before fleets)


def write_status(state_dir: Path, status: BridgeStatus) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / STATUS_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(status)), encoding="utf-8")
    temporary.replace(path)


def check_health(state_dir: Path, max_age: float, now: float | None = None) -> tuple[bool, str]:
    """(healthy, one line saying why)."""
    now = time.time() if now is None else now
    try:
        data = json.loads((state_dir / STATUS_FILE).read_text(encoding="utf-8"))
        status = BridgeStatus(**data)
    except FileNotFoundError:
        return False, f"no status file in {state_dir}: is the bridge running?"
    except (ValueError, TypeError):
        return False, f"unreadable status file in {state_dir}"
    idle = status.gateways_owned == 0  # a fleet member whose share is empty right now
    problems = (
        (now - status.updated > max_age, f"the bridge has not updated its status for "
         f"{now - status.updated:.0f} s"),
        (not _alive(status.pid), f"the bridge (pid {status.pid}) is not running"),
        (not status.mqtt_connected, "the MQTT broker is not connected"),
        (not idle and (status.last_poll_ok is None or now - status.last_poll_ok > max_age),
         "no gateway answered recently"),
    )  # fmt: skip
    for failed, reason in problems:
        if failed:
            return False, reason
    if idle:
        return True, "ok: MQTT connected, no gateway is this instance's to poll right now"
    return True, "ok: MQTT connected, gateway polled recently"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
