"""config/node-red/pw2mqtt-flow.json in a real Node-RED, against the bridge and the simulator.

`tests/rigs/node_red/run_flow.py` runs Node-RED (pinned, installed into a cache by `make
test-nodered`) headless on 127.0.0.1 with the flow as shipped, its broker node pointed at the
test's Mosquitto. The test watches what the flow publishes under `node-red/pw2mqtt/…`, causes a grid
outage in the simulator, and presses the flow's "reserve 80 %" button through Node-RED's admin
API (`POST /inject/<id>`, what the editor's button does). Skips when the rig is not installed.
"""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.request
from pathlib import Path

import pytest

from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from tests import rigs
from tests.harness import running_bridge
from tests.mqtt_probe import Broker, MqttProbe, free_port

ROOT = Path(__file__).resolve().parents[2]
FLOW = ROOT / "config" / "node-red" / "pw2mqtt-flow.json"
RIG = rigs.NODE_RED_RUN
SLUG = "tg123456789abc"

pytestmark = pytest.mark.timeout(240)


def _skip_reason() -> str | None:
    return rigs.missing("nodered")


def test_the_flow_is_importable_and_dashboard_free() -> None:
    nodes = json.loads(FLOW.read_text(encoding="utf-8"))
    assert isinstance(nodes, list)
    ids = [node["id"] for node in nodes]
    assert len(ids) == len(set(ids))
    tabs = {node["id"] for node in nodes if node["type"] == "tab"}
    brokers = {node["id"] for node in nodes if node["type"] == "mqtt-broker"}
    assert len(tabs) == 1
    assert len(brokers) == 1
    core = {
        "tab", "mqtt-broker", "mqtt in", "mqtt out", "function", "switch", "change", "rbe",
        "inject", "debug", "comment",
    }  # fmt: skip
    assert {node["type"] for node in nodes} <= core  # nothing to install: no dashboard
    for node in nodes:
        if node["type"] not in ("tab", "mqtt-broker"):
            assert node["z"] in tabs, node["id"]
        if node["type"].startswith("mqtt "):
            assert node["broker"] in brokers
        for output in node.get("wires", []):
            assert set(output) <= set(ids), node["id"]


async def _node_red(flow: Path, broker: Broker, port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        str(RIG),
        "-p", str(port), "-b", str(broker.port), "-H", broker.host, "-t", "120",
        str(flow),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    lines = []
    async with asyncio.timeout(150):  # first run: npm install
        while True:
            line = (await process.stderr.readline()).decode(errors="replace")
            lines.append(line)
            if not line:
                pytest.fail("Node-RED did not start:\n" + "".join(lines[-40:]))
            if line.startswith("nodered-rig: ready"):
                return process


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)  # the rig stops Node-RED by its PID
        try:
            async with asyncio.timeout(15):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


def _press(port: int, node_id: str) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/inject/{node_id}", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


async def test_the_flow_against_the_bridge(broker: Broker, tmp_path: Path) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    options = SimulatorOptions(control_port=None, speed=5.0, profile="1.50")
    values = {
        "mqtt": {"host": broker.host, "port": broker.port, "client_id": "pw2mqtt-node-red"},
        "commands": {"backup_reserve": True, "min_interval": 0.5},
        "state_dir": str(tmp_path / "state"),
    }
    port = free_port()
    async with GatewaySimulator(options) as sim:
        sim.set_operation("self_consumption", 30.0)
        values["gateways"] = [
            {
                "host": f"localhost:{sim.port}",
                "password": "Pw2MqttSim",
                "timeout": 3.0,
                "poll": {"fast": 1.0, "medium": 2.0, "slow": 60.0},
            }
        ]
        async with running_bridge(values), MqttProbe(broker, ["node-red/#", "pw2mqtt/#"]) as probe:
            await probe.wait_for(f"pw2mqtt/{SLUG}/battery_level", timeout=20)
            node_red = await _node_red(FLOW, broker, port)
            try:
                # 1. Typed values: the retained ones arrive at once, numbers as numbers.
                def seen(field: str) -> dict[str, object]:
                    return json.loads(
                        next(
                            m.payload
                            for m in probe.on("node-red/pw2mqtt/values")
                            if json.loads(m.payload)["field"] == field
                        )
                    )

                for field in ("battery_level", "grid_power", "solar_power", "grid_status"):
                    await probe.wait_for(
                        "node-red/pw2mqtt/values",
                        lambda m, f=field: json.loads(m.payload)["field"] == f,
                        timeout=15,
                    )
                level = seen("battery_level")
                assert level["type"] == "number", level
                assert level["gateway"] == SLUG
                assert isinstance(level["value"], float | int)
                assert seen("grid_power")["type"] == "number"
                assert seen("grid_status") == {
                    "gateway": SLUG,
                    "field": "grid_status",
                    "value": "connected",
                    "type": "string",
                }
                assert probe.on("node-red/pw2mqtt/grid") == []  # no alarm for the first value

                # 2. The reserve, through a request with a transaction.
                mark = probe.mark()
                await asyncio.to_thread(_press, port, "reserve_80")
                result = await probe.wait_for(
                    "node-red/pw2mqtt/reserve/result", start=mark, timeout=45
                )
                answer = json.loads(result.payload)
                assert answer["ok"] is True, answer
                assert answer["transaction"].startswith("node-red-")
                assert answer["backup_reserve"] == pytest.approx(80.0, abs=0.1)
                assert sim.state.backup_reserve_percent == pytest.approx(81.0, abs=0.01)
                posts = [c for c in sim.calls if (c.method, c.path) == ("POST", "/api/operation")]
                assert posts[-1].body == {
                    "real_mode": "self_consumption",
                    "backup_reserve_percent": 81.0,
                }
                request = probe.on("pw2mqtt/bridge/request/gateway/set")[-1]
                assert json.loads(request.payload) == {
                    "gateway": SLUG,
                    "backup_reserve": 80,
                    "transaction": answer["transaction"],
                }

                # 3. The grid goes down, and comes back.
                sim.start_outage()
                down = await probe.wait_for("node-red/pw2mqtt/grid", timeout=30)
                assert json.loads(down.payload)["grid"] == "down"
                assert json.loads(down.payload)["gateway"] == SLUG
                mark = probe.mark()
                sim.end_outage()
                up = await probe.wait_for("node-red/pw2mqtt/grid", start=mark, timeout=45)
                assert json.loads(up.payload)["grid"] == "up"
                assert [
                    json.loads(m.payload)["grid"] for m in probe.on("node-red/pw2mqtt/grid")
                ] == [
                    "down",
                    "up",
                ]
            finally:
                await _stop(node_red)
