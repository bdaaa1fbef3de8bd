"""`python -m bench.commands`: MQTT command → confirmed `ok`, over REST and over signed control.

One bridge in this process per transport, a private Mosquitto, and the simulator at zero added
latency over real HTTPS on loopback: profile 1.50 (REST: POST /api/operation, then
/api/config/completed, then read back) and profile 26.26 with a verified RSA-4096 key (v1r:
config.json read, write, read back). Each command changes the backup reserve; the time runs from
the publish to the `ok` answer, and to the gateway's first request of the command (from the
simulator's call log). Not part of `python -m bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiomqtt

from bench.broker import HOST, Mosquitto
from bench.stats import percentile
from pw2mqtt.bridge.runtime import Bridge
from pw2mqtt.config import Settings
from pw2mqtt.gateway.tedapi.errors import V1R_PATH
from pw2mqtt.gateway.tedapi.keys import KEY_SIZE, SigningKey, generate_key, key_path_for, save_key
from pw2mqtt.simulator.keys import KeyState
from pw2mqtt.simulator.server import GatewaySimulator, SimulatorOptions

RESPONSE = "pw2mqtt/bridge/response/gateway/set"
FIRST_PATHS = frozenset({"/api/operation", V1R_PATH})  # a command's first request, either way
COMMANDS = {"backup_reserve": True, "min_interval": 0.0, "confirm_timeout": 30.0}


def _settings(sim: GatewaySimulator, port: int, state: Path, transport: str) -> Settings:
    return Settings.model_validate(
        {
            "gateways": [
                {
                    "host": f"localhost:{sim.port}",
                    "password": sim.options.customer_password,
                    "name": "gw",
                    "poll": {"fast": 5.0, "medium": 30.0, "slow": 600.0, "detail": 0.0},
                }
            ],
            "mqtt": {"host": HOST, "port": port, "client_id": f"bench-{transport}"},
            "commands": {**COMMANDS, "transport": transport},
            "state_dir": str(state),
        }
    )


async def _answer(messages: aiomqtt.Client) -> dict[str, Any]:
    async with asyncio.timeout(60):
        async for message in messages.messages:
            if str(message.topic) == RESPONSE:
                body: dict[str, Any] = json.loads(bytes(message.payload))
                return body
    raise RuntimeError("the broker closed the connection")


async def _run(
    profile: str, transport: str, key: SigningKey | None, count: int, port: int
) -> tuple[list[float], list[float]]:
    options = SimulatorOptions(profile=profile, control_port=None, speed=1.0)
    to_ok: list[float] = []
    to_request: list[float] = []
    async with GatewaySimulator(options) as sim:
        with tempfile.TemporaryDirectory() as state_dir:
            state = Path(state_dir)
            if key is not None:
                save_key(key, key_path_for(state))
                sim.set_key_state(key.public_key_der, KeyState.VERIFIED, "bench")
            bridge = Bridge(_settings(sim, port, state, transport))
            task = asyncio.create_task(bridge.run())
            try:
                async with aiomqtt.Client(HOST, port, identifier=f"bench-cmd-{transport}") as mqtt:
                    await mqtt.subscribe(RESPONSE, qos=1)
                    await _wait_online(mqtt)
                    for n in range(count + 1):  # the first one warms up (a key check, a login)
                        mark = len(sim.calls)
                        sent = time.time()
                        await mqtt.publish("pw2mqtt/gw/backup_reserve/set", str(30 + n % 2 * 20))
                        answer = await _answer(mqtt)
                        done = time.time()
                        if answer.get("status") != "ok":
                            raise RuntimeError(f"{profile}: {answer}")
                        first = min(c.time for c in sim.calls[mark:] if c.path in FIRST_PATHS)
                        if n:
                            to_ok.append(done - sent)
                            to_request.append(first - sent)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    return to_ok, to_request


async def _wait_online(mqtt: aiomqtt.Client) -> None:
    await mqtt.subscribe("pw2mqtt/gw/backup_reserve/availability", qos=1)
    async with asyncio.timeout(60):
        async for message in mqtt.messages:
            topic = message.topic.matches("pw2mqtt/gw/backup_reserve/availability")
            if topic and message.payload == b"online":
                return


def _line(name: str, seconds: list[float]) -> str:
    median = statistics.median(seconds) * 1000
    p95 = (percentile(seconds, 95) or 0.0) * 1000
    return f"| {name} | {len(seconds)} | {median:.1f} | {p95:.1f} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.commands", description=__doc__)
    parser.add_argument("--count", type=int, default=30, help="commands per transport (30)")
    args = parser.parse_args(argv)
    key = generate_key(key_size=KEY_SIZE)
    with tempfile.TemporaryDirectory() as work, Mosquitto(Path(work) / "broker") as broker:
        rest = asyncio.run(_run("1.50", "rest", None, args.count, broker.port))
        signed = asyncio.run(_run("26.26", "v1r", key, args.count, broker.port))
    print("| measurement | n | median ms | p95 ms |")
    print("|---|---|---|---|")
    print(_line("REST (1.50): command → ok", rest[0]))
    print(_line(f"v1r (26.26, RSA-{KEY_SIZE}): command → ok", signed[0]))
    print(_line("REST (1.50): command → first gateway request", rest[1]))
    print(_line("v1r (26.26): command → first gateway request", signed[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
