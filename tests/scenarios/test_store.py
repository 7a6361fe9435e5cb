"""What-if KPIs are kept in the warehouse for the dashboard."""

from __future__ import annotations

import json

from twin.cli import main
from twin.scenarios.store import result_rows
from twin.warehouse.connection import read_connection


def test_compare_report_becomes_one_row_per_scenario_and_kpi():
    report = {
        "baseline": "a",
        "replications": 3,
        "horizon_days": 1.0,
        "twin_error": {"cycle_time_rel": 0.02, "energy_per_unit_rel": None},
        "scenarios": [
            {"scenario": "a", "kpis": {"oee": {"mean": 0.8, "ci_low": 0.7, "ci_high": 0.9, "delta": 0.0}}},
            {"scenario": "b", "kpis": {"oee": {"mean": 0.85, "ci_low": 0.8, "ci_high": 0.9, "delta": 0.05},
                                       "wip_units": {"mean": 3.0, "ci_low": 2.0, "ci_high": 4.0}}},
        ],
    }  # fmt: skip
    rows = result_rows("compare", report, "run-1", None)
    assert [(r[4], r[8]) for r in rows] == [("a", "oee"), ("b", "oee"), ("b", "wip_units")]
    assert rows[1][12] == 0.05 and rows[1][15] == 0.02


def _warehouse(path):
    from datetime import date

    import duckdb
    from synthetic_warehouse import build, write_synthetic

    from twin.cell.load import load_cell

    con = duckdb.connect(str(path))
    write_synthetic(con, load_cell(), date(2026, 10, 5), 1)
    build(con)
    con.close()
    return path


def test_scenario_run_stores_its_kpis(tmp_path, capsys):
    warehouse = _warehouse(tmp_path / "twin.duckdb")
    code = main(["scenario", "run", "baseline-v2", "--replications", "2", "--horizon", "0.25", "--json",
                 "--warehouse", str(warehouse)])  # fmt: skip
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    with read_connection(warehouse) as con:
        stored = dict(con.sql("select kpi, mean from scenario_results where scenario = 'baseline-v2'").fetchall())
    assert stored["throughput_units_per_h"] == printed["kpis"]["throughput_units_per_h"]["mean"]
    assert set(stored) == set(printed["kpis"])


def test_results_never_start_a_warehouse(tmp_path, capsys):
    """A what-if without a warehouse prints its KPIs and writes nothing: a file holding only scenario_results
    would make every period command fail on missing marts."""
    warehouse = tmp_path / "none" / "twin.duckdb"
    code = main(["scenario", "run", "baseline-v2", "--replications", "2", "--horizon", "0.25", "--json",
                 "--warehouse", str(warehouse)])  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["kpis"] and "KPIs not stored: no warehouse" in captured.err
    assert not warehouse.exists() and not warehouse.parent.exists()
