"""The integration rigs: where `make test-ha`, `test-nodered`, `test-container` and
`test-cluster` install them.

Each rig is installed by its script under scripts/ into a cache folder outside the work tree
(`${XDG_CACHE_HOME:-~/.cache}/pw2mqtt-rigs/…`), pinned to the versions in versions.env. A test
whose rig is missing skips with `missing(...)`'s reason, which names the make target to run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

RIGS = Path(__file__).parent


def _versions() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (RIGS / "versions.env").read_text().splitlines())
    return {key.strip(): value.strip() for key, value in (p for p in pairs if len(p) == 2)}


VERSIONS = _versions()
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pw2mqtt-rigs"

HA_HOME = CACHE / f"home-assistant-{VERSIONS['HA_VERSION']}"
HA_PYTHON = HA_HOME / "venv" / "bin" / "python"
HA_CHECK = RIGS / "ha" / "run_check.py"

NODE_RED_HOME = CACHE / f"node-red-{VERSIONS['NODE_RED_VERSION']}"
NODE_RED_JS = NODE_RED_HOME / "node_modules" / "node-red" / "red.js"
NODE_RED_RUN = RIGS / "node_red" / "run_flow.py"

CONTAINER_HOME = CACHE / "podman"
CONTAINER_RIG = RIGS / "container" / "podman.sh"


def missing(rig: str) -> str | None:
    """Why `rig` ("ha", "nodered", "container" or "cluster") cannot run here, or None."""
    if rig == "ha":
        ready = (HA_HOME / ".installed").is_file() and HA_PYTHON.exists()
        what = f"Home Assistant {VERSIONS['HA_VERSION']} rig"
    elif rig == "nodered":
        ready = NODE_RED_JS.is_file() and shutil.which("node") is not None
        what = f"Node-RED {VERSIONS['NODE_RED_VERSION']} rig"
    elif rig == "container":
        ready = all(shutil.which(tool) for tool in ("podman", "buildah", "runc", "debootstrap"))
        what = "container rig (podman)"
    elif rig == "cluster":
        from bench.postgres import binaries  # the server the cluster tests start

        ready = binaries() is not None
        what = "PostgreSQL"
    else:
        raise ValueError(rig)
    return None if ready else f"{what} not installed: run `make test-{rig}`"
