"""The committed protobuf code is exactly what `scripts/gen_proto.py` makes from `proto/`."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gen_proto.py"
COMMITTED = ROOT / "pw2mqtt" / "gateway" / "_proto"


def _script_pin() -> str:
    match = re.search(r'^GENERATOR_VERSION = "([^"]+)"', SCRIPT.read_text(), re.MULTILINE)
    assert match is not None, "scripts/gen_proto.py lost its GENERATOR_VERSION"
    return match[1]


def _generate(out: Path) -> None:
    if importlib.util.find_spec("grpc_tools") is None:
        pytest.skip("grpc_tools is not importable: install the dev dependency group to check drift")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr or result.stdout


def test_committed_code_matches_a_fresh_generation(tmp_path: Path) -> None:
    _generate(tmp_path)
    fresh = sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".py", ".pyi"))
    kept = sorted(p.name for p in COMMITTED.iterdir() if p.suffix in (".py", ".pyi"))
    assert fresh == kept
    stale = [
        name for name in fresh if (tmp_path / name).read_bytes() != (COMMITTED / name).read_bytes()
    ]
    assert not stale, (
        f"pw2mqtt/gateway/_proto is out of date with proto/ ({', '.join(stale)}): "
        "run python scripts/gen_proto.py and commit the result"
    )


def test_generation_is_reproducible(tmp_path: Path) -> None:
    _generate(tmp_path / "one")
    _generate(tmp_path / "two")
    for path in sorted((tmp_path / "one").iterdir()):
        assert path.read_bytes() == (tmp_path / "two" / path.name).read_bytes(), path.name
        text = path.read_text(encoding="utf-8")
        assert str(ROOT) not in text, f"{path.name} names the checkout"
        assert str(tmp_path) not in text, f"{path.name} names the output directory"


def test_pyproject_pins_the_same_generator() -> None:
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    pins = [
        dep
        for dep in groups.get("dev", [])
        if isinstance(dep, str) and dep.startswith("grpcio-tools")
    ]
    if not pins:
        pytest.skip("pyproject.toml does not list grpcio-tools in the dev group yet")
    assert pins == [f"grpcio-tools=={_script_pin()}"]
