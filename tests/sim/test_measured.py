"""The twin against recorded telemetry: fits from measured rows only, and the baseline's error."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from twin.cell.load import load_cell
from twin.scenarios.load import load_scenario
from twin.scenarios.service import baseline_twin_error
from twin.sim.measured import fit_faults, from_frames, read_warehouse

pytestmark = pytest.mark.physics


@pytest.fixture(scope="module")
def generated():
    from twin.telemetry.generate import GenerateConfig, Generator, plan_variants

    cell = load_cell()
    config = GenerateConfig(days=7, seed=3, speed_change_day=1000)
    plans = plan_variants(cell, None)
    generator = Generator(cell, config, plans, plans, np.random.default_rng(3))
    generator.run()
    return generator.frames(pl.DataFrame())


def test_baseline_twin_error_against_generated_telemetry(generated):
    measured = from_frames(generated["events"], generated["energy"], generated["quality"])
    assert measured is not None
    error = baseline_twin_error(load_scenario("baseline-v1"), measured)
    assert error["cycle_time_rel"] is not None and abs(error["cycle_time_rel"]) < 0.05
    assert error["energy_per_unit_rel"] is not None and abs(error["energy_per_unit_rel"]) < 0.15


def test_fits_use_measured_rows_only(generated):
    events = generated["events"].with_columns(pl.lit("measured").alias("source"))
    fake = events.with_columns(pl.lit("simulated:x").alias("source"), pl.col("ts_us") + 1)
    measured = from_frames(pl.concat([events, fake]), None, generated["quality"])
    assert measured is not None
    assert measured.events.height == events.height
    assert from_frames(fake) is None  # no measured cycles: no fit, no error
    assert "screw_torque_nm" in measured.quality
    mean, sigma = measured.quality["screw_torque_nm"]
    assert 2.2 < mean < 2.6 and 0.0 < sigma < 0.2


def test_fault_fit_recovers_mtbf_and_mttr():
    hour = 3_600_000_000
    rows = []
    for i in range(10):  # 10 cycles of one hour, a 6-minute fault after each second one
        start = i * 2 * hour
        rows += [(start, "R2", "cycle_start", f"U{i}"), (start + hour, "R2", "cycle_end", f"U{i}")]
        if i % 2:
            rows += [
                (start + hour, "R2", "fault_start", f"U{i}"),
                (start + hour + hour // 10, "R2", "fault_end", f"U{i}"),
            ]
    events = pl.DataFrame(rows, schema=["ts_us", "station_id", "event", "unit_id"], orient="row")
    mtbf_h, mttr_min = fit_faults(events)["R2"]
    assert mttr_min == pytest.approx(6.0)
    assert mtbf_h == pytest.approx(10.0 / 5.0)


def test_no_warehouse_no_twin_error(tmp_path):
    assert read_warehouse(tmp_path / "missing.duckdb") is None
    assert baseline_twin_error(load_scenario("baseline-v1"), None) == {
        "cycle_time_rel": None,
        "energy_per_unit_rel": None,
    }
