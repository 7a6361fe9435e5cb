"""Unit dispositions and cycles from the marts, first-pass yield, defect Pareto, weekly trends, the
settings-change analysis, and robot energy from joint states, on tiny hand-built warehouses and frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import polars as pl
import pytest
from synthetic_warehouse import build, write_raw

from twin.analytics import quality, store
from twin.analytics.frames import roles
from twin.analytics.kpis import unit_table
from twin.analytics.period import Period

UTC_US = pl.Datetime("us", "UTC")
T0 = datetime(2026, 10, 5, 4, tzinfo=UTC)  # Monday 06:00 Berlin
PERIOD = Period(T0, T0 + timedelta(hours=12), "Europe/Berlin")
EVENT_SCHEMA = {"ts": UTC_US, "station_id": pl.String, "event": pl.String, "unit_id": pl.String,
                "variant": pl.String, "code": pl.String}  # fmt: skip
QUALITY_SCHEMA = {"ts": UTC_US, "unit_id": pl.String, "station_id": pl.String, "characteristic": pl.String,
                  "value": pl.Float64, "lsl": pl.Float64, "usl": pl.Float64, "defect_code": pl.String}  # fmt: skip


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def cycle(unit: str, station: str, start: float, end: float, variant: str = "B4-PLA") -> list[tuple]:
    return [
        (at(start), station, "cycle_start", unit, variant, None),
        (at(end), station, "cycle_end", unit, variant, None),
    ]


def torque(unit: str, minute: float, values: list[float], code: str | None = None) -> list[tuple]:
    return [
        (at(minute), unit, "R2", f"screw_{i + 1}_torque_nm", v, 2.2, 2.8, code if not 2.2 <= v <= 2.8 else None)
        for i, v in enumerate(values)
    ]


def gap_flush(unit: str, minute: float, gap: float, flush: float = 0.0) -> list[tuple]:
    return [
        (at(minute), unit, "vision", "gap_mm", gap, 0.6, 1.4, None),
        (at(minute), unit, "vision", "flush_mm", flush, -0.3, 0.3, None),
    ]


@pytest.fixture
def con():
    events = []
    for i, unit in enumerate(["A", "B", "C", "D", "E"]):
        t = 10 * i
        events += (
            cycle(unit, "printers", t - 9, t - 1) + cycle(unit, "R1", t, t + 0.2) + cycle(unit, "R2", t + 0.2, t + 0.7)
        )
        events += cycle(unit, "vision", t + 0.7, t + 0.8) + cycle(unit, "outfeed_belt", t + 0.8, t + 0.9)
    events += cycle("A", "R2", 100, 100.5)  # a second R2 cycle of A (hand re-screw): its times add up
    events += [(at(200), "R1", "cycle_start", "F", "B4-PLA", None)]  # never ended: no cycle, no unit
    events += [
        (at(30), "R2", "fault_start", None, None, "R2_FAULT"),
        (at(33), "R2", "fault_end", None, None, "R2_FAULT"),
        (at(-10), "R2", "setup_start", None, None, "MAINT"),
        (at(-5), "R2", "setup_end", None, None, "MAINT"),
        (at(400), "R1", "fault_start", None, None, "R1_FAULT"),  # still open
    ]
    rows = []
    rows += torque("A", 0.7, [2.5, 2.1, 2.5, 2.5], "TORQUE_LOW") + gap_flush("A", 0.8, 1.0)  # torque fails ...
    rows += gap_flush("A", 60, 1.0)  # ... reworked by hand and re-inspected: good
    rows += torque("B", 10.7, [2.5] * 4) + gap_flush("B", 10.8, 1.6)  # gap fails, never reworked: scrap
    rows += torque("C", 20.7, [2.5] * 4) + gap_flush("C", 20.8, 1.0)  # good at first pass
    rows += torque("D", 30.7, [2.5] * 4) + gap_flush("D", 30.8, 1.0, 0.5)  # flush fails ...
    rows += gap_flush("D", 90, 1.0, 0.4)  # ... rework fails too: scrap
    # E: no measurement at all
    c = duckdb.connect(":memory:")
    write_raw(c, "events", pl.DataFrame(events, schema=EVENT_SCHEMA, orient="row"))
    write_raw(c, "quality", pl.DataFrame(rows, schema=QUALITY_SCHEMA, orient="row"))
    write_raw(c, "energy", pl.DataFrame(schema={"ts": UTC_US, "meter_id": pl.String, "energy_kwh": pl.Float64}))
    write_raw(
        c, "grid_intensity", pl.DataFrame(schema={"ts": UTC_US, "region": pl.String, "gco2e_per_kwh": pl.Float64})
    )
    js = [(T0 + timedelta(milliseconds=8 * i), "R1", 0.0, 100.0, "pick_panel") for i in range(126)]  # 1 s at 125 Hz
    js += [(T0 + timedelta(seconds=10, microseconds=8000 * i), "R1", 0.0, 300.0, "place_panel") for i in range(63)]
    write_raw(c, "joint_states", pl.DataFrame(js, schema={"ts": UTC_US, "robot_id": pl.String, "q_1": pl.Float64,
              "power_w": pl.Float64, "program_step": pl.String}, orient="row"))  # fmt: skip
    build(c)
    yield c
    c.close()


def test_unit_dispositions_cycles_and_stops_from_the_marts(con, sample_cell):
    data = store.load_period(con, PERIOD, roles(sample_cell), store.Rows(sample_cell.cell.id), defects=True)
    units = unit_table(data.units, PERIOD).sort("unit_id")
    assert units["unit_id"].to_list() == ["A", "B", "C", "D", "E"]
    # the disposition is mart_unit_disposition's, read as it is (E has no measurement: not inspected, never good)
    assert units["first_pass_result"].to_list() == ["failed", "failed", "good", "failed", "not_inspected"]
    assert units["final_result"].to_list() == ["reworked", "scrapped", "good", "scrapped", "escaped"]
    assert units["is_reworked"].to_list() == [True, False, False, True, False]
    # run time leaves the printer bank out: R1 12 s + R2 30 s + inspection 6 s + outfeed 6 s (+ A's re-screw 30 s)
    assert units["run_s"].to_list() == pytest.approx([84.0, 54.0, 54.0, 54.0, 54.0])
    assert units["completed_at"].to_list()[2] == at(20.9)
    down = data.downtime.sort("start_at")
    assert down.select("station_id", "kind").rows() == [("R2", "setup"), ("R2", "fault"), ("R1", "fault")]
    assert down["end_at"].to_list()[-1] is None
    assert data.defects.filter(pl.col("is_first_pass"))["defect"].sort().to_list() == [
        "FLUSH_MM_OUT", "GAP_MM_OUT", "TORQUE_LOW",
    ]  # fmt: skip


def test_first_pass_yield_and_pareto(con, sample_cell):
    data = store.load_period(con, PERIOD, roles(sample_cell), store.Rows(sample_cell.cell.id), defects=True)
    units = unit_table(data.units, PERIOD)
    fpy = quality.first_pass_yield(units)
    assert (fpy["units_completed"], fpy["first_pass_good"], fpy["reworked"], fpy["scrapped"]) == (5, 1, 2, 2)
    assert (fpy["not_inspected"], fpy["escaped"]) == (1, 1)
    assert fpy["first_pass_yield"] == pytest.approx(1 / 5) and fpy["final_yield"] == pytest.approx(2 / 5)
    assert fpy["rework_rate"] == pytest.approx(2 / 5) and fpy["escape_rate"] == pytest.approx(1 / 5)
    pareto = quality.defect_pareto(data.defects, units)
    assert pareto["count"].sum() == 3 and pareto["cumulative_share"].to_list()[-1] == pytest.approx(1.0)
    with_rework = quality.defect_pareto(data.defects, units, first_pass_only=False)
    assert with_rework.filter(pl.col("defect") == "FLUSH_MM_OUT")["count"].item() == 2


def test_defect_pareto_orders_by_count():
    defects = pl.DataFrame(
        {"unit_id": ["a", "b", "c", "c", "d", "e"], "measured_at": [T0] * 6, "station_id": ["R2"] * 6,
         "characteristic": ["x"] * 6, "defect": ["LOW", "GAP", "LOW", "LOW", "GAP", "LOW"],
         "is_first_pass": [True] * 6},
        schema={"unit_id": pl.String, "measured_at": UTC_US, "station_id": pl.String, "characteristic": pl.String,
                "defect": pl.String, "is_first_pass": pl.Boolean},
    )  # fmt: skip
    units = pl.DataFrame({"unit_id": list("abcde"), "in_period": [True] * 5})
    p = quality.defect_pareto(defects, units)
    assert p.rows() == [("LOW", 4, 3, 4 / 6, 4 / 6), ("GAP", 2, 2, 2 / 6, 1.0)]


def test_weekly_trends_group_local_weeks(sample_cell):
    units = pl.DataFrame(
        {
            "completed_at": [datetime(2026, 10, 4, 21, 30, tzinfo=UTC), datetime(2026, 10, 4, 22, 30, tzinfo=UTC)],
            "in_period": [True, True],
            "is_first_pass_good": [True, False],
            "is_reworked": [False, True],
            "is_scrapped": [False, False],
            "is_final_good": [True, True],
            "is_inspected": [True, True],
            "is_escaped": [False, False],
            "is_fully_measured": [True, True],
        }
    )
    w = quality.weekly_trends(units, "Europe/Berlin")
    # Sunday 23:30 and Monday 00:30 Berlin fall in two ISO weeks although both are 4 October in UTC
    assert [d.isoformat() for d in w["week"].to_list()] == ["2026-09-28", "2026-10-05"]
    assert w["first_pass_yield"].to_list() == [1.0, 0.0]


def test_settings_change_is_detected_and_spread_compared():
    rng = np.random.default_rng(3)
    n, change = 2000, 1200
    start = [T0 + timedelta(seconds=40 * i) for i in range(n)]
    scale = np.where(np.arange(n) < change, 1.0, 0.8)  # robots 20 % faster after unit 1200
    rows = []
    for robot, base in (("R1", 12.0), ("R2", 30.0)):
        rows += [
            (f"U{i}", robot, "B4-PLA", start[i], base * scale[i] * (1 + 0.01 * rng.standard_normal())) for i in range(n)
        ]
    robot_cycles = pl.DataFrame(rows, schema={"unit_id": pl.String, "station_id": pl.String, "variant": pl.String,
                                              "at": UTC_US, "duration_s": pl.Float64}, orient="row")  # fmt: skip
    sd = np.where(np.arange(n) < change, 0.05, 0.08)
    meas = pl.DataFrame(
        {"unit_id": [f"U{i}" for i in range(n)], "measured_at": start, "family": ["screw_torque_nm"] * n,
         "value": 2.5 + sd * rng.standard_normal(n)},
        schema={"unit_id": pl.String, "measured_at": UTC_US, "family": pl.String, "value": pl.Float64},
    )  # fmt: skip
    r = quality.settings_change(robot_cycles, meas)
    assert r["detected"] and r["units_before"] == change
    assert r["change_at"] == start[change].isoformat()
    assert r["cycle_time_ratio"] == pytest.approx(0.8, abs=0.01)
    (torque,) = r["characteristics"]
    assert torque["std_ratio"] == pytest.approx(0.08 / 0.05, rel=0.1) and torque["levene_p"] < 1e-6
    assert {(x["robot"], round(x["after_s"] / x["before_s"], 2)) for x in r["robots"]} == {("R1", 0.8), ("R2", 0.8)}

    steady = robot_cycles.with_columns(
        pl.lit(30.0).alias("duration_s") * (1 + 0.01 * pl.Series(rng.standard_normal(2 * n)))
    )
    assert not quality.settings_change(steady, meas)["detected"]


def test_robot_energy_by_step_integrates_joint_state_power(con):
    r = store.robot_energy_by_step(con, PERIOD, store.Rows("microfactory")).sort("program_step")
    assert r["program_step"].to_list() == ["pick_panel", "place_panel"]
    # 126 samples 8 ms apart at 100 W (the last held 16 ms at most before the 9 s gap): 125 x 8 ms + 16 ms
    assert r["logged_s"].to_list() == pytest.approx([1.016, 0.496])
    assert r["kwh"].to_list() == pytest.approx([100 * 1.016 / 3.6e6, 300 * 0.496 / 3.6e6])
    assert r["mean_power_w"].to_list() == pytest.approx([100.0, 300.0])
