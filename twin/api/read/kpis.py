"""The headline KPIs of a period against the previous one, daily trends, faults and the process change.

The KPIs come from the period figures (:meth:`twin.api.periods.PeriodFigures.oee`, ``.cost()``, ``.carbon()``,
``.quality()``: the objects ``twin oee|cost|carbon --json`` print), so the Overview's OEE is ``twin oee``'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import polars as pl

from twin.analytics.quality import settings_change, unit_figures
from twin.api.periods import PeriodFigures
from twin.jsonable import jsonable

HEADLINE_KPIS: tuple[str, ...] = ("units", "oee", "cost_per_unit", "kgco2e_per_unit", "first_pass_yield")
"""The Overview's headline KPIs, in order."""

HIGHER_IS_BETTER: dict[str, bool] = {
    "units": True,
    "oee": True,
    "cost_per_unit": False,
    "kgco2e_per_unit": False,
    "first_pass_yield": True,
}
"""Which way each headline KPI improves."""


def previous_days(first: date, last: date, data_first: date | None) -> tuple[date, date] | None:
    """The same number of days just before a period, or None when that lies before the data.

    Args:
        first: The period's first local day.
        last: Its last local day.
        data_first: The data's first local day (None without data).

    Returns:
        ``(first, last)`` of the previous period, or None.

    >>> previous_days(date(2026, 10, 6), date(2026, 10, 6), date(2026, 10, 5))
    (datetime.date(2026, 10, 5), datetime.date(2026, 10, 5))
    >>> previous_days(date(2026, 10, 5), date(2026, 10, 6), date(2026, 10, 5)) is None
    True
    """
    n = (last - first).days + 1
    lo, hi = first - timedelta(days=n), first - timedelta(days=1)
    if data_first is None or lo < data_first:
        return None
    return lo, hi


def variant_row(rows: Sequence[Mapping[str, Any]], variant: str | None) -> Mapping[str, Any] | None:
    """The row of one variant in a figure's ``by_variant`` list, or None.

    Args:
        rows: The ``by_variant`` list of a cost, carbon or quality object.
        variant: The variant.

    Returns:
        Its row, or None when the variant completed nothing.

    >>> variant_row([{"variant": "A", "units": 3}], "A")
    {'variant': 'A', 'units': 3}
    """
    return next((r for r in rows if r.get("variant") == variant), None)


def headline_kpis(
    oee: Mapping[str, Any] | None,
    cost: Mapping[str, Any] | None,
    carbon: Mapping[str, Any] | None,
    fpy: Mapping[str, Any] | None,
    variant: str | None = None,
) -> dict[str, float | None]:
    """The Overview's five KPIs from the period figures' objects (None where a figure is unavailable).

    - ``units``: units completed in the period (``twin oee``'s ``total_count`` for the cell);
    - ``oee``: OEE (cell or station; not split by variant);
    - ``cost_per_unit``: ``twin cost``'s total per good unit;
    - ``kgco2e_per_unit``: ``twin carbon``'s per good unit, market-based (scope 1 + scope 2 market + scope 3
      cat. 1, as the scenario KPI ``kgco2e_per_unit``);
    - ``first_pass_yield``: first-pass good / completed.

    With a variant, units, cost, carbon and yield are that variant's rows.

    Args:
        oee: The OEE object (or None).
        cost: The cost object.
        carbon: The carbon object.
        fpy: The quality object (:meth:`twin.api.periods.PeriodFigures.quality`).
        variant: A variant, or None for all.

    Returns:
        KPI key (:data:`HEADLINE_KPIS`) -> value.

    >>> headline_kpis({"oee": 0.5, "total_count": 10}, {"cost_per_unit": {"total": 2.0}, "by_variant": []},
    ...               {"per_unit_kg": {"total_market": 1.5}, "by_variant": []},
    ...               {"units_completed": 10, "first_pass_yield": 0.9, "by_variant": []})
    {'units': 10.0, 'oee': 0.5, 'cost_per_unit': 2.0, 'kgco2e_per_unit': 1.5, 'first_pass_yield': 0.9}
    """
    out: dict[str, float | None] = dict.fromkeys(HEADLINE_KPIS)
    if oee is not None:
        out["oee"] = oee.get("oee")
    if variant is None:
        if fpy is not None:
            out["units"] = float(fpy["units_completed"])
            out["first_pass_yield"] = fpy.get("first_pass_yield")
        elif oee is not None:
            out["units"] = float(oee["total_count"])
        if cost is not None:
            out["cost_per_unit"] = cost["cost_per_unit"].get("total")
        if carbon is not None:
            out["kgco2e_per_unit"] = carbon["per_unit_kg"].get("total_market")
        return out
    row = variant_row(fpy["by_variant"], variant) if fpy is not None else None
    out["units"] = float(row["units_completed"]) if row else 0.0
    out["first_pass_yield"] = row.get("first_pass_yield") if row else None
    crow = variant_row(cost["by_variant"], variant) if cost is not None else None
    out["cost_per_unit"] = crow["cost_per_unit"].get("total") if crow else None
    krow = variant_row(carbon["by_variant"], variant) if carbon is not None else None
    out["kgco2e_per_unit"] = krow["per_unit_kg"].get("total_market") if krow else None
    return out


