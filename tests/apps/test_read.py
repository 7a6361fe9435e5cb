"""twin.api.read: the read functions behind every number the dashboard pages show."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
from dashtest import DAYS, FIRST_DAY, LAST_DAY, twin_json

from twin.analytics.period import parse_period
from twin.api.periods import days_period, period
from twin.api.read import carbon as read_carbon
from twin.api.read import cost as read_cost
from twin.api.read import energy, quality, replay
from twin.api.read import kpis as read_kpis
from twin.api.read import status as read_status
from twin.api.read.ideal_times import load_ideal
from twin.errors import InputError
from twin.paths import DEFAULT_CELL

TZ = "Europe/Berlin"
CELL_ID = "microfactory"  # the demo warehouse's cell


@pytest.fixture(scope="module")
def demo_period(demo_warehouse):
    return period(demo_warehouse, detail=True)


# --- ideal cycle times -------------------------------------------------------------------------


def test_ideal_times_come_from_the_stored_plan_of_this_cell(tmp_path, demo_warehouse, empty_warehouse):
    times = load_ideal(demo_warehouse)
    assert set(times.cell) == {"B4-PLA", "B6-RPLA", "B8-ALU"} and all(v > 0 for v in times.cell.values())
    assert times.for_station("R2") and times.for_station(None) == times.cell
    assert all(times.for_station("R2")[v] <= times.cell[v] for v in times.cell)  # the takt is the largest work
    with pytest.raises(read_status.MissingData, match="station 'nope'"):
        times.for_station("nope")
    with pytest.raises(read_status.MissingData, match="twin dashboard"):
        load_ideal(tmp_path / "twin.duckdb")  # no warehouse
    with pytest.raises(read_status.MissingData, match="twin dashboard"):
        load_ideal(empty_warehouse)  # a warehouse without a plan (even when the physics cache has one)
    # the same cell file with a comment: the same plan; a changed speed: another plan, not stored
    copy = tmp_path / "cell.yaml"
    copy.write_bytes(DEFAULT_CELL.read_bytes() + b"\n# a comment changes nothing the planner reads\n")
    assert load_ideal(demo_warehouse, copy) == times
    text = DEFAULT_CELL.read_text()
    assert "speed_override: 0.5" in text
    copy.write_text(text.replace("speed_override: 0.5", "speed_override: 0.4", 1))
    with pytest.raises(read_status.MissingData, match="another version of the cell"):
        load_ideal(demo_warehouse, copy)


# --- warehouse status and messages ---------------------------------------------------------------


def test_status_of_missing_empty_and_demo_warehouses(tmp_path, empty_warehouse, demo_warehouse):
    none = read_status.warehouse_status(tmp_path / "none.duckdb", CELL_ID, TZ)
    assert not none.exists and read_status.snapshot_version(tmp_path / "none.duckdb") == 0
    assert "No warehouse at" in read_status.missing_message(none)
    empty = read_status.warehouse_status(empty_warehouse, CELL_ID, TZ)
    assert empty.exists and empty.is_empty
    assert "holds no telemetry yet" in read_status.missing_message(empty)
    demo = read_status.warehouse_status(demo_warehouse, CELL_ID, TZ)
    assert all(demo.rows[s] > 0 for s in read_status.STREAMS), demo.rows
    assert (demo.first_day, demo.last_day) == (FIRST_DAY, LAST_DAY)
    assert demo.replay_runs >= 1 and demo.has_marts
    assert read_status.missing_message(demo, read_status.STREAMS) is None
    other = read_status.warehouse_status(demo_warehouse, "another-cell", TZ)  # the same warehouse, no rows of it
    assert other.is_empty and other.replay_runs == 0 and other.first_day is None


def test_missing_stream_message(events_only_warehouse):
    status = read_status.warehouse_status(events_only_warehouse, CELL_ID, TZ)
    assert status.missing(("events", "energy", "grid_intensity")) == ["energy", "grid_intensity"]
    message = read_status.missing_message(status, ("events", "energy", "grid_intensity"))
    assert "`energy`" in message and "`grid_intensity`" in message and "twin ingest" in message


def test_snapshot_version_changes_when_a_snapshot_is_published(tmp_path):
    from twin.warehouse.connection import write_job

    warehouse = tmp_path / "twin.duckdb"
    with write_job(warehouse) as con:
        con.execute("create table t (x int)")
    first = read_status.snapshot_version(warehouse)
    assert first != 0 and read_status.snapshot_file(warehouse).name == "twin.read.duckdb"
    with write_job(warehouse) as con:
        con.execute("insert into t values (1), (2), (3)")
    assert read_status.snapshot_version(warehouse) != first


# --- periods -------------------------------------------------------------------------------------


def test_previous_period_and_whole_local_days():
    first, last = date(2026, 10, 5), date(2026, 11, 3)
    assert read_kpis.previous_days(date(2026, 10, 28), last, first) == (date(2026, 10, 21), date(2026, 10, 27))
    assert read_kpis.previous_days(first, last, first) is None
    # a period over the DST change is still whole local days
    p = days_period(date(2026, 10, 25), date(2026, 10, 25), TZ)
    assert p.hours == 25.0 and p == parse_period("2026-10-25", "2026-10-26", TZ)


# --- KPIs ----------------------------------------------------------------------------------------


def test_headline_kpis_and_deltas_follow_the_command_objects(demo_warehouse):
    w = ("--warehouse", str(demo_warehouse))
    oee, cost, carbon = twin_json("oee", *w), twin_json("cost", *w), twin_json("carbon", *w)
    fpy = {"units_completed": oee["total_count"], "first_pass_yield": 0.9, "by_variant": []}
    kpis = read_kpis.headline_kpis(oee, cost, carbon, fpy)
    assert kpis == {
        "units": float(oee["total_count"]),
        "oee": oee["oee"],
        "cost_per_unit": cost["cost_per_unit"]["total"],
        "kgco2e_per_unit": carbon["per_unit_kg"]["total_market"],
        "first_pass_yield": 0.9,
    }
    fpy_b8 = {"by_variant": [{"variant": "B8-ALU", "units_completed": 7, "first_pass_yield": 0.5}]}
    by_variant = read_kpis.headline_kpis(oee, cost, carbon, fpy_b8, "B8-ALU")
    row = next(v for v in cost["by_variant"] if v["variant"] == "B8-ALU")
    assert by_variant["units"] == 7.0 and by_variant["cost_per_unit"] == row["cost_per_unit"]["total"]
    assert by_variant["oee"] == oee["oee"]
    worse = {**kpis, "cost_per_unit": kpis["cost_per_unit"] + 1.0, "oee": kpis["oee"] - 0.1}
    deltas = {r["kpi"]: r for r in read_kpis.kpi_deltas(worse, kpis).iter_rows(named=True)}
    assert deltas["cost_per_unit"]["delta"] == pytest.approx(1.0) and deltas["cost_per_unit"]["is_better"] is False
    assert deltas["oee"]["is_better"] is False and deltas["units"]["is_better"] is None
    assert read_kpis.kpi_deltas(kpis, None)["delta"].null_count() == len(read_kpis.HEADLINE_KPIS)


def test_daily_trends_add_up_to_the_period(demo_period):
    fpy = demo_period.quality()
    daily = read_kpis.daily_trends(demo_period)
    assert daily["date"].to_list() == [date.fromisoformat(d) for d in DAYS]
    assert int(daily["units_completed"].sum()) == fpy["units_completed"]
    assert float(daily["energy_kwh"].sum()) == pytest.approx(demo_period.prepared.split.total_kwh)
    b8 = read_kpis.daily_trends(demo_period, variant="B8-ALU")
    row = next(v for v in fpy["by_variant"] if v["variant"] == "B8-ALU")
    assert int(b8["units_completed"].sum()) == row["units_completed"]


def test_fault_summary_clips_to_the_period():
    period = parse_period("2026-10-05", "2026-10-06", TZ)
    t = period.start

    def h(hours: float) -> datetime:
        return t + timedelta(hours=hours)

    downtime = pl.DataFrame(
        {
            "station_id": ["R1", "R1", "R2", "printers"],
            "kind": ["fault", "fault", "setup", "fault"],
            "code": ["E1", "E1", "MAINT", "P9"],
            "start_at": [h(-1), h(2), h(3), h(23)],
            "end_at": [h(1), h(2.5), h(3 + 1 / 6), None],
        },
        schema_overrides={"start_at": pl.Datetime("us", "UTC"), "end_at": pl.Datetime("us", "UTC")},
    )
    figures = SimpleNamespace(prepared=SimpleNamespace(data=SimpleNamespace(downtime=downtime, period=period)))
    summary = {(r["station_id"], r["kind"]): r for r in read_kpis.fault_summary(figures).iter_rows(named=True)}
    assert summary[("R1", "fault")]["n"] == 2 and summary[("R1", "fault")]["down_h"] == pytest.approx(1.5)
    assert summary[("printers", "fault")]["down_h"] == pytest.approx(1.0)  # open: runs to the period's end
    assert summary[("R2", "setup")]["top_code"] == "MAINT"
    changes = read_kpis.fault_changes(read_kpis.fault_summary(figures), None)
    assert changes["station_id"].to_list() == ["R1", "printers"] and changes["n_previous"].null_count() == 2


def test_control_chart_flags_a_shift_and_needs_two_subgroups():
    rng = np.random.default_rng(1)
    start = datetime(2026, 10, 5, 4, tzinfo=UTC)
    hours = np.repeat(np.arange(40), 6)
    values = 2.5 + rng.normal(0, 0.02, hours.size) + np.where(hours >= 37, 0.1, 0.0)
    stamps = [start + timedelta(hours=int(h), minutes=5 * (i % 6)) for i, h in enumerate(hours)]
    frame = pl.DataFrame({"measured_at": stamps, "value": values})
    chart = quality.subgroup_chart(frame, TZ, "hour", None)
    location = chart["location"]
    assert chart["chart"] == "xbar-r" and location.height == 40 and location["n"].to_list() == [6] * 40
    assert location.columns == ["at", "n", "value", "center", "lcl", "ucl", "rules"]
    flagged = [i for i, r in enumerate(location["rules"].to_list()) if r]
    assert flagged == [37, 38, 39] and set(location["rules"][37:]) == {"beyond-limits"}
    assert quality.subgroup_chart(frame, TZ, "hour", "nelson")["violations"] >= 3
    assert quality.subgroup_chart(frame.head(6), TZ, "hour") is None
    with pytest.raises(InputError, match="valid"):
        quality.subgroup_chart(frame, TZ, "week")


def test_quality_tables_on_the_demo(demo_period):
    cell = read_status.cell_summary()
    cap = quality.capability_rows(demo_period, cell.spec_limits, split_at="2026-10-06T04:00:00+00:00")
    assert set(cap["characteristic"]) == set(cell.spec_limits)
    assert set(cap["phase"]) == {"period", "before", "after"}
    pareto = quality.pareto_table(demo_period)
    assert pareto["cumulative_share"][-1] == pytest.approx(1.0)
    at_inspection = quality.pareto_table(demo_period, station="vision")
    assert int(at_inspection["count"].sum()) <= int(pareto["count"].sum())
    p = quality.first_pass_p_chart(demo_period)
    assert p.height == 2 and (p["p"] <= 1).all()
    assert quality.setup_intervals(demo_period)["station_id"].to_list()  # the screwdriver's maintenance


# --- cost and carbon tables ----------------------------------------------------------------------


def test_cost_and_carbon_tables_reproduce_the_command_objects(demo_warehouse, demo_period):
    w = ("--warehouse", str(demo_warehouse))
    cost, carbon = twin_json("cost", *w), twin_json("carbon", *w)
    lines = read_cost.cost_lines(cost)
    assert lines["line"].to_list() == [*read_cost.LINES, "total"]
    assert lines.filter(pl.col("line") == "total")["per_unit"][0] == cost["cost_per_unit"]["total"]
    by_variant = read_cost.cost_by_variant(cost)
    assert by_variant.height == len(cost["by_variant"]) * len(read_cost.LINES)
    scopes = read_carbon.carbon_scopes(carbon)
    assert scopes.filter(pl.col("scope") == "scope2_market")["kg"][0] == carbon["scope2_market_kg"]
    b4 = read_carbon.carbon_scopes(carbon, "B4-PLA")
    row = next(v for v in carbon["by_variant"] if v["variant"] == "B4-PLA")
    assert b4["kg_per_unit"].to_list() == [row["per_unit_kg"][s] for s in read_carbon.SCOPES]
    factors = read_carbon.carbon_factor_rows(carbon)
    assert factors.height == len(carbon["factors"]) and factors["source"].null_count() == 0
    hourly = energy.hourly_energy(demo_period)
    assert float(hourly["kwh"].sum()) == pytest.approx(carbon["energy_kwh"])
    assert float(hourly["scope2_location_kg"].sum()) == pytest.approx(carbon["scope2_location_kg"])


# --- replay ---------------------------------------------------------------------------------------


def test_replay_readers(demo_warehouse):
    span = parse_period(DAYS[0], "2026-10-07", TZ)
    runs = replay.replay_runs(demo_warehouse, CELL_ID)
    assert runs["robot_id"].to_list() == ["R2"]
    run_id = runs["run_id"][0]
    cycles = replay.replay_rows(demo_warehouse, "cycles", run_id, span.start, span.end)
    assert cycles.height > 0 and {"cycle", "energy_measured_j", "energy_predicted_j"} <= set(cycles.columns)
    series = replay.replay_series(demo_warehouse, run_id, cycles["cycle"][0])
    assert series.height > 0 and series["t_s"][0] == 0.0
    assert replay.joints_of(series) == list(range(1, 8))
    anomalies = replay.replay_rows(demo_warehouse, "anomalies", run_id, span.start, span.end)
    assert {"kind", "cycle"} <= set(anomalies.columns)
    outside = replay.replay_rows(demo_warehouse, "cycles", run_id, span.end, span.end + timedelta(days=1))
    assert outside.height == 0


def test_replay_readers_without_results(empty_warehouse):
    assert replay.replay_runs(empty_warehouse, CELL_ID).is_empty()
    assert replay.replay_series(empty_warehouse, "x", "c").is_empty()
    assert replay.replay_rows(empty_warehouse, "anomalies", "x").is_empty()
    with pytest.raises(InputError, match="valid: cycles, anomalies"):
        replay.replay_rows(empty_warehouse, "series", "x")
