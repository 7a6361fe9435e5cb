"""Read a period's analytics frames from the warehouse marts, with parameterized queries only.

Every value that comes from a user (cell, period bounds, source, replication, region, station, characteristic
family) is bound as a query parameter; table and column names are constants of this module. Every read selects
:class:`Rows`: one cell's rows of one source, one replication at a time (several cells share a warehouse;
measured rows are replication 0, and so is a simulated source read without a replication,
:func:`replication_of`). Units are read when
any of their cycles touches the period (the analytics then keep those completed in it); fault and setup
intervals and nonconforming measurements within :data:`MARGIN` of the period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from twin.analytics import frames
from twin.analytics.frames import PeriodData, Roles
from twin.analytics.period import Period
from twin.errors import InputError, WarehouseError
from twin.telemetry.schema import MEASURED, SIMULATED_PREFIX
from twin.warehouse.scenario_runs import scenario_cell, stored_run

MARGIN = timedelta(days=1)
"""How far around the period fault and setup intervals and quality measurements are read."""

MARTS: tuple[str, ...] = (
    "mart_an_units",
    "mart_unit_disposition",
    "mart_an_occupancy_hourly",
    "mart_an_downtime",
    "mart_an_measurements",
    "mart_an_grid_hourly",
    "mart_an_robot_energy_hourly",
    "mart_energy_hourly",
)
"""The marts the analytics read: this package's ``mart_an_*`` and the warehouse's ``mart_unit_disposition`` and
``mart_energy_hourly``."""

PERIOD_MARTS: tuple[str, ...] = (
    "mart_an_units",
    "mart_unit_disposition",
    "mart_an_downtime",
    "mart_an_occupancy_hourly",
    "mart_energy_hourly",
    "mart_an_grid_hourly",
)
"""The marts :func:`load_period` reads for the OEE, cost and carbon figures (no measurements, defects or
robot cycles): what a what-if's scratch warehouse builds (:mod:`twin.warehouse.scratch`)."""

GRID_SOURCE = MEASURED
"""Grid intensity is an external series: always the cell's measured rows, whatever the energy source."""


def replication_of(replication: int | None, source: str = SIMULATED_PREFIX) -> int:
    """The replication a read selects: ``replication``, or 0 (measured rows; a simulated run's first) when None.

    >>> replication_of(None), replication_of(3)
    (0, 3)

    Raises:
        InputError: A negative replication, or one other than 0 of a measured ``source``.
    """
    if replication is None:
        return 0
    if replication < 0:
        raise InputError(f"replication {replication}: replications count from 0")
    if replication != 0 and not source.startswith(SIMULATED_PREFIX):
        raise InputError(f"replication {replication} of source {source!r}: measured rows are replication 0")
    return int(replication)


@dataclass(frozen=True)
class Rows:
    """Which rows of the warehouse a read selects: one cell's rows of one source and one replication.

    Args:
        cell_id: The cell whose rows are read (a warehouse may hold several cells).
        source: ``measured`` or ``simulated:<scenario>``.
        replication: Which replication of the source; None reads replication 0 (:func:`replication_of`).

    Raises:
        InputError: A negative replication, or one other than 0 of measured rows.

    >>> Rows("hinge-press", "simulated:night", 2).params(lo=1)
    {'cell': 'hinge-press', 'source': 'simulated:night', 'replication': 2, 'lo': 1}
    """

    cell_id: str
    source: str = MEASURED
    replication: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "replication", replication_of(self.replication, self.source))

    @property
    def grid(self) -> Rows:
        """The rows grid intensity is read from: the cell's measured rows (:data:`GRID_SOURCE`)."""
        return Rows(self.cell_id, GRID_SOURCE)

    def params(self, **more: Any) -> dict[str, Any]:
        """Query parameters ``$cell``, ``$source`` and ``$replication``, with ``more``."""
        return {"cell": self.cell_id, "source": self.source, "replication": self.replication, **more}


SELECTED = "cell_id = $cell and source = $source and replication = $replication"
"""The condition of :meth:`Rows.params` on a mart's rows."""


