"""What the dashboard pages show, computed from the warehouse's published snapshot (no Streamlit, no physics).

The pages (``apps/views/*.py``) import this module and :mod:`twin.warehouse.connection` only; every number a
page shows comes from a function here, built on the same analytics the ``twin`` commands use, so the
Overview's OEE is the OEE of ``twin oee --json`` for the same period, and so on:

- :func:`load_prepared` reads a period as ``twin oee|cost|carbon`` do (:func:`twin.analytics.commands.load_prepared`);
- :func:`oee_figures`, :func:`cost_figures`, :func:`carbon_figures` are the objects those commands print;
- the rest shapes them for the pages (KPI deltas, daily trends, control charts, breakdown tables).

OEE performance needs the ideal cycle time of each variant, which comes from the physics twin's plan. A
page never plans: ``twin dashboard`` (a CLI process) stores the cell's plan in the warehouse
(:mod:`twin.warehouse.plans`), and :func:`load_ideal` reads it from the snapshot by the content hash of
the current cell file.

Warehouse state for the "what is missing and how to get it" messages: :func:`warehouse_status` reads the
snapshot once (which streams have measured rows, which tables exist, the data's extent).
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from twin.analytics.ideal import plan_ideal_cycle_times
from twin.analytics.period import Period, parse_period
from twin.cell.load import load_cell
from twin.errors import InputError, TwinError
from twin.paths import DEFAULT_CELL, default_warehouse
from twin.scenarios.spec import SCENARIO_KPIS
from twin.warehouse.plans import find_plan

__all__ = [
    "DashboardError",
    "IdealTimes",
    "MissingData",
    "TwinError",
    "WarehouseStatus",
    "default_warehouse",
]

STREAMS: tuple[str, ...] = ("events", "quality", "energy", "grid_intensity", "joint_states")
"""The telemetry streams (SPEC.md, telemetry contract)."""

STREAM_USE: dict[str, str] = {
    "events": "cycles, units, faults and setups: OEE, throughput and every per-unit figure",
    "quality": "measurements: first-pass yield, control charts, capability and the defect Pareto",
    "energy": "meter readings: energy cost and the carbon footprint",
    "grid_intensity": "hourly grid carbon intensity: location-based scope 2",
    "joint_states": "robot joint states: the replay of recorded cycles",
}

FAMILIES: tuple[str, ...] = ("screw_torque_nm", "gap_mm", "flush_mm")
"""Quality characteristic families of the cell (first-pass measurements read with a period)."""

REPLAY_TABLES: tuple[str, ...] = ("raw_replay_runs", "raw_replay_cycles", "raw_replay_anomalies", "raw_replay_series")

KPI_NAMES: dict[str, tuple[str, str]] = {
    "units": ("Units completed", "units"),
    "oee": ("OEE", "ratio"),
    "cost_per_unit": ("Cost per unit", "EUR/unit"),
    "kgco2e_per_unit": ("kgCO2e per unit", "kg CO2e/unit"),
    "first_pass_yield": ("First-pass yield", "ratio"),
}
"""The Overview's headline KPIs: key -> (label, unit)."""

HIGHER_IS_BETTER: dict[str, bool] = {
    "units": True,
    "oee": True,
    "cost_per_unit": False,
    "kgco2e_per_unit": False,
    "first_pass_yield": True,
}


class DashboardError(TwinError):
    """A page cannot show what was asked (a bad filter value, a missing input)."""


class MissingData(DashboardError):
    """The warehouse lacks what a page needs; the message says what and how to get it."""


# ------------------------------------------------------------------------------------------------
# ideal cycle times (written by `twin dashboard`, read by the pages)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdealTimes:
    """The plan's ideal cycle time per variant: the cell's takt and each station's work per unit (s)."""

    cell: dict[str, float]
    stations: dict[str, dict[str, float]]
    computed_at: str = ""

    def for_station(self, station: str | None) -> dict[str, float]:
        """Ideal cycle time per variant of the cell (None) or of one robot or station.

        Raises:
            MissingData: The station is not in the plan.
        """
        if station is None:
            return dict(self.cell)
        if station not in self.stations:
            raise MissingData(
                f"no ideal cycle time for station {station!r} in the plan; known: {', '.join(self.stations)}"
            )
        return dict(self.stations[station])


def load_ideal(warehouse: str | Path, cell_file: str | Path | None = None) -> IdealTimes:
    """The ideal cycle times of the cell's plan stored in this warehouse (``twin dashboard`` stores it).

    Args:
        warehouse: The warehouse file.
        cell_file: The cell YAML the pages use (default: the sample cell).

    Returns:
        The times.

    Raises:
        MissingData: No plan of this version of the cell (file, URDFs, physics model) is stored, or it is infeasible.
    """
    try:
        cell = load_cell(Path(cell_file) if cell_file is not None else DEFAULT_CELL)
        plan = find_plan(cell, warehouse, search_cache=False)
        return IdealTimes(
            cell=plan_ideal_cycle_times(plan),
            stations={sid: plan_ideal_cycle_times(plan, sid) for sid in [*cell.robots, *cell.stations]},
        )
    except TwinError as exc:
        raise MissingData(f"OEE needs the ideal cycle times of the physics twin's plan: {exc}") from exc


# ------------------------------------------------------------------------------------------------
# the cell, as the pages need it
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellSummary:
    """What the pages need of the cell definition (plain values: cached and pickled by the app).

    Attributes:
        cell_id: The cell's id.
        name: Its name.
        timezone: IANA zone days and shifts are counted in.
        region: Grid region.
        variants: Variant ids.
        robots: Robot ids.
        stations: Station ids.
        spec_limits: Quality family -> ``(lsl, usl, target)``.
        layout: One row per robot and station: ``id``, ``kind``, ``x_m``, ``y_m``, ``yaw_deg``.
    """

    cell_id: str
    name: str
    timezone: str
    region: str
    variants: tuple[str, ...]
    robots: tuple[str, ...]
    stations: tuple[str, ...]
    spec_limits: dict[str, tuple[float | None, float | None, float | None]]
    layout: tuple[tuple[str, str, float, float, float], ...]


def cell_summary(cell_file: str | Path | None = None) -> CellSummary:
    """Load and summarize the cell definition (validated; no physics).

    Args:
        cell_file: The cell YAML (default: the sample cell).

    Returns:
        The summary.

    Raises:
        ConfigError: The file is invalid.
    """
    from twin.cell.load import load_cell

    cell = load_cell(Path(cell_file) if cell_file is not None else DEFAULT_CELL)
    limits = {}
    for name in FAMILIES:
        spec = getattr(cell.quality, name, None)
        if spec is not None:
            limits[name] = (spec.lsl, spec.usl, spec.target)
    layout = [
        (rid, f"robot ({r.model})", r.base_pose.x_m, r.base_pose.y_m, r.base_pose.yaw_deg)
        for rid, r in cell.robots.items()
    ]
    layout += [(sid, str(s.kind), s.pose.x_m, s.pose.y_m, s.pose.yaw_deg) for sid, s in cell.stations.items()]
    return CellSummary(
        cell_id=cell.cell.id,
        name=cell.cell.name,
        timezone=cell.cell.timezone,
        region=cell.carbon.grid_region,
        variants=tuple(cell.variants),
        robots=tuple(cell.robots),
        stations=tuple(cell.stations),
        spec_limits=limits,
        layout=tuple(layout),
    )


# ------------------------------------------------------------------------------------------------
# the warehouse's state
# ------------------------------------------------------------------------------------------------


def snapshot_file(warehouse: str | Path) -> Path | None:
    """The file a reader opens: the published snapshot, else the warehouse itself, else None.

    Args:
        warehouse: The warehouse file.

    Returns:
        The path, or None without a warehouse.
    """
    from twin.warehouse.snapshot import snapshot_path

    path = Path(warehouse)
    snap = path if path.name.endswith(".read.duckdb") else snapshot_path(path)
    if snap.is_file():
        return snap
    return path if path.is_file() else None


