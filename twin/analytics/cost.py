"""Cost per unit of a period, in the cell's currency (``cost.currency``), per line and per variant.

Lines (every one divided by the **units delivered** in the period: completed and not scrapped, i.e. good,
reworked to good or escaped; under sampled inspection most delivered units were never measured, and they
are product all the same):

- **energy**: each UTC hour's kWh × the time-of-use price of the local hour it falls in (tariff
  ``cost.tariff_id`` of the ``tariffs`` factor table or the cell's own, weekday / weekend bands in the
  tariff's zone, priced in the cell's currency: :func:`twin.cell.factors.cell_tariff`).
  Direct and shared energy are attributed as in :mod:`twin.analytics.allocation`.
- **labour**: shift hours of the period (breaks included: they are paid) × operators per shift ×
  labour rate, allocated by run time.
- **material**: the bill of materials of the units delivered: every unit completed in the period and not
  scrapped, good, reworked to good or escaped (filament kg × price, insert, base panel, screws;
  :func:`twin.analytics.allocation.bill_of_materials`). An escaped unit left the cell, so its material is
  product material and it divides the totals like any delivered unit.
- **equipment**: depreciation per machine hour × each machine's hours running unit cycles (a bank of
  machines' hours are machine-hours: the sum of its jobs, e.g. the sample's print jobs), attributed to the units cycled.
- **maintenance**: the maintenance rate × the cell's run time (planned busy time minus down time),
  allocated by run time.
- **poor_quality** (cost of poor quality): rework (``cost.rework_per_unit`` per reworked unit)
  plus scrap (the bill of materials of the scrapped units). So the bill of materials *including
  scrap* is ``material + the scrap part of poor_quality``; nothing is counted twice, and the
  conversion cost (energy, labour, machine time) of scrapped units stays in its own line, carried
  by the delivered units.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from twin.analytics.allocation import UNKNOWN_VARIANT, EnergySplit, bill_of_materials, period_hours, run_time_shares
from twin.analytics.frames import Roles
from twin.analytics.period import Period
from twin.analytics.quality import IS_DELIVERED
from twin.cell import factors as fx
from twin.cell.calendar import window_seconds
from twin.cell.spec import CellSpec
from twin.errors import ConfigError

LINES: tuple[str, ...] = ("energy", "labour", "material", "equipment", "maintenance", "poor_quality")


def hourly_prices(hours: pl.DataFrame, schedule: fx.TariffSchedule) -> pl.DataFrame:
    """The price of every UTC hour, from the local hour it falls in.

    Args:
        hours: Frame with an aware UTC ``hour_at`` column.
        schedule: The tariff.

    Returns:
        ``hours`` with ``price_per_kwh`` (in the schedule's currency, ``schedule.unit``) and ``band`` added.
    """
    prices = pl.DataFrame(
        {
            "_weekend": [False] * 24 + [True] * 24,
            "_hour": list(range(24)) * 2,
            "price_per_kwh": [*schedule.weekday, *schedule.weekend],
            "band": [*schedule.bands["mon-fri"], *schedule.bands["sat-sun"]],
        },
        schema={"_weekend": pl.Boolean(), "_hour": pl.Int8(), "price_per_kwh": pl.Float64(), "band": pl.String()},
    )
    local = pl.col("hour_at").dt.convert_time_zone(schedule.timezone)
    return (
        hours.with_columns((local.dt.weekday() >= 6).alias("_weekend"), local.dt.hour().cast(pl.Int8).alias("_hour"))
        .join(prices, on=["_weekend", "_hour"], how="left")
        .drop("_weekend", "_hour")
    )


def machine_hours(occupancy: pl.DataFrame, roles: Roles, period: Period) -> pl.DataFrame:
    """Seconds each machine spent in unit cycles of each variant inside the period.

    Args:
        occupancy: :data:`twin.analytics.frames.OCCUPANCY` rows.
        roles: The cell's roles.
        period: The reporting period (hours partly outside it count in proportion).

    Returns:
        ``station_id``, ``variant``, ``busy_s``.
    """
    rows = period_hours(occupancy.filter(pl.col("station_id").is_in(list(roles.machines))), period, ("busy_s",))
    return rows.group_by("station_id", "variant").agg(pl.col("busy_s").sum())


def cost(
    split: EnergySplit,
    units: pl.DataFrame,
    occupancy: pl.DataFrame,
    shift_time: pl.DataFrame,
    run_time_s: float,
    cell: CellSpec,
    roles: Roles,
    period: Period,
    schedule: fx.TariffSchedule,
) -> dict[str, Any]:
    """Cost per unit of the period, per line and per variant (see the module docstring).

    Args:
        split: The period's energy (:func:`twin.analytics.allocation.split_energy`).
        units: :func:`twin.analytics.kpis.unit_table` rows.
        occupancy: :data:`twin.analytics.frames.OCCUPANCY` rows.
        shift_time: :func:`twin.cell.calendar.shift_windows` of the period.
        run_time_s: The cell's run time in the period (:func:`twin.analytics.kpis.oee`).
        cell: The validated cell.
        roles: The cell's roles.
        period: The reporting period.
        schedule: The cell's tariff, priced in the cell's currency (:func:`twin.cell.factors.cell_tariff`).

    Returns:
        ``{"units", "units_completed", "units_reworked", "units_scrapped", "units_escaped",
        "cost_per_unit": {line..., "total"},
        "total_cost": {line..., "total"}, "by_variant": [{"variant", "units", "cost_per_unit", "total_cost"}],
        "tariff": {...}, "currency"}``; money in ``cost.currency``.

    Raises:
        ConfigError: The tariff is priced in another currency than the cell's, or a material has no price.
    """
    c = cell.cost
    if schedule.currency != c.currency:
        raise ConfigError(
            f"cell {cell.cell.id}: tariff {schedule.tariff_id!r} is priced in {schedule.unit}, the cell in "
            f"{c.currency}; price it with twin.cell.factors.cell_tariff (cost.exchange_rates)"
        )
    known = pl.col("variant").fill_null(UNKNOWN_VARIANT)
    # energy: direct by variant and hour, shared pooled
    if split.hourly.height:
        priced = hourly_prices(split.hourly, schedule)
    else:
        priced = split.hourly.with_columns(pl.lit(None, pl.Float64).alias("price_per_kwh"))
    price_of = priced.select("hour_at", "price_per_kwh")
    energy_cost = float((priced["kwh"] * priced["price_per_kwh"]).sum()) if priced.height else 0.0
    direct = (
        split.direct.join(price_of, on="hour_at", how="left")
        .with_columns(known)
        .group_by("variant")
        .agg((pl.col("kwh") * pl.col("price_per_kwh")).sum().alias("energy_direct"))
    )
    shared = split.shared.join(price_of, on="hour_at", how="left")
    shared_cost = float((shared["kwh"] * shared["price_per_kwh"]).sum()) if shared.height else 0.0

    # labour and maintenance: period totals by run time
    labour_cost = window_seconds(shift_time) / 3600.0 * c.operators_per_shift * c.labour_per_h
    maintenance_cost = max(run_time_s, 0.0) / 3600.0 * c.maintenance_per_h

    # equipment: machine hours per variant
    rates = pl.DataFrame(
        {"station_id": list(c.depreciation_per_machine_h), "rate": list(c.depreciation_per_machine_h.values())},
        schema={"station_id": pl.String(), "rate": pl.Float64()},
    )
    equipment = (
        machine_hours(occupancy, roles, period)
        .join(rates, on="station_id", how="left")
        .with_columns(known)
        .group_by("variant")
        .agg((pl.col("busy_s") / 3600.0 * pl.col("rate").fill_null(0.0)).sum().alias("equipment"))
    )

    # material and poor quality of the units completed in the period
    prices = c.materials_per_kg
    missing = sorted({line.material for v in cell.variants for line in bill_of_materials(cell, v)} - set(prices))
    if missing:
        raise ConfigError(
            f"cell {cell.cell.id}: cost.materials_per_kg has no price for {', '.join(missing)}; "
            f"priced: {', '.join(sorted(prices))}"
        )
    bom_cost = {v: sum(line.kg * prices[line.material] for line in bill_of_materials(cell, v)) for v in cell.variants}
    bom = pl.DataFrame(
        {"variant": list(bom_cost), "bom_cost": list(bom_cost.values())},
        schema={"variant": pl.String(), "bom_cost": pl.Float64()},
    )
    done = units.filter(pl.col("in_period")).with_columns(known)
    quality_cost = (
        done.join(bom, on="variant", how="left")
        .with_columns(pl.col("bom_cost").fill_null(0.0))
        .group_by("variant")
        .agg(
            pl.col("bom_cost").filter(~pl.col("is_scrapped")).sum().alias("material"),
            (
                pl.col("bom_cost").filter(pl.col("is_scrapped")).sum() + pl.col("is_reworked").sum() * c.rework_per_unit
            ).alias("poor_quality"),
        )
    )
    shares = run_time_shares(units)
    weights = pl.DataFrame(
        {"variant": list(shares), "w": list(shares.values())}, schema={"variant": pl.String(), "w": pl.Float64()}
    ).with_columns(known)
    variants = pl.concat([f.select("variant") for f in (direct, equipment, quality_cost, weights)]).unique()
    per_variant = (
        variants.join(direct, on="variant", how="left")
        .join(equipment, on="variant", how="left")
        .join(quality_cost, on="variant", how="left")
        .join(weights, on="variant", how="left")
        .with_columns(pl.col("energy_direct", "equipment", "material", "poor_quality", "w").fill_null(0.0))
        .with_columns(
            (pl.col("energy_direct") + pl.col("w") * shared_cost).alias("energy"),
            (pl.col("w") * labour_cost).alias("labour"),
            (pl.col("w") * maintenance_cost).alias("maintenance"),
        )
    )
    delivered = done.filter(IS_DELIVERED)
    n_delivered = int(delivered.height)
    delivered_by_variant = dict(delivered.group_by("variant").len().iter_rows())
    # period totals: what the period cost, whether or not a unit was completed to carry it
    totals = {line: float(per_variant[line].sum()) if per_variant.height else 0.0 for line in LINES}
    totals["energy"] = energy_cost
    totals["labour"] = labour_cost
    totals["maintenance"] = maintenance_cost
    totals["total"] = sum(totals[line] for line in LINES)

    def per(values: dict[str, float], n: int) -> dict[str, float | None]:
        if n <= 0:
            return dict.fromkeys((*LINES, "total"))
        out: dict[str, float | None] = {line: values[line] / n for line in LINES}
        out["total"] = sum(values[line] for line in LINES) / n
        return out

    by_variant = []
    for row in per_variant.sort("variant").iter_rows(named=True):
        n = int(delivered_by_variant.get(row["variant"], 0))
        row_total = {line: row[line] for line in LINES}
        row_total["total"] = sum(row_total.values())
        by_variant.append(
            {"variant": row["variant"], "units": n, "cost_per_unit": per(row, n), "total_cost": row_total}
        )
    return {
        "units": n_delivered,
        "units_good": int(done["is_final_good"].sum()) if done.height else 0,
        "units_completed": int(done.height),
        "units_reworked": int(done["is_reworked"].sum()) if done.height else 0,
        "units_scrapped": int(done["is_scrapped"].sum()) if done.height else 0,
        "units_escaped": int(done["is_escaped"].sum()) if done.height else 0,
        "cost_per_unit": per(totals, n_delivered),
        "total_cost": totals,
        "by_variant": by_variant,
        "bom_per_unit": bom_cost,
        "tariff": {
            "tariff_id": schedule.tariff_id,
            "timezone": schedule.timezone,
            "unit": schedule.unit,
            "sources": list(schedule.sources),
            "conversion": schedule.conversion,
        },
        "currency": c.currency,
    }


def hourly_energy_cost(split: EnergySplit, schedule: fx.TariffSchedule) -> pl.DataFrame:
    """Energy and its cost per UTC hour (for the report's tables).

    Args:
        split: The period's energy.
        schedule: The tariff.

    Returns:
        ``hour_at``, ``kwh``, ``price_per_kwh``, ``band``, ``energy_cost`` (money in the schedule's currency).
    """
    if split.hourly.is_empty():
        return split.hourly.with_columns(
            pl.lit(None, pl.Float64).alias("price_per_kwh"), pl.lit(None, pl.String).alias("band"),
            pl.lit(None, pl.Float64).alias("energy_cost"),
        )  # fmt: skip
    return hourly_prices(split.hourly, schedule).with_columns(
        (pl.col("kwh") * pl.col("price_per_kwh")).alias("energy_cost")
    )
