"""What the recorded telemetry says: fits for the simulation and the twin's error against reality.

Everything is read from the warehouse's marts, which own the definitions; only measured rows count
(``source = 'measured'``), so simulated rows written back into the warehouse never feed a fit or an error
figure.

- **Faults**: per robot or station, MTBF = operating hours (the sum of its cycles, faults excluded) /
  number of faults, MTTR = mean fault duration; faults are ``mart_an_downtime``'s closed fault intervals,
  cycles ``mart_cycles``' complete ones. A unit with any fault, open or closed, has no measured cycle time.
- **Quality**: per characteristic family (``screw_torque_nm`` pools every screw; ``gap_mm``, ``flush_mm``),
  mean and standard deviation of the first-pass measurements of ``mart_an_measurements``.
- **Twin error**: the baseline's cycle time per unit (robot cycles plus the outfeed conveyor, units with a
  fault left out, mix-weighted by the measured variants) and energy per completed unit (every meter's
  energy per interval from ``mart_energy_intervals``: the warehouse's energy-register rule, resets and
  rollovers included), each as (predicted - measured) / measured.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from twin.errors import WarehouseError
from twin.telemetry.schema import MEASURED
from twin.warehouse.connection import read_connection

log = logging.getLogger(__name__)

US = 1_000_000
MIN_FAULTS = 3  # fewer faults than this give no MTBF fit (the cell file's value stands)
MIN_SAMPLES = 30  # fewer first measurements than this give no quality fit

_QUERIES: dict[str, str] = {
    "events": """
        select station_id, event, unit_id, variant, epoch_us(ts) as ts_us
        from stg_events where cell_id = $cell and source = $source order by ts, station_id, event, unit_id
    """,
    "cycles": """
        select station_id, unit_id, variant, epoch_us(started_at) as start_us, epoch_us(ended_at) as end_us,
               duration_s
        from mart_cycles where cell_id = $cell and source = $source and is_complete and unit_id is not null
    """,
    "faults": """
        select station_id, unit_id, epoch_us(start_at) as start_us, epoch_us(end_at) as end_us, duration_s
        from mart_an_downtime where cell_id = $cell and source = $source and kind = 'fault' and start_at is not null
    """,
    "energy": """
        select meter_id, epoch_us(start_at) as start_us, epoch_us(end_at) as end_us, energy_kwh as kwh
        from mart_energy_intervals where cell_id = $cell and source = $source order by meter_id, end_at
    """,
    "quality": """
        select unit_id, family, value from mart_an_measurements
        where cell_id = $cell and source = $source and is_first_pass and value is not null
    """,
    "grid": """
        select epoch_us(ts) as ts_us, region, gco2e_per_kwh, interval_min from stg_grid_intensity
        where cell_id = $cell and source = $source and gco2e_per_kwh is not null order by region, ts
    """,
}
"""What the fits and the twin error read, each from the mart that owns its definition."""


@dataclass
class MeasuredData:
    """Measured rows of the warehouse (times as ``*_us`` epoch microseconds) and the fits made from them.

    Attributes:
        events: ``station_id``, ``event``, ``unit_id``, ``variant``, ``ts_us`` (``stg_events``).
        cycles: Complete cycles: ``station_id``, ``unit_id``, ``variant``, ``start_us``, ``end_us``, ``duration_s``.
        fault_intervals: Faults: ``station_id``, ``unit_id``, ``start_us``, ``end_us`` and ``duration_s`` (null while
            open).
        energy: Energy per meter interval: ``meter_id``, ``start_us``, ``end_us``, ``kwh``.
        quality_rows: First-pass measurements: ``unit_id``, ``family``, ``value``.
        grid: Grid intensity: ``ts_us``, ``region``, ``gco2e_per_kwh``, ``interval_min``.
        faults: Resource -> (MTBF h, MTTR min), from :func:`fit_faults`.
        quality: Family -> (mean, sigma), from :func:`fit_quality`.
    """

    events: pl.DataFrame
    cycles: pl.DataFrame
    fault_intervals: pl.DataFrame
    energy: pl.DataFrame
    quality_rows: pl.DataFrame
    faults: dict[str, tuple[float, float]] = field(default_factory=dict)
    quality: dict[str, tuple[float, float]] = field(default_factory=dict)
    grid: pl.DataFrame = field(default_factory=pl.DataFrame)

    def grid_rows(self, region: str, first: Any, end: Any) -> tuple[tuple[int, str, float, int], ...]:
        """Measured grid intensity of a region around local days ``first`` to ``end`` (exclusive).

        Rows within a day of the period either side (the analytics match them to hours in UTC), as
        ``(ts_us, region, gco2e_per_kwh, interval_min)``; none without a grid stream.
        """
        if self.grid.is_empty():
            return ()
        lo = int((datetime.combine(first, time(0), tzinfo=UTC) - timedelta(days=2)).timestamp() * US)
        hi = int((datetime.combine(end, time(0), tzinfo=UTC) + timedelta(days=2)).timestamp() * US)
        rows = self.grid.filter((pl.col("region") == region) & pl.col("ts_us").is_between(lo, hi, closed="left"))
        return tuple((int(t), str(g), float(v), int(m)) for t, g, v, m in rows.iter_rows())

    @property
    def first_ts_us(self) -> int:
        """The earliest event."""
        return int(self.events["ts_us"].min())  # type: ignore[arg-type]

    @property
    def last_ts_us(self) -> int:
        """The latest event."""
        return int(self.events["ts_us"].max())  # type: ignore[arg-type]


def from_connection(con: Any, cell_id: str) -> MeasuredData | None:
    """One cell's measured data from a built warehouse, with its fits; None without measured cycles.

    Args:
        con: A connection to a warehouse whose marts are built (read-only is enough).
        cell_id: The cell whose rows are read (a warehouse may hold several cells).

    Returns:
        The :class:`MeasuredData`, or None when no measured cycle ended.
    """
    params = {"cell": cell_id, "source": MEASURED}
    frames = {name: con.sql(sql, params=params).pl() for name, sql in _QUERIES.items()}
    if frames["cycles"].is_empty():
        return None
    data = MeasuredData(
        events=frames["events"],
        cycles=frames["cycles"],
        fault_intervals=frames["faults"],
        energy=frames["energy"],
        quality_rows=frames["quality"],
        grid=frames["grid"],
    )
    data.faults = fit_faults(data.fault_intervals, data.cycles)
    data.quality = fit_quality(data.quality_rows)
    return data


def fit_faults(faults: pl.DataFrame, cycles: pl.DataFrame) -> dict[str, tuple[float, float]]:
    """Resource -> (MTBF h, MTTR min) from measured fault intervals and cycles.

    Operating time is the resource's cycle time minus the repairs that fell inside its cycles (a robot
    that fails mid-operation finishes its cycle after the repair).

    Args:
        faults: Fault intervals (:attr:`MeasuredData.fault_intervals`); the open ones are left out.
        cycles: Complete cycles (:attr:`MeasuredData.cycles`).

    Returns:
        The fits of every resource with at least :data:`MIN_FAULTS` closed faults.
    """
    faults = faults.filter(pl.col("end_us").is_not_null()).select(
        "station_id", pl.col("start_us").alias("f0"), pl.col("end_us").alias("f1"), "duration_s"
    )
    cycles = cycles.select("station_id", pl.col("start_us").alias("c0"), pl.col("end_us").alias("c1"), "duration_s")
    inside = (
        faults.join(cycles, on="station_id", suffix="_cycle")
        .with_columns(((pl.min_horizontal("f1", "c1") - pl.max_horizontal("f0", "c0")).clip(0) / US).alias("overlap_s"))
        .group_by("station_id")
        .agg(pl.col("overlap_s").sum())
    )
    stats = (
        faults.group_by("station_id")
        .agg(pl.len().alias("n"), pl.col("duration_s").sum().alias("down_s"))
        .join(cycles.group_by("station_id").agg(pl.col("duration_s").sum().alias("busy_s")), on="station_id")
        .join(inside, on="station_id", how="left")
        .sort("station_id")
    )
    out: dict[str, tuple[float, float]] = {}
    for row in stats.iter_rows(named=True):
        if row["n"] < MIN_FAULTS:
            continue
        operating = row["busy_s"] - (row["overlap_s"] or 0.0)
        if operating > 0:
            out[row["station_id"]] = (operating / 3600.0 / row["n"], row["down_s"] / row["n"] / 60.0)
    return out


def fit_quality(quality: pl.DataFrame) -> dict[str, tuple[float, float]]:
    """Family -> (mean, sigma) of the first-pass measurements (the simulation reads its cell's characteristics).

    Args:
        quality: First-pass measurements (:attr:`MeasuredData.quality_rows`).

    Returns:
        The fits of the families with at least :data:`MIN_SAMPLES` measurements and a spread.
    """
    if quality.is_empty():
        return {}
    stats = quality.group_by("family").agg(
        pl.col("value").mean().alias("mean"), pl.col("value").std().alias("sd"), pl.len()
    )
    out = {}
    for row in stats.sort("family").iter_rows(named=True):
        if row["len"] >= MIN_SAMPLES and row["sd"]:
            out[row["family"]] = (float(row["mean"]), float(row["sd"]))
    return out


def measured_cycle_times(measured: MeasuredData, robots: set[str], conveyors: set[str]) -> pl.DataFrame:
    """One row per unit without a fault: variant and cycle time, summed as the plan's cycle time sums its operations.

    The unit's cycles at the robots, the machines that process it and the outfeed conveyor.

    Args:
        measured: The measured data.
        robots: The robots and the machine or manual stations whose processes are stages of the plan.
        conveyors: The cell's conveyor station ids.

    Returns:
        ``unit_id``, ``variant``, ``cycle_time_s``, ``n`` (stations cycled), sorted by unit.
    """
    stations = robots | conveyors
    faulted = measured.fault_intervals["unit_id"].drop_nulls().unique().to_list()
    per_unit = (
        measured.cycles.filter(pl.col("station_id").is_in(list(stations)) & ~pl.col("unit_id").is_in(faulted))
        .sort("start_us")
        .group_by("unit_id")
        .agg(
            pl.col("variant").first(),
            pl.col("duration_s").sum().alias("cycle_time_s"),
            pl.col("station_id").n_unique().alias("n"),
        )
        .filter(pl.col("n") == len(stations))
    )
    return per_unit.sort("unit_id")


def twin_error(
    measured: MeasuredData,
    predicted_cycle_s: dict[str, float],
    predicted_energy_kwh_per_unit: float,
    robots: set[str],
    conveyors: set[str],
) -> dict[str, float | None]:
    """Relative error of the baseline's predictions against the measured data.

    Args:
        measured: The measured data.
        predicted_cycle_s: Variant -> predicted cycle time (s).
        predicted_energy_kwh_per_unit: Predicted energy per completed unit over the measured period.
        robots: The robots and the machine or manual stations whose processes are stages of the plan.
        conveyors: The cell's conveyor station ids (the unit's last station).

    Returns:
        ``{"cycle_time_rel", "energy_per_unit_rel"}``; None where the data does not allow the figure.
    """
    out: dict[str, float | None] = {"cycle_time_rel": None, "energy_per_unit_rel": None}
    units = measured_cycle_times(measured, robots, conveyors)
    units = units.filter(pl.col("variant").is_in(list(predicted_cycle_s)))
    if not units.is_empty():
        actual = float(units["cycle_time_s"].mean())  # type: ignore[arg-type]
        predicted = float(sum(predicted_cycle_s[v] for v in units["variant"].to_list()) / units.height)
        out["cycle_time_rel"] = _rel(predicted, actual)
    if not measured.energy.is_empty():
        lo, hi = measured.energy["start_us"].min(), measured.energy["end_us"].max()
        done = measured.events.filter(
            (pl.col("event") == "cycle_end")
            & pl.col("station_id").is_in(list(conveyors))
            & pl.col("ts_us").is_between(lo, hi)
        )["unit_id"].n_unique()
        kwh = float(measured.energy["kwh"].sum())
        if done and math.isfinite(kwh):
            out["energy_per_unit_rel"] = _rel(predicted_energy_kwh_per_unit, kwh / done)
    return out


def _rel(predicted: float, actual: float) -> float | None:
    if not (math.isfinite(predicted) and math.isfinite(actual)) or actual == 0:
        return None
    return float(f"{(predicted - actual) / actual:.10g}")


def read_warehouse(path: str | Path | None, cell_id: str) -> MeasuredData | None:
    """A cell's measured data from the warehouse's published snapshot, or None when it has no measured cycles.

    A warehouse that is missing, unreadable or lacks the marts gives None (the twin error is then null)
    and a log line says why.

    Args:
        path: The warehouse file (None: no warehouse).
        cell_id: The cell whose rows are read.

    Returns:
        The :class:`MeasuredData`, or None.
    """
    if path is None or not Path(path).is_file():
        return None
    try:
        with read_connection(path) as con:
            return from_connection(con, cell_id)
    except (duckdb.Error, WarehouseError) as exc:
        log.warning("warehouse %s: cannot read telemetry (%s); no twin error", path, str(exc).splitlines()[0])
        return None


def measured_period(measured: MeasuredData, timezone: str) -> tuple[date, float]:
    """(first local day, days) covering the measured events and energy intervals.

    Args:
        measured: The measured data.
        timezone: The cell's zone (days are local).

    Returns:
        The first local day and the number of days to the last one, inclusive.
    """
    zone = ZoneInfo(timezone)
    lo, hi = measured.first_ts_us, measured.last_ts_us
    if not measured.energy.is_empty():
        lo = min(lo, int(measured.energy["start_us"].min()))  # type: ignore[arg-type]
        hi = max(hi, int(measured.energy["end_us"].max()) - 1)  # type: ignore[arg-type]
    first = datetime.fromtimestamp(lo / US, tz=UTC).astimezone(zone).date()
    last = datetime.fromtimestamp(hi / US, tz=UTC).astimezone(zone).date()
    return first, float((last - first).days + 1)
