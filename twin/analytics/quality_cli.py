"""``twin quality spc`` and ``twin quality capability``: control charts and capability on a file.

FILE is CSV or Parquet, read with polars, rows in time order. ``--json`` prints exactly
``{"charts": [...]}`` (spc) or the capability object on stdout, with plain floats and ``null``
where a value is undefined; without it a readable table is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import polars as pl

from twin.analytics.capability import capability_from_frame
from twin.analytics.spc import CHARTS, RULE_SETS, control_chart
from twin.errors import InputError

READERS: tuple[str, ...] = (".csv", ".parquet", ".pq")


def read_table(path: str | Path) -> pl.DataFrame:
    """Read a CSV or Parquet file into a frame.

    CSV column types are inferred from every row, so a stray text value makes its column text
    (and is reported by the chart functions with its row).

    Args:
        path: The file.

    Returns:
        The data.

    Raises:
        InputError: If the file is missing, has an unknown suffix, or cannot be parsed.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in READERS:
        raise InputError(f"cannot read {file}: unknown file type {suffix or '(none)'!r}; valid: {', '.join(READERS)}")
    if not file.is_file():
        raise InputError(f"file not found: {file}")
    try:
        if suffix == ".csv":
            return pl.read_csv(file, infer_schema_length=None)
        return pl.read_parquet(file)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read {file}: {first_line}") from exc


def jsonable(value: Any) -> Any:
    """Plain Python JSON values: numpy scalars to int/float, NaN and infinities to None.

    Args:
        value: A dict / list / scalar tree.

    Returns:
        The same tree with only JSON-native types.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item") and not isinstance(value, (int, float)):
        value = value.item()
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    return value


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


def format_charts(charts: list[dict[str, Any]]) -> str:
    """A readable text table of control charts.

    Args:
        charts: Chart dicts from :func:`twin.analytics.spc.control_chart`.

    Returns:
        The text, one block per chart.
    """
    lines: list[str] = []
    for chart in charts:
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


def format_capability(result: dict[str, Any]) -> str:
    """A readable text table of capability indices.

    Args:
        result: The dict from :func:`twin.analytics.capability.capability`.

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
        args: Parsed arguments (file, chart, value, subgroup, size, rules, phase_col, phase_value,
            json).

    Returns:
        Exit code 0.

    Raises:
        InputError: On unreadable files or unusable columns.
    """
    frame = read_table(args.file)
    charts = control_chart(
        frame,
        args.chart,
        args.value,
        subgroup=args.subgroup,
        size=args.size,
        rules=args.rules,
        phase_col=args.phase_col,
        phase_value=args.phase_value,
        source=str(args.file),
    )
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps({"charts": jsonable(charts)}, allow_nan=False) + "\n")
    else:
        sys.stdout.write(format_charts(charts))
    return 0


def run_capability(args: argparse.Namespace) -> int:
    """Handler of ``twin quality capability``.

    Args:
        args: Parsed arguments (file, value, subgroup, lsl, usl, target, json).

    Returns:
        Exit code 0.

    Raises:
        InputError: On unreadable files, unusable columns or bad specification limits.
    """
    frame = read_table(args.file)
    result = capability_from_frame(
        frame,
        args.value,
        subgroup=args.subgroup,
        lsl=args.lsl,
        usl=args.usl,
        target=args.target,
        source=str(args.file),
    )
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(jsonable(result), allow_nan=False) + "\n")
    else:
        sys.stdout.write(format_capability(result))
    return 0


def _quality_help(parser: argparse.ArgumentParser) -> Any:
    def handler(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return handler


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
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

    spc = commands.add_parser(
        "spc",
        parents=[parent],
        help="control charts with run rules",
        description="Shewhart control charts (3-sigma) with optional Western Electric or Nelson rules.",
    )
    spc.add_argument("file", help="CSV or Parquet file, rows in time order")
    spc.add_argument("--chart", required=True, choices=CHARTS, help="chart type")
    spc.add_argument("--value", required=True, help="column to chart (observations or counts)")
    spc.add_argument("--subgroup", default=None, help="subgroup column (xbar-r, xbar-s; sums rows for p/np/c/u)")
    spc.add_argument("--size", default=None, help="sample size column (p, np, u; optional for c)")
    spc.add_argument("--rules", default=None, choices=RULE_SETS, help="run rules for the location chart")
    spc.add_argument("--phase-col", default=None, help="column marking the phase I points the limits come from")
    spc.add_argument("--phase-value", default=None, help="value of --phase-col for phase I (default I)")
    spc.set_defaults(func=run_spc)

    cap = commands.add_parser(
        "capability",
        parents=[parent],
        help="process capability indices",
        description="Cp, Cpk, Cpl, Cpu, Cpm (within-subgroup sigma) and Pp, Ppk (overall sigma).",
    )
    cap.add_argument("file", help="CSV or Parquet file, rows in time order")
    cap.add_argument("--value", required=True, help="column of measurements")
    cap.add_argument("--subgroup", default=None, help="subgroup column (sigma within = R̄/d2; else MR̄/1.128)")
    cap.add_argument("--lsl", type=float, default=None, help="lower specification limit")
    cap.add_argument("--usl", type=float, default=None, help="upper specification limit")
    cap.add_argument("--target", type=float, default=None, help="target for Cpm (default mid-specification)")
    cap.set_defaults(func=run_capability)
