"""The layers of DESIGN.md hold: imports go down only, and no module imports itself in a circle.

Every `import` and `from ... import` of `src/cloud_config` is read with `ast` (lazy imports inside
functions count too: a lazy upward import is still an upward dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "cloud_config"
# From the bottom. A module imports only from its own layer or the layers below it.
LAYERS = ("model", "crypto", "render", "store", "app", "git", "gate", "rehearse", "pipeline", "cli", "demo")
BASE = {"errors", "__init__"}  # importable from anywhere
TOP = {"__main__"}  # imports the cli, imported by nothing
# The one permitted upward edge: the `demo` verb starts the showcase, lazily.
ALLOWED = {("cloud_config.cli.pipeline", "cloud_config.demo.walkthrough")}
# Below it but still out of bounds: the store holds files only, it never renders.
FORBIDDEN = {("store", "render")}


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str) -> set[str]:
    """The cloud_config modules `path` imports (resolving `from package import module`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            if base.split(".")[0] != PACKAGE:
                continue
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def graph(src: Path = SRC) -> dict[str, set[str]]:
    """Module -> the cloud_config modules it imports (only those that exist)."""
    files = {module_name(p, src): p for p in (src / PACKAGE).rglob("*.py")}
    return {
        name: {m for m in imports_of(path, name) if m in files and m != name} for name, path in files.items()
    }


def layer(module: str) -> int:
    """The layer index of a module: -1 for the base modules, len(LAYERS) for the entry point."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if top in BASE:
        return -1
    if top in TOP:
        return len(LAYERS)
    return LAYERS.index(top)


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{a} (layer {LAYERS[layer(a)] if 0 <= layer(a) < len(LAYERS) else a}) imports {b}"
        for a, targets in edges.items()
        for b in targets
        if (layer(b) > layer(a) or (_room(a), _room(b)) in FORBIDDEN) and (a, b) not in ALLOWED
    )


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def test_every_module_belongs_to_a_layer() -> None:
    for name in graph():
        parts = name.split(".")
        assert len(parts) == 1 or parts[1] in (*LAYERS, *BASE, *TOP), f"{name} is in no layer of DESIGN.md"


def test_imports_go_down_only() -> None:
    """Also: store never imports render; gate neither pipeline nor demo; pipeline not demo."""
    assert upward_imports(graph()) == []


def test_no_import_cycle() -> None:
    assert cycles(graph()) == []


@pytest.mark.parametrize(
    ("module", "imported", "problem"),
    [
        ("store/sync_probe.py", "from cloud_config.render.node import render_node\n", "upward"),
        ("model/edit_probe.py", "def f():\n    from cloud_config.app import node\n", "upward"),
        ("model/cycle_a.py", "from cloud_config.model import cycle_b\n", "cycle"),
    ],
)
def test_the_checks_fail_on_a_bad_import(tmp_path: Path, module: str, imported: str, problem: str) -> None:
    """A copy of src/ with one bad module added: the checks must name it."""
    import shutil

    copy = tmp_path / "src"
    shutil.copytree(SRC / PACKAGE, copy / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / PACKAGE / module).write_text(imported)
    if problem == "cycle":
        (copy / PACKAGE / "model/cycle_b.py").write_text("from cloud_config.model import cycle_a\n")
    edges = graph(copy)
    if problem == "upward":
        assert any(module.split("/")[1][:-3] in line for line in upward_imports(edges))
    else:
        assert ["cloud_config.model.cycle_a", "cloud_config.model.cycle_b"] in cycles(edges)
