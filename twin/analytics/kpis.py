"""Production KPIs: the unit table and OEE per ISO 22400-2.

Definitions (``docs/analytics.md`` has the long form):

- **Planned busy time** (PBT): the shift calendar minus planned breaks, in the cell's time zone
  (:mod:`twin.cell.calendar`).
- **Run time** (APT, actual production time): planned busy time minus down time inside it, where down
  time is the union of every fault interval (``fault_start`` .. ``fault_end``) and every setup interval
  (``setup_start`` .. ``setup_end``) of the stations considered, so overlapping stops count once. For
  the cell, that is every robot and station (a stop anywhere stops the line); with ``--station S``,
  S's own stops. A fault still open at the end of the data runs to the end of the period.
- **Total count** (PQ): units completed: cycle ends at the output station (the cell) or at S.
- **Ideal cycle time** (PRI, planned run time per item): per variant, from the physics twin's plan of
  the cell (:func:`twin.analytics.ideal.ideal_cycle_times`): the takt (the bottleneck's work per unit)
  for the cell, the station's own work per unit for ``--station``.
- **Good count** (GQ): units whose first-pass result is ``good`` in ``mart_unit_disposition``: every
  characteristic of the unit's variant measured, and every first measurement inside its specification limits
  and without a defect code. Reworked units are not good (ISO 22400-2 counts rework quantity apart from good
  quantity). A unit not inspected is not known to conform, so it is never good.
- **Judged count**: the quality ratio's denominator (:func:`twin.analytics.quality.judged_count`): the total
  count with full inspection (a unit inspection missed counts against quality); the units inspected when the
  cell inspects a sample (``sampling`` of the inspection stations below 1), whose ratio estimates the whole.

availability = run / planned; performance = ideal cycle time × total count / run; quality = good / judged;
OEE = A × P × Q. Period figures are ratios of period sums (never averages of daily ratios).

>>> r = oee_figures(planned_s=420 * 60, run_s=373 * 60, ideal_time_s=19271 * 1.0, total=19271, good=18848)
>>> round(r["availability"], 4), round(r["performance"], 4), round(r["quality"], 4), round(r["oee"], 4)
(0.8881, 0.8611, 0.978, 0.7479)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from twin.analytics.intervals import overlap_by_window, spans_of
from twin.analytics.period import Period
from twin.analytics.quality import judged_count
from twin.cell.calendar import WINDOW_SCHEMA
from twin.errors import InputError

UNITS_SCHEMA: dict[str, pl.DataType] = {
    "unit_id": pl.String(),
    "variant": pl.String(),
    "first_start_at": pl.Datetime("us", "UTC"),
    "completed_at": pl.Datetime("us", "UTC"),
    "station_end_at": pl.Datetime("us", "UTC"),
    "run_s": pl.Float64(),
    "first_pass_result": pl.String(),
    "final_result": pl.String(),
    "is_inspected": pl.Boolean(),
    "is_first_pass_good": pl.Boolean(),
    "is_first_pass_failed": pl.Boolean(),
    "is_reworked": pl.Boolean(),
    "is_final_good": pl.Boolean(),
    "is_scrapped": pl.Boolean(),
    "is_escaped": pl.Boolean(),
    "is_fully_measured": pl.Boolean(),
    "in_period": pl.Boolean(),
}


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def oee_figures(
    planned_s: float, run_s: float, ideal_time_s: float, total: int, good: int, judged: int | None = None
) -> dict[str, Any]:
    """Availability, performance, quality and OEE from the ISO 22400 quantities.

    Args:
        planned_s: Planned busy time in seconds.
        run_s: Run time (actual production time) in seconds.
        ideal_time_s: Sum of the ideal cycle time of every unit counted (ideal cycle × total count).
        total: Total (produced) count.
        good: Good count.
        judged: The quality ratio's denominator (the units inspected when inspection samples); ``total``
            when None.

    Returns:
        ``{"availability", "performance", "quality", "oee"}``; a ratio with a zero denominator is None
        (and then so is OEE).
    """
    a = _ratio(run_s, planned_s)
    p = _ratio(ideal_time_s, run_s)
    q = _ratio(float(good), float(total if judged is None else judged))
    product = a * p * q if a is not None and p is not None and q is not None else None
    return {"availability": a, "performance": p, "quality": q, "oee": product}


def unit_table(units: pl.DataFrame, period: Period) -> pl.DataFrame:
    """The period's unit table: ``in_period`` added; the disposition is the mart's, as read.

    Args:
        units: :data:`twin.analytics.frames.UNITS` rows.
        period: The reporting period.

    Returns:
        :data:`UNITS_SCHEMA` columns, one row per unit; ``in_period`` = completed (cycle end at the output
        station) inside the period.
    """
    if units.is_empty():
        return pl.DataFrame(schema=UNITS_SCHEMA)
    return (
        units.with_columns(
            pl.col("run_s").fill_null(0.0),
            (
                pl.col("completed_at").is_not_null()
                & (pl.col("completed_at") >= period.start)
                & (pl.col("completed_at") < period.end)
            ).alias("in_period"),
        )
        .select(list(UNITS_SCHEMA))
        .cast(UNITS_SCHEMA)  # type: ignore[arg-type]
    )


def downtime_spans(downtime: pl.DataFrame, period: Period, stations: list[str] | None = None) -> list[tuple[int, int]]:
    """Fault and setup intervals of the given stations (all when None) as epoch-µs spans.

    Args:
        downtime: :data:`twin.analytics.frames.DOWNTIME` rows.
        period: An open interval (null ``end_at``) runs to the end of the period.
        stations: Station or robot ids to keep; None keeps every one.

    Returns:
        Spans (not yet merged); an end that closed nothing (null ``start_at``) is no span.
    """
    rows = downtime if stations is None else downtime.filter(pl.col("station_id").is_in(stations))
    rows = rows.filter(pl.col("start_at").is_not_null()).with_columns(pl.col("end_at").fill_null(period.end))
    return spans_of(rows)


def stop_pairing(downtime: pl.DataFrame, period: Period, stations: list[str] | None = None) -> dict[str, int]:
    """How many stops of the period ``mart_an_downtime`` could not pair, so a report can say so.

    Args:
        downtime: :data:`twin.analytics.frames.DOWNTIME` rows.
        period: The reporting period.
        stations: Station or robot ids to keep; None keeps every one.

    Returns:
        ``{"stops_open": starts in the period without an end (run to the period's end), "stop_ends_unmatched":
        ends in the period that closed nothing (not counted as down time)}``.
    """
    rows = downtime if stations is None else downtime.filter(pl.col("station_id").is_in(stations))
    open_ = rows.filter(pl.col("end_at").is_null() & (pl.col("start_at") < period.end))
    unmatched = rows.filter(
        pl.col("start_at").is_null() & (pl.col("end_at") >= period.start) & (pl.col("end_at") < period.end)
    )
    return {"stops_open": open_.height, "stop_ends_unmatched": unmatched.height}


def _assign_days(completions: pl.DataFrame, windows: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """A ``date`` per completion: the shift day of the latest window started within 12 h, else the local date."""
    local_date = pl.col("end_at").dt.convert_time_zone(timezone).dt.date()
    if completions.is_empty():
        return completions.with_columns(local_date.alias("date"))
    if windows.is_empty():
        return completions.with_columns(local_date.alias("date"))
    starts = windows.select("start_at", pl.col("date").alias("_wdate")).sort("start_at")
    joined = completions.sort("end_at").join_asof(
        starts, left_on="end_at", right_on="start_at", strategy="backward", tolerance="12h"
    )
    return joined.with_columns(pl.coalesce("_wdate", local_date).alias("date")).drop("_wdate", "start_at")


def oee(
    windows: pl.DataFrame,
    downtime: pl.DataFrame,
    completions: pl.DataFrame,
    ideal_cycle_s: Mapping[str, float],
    period: Period,
    stations: list[str] | None = None,
    sampling: float = 1.0,
) -> dict[str, Any]:
    """OEE of a period and of each day in it (ISO 22400-2; see the module docstring).

    Args:
        windows: Planned busy windows (:func:`twin.cell.calendar.planned_windows`).
        downtime: :data:`twin.analytics.frames.DOWNTIME` rows.
        completions: One row per counted unit: ``unit_id``, ``variant``, ``end_at`` (completion, UTC),
            ``is_first_pass_good``, ``is_fully_measured``; rows outside the period are ignored.
        ideal_cycle_s: Ideal cycle time per variant, seconds.
        period: The reporting period.
        stations: Whose stops count as down time (None: every station and robot).
        sampling: The cell's ``sampling`` of the inspection stations (the judged count).

    Returns:
        ``{"planned_time_s", "run_time_s", "down_time_s", "ideal_time_s", "total_count", "good_count",
        "judged_count", "availability", "performance", "quality", "oee", "stops_open", "stop_ends_unmatched"
        (:func:`stop_pairing`), "by_day": [{"date", "planned_time_s", "run_time_s", "ideal_time_s",
        "total_count", "good_count", "judged_count", "availability", "performance", "quality", "oee"}]}``.

    Raises:
        InputError: A completed unit's variant has no ideal cycle time.
    """
    windows = windows if not windows.is_empty() else pl.DataFrame(schema=WINDOW_SCHEMA)
    spans = downtime_spans(downtime, period, stations)
    window_spans = spans_of(windows)
    down_us = overlap_by_window(spans, window_spans)
    per_window = windows.with_columns(
        ((pl.col("end_at") - pl.col("start_at")).dt.total_microseconds() / 1e6).alias("planned_s"),
        (pl.Series("down_us", down_us, dtype=pl.Int64) / 1e6).alias("down_s"),
    )
    by_day_time = per_window.group_by("date").agg(pl.col("planned_s").sum(), pl.col("down_s").sum())

    done = completions.filter((pl.col("end_at") >= period.start) & (pl.col("end_at") < period.end))
    known = set(ideal_cycle_s)
    unknown = sorted(set(done["variant"].drop_nulls().unique().to_list()) - known)
    if unknown or done["variant"].null_count():
        shown = ", ".join(unknown) if unknown else "(no variant)"
        raise InputError(
            f"no ideal cycle time for variant(s) {shown}; known: {', '.join(sorted(known)) or 'none'} "
            "(is the cell the one the data was recorded on?)"
        )
    ideal = pl.DataFrame(
        {"variant": list(ideal_cycle_s), "ideal_s": [float(v) for v in ideal_cycle_s.values()]},
        schema={"variant": pl.String(), "ideal_s": pl.Float64()},
    )
    done = _assign_days(done, windows, period.timezone).join(ideal, on="variant", how="left")
    by_day_count = done.group_by("date").agg(
        pl.len().alias("total_count"),
        pl.col("is_first_pass_good").sum().alias("good_count"),
        judged_count(sampling).alias("judged_count"),
        pl.col("ideal_s").sum().alias("ideal_s"),
    )
    days = (
        by_day_time.join(by_day_count, on="date", how="full", coalesce=True)
        .with_columns(
            pl.col("planned_s").fill_null(0.0),
            pl.col("down_s").fill_null(0.0),
            pl.col("total_count").fill_null(0).cast(pl.Int64),
            pl.col("good_count").fill_null(0).cast(pl.Int64),
            pl.col("judged_count").fill_null(0).cast(pl.Int64),
            pl.col("ideal_s").fill_null(0.0),
        )
        .sort("date")
    )
    by_day = []
    for row in days.iter_rows(named=True):
        run = row["planned_s"] - row["down_s"]
        figures = oee_figures(
            row["planned_s"], run, row["ideal_s"], row["total_count"], row["good_count"], row["judged_count"]
        )
        by_day.append(
            {
                "date": row["date"].isoformat(),
                "planned_time_s": row["planned_s"],
                "run_time_s": run,
                "ideal_time_s": row["ideal_s"],
                "total_count": row["total_count"],
                "good_count": row["good_count"],
                "judged_count": row["judged_count"],
                **figures,
            }
        )
    planned = float(per_window["planned_s"].sum()) if per_window.height else 0.0
    down = float(per_window["down_s"].sum()) if per_window.height else 0.0
    total = int(done.height)
    good = int(done["is_first_pass_good"].sum()) if total else 0
    judged = int(done.select(judged_count(sampling)).item())
    ideal_time = float(done["ideal_s"].sum()) if total else 0.0
    return {
        "planned_time_s": planned,
        "run_time_s": planned - down,
        "down_time_s": down,
        "ideal_time_s": ideal_time,
        "total_count": total,
        "good_count": good,
        "judged_count": judged,
        **oee_figures(planned, planned - down, ideal_time, total, good, judged),
        **stop_pairing(downtime, period, stations),
        "by_day": by_day,
    }


def completions(units: pl.DataFrame, station: str | None = None) -> pl.DataFrame:
    """The counted units of OEE: cycle ends at the output station, or at the counted station.

    Args:
        units: :func:`unit_table` rows.
        station: None counts ``completed_at`` (the cell's output); otherwise ``station_end_at`` (the loader
            filled it with the cycle ends at that station).

    Returns:
        ``unit_id``, ``variant``, ``end_at``, ``is_first_pass_good``, ``is_fully_measured``.
    """
    column = "completed_at" if station is None else "station_end_at"
    return units.filter(pl.col(column).is_not_null()).select(
        "unit_id", "variant", pl.col(column).alias("end_at"), "is_first_pass_good", "is_fully_measured"
    )
