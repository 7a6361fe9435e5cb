"""``twin oee``, ``twin cost``, ``twin carbon`` (period figures from the warehouse) and ``twin quality``.

Each period command takes ``--from`` (inclusive) and ``--to`` (exclusive): a date means local midnight
in the cell's time zone, a date-time must carry an offset; without them the period spans the data
(local midnight before the first cycle to local midnight after the last). ``--json`` prints exactly
one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from twin.analytics.period import Period, data_period, parse_period
from twin.errors import InputError


def add_period_options(parser: argparse.ArgumentParser) -> None:
    """``--from``, ``--to``, ``--cell``, ``--set`` and ``--source`` (shared by the period commands and the report).

    Args:
        parser: The sub-command's parser.
    """
    from twin.cli.common import add_cell_options

    parser.add_argument(
        "--from",
        dest="start",
        default=None,
        metavar="WHEN",
        help="period start, inclusive: YYYY-MM-DD (local midnight) or a date-time with offset (default: first data)",
    )
    parser.add_argument(
        "--to",
        dest="end",
        default=None,
        metavar="WHEN",
        help="period end, exclusive: YYYY-MM-DD (local midnight) or a date-time with offset (default: after last data)",
    )
    add_cell_options(parser)
    parser.add_argument(
        "--source",
        default="measured",
        help="telemetry source: measured (default) or simulated:<scenario>",
    )


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``oee``, ``cost``, ``carbon`` and ``quality``.

    Args:
        subparsers: The ``twin`` command's sub-parsers.
        parent: The parser holding ``--warehouse``, ``--json`` and ``--debug``.
    """
    oee = subparsers.add_parser(
        "oee",
        parents=[parent],
        help="OEE (ISO 22400) of the cell or a station over a period",
        description="Availability x performance x quality over a period, per day too (ISO 22400-2).",
    )
    add_period_options(oee)
    oee.add_argument("--station", default=None, help="a robot or station id (default: the whole cell)")
    oee.set_defaults(func=run_oee)

    cost = subparsers.add_parser(
        "cost",
        parents=[parent],
        help="cost per unit and per variant over a period (EUR)",
        description="Energy, labour, material, equipment, maintenance and cost of poor quality per good unit.",
    )
    add_period_options(cost)
    cost.set_defaults(func=run_cost)

    carbon = subparsers.add_parser(
        "carbon",
        parents=[parent],
        help="carbon footprint over a period (GHG Protocol scopes, kg CO2e)",
        description="Scope 1, scope 2 location- and market-based (hourly), scope 3 cat. 1, per unit and variant.",
    )
    add_period_options(carbon)
    carbon.set_defaults(func=run_carbon)

    from twin.analytics import quality_cli

    quality_cli.register(subparsers, parent)


# ------------------------------------------------------------------------------------------------
# shared plumbing
# ------------------------------------------------------------------------------------------------


@contextmanager
def open_warehouse(path: str | Path) -> Iterator[Any]:
    """A short-lived read-only connection to the warehouse's published snapshot, closed on exit.

    Uses :func:`twin.warehouse.connection.read_connection` (the snapshot the last write job published,
    session time zone UTC), so a report never waits for a writer.

    Args:
        path: The warehouse file.

    Yields:
        The connection.

    Raises:
        WarehouseError: No warehouse there, or it cannot be opened.
    """
    from twin.warehouse.connection import read_connection

    with read_connection(Path(path)) as conn:
        yield conn


def resolve_period(args: argparse.Namespace, conn: Any, timezone: str) -> Period:
    """The period of ``--from`` / ``--to``, defaulting to the data's extent.

    Args:
        args: Parsed arguments (``start``, ``end``, ``source``).
        conn: An open warehouse connection.
        timezone: The cell's zone.

    Returns:
        The period.

    Raises:
        InputError: Malformed bounds, or no bounds and no data.
    """
    from twin.analytics.period import parse_instant
    from twin.analytics.store import data_extent

    # validate what the user typed before touching the warehouse
    for value, option in ((args.start, "--from"), (args.end, "--to")):
        if value is not None:
            parse_instant(value, timezone, option)
    default_start = default_end = None
    if args.start is None or args.end is None:
        bounds = data_period(*data_extent(conn, args.source), timezone)
        if bounds is not None:
            default_start, default_end = bounds
    return parse_period(args.start, args.end, timezone, default_start=default_start, default_end=default_end)


