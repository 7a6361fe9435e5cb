"""The period figures: OEE, cost, carbon and quality of one telemetry source over a period of the warehouse.

``twin oee|cost|carbon``, the report and the dashboard read a period through :func:`period`, so the same
period gives the same numbers everywhere. A period is half-open, ``[start, end)``, counted in the cell's time
zone: a date is local midnight, a date-time must carry its offset; without bounds it spans the data (local
midnight before the first cycle to local midnight after the last).

Each figure's :meth:`~Figures.to_dict` is the JSON object its command prints under ``--json``::

    p = period("data/twin.duckdb", "2026-10-05", "2026-10-12")
    p.oee().oee, p.cost().per_unit, p.carbon().per_unit_kg["total_market"], p.quality().first_pass_yield
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from twin.analytics import figures as analytics_figures
from twin.analytics import ideal, store
from twin.analytics.figures import Prepared
from twin.analytics.frames import roles
from twin.analytics.period import Period, data_period, parse_instant, parse_period
from twin.analytics.quality import first_pass_yield
from twin.api._inputs import CellInput, resolve_cell
from twin.cell.spec import CellSpec
from twin.errors import InputError, WarehouseError
from twin.jsonable import jsonable
from twin.telemetry.schema import SIMULATED_PREFIX
from twin.warehouse.connection import read_connection
from twin.warehouse.scenario_runs import scenario_cell

__all__ = [
    "Bound",
    "CarbonFigures",
    "CostFigures",
    "Figures",
    "OeeFigures",
    "Period",
    "PeriodFigures",
    "QualityFigures",
    "characteristic_families",
    "days_period",
    "period",
]

Bound = date | datetime | str | None
"""A period bound: a local date, an aware datetime, or the command line's text (``YYYY-MM-DD`` or ISO-8601
with an offset)."""


# ------------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """A JSON object of period figures: what a command prints under ``--json``.

    Attributes:
        values: The object (plain JSON values: NaN as None, dates as ISO text). Treat it as read-only;
            :meth:`to_dict` gives a copy.
    """

    values: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A copy of the JSON object (the command's ``--json`` output).

        Returns:
            The object.
        """
        return copy.deepcopy(self.values)

    def __getitem__(self, key: str) -> Any:
        """One key of the object."""
        return self.values[key]

    @property
    def source(self) -> str:
        """The telemetry source the figures come from."""
        return str(self.values["source"])

    @property
    def bounds(self) -> dict[str, str]:
        """``{"from", "to", "timezone"}``: the period in local ISO-8601 times."""
        return dict(self.values["period"])


@dataclass(frozen=True)
class OeeFigures(Figures):
    """OEE (ISO 22400-2) of the cell or one station: the object of ``twin oee --json``."""

    @property
    def oee(self) -> float | None:
        """Availability x performance x quality (None when undefined)."""
        return self.values["oee"]

    @property
    def availability(self) -> float | None:
        """Run time / planned busy time."""
        return self.values["availability"]

    @property
    def performance(self) -> float | None:
        """Ideal cycle time x total count / run time."""
        return self.values["performance"]

    @property
    def quality(self) -> float | None:
        """Good (first pass) / total."""
        return self.values["quality"]

    @property
    def total_count(self) -> int:
        """Units completed in the period (at the counted station)."""
        return int(self.values["total_count"])

    @property
    def good_count(self) -> int:
        """Of which conforming at first pass."""
        return int(self.values["good_count"])

    @property
    def station(self) -> str | None:
        """The station counted, or None for the cell."""
        return self.values["station"]

    @property
    def by_day(self) -> pl.DataFrame:
        """One row per local day: ``date`` (text), ``availability``, ``performance``, ``quality``, ``oee``, ..."""
        return pl.DataFrame(self.values["by_day"], infer_schema_length=None)


