"""Cost tables of a period: cost per good unit by line, of all units or one variant, and by variant.

They reshape the cost object (:meth:`twin.api.periods.PeriodFigures.cost`, the object ``twin cost --json``
prints); the lines are :data:`twin.analytics.cost.LINES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from twin.analytics.cost import LINES
from twin.api.read.kpis import variant_row

__all__ = ["LINES", "cost_by_variant", "cost_lines"]


def cost_lines(cost: Mapping[str, Any], variant: str | None = None) -> pl.DataFrame:
    """Cost per good unit by line (EUR), of all units or one variant, with the period total.

    Args:
        cost: The cost object.
        variant: A variant, or None for all.

    Returns:
        ``line`` (:data:`LINES` and ``total``), ``per_unit``, ``total_cost`` (totals only for all variants).
    """
    if variant is None:
        per, total = cost["cost_per_unit"], cost["total_cost"]
    else:
        row = variant_row(cost["by_variant"], variant)
        per, total = (row["cost_per_unit"] if row else {}), {}
    lines = [*LINES, "total"]
    return pl.DataFrame(
        {
            "line": lines,
            "per_unit": [per.get(k) for k in lines],
            "total_cost": [total.get(k) for k in lines],
        },
        schema={"line": pl.String(), "per_unit": pl.Float64(), "total_cost": pl.Float64()},
    )


def cost_by_variant(cost: Mapping[str, Any]) -> pl.DataFrame:
    """One row per variant and cost line.

    Args:
        cost: The cost object.

    Returns:
        ``variant``, ``units``, ``line``, ``per_unit``.
    """
    rows = [
        {"variant": v["variant"], "units": int(v["units"]), "line": line, "per_unit": v["cost_per_unit"].get(line)}
        for v in cost["by_variant"]
        for line in LINES
    ]
    schema = {"variant": pl.String(), "units": pl.Int64(), "line": pl.String(), "per_unit": pl.Float64()}
    return pl.DataFrame(rows, schema=schema)
