"""``run_scenario``, ``compare`` and ``sweep`` give what ``twin scenario run|compare`` and ``twin sweep`` print."""

from __future__ import annotations

import json

import pytest

from twin.api import compare, run_scenario, sweep
from twin.errors import InputError
from twin.warehouse.connection import read_query

SWEEP = """\
scenario: baseline-v2
method: grid
replications: 1
horizon_days: 0.25
parameters:
  renewable_share: {values: [0.0, 0.5]}
"""


def _synthetic_warehouse(path):
    from datetime import date

    import duckdb
    from synthetic_warehouse import build, write_synthetic

    from twin.cell.load import load_cell

    con = duckdb.connect(str(path))
    write_synthetic(con, load_cell(), date(2026, 10, 5), 1)
    build(con)
    con.close()


def test_run_scenario_equals_the_command_and_stores_on_request(tmp_path, printed):
    warehouse = tmp_path / "twin.duckdb"
    run = run_scenario("baseline-v2", replications=2, horizon_days=0.5, seed=5, warehouse=warehouse, store=False)
    assert run.stored_as is None and not warehouse.exists()
    code, printed_json = printed(
        "scenario", "run", "baseline-v2", "--replications", "2", "--horizon", "0.5", "--seed", "5",
        "--warehouse", str(warehouse), "--no-store",
    )  # fmt: skip
    assert code == 0 and json.dumps(run.to_dict()) == printed_json
    assert run.per_replication.height == 2
    kpis = run.kpis
    throughput = kpis.filter(kpi="throughput_units_per_h").row(0, named=True)
    assert throughput["mean"] == pytest.approx(run.per_replication["throughput_units_per_h"].mean())

    unstored = run_scenario("baseline-v2", replications=2, horizon_days=0.5, seed=5, warehouse=warehouse)
    assert unstored.stored_as is None and not warehouse.exists()  # results never start a warehouse
    _synthetic_warehouse(warehouse)
    stored = run_scenario("baseline-v2", replications=2, horizon_days=0.5, seed=5, warehouse=warehouse)
    rows = read_query("select kpi, mean from scenario_results where run_id = ?", [stored.stored_as], path=warehouse)
    kept = stored.kpis  # the warehouse's measured data now feed the fits, so these are its own KPIs
    assert dict(zip(rows["kpi"], rows["mean"], strict=True)) == dict(zip(kept["kpi"], kept["mean"], strict=True))


def test_compare_equals_the_command(tmp_path, printed):
    warehouse = tmp_path / "twin.duckdb"
    comparison = compare(
        ["baseline-v2", "faster-robots-v2"], replications=2, horizon_days=0.5, warehouse=warehouse, store=False
    )
    code, printed_json = printed(
        "scenario", "compare", "baseline-v2", "faster-robots-v2", "--replications", "2", "--horizon", "0.5",
        "--warehouse", str(warehouse), "--no-store",
    )  # fmt: skip
    assert code == 0 and json.dumps(comparison.to_dict()) == printed_json
    table = comparison.kpis
    assert table["scenario"].unique(maintain_order=True).to_list() == ["baseline-v2", "faster-robots-v2"]
    assert table.filter(scenario="baseline-v2")["delta"].drop_nulls().abs().max() == 0.0


def test_sweep_equals_the_command(tmp_path, printed):
    path = tmp_path / "tiny-v1.yaml"
    path.write_text(SWEEP)
    swept = sweep(path, workers=1)
    code, printed_json = printed("sweep", str(path), "--workers", "1")
    assert code == 0 and json.dumps(swept.to_dict()) == printed_json
    table = swept.kpis
    assert table["renewable_share"].unique().sort().to_list() == [0.0, 0.5]
    assert table.filter(kpi="oee").height == 2


def test_sweep_address_needs_ray(tmp_path):
    with pytest.raises(InputError, match="needs executor 'ray'"):
        sweep(tmp_path / "any.yaml", address="ray://host:10001")
    with pytest.raises(InputError, match="valid: local, ray"):
        sweep(tmp_path / "any.yaml", executor="threads")