@dataclass(frozen=True)
class CostFigures(Figures):
    """Cost per good unit by line and variant, in the cell's currency: the object of ``twin cost --json``."""

    @property
    def currency(self) -> str:
        """The ISO 4217 code every amount is in (the cell's ``cost.currency``)."""
        return str(self.values["currency"])

    @property
    def per_unit(self) -> float | None:
        """Total cost per good unit, in :attr:`currency`."""
        return self.values["cost_per_unit"]["total"]

    @property
    def cost_per_unit(self) -> dict[str, float | None]:
        """Cost line -> cost per good unit in :attr:`currency` (``total`` included)."""
        return dict(self.values["cost_per_unit"])

    @property
    def units(self) -> int:
        """Good units delivered in the period."""
        return int(self.values["units"])


@dataclass(frozen=True)
class CarbonFigures(Figures):
    """The carbon footprint by GHG Protocol scope (kg CO2e): the object of ``twin carbon --json``."""

    @property
    def per_unit_kg(self) -> dict[str, float | None]:
        """Scope (and ``total_location``, ``total_market``) -> kg CO2e per good unit."""
        return dict(self.values["per_unit_kg"])

    @property
    def energy_kwh(self) -> float:
        """The period's energy, kWh."""
        return float(self.values["energy_kwh"])

    @property
    def units(self) -> int:
        """Good units delivered in the period."""
        return int(self.values["units"])


@dataclass(frozen=True)
class QualityFigures(Figures):
    """First-pass yield, final yield, rework and scrap of the units completed in the period (and per variant)."""

    @property
    def first_pass_yield(self) -> float | None:
        """Units conforming at first pass / units completed."""
        return self.values["first_pass_yield"]

    @property
    def final_yield(self) -> float | None:
        """Units good in the end (first pass or reworked) / units completed."""
        return self.values["final_yield"]

    @property
    def units_completed(self) -> int:
        """Units completed in the period."""
        return int(self.values["units_completed"])


def _figures(kind: type[Figures], values: Mapping[str, Any]) -> Any:
    return kind(jsonable(values))


# ------------------------------------------------------------------------------------------------
# the period
# ------------------------------------------------------------------------------------------------


def characteristic_families(cell: CellSpec) -> tuple[str, ...]:
    """The quality characteristic families of a cell (those with specification limits), in file order.

    Args:
        cell: The validated cell.

    Returns:
        Family names such as ``gap_mm``.
    """
    return tuple(cell.quality.characteristics)


def _check_station(cell: CellSpec, station: str | None) -> None:
    if station is not None and station not in cell.robots and station not in cell.stations:
        valid = ", ".join([*cell.robots, *cell.stations])
        raise InputError(f"--station {station!r}: not a robot or station of cell {cell.cell.id}; valid: {valid}")


def _load(conn: Any, cell: CellSpec, span: Period, rows: store.Rows, station: str | None, detail: bool) -> Prepared:
    """Read a period's frames of one cell on an open connection and derive what the figures share."""
    data = store.load_period(
        conn,
        span,
        roles(cell),
        rows,
        cell.carbon.grid_region,
        list(characteristic_families(cell)) if detail else None,
        station,
        robot_cycles=detail,
        defects=detail,
    )
    return analytics_figures.prepare(cell, data)