def snapshot_version(warehouse: str | Path) -> int:
    """A number that changes whenever a new snapshot is published (the file's mtime in ns; 0 without one).

    Cached page queries are keyed on it, so a newly published snapshot shows up on the next rerun.

    Args:
        warehouse: The warehouse file.

    Returns:
        The version.
    """
    snap = snapshot_file(warehouse)
    if snap is None:
        return 0
    try:
        stat = snap.stat()
    except FileNotFoundError:
        return 0
    return stat.st_mtime_ns ^ stat.st_size


@dataclass(frozen=True)
class WarehouseStatus:
    """What the published snapshot holds.

    Attributes:
        warehouse: The warehouse file.
        snapshot: The file read (None without a warehouse).
        published_at: Its modification time.
        tables: Table and view names.
        rows: Measured rows per stream (0 when the stream's table is missing).
        first_day: The first local day with units (None without).
        last_day: The last local day with units.
        replay_runs: Replay runs stored.
        problem: Why the snapshot could not be read (None when it could).
    """

    warehouse: str
    snapshot: str | None
    published_at: datetime | None = None
    tables: frozenset[str] = frozenset()
    rows: dict[str, int] = field(default_factory=dict)
    first_day: date | None = None
    last_day: date | None = None
    replay_runs: int = 0
    problem: str | None = None

    @property
    def exists(self) -> bool:
        """A warehouse file (or snapshot) is there."""
        return self.snapshot is not None

    @property
    def is_empty(self) -> bool:
        """No measured telemetry in any stream."""
        return not any(self.rows.get(s, 0) for s in STREAMS)

    @property
    def has_marts(self) -> bool:
        """The analytics marts are built."""
        return {"mart_an_units", "mart_an_downtime"} <= self.tables

    def missing(self, needs: Sequence[str]) -> list[str]:
        """The streams of ``needs`` without measured rows."""
        return [s for s in needs if not self.rows.get(s, 0)]


def _count(con: Any, tables: set[str], stream: str) -> int:
    for table in (f"stg_{stream}", f"raw_{stream}"):
        if table in tables:
            try:
                columns = {r[0] for r in con.execute(f"describe {table}").fetchall()}
                where = " where source = 'measured'" if "source" in columns else ""
                return int(con.execute(f"select count(*) from {table}{where}").fetchall()[0][0])
            except Exception:  # noqa: BLE001 - a broken view counts as no rows; the status says so
                return 0
    return 0


def warehouse_status(warehouse: str | Path, timezone: str) -> WarehouseStatus:
    """Read what the warehouse's published snapshot holds (one short-lived read-only connection).

    Args:
        warehouse: The warehouse file.
        timezone: The cell's zone (days are local).

    Returns:
        The status; ``problem`` says why the snapshot could not be read.
    """
    from twin.warehouse.connection import read_connection

    path = Path(warehouse)
    snap = snapshot_file(path)
    if snap is None:
        return WarehouseStatus(str(path), None)
    published = datetime.fromtimestamp(snap.stat().st_mtime).astimezone()
    try:
        with read_connection(path) as con:
            tables = {str(r[0]) for r in con.execute("select table_name from information_schema.tables").fetchall()}
            rows = {s: _count(con, tables, s) for s in STREAMS}
            first_day = last_day = None
            if "mart_an_units" in tables and rows["events"]:
                from twin.analytics.store import data_extent

                first, last = data_extent(con)
                if first is not None and last is not None:
                    from zoneinfo import ZoneInfo

                    first_day = first.astimezone(ZoneInfo(timezone)).date()
                    last_day = last.astimezone(ZoneInfo(timezone)).date()
            replay_runs = 0
            if "raw_replay_runs" in tables:
                replay_runs = int(con.execute("select count(*) from raw_replay_runs").fetchall()[0][0])
    except TwinError as exc:
        return WarehouseStatus(str(path), str(snap), published, problem=str(exc))
    return WarehouseStatus(str(path), str(snap), published, frozenset(tables), rows, first_day, last_day, replay_runs)


def missing_message(status: WarehouseStatus, needs: Sequence[str] = ("events",)) -> str | None:
    """What a page needs that the warehouse lacks, and how to get it (Markdown); None when nothing is missing.

    Args:
        status: The warehouse's status.
        needs: The streams the page needs.

    Returns:
        The message, or None.
    """
    where = f"`{status.warehouse}`"
    if not status.exists:
        return (
            f"**No warehouse at {where}.** Run `twin demo` to build the demo warehouse (30 days of telemetry from "
            "the twin, replays, scenarios and the report), or `twin ingest DIR` to load your own telemetry; "
            "`twin dashboard` builds the demo by itself when there is no warehouse."
        )
    if status.problem:
        return f"**The warehouse {where} cannot be read:** {status.problem}"
    if status.is_empty:
        return (
            f"**The warehouse {where} holds no telemetry yet.** Run `twin ingest DIR` with telemetry files "
            "(`twin generate --days 30 --out DIR` writes synthetic ones), or `twin demo`."
        )
    missing = status.missing(needs)
    if missing:
        lines = [f"**The warehouse {where} has no measured `{s}` telemetry**, which this page needs for "
                 f"{STREAM_USE[s]}." for s in missing]  # fmt: skip
        names = " and ".join(f"`{s}`" for s in missing)
        lines.append(
            f"Ingest {names} files with `twin ingest FILE...` (or run `twin demo` for a complete demo warehouse)."
        )
        return "\n\n".join(lines)
    if "events" in needs and not status.has_marts:
        return (
            f"**The warehouse {where} has telemetry but its analytics marts are not built.** Run `twin ingest` "
            "again on any telemetry file (it rebuilds the marts), or `twin demo`."
        )
    if "events" in needs and status.first_day is None:
        return f"**The warehouse {where} has events but no complete unit cycles yet.** Ingest more `events` telemetry."
    return None


# ------------------------------------------------------------------------------------------------
# periods
# ------------------------------------------------------------------------------------------------

PERIOD_CHOICES: tuple[str, ...] = ("All data", "Last day", "Last 7 days", "Custom")


def period_days(
    choice: str, first_day: date, last_day: date, custom: Sequence[date] | None = None
) -> tuple[date, date]:
    """The first and last local day (inclusive) of a period choice of the sidebar.

    Args:
        choice: One of :data:`PERIOD_CHOICES`.
        first_day: The data's first local day.
        last_day: The data's last local day.
        custom: The chosen days for ``Custom`` (one or two dates).

    Returns:
        ``(first, last)``, clipped to the data.

    Raises:
        InputError: An unknown choice.

    >>> period_days("Last 7 days", date(2026, 10, 5), date(2026, 11, 3))
    (datetime.date(2026, 10, 28), datetime.date(2026, 11, 3))
    """
    if choice == "All data":
        return first_day, last_day
    if choice == "Last day":
        return last_day, last_day
    if choice == "Last 7 days":
        return max(first_day, last_day - timedelta(days=6)), last_day
    if choice == "Custom":
        days = [d for d in (custom or ()) if d is not None]
        if not days:
            return first_day, last_day
        lo, hi = min(days), max(days)
        return max(lo, first_day), max(min(hi, last_day), max(lo, first_day))
    raise InputError(f"unknown period {choice!r}; valid: {', '.join(PERIOD_CHOICES)}")


def period_of(first: date, last: date, timezone: str) -> Period:
    """The period of local days ``first`` .. ``last`` (inclusive): ``--from first --to last+1``.

    >>> p = period_of(date(2026, 10, 5), date(2026, 10, 5), "Europe/Berlin")
    >>> p.start.isoformat(), p.hours
    ('2026-10-04T22:00:00+00:00', 24.0)
    """
    return parse_period(first.isoformat(), (last + timedelta(days=1)).isoformat(), timezone)


def previous_days(first: date, last: date, data_first: date | None) -> tuple[date, date] | None:
    """The same number of days just before a period, or None when that lies before the data.

    >>> previous_days(date(2026, 10, 6), date(2026, 10, 6), date(2026, 10, 5))
    (datetime.date(2026, 10, 5), datetime.date(2026, 10, 5))
    >>> previous_days(date(2026, 10, 5), date(2026, 10, 6), date(2026, 10, 5)) is None
    True
    """
    n = (last - first).days + 1
    lo, hi = first - timedelta(days=n), first - timedelta(days=1)
    if data_first is None or lo < data_first:
        return None
    return lo, hi