def arrow_table(result: Any) -> Any:
    """The Arrow table of a DuckDB result, across DuckDB versions (``to_arrow_table`` or ``arrow``)."""
    for name in ("to_arrow_table", "fetch_arrow_table", "arrow"):
        method = getattr(result, name, None)
        if method is not None:
            return method()
    raise WarehouseError("this DuckDB version cannot return Arrow tables")


def _query(conn: Any, sql: str, params: dict[str, Any], schema: dict[str, pl.DataType], name: str) -> pl.DataFrame:
    try:
        table = arrow_table(conn.sql(sql, params=params) if hasattr(conn, "sql") else conn.execute(sql, params))
    except duckdb.CatalogException as exc:
        found = re.search(r"Table with name (\w+) does not exist", str(exc))
        missing = found.group(1) if found else name
        hint = "ingest telemetry first" if missing.startswith("stg_") else "rebuild the marts (twin ingest builds them)"
        raise WarehouseError(f"the warehouse has no table {missing}: {hint} ({str(exc).splitlines()[0]})") from exc
    except duckdb.Error as exc:
        raise WarehouseError(f"reading {name} failed: {str(exc).splitlines()[0]}") from exc
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if frame.is_empty():
        return frames.empty(schema)
    return frames.conform(frame, schema, name)


def _station_sql(name: str) -> str:
    """The element of a per-station list of ``mart_an_units`` for the station bound to ``$<name>``."""
    return f"u.station_end_at[list_position(u.stations, ${name})]"


def load_units(
    conn: Any, period: Period, rows: Rows, output_station: str, parallel_stations: list[str],
    counted_station: str | None = None,
) -> pl.DataFrame:  # fmt: skip
    """The units whose cycles touch the period, with completion, run time and disposition (``mart_unit_disposition``).

    Args:
        conn: An open DuckDB connection.
        period: The reporting period.
        rows: The cell, source and replication read.
        output_station: Station whose cycle end completes a unit.
        parallel_stations: Stations left out of a unit's run time (those making parts ahead of the flow).
        counted_station: Station whose cycle ends fill ``station_end_at`` (default: the output station).

    Returns:
        :data:`twin.analytics.frames.UNITS` rows.
    """
    params = rows.params(lo=period.start, hi=period.end, output=output_station)
    params["counted"] = counted_station or output_station
    minus = []
    for i, station in enumerate(parallel_stations):
        params[f"par{i}"] = station
        minus.append(f" - coalesce(u.station_cycle_s[list_position(u.stations, $par{i})], 0.0)")
    sql = f"""
        select u.unit_id, u.variant, u.first_start_at, u.last_end_at,
               {_station_sql("output")} as completed_at,
               {_station_sql("counted")} as station_end_at,
               list_sum(u.station_cycle_s){"".join(minus)} as run_s,
               d.first_pass_result, d.final_result, d.is_inspected, d.is_first_pass_good, d.is_first_pass_failed,
               d.is_reworked, d.is_final_good, d.is_scrapped, d.is_escaped, d.is_fully_measured
        from mart_an_units as u
        inner join mart_unit_disposition as d
            on d.cell_id = u.cell_id and d.source = u.source and d.replication = u.replication
            and d.unit_id = u.unit_id
        where u.cell_id = $cell and u.source = $source and u.replication = $replication
          and u.last_end_at >= $lo and u.first_start_at < $hi
    """
    return _query(conn, sql, params, frames.UNITS, "mart_an_units")


