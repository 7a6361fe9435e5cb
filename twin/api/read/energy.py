"""Energy of a period hour by hour (beside the grid's carbon intensity and the energy price) and by meter."""

from __future__ import annotations

import polars as pl

from twin.analytics.carbon import load_carbon_factors
from twin.analytics.cost import hourly_energy_cost
from twin.api.periods import PeriodFigures
from twin.cell.factors import tariff_schedule


def hourly_energy(figures: PeriodFigures) -> pl.DataFrame:
    """The period's energy per hour beside the grid's carbon intensity and the energy price.

    Args:
        figures: The period.

    Returns:
        ``hour_at`` (UTC), ``local_hour`` (text), ``kwh``, ``gco2e_per_kwh`` (null when missing), the price and
        cost columns of :func:`twin.analytics.cost.hourly_energy_cost`, ``scope2_location_kg`` (a missing hour
        at the annual factor).
    """
    p = figures.prepared
    cell, period = p.cell, p.data.period
    factors = load_carbon_factors(cell, period.start.astimezone(period.zone).year)
    grid = p.data.grid_hourly.filter(pl.col("region") == factors.region).select("hour_at", "gco2e_per_kwh")
    costs = hourly_energy_cost(p.split, tariff_schedule(cell.cost.tariff_id))
    out = (
        costs.join(grid, on="hour_at", how="left")
        .with_columns(
            (pl.col("kwh") * pl.col("gco2e_per_kwh").fill_null(factors.grid_annual.value) / 1000.0).alias(
                "scope2_location_kg"
            ),
            pl.col("hour_at").dt.convert_time_zone(period.timezone).dt.strftime("%Y-%m-%d %H:%M").alias("local_hour"),
        )
        .sort("hour_at")
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