def kpi_deltas(current: Mapping[str, float | None], previous: Mapping[str, float | None] | None) -> pl.DataFrame:
    """The KPIs beside the previous period's, with the change and whether it is an improvement.

    Args:
        current: :func:`headline_kpis` of the period.
        previous: The same of the previous period, or None.

    Returns:
        ``kpi``, ``value``, ``previous``, ``delta``, ``delta_pct``, ``is_better``.

    >>> kpi_deltas({"units": 12.0, "oee": None}, {"units": 10.0, "oee": 0.5}).select("kpi", "delta", "is_better").rows()
    [('units', 2.0, True), ('oee', None, None)]
    """
    rows = []
    for key, value in current.items():
        prev = previous.get(key) if previous is not None else None
        delta = value - prev if value is not None and prev is not None else None
        pct = delta / abs(prev) if delta is not None and prev else None
        better = None if delta is None or delta == 0 else (delta > 0) == HIGHER_IS_BETTER.get(key, True)
        rows.append(
            {"kpi": key, "value": value, "previous": prev, "delta": delta, "delta_pct": pct, "is_better": better}
        )
    schema = {
        "kpi": pl.String(),
        "value": pl.Float64(),
        "previous": pl.Float64(),
        "delta": pl.Float64(),
        "delta_pct": pl.Float64(),
        "is_better": pl.Boolean(),
    }
    return pl.DataFrame(rows, schema=schema)


def daily_trends(
    figures: PeriodFigures, oee: Mapping[str, Any] | None = None, variant: str | None = None
) -> pl.DataFrame:
    """One row per local day of the period: units, first-pass yield, energy per delivered unit and OEE.

    Args:
        figures: The period.
        oee: The period's OEE object (its ``by_day`` OEE), or None.
        variant: Only this variant's units (energy stays the cell's).

    Returns:
        ``date``, ``units_completed``, ``good_units``, ``first_pass_yield``, ``energy_kwh``,
        ``kwh_per_unit`` (per delivered unit, :func:`twin.analytics.quality.unit_figures`), ``oee``.
    """
    prepared = figures.prepared
    tz = prepared.data.period.timezone
    units = prepared.units.filter(pl.col("in_period"))
    if variant is not None:
        units = units.filter(pl.col("variant") == variant)
    days = pl.DataFrame({"date": prepared.data.period.local_dates()}, schema={"date": pl.Date()})
    per_day = units.group_by(pl.col("completed_at").dt.convert_time_zone(tz).dt.date().alias("date")).agg(
        unit_figures(prepared.cell.inspection_sampling)
    )
    hourly = prepared.split.hourly
    energy = (
        hourly.group_by(pl.col("hour_at").dt.convert_time_zone(tz).dt.date().alias("date")).agg(
            pl.col("kwh").sum().alias("energy_kwh")
        )
        if hourly.height
        else pl.DataFrame(schema={"date": pl.Date(), "energy_kwh": pl.Float64()})
    )
    oee_rows = [(date.fromisoformat(d["date"]), d.get("oee")) for d in (oee or {}).get("by_day", [])]
    oee_frame = pl.DataFrame(oee_rows, schema={"date": pl.Date(), "oee": pl.Float64()}, orient="row")
    out = (
        days.join(per_day, on="date", how="left")
        .join(energy, on="date", how="left")
        .join(oee_frame, on="date", how="left")
        .with_columns(pl.col("units_completed", "good_units", "units_delivered").fill_null(0))
        .with_columns(
            pl.when(pl.col("units_delivered") > 0)
            .then(pl.col("energy_kwh") / pl.col("units_delivered"))
            .otherwise(None)
            .alias("kwh_per_unit")
        )
        .sort("date")
    )
    return out.select("date", "units_completed", "good_units", "first_pass_yield", "energy_kwh", "kwh_per_unit", "oee")


