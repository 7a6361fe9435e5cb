"""What the recorded telemetry says: fits for the simulation and the twin's error against reality.

Only measured rows count (``source = 'measured'`` where the column exists): simulated rows written back
into the warehouse never feed a fit or an error figure.

- **Faults**: per robot or station, MTBF = operating hours (the sum of its cycles, faults excluded) /
  number of faults, MTTR = mean fault duration.
- **Quality**: per characteristic (``screw_<n>_torque_nm`` pooled as ``screw_torque_nm``; ``gap_mm``,
  ``flush_mm``), mean and standard deviation of each unit's first measurement.
- **Twin error**: the baseline's cycle time per unit (robot cycles plus the outfeed conveyor, units with a
  fault left out, mix-weighted by the measured variants) and energy per completed unit (every meter's
  register deltas, resets detected), each as (predicted - measured) / measured.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from twin.telemetry.schema import MEASURED

log = logging.getLogger(__name__)

US = 1_000_000
MIN_FAULTS = 3  # fewer faults than this give no MTBF fit (the cell file's value stands)
MIN_SAMPLES = 30  # fewer first measurements than this give no quality fit
STREAM_TABLES = {
    "events": ("stg_events", "raw_events", "events"),
    "energy": ("stg_energy", "raw_energy", "energy"),
    "quality": ("stg_quality", "raw_quality", "quality"),
    "grid_intensity": ("stg_grid_intensity", "raw_grid_intensity", "grid_intensity"),
}


@dataclass
class MeasuredData:
    """Measured telemetry frames (``ts_us`` epoch microseconds) and the fits made from them."""

    events: pl.DataFrame
    energy: pl.DataFrame | None = None
    quality_rows: pl.DataFrame | None = None
    faults: dict[str, tuple[float, float]] = field(default_factory=dict)
    quality: dict[str, tuple[float, float]] = field(default_factory=dict)
    grid: pl.DataFrame | None = None

    def grid_rows(self, region: str, first: Any, end: Any) -> tuple[tuple[int, str, float, int], ...]:
        """Measured grid intensity of a region around local days ``first`` to ``end`` (exclusive).

        Rows within a day of the period either side (the analytics match them to hours in UTC), as
        ``(ts_us, region, gco2e_per_kwh, interval_min)``; none without a grid stream.
        """
        if self.grid is None or self.grid.is_empty():
            return ()
        from datetime import UTC, datetime, time, timedelta

        lo = int((datetime.combine(first, time(0), tzinfo=UTC) - timedelta(days=2)).timestamp() * US)
        hi = int((datetime.combine(end, time(0), tzinfo=UTC) + timedelta(days=2)).timestamp() * US)
        interval = pl.col("interval_min") if "interval_min" in self.grid.columns else pl.lit(None)
        rows = (
            self.grid.filter((pl.col("region") == region) & pl.col("ts_us").is_between(lo, hi, closed="left"))
            .select("ts_us", "region", "gco2e_per_kwh", interval.cast(pl.Int64).fill_null(60).alias("interval_min"))
            .drop_nulls("gco2e_per_kwh")
            .sort("ts_us")
        )
        return tuple((int(t), str(g), float(v), int(m)) for t, g, v, m in rows.iter_rows())

    @property
    def first_ts_us(self) -> int:
        """The earliest event."""
        return int(self.events["ts_us"].min())  # type: ignore[arg-type]

    @property
    def last_ts_us(self) -> int:
        """The latest event."""
        return int(self.events["ts_us"].max())  # type: ignore[arg-type]


def _measured_only(frame: pl.DataFrame) -> pl.DataFrame:
    if "source" in frame.columns:
        frame = frame.filter(pl.col("source") == MEASURED)
    if "ts_us" not in frame.columns and "ts" in frame.columns:
        ts = frame.schema["ts"]
        if isinstance(ts, pl.Datetime):
            frame = frame.with_columns(pl.col("ts").dt.epoch("us").alias("ts_us"))
        else:
            frame = frame.with_columns(pl.col("ts").cast(pl.Int64).alias("ts_us"))
    return frame


def from_frames(
    events: pl.DataFrame,
    energy: pl.DataFrame | None = None,
    quality: pl.DataFrame | None = None,
    grid: pl.DataFrame | None = None,
) -> MeasuredData | None:
    """Measured data from telemetry frames (``ts`` as UTC datetime or ``ts_us``); None without measured cycles."""
    events = _measured_only(events)
    if events.filter(pl.col("event") == "cycle_end").is_empty():
        return None
    energy = _measured_only(energy) if energy is not None else None
    quality = _measured_only(quality) if quality is not None else None
    grid = _measured_only(grid) if grid is not None else None
    data = MeasuredData(events=events, energy=energy, quality_rows=quality, grid=grid)
    data.faults = fit_faults(events)
    data.quality = fit_quality(quality) if quality is not None else {}
    return data


def _intervals(events: pl.DataFrame, start: str, end: str, keys: list[str]) -> pl.DataFrame:
    """Pair each ``start`` event with the next ``end`` event of the same keys: one row per interval."""
    rows = events.filter(pl.col("event").is_in([start, end])).sort([*keys, "ts_us"])
    return (
        rows.with_columns(
            pl.col("ts_us").shift(-1).over(keys).alias("end_us"),
            pl.col("event").shift(-1).over(keys).alias("next_event"),
        )
        .filter((pl.col("event") == start) & (pl.col("next_event") == end))
        .with_columns(((pl.col("end_us") - pl.col("ts_us")) / US).alias("duration_s"))
    )


def fit_faults(events: pl.DataFrame) -> dict[str, tuple[float, float]]:
    """Resource -> (MTBF h, MTTR min) from measured fault and cycle events.

    Operating time is the resource's cycle time minus the repairs that fell inside its cycles (a robot
    that fails mid-operation finishes its cycle after the repair).
    """
    faults = _intervals(events, "fault_start", "fault_end", ["station_id"]).select(
        "station_id", pl.col("ts_us").alias("f0"), pl.col("end_us").alias("f1"), "duration_s"
    )
    cycles = _intervals(
        events.filter(pl.col("unit_id").is_not_null()), "cycle_start", "cycle_end", ["station_id", "unit_id"]
    ).select("station_id", pl.col("ts_us").alias("c0"), pl.col("end_us").alias("c1"), "duration_s")
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
    """Characteristic -> (mean, sigma) of each unit's first measurement."""
    if quality.is_empty():
        return {}
    first = (
        quality.with_columns(
            pl.when(pl.col("characteristic").str.contains(r"^screw_\d+_torque_nm$"))
            .then(pl.lit("screw_torque_nm"))
            .otherwise(pl.col("characteristic"))
            .alias("name")
        )
        .sort("ts_us")
        .unique(subset=["unit_id", "characteristic"], keep="first", maintain_order=True)
    )
    stats = first.group_by("name").agg(
        pl.col("value").mean().alias("mean"), pl.col("value").std().alias("sd"), pl.len()
    )
    out = {}
    for row in stats.sort("name").iter_rows(named=True):
        if row["name"] in ("screw_torque_nm", "gap_mm", "flush_mm") and row["len"] >= MIN_SAMPLES and row["sd"]:
            out[row["name"]] = (float(row["mean"]), float(row["sd"]))
    return out


