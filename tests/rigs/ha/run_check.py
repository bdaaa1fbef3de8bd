"""What a real Home Assistant makes of a bridge's MQTT discovery, as JSON.

Runs with the Python of the rig that `scripts/install-ha.sh` installs (tests.rigs.HA_PYTHON):

    HA_PYTHON run_check.py --mqtt-port P --ha-port Q --workdir DIR --out RESULT.json \
        [--wait S] [--call 'DOMAIN.SERVICE {JSON}']... [--call-settle S] -- BRIDGE COMMAND...

1. Mosquitto on 127.0.0.1:P, and a recorder subscribed to `#` (MQTT 5, retain as published).
2. Home Assistant on 127.0.0.1:Q from a configuration written here: onboarding done, one MQTT
   entry for that broker with discovery on, a long-lived access token signed here. It waits until
   the API answers and the MQTT entry is loaded.
3. The bridge command; then --wait seconds, Home Assistant's birth message, and until the MQTT
   entities and their states stop changing.
4. Each --call in order: the service is called, and what then reaches the broker outside the
   discovery prefix is recorded with the target entity's state after --call-settle seconds.
5. RESULT.json: `entities`, `devices`, `calls`, and `log_issues` (Home Assistant's warnings and
   errors that concern MQTT). Everything started is stopped by its process group, also on error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import paho.mqtt.client as mqtt
from paho.mqtt.subscribeoptions import SubscribeOptions

PREFIX = "homeassistant"
SETTLE = 1.5  # entities and states unchanged this long: Home Assistant is done with discovery
SETTLE_MAX = 15.0
BIRTH_TIMEOUT = 30.0
STARTUP_TIMEOUT = 180.0


def say(text: str) -> None:
    print(f"ha-rig: {text}", file=sys.stderr, flush=True)


class Processes:
    """What the rig started, each in its own session, stopped by process group."""

    def __init__(self) -> None:
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started.append((name, process))
        say(f"{name} started (pid {process.pid})")
        return process

    def stop_all(self) -> None:
        for name, process in reversed(self.started):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(5)
            say(f"{name} stopped ({process.returncode})")


class Recorder:
    """Every message on the broker, with the publisher's retain flag."""

    def __init__(self, port: int) -> None:
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="ha-rig-recorder", protocol=mqtt.MQTTv5
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise RuntimeError("the recorder could not subscribe on the rig's broker")

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe("#", options=SubscribeOptions(qos=1, retainAsPublished=True))

    def _on_message(self, _client: mqtt.Client, _data: Any, message: mqtt.MQTTMessage) -> None:
        record = {
            "topic": message.topic,
            "payload": message.payload.decode(errors="replace"),
            "retain": bool(message.retain),
            "qos": message.qos,
        }
        with self.lock:
            self.messages.append(record)

    def mark(self) -> int:
        with self.lock:
            return len(self.messages)

    def since(self, mark: int) -> list[dict[str, Any]]:
        with self.lock:
            return self.messages[mark:]

    def born(self) -> bool:
        return any(
            m["topic"] == f"{PREFIX}/status" and m["payload"] == "online" for m in self.since(0)
        )

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def write_config(config: Path, ha_port: int, mqtt_port: int) -> str:
    """A configuration Home Assistant starts from without any setup step; its access token."""
    storage = config / ".storage"
    storage.mkdir(parents=True)
    (config / "configuration.yaml").write_text(
        "homeassistant:\n  name: pw2mqtt test\n  latitude: 0\n  longitude: 0\n  elevation: 0\n"
        "  unit_system: metric\n  time_zone: UTC\n  currency: EUR\n  country: DE\n"
        f"http:\n  server_host: 127.0.0.1\n  server_port: {ha_port}\n"
        "api:\nlogger:\n  default: warning\n"
    )
    now = datetime.now(UTC).isoformat()

    def store(key: str, version: int, minor: int, data: dict[str, Any]) -> None:
        record = {"version": version, "minor_version": minor, "key": key, "data": data}
        (storage / key).write_text(json.dumps(record))

    store("onboarding", 4, 1, {"done": ["user", "core_config", "analytics", "integration"]})
    user, token_id, jwt_key = uuid.uuid4().hex, uuid.uuid4().hex, secrets.token_hex(64)
    refresh_token = {
        "id": token_id, "user_id": user, "client_id": None, "client_name": "pw2mqtt tests",
        "client_icon": None, "token_type": "long_lived_access_token", "created_at": now,
        "access_token_expiration": 86400.0 * 365, "token": secrets.token_hex(64),
        "jwt_key": jwt_key, "last_used_at": None, "last_used_ip": None, "expire_at": None,
        "credential_id": None, "version": None,
    }  # fmt: skip
    store("auth", 1, 1, {
        "users": [{
            "id": user, "group_ids": ["system-admin"], "is_owner": True, "is_active": True,
            "name": "pw2mqtt tests", "system_generated": False, "local_only": False,
        }],
        "groups": [{"id": "system-admin", "name": "Administrators"}],
        "credentials": [],
        "refresh_tokens": [refresh_token],
    })  # fmt: skip
    store("core.config_entries", 1, 5, {"entries": [{
        "entry_id": uuid.uuid4().hex, "version": 1, "minor_version": 1, "domain": "mqtt",
        "title": "rig broker", "source": "user", "unique_id": None, "options": {},
        "data": {"broker": "127.0.0.1", "port": mqtt_port, "discovery": True,
                 "discovery_prefix": PREFIX},
        "created_at": now, "modified_at": now, "disabled_by": None, "discovery_keys": {},
        "pref_disable_new_entities": False, "pref_disable_polling": False, "subentries": [],
    }]})  # fmt: skip
    issued = int(time.time())
    return jwt.encode({"iss": token_id, "iat": issued, "exp": issued + 86400}, jwt_key, "HS256")