# ------------------------------------------------------------------------------------------------
# period figures: the objects of `twin oee|cost|carbon --json`
# ------------------------------------------------------------------------------------------------


def load_prepared(
    warehouse: str | Path,
    start: str | None,
    end: str | None,
    cell_file: str | Path | None = None,
    station: str | None = None,
    families: Sequence[str] | None = FAMILIES,
    robot_cycles: bool = True,
    source: str = "measured",
) -> Any:
    """Read a period from the snapshot exactly as ``twin oee|cost|carbon --from START --to END`` do.

    Args:
        warehouse: The warehouse file.
        start: ``--from`` (a date is local midnight); None for the data's first day.
        end: ``--to`` (exclusive); None for after the data's last day.
        cell_file: The cell YAML (default: the sample cell).
        station: A robot or station whose cycle ends OEE counts (``--station``); None for the cell.
        families: Quality families whose first-pass measurements to read as well.
        robot_cycles: Also read the units' robot cycle times (for the process-change analysis).
        source: ``measured`` or ``simulated:<scenario>`` (``--source``).

    Returns:
        ``(cell, prepared)`` (:class:`twin.analytics.figures.Prepared`).

    Raises:
        TwinError: No warehouse, a missing mart, a bad period or station.
    """
    from twin.analytics.commands import load_prepared as cli_load_prepared

    args = argparse.Namespace(
        warehouse=str(warehouse),
        start=start,
        end=end,
        cell=str(cell_file if cell_file is not None else DEFAULT_CELL),
        overrides=[],
        source=source,
        station=station,
    )
    return cli_load_prepared(args, list(families) if families else None, station=station, robot_cycles=robot_cycles)


def oee_figures(prepared: Any, ideal: IdealTimes, station: str | None = None) -> dict[str, Any]:
    """The object ``twin oee [--station S] --json`` prints (JSON values: NaN as None, dates as text).

    Args:
        prepared: :func:`load_prepared` of the same station.
        ideal: The plan's ideal cycle times.
        station: A robot or station, or None for the cell.

    Returns:
        The OEE object.
    """
    from twin.analytics import figures
    from twin.analytics.commands import jsonable

    return jsonable(figures.oee_of(prepared, ideal.for_station(station), station))


def cost_figures(prepared: Any) -> dict[str, Any]:
    """The object ``twin cost --json`` prints."""
    from twin.analytics import figures
    from twin.analytics.commands import jsonable

    return jsonable(figures.cost_of(prepared, figures.planned_run_time_s(prepared)))


def carbon_figures(prepared: Any) -> dict[str, Any]:
    """The object ``twin carbon --json`` prints."""
    from twin.analytics import figures
    from twin.analytics.commands import jsonable

    return jsonable(figures.carbon_of(prepared))


def yield_figures(prepared: Any) -> dict[str, Any]:
    """First-pass yield, final yield, rework and scrap of the period's completed units (and per variant)."""
    from twin.analytics import quality
    from twin.analytics.commands import jsonable

    return jsonable(quality.first_pass_yield(prepared.units))


def _variant_row(rows: Sequence[Mapping[str, Any]], variant: str | None) -> Mapping[str, Any] | None:
    return next((r for r in rows if r.get("variant") == variant), None)


def headline_kpis(
    oee: Mapping[str, Any] | None,
    cost: Mapping[str, Any] | None,
    carbon: Mapping[str, Any] | None,
    fpy: Mapping[str, Any] | None,
    variant: str | None = None,
) -> dict[str, float | None]:
    """The Overview's five KPIs from the command objects (None where a figure is unavailable).

    - ``units``: units completed in the period (``twin oee``'s ``total_count`` for the cell);
    - ``oee``: OEE (cell or station; not split by variant);
    - ``cost_per_unit``: ``twin cost``'s total per good unit;
    - ``kgco2e_per_unit``: ``twin carbon``'s per good unit, market-based (scope 1 + scope 2 market + scope 3
      cat. 1, as the scenario KPI ``kgco2e_per_unit``);
    - ``first_pass_yield``: first-pass good / completed.

    With a variant, units, cost, carbon and yield are that variant's rows.

    Args:
        oee: ``twin oee`` object (or None).
        cost: ``twin cost`` object.
        carbon: ``twin carbon`` object.
        fpy: :func:`yield_figures`.
        variant: A variant, or None for all.

    Returns:
        KPI key (:data:`KPI_NAMES`) -> value.

    >>> headline_kpis({"oee": 0.5, "total_count": 10}, {"cost_per_unit": {"total": 2.0}, "by_variant": []},
    ...               {"per_unit_kg": {"total_market": 1.5}, "by_variant": []},
    ...               {"units_completed": 10, "first_pass_yield": 0.9, "by_variant": []})
    {'units': 10.0, 'oee': 0.5, 'cost_per_unit': 2.0, 'kgco2e_per_unit': 1.5, 'first_pass_yield': 0.9}
    """
    out: dict[str, float | None] = dict.fromkeys(KPI_NAMES)
    if oee is not None:
        out["oee"] = oee.get("oee")
    if variant is None:
        if fpy is not None:
            out["units"] = float(fpy["units_completed"])
            out["first_pass_yield"] = fpy.get("first_pass_yield")
        elif oee is not None:
            out["units"] = float(oee["total_count"])
        if cost is not None:
            out["cost_per_unit"] = cost["cost_per_unit"].get("total")
        if carbon is not None:
            out["kgco2e_per_unit"] = carbon["per_unit_kg"].get("total_market")
        return out
    row = _variant_row(fpy["by_variant"], variant) if fpy is not None else None
    out["units"] = float(row["units_completed"]) if row else 0.0
    out["first_pass_yield"] = row.get("first_pass_yield") if row else None
    crow = _variant_row(cost["by_variant"], variant) if cost is not None else None
    out["cost_per_unit"] = crow["cost_per_unit"].get("total") if crow else None
    krow = _variant_row(carbon["by_variant"], variant) if carbon is not None else None
    out["kgco2e_per_unit"] = krow["per_unit_kg"].get("total_market") if krow else None
    return out


def kpi_deltas(current: Mapping[str, float | None], previous: Mapping[str, float | None] | None) -> pl.DataFrame:
    """The KPIs beside the previous period's, with the change and whether it is an improvement.

    Args:
        current: :func:`headline_kpis` of the period.
        previous: The same of the previous period, or None.

    Returns:
        ``kpi``, ``label``, ``unit``, ``value``, ``previous``, ``delta``, ``delta_pct``, ``is_better``.

    >>> kpi_deltas({"units": 12.0, "oee": None}, {"units": 10.0, "oee": 0.5}).select("kpi", "delta", "is_better").rows()
    [('units', 2.0, True), ('oee', None, None)]
    """
    rows = []
    for key, value in current.items():
        label, unit = KPI_NAMES.get(key, (key, ""))
        prev = previous.get(key) if previous is not None else None
        delta = value - prev if value is not None and prev is not None else None
        pct = delta / abs(prev) if delta is not None and prev else None
        better = None if delta is None or delta == 0 else (delta > 0) == HIGHER_IS_BETTER.get(key, True)
        rows.append(
            {"kpi": key, "label": label, "unit": unit, "value": value, "previous": prev, "delta": delta,
             "delta_pct": pct, "is_better": better}
        )  # fmt: skip
    schema = {
        "kpi": pl.String(),
        "label": pl.String(),
        "unit": pl.String(),
        "value": pl.Float64(),
        "previous": pl.Float64(),
        "delta": pl.Float64(),
        "delta_pct": pl.Float64(),
        "is_better": pl.Boolean(),
    }
    return pl.DataFrame(rows, schema=schema)


