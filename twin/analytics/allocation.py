"""Energy per hour attributed to units, and the bill of materials per variant.

Energy attribution (SPEC.md, "Energy registers"; the report repeats it):

1. Each meter's kWh per UTC hour comes from the warehouse's ``mart_energy_hourly`` (register deltas spread
   over the hours they span in proportion to time; resets and rollovers counted per SPEC).
2. **Direct energy**: a robot's or station's meter-hour in which that machine ran unit cycles is split
   over those units in proportion to their cycle time inside the hour (a bank of machines' meter over
   the jobs running in that hour), kept per variant and hour (``mart_an_occupancy_hourly``).
3. **Shared energy**: what no unit consumed alone (``cell_aux``, and every machine-hour without a unit
   cycle: idle, standby, nights, weekends) is pooled over the period and allocated to the units
   completed in the period in proportion to their run time (:func:`twin.analytics.kpis.unit_table`).

Emissions and cost follow the kWh hour by hour, so an hour's intensity or price applies to exactly
the energy of that hour. Figures are kept per variant, the finest grain any report shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from twin.analytics.frames import Roles
from twin.analytics.period import Period
from twin.cell.spec import CellSpec

UNKNOWN_VARIANT = "(unknown)"
"""How per-variant tables show units whose events carry no variant."""


@dataclass(frozen=True)
class EnergySplit:
    """The period's energy, split into what units of each variant consumed directly and the shared rest.

    Attributes:
        hourly: One row per UTC hour of the period with energy: ``hour_at``, ``kwh`` (all meters,
            weighted by the share of the hour inside the period).
        direct: ``variant``, ``hour_at``, ``kwh``: direct energy per variant and hour.
        shared: ``hour_at``, ``kwh``: shared energy per hour.
        by_meter: ``meter_id``, ``kwh``, ``direct_kwh``: totals per meter.
    """

    hourly: pl.DataFrame
    direct: pl.DataFrame
    shared: pl.DataFrame
    by_meter: pl.DataFrame

    @property
    def total_kwh(self) -> float:
        """All energy of the period."""
        return float(self.hourly["kwh"].sum()) if self.hourly.height else 0.0


def period_hours(frame: pl.DataFrame, period: Period, columns: tuple[str, ...]) -> pl.DataFrame:
    """Rows of the hours touching the period, their ``columns`` weighted by the share of the hour inside it.

    Args:
        frame: Rows with an aware UTC ``hour_at`` column.
        period: The reporting period.
        columns: Additive columns to weight (kWh, busy seconds).

    Returns:
        The rows of hours overlapping the period (a whole hour has weight 1).
    """
    hour = pl.col("hour_at")
    inside = (
        pl.min_horizontal(hour + pl.duration(hours=1), pl.lit(period.end))
        - pl.max_horizontal(hour, pl.lit(period.start))
    ).dt.total_microseconds() / 3.6e9
    return (
        frame.filter((hour + pl.duration(hours=1) > period.start) & (hour < period.end))
        .with_columns(inside.clip(0.0, 1.0).alias("_w"))
        .with_columns([(pl.col(c) * pl.col("_w")).alias(c) for c in columns])
        .drop("_w")
    )


def split_energy(energy_hourly: pl.DataFrame, occupancy: pl.DataFrame, roles: Roles, period: Period) -> EnergySplit:
    """Split the period's metered energy into direct energy per variant and shared energy.

    Args:
        energy_hourly: :data:`twin.analytics.frames.ENERGY_HOURLY` rows.
        occupancy: :data:`twin.analytics.frames.OCCUPANCY` rows.
        roles: The cell's roles (which meters are machines).
        period: The reporting period.

    Returns:
        The split (see :class:`EnergySplit`).
    """
    energy = period_hours(energy_hourly, period, ("kwh",))
    busy = occupancy.filter(pl.col("station_id").is_in(list(roles.machines)) & (pl.col("busy_s") > 0))
    totals = busy.group_by("station_id", "hour_at").agg(pl.col("busy_s").sum().alias("total_busy_s"))
    metered = energy.join(totals, left_on=["meter_id", "hour_at"], right_on=["station_id", "hour_at"], how="left")
    direct = (
        busy.join(totals, on=["station_id", "hour_at"])
        .join(energy, left_on=["station_id", "hour_at"], right_on=["meter_id", "hour_at"], how="inner")
        .with_columns((pl.col("kwh") * pl.col("busy_s") / pl.col("total_busy_s")).alias("kwh"))
        .group_by("variant", "hour_at")
        .agg(pl.col("kwh").sum())
        .sort("variant", "hour_at", nulls_last=True)
    )
    is_shared = pl.col("total_busy_s").is_null()
    shared = metered.filter(is_shared).group_by("hour_at").agg(pl.col("kwh").sum()).sort("hour_at")
    hourly = energy.group_by("hour_at").agg(pl.col("kwh").sum()).sort("hour_at")
    by_meter = (
        metered.group_by("meter_id")
        .agg(pl.col("kwh").sum(), pl.col("kwh").filter(~is_shared).sum().alias("direct_kwh"))
        .sort("meter_id")
    )
    return EnergySplit(hourly=hourly, direct=direct, shared=shared, by_meter=by_meter)


def run_time_shares(units: pl.DataFrame) -> dict[str | None, float]:
    """Each variant's share of the run time of the units completed in the period.

    Args:
        units: :func:`twin.analytics.kpis.unit_table` rows.

    Returns:
        Variant -> share (summing to 1); empty when no unit was completed. When every unit has zero run
        time, shares follow unit counts.
    """
    rows = units.filter(pl.col("in_period"))
    if rows.is_empty():
        return {}
    total = float(rows["run_s"].sum())
    by = rows.group_by("variant").agg(pl.col("run_s").sum(), pl.len().alias("n"))
    if total > 0:
        return {v: float(r) / total for v, r, _ in by.iter_rows()}
    return {v: n / rows.height for v, _, n in by.iter_rows()}


@dataclass(frozen=True)
class BomLine:
    """One material of one unit of a variant.

    Attributes:
        part: The part it is for (``<station>:<material>`` for a station's consumable).
        material: Material key, as in ``cost.materials_per_kg`` and the materials factor table.
        kg: Mass per unit.
    """

    part: str
    material: str
    kg: float


def bill_of_materials(cell: CellSpec, variant: str) -> list[BomLine]:
    """Material bought per unit of a variant: every part and consumable of its bill of materials.

    A bought part counts with its mass times its quantity; a part made in the cell (``made_by``) with its
    feedstock (waste included) of its material; each station the unit works at, or that makes one of its
    parts, adds its ``consumables_kg_per_unit``.

    Args:
        cell: The validated cell.
        variant: A variant id.

    Returns:
        The lines, in bill-of-materials order, then the stations' consumables.
    """
    spec = cell.variants[variant]
    lines = []
    stations: list[str] = []
    for item in spec.bom.values():
        part = cell.parts[item.part]
        lines.append(BomLine(item.part, part.material, item.qty * part.material_kg))
        if part.made_by is not None and part.made_by not in stations:
            stations.append(part.made_by)
    for op_id in spec.plan:
        station = cell.operations[op_id].station
        if station is not None and station not in stations:
            stations.append(station)
    for sid in stations:
        for material, kg in cell.stations[sid].consumables_for(variant).items():
            lines.append(BomLine(f"{sid}:{material}", material, kg))
    return lines
