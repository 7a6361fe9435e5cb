"""``twin quality spc`` and ``twin quality capability``: control charts and capability on a file.

FILE is CSV or Parquet, read with polars, rows in time order. ``--json`` prints exactly
``{"charts": [...]}`` (spc) or the capability object on stdout, with plain floats and ``null``
where a value is undefined; without it a readable table is printed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from typing import Any

from twin.analytics.spc import CHARTS, RULE_SETS
from twin.cli.output import emit


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _limit_at(limit: float | list[float], i: int) -> float:
    return limit[i] if isinstance(limit, list) else limit


def _limit_text(limit: float | list[float]) -> str:
    if isinstance(limit, list):
        return f"varies {_fmt(min(limit))}..{_fmt(max(limit))}"
    return _fmt(limit)


def format_charts(result: Mapping[str, Any]) -> str:
    """A readable text table of control charts.

    Args:
        result: ``{"charts": [...]}`` (:meth:`twin.api.quality.SpcCharts.to_dict`).

    Returns:
        The text, one block per chart.
    """
    lines: list[str] = []
    for chart in result["charts"]:
        name = chart["name"]
        lines.append(
            f"{name} chart: center {_fmt(chart['center'])}, LCL {_limit_text(chart['lcl'])}, "
            f"UCL {_limit_text(chart['ucl'])}, {len(chart['violations'])} violation(s)"
        )
        flags: dict[int, list[str]] = {}
        for v in chart["violations"]:
            flags.setdefault(v["index"], []).append(v["rule"])
        lines.append(f"  {'#':>4}  {'value':>12}  {'LCL':>12}  {'UCL':>12}  rules")
        for i, point in enumerate(chart["points"]):
            lines.append(
                f"  {i + 1:>4}  {_fmt(point):>12}  {_fmt(_limit_at(chart['lcl'], i)):>12}  "
                f"{_fmt(_limit_at(chart['ucl'], i)):>12}  {', '.join(flags.get(i + 1, []))}".rstrip()
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def format_capability(result: Mapping[str, Any]) -> str:
    """A readable text table of capability indices.

    Args:
        result: The capability object (:meth:`twin.api.quality.Capability.to_dict`).

    Returns:
        The text.
    """
    rows = [
        ("n", result["n"]),
        ("mean", result["mean"]),
        ("LSL", result["lsl"]),
        ("USL", result["usl"]),
        ("target", result["target"]),
        ("sigma within", result["sigma_within"]),
        ("sigma overall", result["sigma_overall"]),
    ]
    rows += [(key.capitalize(), result[key]) for key in ("cp", "cpk", "cpl", "cpu", "cpm", "pp", "ppk", "ppl", "ppu")]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {_fmt(value)}" for name, value in rows) + "\n"


def run_spc(args: argparse.Namespace) -> int:
    """Handler of ``twin quality spc``.

    Args:
        args: Parsed arguments (file, chart, value, subgroup, size, rules, phase_col, phase_value, json).

    Returns:
        Exit code 0.
    """
    from twin.api.quality import spc

    charts = spc(
        args.file,
        args.chart,
        args.value,
        subgroup=args.subgroup,
        size=args.size,
        rules=args.rules,
        phase_col=args.phase_col,
        phase_value=args.phase_value,
    )
    return emit(args.json, charts.to_dict(), format_charts)


def run_capability(args: argparse.Namespace) -> int:
    """Handler of ``twin quality capability``.

    Args:
        args: Parsed arguments (file, value, subgroup, lsl, usl, target, json).

    Returns:
        Exit code 0.
    """
    from twin.api.quality import capability

    result = capability(args.file, args.value, subgroup=args.subgroup, lsl=args.lsl, usl=args.usl, target=args.target)
    return emit(args.json, result.to_dict(), format_capability)


def _quality_help(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return handler


def _file_command(commands: Any, parent: argparse.ArgumentParser, name: str, **texts: str) -> argparse.ArgumentParser:
    """A sub-command on one table file: the shared options and FILE (``texts``: its help and description)."""
    parser = commands.add_parser(name, parents=[parent], **texts)
    parser.add_argument("file", help="CSV or Parquet file, rows in time order")
    return parser


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``quality`` with its ``spc`` and ``capability`` sub-commands.

    Args:
        subparsers: The ``twin`` command's sub-parsers.
        parent: The parser holding ``--warehouse``, ``--json`` and ``--debug``.
    """
    quality = subparsers.add_parser(
        "quality", help="control charts and process capability on a CSV or Parquet file", description=__doc__
    )
    quality.set_defaults(func=_quality_help(quality), json=False, debug=False, warehouse=None)
    commands = quality.add_subparsers(dest="quality_command", metavar="SUBCOMMAND")

    spc = _file_command(
        commands,
        parent,
        "spc",
        help="control charts with run rules",
        description="Shewhart control charts (3-sigma) with optional Western Electric or Nelson rules.",
    )
    spc.add_argument("--chart", required=True, choices=CHARTS, help="chart type")
    spc.add_argument("--value", required=True, help="column to chart (observations or counts)")
    spc.add_argument("--subgroup", default=None, help="subgroup column (xbar-r, xbar-s; sums rows for p/np/c/u)")
    spc.add_argument("--size", default=None, help="sample size column (p, np, u; optional for c)")
    spc.add_argument("--rules", default=None, choices=RULE_SETS, help="run rules for the location chart")
    spc.add_argument("--phase-col", default=None, help="column marking the phase I points the limits come from")
    spc.add_argument("--phase-value", default=None, help="value of --phase-col for phase I (default I)")
    spc.set_defaults(func=run_spc)

    cap = _file_command(
        commands,
        parent,
        "capability",
        help="process capability indices",
        description="Cp, Cpk, Cpl, Cpu, Cpm (within-subgroup sigma) and Pp, Ppk (overall sigma).",
    )
    cap.add_argument("--value", required=True, help="column of measurements")
    cap.add_argument("--subgroup", default=None, help="subgroup column (sigma within = R̄/d2; else MR̄/1.128)")
    cap.add_argument("--lsl", type=float, default=None, help="lower specification limit")
    cap.add_argument("--usl", type=float, default=None, help="upper specification limit")
    cap.add_argument("--target", type=float, default=None, help="target for Cpm (default mid-specification)")
    cap.set_defaults(func=run_capability)
