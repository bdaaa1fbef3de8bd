"""`pw2mqtt check` as a user runs it: a subprocess against the simulator over real HTTPS."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions

PASSWORD = "Pw2MqttSim"


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
async def sim() -> AsyncIterator[GatewaySimulator]:
    async with GatewaySimulator(SimulatorOptions(speed=0.0, control_port=None)) as simulator:
        yield simulator


async def check(tmp_path: Path, *args: str) -> Result:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pw2mqtt",
        "check",
        "--state-dir",
        str(tmp_path / "state"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


def error_lines(result: Result) -> list[str]:
    return [line for line in result.err.splitlines() if line.startswith("error:")]


async def test_prints_the_gateways_facts(sim: GatewaySimulator, tmp_path: Path) -> None:
    result = await check(tmp_path, "--host", f"localhost:{sim.port}", "--password", PASSWORD)
    assert result.code == 0, result.err
    assert f"din          {sim.din}" in result.out
    assert "firmware     21.44" in result.out
    assert "role         customer (password accepted)" in result.out
    assert "slug         tg123456789abc (from its DIN)" in result.out
    assert "TLS server name: powerwall" in result.out
    fingerprint = ":".join(sim.fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()
    assert f"pinned sha256 {fingerprint}" in result.out
    assert "ok         /api/meters/aggregates" in result.out
    assert "missing    /api/solar_powerwall (404)" in result.out
    assert "power now    solar" in result.out
    assert "charge       " in result.out

    again = await check(tmp_path, "--host", f"localhost:{sim.port}", "--password", PASSWORD)
    assert again.code == 0
    assert "role         customer (password accepted)" in again.out
    assert sim.logins == 2  # the password is verified every time, with one login


async def test_saved_session_does_not_vouch_for_a_wrong_password(
    sim: GatewaySimulator, tmp_path: Path
) -> None:
    good = await check(tmp_path, "--host", f"localhost:{sim.port}", "--password", PASSWORD)
    assert good.code == 0, good.err
    session = tmp_path / "state" / f"localhost_{sim.port}" / "session.json"
    saved = session.read_text()
    assert PASSWORD not in saved
    assert '"credential": "scrypt$' in saved

    wrong = await check(tmp_path, "--host", f"localhost:{sim.port}", "--password", "WRONG")
    assert wrong.code == 1
    [line] = error_lines(wrong)
    assert "rejected the customer login" in line
    assert sim.logins == 2  # one login per run, the wrong one included


async def test_powerwall_3_restricted(sim: GatewaySimulator, tmp_path: Path) -> None:
    sim.set_profile("pw3-restricted")
    result = await check(tmp_path, "--host", f"127.0.0.1:{sim.port}", "--password", PASSWORD)
    assert result.code == 0, result.err
    assert "endpoints    3 of 16 answer" in result.out
    assert "firmware     not reported" in result.out
    [slug] = [line for line in result.out.splitlines() if line.startswith("slug ")]
    assert "reports no DIN" in slug
    assert "set `name` for this gateway" in slug


async def test_wrong_password_is_one_line(sim: GatewaySimulator, tmp_path: Path) -> None:
    result = await check(tmp_path, "--host", f"localhost:{sim.port}", "--password", "nope")
    assert result.code == 1
    [line] = error_lines(result)
    assert "rejected the customer login" in line
    assert "check the password" in line
    assert "nope" not in result.out + result.err


async def test_changed_certificate_is_refused(sim: GatewaySimulator, tmp_path: Path) -> None:
    first = await check(tmp_path, "--host", f"localhost:{sim.port}", "--password", PASSWORD)
    assert first.code == 0
    pin = tmp_path / "state" / f"localhost_{sim.port}" / "tls-pin.sha256"
    pin.write_text("11" * 32)
    sim.clear_calls()
    result = await check(tmp_path, "--host", f"localhost:{sim.port}", "--password", PASSWORD)
    assert result.code == 1
    [line] = error_lines(result)
    assert "TLS certificate" in line
    assert str(pin) in line
    assert sim.calls == []


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (
            "session.json",
            '{"role": "customer", "token": "a\\r\\nX-Evil: 1", "auth_cookie": "a\\r\\nb"}',
        ),
        ("session.json", None),  # a directory
        ("tls-pin.sha256", "garbage, not hex\n"),
        ("tls-pin.sha256", "abcdef\n"),
    ],  # a damaged topic-slug: tests/bridge/test_identity.py (check does not read it)
)
async def test_damaged_state_is_ignored_and_written_afresh(
    sim: GatewaySimulator, tmp_path: Path, name: str, content: str | None
) -> None:
    directory = tmp_path / "state" / f"localhost_{sim.port}"
    directory.mkdir(parents=True)
    if content is None:
        (directory / name).mkdir()
    else:
        (directory / name).write_text(content)
    result = await check(tmp_path, "-v", "--host", f"localhost:{sim.port}", "--password", PASSWORD)
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    assert "is damaged" in result.err
    assert (directory / name).is_file()
    if name == "tls-pin.sha256":
        assert (directory / name).read_text().strip() == sim.fingerprint.lower()


async def test_read_only_state_dir_is_one_line_and_no_login(
    sim: GatewaySimulator, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    script = (
        f"mount -t tmpfs -o size=64k tmpfs {state} && mount -o remount,ro {state} && "
        f"exec {sys.executable} -m pw2mqtt check --state-dir {state} "
        f"--host localhost:{sim.port} --password {PASSWORD}"
    )
    state.mkdir()
    result = await run_isolated(script)
    assert result.code == 1, result.err
    [line] = error_lines(result)
    assert "cannot save state in" in line
    assert "Read-only file system" in line
    assert "Traceback" not in result.err
    assert sim.logins == 0


async def run_isolated(script: str) -> Result:
    """Run a shell script in its own mount namespace, so the mounts it makes vanish with it."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1)")
    probe = await asyncio.create_subprocess_exec("unshare", "-m", "true")
    if await probe.wait() != 0:
        pytest.skip("needs the right to make a mount namespace (root)")
    process = await asyncio.create_subprocess_exec(
        "unshare",
        "-m",
        "sh",
        "-c",
        script,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


async def test_locked_out_gateway(sim: GatewaySimulator, tmp_path: Path) -> None:
    for attempt in range(5):
        state = tmp_path / f"attempt{attempt}"
        failed = await check(state, "--host", f"localhost:{sim.port}", "--password", "bad")
        assert failed.code == 1
    result = await check(tmp_path, "--host", f"localhost:{sim.port}", "--password", PASSWORD)
    assert result.code == 1
    [line] = error_lines(result)
    assert "refuses logins for now (429" in line
    assert "wait a few minutes" in line


async def test_unknown_server_name(sim: GatewaySimulator, tmp_path: Path) -> None:
    result = await check(
        tmp_path,
        "--host",
        f"localhost:{sim.port}",
        "--password",
        PASSWORD,
        "--server-name",
        "powerwall.home.lan",
    )
    assert result.code == 1
    [line] = error_lines(result)
    assert "we sent 'powerwall.home.lan'" in line


async def test_unreachable_host(tmp_path: Path, unused_tcp_port: int) -> None:
    result = await check(tmp_path, "--host", f"127.0.0.1:{unused_tcp_port}", "--password", PASSWORD)
    assert result.code == 1
    [line] = error_lines(result)
    assert "cannot connect" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--password", "x"], "give --host"),
        (["--host", "h:99999", "--password", "x"], "host: not a TCP port"),
        (["--host", "h", "--password", "x", "--fingerprint", "abc"], "64 hex digits"),
    ],
)
async def test_bad_arguments_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = await check(tmp_path, *args)
    assert result.code == 2
    assert message in result.err


async def test_config_file_problems_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "pw2mqtt.yaml"
    config.write_text("gateways:\n  - host: 10.0.0.5\n    pasword: typo\nlog_level: loud\n")
    result = await check(tmp_path, "--config", str(config))
    assert result.code == 2
    lines = [line for line in result.err.splitlines() if line.startswith("config:")]
    assert len(lines) == 3, result.err  # missing password, unknown key, bad level