def format_kpi(key: str, value: float | None) -> str:
    """A KPI as the pages print it (the tests compare these strings with the commands' numbers).

    >>> format_kpi("oee", 0.74805), format_kpi("units", 3061.0), format_kpi("cost_per_unit", 12.3456)
    ('74.8 %', '3,061', '12.35 EUR')
    >>> format_kpi("kgco2e_per_unit", 1.23456), format_kpi("first_pass_yield", None)
    ('1.235 kg', 'n/a')
    """
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    if key in ("oee", "first_pass_yield") or key.endswith(("_yield", "_rate", "availability", "performance")):
        return f"{100 * value:.1f} %"
    if key == "units":
        return f"{value:,.0f}"
    if key == "cost_per_unit":
        return f"{value:,.2f} EUR"
    if key == "kgco2e_per_unit":
        return f"{value:,.3f} kg"
    return f"{value:,.4g}"


def format_delta(key: str, delta: float | None) -> str | None:
    """A KPI change as the pages print it (None without a previous period).

    >>> format_delta("oee", -0.0123), format_delta("units", 12.0), format_delta("cost_per_unit", None)
    ('-1.2 pp', '+12', None)
    """
    if delta is None:
        return None
    if key in ("oee", "first_pass_yield"):
        return f"{100 * delta:+.1f} pp"
    if key == "units":
        return f"{delta:+,.0f}"
    if key == "cost_per_unit":
        return f"{delta:+,.2f} EUR"
    if key == "kgco2e_per_unit":
        return f"{delta:+,.3f} kg"
    return f"{delta:+,.4g}"


def daily_trends(prepared: Any, oee: Mapping[str, Any] | None = None, variant: str | None = None) -> pl.DataFrame:
    """One row per local day of the period: units, first-pass yield, energy per good unit and OEE.

    Args:
        prepared: The prepared period.
        oee: ``twin oee`` object of the period (its ``by_day`` OEE), or None.
        variant: Only this variant's units (energy stays the cell's).

    Returns:
        ``date``, ``units_completed``, ``good_units``, ``first_pass_yield``, ``energy_kwh``,
        ``kwh_per_good_unit``, ``oee``.
    """
    tz = prepared.data.period.timezone
    units = prepared.units.filter(pl.col("in_period"))
    if variant is not None:
        units = units.filter(pl.col("variant") == variant)
    days = pl.DataFrame({"date": prepared.data.period.local_dates()}, schema={"date": pl.Date()})
    per_day = units.group_by(pl.col("completed_at").dt.convert_time_zone(tz).dt.date().alias("date")).agg(
        pl.len().cast(pl.Int64).alias("units_completed"),
        pl.col("is_final_good").sum().cast(pl.Int64).alias("good_units"),
        pl.col("is_first_pass_good").mean().alias("first_pass_yield"),
    )
    hourly = prepared.split.hourly
    energy = (
        hourly.group_by(pl.col("hour_at").dt.convert_time_zone(tz).dt.date().alias("date")).agg(
            pl.col("kwh").sum().alias("energy_kwh")
        )
        if hourly.height
        else pl.DataFrame(schema={"date": pl.Date(), "energy_kwh": pl.Float64()})
    )
    oee_rows = [(date.fromisoformat(d["date"]), d.get("oee")) for d in (oee or {}).get("by_day", [])]
    oee_frame = pl.DataFrame(oee_rows, schema={"date": pl.Date(), "oee": pl.Float64()}, orient="row")
    out = (
        days.join(per_day, on="date", how="left")
        .join(energy, on="date", how="left")
        .join(oee_frame, on="date", how="left")
        .with_columns(pl.col("units_completed", "good_units").fill_null(0))
        .with_columns(
            pl.when(pl.col("good_units") > 0)
            .then(pl.col("energy_kwh") / pl.col("good_units"))
            .otherwise(None)
            .alias("kwh_per_good_unit")
        )
        .sort("date")
    )
    return out.select(
        "date", "units_completed", "good_units", "first_pass_yield", "energy_kwh", "kwh_per_good_unit", "oee"
    )


def fault_summary(prepared: Any) -> pl.DataFrame:
    """Faults and setups inside the period per station: count, hours down, the most frequent code.

    Args:
        prepared: The prepared period.

    Returns:
        ``station_id``, ``kind``, ``n``, ``down_h``, ``top_code``; intervals are clipped to the period.
    """
    period = prepared.data.period
    rows = prepared.data.downtime.filter(
        (pl.col("start_at") < period.end) & (pl.col("end_at").is_null() | (pl.col("end_at") > period.start))
    )
    schema = {
        "station_id": pl.String(),
        "kind": pl.String(),
        "n": pl.Int64(),
        "down_h": pl.Float64(),
        "top_code": pl.String(),
    }
    if rows.is_empty():
        return pl.DataFrame(schema=schema)
    lo, hi = pl.lit(period.start), pl.lit(period.end)
    clipped = rows.with_columns(
        (
            (
                pl.min_horizontal(pl.col("end_at").fill_null(hi), hi) - pl.max_horizontal(pl.col("start_at"), lo)
            ).dt.total_microseconds()
            / 3.6e9
        ).alias("down_h")
    )
    return (
        clipped.group_by("station_id", "kind")
        .agg(
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("down_h").sum(),
            pl.col("code").drop_nulls().mode().sort().first().alias("top_code"),
        )
        .sort("kind", "down_h", descending=[False, True])
        .cast(schema)  # type: ignore[arg-type]
    )


def fault_changes(current: pl.DataFrame, previous: pl.DataFrame | None) -> pl.DataFrame:
    """Fault counts and hours per station against the previous period (faults only; setups are planned).

    Args:
        current: :func:`fault_summary` of the period.
        previous: The same of the previous period, or None.

    Returns:
        ``station_id``, ``n``, ``down_h``, ``n_previous``, ``down_h_previous``, ``down_h_delta``, ``top_code``.
    """
    cur = current.filter(pl.col("kind") == "fault").select("station_id", "n", "down_h", "top_code")
    prev = (
        previous.filter(pl.col("kind") == "fault").select(
            "station_id", pl.col("n").alias("n_previous"), pl.col("down_h").alias("down_h_previous")
        )
        if previous is not None
        else pl.DataFrame(schema={"station_id": pl.String(), "n_previous": pl.Int64(), "down_h_previous": pl.Float64()})
    )
    out = cur.join(prev, on="station_id", how="full", coalesce=True).with_columns(
        pl.col("n").fill_null(0), pl.col("down_h").fill_null(0.0)
    )
    if previous is not None:
        out = out.with_columns(pl.col("n_previous").fill_null(0), pl.col("down_h_previous").fill_null(0.0))
    return (
        out.with_columns((pl.col("down_h") - pl.col("down_h_previous")).alias("down_h_delta"))
        .select("station_id", "n", "down_h", "n_previous", "down_h_previous", "down_h_delta", "top_code")
        .sort("down_h", descending=True)
    )


def process_change(prepared: Any) -> dict[str, Any]:
    """The process-setting change found in the period's robot cycle times, and quality before and after it.

    Args:
        prepared: The prepared period (with robot cycles and measurements read).

    Returns:
        :func:`twin.analytics.quality.settings_change`'s object (``detected``, ``change_at``, ...).
    """
    from twin.analytics import quality
    from twin.analytics.commands import jsonable

    return jsonable(quality.settings_change(prepared.data.robot_cycles, prepared.data.measurements, prepared.units))


# ------------------------------------------------------------------------------------------------
# quality
# ------------------------------------------------------------------------------------------------

SUBGROUPS: dict[str, str] = {"hour": "1h", "shift (8 h)": "8h", "day": "1d"}
"""Control-chart subgroupings of the first-pass measurements by local time."""


def period_units(prepared: Any, variant: str | None = None) -> pl.DataFrame:
    """The units completed in the period (of one variant)."""
    units = prepared.units.filter(pl.col("in_period"))
    return units.filter(pl.col("variant") == variant) if variant is not None else units


