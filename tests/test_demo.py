"""`twin demo`, the README's main command, runs the whole chain on a short period."""

from __future__ import annotations

import json

import pytest

from twin.cell.load import load_cell
from twin.cli import main

pytestmark = pytest.mark.physics


def test_demo_runs_every_step_and_reports(tmp_path, capsys):
    warehouse = tmp_path / "twin.duckdb"
    argv = ["demo", "--days", "1", "--replications", "2", "--horizon", "0.25", "--out", str(tmp_path),
            "--warehouse", str(warehouse), "--json"]  # fmt: skip
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    steps = [step["step"] for step in summary["steps"]]
    robots = [f"replay {robot}" for robot in load_cell().robots]  # every robot of the cell
    assert steps == ["generate", "ingest", "render", *robots, "what-ifs", "period", "report"]
    assert all(step["seconds"] >= 0 for step in summary["steps"])
    assert summary["ingest"]["quarantined"] == 0 and summary["ingest"]["accepted"] > 10_000
    for robot in ("R1", "R2"):
        power = summary["replay"][robot]["power"]
        assert abs(power["energy_predicted_j"] / power["energy_measured_j"] - 1) < 0.02
    scenarios = [s["scenario"] for s in summary["compare"]["scenarios"]]
    assert scenarios[0] == "baseline-v2" and len(scenarios) >= 5
    assert 0 < summary["oee"]["oee"] <= 1
    assert summary["carbon"]["per_unit_kg"]["total_location"] > 0
    assert (tmp_path / "report" / "report.html").stat().st_size > 100_000
    assert (tmp_path / "cell.png").exists()
    assert warehouse.with_name("twin.read.duckdb").exists()