def measured_cycle_times(events: pl.DataFrame, robots: set[str], conveyors: set[str]) -> pl.DataFrame:
    """One row per unit without a fault: variant and cycle time (robot cycles plus the outfeed conveyor)."""
    stations = robots | conveyors
    cycles = _intervals(
        events.filter(pl.col("unit_id").is_not_null() & pl.col("station_id").is_in(list(stations))),
        "cycle_start",
        "cycle_end",
        ["station_id", "unit_id"],
    )
    faulted = events.filter((pl.col("event") == "fault_start") & pl.col("unit_id").is_not_null())["unit_id"].unique()
    per_unit = (
        cycles.filter(~pl.col("unit_id").is_in(faulted.to_list()))
        .group_by("unit_id")
        .agg(
            pl.col("variant").first(),
            pl.col("duration_s").sum().alias("cycle_time_s"),
            pl.col("station_id").n_unique().alias("n"),
        )
        .filter(pl.col("n") == len(stations))
    )
    return per_unit.sort("unit_id")


def measured_energy_kwh(energy: pl.DataFrame) -> float:
    """Total energy of every meter from its register readings; a fall to near zero is a reset."""
    if energy.is_empty() or "energy_kwh" not in energy.columns:
        return math.nan
    deltas = (
        energy.sort("meter_id", "ts_us")
        .with_columns(pl.col("energy_kwh").shift(1).over("meter_id").alias("prev"))
        .with_columns(
            pl.when(pl.col("prev").is_null())
            .then(0.0)
            .when(pl.col("energy_kwh") >= pl.col("prev"))
            .then(pl.col("energy_kwh") - pl.col("prev"))
            .when(pl.col("energy_kwh") < 0.01 * pl.col("prev"))
            .then(pl.col("energy_kwh"))
            .otherwise(None)  # a bad reading: left out
            .alias("delta")
        )
    )
    return float(deltas["delta"].sum())


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
        robots: The cell's robot ids.
        conveyors: The cell's conveyor station ids (the unit's last station).

    Returns:
        ``{"cycle_time_rel", "energy_per_unit_rel"}``; None where the data does not allow the figure.
    """
    out: dict[str, float | None] = {"cycle_time_rel": None, "energy_per_unit_rel": None}
    units = measured_cycle_times(measured.events, robots, conveyors)
    units = units.filter(pl.col("variant").is_in(list(predicted_cycle_s)))
    if not units.is_empty():
        actual = float(units["cycle_time_s"].mean())  # type: ignore[arg-type]
        predicted = float(sum(predicted_cycle_s[v] for v in units["variant"].to_list()) / units.height)
        out["cycle_time_rel"] = _rel(predicted, actual)
    if measured.energy is not None and not measured.energy.is_empty():
        lo, hi = measured.energy["ts_us"].min(), measured.energy["ts_us"].max()
        done = measured.events.filter(
            (pl.col("event") == "cycle_end")
            & pl.col("station_id").is_in(list(conveyors))
            & pl.col("ts_us").is_between(lo, hi)
        )["unit_id"].n_unique()
        kwh = measured_energy_kwh(measured.energy)
        if done and math.isfinite(kwh):
            out["energy_per_unit_rel"] = _rel(predicted_energy_kwh_per_unit, kwh / done)
    return out


def _rel(predicted: float, actual: float) -> float | None:
    if not (math.isfinite(predicted) and math.isfinite(actual)) or actual == 0:
        return None
    return float(f"{(predicted - actual) / actual:.10g}")


def read_warehouse(path: str | Path | None) -> MeasuredData | None:
    """Measured events, energy and quality from the warehouse, or None when it has no measured cycles.

    Reads what the warehouse last published (:func:`twin.warehouse.connection.read_connection`), the
    first table or view found per stream (``stg_events``, ``raw_events`` or ``events``; likewise energy
    and quality). A warehouse that is missing, unreadable or lacks the tables gives None (the twin error
    is then null) and a log line says why.
    """
    if path is None or not Path(path).is_file():
        return None
    import duckdb

    from twin.errors import WarehouseError

    try:
        from twin.warehouse.connection import read_connection
    except ImportError:  # a checkout without the warehouse package: read the file itself
        read_connection = None
    try:
        if read_connection is not None:
            with read_connection(path) as con:
                frames = _read_streams(con)
        else:
            con = duckdb.connect(str(path), read_only=True)
            try:
                frames = _read_streams(con)
            finally:
                con.close()
    except (duckdb.Error, WarehouseError) as exc:
        log.warning("warehouse %s: cannot read telemetry (%s); no twin error", path, str(exc).splitlines()[0])
        return None
    if frames["events"] is None:
        return None
    return from_frames(frames["events"], frames["energy"], frames["quality"], frames["grid_intensity"])


def _read_streams(con: Any) -> dict[str, pl.DataFrame | None]:
    names = {row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()}
    frames: dict[str, pl.DataFrame | None] = {}
    for stream, candidates in STREAM_TABLES.items():
        table = next((c for c in candidates if c in names), None)
        frames[stream] = con.sql(f'select * from "{table}"').pl() if table else None
    return frames


def measured_period(measured: MeasuredData, timezone: str) -> tuple[Any, float]:
    """(first local day, days) covering the measured events and energy readings."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    lo, hi = measured.first_ts_us, measured.last_ts_us
    if measured.energy is not None and not measured.energy.is_empty():
        lo = min(lo, int(measured.energy["ts_us"].min()))  # type: ignore[arg-type]
        hi = max(hi, int(measured.energy["ts_us"].max()) - 1)  # type: ignore[arg-type]
    first = datetime.fromtimestamp(lo / US, tz=UTC).astimezone(zone).date()
    last = datetime.fromtimestamp(hi / US, tz=UTC).astimezone(zone).date()
    return first, float((last - first).days + 1)