class Api:
    """Home Assistant's websocket API, one connection per use."""

    def __init__(self, session: aiohttp.ClientSession, port: int, token: str) -> None:
        self.session, self.token = session, token
        self.url = f"http://127.0.0.1:{port}"

    @contextlib.asynccontextmanager
    async def socket(self) -> AsyncIterator[Any]:
        async with self.session.ws_connect(f"{self.url}/api/websocket", max_msg_size=0) as ws:
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": self.token})
            if (await ws.receive_json())["type"] != "auth_ok":
                raise RuntimeError("Home Assistant refused the rig's token")
            counter = iter(range(1, 1_000_000))

            async def call(kind: str, **fields: Any) -> Any:
                number = next(counter)
                await ws.send_json({"id": number, "type": kind, **fields})
                while True:
                    answer = await ws.receive_json(timeout=60)
                    if answer.get("id") == number and answer.get("type") == "result":
                        if not answer["success"]:
                            raise RuntimeError(f"{kind}: {answer.get('error')}")
                        return answer["result"]

            yield call

    async def ready(self) -> bool:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with self.session.get(f"{self.url}/api/", headers=headers) as response:
                if response.status != 200:
                    return False
            async with self.socket() as call:
                state = (await call("get_config"))["state"]
                entries = await call("config_entries/get", domain="mqtt")
        except (aiohttp.ClientError, ConnectionError, TimeoutError):
            return False
        return state == "RUNNING" and bool(entries) and entries[0]["state"] == "loaded"

    async def collect(self) -> dict[str, Any]:
        async with self.socket() as call:
            registry = await call("config/entity_registry/list")
            devices = await call("config/device_registry/list")
            states = {s["entity_id"]: s for s in await call("get_states")}
        entities = [e for e in registry if e.get("platform") == "mqtt"]
        used = {e["device_id"] for e in entities if e.get("device_id")}
        fields = ("id", "name", "manufacturer", "model", "sw_version", "hw_version",
                  "serial_number", "identifiers", "via_device_id", "configuration_url")  # fmt: skip
        return {
            "entities": [_entity(e, states.get(e["entity_id"], {})) for e in entities],
            "devices": [{k: d.get(k) for k in fields} for d in devices if d["id"] in used],
        }


