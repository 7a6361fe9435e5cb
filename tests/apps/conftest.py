"""Fixtures of the dashboard tests: a small demo warehouse (2 days), partial ones, and an AppTest factory."""

from __future__ import annotations

from pathlib import Path

import pytest
from dashtest import APP, DAYS, demo_files, twin_json


@pytest.fixture(scope="session")
def telemetry_dir(tmp_path_factory) -> Path:
    from twin.cell.load import load_cell
    from twin.telemetry.generate import GenerateConfig, generate

    out = tmp_path_factory.mktemp("telemetry") / "gen"
    generate(load_cell(), GenerateConfig(days=len(DAYS) + 1), out)
    return out


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory, telemetry_dir) -> Path:
    """Ingested, replayed (R2), one tiny scenario, the cell rendered, the cell's plan stored."""
    from twin.api import store_cell_plan
    from twin.paths import DEFAULT_CELL
    from twin.warehouse.load import ingest_paths

    root = tmp_path_factory.mktemp("demo")
    warehouse = root / "twin.duckdb"
    report = ingest_paths(demo_files(telemetry_dir), warehouse)
    assert report.quarantined == 0 and not report.rejected
    twin_json("replay", "--robot", "R2", "--warehouse", str(warehouse))
    twin_json("cell", "render", "--out", str(root / "cell.png"), "--width", "640", "--height", "400")
    # a tiny what-if; its results are in the warehouse once `twin scenario run` stores them
    twin_json(
        "scenario", "run", "baseline-v2", "--replications", "2", "--horizon", "0.5", "--warehouse", str(warehouse)
    )
    store_cell_plan(warehouse, DEFAULT_CELL)
    return warehouse


def _partial(tmp_path_factory, telemetry_dir: Path, name: str, streams: tuple[str, ...]) -> Path:
    from twin.api import store_cell_plan
    from twin.paths import DEFAULT_CELL
    from twin.warehouse.load import ingest_paths

    root = tmp_path_factory.mktemp(name)
    files = demo_files(telemetry_dir, streams)
    warehouse = root / "twin.duckdb"
    ingest_paths(files, warehouse)
    store_cell_plan(warehouse, DEFAULT_CELL)
    return warehouse


@pytest.fixture(scope="session")
def events_only_warehouse(tmp_path_factory, telemetry_dir) -> Path:
    return _partial(tmp_path_factory, telemetry_dir, "events_only", ("events",))


@pytest.fixture(scope="session")
def no_grid_warehouse(tmp_path_factory, telemetry_dir) -> Path:
    return _partial(tmp_path_factory, telemetry_dir, "no_grid", ("events", "quality", "energy"))


@pytest.fixture(scope="session")
def empty_warehouse(tmp_path_factory) -> Path:
    from twin.warehouse.connection import write_job

    warehouse = tmp_path_factory.mktemp("empty") / "twin.duckdb"
    with write_job(warehouse):
        pass
    return warehouse


@pytest.fixture
def app(monkeypatch):
    """``app(warehouse)``: an AppTest of the router on that warehouse, run once (the Overview)."""
    from streamlit.testing.v1 import AppTest

    def make(warehouse: Path, run: bool = True) -> AppTest:
        monkeypatch.setenv("TWIN_WAREHOUSE", str(warehouse))
        at = AppTest.from_file(str(APP), default_timeout=180)
        if run:
            at.run()
        return at

    return make
