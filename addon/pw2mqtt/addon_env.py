"""Home Assistant add-on: options and the Supervisor's MQTT service -> `PW2MQTT_...` variables.

    addon_env.py run      exec `pw2mqtt run` with the variables set (what run.sh does)
    addon_env.py print    print the variables as JSON, passwords included (for tests)

Inputs:
- the add-on's options, `/data/options.json` (`ADDON_OPTIONS` overrides the path);
- the MQTT service, from the Supervisor API: `GET $SUPERVISOR_URL/services/mqtt` (default
  `http://supervisor`) with `Authorization: Bearer $SUPERVISOR_TOKEN`. The Supervisor answers
  `{"result": "ok", "data": {"host", "port", "ssl", "username", "password", "protocol"}}` for an
  add-on that declares `services: [mqtt:need]`. (bashio's `bashio::services mqtt` asks the same
  endpoint; plain Python keeps the add-on free of bashio.)

Standard library only: it runs with the add-on's Python before anything else.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any, NoReturn

STATE_DIR = "/data/state"
BRIDGE = "/opt/pw2mqtt/bin/pw2mqtt"  # where the add-on's Dockerfile installs it
COMMAND_KINDS = ("operation_mode", "backup_reserve", "off_grid", "sitemaster", "allow_grid_control")
MQTT_PROTOCOLS = {"3.1.1": "3.1.1", "5": "5", "5.0": "5"}


def gateway_env(options: dict[str, Any]) -> dict[str, str]:
    """The add-on's options as `PW2MQTT_...` variables."""
    gw = "PW2MQTT_GATEWAYS__0__"
    env = {
        f"{gw}HOST": str(options["host"]),
        f"{gw}PASSWORD": str(options["password"]),
        f"{gw}ROLE": str(options.get("role", "customer")),
        "PW2MQTT_MQTT__BASE_TOPIC": str(options.get("base_topic", "pw2mqtt")),
        "PW2MQTT_HOMEASSISTANT__DISCOVERY_PREFIX": str(
            options.get("discovery_prefix", "homeassistant")
        ),
        "PW2MQTT_LOG_LEVEL": str(options.get("log_level", "info")),
        "PW2MQTT_STATE_DIR": os.environ.get("PW2MQTT_STATE_DIR", STATE_DIR),
    }
    optional = {
        "name": f"{gw}NAME",
        "server_name": f"{gw}SERVER_NAME",
        "tls_fingerprint": f"{gw}TLS__FINGERPRINT",
        "poll_fast": f"{gw}POLL__FAST",
    }
    for key, variable in optional.items():
        if options.get(key) is not None:
            env[variable] = str(options[key])
    commands = options.get("commands") or {}
    for kind in COMMAND_KINDS:
        env[f"PW2MQTT_COMMANDS__{kind.upper()}"] = "true" if commands.get(kind) else "false"
    return env


def mqtt_env(service: dict[str, Any]) -> dict[str, str]:
    """The Supervisor's MQTT service answer (`data`) as `PW2MQTT_MQTT__...` variables."""
    env = {
        "PW2MQTT_MQTT__HOST": str(service["host"]),
        "PW2MQTT_MQTT__PORT": str(service["port"]),
        "PW2MQTT_MQTT__TLS__ENABLED": "true" if service.get("ssl") else "false",
        "PW2MQTT_MQTT__CLIENT_ID": "pw2mqtt-addon",
    }
    if service.get("username"):
        env["PW2MQTT_MQTT__USERNAME"] = str(service["username"])
    if service.get("password"):
        env["PW2MQTT_MQTT__PASSWORD"] = str(service["password"])
    protocol = MQTT_PROTOCOLS.get(str(service.get("protocol", "")))
    if protocol is not None:
        env["PW2MQTT_MQTT__PROTOCOL"] = protocol
    return env


def fetch_mqtt_service() -> dict[str, Any]:
    url = os.environ.get("SUPERVISOR_URL", "http://supervisor").rstrip("/") + "/services/mqtt"
    token = os.environ.get("SUPERVISOR_TOKEN", "")
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"pw2mqtt add-on: SUPERVISOR_URL must be http(s): {url}")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - checked above
            answer = json.load(response)
    except OSError as err:
        raise SystemExit(
            f"pw2mqtt add-on: no MQTT service from the Supervisor ({err}); install and start "
            "the Mosquitto broker add-on"
        ) from None
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, dict) or "host" not in data:
        raise SystemExit(f"pw2mqtt add-on: unexpected MQTT service answer: {answer!r:.200}")
    return data


def build_env() -> dict[str, str]:
    options_path = Path(os.environ.get("ADDON_OPTIONS", "/data/options.json"))
    options = json.loads(options_path.read_text(encoding="utf-8"))
    return {**gateway_env(options), **mqtt_env(fetch_mqtt_service())}


def main(argv: list[str]) -> int:
    action = argv[1] if len(argv) > 1 else "run"
    if action not in ("run", "print"):
        print(f"usage: {argv[0]} run|print", file=sys.stderr)
        return 2
    env = build_env()
    if action == "run":
        exec_bridge(env)
    print(json.dumps(env, indent=2, sort_keys=True))
    return 0


def exec_bridge(env: dict[str, str]) -> NoReturn:
    """Replace this process with `pw2mqtt run`: the bridge stays PID 1 and gets SIGTERM."""
    bridge = os.environ.get("PW2MQTT_BIN", BRIDGE)
    os.execve(bridge, [bridge, "run"], {**os.environ, **env})  # noqa: S606 - our own binary


if __name__ == "__main__":
    sys.exit(main(sys.argv))
