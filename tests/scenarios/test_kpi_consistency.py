"""A what-if's KPIs are the period figures of its telemetry: the seam between the simulation and the analytics.

Each scenario runs a few short replications with ``--to-warehouse``; every replication's KPIs must equal
the figures the analytics compute for ``source = simulated:<scenario>, replication = r`` read back from
that warehouse, on the cell stored with the run (relative difference below 1e-9). This guards the two
against drifting apart again; whether the figures are *right* is tested against independent references
in tests/analytics.
"""

from __future__ import annotations

import json
import math

import pytest

from twin.analytics import figures
from twin.analytics.frames import roles
from twin.analytics.ideal import ideal_cycle_times
from twin.analytics.period import Period, data_period
from twin.analytics.store import Rows, data_extent, load_period
from twin.cli import main
from twin.scenarios.service import run_scenario
from twin.warehouse.connection import read_connection
from twin.warehouse.scenario_runs import scenario_cell

pytestmark = pytest.mark.physics

REPLICATIONS = 2
HORIZON_DAYS = 2.0
SCENARIOS = ("baseline-v2", "second-screwdriver-v2", "night-shift-green-v2")
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each scenario run once into one warehouse: ``(warehouse, {scenario: per-replication KPIs})``."""
    root = tmp_path_factory.mktemp("whatif")
    warehouse = root / "twin.duckdb"
    kpis = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TWIN_DATA_DIR", str(root / "data"))
        for scenario in SCENARIOS:
            result = run_scenario(
                scenario, replications=REPLICATIONS, horizon_days=HORIZON_DAYS, warehouse=warehouse, write=True
            )
            kpis[scenario] = result.per_replication
    return warehouse, kpis


def _rel(a: float, b: float) -> float:
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def _period_figures(conn, source: str, replication: int) -> dict[str, float]:
    """The period figures of one replication, as ``twin oee|cost|carbon`` compute them, named like the KPIs."""
    cell = scenario_cell(conn, source)
    rows = Rows(cell.cell.id, source, replication)
    bounds = data_period(*data_extent(conn, rows), cell.cell.timezone)
    assert bounds is not None
    period = Period(*bounds, cell.cell.timezone)
    data = load_period(conn, period, roles(cell), rows, cell.carbon.grid_region)
    p = figures.prepare(cell, data)
    oee = figures.oee_of(p, ideal_cycle_times(cell))
    cost = figures.cost_of(p, figures.planned_run_time_s(p))
    carbon = figures.carbon_of(p)
    return {
        "oee": oee["oee"],
        "first_pass_yield": oee["quality"],
        "throughput_units_per_h": cost["units"] / (oee["planned_time_s"] / 3600.0),
        "cost_per_unit": cost["cost_per_unit"]["total"],
        "kgco2e_per_unit": carbon["per_unit_kg"]["total_market"],
        "kgco2e_location_per_unit": carbon["per_unit_kg"]["total_location"],
        "energy_kwh_per_unit": carbon["energy_kwh_per_unit"],
        "wip_units": figures.flow_of(p)["wip_units"],
    }


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_replications_kpis_are_its_period_figures(runs, scenario):
    warehouse, kpis = runs
    source = f"simulated:{scenario}"
    with read_connection(warehouse) as conn:
        for replication, simulated in enumerate(kpis[scenario]):
            measured_like = _period_figures(conn, source, replication)
            for name, value in measured_like.items():
                assert value is not None and math.isfinite(value), (scenario, replication, name)
                assert _rel(simulated[name], value) < TOLERANCE, (scenario, replication, name, simulated[name], value)
    # the replications are told apart: their figures differ
    assert kpis[scenario][0]["throughput_units_per_h"] != kpis[scenario][1]["throughput_units_per_h"]


def test_cost_per_unit_of_the_command_is_the_what_ifs(runs, capsys):
    """``twin cost --source simulated:<id> --replication r`` prints each replication's cost KPI."""
    warehouse, kpis = runs
    for scenario in ("baseline-v2", "second-screwdriver-v2"):
        for replication, simulated in enumerate(kpis[scenario]):
            args = ["cost", "--source", f"simulated:{scenario}", "--replication", str(replication)]
            assert main([*args, "--warehouse", str(warehouse), "--json"]) == 0
            report = json.loads(capsys.readouterr().out)
            assert report["replication"] == replication
            assert _rel(simulated["cost_per_unit"], report["cost_per_unit"]["total"]) < TOLERANCE
            # the analytics' definition: equipment is depreciation per busy machine-hour, printer-hours summed
            assert report["cost_per_unit"]["equipment"] > 0.2


def test_the_run_stores_the_scenarios_own_cell(runs):
    warehouse, _ = runs
    with read_connection(warehouse) as conn:
        base = scenario_cell(conn, "simulated:baseline-v2")
        two = scenario_cell(conn, "simulated:second-screwdriver-v2")
        night = scenario_cell(conn, "simulated:night-shift-green-v2")
    assert "R2b" in two.robots and "R2b" not in base.robots
    assert len(night.shifts.shifts) == len(base.shifts.shifts) + 1
    assert night.carbon.renewable_share > base.carbon.renewable_share


def test_rewriting_the_same_run_adds_nothing_and_another_run_replaces_it(tmp_path, monkeypatch):
    from twin.warehouse.connection import read_query

    warehouse = tmp_path / "twin.duckdb"
    monkeypatch.setenv("TWIN_DATA_DIR", str(tmp_path / "data"))
    query = "select replication, count(*) as n from stg_events where source = ? group by all order by replication"
    first = run_scenario("baseline-v2", replications=2, horizon_days=1.0, warehouse=warehouse, write=True)
    before = read_query(query, ["simulated:baseline-v2"], path=warehouse)
    assert before["replication"].to_list() == [0, 1]
    run_scenario("baseline-v2", replications=2, horizon_days=1.0, warehouse=warehouse, write=True)
    assert read_query(query, ["simulated:baseline-v2"], path=warehouse).equals(before)
    # another seed is another run of the source: it replaces the rows, never mixes with them
    other = run_scenario("baseline-v2", replications=1, horizon_days=1.0, seed=5, warehouse=warehouse, write=True)
    after = read_query(query, ["simulated:baseline-v2"], path=warehouse)
    assert after["replication"].to_list() == [0]
    with read_connection(warehouse) as conn:
        again = _period_figures(conn, "simulated:baseline-v2", 0)
    assert _rel(other.per_replication[0]["cost_per_unit"], again["cost_per_unit"]) < TOLERANCE
    assert first.per_replication[0]["cost_per_unit"] != other.per_replication[0]["cost_per_unit"]


def test_a_replication_of_measured_data_or_an_unknown_run_is_an_error(runs, capsys):
    warehouse, _ = runs
    assert main(["cost", "--source", "measured", "--replication", "1", "--warehouse", str(warehouse)]) != 0
    assert "measured rows are replication 0" in capsys.readouterr().err
    assert main(["oee", "--source", "simulated:no-such-v1", "--warehouse", str(warehouse)]) != 0
    assert "holds no simulated run 'simulated:no-such-v1'" in capsys.readouterr().err
