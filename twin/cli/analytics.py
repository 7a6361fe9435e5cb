"""``twin oee``, ``twin cost``, ``twin carbon``: period figures of the warehouse (:func:`twin.api.periods.period`).

Each command takes ``--from`` (inclusive) and ``--to`` (exclusive): a date means local midnight in the cell's
time zone, a date-time must carry an offset; without them the period spans the data (local midnight before
the first cycle to local midnight after the last). ``--json`` prints exactly one JSON object on stdout.

The API is imported by the handlers, so ``twin --help`` does not load the analytics.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from twin.cli.common import add_cell_options, number_type
from twin.cli.output import emit

_replication = number_type(int, "an integer", lambda v: v >= 0, "{value} must be 0 or more")


def add_period_options(parser: argparse.ArgumentParser) -> None:
    """``--from``, ``--to``, ``--cell``, ``--set``, ``--source``, ``--replication`` (period commands, report).

    Args:
        parser: The sub-command's parser.
    """
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
        help="telemetry source: measured (default) or simulated:<scenario> (read on the cell stored with its run)",
    )
    parser.add_argument(
        "--replication",
        type=_replication,
        default=None,
        metavar="R",
        help="which replication of a simulated source (default 0; measured data is replication 0)",
    )


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``oee``, ``cost`` and ``carbon``.

    Args:
        subparsers: The ``twin`` command's sub-parsers.
        parent: The parser holding ``--warehouse``, ``--json`` and ``--debug``.
    """
    commands = {
        "oee": (
            run_oee,
            "OEE (ISO 22400) of the cell or a station over a period",
            "Availability x performance x quality over a period, per day too (ISO 22400-2).",
        ),
        "cost": (
            run_cost,
            "cost per unit and per variant over a period (in the cell's currency)",
            "Energy, labour, material, equipment, maintenance and cost of poor quality per good unit.",
        ),
        "carbon": (
            run_carbon,
            "carbon footprint over a period (GHG Protocol scopes, kg CO2e)",
            "Scope 1, scope 2 location- and market-based (hourly), scope 3 cat. 1, per unit and variant.",
        ),
    }
    for name, (handler, summary, description) in commands.items():
        parser = subparsers.add_parser(name, parents=[parent], help=summary, description=description)
        add_period_options(parser)
        if handler is run_oee:
            parser.add_argument("--station", default=None, help="a robot or station id (default: the whole cell)")
        parser.set_defaults(func=handler)


def period_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`twin.api.periods.period` from the options of :func:`add_period_options`."""
    return {
        "start": args.start,
        "end": args.end,
        "cell": args.cell,
        "overrides": args.overrides,
        "source": args.source,
        "replication": args.replication,
    }


def read_period(args: argparse.Namespace) -> Any:
    """The period of a period command's arguments (:func:`twin.api.periods.period`)."""
    from twin.api.periods import period

    return period(args.warehouse, **period_arguments(args))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:6.2f} %"


def _num(value: float | None, fmt: str = ".4f") -> str:
    return "-" if value is None else format(value, fmt)


def _period_line(result: Mapping[str, Any]) -> str:
    p = result["period"]
    return f"period {p['from']} .. {p['to']} ({p['timezone']}), source {result.get('source', 'measured')}"


def run_oee(args: argparse.Namespace) -> int:
    """Handler of ``twin oee``."""
    return emit(args.json, read_period(args).oee(args.station).to_dict(), format_oee)


def format_oee(r: Mapping[str, Any]) -> str:
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
    return emit(args.json, read_period(args).cost().to_dict(), format_cost)


def format_cost(r: Mapping[str, Any]) -> str:
    """Readable ``twin cost`` output."""
    from twin.analytics.cost import LINES

    lines = [
        f"cost per good unit: {_num(r['cost_per_unit']['total'], '.4f')} {r['currency']} over {r['units']} good units "
        f"({r['units_completed']} completed, {r['units_reworked']} reworked, {r['units_scrapped']} scrapped)",
        _period_line(r),
        "",
        f"{'line':<14}{r['currency'] + '/unit':>12}{r['currency'] + ' total':>14}",
    ]
    for line in (*LINES, "total"):
        lines.append(f"{line:<14}{_num(r['cost_per_unit'][line]):>12}{_num(r['total_cost'][line], ',.2f'):>14}")
    lines += ["", f"{'variant':<12}{'units':>8}" + "".join(f"{line:>13}" for line in (*LINES, "total"))]
    for v in r["by_variant"]:
        lines.append(
            f"{v['variant']:<12}{v['units']:>8}"
            + "".join(f"{_num(v['cost_per_unit'][x]):>13}" for x in (*LINES, "total"))
        )
    return "\n".join(lines) + "\n"


def run_carbon(args: argparse.Namespace) -> int:
    """Handler of ``twin carbon``."""
    return emit(args.json, read_period(args).carbon().to_dict(), format_carbon)


def format_carbon(r: Mapping[str, Any]) -> str:
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
