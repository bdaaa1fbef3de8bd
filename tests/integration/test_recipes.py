"""Every recipe in the README's "Shell recipes" section, run as written.

The recipes name the broker `localhost` and the gateway `<gw>`; the README says to replace those
two, and so does this test, mechanically: `-h localhost` becomes `-h 127.0.0.1 -p <port>` (the
test's Mosquitto) and `<gw>` the simulator's slug. Nothing else in a block is changed. Each block
runs in `sh`, in README order, against the simulator (firmware 1.50: a customer may write) and a
running bridge with the commands enabled. A recipe that runs until Ctrl-C (watch everything) is
stopped with SIGINT after a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from pw2mqtt.simulator import GatewaySimulator, SimulatorOptions
from tests.harness import bridge_settings, running_bridge
from tests.mqtt_probe import Broker, MqttProbe

README = Path(__file__).resolve().parents[2] / "README.md"
SLUG = "tg123456789abc"
SECTION = "## Shell recipes"
RESPONSE = "pw2mqtt/bridge/response/gateway/set"


def recipes() -> list[tuple[str, str]]:
    """(title, block) for every ```sh block of the section; the title is its first comment."""
    text = README.read_text(encoding="utf-8")
    assert SECTION in text, f"README.md has no {SECTION!r} section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    found = []
    for block in blocks:
        first = block.splitlines()[0]
        assert first.startswith("# "), f"a recipe starts with a '# title' comment:\n{block}"
        found.append((first[2:].strip(), block))
    return found


def substitute(block: str, broker: Broker) -> str:
    """The README's two substitutions, and nothing else."""
    assert "-h localhost" in block, block
    return block.replace("-h localhost", f"-h {broker.host} -p {broker.port}").replace("<gw>", SLUG)


async def run_recipe(script: str, *, until_interrupted: float | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "sh",
        "-c",
        script,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # one process group, so Ctrl-C reaches all of it
    )
    assert process.stdout is not None
    reader = asyncio.create_task(process.stdout.read())
    try:
        async with asyncio.timeout(until_interrupted or 90):
            await process.wait()
    except TimeoutError:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does
        await process.wait()
        if until_interrupted is None:
            raise
    output = await reader
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


async def test_every_shell_recipe_works_as_written(broker: Broker, tmp_path: Path) -> None:
    found = recipes()
    options = SimulatorOptions(control_port=None, speed=5.0, profile="1.50")
    async with GatewaySimulator(options) as sim:
        sim.set_operation("self_consumption", 50.0)
        values = bridge_settings(
            [sim],
            {"host": broker.host, "port": broker.port, "client_id": "pw2mqtt-recipes"},
            tmp_path / "state",
            gateway={"timeout": 3.0},
            commands={
                "operation_mode": True,
                "backup_reserve": True,
                "off_grid": True,
                "allow_grid_control": True,
                "min_interval": 0.5,
                "confirm_timeout": 30.0,
            },
        )
        async with running_bridge(values), MqttProbe(broker, ["pw2mqtt/#"]) as probe:
            await probe.wait_for(f"pw2mqtt/{SLUG}/battery_level", timeout=20)
            await probe.wait_for(f"pw2mqtt/{SLUG}/state", timeout=20)

            async def answered(mark: int) -> None:
                """The command's answer (so the next recipe does not catch it)."""
                message = await probe.wait_for(RESPONSE, start=mark, timeout=45)
                assert json.loads(message.payload)["status"] == "ok", message

            async def watch(output: str, mark: int) -> None:
                assert "pw2mqtt/bridge/state online" in output, output
                assert re.search(rf"^pw2mqtt/{SLUG}/battery_level [\d.]+$", output, re.M), output

            async def one_value(output: str, mark: int) -> None:
                assert 0 <= float(output.strip()) <= 100, output

            async def snapshot(output: str, mark: int) -> None:
                state = json.loads(output)
                assert isinstance(state["battery_level"], float | int), state
                assert "ts" in state

            async def mode(output: str, mark: int) -> None:
                await answered(mark)
                assert sim.state.mode == "backup"

            async def reserve(output: str, mark: int) -> None:
                await answered(mark)
                raw = 20 * 0.95 + 5
                assert abs(sim.state.backup_reserve_percent - raw) < 0.01

            async def off_grid(output: str, mark: int) -> None:
                await answered(mark)
                assert sim.state.grid_status == "SystemIslandedActive"

            async def on_grid(output: str, mark: int) -> None:
                await answered(mark)
                assert sim.state.grid_status == "SystemGridConnected"

            async def request(output: str, mark: int) -> None:
                answer = json.loads(output)
                assert answer["status"] == "ok", answer
                assert answer["transaction"] == "reserve-30"
                assert answer["data"]["backup_reserve"] == pytest.approx(30.0, abs=0.1)
                assert sim.state.backup_reserve_percent == pytest.approx(33.5, abs=0.01)

            checks: dict[str, Callable[[str, int], Awaitable[None]]] = {
                "Watch everything (Ctrl-C stops it)": watch,
                "Read one value and exit": one_value,
                "The whole snapshot, as one JSON object": snapshot,
                "Set the operation mode: self_consumption, autonomous or backup": mode,
                "Set the backup reserve, in % as the Tesla app shows it": reserve,
                "Take the site off the grid": off_grid,
                "Back on the grid": on_grid,
                "A request with a transaction, and its answer": request,
            }
            assert [title for title, _ in found] == list(checks), "a recipe without a check"
            for title, block in found:
                interrupted = 3.0 if "Ctrl-C" in title else None
                mark = probe.mark()
                status, output = await run_recipe(
                    substitute(block, broker), until_interrupted=interrupted
                )
                assert status == 0 or interrupted, f"{title}: exit {status}\n{output}"
                await checks[title](output, mark)