@dataclass(frozen=True, eq=False)
class PeriodFigures:
    """One period of one telemetry source, read from the warehouse once; the figures are computed on request.

    Attributes:
        warehouse: The warehouse file.
        cell: The cell the figures use (with any overrides applied).
        period: The period, ``[start, end)`` in UTC with the cell's time zone.
        source: ``measured`` or ``simulated:<scenario>``.
        replication: The replication read (None: replication 0).
        prepared: The period's frames and what the figures share (units counted at the output station).
        detail: Whether the quality detail was read: first-pass measurements of every characteristic family,
            nonconforming measurements, robot cycle times (control charts, capability, defect Pareto,
            settings change).
    """

    warehouse: Path
    cell: CellSpec
    period: Period
    source: str
    replication: int | None
    prepared: Prepared
    detail: bool
    _by_station: dict[str, Prepared] = field(default_factory=dict, init=False, repr=False)

    @property
    def rows(self) -> store.Rows:
        """The warehouse rows read: the cell's, of the source and replication."""
        return store.Rows(self.cell.cell.id, self.source, self.replication)

    def ideal_cycle_s(self, station: str | None = None) -> dict[str, float]:
        """Ideal cycle time per variant for OEE performance: the takt of the cell's plan, or a station's work.

        Args:
            station: A robot or station id; None for the cell.

        Returns:
            Variant -> seconds.

        Raises:
            InputError: An unknown station, or a variant the plan finds infeasible.
        """
        _check_station(self.cell, station)
        return ideal.ideal_cycle_times(self.cell, station, warehouse=self.warehouse)

    def prepared_for(self, station: str | None) -> Prepared:
        """The period's frames with units counted at a station (read once per station, on first use).

        Args:
            station: A robot or station id; None for the output station.

        Returns:
            The prepared period.

        Raises:
            InputError: An unknown station.
            WarehouseError: The warehouse can no longer be read.
        """
        if station is None:
            return self.prepared
        _check_station(self.cell, station)
        if station not in self._by_station:
            with read_connection(self.warehouse) as conn:
                self._by_station[station] = _load(conn, self.cell, self.period, self.rows, station, detail=False)
        return self._by_station[station]

    def oee(self, station: str | None = None, ideal_cycle_s: Mapping[str, float] | None = None) -> OeeFigures:
        """OEE of the cell or one station over the period.

        Args:
            station: A robot or station id; None for the whole cell.
            ideal_cycle_s: Ideal cycle time per variant; by default :meth:`ideal_cycle_s` of the station. The
                dashboard passes the ones ``twin dashboard`` stored, so a page never plans the cell.

        Returns:
            The figures (``twin oee [--station S] --json``).

        Raises:
            InputError: An unknown station or variant.
        """
        prepared = self.prepared_for(station)
        times = dict(ideal_cycle_s) if ideal_cycle_s is not None else self.ideal_cycle_s(station)
        return _figures(OeeFigures, analytics_figures.oee_of(prepared, times, station))

    def cost(self) -> CostFigures:
        """Cost per good unit over the period.

        Returns:
            The figures (``twin cost --json``).
        """
        p = self.prepared
        return _figures(CostFigures, analytics_figures.cost_of(p, analytics_figures.planned_run_time_s(p)))

    def carbon(self) -> CarbonFigures:
        """Carbon footprint over the period.

        Returns:
            The figures (``twin carbon --json``).
        """
        return _figures(CarbonFigures, analytics_figures.carbon_of(self.prepared))

    def quality(self) -> QualityFigures:
        """First-pass yield, final yield, rework and scrap rates of the units completed in the period.

        Returns:
            The figures: ``period``, ``source`` and :func:`twin.analytics.quality.first_pass_yield`'s object.
        """
        p = self.prepared
        values = {
            "period": p.data.period.to_json(),
            "source": p.data.source,
            **first_pass_yield(p.units, p.cell.inspection_sampling),
        }
        return _figures(QualityFigures, values)

    def robot_energy(self) -> pl.DataFrame | None:
        """Robot energy per program step over the period, from joint-state power.

        Returns:
            :func:`twin.analytics.store.robot_energy_by_step`'s table, or None when the warehouse has no joint
            states.
        """
        with read_connection(self.warehouse) as conn:
            try:
                return store.robot_energy_by_step(conn, self.period, self.rows)
            except WarehouseError:  # no joint-state mart: the table is optional
                return None


def days_period(first: date, last: date, timezone: str) -> Period:
    """The period of whole local days ``first`` .. ``last`` (inclusive): ``--from first --to last+1``.

    Args:
        first: The first local day.
        last: The last local day (not before ``first``).
        timezone: The cell's IANA zone.

    Returns:
        The period.

    Raises:
        InputError: ``last`` is before ``first``.

    >>> p = days_period(date(2026, 10, 25), date(2026, 10, 25), "Europe/Berlin")  # the autumn DST change
    >>> p.start.isoformat(), p.hours
    ('2026-10-24T22:00:00+00:00', 25.0)
    """
    return parse_period(first.isoformat(), (last + timedelta(days=1)).isoformat(), timezone)


