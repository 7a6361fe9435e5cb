"""``twin report``: the period report (HTML with plots, CSV and JSON of every table)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``twin report``.

    Args:
        subparsers: The ``twin`` command's sub-parsers.
        parent: The parser holding ``--warehouse``, ``--json`` and ``--debug``.
    """
    from twin.analytics.commands import add_period_options

    report = subparsers.add_parser(
        "report",
        parents=[parent],
        help="the period report: report.html with plots, CSV and JSON of every table",
        description=(
            "Writes OUT/report.html (self-contained: plots inline, opens offline), OUT/report.json and "
            "OUT/<table>.csv + .json for every table: carbon by scope and variant, cost breakdown, OEE trend, "
            "quality (first-pass yield, Pareto, weekly trends, settings change, control charts, capability) "
            "and the methodology with every factor's source."
        ),
    )
    add_period_options(report)
    report.add_argument("--out", required=True, help="output folder (created)")
    report.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Handler of ``twin report``."""
    from twin.report.build import write_report

    result = write_report(
        args.warehouse, args.out, args.start, args.end, args.cell, args.overrides, args.source, progress=None
    )
    if args.json:
        sys.stdout.write(json.dumps(result.to_json()) + "\n")
    else:
        print(f"wrote {result.html} and {len(result.tables)} tables (CSV + JSON) to {result.out_dir}")
    return 0
