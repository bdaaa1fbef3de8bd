"""`pw2mqtt run` with a state directory it cannot write: no login storm, no warning every 5 s.

Each run is a subprocess in its own mount namespace, over a small tmpfs made read-only (or full),
against the simulator over real HTTPS and a real Mosquitto.
"""

from __future__ import annotations

import asyncio
import shlex
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from tests.harness import bridge_settings, running_bridge
from tests.mqtt_probe import Broker, MqttProbe

PASSWORD = "Pw2MqttSim"
SLUG = "tg123456789abc"


@pytest.fixture
async def sim() -> AsyncIterator[GatewaySimulator]:
    async with GatewaySimulator(SimulatorOptions(control_port=None)) as simulator:
        yield simulator


def config_file(broker: Broker, sim: GatewaySimulator, tmp_path: Path, state: Path) -> Path:
    values = bridge_settings(
        [sim],
        {"host": broker.host, "port": broker.port, "client_id": f"pw2mqtt-{tmp_path.name}"},
        state,
        gateway={"password": PASSWORD, "timeout": 2.0},
    )
    path = tmp_path / "pw2mqtt.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


async def run_on_tmpfs(
    state: Path, seed: Path | None, config: Path, *, fill: bool = False, seconds: float = 12.0
) -> tuple[int, str]:
    """`pw2mqtt run` for `seconds` with `state` a read-only tmpfs holding a copy of `seed`
    (or, with `fill`, a writable one that is full)."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1)")
    probe = await asyncio.create_subprocess_exec("unshare", "-m", "true")
    if await probe.wait() != 0:
        pytest.skip("needs the right to make a mount namespace (root)")
    where = shlex.quote(str(state))
    steps = [f"mkdir -p {where}", f"mount -t tmpfs -o size=64k tmpfs {where}"]
    if seed is not None:
        steps.append(f"cp -a {shlex.quote(str(seed))}/. {shlex.quote(str(state))}/")
    if fill:
        steps.append(f"(cat /dev/zero > {shlex.quote(str(state / 'filler'))} 2>/dev/null; true)")
    else:
        steps.append(f"mount -o remount,ro {shlex.quote(str(state))}")
    command = f"{shlex.quote(sys.executable)} -m pw2mqtt run --config {shlex.quote(str(config))}"
    steps.append(f"timeout -s TERM {seconds} {command}")
    process = await asyncio.create_subprocess_exec(
        "unshare",
        "-m",
        "sh",
        "-c",
        " && ".join(steps),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=seconds + 30)
    assert process.returncode is not None
    return process.returncode, err.decode()


@pytest.mark.parametrize("fill", [False, True], ids=["read-only", "full"])
async def test_no_login_when_the_session_cannot_be_kept(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path, fill: bool
) -> None:
    state = tmp_path / "state"
    config = config_file(broker, sim, tmp_path, state)
    for _ in range(3):  # systemd or Docker restarting it
        code, err = await run_on_tmpfs(state, None, config, fill=fill, seconds=10)
        assert code == 1, err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1, err
        assert lines[0].startswith("error: cannot save state in"), err
    assert sim.logins == 0


async def test_read_only_state_with_a_valid_session_runs_and_says_so_once(
    broker: Broker, sim: GatewaySimulator, tmp_path: Path
) -> None:
    seed = tmp_path / "seed"
    values = bridge_settings(
        [sim],
        {"host": broker.host, "port": broker.port, "client_id": f"seed-{tmp_path.name}"},
        seed,
        gateway={"password": PASSWORD, "timeout": 2.0},
    )
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe, running_bridge(values):
        await probe.wait_for(f"pw2mqtt/{SLUG}/state")
    assert sim.logins == 1

    state = tmp_path / "state"
    config = config_file(broker, sim, tmp_path, state)
    async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
        mark = probe.mark()
        code, err = await run_on_tmpfs(state, seed, config, seconds=12)
        published = [m for m in probe.messages[mark:] if m.topic == f"pw2mqtt/{SLUG}/state"]
    assert code == 124, err  # still running when `timeout` stopped it
    assert "Traceback" not in err
    assert err.count("cannot write the status file") == 1, err
    assert "a new login will not be possible" in err
    assert published
    assert sim.logins == 1  # the saved session was used