def first_pass_measurements(prepared: Any, family: str, variant: str | None = None) -> pl.DataFrame:
    """First-pass measurements of one characteristic family of the period's completed units, in time order.

    Args:
        prepared: The prepared period (with the family's measurements read).
        family: E.g. ``screw_torque_nm``.
        variant: Only this variant's units.

    Returns:
        :data:`twin.analytics.frames.MEASUREMENTS` rows.
    """
    m = prepared.data.measurements
    keep = (pl.col("family") == family) & pl.col("value").is_not_null()
    if "is_first_pass" in m.columns:  # the frame holds first-pass rows only in newer marts
        keep = keep & pl.col("is_first_pass")
    m = m.filter(keep)
    return m.join(period_units(prepared, variant).select("unit_id"), on="unit_id", how="semi").sort("measured_at")


def control_chart(
    measurements: pl.DataFrame, timezone: str, subgroup: str = "hour", rules: str | None = "western-electric"
) -> dict[str, Any] | None:
    """X̄-S (or X̄-R for small subgroups) chart of measurements grouped by local time, for plotting.

    Subgroups of fewer than two values are left out. Limits come from every subgroup shown (phase I).

    Args:
        measurements: Rows with ``measured_at`` and ``value``.
        timezone: The cell's zone (subgroups are local hours, shifts or days).
        subgroup: A key of :data:`SUBGROUPS`.
        rules: ``western-electric``, ``nelson`` or None (beyond the limits only).

    Returns:
        ``{"chart": "xbar-s", "location": frame, "dispersion": frame, "violations": int}`` where each frame has
        ``at`` (subgroup start), ``n``, ``value``, ``center``, ``lcl``, ``ucl``, ``rules`` (violated rules, comma
        separated, empty when none); None with fewer than two subgroups.

    Raises:
        InputError: An unknown subgrouping or rule set.
    """
    from twin.analytics import spc

    if subgroup not in SUBGROUPS:
        raise InputError(f"unknown subgroup {subgroup!r}; valid: {', '.join(SUBGROUPS)}")
    every = SUBGROUPS[subgroup]
    grouped = (
        measurements.with_columns(pl.col("measured_at").dt.convert_time_zone(timezone).dt.truncate(every).alias("at"))
        .group_by("at")
        .agg(pl.col("value"))
        .filter(pl.col("value").list.len() >= 2)
        .sort("at")
    )
    if grouped.height < 2:
        return None
    groups = [np.asarray(v, dtype=float) for v in grouped["value"].to_list()]
    use_r = max(g.size for g in groups) <= 10
    charts = (spc.xbar_r if use_r else spc.xbar_s)(groups, rules=rules)
    at = grouped["at"]
    sizes = grouped["value"].list.len().cast(pl.Int64)

    def frame(chart: dict[str, Any]) -> pl.DataFrame:
        n = len(chart["points"])
        flagged: dict[int, list[str]] = {}
        for v in chart["violations"]:
            flagged.setdefault(int(v["index"]) - 1, []).append(str(v["rule"]))
        lcl = chart["lcl"] if isinstance(chart["lcl"], list) else [chart["lcl"]] * n
        ucl = chart["ucl"] if isinstance(chart["ucl"], list) else [chart["ucl"]] * n
        return pl.DataFrame(
            {
                "at": at,
                "n": sizes,
                "value": pl.Series(chart["points"], dtype=pl.Float64),
                "center": pl.Series([chart["center"]] * n, dtype=pl.Float64),
                "lcl": pl.Series(lcl, dtype=pl.Float64),
                "ucl": pl.Series(ucl, dtype=pl.Float64),
                "rules": pl.Series([",".join(flagged.get(i, [])) for i in range(n)], dtype=pl.String),
            }
        )

    location, dispersion = frame(charts[0]), frame(charts[1])
    return {
        "chart": "xbar-r" if use_r else "xbar-s",
        "location_name": charts[0]["name"],
        "dispersion_name": charts[1]["name"],
        "location": location,
        "dispersion": dispersion,
        "violations": int((location["rules"] != "").sum() + (dispersion["rules"] != "").sum()),
    }


def capability_rows(prepared: Any, spec_limits: Mapping[str, tuple[float | None, float | None, float | None]],
                    variant: str | None = None, split_at: str | None = None) -> pl.DataFrame:  # fmt: skip
    """Capability of each family over the period's first-pass measurements (and before / after a change).

    Families measured several times per unit (screws) use the unit as subgroup (σ within = R̄/d₂);
    one value per unit uses moving ranges.

    Args:
        prepared: The prepared period.
        spec_limits: Family -> ``(lsl, usl, target)``.
        variant: Only this variant's units.
        split_at: An ISO instant (the process change): rows ``before`` and ``after`` it as well.

    Returns:
        ``characteristic``, ``phase`` (``period``, ``before``, ``after``), ``n``, ``mean``, ``lsl``, ``usl``,
        ``cp``, ``cpk``, ``pp``, ``ppk``, ``cpm``.
    """
    from twin.analytics.capability import capability

    schema = {
        "characteristic": pl.String(), "phase": pl.String(), "n": pl.Int64(), "mean": pl.Float64(),
        "lsl": pl.Float64(), "usl": pl.Float64(), "cp": pl.Float64(), "cpk": pl.Float64(), "pp": pl.Float64(),
        "ppk": pl.Float64(), "cpm": pl.Float64(),
    }  # fmt: skip
    rows = []
    cut = datetime.fromisoformat(split_at) if split_at else None
    for name, (lsl, usl, target) in spec_limits.items():
        whole = first_pass_measurements(prepared, name, variant)
        phases = [("period", whole)]
        if cut is not None:
            phases += [
                ("before", whole.filter(pl.col("measured_at") < cut)),
                ("after", whole.filter(pl.col("measured_at") >= cut)),
            ]
        for phase, sub in phases:
            if sub.height < 3:
                continue
            sizes = sub.group_by("unit_id").len()["len"]
            subgroups = sub["unit_id"].to_list() if int(sizes.min()) >= 2 and int(sizes.max()) <= 25 else None
            try:
                r = capability(sub["value"].to_numpy(), subgroups, lsl=lsl, usl=usl, target=target)
            except InputError:
                continue
            rows.append(
                {"characteristic": name, "phase": phase, "n": int(r["n"]), "mean": r["mean"], "lsl": lsl, "usl": usl,
                 "cp": r["cp"], "cpk": r["cpk"], "pp": r["pp"], "ppk": r["ppk"], "cpm": r["cpm"]}
            )  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


def defect_pareto(prepared: Any, variant: str | None = None, station: str | None = None) -> pl.DataFrame:
    """Defects of the period's first pass, most frequent first, with cumulative shares.

    Args:
        prepared: The prepared period.
        variant: Only this variant's units.
        station: Only defects found at this station.

    Returns:
        ``defect``, ``count``, ``units``, ``share``, ``cumulative_share``.
    """
    from twin.analytics import quality

    defects = prepared.data.defects
    if station is not None:
        defects = defects.filter(pl.col("station_id") == station)
    units = prepared.units if variant is None else prepared.units.filter(pl.col("variant") == variant)
    return quality.defect_pareto(defects, units)


def setups(prepared: Any, station: str | None = None) -> pl.DataFrame:
    """Setup intervals (maintenance) in the period: ``station_id``, ``code``, ``start_at``, ``end_at``.

    The screwdriver's maintenance resets the tool-wear drift of the screw torque.
    """
    period = prepared.data.period
    rows = prepared.data.downtime.filter(
        (pl.col("kind") == "setup") & (pl.col("start_at") >= period.start) & (pl.col("start_at") < period.end)
    )
    if station is not None:
        rows = rows.filter(pl.col("station_id") == station)
    return rows.select("station_id", "code", "start_at", "end_at").sort("start_at")


