"""The generator writes realistic, reproducible telemetry from the twin."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from twin.cell.spec import CalendarSpec
from twin.telemetry.generate import GenerateConfig, generate

pytestmark = pytest.mark.physics


@pytest.fixture(scope="module")
def six_days(tmp_path_factory, sample_cell):
    out = tmp_path_factory.mktemp("gen6")
    config = GenerateConfig(days=6, seed=11, start=date(2026, 10, 20), speed_change_day=2, speed_after=0.9)
    return generate(sample_cell, config, out), out


def read(out: Path, stream: str) -> pl.DataFrame:
    return pl.read_parquet(out / f"{stream}-*.parquet")


def digest(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_same_seed_same_files_other_seed_other_files(tmp_path, sample_cell):
    config = GenerateConfig(days=2, seed=3, fmt="csv")
    a = generate(sample_cell, config, tmp_path / "a")
    b = generate(sample_cell, config, tmp_path / "b")
    c = generate(sample_cell, GenerateConfig(days=2, seed=4, fmt="csv"), tmp_path / "c")
    assert digest(a.files) == digest(b.files)
    assert digest(a.files) != digest(c.files)
    events = pl.read_csv(tmp_path / "a" / "events-2026-10-05.csv")
    assert events["ts"][0].endswith("+02:00")  # local offset, summer time


def test_every_stream_with_the_contract_columns(six_days, sample_cell):
    summary, out = six_days
    assert set(summary.rows) == {"events", "quality", "joint_states", "energy", "grid_intensity"}
    assert all(n > 0 for n in summary.rows.values())
    joints = read(out, "joint_states")
    assert {"ts", "robot_id", "q_1", "qd_1", "tau_1", "power_w", "program_step"} <= set(joints.columns)
    assert joints.filter(pl.col("robot_id") == "R1").select("q_9").null_count().item() == 0  # Panda: 9 joints
    r2 = joints.filter(pl.col("robot_id") == "R2")
    assert r2["q_8"].null_count() == r2.height  # the iiwa has 7
    events = read(out, "events")
    assert set(events["event"].unique()) >= {"cycle_start", "cycle_end", "setup_start", "setup_end"}
    machines = {*sample_cell.robots, *sample_cell.stations}
    assert set(events["station_id"].unique()) <= machines
    energy = read(out, "energy")
    assert set(energy["meter_id"].unique()) == machines | {"cell_aux"}
    grid = read(out, "grid_intensity")
    assert grid.height == 6 * 24 + 1  # one hour longer: the period spans the end of summer time
    assert grid["gco2e_per_kwh"].min() > 0


def test_one_register_reset_and_otherwise_monotonic(six_days):
    _, out = six_days
    energy = read(out, "energy").sort("meter_id", "ts")
    deltas = energy.with_columns(pl.col("energy_kwh").diff().over("meter_id").alias("delta"))
    falls = deltas.filter(pl.col("delta") < 0)
    assert falls.height == 1
    assert falls["energy_kwh"][0] < 0.01 * (falls["energy_kwh"][0] - falls["delta"][0])


def test_high_rate_traces_for_first_cycles_of_each_shift_and_faults(six_days, sample_cell):
    _, out = six_days
    joints = read(out, "joint_states")
    dt = joints.filter(pl.col("robot_id") == "R2").sort("ts")["ts"].diff().dt.total_microseconds()
    assert ((dt - 8000).abs() <= 1).mean() > 0.9  # 125 Hz (timestamps round to the microsecond)
    shifts_with_traces = joints.select(pl.col("ts").dt.convert_time_zone("Europe/Berlin").dt.truncate("1h")).unique()
    assert shifts_with_traces.height >= 2 * 5  # both shifts of every workday
    events = read(out, "events")
    faulted_units = events.filter(pl.col("event") == "fault_start")["unit_id"].drop_nulls().unique()
    for unit in faulted_units.to_list()[:3]:
        cycle = events.filter((pl.col("unit_id") == unit) & (pl.col("station_id") == "R2"))
        t0, t1 = cycle["ts"].min(), cycle["ts"].max()
        assert joints.filter(pl.col("ts").is_between(t0, t1)).height > 0


def test_speed_change_shortens_cycles_and_widens_torque_spread(six_days):
    summary, out = six_days
    change = pl.Series([summary.speed_change_at]).str.to_datetime(time_zone="UTC")[0]
    events = read(out, "events").filter((pl.col("station_id") == "R2") & (pl.col("event") == "cycle_start"))
    gaps = events.sort("ts").with_columns(pl.col("ts").diff().dt.total_milliseconds().alias("gap_ms"))
    gaps = gaps.filter(pl.col("gap_ms") < 120_000)
    before = gaps.filter(pl.col("ts") < change)["gap_ms"].mean()
    after = gaps.filter(pl.col("ts") >= change)["gap_ms"].mean()
    assert after < 0.9 * before
    torque = read(out, "quality").filter(pl.col("characteristic").str.ends_with("torque_nm"))
    std_before = torque.filter(pl.col("ts") < change)["value"].std()
    std_after = torque.filter(pl.col("ts") >= change)["value"].std()
    assert std_after > 1.2 * std_before


def test_tool_wear_drift_and_maintenance_reset(six_days, sample_cell):
    _, out = six_days
    torque = read(out, "quality").filter(pl.col("characteristic").str.ends_with("torque_nm")).sort("ts")
    setups = read(out, "events").filter(pl.col("event") == "setup_end").sort("ts")["ts"]
    assert setups.len() >= 2
    start, end = setups[0], setups[1]
    segment = torque.filter(pl.col("ts").is_between(start, end))
    n = segment.height
    early = segment.head(n // 5)["value"].mean()
    late = segment.tail(n // 5)["value"].mean()
    assert late < early - 0.05  # the bit wears: torque falls ...
    after_reset = torque.filter(pl.col("ts") > end).head(n // 5)["value"].mean()
    assert after_reset > late + 0.05  # ... and recovers at maintenance


def test_real_grid_series(tmp_path, sample_cell, realdata):
    path = realdata / "grid_carbon_gb_electricitymaps" / "GB_2024_hourly.csv"
    config = GenerateConfig(days=2, seed=1, grid_intensity_path=path)
    summary = generate(sample_cell, config, tmp_path)
    grid = pl.read_parquet(tmp_path / "grid_intensity-*.parquet")
    assert grid.height == summary.rows["grid_intensity"] == 48
    source = pl.read_csv(path, infer_schema_length=0)
    values = set(source[source.columns[4]].cast(pl.Float64).round(2).to_list())
    assert set(grid["gco2e_per_kwh"].round(2).to_list()) <= values


def test_no_robot_cycle_starts_in_a_break_after_midnight(tmp_path, sample_cell):
    night = CalendarSpec(
        days=["mon"],
        shifts=[{"name": "night", "start": "22:00", "end": "06:00"}],
        breaks=[{"start": "02:00", "duration_min": 30}],
    )
    cell = sample_cell.model_copy(update={"shifts": night})
    generate(cell, GenerateConfig(days=2, seed=5, start=date(2026, 10, 5)), tmp_path)
    starts = read(tmp_path, "events").filter(
        (pl.col("event") == "cycle_start") & pl.col("station_id").is_in(list(cell.robots))
    )
    local = starts["ts"].dt.convert_time_zone(cell.cell.timezone).dt.replace_time_zone(None)

    def count(a: str, b: str) -> int:
        return int(local.is_between(datetime.fromisoformat(a), datetime.fromisoformat(b), closed="left").sum())

    assert count("2026-10-06T02:00", "2026-10-06T02:30") == 0  # Tuesday 02:00 belongs to Monday's night
    assert count("2026-10-06T01:30", "2026-10-06T02:00") > 0 and count("2026-10-06T02:30", "2026-10-06T03:00") > 0


def test_the_process_change_speeds_up_only_the_robots_it_names(tmp_path, sample_cell):
    config = GenerateConfig(days=2, seed=5, speed_change_day=1, speed_after=0.9, speed_change_robots=("R2",))
    summary = generate(sample_cell, config, tmp_path)
    assert summary.speed_change_robots == ("R2",)
    events = read(tmp_path, "events").filter(pl.col("event").is_in(["cycle_start", "cycle_end"]))
    change = pl.Series([summary.speed_change_at]).str.to_datetime(time_zone="UTC")[0]
    cycles = (
        events.sort("ts")
        .group_by("station_id", "unit_id")
        .agg((pl.col("ts").last() - pl.col("ts").first()).dt.total_milliseconds().alias("ms"), pl.col("ts").first())
        .with_columns((pl.col("ts") >= change).alias("after"))
        .group_by("station_id", "after")
        .agg(pl.col("ms").median())
    )

    def median(robot: str, after: bool) -> float:
        return cycles.filter((pl.col("station_id") == robot) & (pl.col("after") == after))["ms"].item()

    assert median("R2", True) < 0.8 * median("R2", False)  # 0.5 -> 0.9: R2 moves faster
    assert median("R1", True) == pytest.approx(median("R1", False), rel=0.02)  # R1 keeps its speed


def test_a_process_change_of_an_unknown_robot_is_an_input_error(tmp_path, sample_cell):
    from twin.errors import InputError

    with pytest.raises(InputError, match="R9: not a robot of the cell; valid: R1, R2"):
        generate(sample_cell, GenerateConfig(days=1, speed_change_robots=("R9",)), tmp_path)
