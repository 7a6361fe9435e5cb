"""The period figures of the ``twin oee|cost|carbon`` commands and the report, from one :class:`PeriodData`.

:func:`prepare` derives what every figure shares (the unit table, the calendar, the energy split) once;
:func:`oee_of`, :func:`cost_of` and :func:`carbon_of` return the JSON objects of the commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from twin.analytics import carbon as carbon_mod
from twin.analytics import cost as cost_mod
from twin.analytics.allocation import EnergySplit, split_energy
from twin.analytics.frames import PeriodData, Roles, roles
from twin.analytics.kpis import completions, oee, unit_table
from twin.cell import factors as fx
from twin.cell.calendar import planned_windows, shift_windows, window_seconds
from twin.cell.spec import CellSpec
from twin.errors import InputError


@dataclass(frozen=True)
class Prepared:
    """Everything the period figures share.

    Attributes:
        cell: The validated cell.
        roles: Its roles.
        data: The period's frames.
        units: :func:`twin.analytics.kpis.unit_table`.
        windows: Planned busy windows.
        shifts: Shift windows (breaks included).
        split: The period's energy, direct and shared.
    """

    cell: CellSpec
    roles: Roles
    data: PeriodData
    units: pl.DataFrame
    windows: pl.DataFrame
    shifts: pl.DataFrame
    split: EnergySplit


def prepare(cell: CellSpec, data: PeriodData) -> Prepared:
    """Derive the shared frames of a period.

    Args:
        cell: The validated cell.
        data: The period's frames.

    Returns:
        The :class:`Prepared` bundle.
    """
    r = roles(cell)
    period = data.period
    units = unit_table(data.units, period)
    return Prepared(
        cell=cell,
        roles=r,
        data=data,
        units=units,
        windows=planned_windows(cell.shifts, period),
        shifts=shift_windows(cell.shifts, period),
        split=split_energy(data.energy_hourly, data.occupancy, r, period),
    )


def oee_of(p: Prepared, ideal_cycle_s: Mapping[str, float], station: str | None = None) -> dict[str, Any]:
    """OEE of the cell (or one station) over the period, with ``period`` and ``station`` added.

    Args:
        p: The prepared period.
        ideal_cycle_s: Ideal cycle time per variant (:func:`twin.analytics.ideal.ideal_cycle_times`).
        station: A robot or station id, or None for the cell.

    Returns:
        The object ``twin oee --json`` prints.
    """
    if station is not None and station != p.data.counted_station:
        raise ValueError(f"the period was loaded counting {p.data.counted_station!r}, not {station!r}")
    done = completions(p.units, station)
    result = oee(
        p.windows,
        p.data.downtime,
        done,
        ideal_cycle_s,
        p.data.period,
        stations=[station] if station else None,
        sampling=p.cell.inspection_sampling,
    )
    return {
        "period": p.data.period.to_json(),
        "station": station,
        "source": p.data.source,
        "replication": p.data.replication,
        **result,
        "ideal_cycle_s": dict(ideal_cycle_s),
    }


def cost_of(p: Prepared, run_time_s: float) -> dict[str, Any]:
    """Cost per unit over the period.

    Args:
        p: The prepared period.
        run_time_s: The cell's run time in the period (``oee_of(...)["run_time_s"]``).

    Returns:
        The object ``twin cost --json`` prints.
    """
    schedule = fx.cell_tariff(p.cell)
    result = cost_mod.cost(
        p.split, p.units, p.data.occupancy, p.shifts, run_time_s, p.cell, p.roles, p.data.period, schedule
    )
    return {"period": p.data.period.to_json(), "source": p.data.source, "replication": p.data.replication, **result}


def carbon_of(p: Prepared) -> dict[str, Any]:
    """Carbon footprint over the period.

    Args:
        p: The prepared period.

    Returns:
        The object ``twin carbon --json`` prints.
    """
    year = p.data.period.start.astimezone(p.data.period.zone).year
    factors = carbon_mod.load_carbon_factors(p.cell, year)
    result = carbon_mod.carbon(p.split, p.data.grid_hourly, p.units, p.cell, factors, p.data.period)
    return {"period": p.data.period.to_json(), "source": p.data.source, "replication": p.data.replication, **result}


def hourly_of(p: Prepared) -> pl.DataFrame:
    """Energy per UTC hour with its price and its grid intensity, as the cost and carbon figures count them.

    The tariff rule (:func:`twin.analytics.cost.hourly_prices`: the price of the local hour) and the grid
    rule (:func:`twin.analytics.carbon.hourly_intensity`: the hour's intensity, else the annual factor,
    flagged) applied to the period's hours: the tables of the report and the dashboard show these, never
    a rule of their own.

    Args:
        p: The prepared period.

    Returns:
        ``hour_at``, ``kwh``, ``price_per_kwh``, ``band``, ``energy_cost`` (in the cell's currency),
        ``gco2e_per_kwh`` (the stream's, null when missing), ``is_missing_intensity`` and ``scope2_location_kg``
        (missing hours at the annual factor), in time order.
    """
    year = p.data.period.start.astimezone(p.data.period.zone).year
    factors = carbon_mod.load_carbon_factors(p.cell, year)
    grid = carbon_mod.hourly_intensity(p.split.hourly, p.data.grid_hourly, factors)
    costs = cost_mod.hourly_energy_cost(p.split, fx.cell_tariff(p.cell))
    return (
        costs.join(grid.select("hour_at", "gco2e_per_kwh", "g_per_kwh", "is_missing"), on="hour_at", how="left")
        .with_columns(
            pl.col("is_missing").alias("is_missing_intensity"),
            (pl.col("kwh") * pl.col("g_per_kwh") / 1000.0).alias("scope2_location_kg"),
        )
        .drop("g_per_kwh", "is_missing")
        .sort("hour_at")
    )


def mix_mean(p: Prepared, per_variant: Mapping[str, float]) -> float | None:
    """The mean of a per-variant figure over the units completed in the period (their variant mix).

    Args:
        p: The prepared period.
        per_variant: Variant -> figure (e.g. the plan's cycle time); a variant missing from it is an error.

    Returns:
        The mean, or None when no unit was completed.

    Raises:
        InputError: A completed unit's variant has no figure.
    """
    done = p.units.filter(pl.col("in_period"))
    if done.is_empty():
        return None
    counts = dict(done.group_by("variant").len().iter_rows())
    missing = sorted(str(v) for v in counts if v not in per_variant)
    if missing:
        raise InputError(f"no figure for variant(s) {', '.join(missing)}; known: {', '.join(sorted(per_variant))}")
    return sum(n * float(per_variant[v]) for v, n in counts.items()) / done.height


def flow_of(p: Prepared) -> dict[str, Any]:
    """Work in process and flow time of the period (Little's law: WIP = throughput x flow time).

    A unit is in process from its first cycle start (a part made ahead, such as the sample's print, releases it) to its
    completion (its cycle end at the output station).

    Args:
        p: The prepared period.

    Returns:
        ``{"wip_units", "flow_time_s", "units_completed"}``: the time-average number of units in process
        over the period, and the mean first-start-to-completion time of the units completed in it (None
        without such units).
    """
    period = p.data.period
    span_s = (period.end - period.start).total_seconds()
    units = p.units.filter(pl.col("first_start_at").is_not_null())
    lo, hi = pl.lit(period.start), pl.lit(period.end)
    start = pl.min_horizontal(pl.max_horizontal(pl.col("first_start_at"), lo), hi)
    end = pl.min_horizontal(pl.max_horizontal(pl.col("completed_at").fill_null(hi), lo), hi)
    inside_s = float(units.select(((end - start).dt.total_microseconds().clip(0) / 1e6).sum()).item() or 0.0)
    done = units.filter(pl.col("in_period"))
    flow = done.select(((pl.col("completed_at") - pl.col("first_start_at")).dt.total_microseconds() / 1e6).mean())
    return {
        "wip_units": inside_s / span_s if span_s > 0 else None,
        "flow_time_s": flow.item() if done.height else None,
        "units_completed": done.height,
    }


def utilization_of(p: Prepared) -> dict[str, float | None]:
    """Each robot's and station's time in unit cycles over its planned busy time.

    A bank of machines' time is machine-hours (the sum of its jobs) over its machines' planned busy
    time, so a bank of four machines working half the time is at 0.5. Cycle time includes what a machine does for
    its unit while it waits on another (a robot holding its unit at inspection).

    Args:
        p: The prepared period.

    Returns:
        Robot or station id -> utilization (None without planned busy time).
    """
    planned_s = float(window_seconds(p.windows))
    busy = dict(
        cost_mod.machine_hours(p.data.occupancy, p.roles, p.data.period)
        .group_by("station_id")
        .agg(pl.col("busy_s").sum())
        .iter_rows()
    )
    out: dict[str, float | None] = {}
    for machine in p.roles.machines:
        station = p.cell.stations.get(machine)
        parallel = station.count if station is not None else 1
        out[machine] = float(busy.get(machine, 0.0)) / (parallel * planned_s) if planned_s > 0 else None
    return out


def planned_run_time_s(p: Prepared) -> float:
    """The cell's run time of the period (planned busy time minus every stop), without ideal cycle times."""
    done = completions(p.units).head(0)
    return float(oee(p.windows, p.data.downtime, done, {}, p.data.period)["run_time_s"])