def load_period(
    conn: Any,
    period: Period,
    roles: Roles,
    rows: Rows,
    region: str | None = None,
    families: list[str] | None = None,
    counted_station: str | None = None,
    robot_cycles: bool = False,
    defects: bool = False,
) -> PeriodData:
    """Every frame the period figures need.

    Args:
        conn: An open DuckDB connection (read-only is enough).
        period: The reporting period.
        roles: The cell's roles (output and parallel stations, robots).
        rows: The cell, source and replication read (grid intensity: the cell's measured rows).
        region: Grid region whose intensity is read; all regions when None.
        families: Quality characteristic families whose first-pass measurements to read (e.g.
            ``["screw_torque_nm", "gap_mm"]``); none when None.
        counted_station: A station or robot whose cycle ends OEE counts (default: the output station).
        robot_cycles: Also read each unit's robot cycle times (for the settings-change analysis).
        defects: Also read the nonconforming measurements of the period's units (defect Pareto).

    Returns:
        The :class:`~twin.analytics.frames.PeriodData`.

    Raises:
        WarehouseError: A mart is missing or a query fails.
    """
    units = load_units(conn, period, rows, roles.output_station, list(roles.parallel_stations), counted_station)
    downtime = _query(
        conn,
        f"""
        select station_id, kind, code, start_at, end_at from mart_an_downtime
        where {SELECTED}
          and (start_at is null or start_at < $hi) and (end_at is null or end_at > $lo)
        """,
        rows.params(lo=period.start - MARGIN, hi=period.end + MARGIN),
        frames.DOWNTIME,
        "mart_an_downtime",
    )
    hours = {"lo": period.start - timedelta(hours=1), "hi": period.end}
    occupancy = _query(
        conn,
        "select station_id, variant, hour_at, busy_s, n_units from mart_an_occupancy_hourly "
        f"where {SELECTED} and hour_at >= $lo and hour_at < $hi",
        rows.params(**hours),
        frames.OCCUPANCY,
        "mart_an_occupancy_hourly",
    )
    energy = _query(
        conn,
        "select meter_id, hour_at, energy_kwh as kwh from mart_energy_hourly "
        f"where {SELECTED} and hour_at >= $lo and hour_at < $hi",
        rows.params(**hours),
        frames.ENERGY_HOURLY,
        "mart_energy_hourly",
    )
    grid_params = rows.grid.params(**hours)
    region_filter = ""
    if region is not None:
        grid_params["region"] = region
        region_filter = " and region = $region"
    grid = _query(
        conn,
        f"select region, hour_at, gco2e_per_kwh from mart_an_grid_hourly where {SELECTED} "
        "and hour_at >= $lo and hour_at < $hi" + region_filter,
        grid_params,
        frames.GRID_HOURLY,
        "mart_an_grid_hourly",
    )
    nonconforming = load_defects(conn, period, units, rows) if defects else frames.empty(frames.DEFECTS)
    measurements = load_measurements(conn, period, families, rows) if families else frames.empty(frames.MEASUREMENTS)
    cycles = load_robot_cycles(conn, period, list(roles.robots), rows) if robot_cycles else None
    return PeriodData(
        period=period,
        units=units,
        downtime=downtime,
        occupancy=occupancy,
        energy_hourly=energy,
        grid_hourly=grid,
        defects=nonconforming,
        measurements=measurements,
        robot_cycles=cycles if cycles is not None else frames.empty(frames.ROBOT_CYCLES),
        source=rows.source,
        counted_station=counted_station,
        replication=int(rows.replication or 0),
    )


def load_defects(conn: Any, period: Period, units: pl.DataFrame, rows: Rows) -> pl.DataFrame:
    """Nonconforming measurements of the given units, measured within :data:`MARGIN` of the period.

    Args:
        conn: An open DuckDB connection.
        period: The reporting period.
        units: The period's units (``unit_id``), e.g. :func:`load_units`.
        rows: The cell, source and replication read.

    Returns:
        :data:`twin.analytics.frames.DEFECTS` rows.
    """
    sql = f"""
        select unit_id, measured_at, station_id, characteristic, defect, is_first_pass from mart_an_measurements
        where {SELECTED} and not is_conforming
          and measured_at >= $lo and measured_at < $hi
    """
    params = rows.params(lo=period.start - MARGIN, hi=period.end + MARGIN)
    found = _query(conn, sql, params, frames.DEFECTS, "mart_an_measurements")
    return found.join(units.select("unit_id"), on="unit_id", how="semi")


def load_measurements(conn: Any, period: Period, families: list[str], rows: Rows) -> pl.DataFrame:
    """First-pass quality measurements of some characteristic families taken in the period (any order).

    Args:
        conn: An open DuckDB connection.
        period: The reporting period (measurement times inside it).
        families: Characteristic families (``screw_torque_nm``, ``gap_mm``), bound as a parameter.
        rows: The cell, source and replication read.

    Returns:
        :data:`twin.analytics.frames.MEASUREMENTS` rows, in time order.
    """
    sql = f"""
        select unit_id, measured_at, family, value
        from mart_an_measurements
        where {SELECTED} and is_first_pass
          and list_contains($families::varchar[], family)
          and measured_at >= $lo and measured_at < $hi
    """
    params = rows.params(lo=period.start, hi=period.end, families=list(families))
    return _query(conn, sql, params, frames.MEASUREMENTS, "mart_an_measurements")


