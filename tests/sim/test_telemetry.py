"""A replication's telemetry says what the model decided: every defect visible where it was measured, nothing else."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from twin.sim.record import ESCAPED, GOOD, INSPECTION_DEFECT, NO_DEFECT, REWORKED, SCRAPPED, SCREW_DEFECT
from twin.sim.runner import run_replication
from twin.sim.telemetry import energy_bins_j, replication_frames, unit_ids
from twin.warehouse.scratch import scratch_warehouse

pytestmark = pytest.mark.physics


def _units(record, horizon_s: float) -> pl.DataFrame:
    n = len(record.unit_variant)
    done = np.nan_to_num(np.asarray(record.unit_done_s, dtype=float), nan=np.inf)
    return pl.DataFrame(
        {
            "unit_id": pl.select(unit_ids(pl.int_range(n, dtype=pl.Int64))).to_series(),
            "defect": record.unit_defect,
            "status": record.unit_status,
            "inspected": np.isfinite(np.asarray(record.unit_inspected_at_s, dtype=float))
            & (np.nan_to_num(np.asarray(record.unit_inspected_at_s, dtype=float), nan=np.inf) < horizon_s),
            "completed": done <= horizon_s,
        }
    )


@pytest.mark.parametrize("scenario", ["baseline-v2", "inspection-sampling-v2"])
def test_measurements_show_exactly_the_models_defects(prepared, scenario):
    inputs = prepared(scenario, 2.0)
    kpis, record = run_replication(inputs, 17, 1)
    frames = replication_frames(inputs, record)
    quality = frames["quality"]
    assert quality["source"].unique().to_list() == [f"simulated:{scenario}"]
    assert quality["replication"].unique().to_list() == [1]
    units = _units(record, inputs.horizon_s)
    out = (pl.col("value") < pl.col("lsl")) | (pl.col("value") > pl.col("usl"))
    assert quality.filter(out).equals(quality.filter(pl.col("defect_code").is_not_null()))  # coded iff out
    torques = quality.filter(pl.col("characteristic").str.ends_with("_torque_nm")).sort("ts")
    torque = torques.group_by("unit_id", "characteristic", maintain_order=True).first()
    retorqued = torques.join(torque, on=["unit_id", "characteristic", "ts"], how="anti").join(units, on="unit_id")
    # a screw torqued again is a rework of a unit that inspection did not sample, and conforms
    assert retorqued.filter(out).height == 0
    assert retorqued.select((pl.col("status") == REWORKED) & ~pl.col("inspected")).to_series().all()
    assert retorqued.height == retorqued["unit_id"].n_unique()  # its one re-made screw
    per_unit = torque.group_by("unit_id").agg(out.sum().alias("n_out"), pl.len().alias("n")).join(units, on="unit_id")
    assert per_unit.filter(pl.col("defect") == SCREW_DEFECT)["n_out"].to_list() == [1] * int(
        (per_unit["defect"] == SCREW_DEFECT).sum()
    )
    assert per_unit.filter(pl.col("defect") != SCREW_DEFECT)["n_out"].sum() == 0
    screws = {v.name: v.screws for v in inputs.variants}
    variant = pl.Series([inputs.variants[i].name for i in record.unit_variant])
    expected = sum(screws[v] for v in variant.gather(per_unit["unit_id"].str.slice(1).cast(pl.Int64) - 1))
    assert torque.height == expected  # one row per screw of every screwed unit

    inspected = quality.filter(pl.col("station_id") == "vision")
    first = inspected.sort("ts").group_by("unit_id", "characteristic").first()
    seen = first.group_by("unit_id").agg(out.sum().alias("n_out")).join(units, on="unit_id")
    assert seen["inspected"].all()  # only inspected units have gap and flush
    assert (seen.filter(pl.col("defect") == INSPECTION_DEFECT)["n_out"] == 1).all()
    assert seen.filter(pl.col("defect") != INSPECTION_DEFECT)["n_out"].sum() == 0
    again = inspected.group_by("unit_id").agg(pl.len().alias("n")).join(units, on="unit_id")
    assert set(again.filter(pl.col("n") > 2)["status"].unique()) <= {REWORKED}  # re-measured: reworked only
    assert units.filter(pl.col("inspected")).height == seen.height

    # first-pass yield, as the analytics see it: the inspected units (all of them, or the sample) but those
    # with a defect; a screw defect of an unsampled unit is measured too, yet it is outside the sample
    done = units.filter(pl.col("completed"))
    sample = done.filter(pl.col("inspected"))
    defective = pl.col("defect").is_in([SCREW_DEFECT, INSPECTION_DEFECT])
    assert kpis["first_pass_yield"] == pytest.approx(1.0 - sample.filter(defective).height / sample.height, rel=1e-12)
    if scenario == "inspection-sampling-v2":  # most units leave uninspected; their gap and flush nobody knows
        assert done.filter(~pl.col("inspected")).height > 0.5 * done.height
    else:
        assert units.filter(pl.col("completed"))["inspected"].all()
    assert (units["defect"] == NO_DEFECT).sum() > 0.9 * units.height
    if scenario == "inspection-sampling-v2":
        assert retorqued.height > 0
        # a screw defect is known whether sampled or not: reworked or scrapped, never an escape
        screw_defects = units.filter(pl.col("completed") & (pl.col("defect") == SCREW_DEFECT))
        assert set(screw_defects["status"].unique()) <= {REWORKED, SCRAPPED}


def test_energy_registers_hold_every_joule(prepared):
    inputs = prepared("baseline-v2", 2.0)
    _, record = run_replication(inputs, 17, 0)
    energy = replication_frames(inputs, record)["energy"].sort("meter_id", "ts")
    first = energy.group_by("meter_id").first()
    assert (first["energy_kwh"] == 0.0).all()  # the register starts at 0 with the horizon
    assert energy.group_by("meter_id").agg((pl.col("energy_kwh").diff().drop_nulls() >= 0).all())["energy_kwh"].all()
    last = dict(energy.group_by("meter_id").last().select("meter_id", "energy_kwh").iter_rows())
    for meter, joules in energy_bins_j(inputs, record).items():
        assert last[meter] == pytest.approx(joules.sum() / 3.6e6, abs=1e-8)


def test_disposition_mart_agrees_with_the_model_under_sampling(prepared):
    """The unit the model reworked or scrapped is the one the disposition mart reads from its measurements."""
    inputs = prepared("inspection-sampling-v2", 2.0)
    _, record = run_replication(inputs, 17, 0)
    frames = replication_frames(inputs, record)
    with scratch_warehouse(inputs.cell.cell.id, frames, ["mart_unit_disposition"]) as con:
        disposition = con.sql("select unit_id, final_result from mart_unit_disposition").pl()
    units = _units(record, inputs.horizon_s).join(disposition, on="unit_id")
    settled = units.filter(pl.col("completed"))
    by_status = dict(settled.group_by("status").agg(pl.col("final_result").unique().sort()).iter_rows())
    assert by_status[SCRAPPED] == ["scrapped"]  # failed and never re-measured, sampled or not
    assert by_status[GOOD] == (["escaped", "good"])  # good when sampled; unknown (delivered) when not
    # reworked: good after the re-inspection when sampled; when not, its gap and flush nobody measured,
    # and a re-measurement past the horizon leaves it failed there
    assert set(by_status[REWORKED]) <= {"reworked", "escaped", "scrapped"}
    sampled_reworked = settled.filter((pl.col("status") == REWORKED) & pl.col("inspected"))
    assert set(sampled_reworked["final_result"]) <= {"reworked", "scrapped"}
    assert (sampled_reworked["final_result"] == "reworked").mean() > 0.8
    assert set(settled.filter(pl.col("status") == ESCAPED)["final_result"]) <= {"escaped"}
