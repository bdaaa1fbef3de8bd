"""The peer: pypowerwall-server from PyPI in a virtual environment of its own, or a plain loop.

Its code is never part of this project: the benchmark installs the pinned release from PyPI into a
cache folder and runs it as a separate process, talking to it only through the gateway simulator
and the broker, like any user would.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from collections.abc import Callable
from pathlib import Path

from bench.broker import HOST, free_port
from bench.contenders import FAST_INTERVAL, Running, spawn
from bench.gateways import Gateway
from bench.observer import Seen

SERVER_PINS = ("pypowerwall-server==0.13.0", "pypowerwall==0.22.2", "aiomqtt==2.5.1")
# aiomqtt is not among pypowerwall-server's declared dependencies, but its MQTT publisher needs it.
LOOP_PINS = ("pypowerwall==0.22.2", "paho-mqtt==2.1.0")
LOOP_SCRIPT = Path(__file__).with_name("peer_loop.py")
PREFIX = "pypowerwall/"


class PeerUnavailableError(RuntimeError):
    pass


def _default_home() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "pw2mqtt-bench"


def ensure_venv(pins: tuple[str, ...], home: Path | None, say: Callable[[str], None]) -> Path:
    """A virtual environment with exactly `pins`, made once and kept (keyed by the pins)."""
    key = hashlib.sha256(" ".join(pins).encode()).hexdigest()[:12]
    where = (home or _default_home()) / f"peer-{key}"
    python = where / "bin" / "python"
    done = where / ".installed"
    if done.exists() and python.exists():
        return python
    say(f"peer: installing {' '.join(pins)} into {where} …")
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pins],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).splitlines()[-5:])
        raise PeerUnavailableError(f"pip could not install {' '.join(pins)}: {tail}")
    done.write_text("\n".join(pins) + "\n")
    return python


class _Peer:
    def __init__(self, python: Path, label: str, description: str) -> None:
        self._python = python
        self.label = label
        self.description = description

    def packages(self) -> list[str]:
        """Every package in the peer's environment with its version (only the top is pinned)."""
        result = subprocess.run(
            [str(self._python), "-m", "pip", "freeze", "--disable-pip-version-check"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return result.stdout.split()

    def owns(self, seen: Seen) -> bool:
        return seen.topic.startswith((PREFIX, "homeassistant/"))

    def solar_watts(self, seen: Seen) -> float | None:
        if not seen.topic.startswith(PREFIX) or not seen.topic.endswith("/solar"):
            return None
        try:
            return float(seen.payload)
        except ValueError:
            return None

    def is_state(self, seen: Seen) -> bool:
        return seen.topic.startswith(PREFIX) and seen.topic.endswith("/solar")


def _prepare(
    gateways: list[Gateway], broker_port: int, workdir: Path
) -> tuple[Path, dict[str, str]]:
    """An empty working directory (the peer looks there for cloud credentials), its environment."""
    if len(gateways) != 1:
        raise ValueError("the peer is measured with one gateway")
    cwd = workdir / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    return cwd, _env(gateways[0], broker_port, workdir)


def _env(gateway: Gateway, broker_port: int, workdir: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        PW_HOST=gateway.address,
        PW_PASSWORD=gateway.password,
        PW_EMAIL="bench@example.com",
        PW_TIMEZONE="America/Los_Angeles",
        PW_CACHE_FILE=str(workdir / ".powerwall"),
        MQTT_HOST=HOST,
        MQTT_PORT=str(broker_port),
    )
    return env


class PypowerwallServer(_Peer):
    """pypowerwall-server in local (customer login) mode, polling and publishing every 5 s."""

    def __init__(self, python: Path) -> None:
        super().__init__(
            python,
            "pypowerwall-server",
            f"pypowerwall-server 0.13.0 from PyPI ({', '.join(SERVER_PINS[1:])}), local mode, "
            "PW_CACHE_EXPIRE=5 (its poll and publish interval), MQTT with HA discovery, "
            "retained, QoS 1 (its defaults)",
        )

    def start(self, gateways: list[Gateway], broker_port: int, workdir: Path) -> Running:
        cwd, env = _prepare(gateways, broker_port, workdir)
        env.update(
            PW_CACHE_EXPIRE=f"{FAST_INTERVAL:.0f}",  # its poll and publish interval
            PW_FAILOVER="no",  # never fall back to Tesla's cloud
            PW_TEDAPI_RECOVERY="no",
            PW_TIMESERIES_RETENTION="-1",  # no history database
            PW_BIND_ADDRESS=HOST,
            PW_PORT=str(free_port()),
        )
        script = self._python.parent / "pypowerwall-server"
        running = spawn([str(script)], env, workdir / "peer.log", cwd=cwd)
        running.stop_signal = signal.SIGINT
        return running


class PypowerwallLoop(_Peer):
    """The fallback: pypowerwall + paho-mqtt publishing the same fields on every poll."""

    def __init__(self, python: Path, why: str) -> None:
        super().__init__(
            python,
            "pypowerwall loop",
            f"a plain polling loop (bench/peer_loop.py) with {', '.join(LOOP_PINS)}: eight "
            f"fields every 5 s, retained, QoS 1, no Home Assistant discovery ({why})",
        )

    def start(self, gateways: list[Gateway], broker_port: int, workdir: Path) -> Running:
        cwd, env = _prepare(gateways, broker_port, workdir)
        argv = [str(self._python), str(LOOP_SCRIPT), "--interval", str(FAST_INTERVAL)]
        return spawn(argv, env, workdir / "peer.log", cwd=cwd)


def make_peer(
    mode: str, home: Path | None, say: Callable[[str], None]
) -> PypowerwallServer | PypowerwallLoop:
    why = "chosen with --peer loop"
    if mode in ("auto", "server"):
        try:
            return PypowerwallServer(ensure_venv(SERVER_PINS, home, say))
        except (PeerUnavailableError, OSError, subprocess.SubprocessError) as err:
            if mode == "server":
                raise PeerUnavailableError(str(err)) from err
            why = f"pypowerwall-server could not be installed: {err}"
            say(f"peer: {why}; using the plain loop")
    try:
        return PypowerwallLoop(ensure_venv(LOOP_PINS, home, say), why)
    except (OSError, subprocess.SubprocessError) as err:
        raise PeerUnavailableError(str(err)) from err


if __name__ == "__main__":  # python -m bench.peer: prepare the peer's environment ahead of a run
    print(make_peer(sys.argv[1] if len(sys.argv) > 1 else "auto", None, print).description)
