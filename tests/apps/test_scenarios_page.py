"""The Scenarios page: results against the baseline with the twin's error, and a run launched from the page."""

from __future__ import annotations

import sys
import time

import polars as pl
from dashtest import PAGES, REPO, assert_clean, copy_warehouse, texts

sys.path.insert(0, str(REPO / "apps"))
import jobs  # noqa: E402

from twin.api.read import scenarios  # noqa: E402


def test_scenario_rows_and_comparison():
    base = {
        "scenario": "baseline-v2",
        "seed": 1,
        "replications": 3,
        "horizon_days": 2.0,
        "kpis": {
            "oee": {"mean": 0.70, "ci_low": 0.66, "ci_high": 0.74},
            "utilization_R2": {"mean": 0.9, "ci_low": 0.88, "ci_high": 0.92},
        },
        "twin_error": {"cycle_time_rel": 0.02, "energy_per_unit_rel": -0.05},
    }
    paired = {
        "scenario": "faster-robots-v2",
        "kpis": {
            "oee": {
                "mean": 0.75,
                "ci_low": 0.72,
                "ci_high": 0.78,
                "delta": 0.05,
                "delta_ci_low": 0.04,
                "delta_ci_high": 0.06,
            }
        },
    }
    rows = pl.concat([scenarios.scenario_rows(base, "r1"), scenarios.scenario_rows(paired, "r2")])
    assert rows.filter(pl.col("scenario") == "baseline-v2")["kpi"].to_list() == ["oee", "utilization_R2"]
    table = scenarios.compare_rows(rows, "baseline-v2")
    fast = table.filter((pl.col("scenario") == "faster-robots-v2") & (pl.col("kpi") == "oee")).row(0, named=True)
    assert fast["is_paired"] and (fast["delta"], fast["delta_ci_low"], fast["delta_ci_high"]) == (0.05, 0.04, 0.06)
    assert fast["baseline_mean"] == 0.70
    b = table.filter((pl.col("scenario") == "baseline-v2") & (pl.col("kpi") == "oee")).row(0, named=True)
    assert b["delta"] == 0.0 and b["twin_error_cycle_time_rel"] == 0.02


def test_stored_results_in_either_layout(tmp_path):
    import json

    from twin.warehouse.connection import write_job

    warehouse = tmp_path / "twin.duckdb"
    doc = {"scenario": "baseline-v2", "kpis": {"oee": {"mean": 0.7, "ci_low": 0.6, "ci_high": 0.8}}}
    with write_job(warehouse) as con:
        con.execute("create table raw_scenario_runs (run_id varchar, scenario varchar, result_json varchar)")
        con.execute("insert into raw_scenario_runs values ('a', 'baseline-v2', ?)", [json.dumps(doc)])
        con.execute(
            "create table mart_scenario_kpis (scenario_id varchar, kpi varchar, mean double, ci_low double, "
            "ci_high double)"
        )
        con.execute("insert into mart_scenario_kpis values ('night-v1', 'oee', 0.8, 0.7, 0.9)")
    rows = scenarios.stored_scenario_results(warehouse)
    assert sorted(rows["scenario"].to_list()) == ["baseline-v2", "night-v1"]
    assert set(rows["kpi"]) == {"oee"} and rows["mean"].sum() == 1.5


def test_launch_a_scenario_run_from_the_page(app, demo_warehouse, tmp_path):
    warehouse = copy_warehouse(demo_warehouse, tmp_path / "wh")
    at = app(warehouse)
    at.switch_page(PAGES["scenarios"]).run()
    assert_clean(at, "scenarios")
    at.selectbox(key="sc_file").set_value("baseline-v2")
    at.number_input(key="sc_reps").set_value(2)
    at.number_input(key="sc_horizon").set_value(0.5)
    at.button[0].click().run()  # the form's submit button
    assert_clean(at, "scenarios launched")
    folder = warehouse.parent / "dashboard_jobs"
    launched = jobs.list_jobs(folder, "scenario")
    assert len(launched) == 1 and launched[0].label == "baseline-v2"
    assert any(p.type == "progress" for p in at.get("progress")) or launched[0].done
    deadline = time.monotonic() + 240
    while not (status := jobs.job_status(folder, launched[0].job_id)).done:
        assert time.monotonic() < deadline, "the scenario run did not finish in 240 s"
        time.sleep(0.5)
    assert status.state == jobs.SUCCEEDED, status.stderr()[-2000:]
    at.run()
    assert_clean(at, "scenarios after the run")
    shown = at.session_state["_dashboard_shown"]["scenarios"]
    assert "baseline-v2" in shown["scenarios"] and shown["baseline"] == "baseline-v2"
    result = status.result()
    table = next(r for r in at.dataframe if "kpi" in r.value.columns and "baseline_mean" in r.value.columns).value
    row = (
        pl.from_pandas(table)
        .filter((pl.col("kpi") == "oee") & (pl.col("scenario") == "baseline-v2"))
        .row(0, named=True)
    )
    assert row["mean"] == result["kpis"]["oee"]["mean"]
    assert "Twin error" in " ".join(m.label for m in at.metric)
    assert "succeeded" in texts(at) or at.dataframe


def test_what_if_telemetry_in_the_warehouse(app, demo_warehouse, tmp_path, monkeypatch):
    from dashtest import twin_json

    monkeypatch.setenv("TWIN_DATA_DIR", str(tmp_path / "data"))  # where the simulated files are written
    warehouse = copy_warehouse(demo_warehouse, tmp_path / "wh")
    twin_json(
        "scenario",
        "run",
        "baseline-v2",
        "--replications",
        "1",
        "--horizon",
        "1",
        "--warehouse",
        str(warehouse),
        "--to-warehouse",
    )
    at = app(warehouse)
    at.switch_page(PAGES["scenarios"]).run()
    assert_clean(at, "scenarios")
    assert at.session_state["_dashboard_shown"]["scenario_telemetry"]["sources"] == ["simulated:baseline-v2"]
    table = next(t.value for t in at.dataframe if "units_per_day_vs_measured" in t.value.columns)
    assert table["source"].tolist() == ["measured", "simulated:baseline-v2"] and table["units"].min() > 0
    # the Overview stays on the measured telemetry
    at.switch_page(PAGES["overview"]).run()
    w = ("--warehouse", str(warehouse))
    assert at.session_state["_dashboard_shown"]["overview"]["kpis"]["units"] == twin_json("oee", *w)["total_count"]
