"""The house shows its layers (STYLE.md, Layout): no import cycles, no package imports one above it.

The graph is read from the source (every ``import`` statement, function-local ones included), so an
import hidden inside a function to dodge a cycle counts like any other.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# From the ground up. A package may import its own layer's packages (without a cycle) and lower ones.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("twin", "errors", "paths", "jsonable"),  # "twin": the package's own __init__ (its version)
    ("cell",),
    ("physics",),
    ("telemetry",),
    ("warehouse",),
    ("analytics",),
    ("replay", "sim", "scenarios"),
    ("report",),
    ("api",),
    ("cli",),
)
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}


def module_names(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of the package at ``root``."""
    names = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imports_of(name: str, path: Path, known: Iterable[str]) -> set[str]:
    """The package's own modules that ``name`` imports anywhere in its source."""
    known = set(known)
    top = name.split(".")[0]
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            targets = [f"{module}.{alias.name}" for alias in node.names] + [module]
        for target in targets:
            if target.split(".")[0] != top:
                continue
            while target not in known and "." in target:  # `from pkg import name` where name is no module
                target = target.rsplit(".", 1)[0]
            if target in known and target != name:
                found.add(target)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    names = module_names(root)
    return {name: imports_of(name, path, names) for name, path in names.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def package_of(module: str) -> str:
    """``twin.sim.model`` -> ``sim``; ``twin.errors`` -> ``errors``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Package -> the other packages it imports."""
    out: dict[str, set[str]] = {}
    for module, targets in graph.items():
        for target in targets:
            if package_of(module) != package_of(target):
                out.setdefault(package_of(module), set()).add(package_of(target))
    return out


def layer_violations(graph: dict[str, set[str]], rank: dict[str, int]) -> list[str]:
    """Every import of a module in a higher layer, or of a package no layer names."""
    problems = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            mine, theirs = package_of(module), package_of(target)
            if mine == theirs:
                continue
            if mine not in rank or theirs not in rank:
                problems.append(f"{module} -> {target}: package not in a layer")
            elif rank[theirs] > rank[mine]:
                problems.append(f"{module} ({mine}) imports {target} ({theirs}), a higher layer")
    return problems


def test_no_module_imports_in_a_cycle():
    assert cycles(import_graph(REPO / "twin")) == []


def test_no_package_cycle_and_no_import_of_a_higher_layer():
    graph = import_graph(REPO / "twin")
    assert layer_violations(graph, RANK) == []
    assert cycles(package_graph(graph)) == []


def _plant(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_the_checks_catch_a_planted_cycle_and_an_upward_import(tmp_path):
    clean = {
        "__init__.py": "",
        "cell/__init__.py": "",
        "cell/spec.py": "from pkg.errors import TwinError\n",
        "errors.py": "",
        "analytics/__init__.py": "",
        "analytics/kpis.py": "from pkg.cell import spec\n",
    }
    rank = {"errors": 0, "cell": 1, "analytics": 2}
    root = _plant(tmp_path / "clean", clean)
    assert cycles(import_graph(root)) == [] and layer_violations(import_graph(root), rank) == []

    # a function-local import upwards, as the old code hid them: both a layer violation and a cycle
    planted = dict(clean, **{"cell/spec.py": clean["cell/spec.py"] + "def f():\n    from ..analytics import kpis\n"})
    root = _plant(tmp_path / "planted", planted)
    graph = import_graph(root)
    assert layer_violations(graph, rank) == [
        "pkg.cell.spec (cell) imports pkg.analytics (analytics), a higher layer",
        "pkg.cell.spec (cell) imports pkg.analytics.kpis (analytics), a higher layer",
    ]
    assert cycles(graph) == [["pkg.analytics.kpis", "pkg.cell.spec"]]


def test_argparse_only_in_the_command_adapters():
    offenders = []
    for folder in ("twin", "apps"):
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO)
            if rel.parts[:2] == ("twin", "cli"):
                continue
            if "argparse" in path.read_text():
                offenders.append(str(rel))
    assert offenders == []


def test_only_physics_imports_pybullet():
    offenders = []
    for path in (REPO / "twin").rglob("*.py"):
        if "physics" in path.relative_to(REPO / "twin").parts:
            continue
        names = {
            alias.name.split(".")[0]
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
        }
        if "pybullet" in names:  # pybullet_data is a data-only package: paths to bundled URDFs
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


@pytest.mark.parametrize("module", ["twin.analytics", "twin.warehouse", "twin.cell.load", "twin.telemetry.validate"])
def test_pybullet_free_modules_import_without_it(module):
    code = f"import sys\nsys.modules['pybullet'] = None\nimport {module}\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr


def test_pages_load_without_pybullet():
    pages = sorted(str(p) for p in (REPO / "apps").rglob("*.py"))
    code = (
        "import importlib, sys\n"
        "sys.modules['pybullet'] = None\n"
        f"sys.path.insert(0, {str(REPO / 'apps')!r})\n"
        "importlib.import_module('common')  # the pages' shared module: reads, caches, draws\n"
        f"for page in {pages!r}:\n"
        "    compile(open(page).read(), page, 'exec')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr


def test_the_command_line_parser_builds_without_pybullet():
    code = "import sys\nsys.modules['pybullet'] = None\nfrom twin.cli import build_parser\nbuild_parser()\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr  # `twin oee` must not pay for (or need) the simulator
