"""`pip install pw2mqtt` then `pw2mqtt demo`: a wheel built from the tree, in a fresh venv.

Builds the wheel with `pip wheel . --no-deps` (hatchling from the index), makes a new venv
without this one's packages, installs `<wheel>[demo]` with its dependencies from the index, and
runs the installed `pw2mqtt`: `--version`, then `pw2mqtt demo` until it prints its "connect
with:" instructions, then Ctrl-C (SIGINT), which must end it with status 0. Needs the package
index; ~30-60 s. Skips when the index cannot be reached.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from pw2mqtt import __version__

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(420)


def _run(*argv: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in argv], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, ROOT)
    if result.returncode != 0 and "Could not find a version that satisfies" in result.stderr:
        pytest.skip(f"the package index is not reachable: {result.stderr[-300:]}")
    assert result.returncode == 0, result.stderr[-3000:]
    (built,) = out.glob("pw2mqtt-*.whl")
    assert built.name == f"pw2mqtt-{__version__}-py3-none-any.whl"
    return built


def test_the_wheel_holds_the_package_and_its_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"pw2mqtt-{__version__}.dist-info/METADATA").decode()
    assert "pw2mqtt/app/cli.py" in names
    assert "pw2mqtt/gateway/_proto/tesla_vitals_pb2.py" in names or any(
        name.startswith("pw2mqtt/gateway/_proto/") for name in names
    )
    assert not any(name.startswith(("tests/", "docs/", "addon/")) for name in names)
    assert f"pw2mqtt-{__version__}.dist-info/entry_points.txt" in names
    for line in (
        "Name: pw2mqtt",
        f"Version: {__version__}",
        "Requires-Python: >=3.11",
        "Provides-Extra: demo",
        "License-Expression: MIT",
    ):
        assert line in metadata, line
    assert "Description-Content-Type: text/markdown" in metadata


def test_a_fresh_venv_installs_it_and_runs_the_demo(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    result = _run(sys.executable, "-m", "venv", venv)
    assert result.returncode == 0, result.stderr
    bin_dir = venv / "bin"
    result = _run(bin_dir / "pip", "install", "--quiet", f"{wheel}[demo]", timeout=360)
    if result.returncode != 0 and "Could not find a version" in result.stderr:
        pytest.skip(f"the package index is not reachable: {result.stderr[-300:]}")
    assert result.returncode == 0, result.stderr[-3000:]

    version = _run(bin_dir / "pw2mqtt", "--version", timeout=60)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"pw2mqtt {__version__}"

    demo = subprocess.Popen(
        [
            str(bin_dir / "pw2mqtt"), "demo", "--plain", "--mqtt-port", "0",
            "--state-dir", str(tmp_path / "state"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,  # not the source tree: the installed package must be the one that runs
        env={key: value for key, value in os.environ.items() if not key.startswith("PW2MQTT_")},
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert demo.stdout is not None
        deadline = time.monotonic() + 60
        for line in demo.stdout:
            lines.append(line)
            if line.startswith("connect with:") or time.monotonic() > deadline:
                break
        assert any(line.startswith("connect with:") for line in lines), "".join(lines)
        time.sleep(1)
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=30)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 0, "".join(lines) + rest