def daily_first_pass(prepared: Any, variant: str | None = None, rules: str | None = "western-electric") -> pl.DataFrame:
    """P chart of the units failing first pass, one sample per local day.

    Args:
        prepared: The prepared period.
        variant: Only this variant's units.
        rules: Run rules.

    Returns:
        ``date``, ``n``, ``failed``, ``p``, ``center``, ``lcl``, ``ucl``, ``rules``; empty with fewer than 2 days.
    """
    from twin.analytics import spc

    tz = prepared.data.period.timezone
    schema = {
        "date": pl.Date(), "n": pl.Int64(), "failed": pl.Int64(), "p": pl.Float64(), "center": pl.Float64(),
        "lcl": pl.Float64(), "ucl": pl.Float64(), "rules": pl.String(),
    }  # fmt: skip
    daily = (
        period_units(prepared, variant)
        .group_by(pl.col("completed_at").dt.convert_time_zone(tz).dt.date().alias("date"))
        .agg(pl.len().cast(pl.Int64).alias("n"), (~pl.col("is_first_pass_good")).sum().cast(pl.Int64).alias("failed"))
        .sort("date")
    )
    if daily.height < 2:
        return pl.DataFrame(schema=schema)
    chart = spc.p_chart(daily["failed"].to_numpy(), daily["n"].to_numpy(), rules=rules)[0]
    n = daily.height
    flagged: dict[int, list[str]] = {}
    for v in chart["violations"]:
        flagged.setdefault(int(v["index"]) - 1, []).append(str(v["rule"]))
    lcl = chart["lcl"] if isinstance(chart["lcl"], list) else [chart["lcl"]] * n
    ucl = chart["ucl"] if isinstance(chart["ucl"], list) else [chart["ucl"]] * n
    return daily.with_columns(
        pl.Series("p", chart["points"], dtype=pl.Float64),
        pl.lit(chart["center"], dtype=pl.Float64).alias("center"),
        pl.Series("lcl", lcl, dtype=pl.Float64),
        pl.Series("ucl", ucl, dtype=pl.Float64),
        pl.Series("rules", [",".join(flagged.get(i, [])) for i in range(n)], dtype=pl.String),
    ).select(list(schema))


# ------------------------------------------------------------------------------------------------
# cost and carbon
# ------------------------------------------------------------------------------------------------

COST_LINES: tuple[str, ...] = ("energy", "labour", "material", "equipment", "maintenance", "poor_quality")
SCOPES: tuple[str, ...] = ("scope1", "scope2_location", "scope2_market", "scope3_cat1")


def cost_lines(cost: Mapping[str, Any], variant: str | None = None) -> pl.DataFrame:
    """Cost per good unit by line (EUR), of all units or one variant, with the period total.

    Returns:
        ``line``, ``eur_per_unit``, ``eur_total`` (totals only for all variants).
    """
    if variant is None:
        per, total = cost["cost_per_unit"], cost["total_eur"]
    else:
        row = _variant_row(cost["by_variant"], variant)
        per, total = (row["cost_per_unit"] if row else {}), {}
    lines = [*COST_LINES, "total"]
    return pl.DataFrame(
        {
            "line": lines,
            "eur_per_unit": [per.get(k) for k in lines],
            "eur_total": [total.get(k) for k in lines],
        },
        schema={"line": pl.String(), "eur_per_unit": pl.Float64(), "eur_total": pl.Float64()},
    )


def cost_by_variant(cost: Mapping[str, Any]) -> pl.DataFrame:
    """One row per variant and cost line: ``variant``, ``units``, ``line``, ``eur_per_unit``."""
    rows = [
        {"variant": v["variant"], "units": int(v["units"]), "line": line, "eur_per_unit": v["cost_per_unit"].get(line)}
        for v in cost["by_variant"]
        for line in COST_LINES
    ]
    schema = {"variant": pl.String(), "units": pl.Int64(), "line": pl.String(), "eur_per_unit": pl.Float64()}
    return pl.DataFrame(rows, schema=schema)


def carbon_scopes(carbon: Mapping[str, Any], variant: str | None = None) -> pl.DataFrame:
    """Emissions by scope: the period's kg and kg per good unit (of one variant when given).

    Returns:
        ``scope``, ``kg``, ``kg_per_unit`` (kg only for all variants).
    """
    if variant is None:
        per = carbon["per_unit_kg"]
        kg = {s: carbon[f"{s}_kg"] for s in SCOPES}
    else:
        row = _variant_row(carbon["by_variant"], variant)
        per = row["per_unit_kg"] if row else {}
        kg = dict(row.get("total_kg", {})) if row else {}
    return pl.DataFrame(
        {"scope": list(SCOPES), "kg": [kg.get(s) for s in SCOPES], "kg_per_unit": [per.get(s) for s in SCOPES]},
        schema={"scope": pl.String(), "kg": pl.Float64(), "kg_per_unit": pl.Float64()},
    )


def carbon_by_variant(carbon: Mapping[str, Any]) -> pl.DataFrame:
    """One row per variant: ``variant``, ``units`` and kg CO2e per good unit by scope and in total."""
    keys = (*SCOPES, "total_location", "total_market")
    rows = [{"variant": v["variant"], "units": int(v["units"]), **{k: v["per_unit_kg"].get(k) for k in keys}}
            for v in carbon["by_variant"]]  # fmt: skip
    schema = {"variant": pl.String(), "units": pl.Int64(), **{k: pl.Float64() for k in keys}}
    return pl.DataFrame(rows, schema=schema)


def factor_rows(carbon: Mapping[str, Any]) -> pl.DataFrame:
    """The carbon factors behind the figures, with their sources.

    Returns:
        ``name``, ``value``, ``unit``, ``source``, ``year``, ``region``.
    """
    schema = {"name": pl.String(), "value": pl.Float64(), "unit": pl.String(), "source": pl.String(),
              "year": pl.Int64(), "region": pl.String()}  # fmt: skip
    rows = [{k: f.get(k) for k in schema} for f in carbon.get("factors", [])]
    return pl.DataFrame(rows, schema=schema)


def hourly_energy(prepared: Any) -> pl.DataFrame:
    """The period's energy per hour beside the grid's carbon intensity and the energy price.

    Args:
        prepared: The prepared period.

    Returns:
        ``hour_at`` (UTC), ``local_hour`` (text), ``kwh``, ``gco2e_per_kwh`` (null when missing),
        ``price_eur_per_kwh``, ``energy_eur``, ``scope2_location_kg`` (missing hours use the annual factor).
    """
    from twin.analytics.carbon import load_carbon_factors
    from twin.analytics.cost import hourly_energy_cost
    from twin.cell import factors as fx

    cell, period = prepared.cell, prepared.data.period
    factors = load_carbon_factors(cell, period.start.astimezone(period.zone).year)
    grid = prepared.data.grid_hourly.filter(pl.col("region") == factors.region).select("hour_at", "gco2e_per_kwh")
    costs = hourly_energy_cost(prepared.split, fx.tariff_schedule(cell.cost.tariff_id))
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


def energy_by_meter(prepared: Any) -> pl.DataFrame:
    """Energy per meter over the period: ``meter_id``, ``kwh``, ``direct_kwh`` (in unit cycles), ``shared_kwh``."""
    return prepared.split.by_meter.with_columns((pl.col("kwh") - pl.col("direct_kwh")).alias("shared_kwh"))


