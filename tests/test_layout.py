"""The package layout is the design: each package imports only the packages below it, and no
module imports itself back through others."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pw2mqtt"

SHARED = {
    "pw2mqtt",
    "pw2mqtt.errors",
    "pw2mqtt.config",
    "pw2mqtt.backoff",
    "pw2mqtt.files",
    "pw2mqtt.lifecycle",
}
# What each package may import besides itself and SHARED.
ALLOWED: dict[str, set[str]] = {
    "gateway": set(),
    "cloud": {"gateway"},
    "entities": {"gateway"},
    "mqtt": {"entities", "gateway"},
    "commands": {"entities", "gateway", "mqtt"},
    "bridge": {"entities", "gateway", "mqtt", "commands", "cluster"},
    "reference": {"entities", "gateway", "mqtt", "commands"},
    "simulator": {"gateway"},
    "cluster": set(),
    "app": {
        "entities",
        "gateway",
        "cloud",
        "mqtt",
        "commands",
        "bridge",
        "simulator",
        "reference",
        "cluster",
    },
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every pw2mqtt module `path` imports, at any depth of its code, typing-only ones included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names}
            submodules &= set(_ALL)
            # `from package import module` runs the package too, but what it uses is the module.
            found.update(submodules or {node.module})
    return {name for name in found if name == "pw2mqtt" or name.startswith("pw2mqtt.")}


_ALL = {_module_name(path) for path in PACKAGE.rglob("*.py")}
MODULES = {
    _module_name(path): path for path in sorted(PACKAGE.rglob("*.py")) if "_proto" not in path.parts
}
GRAPH = {name: {i for i in _imports(path) if i in MODULES} for name, path in MODULES.items()}


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ALLOWED) else None


@pytest.mark.parametrize("module", sorted(set(MODULES) - {"pw2mqtt.__main__"}))
def test_imports_only_what_its_package_may(module: str) -> None:
    package = _package(module)
    if package is None:
        wrong = sorted(t for t in GRAPH[module] if t not in SHARED and _package(t) != "gateway")
        assert not wrong, (
            f"{module} (shared) may import only shared modules and the gateway: {wrong}"
        )
        return
    allowed = ALLOWED[package] | {package}
    wrong = sorted(
        target
        for target in GRAPH[module]
        if target not in SHARED and _package(target) not in allowed
    )
    assert not wrong, f"{module} ({package}) may not import {wrong}"


def test_no_import_cycles() -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(GRAPH[node]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert not cycles, "import cycles: " + "; ".join(" → ".join(c) for c in cycles)
