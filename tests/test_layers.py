"""The package's import graph: no cycles, and no import from a lower layer to a higher one.

The layers are read from the table under "## Layers" in docs/ARCHITECTURE.md, so the picture and
this check cannot drift apart. Every import counts, the lazy ones inside functions included: a lazy
import is still an arrow.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "sass_lab"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``name`` imports (``from x import y`` counts y when y is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in known:
                    out.add(sub)
                elif target in known and target != "sass_lab":
                    out.add(target)
    out.discard(name)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {m: imports_of(m, p, known) for m, p in mods.items()}


def layers() -> list[list[str]]:
    """Rows of the "## Layers" table, bottom first: each a list of module or package paths."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].isdigit():
            rows.append(re.findall(r"`([\w/.]+)`", cells[1]))
    return rows


def layer_of(module: str, table: list[list[str]]) -> int | None:
    """The row of the longest table entry that is ``module`` or a package holding it."""
    rel = module.removeprefix("sass_lab").lstrip(".").replace(".", "/") or "__init__"
    best, best_len = None, -1
    for i, row in enumerate(table):
        for entry in row:
            e = entry.rstrip("/").removesuffix(".py")
            if (rel == e or rel.startswith(e + "/")) and len(e) > best_len:
                best, best_len = i, len(e)
    return best


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_the_layer_table_is_read():
    table = layers()
    assert len(table) >= 8 and any("errors.py" in r and "paths.py" in r for r in table) and any("cli/" in r for r in table)


def test_every_module_has_a_layer():
    table = layers()
    missing = [m for m in graph() if m != "sass_lab" and layer_of(m, table) is None]
    assert not missing, f"add these to the Layers table of docs/ARCHITECTURE.md: {missing}"


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def upward(g: dict[str, set[str]], table: list[list[str]]) -> list[str]:
    """Every import from a module to one on a higher layer, in words."""
    up = []
    for m, targets in sorted(g.items()):
        if m == "sass_lab":
            continue  # the package face re-exports the API
        lm = layer_of(m, table)
        for t in sorted(targets):
            lt = layer_of(t, table)
            if lm is not None and lt is not None and lt > lm:
                up.append(f"{m} (layer {lm + 1}) imports {t} (layer {lt + 1})")
    return up


def test_arrows_run_down():
    up = upward(graph(), layers())
    assert not up, "imports that run up:\n" + "\n".join(up)


@pytest.mark.parametrize("edges, expect", [
    ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
])
def test_cycle_finder(edges, expect):
    assert cycles(edges) == expect


def test_a_planted_upward_import_is_caught():
    g = graph()
    g["sass_lab.hw.arch"] = g["sass_lab.hw.arch"] | {"sass_lab.cli.main"}
    assert upward(g, layers()) == ["sass_lab.hw.arch (layer 3) imports sass_lab.cli.main (layer 12)"]
    g["sass_lab.cli.main"] = g["sass_lab.cli.main"] | {"sass_lab.hw.arch"}
    assert any({"sass_lab.cli.main", "sass_lab.hw.arch"} <= set(c) for c in cycles(g))
