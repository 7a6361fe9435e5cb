"""Scenario files: validation, determinism of every registered scenario, the commands' output."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from twin.cli import main
from twin.errors import ConfigError
from twin.scenarios.load import load_scenario, scenario_ids
from twin.sim.runner import prepare
from twin.sim.telemetry import ENERGY_SCHEMA, EVENTS_SCHEMA, simulated_frames

pytestmark = pytest.mark.physics
SCENARIOS = scenario_ids()


def test_registry_has_a_baseline_and_four_what_ifs():
    assert "baseline-v2" in SCENARIOS
    assert len(SCENARIOS) >= 5
    assert all(sid.rsplit("-", 1)[-1].startswith("v") for sid in SCENARIOS)  # versioned ids


@pytest.mark.parametrize("scenario_id", SCENARIOS, ids=SCENARIOS)
def test_every_scenario_repeats_exactly(scenario_id):
    scenario = load_scenario(scenario_id)
    inputs = prepare(scenario, 2.0)
    first = simulated_frames(inputs, scenario.spec.seed)
    second = simulated_frames(inputs, scenario.spec.seed)
    for stream in ("events", "energy"):
        assert_frame_equal(first[stream], second[stream])
    assert dict(first["events"].schema) == EVENTS_SCHEMA
    assert dict(first["energy"].schema) == ENERGY_SCHEMA
    assert first["events"]["source"].unique().to_list() == [f"simulated:{scenario_id}"]
    events = first["events"]
    assert set(events["event"].unique()) <= {
        "cycle_start",
        "cycle_end",
        "fault_start",
        "fault_end",
        "setup_start",
        "setup_end",
    }
    assert events.filter(pl.col("event") == "cycle_end").height > 100
    registers = first["energy"].sort("meter_id", "ts")
    assert registers.group_by("meter_id").agg((pl.col("energy_kwh").diff() >= 0).all().alias("up"))["up"].all()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ("speed_override: {R9: 0.7}", "changes.speed_override: unknown robot 'R9'; valid: R1, R2"),
        ("speed_override: 1.5", "speed_override"),
        ("speed: 0.7", "unknown key 'speed'"),
        ("tariff_id: cheap", "changes.tariff_id: unknown tariff"),
        ("grid_region: XX", "changes.grid_region: no grid_intensity factor for region 'XX'; valid:"),
        ("variant_mix: {B4-PLA: 0.5}", "sum to 0.5, not 1"),
        ("buffers: {nowhere: 3}", "changes.buffers: unknown buffer 'nowhere'; valid: brackets"),
        ("materials: {bracket_pla: unobtainium}", "unknown material 'unobtainium'"),
        ("operation_robots: {screw: R7}", "changes.operation_robots.screw: unknown robot 'R7'"),
        ("pattern_order: {screw: [1, 1, 2]}", "expected a permutation of 1..8"),
        ("set: ['robots.R1.speed_override=3']", "the changed cell is invalid"),
    ],
)
def test_invalid_changes_are_one_clear_error(tmp_path, changes, expected):
    path = _write(tmp_path, "bad-v1.yaml", f"seed: 1\nchanges:\n  {changes}\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message
    assert "\n" not in message


def test_scenario_id_must_match_the_file(tmp_path):
    path = _write(tmp_path, "mine-v1.yaml", "id: other-v1\n")
    with pytest.raises(ConfigError, match="the id is the file stem 'mine-v1'"):
        load_scenario(path)


def test_unknown_scenario_lists_the_registry(capsys):
    assert main(["scenario", "run", "no-such-v9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "valid ids: baseline-v2" in err


def test_run_json_is_byte_identical(capsys):
    args = ["scenario", "run", "baseline-v2", "--replications", "2", "--horizon", "1.5", "--seed", "3", "--json"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first
    report = json.loads(first)
    assert list(report) == [
        "scenario", "cell_id", "parameter_sets", "seed", "replications", "horizon_days", "currency", "kpis",
        "twin_error",
    ]  # fmt: skip
    assert report["parameter_sets"] == {"R1": "nominal", "R2": "nominal"}  # no calibration stored
    assert report["currency"] == "EUR" and report["cell_id"] == "microfactory"
    assert (report["scenario"], report["seed"], report["replications"], report["horizon_days"]) == (
        "baseline-v2",
        3,
        2,
        1.5,
    )
    assert report["twin_error"] == {"cycle_time_rel": None, "energy_per_unit_rel": None}
    for name in (
        "throughput_units_per_h",
        "cycle_time_s",
        "takt_s",
        "oee",
        "wip_units",
        "energy_kwh_per_unit",
        "cost_per_unit",
        "kgco2e_per_unit",
        "first_pass_yield",
        "utilization_R1",
        "utilization_R2",
    ):
        entry = report["kpis"][name]
        assert set(entry) == {"mean", "ci_low", "ci_high"}
        assert entry["ci_low"] <= entry["mean"] <= entry["ci_high"]


def test_compare_gives_paired_deltas(capsys):
    args = ["scenario", "compare", "baseline-v2", "faster-robots-v2", "--replications", "3", "--horizon", "2", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["baseline"] == "baseline-v2"
    base, fast = report["scenarios"]
    assert base["kpis"]["throughput_units_per_h"]["delta"] == 0.0
    delta = fast["kpis"]["throughput_units_per_h"]
    assert set(delta) == {"mean", "ci_low", "ci_high", "delta", "delta_ci_low", "delta_ci_high"}
    assert 0 < delta["delta_ci_low"] <= delta["delta"] <= delta["delta_ci_high"]
    assert main(args[:-1]) == 0
    table = capsys.readouterr().out
    assert "faster-robots-v2" in table and "delta" in table


SWEEP = """\
scenario: baseline-v2
method: grid
replications: 1
horizon_days: 0.5
parameters:
  buffers.brackets: {values: [2, 6]}
