"""`pw2mqtt run` with a broken configuration: exit 2 and one `config:` line naming the setting,
before anything connects (no broker or gateway is running for these tests)."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

GATEWAY = "gateways:\n  - host: 127.0.0.1:9\n    password: pw\n"


@dataclass
class Result:
    code: int
    err: str


async def run(tmp_path: Path, config: bytes, env: dict[str, str] | None = None) -> Result:
    path = tmp_path / "pw2mqtt.yaml"
    path.write_bytes(config)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PW2MQTT_")}
    environment["PW2MQTT_STATE_DIR"] = str(tmp_path / "state")
    environment.update(env or {})
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pw2mqtt",
        "run",
        "--config",
        str(path),
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Result(process.returncode, err.decode())


CASES: list[tuple[str, str, str]] = [
    ("non-ASCII base topic", GATEWAY + "mqtt: {base_topic: pwä}\n", "mqtt.base_topic: use ASCII"),
    ("superscript digit", GATEWAY + "mqtt: {base_topic: pw²}\n", "mqtt.base_topic: use ASCII"),
    (
        "non-ASCII prefix",
        GATEWAY + "homeassistant: {discovery_prefix: hä/x}\n",
        "homeassistant.discovery_prefix: use ASCII",
    ),
    (
        "missing CA file",
        GATEWAY + "    tls: {mode: ca, ca_file: /nonexistent/ca.pem}\n",
        "gateways.0.tls.ca_file: no such file: /nonexistent/ca.pem",
    ),
    (
        "missing broker CA file",
        GATEWAY + "mqtt: {tls: {enabled: true, ca_file: /nonexistent/b.pem}}\n",
        "mqtt.tls.ca_file: no such file",
    ),
    ("empty broker host", GATEWAY + "mqtt: {host: ''}\n", "mqtt.host: must not be empty"),
    ("empty client id", GATEWAY + "mqtt: {client_id: ''}\n", "mqtt.client_id: must not be empty"),
    (
        "empty password",
        "gateways:\n  - host: 127.0.0.1:9\n    password: ''\n",
        "gateways.0.password: must not be empty",
    ),
    (
        "same name twice",
        "gateways:\n  - {host: 10.0.0.1, password: a, name: home}\n"
        "  - {host: 10.0.0.2, password: b, name: home}\n",
        "gateways: gateways 0 and 1 have the same name",
    ),
    (
        "same gateway twice",
        "gateways:\n  - {host: 10.0.0.1, password: a}\n  - {host: '10.0.0.1:443', password: a}\n",
        "gateways: gateways 0 and 1 have the same host",
    ),
    (
        "duplicate key",
        GATEWAY + "log_level: info\nlog_level: debug\n",
        "the key 'log_level' is given twice",
    ),
    ("top-level list", "- host: 10.0.0.1\n", "must map settings to values, not be a list"),
]


@pytest.mark.parametrize(("case", "config", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_broken_configuration_is_one_line(
    tmp_path: Path, case: str, config: str, expected: str
) -> None:
    result = await run(tmp_path, config.encode())
    assert_one_config_line(result, expected)


async def test_non_utf8_file(tmp_path: Path) -> None:
    result = await run(tmp_path, GATEWAY.encode() + b"# caf\xe9\n")
    assert_one_config_line(result, "not UTF-8 text")


async def test_state_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("")
    result = await run(tmp_path, GATEWAY.encode())
    assert_one_config_line(result, f"state_dir: not a directory: {tmp_path / 'state'}")


async def test_empty_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("\n")
    config = b"gateways:\n  - host: 127.0.0.1:9\n"
    result = await run(tmp_path, config, {"PW2MQTT_GATEWAYS__0__PASSWORD_FILE": str(secret)})
    assert_one_config_line(result, "gateways.0.password: must not be empty")


@pytest.mark.parametrize(
    ("variable", "value"), [("PW2MQTT_MQTT", "notjson"), ("PW2MQTT_GATEWAYS", "[not json")]
)
async def test_environment_json_that_does_not_parse(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = await run(tmp_path, GATEWAY.encode(), {variable: value})
    assert_one_config_line(result, f"{variable}: not valid JSON")


def assert_one_config_line(result: Result, expected: str) -> None:
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("config: "), result.err
    assert expected in lines[0], result.err