def _entity(entry: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    attributes = state.get("attributes", {})
    return {
        "entity_id": entry["entity_id"],
        "unique_id": entry.get("unique_id"),
        "name": entry.get("name") or entry.get("original_name"),
        "state": state.get("state"),
        "unit_of_measurement": attributes.get("unit_of_measurement"),
        "device_class": attributes.get("device_class"),
        "state_class": attributes.get("state_class"),
        "attributes": attributes,
        "entity_category": entry.get("entity_category"),
        "disabled_by": entry.get("disabled_by"),
        "device_id": entry.get("device_id"),
    }


LOG_RECORD = re.compile(
    r"^\d{4}-\d\d-\d\d [\d:.]+ (WARNING|ERROR|CRITICAL) \([^)]*\) \[([^\]]+)\] "
)


def log_issues(log: Path) -> list[dict[str, Any]]:
    """Home Assistant's warnings and errors that come from MQTT or speak of it, counted."""
    issues: dict[tuple[str, str, str], dict[str, Any]] = {}
    current: list[str] | None = None
    records: list[tuple[str, str, list[str]]] = []
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    for line in lines:
        match = LOG_RECORD.match(line)
        if match:
            current = [line[match.end() :]]
            records.append((match[1], match[2], current))
        elif re.match(r"^\d{4}-\d\d-\d\d ", line):
            current = None
        elif current is not None:
            current.append(line)
    for level, logger, text in records:
        message = "\n".join(text)
        if "mqtt" in logger or "mqtt" in message.lower():
            issue = issues.setdefault(
                (level, logger, message),
                {"level": level, "logger": logger, "message": message, "count": 0},
            )
            issue["count"] += 1
    return list(issues.values())


async def settle(api: Api) -> dict[str, Any]:
    """Collect until the MQTT entities and their states stay the same for SETTLE seconds."""
    last, since = None, time.monotonic()
    deadline = time.monotonic() + SETTLE_MAX
    while True:
        snapshot = await api.collect()
        key = [(e["entity_id"], e["state"]) for e in snapshot["entities"]]
        if key != last:
            last, since = key, time.monotonic()
        elif time.monotonic() - since >= SETTLE or time.monotonic() > deadline:
            return snapshot
        await asyncio.sleep(0.3)


async def call_service(api: Api, recorder: Recorder, spec: str, wait: float) -> dict[str, Any]:
    name, _, data_text = spec.strip().partition(" ")
    domain, _, service = name.partition(".")
    data = json.loads(data_text) if data_text.strip() else {}
    result: dict[str, Any] = {"service": name, "data": data, "ok": True}
    mark = recorder.mark()
    async with api.socket() as call:
        try:
            await call("call_service", domain=domain, service=service, service_data=data)
        except RuntimeError as error:
            result |= {"ok": False, "error": str(error)}
    await asyncio.sleep(wait)
    result["published"] = [
        m for m in recorder.since(mark) if not m["topic"].startswith(f"{PREFIX}/")
    ]
    targets = data.get("entity_id") or []
    targets = [targets] if isinstance(targets, str) else targets
    entities = (await api.collect())["entities"]
    result["states_after"] = {
        e["entity_id"]: e["state"] for e in entities if e["entity_id"] in targets
    }
    say(f"{name}: ok={result['ok']}, published {[m['topic'] for m in result['published']]}")
    return result


async def check(args: argparse.Namespace, processes: Processes, work: Path) -> dict[str, Any]:
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    (work / "mosquitto.conf").write_text(
        f"listener {args.mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
    )
    processes.start(
        "mosquitto", [mosquitto, "-c", str(work / "mosquitto.conf")], work / "mosquitto.log"
    )
    recorder = None
    for _ in range(50):
        try:
            recorder = Recorder(args.mqtt_port)
            break
        except (ConnectionRefusedError, OSError):
            await asyncio.sleep(0.2)
    if recorder is None:
        raise RuntimeError("the rig's Mosquitto did not start")
    token = write_config(work / "config", args.ha_port, args.mqtt_port)
    hass_log = work / "config" / "home-assistant.log"
    hass = processes.start(
        "home-assistant",
        [str(Path(sys.executable).parent / "hass"), "-c", str(work / "config"), "--skip-pip",
         "--log-no-color", "--log-file", str(hass_log)],
        work / "hass.out",
    )  # fmt: skip
    async with aiohttp.ClientSession() as session:
        api = Api(session, args.ha_port, token)
        started = time.monotonic()
        while not await api.ready():
            if hass.poll() is not None or time.monotonic() - started > STARTUP_TIMEOUT:
                raise RuntimeError(f"Home Assistant did not start; see {work / 'hass.out'}")
            await asyncio.sleep(0.5)
        say(f"Home Assistant ready in {time.monotonic() - started:.1f} s")
        if args.command:
            processes.start("bridge", args.command, work / "bridge.log")
        await asyncio.sleep(args.wait)
        for _ in range(int(BIRTH_TIMEOUT / 0.2)):  # its birth message ends the discovery phase
            if recorder.born():
                break
            await asyncio.sleep(0.2)
        result = await settle(api)
        result["calls"] = [
            await call_service(api, recorder, spec, args.call_settle) for spec in args.call
        ]
    recorder.close()
    result["log_issues"] = log_issues(hass_log)
    say(f"{len(result['entities'])} entities, {len(result['log_issues'])} MQTT log issues")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mqtt-port", type=int, required=True)
    parser.add_argument("--ha-port", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--wait", type=float, default=5.0)
    parser.add_argument("--call", action="append", default=[])
    parser.add_argument("--call-settle", type=float, default=1.5)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    args.command = args.command[1:] if args.command[:1] == ["--"] else args.command
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    processes = Processes()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop what was started, below
    try:
        result = asyncio.run(check(args, processes, args.workdir))
    finally:
        processes.stop_all()
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