def load_robot_cycles(conn: Any, period: Period, robots: list[str], rows: Rows) -> pl.DataFrame:
    """Each period unit's cycle time on each robot.

    Args:
        conn: An open DuckDB connection.
        period: The reporting period.
        robots: Robot ids, bound as a parameter.
        rows: The cell, source and replication read.

    Returns:
        :data:`twin.analytics.frames.ROBOT_CYCLES` rows.
    """
    sql = f"""
        with per_station as (
            select unit_id, variant, first_start_at as "at",
                   unnest(stations) as station_id, unnest(station_cycle_s) as duration_s
            from mart_an_units
            where {SELECTED} and last_end_at >= $lo and first_start_at < $hi
        )
        select unit_id, station_id, variant, "at", duration_s from per_station
        where list_contains($robots::varchar[], station_id)
    """
    params = rows.params(lo=period.start, hi=period.end, robots=list(robots))
    return _query(conn, sql, params, frames.ROBOT_CYCLES, "mart_an_units")


def data_extent(conn: Any, rows: Rows) -> tuple[datetime | None, datetime | None]:
    """First cycle start and last cycle end of a cell's source (for the default period).

    A simulated source with a stored run (:mod:`twin.warehouse.scenario_runs`) spans its horizon instead:
    its first instant and the last microsecond before its end, so the default period is the horizon the
    scenario's KPIs were computed over (rounded out to local midnights).

    Args:
        conn: An open DuckDB connection.
        rows: The cell, source and replication read.

    Returns:
        ``(first, last)`` as aware UTC datetimes, or ``(None, None)`` without data.
    """
    run = stored_run(conn, rows.source) if rows.source.startswith(SIMULATED_PREFIX) else None
    if run is not None:
        zone = ZoneInfo(scenario_cell(conn, rows.source).cell.timezone)
        first = datetime.combine(run["start_date"], time(0), tzinfo=zone).astimezone(UTC)
        end = first + timedelta(days=float(run["horizon_days"]))
        return first, end - timedelta(microseconds=1)
    frame = _query(
        conn,
        f"select min(first_start_at) as start_at, max(last_end_at) as end_at from mart_an_units where {SELECTED}",
        rows.params(),
        {"start_at": frames.UTC_US, "end_at": frames.UTC_US},
        "mart_an_units",
    )
    if frame.is_empty() or frame["start_at"][0] is None:
        return None, None
    return frame["start_at"][0], frame["end_at"][0]


def robot_energy_by_step(conn: Any, period: Period, rows: Rows) -> pl.DataFrame:
    """Robot electrical energy per program step, integrated from joint-state power (``mart_an_robot_energy_hourly``).

    Args:
        conn: An open DuckDB connection.
        period: The reporting period (whole UTC hours starting inside it).
        rows: The cell, source and replication read.

    Returns:
        ``robot_id``, ``program_step``, ``n_samples``, ``logged_s``, ``kwh``, ``mean_power_w``, ``peak_power_w``.
    """
    schema = {
        "robot_id": pl.String(),
        "program_step": pl.String(),
        "n_samples": pl.Int64(),
        "logged_s": pl.Float64(),
        "kwh": pl.Float64(),
        "mean_power_w": pl.Float64(),
        "peak_power_w": pl.Float64(),
    }
    sql = f"""
        select robot_id, program_step, sum(n_samples) as n_samples, sum(logged_s) as logged_s, sum(kwh) as kwh,
               case when sum(logged_s) > 0 then sum(kwh) * 3.6e6 / sum(logged_s) end as mean_power_w,
               max(peak_power_w) as peak_power_w
        from mart_an_robot_energy_hourly
        where {SELECTED} and hour_at >= $lo and hour_at < $hi
        group by robot_id, program_step
        order by robot_id, program_step
    """
    return _query(conn, sql, rows.params(lo=period.start, hi=period.end), schema, "mart_an_robot_energy_hourly")
