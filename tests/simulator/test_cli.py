"""The `simulate` command: argument handling, and a real run stopped by SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

import pytest

from pw2mqtt.simulator.cli import add_simulate_arguments, options_from_args


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_simulate_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_and_count() -> None:
    opts = options_from_args(parse("--count", "3", "--port", "9443", "--server-name", "pw"))
    assert [o.port for o in opts] == [9443, 9444, 9445]
    assert len({o.din for o in opts}) == 3
    assert opts[0].din == "1232100-00-E--TG123456789ABC"
    assert all(o.extra_server_names == ("pw",) for o in opts)
    assert opts[0].host == "127.0.0.1"


def test_non_loopback_needs_the_flag() -> None:
    with pytest.raises(ValueError, match="allow-non-loopback"):
        options_from_args(parse("--host", "0.0.0.0"))
    opts = options_from_args(parse("--host", "0.0.0.0", "--allow-non-loopback"))
    assert opts[0].host == "0.0.0.0"
    assert options_from_args(parse("--host", "::1"))[0].host == "::1"


def test_control_port_minus_one_disables_it() -> None:
    assert options_from_args(parse("--control-port", "-1"))[0].control_port is None


async def test_module_entry_runs_until_sigterm(tmp_path: Path) -> None:
    cert = tmp_path / "gw.pem"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pw2mqtt.simulator",
        "--port",
        "0",
        "--count",
        "2",
        "--cert-out",
        str(cert),
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(15):
        while not lines or "Ctrl-C" not in lines[-1]:
            lines.append((await process.stdout.readline()).decode())
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 10) == 0
    text = "".join(lines)
    assert text.count("https://127.0.0.1:") == 2
    assert "customer / Pw2MqttSim" in text
    assert "fingerprint" in text
    assert "control API" in text
    assert cert.read_bytes().count(b"BEGIN CERTIFICATE") == 2