def _bound_text(value: Bound, option: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, date):  # datetime too; a naive one is refused by parse_instant with the reason
        return value.isoformat()
    raise InputError(f"{option}: expected a date, an aware datetime or text, not {type(value).__name__}")


def _check_source(source: str, replication: int | None) -> None:
    if source != "measured" and not source.startswith(SIMULATED_PREFIX):
        raise InputError(f"--source {source!r}: valid: measured, simulated:<scenario>")
    store.replication_of(replication, source)  # the same check as Rows, before the cell is known


def _check_bounds(lo: str | None, hi: str | None, timezone: str) -> None:
    for value, option in ((lo, "--from"), (hi, "--to")):
        if value is not None:
            parse_instant(value, timezone, option)
    if lo is not None and hi is not None:
        parse_period(lo, hi, timezone)


def _source_cell(source: str, cell: CellInput, overrides: Iterable[str]) -> CellSpec | None:
    """The cell of measured data; None for a simulated source, which is read on the cell stored with its run."""
    if not source.startswith(SIMULATED_PREFIX):
        return resolve_cell(cell, overrides)
    if list(overrides):
        raise InputError(
            f"--set changes the cell file; source {source} is read on the cell stored with its run "
            "(change the scenario and run it again instead)"
        )
    return None


def period(
    warehouse: str | Path,
    start: Bound = None,
    end: Bound = None,
    *,
    cell: CellInput = None,
    overrides: Iterable[str] = (),
    source: str = "measured",
    replication: int | None = None,
    detail: bool = False,
) -> PeriodFigures:
    """Read one period of the warehouse: the frames every period figure is computed from.

    One short-lived read-only connection to the warehouse's published snapshot is opened and closed.

    Args:
        warehouse: The DuckDB warehouse file.
        start: Inclusive start: a local date, an aware datetime or ``--from`` text; None for local midnight
            before the first data.
        end: Exclusive end, the same forms; None for local midnight after the last data.
        cell: The cell YAML (with ``overrides`` applied) or a validated cell; the sample cell when None. A
            simulated source is read on the cell stored with its run (a what-if's changed cell) instead.
        overrides: ``key=value`` changes of the cell file (``--set``); refused for a simulated source.
        source: ``measured`` or ``simulated:<scenario>``.
        replication: Which replication of a simulated source (default 0, its first; measured rows are
            replication 0).
        detail: Also read the quality detail (measurements, defects, robot cycles) the report and the
            dashboard's quality figures need; the OEE, cost and carbon figures do not.

    Returns:
        The period, whose methods give the figures.

    Raises:
        InputError: A malformed bound or source, a replication other than 0 of measured data, ``start`` not
            before ``end``, no bounds and no data, or no stored run of a simulated source.
        ConfigError: The cell file or an override is invalid.
        WarehouseError: No warehouse there, or it lacks the analytics marts.

    >>> period("no/such/warehouse.duckdb", "2026-10-05", "2026-10-05")
    Traceback (most recent call last):
    ...
    twin.errors.InputError: --from 2026-10-05T00:00:00+02:00 is not before --to 2026-10-05T00:00:00+02:00 (--from is inclusive, --to exclusive)
    """  # noqa: E501
    _check_source(source, replication)
    measured_cell = _source_cell(source, cell, overrides)
    lo, hi = _bound_text(start, "--from"), _bound_text(end, "--to")
    if measured_cell is not None:  # check what was given before touching the warehouse
        _check_bounds(lo, hi, measured_cell.cell.timezone)
    with read_connection(Path(warehouse)) as conn:
        spec = measured_cell if measured_cell is not None else scenario_cell(conn, source)
        timezone = spec.cell.timezone
        _check_bounds(lo, hi, timezone)
        rows = store.Rows(spec.cell.id, source, replication)
        default_start = default_end = None
        if lo is None or hi is None:
            bounds = data_period(*store.data_extent(conn, rows), timezone)
            if bounds is not None:
                default_start, default_end = bounds
        span = parse_period(lo, hi, timezone, default_start=default_start, default_end=default_end)
        prepared = _load(conn, spec, span, rows, None, detail)
    return PeriodFigures(Path(warehouse), spec, span, source, replication, prepared, detail)
