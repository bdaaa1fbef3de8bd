"""The Docker image, built and run with the container rig (podman, no Docker engine needed).

Runs where the container rig (tests/rigs/container/podman.sh) is installed by `make
test-container`; it skips with the reason otherwise. It builds the top-level Dockerfile, runs the
image on the host network against the test's Mosquitto and an in-process simulator (both on
127.0.0.1), and checks what a user relies on: the bridge comes online and publishes values,
`HEALTHCHECK` passes, `podman stop` (SIGTERM to PID 1) publishes `offline` and the container
exits 0.
The Home Assistant add-on's image is built the same way (its folder as the context, with a wheel
of the working tree in its wheels/, on the same base image) and run with /data/options.json and a
stand-in for the Supervisor's MQTT service on 127.0.0.1 (`SUPERVISOR_URL`).
First run: ~40-60 s to make the rig's base image, ~15 s to build; later runs ~30 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
import uuid
from pathlib import Path

import pytest

from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from tests import rigs
from tests.deploy.supervisor import fake_supervisor
from tests.mqtt_probe import Broker, MqttProbe

ROOT = Path(__file__).resolve().parents[2]
RIG = rigs.CONTAINER_RIG
BASE_IMAGE = "python:3.12-slim"  # the Dockerfile's FROM; the rig tags a local base as this
IMAGE = "localhost/pw2mqtt:test"
ADDON = ROOT / "addon" / "pw2mqtt"
ADDON_IMAGE = "localhost/pw2mqtt-addon:test"
SUPERVISOR_TOKEN = "supervisor-token-for-the-container-test"
SLUG = "tg123456789abc"

pytestmark = pytest.mark.timeout(600)  # the first run makes the base image


def _rig_problem() -> str | None:
    return rigs.missing("container")


async def rig(*args: str, timeout: float = 120.0, check: bool = True) -> tuple[int, str]:
    """Run `rig.sh ARGS`; (exit status, stdout + stderr)."""
    process = await asyncio.create_subprocess_exec(
        str(RIG),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=_rig_env(),
    )
    try:
        async with asyncio.timeout(timeout):
            output, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"rig.sh {' '.join(args)} took more than {timeout} s", pytrace=False)
    text = output.decode(errors="replace")
    assert process.returncode is not None
    if check and process.returncode != 0:
        pytest.fail(f"rig.sh {' '.join(args)} failed ({process.returncode}):\n{text[-4000:]}")
    return process.returncode, text


def _rig_env() -> dict[str, str]:
    env = dict(os.environ)
    # rig.sh looks for apt's mirror in /etc/apt/sources.list too and stops (set -e, pipefail)
    # where that file does not exist; name the mirror ourselves in that case.
    if "DEBIAN_MIRROR" not in env and not Path("/etc/apt/sources.list").exists():
        env["DEBIAN_MIRROR"] = _apt_mirror() or "http://deb.debian.org/debian"
    return env


def _apt_mirror() -> str | None:
    for source in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        match = re.search(r"^URIs:\s*(\S+)", source.read_text(errors="replace"), re.MULTILINE)
        if match:
            return match.group(1)
    return None


async def _base_image() -> None:
    status, _ = await rig("podman", "image", "exists", BASE_IMAGE, check=False)
    if status != 0:  # ~40-60 s: debootstrap + python3, tagged as the Dockerfiles' FROM
        await rig("base", "trixie", BASE_IMAGE, timeout=480)


@pytest.fixture(scope="module")
def image() -> str:
    """The image, built from the working tree (once per test run)."""
    problem = _rig_problem()
    if problem:
        pytest.skip(problem)

    async def build() -> None:
        await _base_image()
        await rig("build", "-t", IMAGE, str(ROOT), timeout=300)
        # the build stage and the image this one replaced are left untagged: drop them
        await rig("podman", "image", "prune", "-f", check=False)

    asyncio.run(build())
    return IMAGE


@pytest.fixture(scope="module")
def addon_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The add-on's image, as the Supervisor builds it: its folder, plus a wheel of the tree."""
    problem = _rig_problem()
    if problem:
        pytest.skip(problem)
    context = tmp_path_factory.mktemp("addon") / "pw2mqtt"
    shutil.copytree(ADDON, context, ignore=shutil.ignore_patterns("*.whl", "__pycache__"))

    async def build() -> None:
        wheel = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(context / "wheels"),
            str(ROOT), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await wheel.communicate()
        assert wheel.returncode == 0, output.decode(errors="replace")[-3000:]
        await _base_image()
        await rig("build", "-t", ADDON_IMAGE, str(context), timeout=300)
        await rig("podman", "image", "prune", "-f", check=False)

    asyncio.run(build())
    return ADDON_IMAGE


