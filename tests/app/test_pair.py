"""`pw2mqtt pair` as a subprocess against a simulated gateway and its simulated Tesla cloud."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from pw2mqtt.gateway.tedapi.keys import SigningKey, generate_key, key_path_for, save_key
from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from pw2mqtt.simulator.cloud import CloudOptions
from pw2mqtt.simulator.control import ControlServer
from pw2mqtt.simulator.keys import KeyState

REFRESH = "rt-SECRET-refresh-5f1c9e"
ACCESS = "at-SECRET-access-77ab20"
CLOUD = CloudOptions(refresh_token=REFRESH, access_token=ACCESS, pairing_window=120.0)


@dataclass
class Rig:
    sim: GatewaySimulator
    server: ControlServer
    state_dir: Path
    key: SigningKey
    token_file: Path

    def args(self, *extra: str) -> list[str]:
        return [
            "pair",
            "--state-dir", str(self.state_dir),
            "--owner-api-url", self.server.url + "/cloud",
            "--token-url", self.server.url + "/cloud/oauth2/v3/token",
            "--poll-interval", "0.1",
            *extra,
        ]  # fmt: skip


@dataclass
class Done:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PW2MQTT_")}
    env.update(extra)
    return env


async def start(args: list[str], env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pw2mqtt", *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        env=env or environment(),
    )  # fmt: skip


async def finish(process: asyncio.subprocess.Process) -> Done:
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    done = Done(process.returncode, out.decode(), err.decode())
    for secret in (REFRESH, ACCESS, "sim-access-"):
        assert secret not in done.text
    return done


async def pair(rig: Rig, *extra: str, env: dict[str, str] | None = None) -> Done:
    return await finish(await start(rig.args(*extra), env))


async def until_pending(rig: Rig) -> None:
    for _ in range(300):
        registered = rig.sim.keys.get(rig.key.public_key_der)
        if registered is not None and registered.state is KeyState.PENDING:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the pairing request never arrived")


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    options = SimulatorOptions(speed=0.0, start_time=1_717_268_400.0, control_port=0)
    state_dir = tmp_path / "state"
    key = generate_key(key_size=2048)
    save_key(key, key_path_for(state_dir))
    token_file = tmp_path / "tesla-tokens.json"
    token_file.write_text(json.dumps({"refresh_token": REFRESH}))
    token_file.chmod(0o600)
    async with GatewaySimulator(options) as sim, ControlServer(sim, cloud=CLOUD) as server:
        yield Rig(sim, server, state_dir, key, token_file)


async def test_happy_path_the_owner_toggles_and_the_key_is_verified(rig: Rig) -> None:
    process = await start(rig.args("--token-file", str(rig.token_file), "--din", rig.sim.din))
    await until_pending(rig)
    await asyncio.sleep(0.3)  # a few polls see it pending
    async with (
        aiohttp.ClientSession() as session,
        session.post(rig.server.url + "/toggle") as toggled,
    ):
        assert toggled.status == 200
    done = await finish(process)
    assert done.code == 0, done.text
    assert f"VERIFIED: the gateway {rig.sim.din} accepts key {rig.key.fingerprint}" in done.out
    assert "AC disconnect" in done.out
    assert "On/Off switch" in done.out
    assert "Waiting for the power toggle:" in done.out  # a progress line (not a terminal)
    registered = rig.sim.keys.get(rig.key.public_key_der)
    assert registered is not None
    assert registered.state is KeyState.VERIFIED
    assert registered.description == "pw2mqtt"


async def test_the_din_is_read_from_the_gateway(rig: Rig) -> None:
    rig.sim.keys.add(rig.key.public_key_der, "earlier", rig.sim.now())
    rig.sim.keys.toggle()  # paired before: nothing to do
    env = environment(PW2MQTT_TESLA_REFRESH_TOKEN=REFRESH)
    done = await pair(
        rig, "--host", f"127.0.0.1:{rig.sim.port}", "--password", "Pw2MqttSim", env=env
    )
    assert done.code == 0, done.text
    assert f"gateway DIN {rig.sim.din}" in done.out
    assert "already paired" in done.out


async def test_timeout_when_the_cloud_gives_up(rig: Rig) -> None:
    process = await start(rig.args("--token-file", str(rig.token_file), "--din", rig.sim.din))
    await until_pending(rig)
    rig.sim.advance(CLOUD.pairing_window + 1)
    done = await finish(process)
    assert done.code == 1
    assert "the toggle was not seen in time; run pw2mqtt pair again" in done.err


async def test_timeout_when_time_runs_out_here(rig: Rig) -> None:
    args = ("--token-file", str(rig.token_file), "--din", rig.sim.din, "--timeout", "1")
    done = await pair(rig, *args)
    assert done.code == 1
    assert "TIMEOUT" in done.err
    registered = rig.sim.keys.get(rig.key.public_key_der)
    assert registered is not None
    assert registered.state is KeyState.PENDING


async def test_removed_while_waiting(rig: Rig) -> None:
    process = await start(rig.args("--token-file", str(rig.token_file), "--din", rig.sim.din))
    await until_pending(rig)
    rig.server.cloud.remove(rig.key.public_key_der)
    done = await finish(process)
    assert done.code == 1
    assert "REMOVED" in done.err
    assert "removed from the gateway" in done.err


async def test_wrong_refresh_token(rig: Rig) -> None:
    env = environment(PW2MQTT_TESLA_REFRESH_TOKEN="rt-wrong-0000")
    done = await pair(rig, "--din", rig.sim.din, env=env)
    assert done.code == 1
    assert "Tesla refused the refresh token (wrong or expired)" in done.err
    assert "get a new refresh token" in done.err
    assert "rt-wrong-0000" not in done.text
    assert rig.sim.keys.clients() == []


async def test_expired_access_token_alone(rig: Rig) -> None:
    rig.server.cloud.expire_access_tokens()
    env = environment(PW2MQTT_TESLA_ACCESS_TOKEN=ACCESS)
    done = await pair(rig, "--din", rig.sim.din, env=env)
    assert done.code == 1
    assert "Tesla refused the access token (wrong or expired)" in done.err


async def test_expired_access_token_is_refreshed(rig: Rig) -> None:
    rig.server.cloud.expire_access_tokens()
    rig.sim.keys.add(rig.key.public_key_der, "earlier", rig.sim.now())
    rig.sim.keys.toggle()
    token_file = rig.token_file
    token_file.write_text(json.dumps({"access_token": ACCESS, "refresh_token": REFRESH}))
    done = await pair(rig, "--token-file", str(token_file), "--din", rig.sim.din)
    assert done.code == 0, done.text
    refreshes = [r for r in rig.server.cloud.requests if r[1].endswith("/token")]
    assert refreshes == [("POST", "/cloud/oauth2/v3/token", 200)]


async def test_site_not_found_lists_the_dins_seen(rig: Rig) -> None:
    other = "1232100-00-E--TG000000000042"
    done = await pair(rig, "--token-file", str(rig.token_file), "--din", other)
    assert done.code == 1
    assert f"no energy site of this Tesla account has the gateway DIN {other}" in done.err
    assert rig.sim.din in done.err
    assert rig.sim.keys.clients() == []


async def test_the_only_site_is_not_taken_unconfirmed(rig: Rig) -> None:
    done = await pair(rig, "--token-file", str(rig.token_file))
    assert done.code == 2
    assert rig.sim.din in done.err
    assert rig.sim.keys.clients() == []


async def test_429_mid_pairing_is_waited_out(rig: Rig) -> None:
    process = await start(rig.args("--token-file", str(rig.token_file), "--din", rig.sim.din))
    await until_pending(rig)
    rig.server.cloud.throttle(2, retry_after=0.2)
    for _ in range(200):
        if not rig.server.cloud.throttled:
            break
        await asyncio.sleep(0.05)
    rig.server.cloud.toggle()
    done = await finish(process)
    assert done.code == 0, done.text
    assert done.out.count("asked to slow down (429)") == 2
    assert [r[2] for r in rig.server.cloud.requests].count(429) == 2


async def test_offline_prints_the_public_key(rig: Rig) -> None:
    done = await pair(rig, "--offline")
    assert done.code == 0
    lines = done.out.splitlines()
    b64 = lines[lines.index(next(x for x in lines if x.startswith("public key"))) + 1]
    assert base64.b64decode(b64, validate=True) == rig.key.public_key_der
    assert rig.key.fingerprint in done.out
    assert "pw2mqtt pair --status" in done.out
    assert "PRIVATE" not in done.text


async def test_no_token_found_falls_back_to_offline(rig: Rig) -> None:
    done = await pair(rig, "--din", rig.sim.din)
    assert done.code == 1
    assert "no Tesla token found" in done.out
    assert rig.key.public_key_base64 in done.out.split()


async def test_a_bad_token_file_is_one_clear_line(rig: Rig, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"access": "at-SECRET-in-wrong-field"}')
    done = await pair(rig, "--token-file", str(bad), "--din", rig.sim.din)
    assert done.code == 1
    assert done.err.strip().splitlines() == [
        f"error: token file {bad} has no access_token or refresh_token"
    ]