def to_csv(frame: pl.DataFrame) -> bytes:
    """A frame as CSV bytes (for a download button); nested columns are written as JSON text."""

    def as_json(value: Any) -> str:
        return json.dumps(value.to_list() if isinstance(value, pl.Series) else value, default=str)

    flat = frame.with_columns(
        [pl.col(c).map_elements(as_json, return_dtype=pl.String) for c, t in frame.schema.items() if t.is_nested()]
    )
    buffer = io.BytesIO()
    flat.write_csv(buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------
# replay (results `twin replay` stored: raw_replay_runs, _cycles, _anomalies, _series)
# ------------------------------------------------------------------------------------------------


def _has(con: Any, *tables: str) -> bool:
    names = {str(r[0]) for r in con.execute("select table_name from information_schema.tables").fetchall()}
    return set(tables) <= names


def _columns_of(con: Any, table: str) -> list[str]:
    return [str(r[0]) for r in con.execute(f"describe {table}").fetchall()]


def replay_runs(con: Any) -> pl.DataFrame:
    """The latest replay run of each robot.

    Args:
        con: An open (read-only) connection to the snapshot.

    Returns:
        One row per robot (empty without replay results): ``run_id``, ``robot_id``, ``parameter_set``,
        ``samples``, ``duration_s``, ``energy_measured_j``, ``energy_predicted_j``, ``power_r2``,
        ``power_rmse_w``, ``n_anomalies``, ``loaded_at``.
    """
    schema = {
        "run_id": pl.String(), "robot_id": pl.String(), "parameter_set": pl.String(), "samples": pl.Int64(),
        "duration_s": pl.Float64(), "energy_measured_j": pl.Float64(), "energy_predicted_j": pl.Float64(),
        "power_r2": pl.Float64(), "power_rmse_w": pl.Float64(), "n_anomalies": pl.Int64(),
        "loaded_at": pl.Datetime("us", "UTC"),
    }  # fmt: skip
    if not _has(con, "raw_replay_runs"):
        return pl.DataFrame(schema=schema)
    have = set(_columns_of(con, "raw_replay_runs"))
    cols = ", ".join(c if c in have else f"null as {c}" for c in schema)
    frame = con.sql(
        f"select {cols} from raw_replay_runs where robot_id is not null "
        "qualify row_number() over (partition by robot_id order by loaded_at desc, run_id desc) = 1 "
        "order by robot_id"
    ).pl()
    return frame.cast(schema, strict=False) if frame.height else pl.DataFrame(schema=schema)  # type: ignore[arg-type]


def _replay_run_rows(
    con: Any,
    table: str,
    keep: list[str],
    empty_dtype: pl.DataType,
    run_id: str,
    start: datetime | None,
    end: datetime | None,
) -> pl.DataFrame:
    """Rows of one replay run from a ``raw_replay_*`` table (within ``[start, end)`` when given), in time order.

    Only the ``keep`` columns the table has are read; a missing table gives an empty frame of ``empty_dtype``.
    """
    if not _has(con, table):
        return pl.DataFrame(schema={c: empty_dtype for c in keep})
    have = _columns_of(con, table)
    cols = ", ".join(f'"{c}"' for c in keep if c in have)
    where, params = ["run_id = $run"], {"run": run_id}
    if "start_at" in have and start is not None and end is not None:
        where.append("start_at >= $lo and start_at < $hi")
        params.update(lo=start, hi=end)
    order = "start_at" if "start_at" in have else "start_s"
    return con.sql(f"select {cols} from {table} where {' and '.join(where)} order by {order}", params=params).pl()


def replay_cycles(con: Any, run_id: str, start: datetime | None = None, end: datetime | None = None) -> pl.DataFrame:
    """The replayed cycles of a run (within ``[start, end)`` when given), in time order.

    Args:
        con: An open connection.
        run_id: The replay run.
        start: Period start (UTC-aware).
        end: Period end.

    Returns:
        The ``raw_replay_cycles`` rows: ``cycle``, ``start_at``, ``duration_s``, ``energy_measured_j``,
        ``energy_predicted_j``, ``energy_error_pct``, ``power_rmse_w``, ``min_clearance_m``, ``n_anomalies``.
    """
    keep = ["cycle", "start_at", "start_s", "duration_s", "n_samples", "energy_measured_j", "energy_predicted_j",
            "energy_error_pct", "power_rmse_w", "min_clearance_m", "n_anomalies"]  # fmt: skip
    return _replay_run_rows(con, "raw_replay_cycles", keep, pl.Float64(), run_id, start, end)


def replay_series(con: Any, run_id: str, cycle: str) -> pl.DataFrame:
    """The stored (decimated) samples of one replayed cycle: time, power and joint torques, measured and predicted.

    Args:
        con: An open connection.
        run_id: The replay run.
        cycle: The cycle label.

    Returns:
        ``t_s`` (seconds from the cycle's first sample), ``ts``, ``power_measured_w``, ``power_predicted_w``,
        ``program_step``, ``tau_measured_<j>``, ``tau_predicted_<j>``, ``q_<j>`` ... (as stored).
    """
    if not _has(con, "raw_replay_series"):
        return pl.DataFrame()
    have = _columns_of(con, "raw_replay_series")
    keep = [c for c in have if c not in ("run_id", "source", "loaded_at", "robot_id", "run", "cycle")]
    cols = ", ".join(f'"{c}"' for c in keep)
    frame = con.sql(
        f'select {cols} from raw_replay_series where run_id = $run and "cycle" = $cycle order by t_s',
        params={"run": run_id, "cycle": cycle},
    ).pl()
    if frame.height:
        frame = frame.with_columns((pl.col("t_s") - pl.col("t_s").min()).alias("t_s"))
        # a joint column that is null throughout (not logged) is left out
        frame = frame.select([c for c in frame.columns if frame[c].null_count() < frame.height])
    return frame


def joints_of(series: pl.DataFrame) -> list[int]:
    """Joint numbers with measured or predicted torque in a series frame.

    >>> joints_of(pl.DataFrame({"tau_measured_2": [1.0], "tau_predicted_1": [0.0], "q_1": [0.0]}))
    [1, 2]
    """
    found = set()
    for name in series.columns:
        for prefix in ("tau_measured_", "tau_predicted_"):
            if name.startswith(prefix) and name[len(prefix) :].isdigit():
                found.add(int(name[len(prefix) :]))
    return sorted(found)


def replay_anomalies(con: Any, run_id: str, start: datetime | None = None, end: datetime | None = None) -> pl.DataFrame:
    """Anomalies the replay found (limits, clearance, gaps, outliers), in time order.

    Args:
        con: An open connection.
        run_id: The replay run.
        start: Period start.
        end: Period end.

    Returns:
        ``kind``, ``start_at``, ``duration_s``, ``cycle``, ``joint``, ``value``, ``limit``, ``body``, ``detail``.
    """
    keep = ["kind", "start_at", "start_s", "duration_s", "cycle", "joint", "value", "limit", "body", "detail"]
    return _replay_run_rows(con, "raw_replay_anomalies", keep, pl.String(), run_id, start, end)


# ------------------------------------------------------------------------------------------------
# scenarios (what-if results: `twin scenario run --json` objects, stored in the warehouse or from a job)
# ------------------------------------------------------------------------------------------------

HEADLINE_SCENARIO_KPIS = SCENARIO_KPIS

SCENARIO_ROWS: dict[str, pl.DataType] = {
    "scenario": pl.String(),
    "run_id": pl.String(),
    "origin": pl.String(),
    "seed": pl.Int64(),
    "replications": pl.Int64(),
    "horizon_days": pl.Float64(),
    "kpi": pl.String(),
    "mean": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "delta": pl.Float64(),
    "delta_ci_low": pl.Float64(),
    "delta_ci_high": pl.Float64(),
    "twin_error_cycle_time_rel": pl.Float64(),
    "twin_error_energy_per_unit_rel": pl.Float64(),
}
"""One row per scenario run per KPI (``delta*`` only where the run was paired with a baseline)."""


def _num_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def scenario_rows(result: Mapping[str, Any], run_id: str = "", origin: str = "warehouse") -> pl.DataFrame:
    """The rows of one ``twin scenario run --json`` object (or one scenario of ``twin scenario compare``).

    Args:
        result: ``{"scenario", "seed", "replications", "horizon_days", "kpis": {NAME: {"mean", "ci_low",
            "ci_high", ["delta", "delta_ci_low", "delta_ci_high"]}}, "twin_error": {...}}``.
        run_id: An id of the run.
        origin: Where the result comes from (``warehouse``, ``dashboard job``).

    Returns:
        :data:`SCENARIO_ROWS` rows, headline KPIs first.
    """
    kpis = result.get("kpis") or {}
    error = result.get("twin_error") or {}
    order = [k for k in HEADLINE_SCENARIO_KPIS if k in kpis] + sorted(
        k for k in kpis if k not in HEADLINE_SCENARIO_KPIS
    )
    rows = []
    for name in order:
        k = kpis[name] or {}
        rows.append(
            {
                "scenario": str(result.get("scenario", "")),
                "run_id": run_id,
                "origin": origin,
                "seed": result.get("seed"),
                "replications": result.get("replications"),
                "horizon_days": _num_or_none(result.get("horizon_days")),
                "kpi": name,
                "mean": _num_or_none(k.get("mean")),
                "ci_low": _num_or_none(k.get("ci_low")),
                "ci_high": _num_or_none(k.get("ci_high")),
                "delta": _num_or_none(k.get("delta")),
                "delta_ci_low": _num_or_none(k.get("delta_ci_low")),
                "delta_ci_high": _num_or_none(k.get("delta_ci_high")),
                "twin_error_cycle_time_rel": _num_or_none(error.get("cycle_time_rel")),
                "twin_error_energy_per_unit_rel": _num_or_none(error.get("energy_per_unit_rel")),
            }
        )
    return pl.DataFrame(rows, schema=SCENARIO_ROWS)


def compare_rows(rows: pl.DataFrame, baseline: str) -> pl.DataFrame:
    """Each scenario's KPIs against the baseline's: the baseline mean and the delta with its 95 % interval.

    A delta already paired with the baseline (``twin scenario compare``: common random numbers) is kept.
    Otherwise the runs are independent: delta = difference of the means, its half-width the two means'
    half-widths combined in quadrature (a conservative approximation of Welch's interval).

    Args:
        rows: :data:`SCENARIO_ROWS` rows of one or more runs (the latest run of each scenario is used).
        baseline: The baseline scenario's id.

    Returns:
        ``scenario``, ``kpi``, ``mean``, ``ci_low``, ``ci_high``, ``baseline_mean``, ``delta``, ``delta_ci_low``,
        ``delta_ci_high``, ``is_paired``, and the twin error columns.

    >>> base = {"scenario": "base", "kpis": {"oee": {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6}}}
    >>> fast = {"scenario": "fast", "kpis": {"oee": {"mean": 0.6, "ci_low": 0.57, "ci_high": 0.63}}}
    >>> r = pl.concat([scenario_rows(base), scenario_rows(fast)])
    >>> out = compare_rows(r, "base").filter(pl.col("scenario") == "fast").row(0, named=True)
    >>> round(out["delta"], 3), round(out["delta_ci_high"] - out["delta"], 4), out["is_paired"]
    (0.1, 0.1044, False)
    """
    base = rows.filter(pl.col("scenario") == baseline).unique(["kpi"], keep="last", maintain_order=True)
    base = base.select(
        "kpi", pl.col("mean").alias("baseline_mean"), ((pl.col("ci_high") - pl.col("ci_low")) / 2).alias("_bhw")
    )
    latest = rows.unique(["scenario", "kpi"], keep="last", maintain_order=True)
    hw = (pl.col("ci_high") - pl.col("ci_low")) / 2
    unpaired_delta = pl.col("mean") - pl.col("baseline_mean")
    unpaired_hw = (hw.pow(2) + pl.col("_bhw").pow(2)).sqrt()
    is_paired = pl.col("delta").is_not_null()
    is_base = pl.col("scenario") == baseline
    out = latest.join(base, on="kpi", how="left").with_columns(
        is_paired.alias("is_paired"),
        pl.when(is_base).then(0.0).when(is_paired).then(pl.col("delta")).otherwise(unpaired_delta).alias("delta"),
        pl.when(is_base).then(None).when(is_paired).then(pl.col("delta_ci_low"))
        .otherwise(unpaired_delta - unpaired_hw).alias("delta_ci_low"),
        pl.when(is_base).then(None).when(is_paired).then(pl.col("delta_ci_high"))
        .otherwise(unpaired_delta + unpaired_hw).alias("delta_ci_high"),
    )  # fmt: skip
    return out.select(
        "scenario", "kpi", "mean", "ci_low", "ci_high", "baseline_mean", "delta", "delta_ci_low", "delta_ci_high",
        "is_paired", "replications", "horizon_days", "twin_error_cycle_time_rel", "twin_error_energy_per_unit_rel",
    )  # fmt: skip


def _json_cell(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def stored_scenario_results(con: Any) -> pl.DataFrame:
    """Scenario results the warehouse holds, as :data:`SCENARIO_ROWS`.

    Reads every table whose name holds ``scenario``: one with ``kpi`` and ``mean`` columns is taken row by
    row (one row per run per KPI); one with a JSON column holding ``twin scenario run --json`` objects
    (``kpis``) is taken one run per row.

    Args:
        con: An open connection to the snapshot.

    Returns:
        The rows (empty when the warehouse holds no scenario results).
    """
    tables = [
        str(r[0])
        for r in con.execute(
            "select table_name from information_schema.tables where table_name ilike '%scenario%' order by table_name"
        ).fetchall()
    ]
    parts = []
    for table in tables:
        columns = _columns_of(con, table)
        frame = con.sql(f'select * from "{table}"').pl()
        if frame.is_empty():
            continue
        scenario_col = next((c for c in ("scenario", "scenario_id") if c in columns), None)
        if {"kpi", "mean"} <= set(columns) and scenario_col:
            rows = frame.rename({scenario_col: "scenario"}) if scenario_col != "scenario" else frame
            extra = {c: pl.lit(None).cast(t) for c, t in SCENARIO_ROWS.items() if c not in rows.columns}
            rows = rows.with_columns(**extra).with_columns(pl.lit(f"warehouse ({table})").alias("origin"))
            parts.append(rows.select([pl.col(c).cast(t, strict=False) for c, t in SCENARIO_ROWS.items()]))
            continue
        for col in columns:
            if not (col.endswith("json") or col in ("result", "report", "kpis")):
                continue
            for i, row in enumerate(frame.iter_rows(named=True)):
                doc = _json_cell(row[col])
                if isinstance(doc, Mapping) and isinstance(doc.get("kpis"), Mapping):
                    if "scenario" not in doc and scenario_col:
                        doc = {**doc, "scenario": row[scenario_col]}
                    run_id = str(row.get("run_id") or f"{table}:{i}")
                    parts.append(scenario_rows(doc, run_id, f"warehouse ({table})"))
            break
    return pl.concat(parts) if parts else pl.DataFrame(schema=SCENARIO_ROWS)


def scenario_files(folder: str | Path | None = None) -> list[Path]:
    """The registered scenario files (``assets/scenarios/*.yaml``), by id."""
    from twin.paths import SCENARIOS_DIR

    return sorted(Path(folder or SCENARIOS_DIR).glob("*.yaml"))


def simulated_sources(con: Any) -> list[str]:
    """The ``simulated:<scenario>`` sources whose events the warehouse holds (``twin scenario run --to-warehouse``).

    Args:
        con: An open connection to the snapshot.

    Returns:
        The sources, sorted.
    """
    if not _has(con, "mart_an_units"):
        return []
    rows = con.execute(
        "select distinct source from mart_an_units where source like 'simulated:%' order by source"
    ).fetchall()
    return [str(r[0]) for r in rows]


def telemetry_figures(warehouse: str | Path, source: str, cell_file: str | Path | None = None) -> dict[str, Any]:
    """Figures of one source's telemetry over its own data period, computed like measured data.

    Args:
        warehouse: The warehouse file.
        source: ``measured`` or ``simulated:<scenario>``.
        cell_file: The cell YAML.

    Returns:
        ``source``, ``from``, ``to``, ``days``, ``units``, ``units_per_day``, ``energy_kwh_per_unit``,
        ``cost_eur_per_unit``, ``kgco2e_per_unit`` (market-based; None without energy).
    """
    _, p = load_prepared(warehouse, None, None, cell_file, families=None, robot_cycles=False, source=source)
    cost, carbon, fpy = cost_figures(p), carbon_figures(p), yield_figures(p)
    period = p.data.period
    days = len(period.local_dates())
    units = fpy["units_completed"]
    return {
        "source": source,
        "from": period.to_json()["from"][:10],
        "to": period.to_json()["to"][:10],
        "days": days,
        "units": units,
        "units_per_day": units / days if days else None,
        "energy_kwh_per_unit": carbon.get("energy_kwh_per_unit"),
        "cost_eur_per_unit": cost["cost_per_unit"].get("total"),
        "kgco2e_per_unit": carbon["per_unit_kg"].get("total_market"),
    }
