"""docs/securing-the-broker.md: its Mosquitto ACL, verbatim, keeps untrusted users off the commands.

A real Mosquitto with `allow_anonymous false`, a password file made by `mosquitto_passwd` and the
ACL block copied from the page; the bridge logs in as `pw2mqtt`. An untrusted user's command
(and fake state) never reaches anyone; the trusted user's command reaches the simulator and is
answered.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from tests.harness import bridge_settings, running_bridge
from tests.mqtt_probe import Broker

DOC = Path(__file__).resolve().parents[2] / "docs" / "securing-the-broker.md"
SLUG = "tg123456789abc"
PASSWORDS = {"pw2mqtt": "bridge-pass", "homeassistant": "trusted-pass", "viewer": "viewer-pass"}
RESPONSE = "pw2mqtt/bridge/response/gateway/set"


def doc_block(first_line: str) -> str:
    for block in re.findall(r"```\w*\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL):
        if block.startswith(first_line + "\n"):
            return str(block)
    raise AssertionError(f"no block starting with {first_line!r} in {DOC.name}")


class AclBroker(Broker):
    """Mosquitto with the page's settings: no anonymous access, a password file, the ACL."""

    def _write_config(self) -> None:
        conf = doc_block("# /etc/mosquitto/conf.d/pw2mqtt.conf")
        for line in ("allow_anonymous false", "password_file ", "acl_file "):
            assert f"\n{line}" in conf, line
        acl = self.workdir / "acl"
        acl.write_text(doc_block("# /etc/mosquitto/acl"), encoding="utf-8")
        passwd = self.workdir / "passwd"
        passwd.write_text("")
        tool = shutil.which("mosquitto_passwd")
        if tool is None:
            pytest.fail("mosquitto_passwd is missing (Debian package mosquitto)", pytrace=False)
        for user, password in PASSWORDS.items():
            subprocess.run([tool, "-b", str(passwd), user, password], check=True, timeout=10)
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous false",
            f"password_file {passwd}",
            f"acl_file {acl}",
            f"user {getpass.getuser()}",
            f"log_dest file {self.log_path}",
            "log_type all",
            "persistence false",
        ]
        self.config_path.write_text("\n".join(lines) + "\n")


def login(user: str) -> tuple[str, ...]:
    return ("-u", user, "-P", PASSWORDS[user])


async def listen(broker: Broker, user: str, topic: str, seconds: int) -> asyncio.Task[str]:
    """mosquitto_sub as `user` for `seconds`; the task's result is what it printed."""

    async def run() -> str:
        result = await broker.sub(*login(user), "-t", topic, "-v", "-W", str(seconds))
        return result.stdout

    task = asyncio.create_task(run())
    await asyncio.sleep(0.5)  # subscribed before anything is published
    return task


async def test_only_the_trusted_user_can_command(tmp_path: Path) -> None:
    broker = AclBroker(tmp_path / "broker")
    broker.workdir.mkdir(parents=True)
    broker.start()
    try:
        options = SimulatorOptions(control_port=None, speed=5.0, profile="1.50")
        async with GatewaySimulator(options) as sim:
            sim.set_operation("self_consumption", 50.0)
            values = bridge_settings(
                [sim],
                {
                    "host": broker.host,
                    "port": broker.port,
                    "username": "pw2mqtt",
                    "password": PASSWORDS["pw2mqtt"],
                },
                tmp_path / "state",
                gateway={"timeout": 3.0},
                commands={"backup_reserve": True, "min_interval": 0.5},
            )
            async with running_bridge(values):
                # Everyone may read what the bridge publishes.
                level = await broker.sub(
                    *login("viewer"), "-t", f"pw2mqtt/{SLUG}/battery_level", "-C", "1", "-W", "20"
                )
                assert level.returncode == 0, level
                float(level.stdout)
                # Anonymous clients are not let in at all.
                anonymous = await broker.cli("mosquitto_pub", "-t", "x", "-m", "1")
                assert anonymous.returncode != 0

                # The untrusted user: a command and fake state, both dropped by the broker.
                answers = await listen(broker, "homeassistant", RESPONSE, 6)
                fakes = await listen(broker, "homeassistant", f"pw2mqtt/{SLUG}/grid_status", 6)
                sim.clear_calls()
                await broker.pub(f"pw2mqtt/{SLUG}/backup_reserve/set", "20", *login("viewer"))
                await broker.pub(
                    "pw2mqtt/bridge/request/gateway/set",
                    json.dumps({"gateway": SLUG, "backup_reserve": 20, "transaction": "x"}),
                    *login("viewer"),
                )
                await broker.pub(f"pw2mqtt/{SLUG}/grid_status", "islanded", *login("viewer"))
                assert await answers == ""
                assert "islanded" not in await fakes
                assert [c for c in sim.calls if c.method == "POST"] == []
                assert sim.state.backup_reserve_percent == pytest.approx(50.0)
                assert re.search(r"Denied PUBLISH from \S+ .*backup_reserve/set", broker.log_text())

                # The trusted user: the same command is applied and answered.
                answers = await listen(
                    broker, "homeassistant", RESPONSE, 9
                )  # the CLI helper stops at 10 s
                await broker.pub(
                    f"pw2mqtt/{SLUG}/backup_reserve/set", "20", *login("homeassistant")
                )
                printed = await answers
                topic, _, payload = printed.strip().splitlines()[0].partition(" ")
                assert topic == RESPONSE
                assert json.loads(payload)["status"] == "ok", payload
                assert sim.state.backup_reserve_percent == pytest.approx(24.0, abs=0.01)
    finally:
        broker.kill()
