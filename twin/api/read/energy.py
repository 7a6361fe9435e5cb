"""Energy of a period hour by hour (beside the grid's carbon intensity and the energy price) and by meter."""

from __future__ import annotations

import polars as pl

from twin.analytics.figures import hourly_of
from twin.api.periods import PeriodFigures


def hourly_energy(figures: PeriodFigures) -> pl.DataFrame:
    """The period's energy per hour beside the grid's carbon intensity and the energy price.

    The hours as the cost and carbon figures count them (:func:`twin.analytics.figures.hourly_of`), with
    the local hour as text.

    Args:
        figures: The period.

    Returns:
        ``hour_at`` (UTC), ``local_hour`` (text), ``kwh``, ``gco2e_per_kwh`` (null when missing), then
        ``price_per_kwh``, ``band``, ``energy_cost`` (in the cell's currency), ``is_missing_intensity`` and
        ``scope2_location_kg`` (a missing hour at the annual factor).
    """
    period = figures.prepared.data.period
    out = hourly_of(figures.prepared).with_columns(
        pl.col("hour_at").dt.convert_time_zone(period.timezone).dt.strftime("%Y-%m-%d %H:%M").alias("local_hour"),
    )
    first = ["hour_at", "local_hour", "kwh", "gco2e_per_kwh"]
    return out.select(first + [c for c in out.columns if c not in first])


def energy_by_meter(figures: PeriodFigures) -> pl.DataFrame:
    """Energy per meter over the period.

    Args:
        figures: The period.

    Returns:
        ``meter_id``, ``kwh``, ``direct_kwh`` (in unit cycles), ``shared_kwh``, ...
    """
    return figures.prepared.split.by_meter.with_columns((pl.col("kwh") - pl.col("direct_kwh")).alias("shared_kwh"))