def _check_source(source: str) -> None:
    if source != "measured" and not source.startswith("simulated:"):
        raise InputError(f"--source {source!r}: valid: measured, simulated:<scenario>")


def load_prepared(
    args: argparse.Namespace,
    families: list[str] | None = None,
    station: str | None = None,
    robot_cycles: bool = False,
    defects: bool = True,
) -> Any:
    """Load the cell, open the warehouse, read the period and derive the shared frames.

    Args:
        args: Parsed arguments of a period command.
        families: Quality characteristic families whose first-pass measurements to read.
        station: A station or robot whose cycle ends OEE counts (``--station``).
        robot_cycles: Also read the units' robot cycle times.
        defects: Also read the nonconforming measurements (defect Pareto; the figures commands skip them).

    Returns:
        ``(cell, prepared)`` (:class:`twin.analytics.figures.Prepared`).
    """
    from twin.analytics import figures, store
    from twin.analytics.frames import roles
    from twin.cell.load import load_cell

    _check_source(args.source)
    cell = load_cell(args.cell, args.overrides)
    if station is not None and station not in cell.robots and station not in cell.stations:
        valid = ", ".join([*cell.robots, *cell.stations])
        raise InputError(f"--station {station!r}: not a robot or station of cell {cell.cell.id}; valid: {valid}")
    with open_warehouse(args.warehouse) as conn:
        period = resolve_period(args, conn, cell.cell.timezone)
        data = store.load_period(
            conn, period, roles(cell), args.source, cell.carbon.grid_region, families, station, robot_cycles, defects
        )
    return cell, figures.prepare(cell, data)


