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
from twin.cell.calendar import planned_windows, shift_windows
from twin.cell.spec import CellSpec


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
        p.windows, p.data.downtime, done, ideal_cycle_s, p.data.period, stations=[station] if station else None
    )
    return {
        "period": p.data.period.to_json(),
        "station": station,
        "source": p.data.source,
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
    schedule = fx.tariff_schedule(p.cell.cost.tariff_id)
    result = cost_mod.cost(
        p.split, p.units, p.data.occupancy, p.shifts, run_time_s, p.cell, p.roles, p.data.period, schedule
    )
    return {"period": p.data.period.to_json(), "source": p.data.source, **result}


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
    return {"period": p.data.period.to_json(), "source": p.data.source, **result}


def planned_run_time_s(p: Prepared) -> float:
    """The cell's run time of the period (planned busy time minus every stop), without ideal cycle times."""
    done = completions(p.units).head(0)
    return float(oee(p.windows, p.data.downtime, done, {}, p.data.period)["run_time_s"])
