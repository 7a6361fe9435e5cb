"""A calibration reaches the what-ifs: a scenario plans each robot with its accepted calibration and says so."""

from __future__ import annotations

import json

import pytest

from twin.cli import main
from twin.replay.calibrate import cell_key, store_calibration, urdf_sha256
from twin.scenarios.load import load_scenario

pytestmark = pytest.mark.physics

RUN = ["--replications", "1", "--horizon", "0.5", "--no-store", "--json"]


@pytest.fixture
def calibrated_r2(tmp_path, monkeypatch, sample_cell):
    """A stored calibration of the sample's R2 that draws 400 W more at the controller than its nominal model."""
    monkeypatch.setenv("TWIN_DATA_DIR", str(tmp_path / "data"))
    robot = sample_cell.robots["R2"]
    key = cell_key(sample_cell, "R2")
    model = robot.power_model.model_copy(
        update={"controller_w": robot.power_model.controller_w + 400.0, "parameter_set": f"{key}-cal-v1"}
    )
    store_calibration(key, model, {"urdf_sha256": urdf_sha256(robot.urdf_path)})
    return key, model


def test_a_scenario_plans_with_the_stored_calibration(calibrated_r2, capsys):
    key, model = calibrated_r2
    scenario = load_scenario("baseline-v2")
    assert scenario.parameter_sets["R2"] == model.parameter_set and scenario.parameter_sets["R1"] == "nominal"
    assert scenario.cell.robots["R2"].power_model == model
    assert load_scenario("baseline-v2", nominal=True).parameter_sets["R2"] == "nominal"
    # an added copy of R2 is the same robot model: it takes R2's calibration
    copy = load_scenario("second-screwdriver-v2")
    added = [r for r in copy.cell.robots if r not in scenario.cell.robots]
    assert added and all(copy.parameter_sets[r] == model.parameter_set for r in added)

    assert main(["scenario", "run", "baseline-v2", *RUN]) == 0
    calibrated = json.loads(capsys.readouterr().out)
    assert main(["scenario", "run", "baseline-v2", *RUN, "--nominal"]) == 0
    nominal = json.loads(capsys.readouterr().out)
    assert calibrated["parameter_sets"]["R2"] == model.parameter_set
    assert nominal["parameter_sets"] == {"R1": "nominal", "R2": "nominal"}
    # 400 W more on R2 around the clock of its planned motion: more energy per unit, the same flow
    per_unit = {k: r["kpis"]["energy_kwh_per_unit"]["mean"] for k, r in (("cal", calibrated), ("nom", nominal))}
    assert per_unit["cal"] > per_unit["nom"] * 1.01
    assert calibrated["kpis"]["cycle_time_s"]["mean"] == pytest.approx(nominal["kpis"]["cycle_time_s"]["mean"])
    assert main(["scenario", "run", "baseline-v2", "--replications", "1", "--horizon", "0.5", "--no-store"]) == 0
    assert f"R2 {model.parameter_set}" in capsys.readouterr().out


def test_a_calibration_of_another_urdf_is_not_used(tmp_path, monkeypatch, sample_cell):
    monkeypatch.setenv("TWIN_DATA_DIR", str(tmp_path / "data"))
    robot = sample_cell.robots["R2"]
    key = cell_key(sample_cell, "R2")
    model = robot.power_model.model_copy(update={"parameter_set": f"{key}-cal-v1"})
    store_calibration(key, model, {"urdf_sha256": "0" * 64})  # fitted on a robot since swapped under the same id
    assert load_scenario("baseline-v2").parameter_sets["R2"] == "nominal"
