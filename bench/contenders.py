"""How to start each bridge under test, and how to read its values off the broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bench.broker import HOST
from bench.gateways import Gateway
from bench.observer import Seen
from pw2mqtt.mqtt.topics import Topics

TOPICS = Topics()  # pw2mqtt's default topics, which the benchmark runs it with
FAST_INTERVAL = 5.0  # seconds between reads of the power flows, for every bridge measured


class Contender(Protocol):
    label: str

    def start(self, gateways: list[Gateway], broker_port: int, workdir: Path) -> Running: ...

    def owns(self, seen: Seen) -> bool:
        """True for the messages this bridge published (not the benchmark's own)."""

    def solar_watts(self, seen: Seen) -> float | None:
        """The solar power in W if `seen` carries it, else None."""

    def is_state(self, seen: Seen) -> bool:
        """True for a message that carries a gateway reading (not discovery or status)."""


@dataclass
class Running:
    """A started bridge process; `stop()` asks it to end with SIGTERM, as a service manager does."""

    process: subprocess.Popen[bytes]
    started_at: float  # time.monotonic() just before the spawn
    log_path: Path
    stop_signal: signal.Signals = signal.SIGTERM

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def spawn(argv: list[str], env: dict[str, str], log_path: Path, cwd: Path | None = None) -> Running:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("wb")
    started = time.monotonic()
    process = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    log.close()
    return Running(process, started, log_path)


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PW2MQTT_", "PW_", "MQTT_"))}


class Pw2Mqtt:
    """This project's bridge, as `pw2mqtt run --config FILE` with its defaults (fast poll 5 s)."""

    label = "pw2mqtt"

    def __init__(self, *, state_dir: Path | None = None, commands: bool = False) -> None:
        self._state_dir = state_dir
        self._commands = commands

    def config(
        self, gateways: list[Gateway], broker_port: int, state_dir: Path
    ) -> dict[str, object]:
        values: dict[str, object] = {
            "gateways": [
                {
                    "host": g.address,
                    "password": g.password,
                    "tls": {"mode": "pin", "fingerprint": g.fingerprint},
                    "poll": {"fast": FAST_INTERVAL},  # the default, said out loud
                }
                for g in gateways
            ],
            "mqtt": {"host": HOST, "port": broker_port, "client_id": "pw2mqtt-bench"},
            "state_dir": str(state_dir),
            "log_level": "warning",
        }
        if self._commands:
            values["commands"] = {"backup_reserve": True, "operation_mode": True, "min_interval": 0}
        return values

    def start(self, gateways: list[Gateway], broker_port: int, workdir: Path) -> Running:
        state_dir = self._state_dir or workdir / "state"
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "pw2mqtt.yaml"  # JSON is YAML
        config.write_text(json.dumps(self.config(gateways, broker_port, state_dir), indent=2))
        argv = [sys.executable, "-m", "pw2mqtt", "run", "--config", str(config)]
        return spawn(argv, clean_env(), workdir / "pw2mqtt.log")

    def owns(self, seen: Seen) -> bool:
        return seen.topic.startswith((f"{TOPICS.base}/", f"{TOPICS.discovery_prefix}/"))

    def solar_watts(self, seen: Seen) -> float | None:
        if not seen.topic.endswith("/solar_power") or "/devices/" in seen.topic:
            return None
        return _number(seen.payload)

    def is_state(self, seen: Seen) -> bool:
        return seen.topic.startswith(f"{TOPICS.base}/") and seen.topic.endswith("/solar_power")


def _number(payload: bytes) -> float | None:
    try:
        return float(payload)
    except ValueError:
        return None
