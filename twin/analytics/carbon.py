"""Carbon footprint of a period, GHG Protocol aligned (Corporate Standard, Scope 2 Guidance, Scope 3 Standard).

- **Scope 1**: fuels burnt in the cell: ``carbon.scope1_fuels`` maps a fuel of the ``fuels`` factor table
  to its yearly use in the factor's activity unit (kWh of fuel, or litres), prorated to the period's
  length; the sample cell burns none.
- **Scope 2, location-based**: each UTC hour's metered kWh (all meters) × that hour's grid intensity of
  the cell's region from the ``grid_intensity`` telemetry stream, matched in UTC (so a DST change
  neither drops nor doubles an hour). An hour with energy but no intensity is counted in
  ``missing_intensity_hours`` and **never as zero**: its kWh are multiplied by the annual location
  factor of the region (``assets/factors/grid_intensity``) and the result says
  ``"scope2_location_complete": false`` with the kWh and kg filled that way.
- **Scope 2, market-based** (Scope 2 Guidance ch. 6, quality criteria): the renewable share
  (certificates / PPA, ``carbon.renewable_share``) at zero; the rest at the supplier-specific factor
  when the cell gives one (``carbon.supplier_factor_gco2e_per_kwh``), else at the region's residual
  mix (AIB), else (no residual mix published for the region) at the annual grid factor, flagged.
- **Scope 3 category 1**: purchased materials of every unit completed in the period (scrapped ones
  too): bill of materials kg × embodied factor (``materials`` factor table).

Per unit: totals divided by the **units delivered** in the period (completed and not scrapped: good,
reworked to good or escaped, so sampled inspection does not inflate it); scrap's footprint stays with its
variant. Shared energy (``cell_aux``, idle, standby) and
scope 1 are allocated to the period's units in proportion to their run time
(:mod:`twin.analytics.allocation`). ``total_location`` = scope 1 + scope 2 location + scope 3 cat. 1;
``total_market`` likewise with scope 2 market.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from twin.analytics.allocation import UNKNOWN_VARIANT, EnergySplit, bill_of_materials, run_time_shares
from twin.analytics.period import Period
from twin.analytics.quality import IS_DELIVERED
from twin.cell import factors as fx
from twin.cell.spec import CellSpec
from twin.errors import ConfigError

HOURS_PER_YEAR = 8766.0  # 365.25 days


@dataclass(frozen=True)
class CarbonFactors:
    """Every factor a carbon figure may use, with provenance.

    Attributes:
        region: Grid region of the cell.
        grid_annual: Annual location-based factor (fills hours without intensity).
        market: Factor for the non-renewable share (supplier, residual mix, or annual grid fallback).
        market_basis: ``supplier``, ``residual_mix`` or ``grid_average_fallback``.
        renewable_share: Share of consumption covered by certificates / PPA, at zero.
        materials: Material -> embodied factor (kg CO2e / kg).
        fuels: Fuel -> combustion factor.
    """

    region: str
    grid_annual: fx.Factor
    market: fx.Factor
    market_basis: str
    renewable_share: float
    materials: dict[str, fx.Factor] = field(default_factory=dict)
    fuels: dict[str, fx.Factor] = field(default_factory=dict)

    @property
    def market_g_per_kwh(self) -> float:
        """Market-based factor of the whole consumption, g CO2e per kWh."""
        return (1.0 - self.renewable_share) * self.market.value


def _g_per_kwh(factor: fx.Factor) -> float:
    unit = factor.unit.replace(" ", "").lower()
    if unit.startswith("kg"):
        return factor.value * 1000.0
    if unit.startswith("g"):
        return factor.value
    raise ConfigError(f"factor {factor.name}: unit {factor.unit!r} is not g or kg per kWh")


def _gram_factor(factor: fx.Factor) -> fx.Factor:
    """The factor expressed in g/kWh (the unit kept per source: gCO2/kWh or gCO2e/kWh)."""
    value = _g_per_kwh(factor)
    unit = factor.unit if factor.unit.lower().startswith("g") else "g" + factor.unit[2:]
    return fx.Factor(factor.name, value, unit, factor.source, factor.year, factor.region)


def _year_lookup(lookup: Any, key: str, year: int) -> fx.Factor:
    try:
        return lookup(key, year)
    except ConfigError:
        return lookup(key)  # nothing in or before the year: the earliest-known latest value


def load_carbon_factors(cell: CellSpec, year: int, factors_dir: str | None = None) -> CarbonFactors:
    """Look every factor of a cell up in ``assets/factors`` and the ``factors/`` folder beside the cell file.

    Args:
        cell: The validated cell (its ``source_path`` locates its own tables,
            :func:`twin.cell.factors.cell_factor_dirs`).
        year: Reporting year (the latest value in or before it is used).
        factors_dir: The project's factor folder; ``assets/factors`` when None.

    Returns:
        The factors.

    Raises:
        ConfigError: A material or fuel of the cell has no factor, or the region no grid factor.
    """
    region = cell.carbon.grid_region
    dirs = fx.cell_factor_dirs(cell)

    def grid(r: str, y: int | None = None) -> fx.Factor:
        return fx.grid_factor(r, y, factors_dir=factors_dir, extra_dirs=dirs)

    def residual(r: str, y: int | None = None) -> fx.Factor:
        return fx.residual_mix(r, y, factors_dir=factors_dir, extra_dirs=dirs)

    grid_annual = _gram_factor(_year_lookup(grid, region, year))
    supplier = cell.carbon.supplier_factor_gco2e_per_kwh
    if supplier is not None:
        market = fx.Factor(
            f"supplier_{region}", float(supplier), "gCO2e/kWh", "cell definition: carbon.supplier_factor_gco2e_per_kwh",
            year, region,
        )  # fmt: skip
        basis = "supplier"
    else:
        try:
            market, basis = _gram_factor(_year_lookup(residual, region, year)), "residual_mix"
        except ConfigError:
            market, basis = grid_annual, "grid_average_fallback"
    materials: dict[str, fx.Factor] = {}
    for variant in cell.variants:
        for line in bill_of_materials(cell, variant):
            if line.material not in materials:
                materials[line.material] = fx.material_factor(line.material, factors_dir=factors_dir, extra_dirs=dirs)
    fuels = {fuel: fx.fuel_factor(fuel, factors_dir=factors_dir, extra_dirs=dirs) for fuel in cell.carbon.scope1_fuels}
    return CarbonFactors(region, grid_annual, market, basis, cell.carbon.renewable_share, materials, fuels)


def hourly_intensity(hourly: pl.DataFrame, grid_hourly: pl.DataFrame, factors: CarbonFactors) -> pl.DataFrame:
    """The grid rule, for measured and simulated energy alike: each hour's intensity, or the annual factor, flagged.

    An hour the ``grid_intensity`` stream covers (any of its intervals overlaps it, time-weighted, see
    ``mart_an_grid_hourly``) takes the region's intensity of that hour; any other hour with energy takes the
    region's annual location-based factor and ``is_missing`` is true, so the count of filled hours is
    ``is_missing.sum()`` (``missing_intensity_hours``). Never zero.

    Args:
        hourly: ``hour_at``, ``kwh``: energy per UTC hour (:attr:`EnergySplit.hourly`).
        grid_hourly: :data:`twin.analytics.frames.GRID_HOURLY` rows.
        factors: The cell's factors (region, annual factor).

    Returns:
        ``hour_at``, ``kwh``, ``g_per_kwh`` (filled), ``is_missing``, ``gco2e_per_kwh`` (the stream's, null
        when missing).
    """
    grid = grid_hourly.filter(pl.col("region") == factors.region).select("hour_at", "gco2e_per_kwh")
    return (
        hourly.join(grid, on="hour_at", how="left")
        .with_columns(
            pl.col("gco2e_per_kwh").is_null().alias("is_missing"),
            pl.col("gco2e_per_kwh").fill_null(factors.grid_annual.value).alias("g_per_kwh"),
        )
        .select("hour_at", "kwh", "g_per_kwh", "is_missing", "gco2e_per_kwh")
    )


def carbon(
    split: EnergySplit,
    grid_hourly: pl.DataFrame,
    units: pl.DataFrame,
    cell: CellSpec,
    factors: CarbonFactors,
    period: Period,
) -> dict[str, Any]:
    """The period's footprint, totals, per unit and per variant (kg CO2e; see the module docstring).

    Args:
        split: The period's energy (:func:`twin.analytics.allocation.split_energy`).
        grid_hourly: :data:`twin.analytics.frames.GRID_HOURLY` rows.
        units: :func:`twin.analytics.kpis.unit_table` rows.
        cell: The validated cell.
        factors: :func:`load_carbon_factors` of the cell.
        period: The reporting period.

    Returns:
        ``{"energy_kwh", "scope1_kg", "scope2_location_kg", "scope2_market_kg", "scope3_cat1_kg",
        "missing_intensity_hours", "missing_intensity_kwh", "scope2_location_filled_kg",
        "scope2_location_complete", "units", "units_escaped", "per_unit_kg": {...}, "by_variant": [...],
        "factors": [...], "allocation": str}``.
    """
    hours = hourly_intensity(split.hourly, grid_hourly, factors)
    market_g = factors.market_g_per_kwh
    energy_kwh = float(hours["kwh"].sum()) if hours.height else 0.0
    loc_kg = float((hours["kwh"] * hours["g_per_kwh"]).sum()) / 1000.0 if hours.height else 0.0
    missing = hours.filter(pl.col("is_missing") & (pl.col("kwh") > 0))
    filled_kg = float((missing["kwh"] * missing["g_per_kwh"]).sum()) / 1000.0 if missing.height else 0.0
    market_kg = energy_kwh * market_g / 1000.0

    # scope 1: yearly fuel use prorated to the period
    period_years = period.hours / HOURS_PER_YEAR
    scope1_kg = 0.0
    for fuel, per_year in cell.carbon.scope1_fuels.items():
        factor = factors.fuels[fuel]
        scale = 1.0 if factor.unit.lower().startswith("kg") else 0.001 if factor.unit.lower().startswith("g") else 1.0
        scope1_kg += per_year * period_years * factor.value * scale

    # scope 3 cat. 1: materials of every unit completed in the period
    done = units.filter(pl.col("in_period"))
    mat_kg_per_variant = {
        v: sum(line.kg * factors.materials[line.material].value for line in bill_of_materials(cell, v))
        for v in cell.variants
    }
    mat = pl.DataFrame(
        {"variant": list(mat_kg_per_variant), "s3": list(mat_kg_per_variant.values())},
        schema={"variant": pl.String(), "s3": pl.Float64()},
    )
    scope3 = (
        done.select("unit_id", "variant").join(mat, on="variant", how="left").with_columns(pl.col("s3").fill_null(0.0))
    )
    scope3_kg = float(scope3["s3"].sum()) if scope3.height else 0.0

    # per-variant allocation: direct energy by hour, shared energy and scope 1 by run time
    annual = factors.grid_annual.value
    direct = (
        split.direct.join(hours.select("hour_at", "g_per_kwh"), on="hour_at", how="left")
        .group_by("variant")
        .agg(
            pl.col("kwh").sum().alias("kwh"),
            (pl.col("kwh") * pl.col("g_per_kwh").fill_null(annual)).sum().alias("g_loc"),
        )
    )
    shared = split.shared.join(hours.select("hour_at", "g_per_kwh"), on="hour_at", how="left")
    shared_kwh = float(shared["kwh"].sum()) if shared.height else 0.0
    shared_loc_kg = float((shared["kwh"] * shared["g_per_kwh"].fill_null(annual)).sum()) / 1000.0
    shares = run_time_shares(units)
    weights = pl.DataFrame(
        {"variant": list(shares), "w": list(shares.values())}, schema={"variant": pl.String(), "w": pl.Float64()}
    )
    s3_by_variant = scope3.group_by("variant").agg(pl.col("s3").sum())
    known = pl.col("variant").fill_null(UNKNOWN_VARIANT)
    direct, weights, s3_by_variant = (f.with_columns(known) for f in (direct, weights, s3_by_variant))
    variants = pl.concat(
        [direct.select("variant"), weights.select("variant"), s3_by_variant.select("variant")]
    ).unique()
    by_variant_sums = (
        variants.join(direct, on="variant", how="left")
        .join(weights, on="variant", how="left")
        .join(s3_by_variant, on="variant", how="left")
        .with_columns(pl.col("kwh", "g_loc", "w", "s3").fill_null(0.0))
        .with_columns(
            (pl.col("kwh") + pl.col("w") * shared_kwh).alias("kwh_all"),
            (pl.col("g_loc") / 1000.0 + pl.col("w") * shared_loc_kg).alias("s2_loc"),
            (pl.col("w") * scope1_kg).alias("s1"),
        )
        .with_columns((pl.col("kwh_all") * market_g / 1000.0).alias("s2_mkt"))
    )
    delivered = done.filter(IS_DELIVERED)
    n_delivered = int(delivered.height)
    delivered_by_variant = dict(delivered.with_columns(known).group_by("variant").len().iter_rows())

    def per(values: dict[str, float], n: int) -> dict[str, float | None]:
        if n <= 0:
            return dict.fromkeys(
                ("energy_kwh", "scope1", "scope2_location", "scope2_market", "scope3_cat1", "total_location",
                 "total_market"),
            )  # fmt: skip
        s1, loc, mkt, s3 = values["s1"] / n, values["s2_loc"] / n, values["s2_mkt"] / n, values["s3"] / n
        return {
            "energy_kwh": values["kwh_all"] / n,
            "scope1": s1,
            "scope2_location": loc,
            "scope2_market": mkt,
            "scope3_cat1": s3,
            "total_location": s1 + loc + s3,
            "total_market": s1 + mkt + s3,
        }

    by_variant = []
    for row in by_variant_sums.sort("variant").iter_rows(named=True):
        if row["variant"] is None:
            continue
        n = int(delivered_by_variant.get(row["variant"], 0))
        by_variant.append(
            {
                "variant": row["variant"],
                "units": n,
                "per_unit_kg": per(row, n),
                "total_kg": {
                    "scope1": row["s1"],
                    "scope2_location": row["s2_loc"],
                    "scope2_market": row["s2_mkt"],
                    "scope3_cat1": row["s3"],
                },
            }
        )
    totals = {"kwh_all": energy_kwh, "s1": scope1_kg, "s2_loc": loc_kg, "s2_mkt": market_kg, "s3": scope3_kg}
    per_unit_kg = per(totals, n_delivered)
    matched = hours.filter(~pl.col("is_missing"))
    return {
        "energy_kwh": energy_kwh,
        "scope1_kg": scope1_kg,
        "scope2_location_kg": loc_kg,
        "scope2_market_kg": market_kg,
        "scope3_cat1_kg": scope3_kg,
        "missing_intensity_hours": int(missing.height),
        "missing_intensity_kwh": float(missing["kwh"].sum()) if missing.height else 0.0,
        "scope2_location_filled_kg": filled_kg,
        "scope2_location_complete": missing.height == 0,
        "units": n_delivered,
        "units_good": int(done["is_final_good"].sum()) if done.height else 0,
        "units_escaped": int(done["is_escaped"].sum()) if done.height else 0,
        "per_unit_kg": {k: v for k, v in per_unit_kg.items() if k != "energy_kwh"},
        "energy_kwh_per_unit": per_unit_kg["energy_kwh"],
        "by_variant": [
            {**v, "per_unit_kg": {k: x for k, x in v["per_unit_kg"].items() if k != "energy_kwh"}} for v in by_variant
        ],
        "shared_energy_kwh": shared_kwh,
        "market_basis": factors.market_basis,
        "factors": factor_list(factors, matched, cell),
        "allocation": ALLOCATION_NOTE,
    }


ALLOCATION_NOTE = (
    "Energy a machine used while running unit cycles is attributed to those units by cycle time within each hour; "
    "energy no unit consumed alone (cell_aux, idle, standby, off-shift hours) and scope 1 are allocated to the "
    "units completed in the period in proportion to their run time. Per-unit figures divide by the units "
    "delivered (completed and not scrapped; scrap's footprint stays with its variant)."
)


def factor_list(factors: CarbonFactors, matched_hours: pl.DataFrame, cell: CellSpec) -> list[dict[str, Any]]:
    """Every factor behind a carbon figure, as ``{"name","value","unit","source","year","region"}`` dicts.

    Args:
        factors: The factors used.
        matched_hours: Hours matched to a telemetry intensity (``gco2e_per_kwh``, ``hour_at``).
        cell: The cell (for the renewable share's provenance).

    Returns:
        The hourly intensity (as its energy-weighted mean over the matched hours), the annual grid
        factor, the market-based factor, the renewable share, materials and fuels.
    """
    rows: list[dict[str, Any]] = []
    if matched_hours.height:
        kwh = matched_hours["kwh"]
        mean = float((kwh * matched_hours["gco2e_per_kwh"]).sum() / kwh.sum()) if kwh.sum() > 0 else None
        years = matched_hours["hour_at"].dt.year()
        rows.append(
            {
                "name": f"grid_hourly_{factors.region}",
                "value": mean,
                "unit": "gCO2e/kWh",
                "source": (
                    f"telemetry stream grid_intensity, region {factors.region}: {matched_hours.height} hourly values "
                    "matched in UTC (value = energy-weighted mean)"
                ),
                "year": int(years.min()),
                "region": factors.region,
            }
        )
    rows.append(
        {**factors.grid_annual.as_dict(), "name": f"{factors.grid_annual.name} (fills hours without intensity)"}
    )
    rows.append({**factors.market.as_dict(), "name": f"{factors.market.name} ({factors.market_basis})"})
    rows.append(
        {
            "name": "renewable_share",
            "value": factors.renewable_share,
            "unit": "share of kWh at 0 gCO2e/kWh",
            "source": f"cell definition {cell.cell.id}: carbon.renewable_share (certificates / PPA)",
            "year": factors.market.year,
            "region": factors.region,
        }
    )
    rows += [f.as_dict() for f in factors.materials.values()]
    rows += [f.as_dict() for f in factors.fuels.values()]
    return rows
