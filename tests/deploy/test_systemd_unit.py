"""config/pw2mqtt.service: `systemd-analyze verify` accepts it and its exposure score stays low.

The unit's ExecStart names /opt/pw2mqtt/bin/pw2mqtt (where its install notes put pw2mqtt);
`verify` checks that the program exists, so the test points that one path at this venv's
pw2mqtt and changes nothing else.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "config" / "pw2mqtt.service"
INSTALLED = "/opt/pw2mqtt/bin/pw2mqtt"
MAX_EXPOSURE = 2.0  # systemd-analyze security: 0 (locked down) .. 10 (exposed); "OK" is < 4


def _analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    return found


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    text = UNIT.read_text(encoding="utf-8")
    assert f"ExecStart={INSTALLED} run --config " in text
    pw2mqtt = Path(sys.executable).with_name("pw2mqtt")
    assert pw2mqtt.is_file(), pw2mqtt
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(INSTALLED, str(pw2mqtt)), encoding="utf-8")
    return copy


def test_systemd_analyze_verify_is_silent(unit: Path) -> None:
    result = subprocess.run(
        [_analyze(), "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    # verify exits 0 on settings it ignores ("Failed to parse ..."); any line about the unit fails.
    about_unit = [line for line in result.stderr.splitlines() if unit.name in line]
    assert result.returncode == 0, result.stderr
    assert about_unit == [], result.stderr


def test_hardening_keeps_the_exposure_low(unit: Path) -> None:
    result = subprocess.run(
        [_analyze(), "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


def test_the_essentials_are_there() -> None:
    text = UNIT.read_text(encoding="utf-8")
    for line in (
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "StateDirectory=pw2mqtt",
        "NoNewPrivileges=yes",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "Environment=PW2MQTT_STATE_DIR=%S/pw2mqtt",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    ):
        assert f"\n{line}\n" in text, line
