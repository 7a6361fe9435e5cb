"""Carbon tables of a period: emissions by scope, per variant, and the factors behind them with their sources.

They reshape the carbon object (:meth:`twin.api.periods.PeriodFigures.carbon`, the object ``twin carbon
--json`` prints).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from twin.api.read.kpis import variant_row

SCOPES: tuple[str, ...] = ("scope1", "scope2_location", "scope2_market", "scope3_cat1")
"""The GHG Protocol scopes of the carbon object, in order (scope 2 both location- and market-based)."""


def carbon_scopes(carbon: Mapping[str, Any], variant: str | None = None) -> pl.DataFrame:
    """Emissions by scope: the period's kg and kg per good unit (of one variant when given).

    Args:
        carbon: The carbon object.
        variant: A variant, or None for all.

    Returns:
        ``scope`` (:data:`SCOPES`), ``kg``, ``kg_per_unit``.
    """
    if variant is None:
        per = carbon["per_unit_kg"]
        kg = {s: carbon[f"{s}_kg"] for s in SCOPES}
    else:
        row = variant_row(carbon["by_variant"], variant)
        per = row["per_unit_kg"] if row else {}
        kg = dict(row.get("total_kg", {})) if row else {}
    return pl.DataFrame(
        {"scope": list(SCOPES), "kg": [kg.get(s) for s in SCOPES], "kg_per_unit": [per.get(s) for s in SCOPES]},
        schema={"scope": pl.String(), "kg": pl.Float64(), "kg_per_unit": pl.Float64()},
    )


def carbon_by_variant(carbon: Mapping[str, Any]) -> pl.DataFrame:
    """One row per variant: kg CO2e per good unit by scope and in total.

    Args:
        carbon: The carbon object.

    Returns:
        ``variant``, ``units``, one column per scope, ``total_location``, ``total_market``.
    """
    keys = (*SCOPES, "total_location", "total_market")
    rows = [{"variant": v["variant"], "units": int(v["units"]), **{k: v["per_unit_kg"].get(k) for k in keys}}
            for v in carbon["by_variant"]]  # fmt: skip
    schema = {"variant": pl.String(), "units": pl.Int64(), **{k: pl.Float64() for k in keys}}
    return pl.DataFrame(rows, schema=schema)


def carbon_factor_rows(carbon: Mapping[str, Any]) -> pl.DataFrame:
    """The carbon factors behind the figures, with their sources.

    Args:
        carbon: The carbon object.

    Returns:
        ``name``, ``value``, ``unit``, ``source``, ``year``, ``region``.
    """
    schema = {"name": pl.String(), "value": pl.Float64(), "unit": pl.String(), "source": pl.String(),
              "year": pl.Int64(), "region": pl.String()}  # fmt: skip
    rows = [{k: f.get(k) for k in schema} for f in carbon.get("factors", [])]
    return pl.DataFrame(rows, schema=schema)
