"""The twin against recorded telemetry: fits from the marts' measured rows only, and the baseline's error."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest
from synthetic_warehouse import build, write_raw

from twin.cell.load import load_cell
from twin.scenarios.load import load_scenario
from twin.scenarios.service import baseline_twin_error
from twin.sim.measured import fit_faults, from_connection, read_warehouse

pytestmark = pytest.mark.physics
CELL_ID = load_cell().cell.id


@pytest.fixture(scope="module")
def generated():
    from twin.telemetry.generate import GenerateConfig, Generator, plan_variants

    cell = load_cell()
    config = GenerateConfig(days=7, seed=3, speed_change_day=1000)
    plans = plan_variants(cell, None)
    generator = Generator(cell, config, plans, plans, np.random.default_rng(3))
    generator.run()
    frames = generator.frames(pl.DataFrame())
    utc = pl.from_epoch(pl.col("ts_us"), time_unit="us").dt.replace_time_zone("UTC").alias("ts")
    measured = pl.lit("measured").alias("source")
    return {name: frames[name].with_columns(utc, measured).drop("ts_us") for name in ("events", "energy", "quality")}


def warehouse(frames: dict[str, pl.DataFrame]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute("set TimeZone = 'UTC'")
    for stream, frame in frames.items():
        write_raw(con, stream, frame)
    write_raw(con, "grid_intensity", pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC"), "region": pl.String}))
    write_raw(con, "joint_states", pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC"), "robot_id": pl.String}))
    build(con)
    return con


def test_baseline_twin_error_against_generated_telemetry(generated):
    measured = from_connection(warehouse(generated), CELL_ID)
    assert measured is not None
    error = baseline_twin_error(load_scenario("baseline-v2"), measured)
    assert error["cycle_time_rel"] is not None and abs(error["cycle_time_rel"]) < 0.05
    assert error["energy_per_unit_rel"] is not None and abs(error["energy_per_unit_rel"]) < 0.15


def test_fits_use_measured_rows_only(generated):
    fake = {
        name: frame.with_columns(pl.lit("simulated:x").alias("source"), pl.col("ts") + pl.duration(microseconds=1))
        for name, frame in generated.items()
    }
    measured = from_connection(warehouse({n: pl.concat([generated[n], fake[n]]) for n in generated}), CELL_ID)
    alone = from_connection(warehouse(generated), CELL_ID)
    assert measured is not None and alone is not None
    assert measured.events.height == generated["events"].height
    assert measured.energy.equals(alone.energy) and measured.quality.keys() == alone.quality.keys()
    assert all(measured.quality[k] == pytest.approx(alone.quality[k], rel=1e-12) for k in alone.quality)
    assert from_connection(warehouse(fake), CELL_ID) is None  # no measured cycles: no fit, no error
    mean, sigma = measured.quality["screw_torque_nm"]
    assert 2.2 < mean < 2.6 and 0.0 < sigma < 0.2


def test_fault_fit_recovers_mtbf_and_mttr():
    hour = 3_600_000_000
    cycles, faults = [], []
    for i in range(10):  # 10 cycles of one hour, a 6-minute fault after each second one
        start = i * 2 * hour
        cycles.append(("R2", start, start + hour, 3600.0))
        if i % 2:
            faults.append(("R2", start + hour, start + hour + hour // 10, 360.0))
    faults.append(("R2", 30 * hour, None, None))  # still open: not a repair
    schema = ["station_id", "start_us", "end_us", "duration_s"]
    mtbf_h, mttr_min = fit_faults(
        pl.DataFrame(faults, schema=schema, orient="row"), pl.DataFrame(cycles, schema=schema, orient="row")
    )["R2"]
    assert mttr_min == pytest.approx(6.0)
    assert mtbf_h == pytest.approx(10.0 / 5.0)


def test_no_warehouse_no_twin_error(tmp_path):
    assert read_warehouse(tmp_path / "missing.duckdb", CELL_ID) is None
    assert baseline_twin_error(load_scenario("baseline-v2"), None) == {
        "cycle_time_rel": None,
        "energy_per_unit_rel": None,
    }