async def test_image_runs_healthy_and_says_offline_on_stop(
    image: str, broker: Broker, tmp_path: Path
) -> None:
    secret = tmp_path / "powerwall-password"
    secret.write_text("Pw2MqttSim\n")
    config = tmp_path / "pw2mqtt.yaml"  # the optional /config file: MQTT from here ...
    config.write_text(
        f"mqtt:\n  host: {broker.host}\n  port: {broker.port}\n  client_id: pw2mqtt-container\n"
        "log_level: debug\n"
    )
    for path in (secret, config):
        path.chmod(0o644)  # the image runs as an unprivileged user (uid 10001)
    name = f"pw2mqtt-test-{uuid.uuid4().hex[:8]}"
    options = SimulatorOptions(control_port=None, speed=5.0)
    async with GatewaySimulator(options) as sim:
        # ... and the gateway from the environment, its password as a Docker-style secret.
        run_args = [
            "run", "-d", "--name", name,
            "-v", f"{config}:/config/pw2mqtt.yaml:ro",
            "-v", f"{secret}:/run/secrets/powerwall:ro",
            "-e", f"PW2MQTT_GATEWAYS__0__HOST=127.0.0.1:{sim.port}",
            "-e", "PW2MQTT_GATEWAYS__0__PASSWORD_FILE=/run/secrets/powerwall",
            "-e", "PW2MQTT_GATEWAYS__0__POLL__FAST=1",
            "-e", "PW2MQTT_GATEWAYS__0__POLL__MEDIUM=2",
            image,
        ]  # fmt: skip
        try:
            async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
                await rig(*run_args)
                try:
                    await probe.wait_for(
                        "pw2mqtt/bridge/state", lambda m: m.text == "online", timeout=30
                    )
                    level = await probe.wait_for(f"pw2mqtt/{SLUG}/battery_level", timeout=30)
                except AssertionError:
                    _, logs = await rig("podman", "logs", name, check=False)
                    raise AssertionError(f"container log:\n{logs[-4000:]}") from None
                assert 0.0 <= float(level.text) <= 100.0

                # Non-root, and pw2mqtt itself is PID 1 (so SIGTERM reaches it).
                _, uid = await rig("podman", "exec", name, "id", "-u")
                assert uid.strip().splitlines()[-1] == "10001"
                _, cmdline = await rig("podman", "exec", name, "cat", "/proc/1/cmdline")
                assert "pw2mqtt\x00run\x00--config\x00/config/pw2mqtt.yaml" in cmdline

                health = await _healthy(name)
                assert health[0] == 0, health[1]

                mark = probe.mark()
                await rig("podman", "stop", "-t", "20", name, timeout=60)
                await probe.wait_for(
                    "pw2mqtt/bridge/state", lambda m: m.text == "offline", start=mark
                )
                _, code = await rig("podman", "inspect", "--format", "{{.State.ExitCode}}", name)
                assert code.strip().splitlines()[-1] == "0", code
                _, logs = await rig("podman", "logs", name, check=False)
                assert "Pw2MqttSim" not in logs
        finally:
            await rig("podman", "rm", "-f", "-v", name, check=False, timeout=60)


async def _healthy(name: str, attempts: int = 15) -> tuple[int, str]:
    """`podman healthcheck run` (the rig has no systemd timers to run it); retried briefly."""
    result = (1, "not run")
    for _ in range(attempts):
        result = await rig("podman", "healthcheck", "run", name, check=False)
        if result[0] == 0:
            break
        await asyncio.sleep(1)
    return result


async def test_addon_image_runs_with_the_supervisors_broker_and_says_offline_on_stop(
    addon_image: str, broker: Broker, tmp_path: Path
) -> None:
    service = {"host": broker.host, "port": broker.port, "ssl": False, "protocol": "3.1.1"}
    data = tmp_path / "data"  # the add-on's /data, as the Supervisor mounts it
    data.mkdir()
    name = f"pw2mqtt-addon-test-{uuid.uuid4().hex[:8]}"
    async with GatewaySimulator(SimulatorOptions(control_port=None, speed=5.0)) as sim:
        options = {"host": f"127.0.0.1:{sim.port}", "password": "Pw2MqttSim", "poll_fast": 1}
        (data / "options.json").write_text(json.dumps(options))
        with fake_supervisor(service, SUPERVISOR_TOKEN) as (url, asked):
            run_args = [
                "run", "-d", "--name", name, "-v", f"{data}:/data",
                "-e", f"SUPERVISOR_URL={url}", "-e", f"SUPERVISOR_TOKEN={SUPERVISOR_TOKEN}",
                addon_image,
            ]  # fmt: skip
            try:
                async with MqttProbe(broker, ["pw2mqtt/#"]) as probe:
                    await rig(*run_args)
                    await _addon_online(probe, name)
                    assert asked == [
                        {"path": "/services/mqtt", "auth": f"Bearer {SUPERVISOR_TOKEN}"}
                    ]
                    _, cmdline = await rig("podman", "exec", name, "cat", "/proc/1/cmdline")
                    assert "/opt/pw2mqtt/bin/pw2mqtt\x00run\x00" in cmdline, cmdline
                    health = await _healthy(name)
                    assert health[0] == 0, health[1]

                    mark = probe.mark()
                    await rig("podman", "stop", "-t", "20", name, timeout=60)
                    await probe.wait_for(
                        "pw2mqtt/bridge/state", lambda m: m.text == "offline", start=mark
                    )
                    _, code = await rig(
                        "podman", "inspect", "--format", "{{.State.ExitCode}}", name
                    )
                    assert code.strip().splitlines()[-1] == "0", code
                    _, logs = await rig("podman", "logs", name, check=False)
                    assert "Pw2MqttSim" not in logs
            finally:
                await rig("podman", "rm", "-f", "-v", name, check=False, timeout=60)
    # the bridge's state (its certificate pin) is kept in the add-on's data folder
    assert list((data / "state").rglob("tls-pin.sha256"))


async def _addon_online(probe: MqttProbe, name: str) -> None:
    try:
        await probe.wait_for("pw2mqtt/bridge/state", lambda m: m.text == "online", timeout=30)
        level = await probe.wait_for(f"pw2mqtt/{SLUG}/battery_level", timeout=30)
        grid = await probe.wait_for(f"pw2mqtt/{SLUG}/grid_status", timeout=30)
    except AssertionError:
        _, logs = await rig("podman", "logs", name, check=False)
        raise AssertionError(f"container log:\n{logs[-4000:]}") from None
    assert 0.0 <= float(level.text) <= 100.0
    assert grid.text
