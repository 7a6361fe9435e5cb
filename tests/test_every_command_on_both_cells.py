"""Every command runs on both shipped cells: the sample and the structurally different hinge-press cell.

One chain per cell, as a user would run it: check, render, generate, ingest, replay and calibrate every
robot, the period figures, quality, a scenario run, a comparison, a sweep and the report. Each step's exit
code is checked, and the figures are checked for what the cell is (its robots, stations, characteristics
and currency), not for numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from twin.analytics.allocation import bill_of_materials
from twin.cell.factors import cell_factor_dirs, material_factor
from twin.cell.load import load_cell
from twin.cli import main
from twin.paths import CELLS_DIR, SCENARIOS_DIR

pytestmark = pytest.mark.physics

CELLS = {
    "microfactory-v2.yaml": ("baseline-v2", "second-screwdriver-v2", "speed-buffer-v2"),
    "hinge-press-v1.yaml": ("hinge-baseline-v1", "hinge-second-press-v1", "hinge-speed-presses-v1"),
}


def run(capsys, *args: str) -> dict:
    code = main([*args, "--json"])
    out = capsys.readouterr()
    assert code == 0, f"twin {' '.join(args)} exited {code}: {out.err[-2000:]}"
    return json.loads(out.out)


@pytest.mark.parametrize("cell_file", sorted(CELLS))
def test_every_command_on_the_cell(cell_file, tmp_path, capsys):
    cell_path = str(CELLS_DIR / cell_file)
    cell = load_cell(cell_path)
    baseline, what_if, sweep = CELLS[cell_file]
    warehouse = str(tmp_path / "twin.duckdb")
    on = ("--cell", cell_path)

    check = run(capsys, "cell", "check", *on)
    assert check["feasible"] and [v["variant"] for v in check["variants"]] == list(cell.variants)
    assert run(capsys, "cell", "render", *on, "--out", str(tmp_path / "cell.png"), "--width", "320", "--height", "200")
    assert (tmp_path / "cell.png").stat().st_size > 1000

    generated = run(capsys, "generate", *on, "--days", "3", "--out", str(tmp_path / "gen"))
    assert generated["units"] > 100
    ingested = run(capsys, "ingest", str(tmp_path / "gen"), *on, "--warehouse", warehouse)
    assert ingested["quarantined"] == 0 and ingested["accepted"] > 0  # the cell's own telemetry is all its own

    for robot in cell.robots:
        replayed = run(capsys, "replay", "--robot", robot, *on, "--warehouse", warehouse)
        assert replayed["robot"].endswith(robot)
        calibrated = run(capsys, "calibrate", "--robot", robot, *on, "--warehouse", warehouse, "--no-store")
        assert calibrated["parameters"] and calibrated["before"] and calibrated["after"]

    oee = run(capsys, "oee", *on, "--warehouse", warehouse)
    assert oee["oee"] > 0.0  # above 1 where the process change ran the robots faster than the plan
    cost = run(capsys, "cost", *on, "--warehouse", warehouse)
    assert cost["currency"] == cell.cost.currency and cost["cost_per_unit"]["total"] > 0
    carbon = run(capsys, "carbon", *on, "--warehouse", warehouse)
    assert carbon["units"] > 0
    # material cost and scope 3 come from every part of the bill of materials, whatever its material
    for variant in cost["by_variant"]:
        bom = bill_of_materials(cell, variant["variant"])
        price = sum(line.kg * cell.cost.materials_per_kg[line.material] for line in bom)
        assert variant["cost_per_unit"]["material"] == pytest.approx(price, rel=1e-9)
        kg = sum(line.kg * material_factor(line.material, extra_dirs=cell_factor_dirs(cell)).value for line in bom)
        footprint = next(v for v in carbon["by_variant"] if v["variant"] == variant["variant"])
        assert footprint["per_unit_kg"]["scope3_cat1"] == pytest.approx(kg, rel=0.05)  # scrap's stays with its variant
        assert kg > 0
    assert all(f["source"] for f in carbon["factors"])  # every factor with its source

    scenario = run(
        capsys, "scenario", "run", baseline, "--replications", "2", "--horizon", "1", "--warehouse", warehouse
    )
    assert scenario["kpis"]["throughput_units_per_h"]["mean"] > 0
    compared = run(
        capsys,
        "scenario",
        "compare",
        baseline,
        what_if,
        "--replications",
        "2",
        "--horizon",
        "1",
        "--warehouse",
        warehouse,
    )
    assert [s["scenario"] for s in compared["scenarios"]] == [baseline, what_if]
    swept = run(capsys, "sweep", str(SCENARIOS_DIR / "sweeps" / f"{sweep}.yaml"), "--warehouse", warehouse)
    assert len(swept["runs"]) >= 4
    report = run(capsys, "report", *on, "--warehouse", warehouse, "--out", str(tmp_path / "report"))
    assert Path(report["html"]).is_file()
    capability = pl.read_csv(tmp_path / "report" / "capability.csv")  # quality: every declared characteristic
    assert sorted(capability["characteristic"]) == sorted(cell.quality.characteristics)