"""


def test_sweep_local_runs_the_grid(tmp_path, capsys):
    path = _write(tmp_path, "tiny-v1.yaml", SWEEP)
    assert main(["sweep", str(path), "--workers", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [run["parameters"] for run in report["runs"]] == [
        {"buffers.brackets": 2},
        {"buffers.brackets": 6},
    ]


def test_sweep_on_ray_equals_local(tmp_path):
    from twin.scenarios.service import run_sweep

    path = _write(tmp_path, "tiny-v1.yaml", SWEEP)
    local = run_sweep(path, executor="local", workers=2)
    on_ray = run_sweep(path, executor="ray", workers=2)
    assert on_ray == local
    assert local["runs"][0]["kpis"] != local["runs"][1]["kpis"]


def test_random_sweep_is_seeded(tmp_path):
    from twin.scenarios.load import load_sweep
    from twin.scenarios.sweep import expand

    path = _write(
        tmp_path,
        "rand-v1.yaml",
        "scenario: baseline-v2\nmethod: random\nsamples: 4\nseed: 9\nparameters:\n"
        "  renewable_share: {low: 0.0, high: 1.0}\n  stations.printers.count: {low: 20, high: 40, integer: true}\n",
    )
    spec, _ = load_sweep(path)
    runs = expand(spec, 9)
    assert runs == expand(spec, 9) and len(runs) == 4
    assert all(0.0 <= r["renewable_share"] <= 1.0 and 20 <= r["stations.printers.count"] <= 40 for r in runs)


def test_sweep_file_errors(tmp_path):
    from twin.scenarios.load import load_sweep

    path = _write(
        tmp_path, "bad-v1.yaml", "scenario: baseline-v2\nparameters:\n  speed_override: {low: 0.5, high: 0.9}\n"
    )
    with pytest.raises(ConfigError, match="a grid sweep needs values"):
        load_sweep(path)


def test_simulated_rows_go_to_the_warehouse_and_never_into_the_twin_error(tmp_path, monkeypatch, capsys):
    pytest.importorskip("twin.warehouse.load")
    from twin.cell.load import load_cell
    from twin.telemetry.generate import GenerateConfig, generate
    from twin.warehouse.connection import read_query
    from twin.warehouse.load import ingest_paths

    monkeypatch.setenv("TWIN_DATA_DIR", str(tmp_path / "data"))
    warehouse = tmp_path / "twin.duckdb"
    generate(load_cell(), GenerateConfig(days=1, seed=4, speed_change_day=99), tmp_path / "measured")
    ingest_paths([tmp_path / "measured"], warehouse)
    args = ["scenario", "run", "baseline-v2", "--replications", "1", "--horizon", "1", "--json"]
    assert main([*args, "--warehouse", str(warehouse), "--to-warehouse"]) == 0
    before = json.loads(capsys.readouterr().out)["twin_error"]
    assert before["cycle_time_rel"] is not None and abs(before["cycle_time_rel"]) < 0.05
    sources = read_query("select distinct source from stg_events order by source", path=warehouse)["source"].to_list()
    assert sources == ["measured", "simulated:baseline-v2"]
    assert main([*args, "--warehouse", str(warehouse)]) == 0
    assert json.loads(capsys.readouterr().out)["twin_error"] == before
