"""Where signed control stands, as `pw2mqtt check` and `pw2mqtt pair --status` tell a user:
subprocesses against the simulator over real HTTPS, with real key files."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pw2mqtt.gateway.tedapi.keys import SigningKey, generate_key, key_path_for, save_key
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from pw2mqtt.simulator.keys import KeyState

PASSWORD = "Pw2MqttSim"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_key(key_size=2048)


async def run(sim: GatewaySimulator, state_dir: Path, *command: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pw2mqtt", *command,
        "--host", f"127.0.0.1:{sim.port}", "--password", PASSWORD,
        "--state-dir", str(state_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


def signed_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith("signed control:")]
    assert len(lines) == 1, text
    return lines[0]


@pytest.fixture(params=["26.26", "pw3"])
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[GatewaySimulator]:
    options = SimulatorOptions(speed=0.0, profile=request.param, control_port=None)
    async with GatewaySimulator(options) as simulator:
        yield simulator


@pytest.mark.parametrize(
    ("state", "word"),
    [(None, "unknown key"), (KeyState.PENDING, "pending"), (KeyState.VERIFIED, "verified")],
)
async def test_check_says_where_the_key_stands(
    sim: GatewaySimulator,
    key: SigningKey,
    tmp_path: Path,
    state: KeyState | None,
    word: str,
) -> None:
    save_key(key, key_path_for(tmp_path))
    if state is not None:
        sim.keys.add(key.public_key_der, "pw2mqtt", sim.now())
        sim.keys.set_state(key.public_key_der, state)
    code, text = await run(sim, tmp_path, "check")
    assert code == 0, text
    line = signed_line(text)
    assert line.startswith(f"signed control: {word} ("), line
    assert key.fingerprint in line


async def test_check_without_a_key_says_how_to_make_one(
    sim: GatewaySimulator, tmp_path: Path
) -> None:
    code, text = await run(sim, tmp_path, "check")
    assert code == 0, text
    assert signed_line(text).startswith("signed control: unavailable (no signing key:")


async def test_check_on_firmware_without_v1r_is_unavailable(
    key: SigningKey, tmp_path: Path
) -> None:
    save_key(key, key_path_for(tmp_path))
    options = SimulatorOptions(speed=0.0, profile="21.44", control_port=None)
    async with GatewaySimulator(options) as sim:
        code, text = await run(sim, tmp_path, "check")
    assert code == 0, text
    assert signed_line(text).startswith("signed control: unavailable (")


async def test_pair_status_exits_zero_only_when_verified(
    sim: GatewaySimulator, key: SigningKey, tmp_path: Path
) -> None:
    save_key(key, key_path_for(tmp_path))
    sim.keys.add(key.public_key_der, "pw2mqtt", sim.now())
    code, text = await run(sim, tmp_path, "pair", "--status")
    assert code == 1
    assert signed_line(text).startswith("signed control: pending (")
    sim.keys.toggle()
    code, text = await run(sim, tmp_path, "pair", "--status")
    assert code == 0, text
    assert signed_line(text).startswith("signed control: verified (")
