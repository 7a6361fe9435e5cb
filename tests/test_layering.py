"""Seams (STYLE.md): analytics, the warehouse and the dashboard never import the simulator."""

from __future__ import annotations

from pathlib import Path

from fresh_python import assert_runs

REPO = Path(__file__).resolve().parents[1]
PYBULLET_FREE = ["twin.cell.spec", "twin.cell.load", "twin.cell.factors", "twin.telemetry.schema"]
OPTIONAL_PYBULLET_FREE = [
    "twin.analytics",
    "twin.warehouse",
    "twin.analytics.spc",
    "twin.analytics.capability",
    "twin.analytics.kpis",
    "twin.warehouse.connection",
    "twin.telemetry.validate",
    "twin.api.periods",
    "twin.api.read.status",
    "twin.api.read.ideal_times",
    "twin.api.read.kpis",
    "twin.api.read.quality",
    "twin.api.read.cost",
    "twin.api.read.carbon",
    "twin.api.read.energy",
    "twin.api.read.replay",
    "twin.api.read.scenarios",
    "twin.api.jobfiles",
    "twin.warehouse.build",
]


def test_analytics_and_pages_do_not_import_pybullet():
    modules = PYBULLET_FREE + [
        m
        for m in OPTIONAL_PYBULLET_FREE
        if (REPO / (m.replace(".", "/") + ".py")).exists() or (REPO / m.replace(".", "/") / "__init__.py").exists()
    ]
    pages = sorted(str(p) for p in (REPO / "apps").rglob("*.py"))
    code = (
        "import importlib, runpy, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"sys.path.insert(0, {str(REPO / 'apps')!r})\n"
        "importlib.import_module('common')  # the pages' shared module: reads, caches, draws\n"
        f"for page in {pages!r}:\n"
        "    compile(open(page).read(), page, 'exec')\n"
        "assert 'pybullet' not in sys.modules, sorted(m for m in sys.modules if 'bullet' in m)\n"
        "print(len(sys.modules))\n"
    )
    assert_runs(code)


def test_only_physics_imports_pybullet():
    offenders = []
    for path in (REPO / "twin").rglob("*.py"):
        if "physics" in path.relative_to(REPO / "twin").parts:
            continue
        text = path.read_text()
        if "import pybullet\n" in text or "import pybullet as" in text or "from pybullet " in text:
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