def fault_summary(figures: PeriodFigures) -> pl.DataFrame:
    """Faults and setups inside the period per station: count, hours down, the most frequent code.

    Args:
        figures: The period.

    Returns:
        ``station_id``, ``kind``, ``n``, ``down_h``, ``top_code``; intervals are clipped to the period.
    """
    period = figures.prepared.data.period
    rows = figures.prepared.data.downtime.filter(
        (pl.col("start_at") < period.end) & (pl.col("end_at").is_null() | (pl.col("end_at") > period.start))
    )
    schema = {
        "station_id": pl.String(),
        "kind": pl.String(),
        "n": pl.Int64(),
        "down_h": pl.Float64(),
        "top_code": pl.String(),
    }
    if rows.is_empty():
        return pl.DataFrame(schema=schema)
    lo, hi = pl.lit(period.start), pl.lit(period.end)
    clipped = rows.with_columns(
        (
            (
                pl.min_horizontal(pl.col("end_at").fill_null(hi), hi) - pl.max_horizontal(pl.col("start_at"), lo)
            ).dt.total_microseconds()
            / 3.6e9
        ).alias("down_h")
    )
    return (
        clipped.group_by("station_id", "kind")
        .agg(
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("down_h").sum(),
            pl.col("code").drop_nulls().mode().sort().first().alias("top_code"),
        )
        .sort("kind", "down_h", descending=[False, True])
        .cast(schema)  # type: ignore[arg-type]
    )


def fault_changes(current: pl.DataFrame, previous: pl.DataFrame | None) -> pl.DataFrame:
    """Fault counts and hours per station against the previous period (faults only; setups are planned).

    Args:
        current: :func:`fault_summary` of the period.
        previous: The same of the previous period, or None.

    Returns:
        ``station_id``, ``n``, ``down_h``, ``n_previous``, ``down_h_previous``, ``down_h_delta``, ``top_code``.
    """
    cur = current.filter(pl.col("kind") == "fault").select("station_id", "n", "down_h", "top_code")
    prev = (
        previous.filter(pl.col("kind") == "fault").select(
            "station_id", pl.col("n").alias("n_previous"), pl.col("down_h").alias("down_h_previous")
        )
        if previous is not None
        else pl.DataFrame(schema={"station_id": pl.String(), "n_previous": pl.Int64(), "down_h_previous": pl.Float64()})
    )
    out = cur.join(prev, on="station_id", how="full", coalesce=True).with_columns(
        pl.col("n").fill_null(0), pl.col("down_h").fill_null(0.0)
    )
    if previous is not None:
        out = out.with_columns(pl.col("n_previous").fill_null(0), pl.col("down_h_previous").fill_null(0.0))
    return (
        out.with_columns((pl.col("down_h") - pl.col("down_h_previous")).alias("down_h_delta"))
        .select("station_id", "n", "down_h", "n_previous", "down_h_previous", "down_h_delta", "top_code")
        .sort("down_h", descending=True)
    )


def process_change(figures: PeriodFigures) -> dict[str, Any]:
    """The process-setting change found in the period's robot cycle times, and quality before and after it.

    Args:
        figures: The period, read with ``detail=True`` (robot cycles and measurements).

    Returns:
        :func:`twin.analytics.quality.settings_change`'s object (``detected``, ``change_at``, ...), as plain JSON
        values.
    """
    p = figures.prepared
    return jsonable(settings_change(p.data.robot_cycles, p.data.measurements, p.units))
