"""The Home Assistant add-on: its manifest, and that its start script yields valid settings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pw2mqtt import __version__
from pw2mqtt.config import load_settings
from tests.deploy.supervisor import fake_supervisor

ADDON = Path(__file__).resolve().parents[2] / "addon" / "pw2mqtt"
SCRIPT = ADDON / "addon_env.py"
TOKEN = "supervisor-token-for-tests"
ARCHES = {"aarch64", "amd64", "armhf", "armv7", "i386"}
# The Supervisor's option types: str, bool, int, float, email, url, password, port,
# match(REGEX), list(a|b), device; int/float may carry a range, and `?` marks an optional one.
SCHEMA_TYPE = re.compile(
    r"^(str|bool|email|url|password|port|device(\(.*\))?|match\(.+\)|list\([^|()]+(\|[^|()]+)*\)"
    r"|(int|float)(\(-?[\d.]*,-?[\d.]*\))?)\??$"
)
SERVICE = {
    "addon": "core_mosquitto",
    "host": "core-mosquitto",
    "port": 1883,
    "ssl": False,
    "protocol": "3.1.1",
    "username": "addons",
    "password": "broker-secret",
}


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ADDON / "config.yaml").read_text(encoding="utf-8"))
    return data


def test_manifest_has_what_the_supervisor_needs() -> None:
    data = manifest()
    for key in ("name", "version", "slug", "description", "arch"):
        assert data.get(key), key
    assert re.fullmatch(r"[a-z0-9_]+", data["slug"])
    assert set(data["arch"]) <= ARCHES
    assert {"aarch64", "amd64"} <= set(data["arch"])
    assert "mqtt:need" in data["services"]
    assert data["init"] is False  # run.sh execs the bridge as PID 1
    assert (ADDON / "DOCS.md").is_file()


def test_versions_match_the_package() -> None:
    assert manifest()["version"] == __version__
    build = yaml.safe_load((ADDON / "build.yaml").read_text(encoding="utf-8"))
    assert build["args"]["PW2MQTT_VERSION"] == __version__
    dockerfile = (ADDON / "Dockerfile").read_text(encoding="utf-8")
    assert f"ARG PW2MQTT_VERSION={__version__}\n" in dockerfile
    assert set(build["build_from"]) == set(manifest()["arch"])


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_schema_covers_every_option_and_every_type_is_known() -> None:
    data = manifest()
    options, schema = _flatten(data["options"]), _flatten(data["schema"])
    assert set(options) <= set(schema), set(options) - set(schema)
    for key, kind in schema.items():
        assert SCHEMA_TYPE.match(str(kind)), f"{key}: {kind}"
        if not str(kind).endswith("?"):
            assert key in options, f"{key} is required, so it needs an entry in options"
    # every default is valid for its type
    for key, value in options.items():
        kind = str(schema[key]).rstrip("?")
        if value is None:
            continue
        if kind.startswith("list("):
            assert value in kind[5:-1].split("|"), key
        elif kind.startswith("match("):
            assert re.fullmatch(kind[6:-1], str(value)), key
        elif kind == "bool":
            assert isinstance(value, bool), key
        elif kind.startswith("int"):
            low, high = (int(n) for n in kind[4:-1].split(","))
            assert low <= value <= high, key


@pytest.fixture
def supervisor() -> Iterator[tuple[str, list[dict[str, str]]]]:
    with fake_supervisor(SERVICE, TOKEN) as served:
        yield served


def _run_script(
    action: str, options: dict[str, Any], url: str, tmp_path: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    options_file = tmp_path / "options.json"
    options_file.write_text(json.dumps(options))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PW2MQTT_")} | {
        "ADDON_OPTIONS": str(options_file),
        "SUPERVISOR_URL": url,
        "SUPERVISOR_TOKEN": TOKEN,
        "PW2MQTT_STATE_DIR": str(tmp_path / "state"),
        **extra,
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT), action],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _settings_from(variables: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    for key in [k for k in os.environ if k.startswith("PW2MQTT_")]:
        monkeypatch.delenv(key)
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    return load_settings()


def test_default_options_give_valid_settings(
    supervisor: tuple[str, list[dict[str, str]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, seen = supervisor
    options = {**manifest()["options"], "host": "192.168.1.5", "password": "ABCDE"}
    result = _run_script("print", options, url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert seen == [{"path": "/services/mqtt", "auth": f"Bearer {TOKEN}"}]
    settings = _settings_from(json.loads(result.stdout), monkeypatch)

    gateway = settings.gateways[0]
    assert (gateway.host, gateway.password.get_secret_value()) == ("192.168.1.5", "ABCDE")
    assert gateway.role == "customer"
    assert gateway.poll.fast == 5
    assert (settings.mqtt.host, settings.mqtt.port) == ("core-mosquitto", 1883)
    assert settings.mqtt.username == "addons"
    assert settings.mqtt.password is not None
    assert settings.mqtt.password.get_secret_value() == "broker-secret"
    assert settings.mqtt.protocol == "3.1.1"
    assert settings.mqtt.tls.enabled is False
    assert settings.commands.enabled == frozenset()
    assert settings.log_level == "info"
    assert settings.state_dir == tmp_path / "state"


def test_every_option_reaches_its_setting(
    supervisor: tuple[str, list[dict[str, str]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, _ = supervisor
    options = {
        "host": "powerwall.lan:8443",
        "password": "Secret1",
        "role": "installer",
        "name": "home",
        "server_name": "teg",
        "tls_fingerprint": "ab" * 32,
        "commands": dict.fromkeys(
            ("operation_mode", "backup_reserve", "off_grid", "sitemaster", "allow_grid_control"),
            True,
        ),
        "base_topic": "house/powerwall",
        "discovery_prefix": "ha",
        "poll_fast": 2,
        "log_level": "debug",
    }
    assert set(_flatten(options)) == set(_flatten(manifest()["schema"]))  # each one is tried
    result = _run_script("print", options, url, tmp_path)
    assert result.returncode == 0, result.stderr
    settings = _settings_from(json.loads(result.stdout), monkeypatch)
    gateway = settings.gateways[0]
    assert (gateway.host, gateway.role, gateway.name) == ("powerwall.lan:8443", "installer", "home")
    assert gateway.server_name == "teg"
    assert gateway.tls.fingerprint is not None
    assert gateway.tls.fingerprint.replace(":", "").lower() == "ab" * 32
    assert gateway.poll.fast == 2
    assert settings.commands.enabled == {
        "operation_mode",
        "backup_reserve",
        "off_grid",
        "sitemaster",
    }
    assert settings.commands.allow_grid_control is True
    assert settings.mqtt.base_topic == "house/powerwall"
    assert settings.homeassistant.discovery_prefix == "ha"
    assert settings.log_level == "debug"


def test_run_execs_the_bridge_with_the_variables(
    supervisor: tuple[str, list[dict[str, str]]], tmp_path: Path
) -> None:
    url, _ = supervisor
    fake = tmp_path / "pw2mqtt"
    fake.write_text(f'#!/bin/sh\necho "$0 $*" > {tmp_path}/argv\nenv > {tmp_path}/env\n')
    fake.chmod(0o755)
    options = {**manifest()["options"], "host": "192.168.1.5", "password": "ABCDE"}
    result = _run_script("run", options, url, tmp_path, PW2MQTT_BIN=str(fake))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "argv").read_text().strip() == f"{fake} run"
    env = (tmp_path / "env").read_text().splitlines()
    assert "PW2MQTT_GATEWAYS__0__HOST=192.168.1.5" in env
    assert "PW2MQTT_MQTT__HOST=core-mosquitto" in env


def test_no_mqtt_service_is_one_clear_line(tmp_path: Path) -> None:
    options = {**manifest()["options"], "host": "192.168.1.5", "password": "ABCDE"}
    result = _run_script("print", options, "http://127.0.0.1:9", tmp_path)
    assert result.returncode == 1
    assert "Mosquitto broker add-on" in result.stderr
    assert "Traceback" not in result.stderr