def jsonable(value: Any) -> Any:
    """Plain JSON values: NaN and infinities to None, dates to ISO strings, tuples to lists.

    Args:
        value: A tree of dicts, lists and scalars.

    Returns:
        The same tree, safe for ``json.dumps(..., allow_nan=False)``.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return value


def emit(args: argparse.Namespace, result: dict[str, Any], text: Callable[[dict[str, Any]], str]) -> int:
    """Print a result as JSON (``--json``) or as text; returns exit code 0."""
    if args.json:
        sys.stdout.write(json.dumps(jsonable(result), allow_nan=False) + "\n")
    else:
        sys.stdout.write(text(result))
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:6.2f} %"


def _num(value: float | None, fmt: str = ".4f") -> str:
    return "-" if value is None else format(value, fmt)


def _period_line(result: dict[str, Any]) -> str:
    p = result["period"]
    return f"period {p['from']} .. {p['to']} ({p['timezone']}), source {result.get('source', 'measured')}"


# ------------------------------------------------------------------------------------------------
# handlers
# ------------------------------------------------------------------------------------------------


def run_oee(args: argparse.Namespace) -> int:
    """Handler of ``twin oee``."""
    from twin.analytics import figures
    from twin.analytics.ideal import ideal_cycle_times

    cell, prepared = load_prepared(args, station=args.station, defects=False)
    ideal = ideal_cycle_times(cell, args.station, warehouse=args.warehouse)
    result = figures.oee_of(prepared, ideal, args.station)
    return emit(args, result, format_oee)


def format_oee(r: dict[str, Any]) -> str:
    """Readable ``twin oee`` output."""
    what = f"station {r['station']}" if r["station"] else "cell"
    lines = [
        f"OEE of the {what}: {_pct(r['oee'])}",
        _period_line(r),
        f"planned busy time {r['planned_time_s'] / 3600:.2f} h, run time {r['run_time_s'] / 3600:.2f} h, "
        f"total {r['total_count']}, good (first pass) {r['good_count']}",
        f"availability {_pct(r['availability'])}  performance {_pct(r['performance'])}  quality {_pct(r['quality'])}",
        "",
        f"{'date':<12}{'availability':>14}{'performance':>13}{'quality':>11}{'OEE':>11}",
    ]
    for d in r["by_day"]:
        lines.append(
            f"{d['date']:<12}{_pct(d['availability']):>14}{_pct(d['performance']):>13}"
            f"{_pct(d['quality']):>11}{_pct(d['oee']):>11}"
        )
    return "\n".join(lines) + "\n"


def run_cost(args: argparse.Namespace) -> int:
    """Handler of ``twin cost``."""
    from twin.analytics import figures

    _, prepared = load_prepared(args, defects=False)
    result = figures.cost_of(prepared, figures.planned_run_time_s(prepared))
    return emit(args, result, format_cost)


def format_cost(r: dict[str, Any]) -> str:
    """Readable ``twin cost`` output."""
    from twin.analytics.cost import LINES

    lines = [
        f"cost per good unit: {_num(r['cost_per_unit']['total'], '.4f')} EUR over {r['units']} good units "
        f"({r['units_completed']} completed, {r['units_reworked']} reworked, {r['units_scrapped']} scrapped)",
        _period_line(r),
        "",
        f"{'line':<14}{'EUR/unit':>12}{'EUR total':>14}",
    ]
    for line in (*LINES, "total"):
        lines.append(f"{line:<14}{_num(r['cost_per_unit'][line]):>12}{_num(r['total_eur'][line], ',.2f'):>14}")
    lines += ["", f"{'variant':<12}{'units':>8}" + "".join(f"{line:>13}" for line in (*LINES, "total"))]
    for v in r["by_variant"]:
        lines.append(
            f"{v['variant']:<12}{v['units']:>8}"
            + "".join(f"{_num(v['cost_per_unit'][x]):>13}" for x in (*LINES, "total"))
        )
    return "\n".join(lines) + "\n"


def run_carbon(args: argparse.Namespace) -> int:
    """Handler of ``twin carbon``."""
    from twin.analytics import figures

    _, prepared = load_prepared(args, defects=False)
    return emit(args, figures.carbon_of(prepared), format_carbon)


def format_carbon(r: dict[str, Any]) -> str:
    """Readable ``twin carbon`` output."""
    lines = [
        f"carbon footprint: {r['energy_kwh']:.1f} kWh, {r['units']} good units",
        _period_line(r),
        f"scope 1              {r['scope1_kg']:12.3f} kg CO2e",
        f"scope 2 location     {r['scope2_location_kg']:12.3f} kg CO2e"
        + ("" if r["scope2_location_complete"] else f"  INCOMPLETE: {r['missing_intensity_hours']} h without "
           f"grid intensity ({r['missing_intensity_kwh']:.2f} kWh, filled with the annual factor)"),
        f"scope 2 market       {r['scope2_market_kg']:12.3f} kg CO2e ({r['market_basis']})",
        f"scope 3 cat. 1       {r['scope3_cat1_kg']:12.3f} kg CO2e",
        "",
        f"{'per good unit (kg)':<20}"
        + "".join(f"{h:>10}" for h in ("scope1", "s2 loc", "s2 mkt", "s3 c1", "tot loc", "tot mkt")),
    ]  # fmt: skip
    keys = ("scope1", "scope2_location", "scope2_market", "scope3_cat1", "total_location", "total_market")
    lines.append(f"{'all':<20}" + "".join(f"{_num(r['per_unit_kg'][k]):>10}" for k in keys))
    for v in r["by_variant"]:
        lines.append(f"{v['variant']:<20}" + "".join(f"{_num(v['per_unit_kg'][k]):>10}" for k in keys))
    lines += ["", "factors:"]
    for f in r["factors"]:
        lines.append(
            f"  {f['name']}: {_num(f['value'], '.4g')} {f['unit']} ({f['region']}, {f['year']}) - {f['source']}"
        )
    lines += ["", r["allocation"]]
    return "\n".join(lines) + "\n"
