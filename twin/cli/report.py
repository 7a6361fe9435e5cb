"""``twin report``: the period report, HTML with plots and every table as CSV and JSON.

The handler calls :func:`twin.api.reports.report`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from twin.cli.analytics import add_period_options, period_arguments
from twin.cli.output import emit


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``twin report``.

    Args:
        subparsers: The ``twin`` command's sub-parsers.
        parent: The parser holding ``--warehouse``, ``--json`` and ``--debug``.
    """
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


class StageBar:
    """A tqdm bar over the report's stages on a TTY stderr; silent otherwise. Call it with each stage's name."""

    def __init__(self, total: int) -> None:
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="report", unit="step", leave=False, file=sys.stderr)

    def __call__(self, stage: str) -> None:
        """Advance the bar past a finished stage."""
        if self.bar is not None:
            self.bar.set_postfix_str(stage)
            self.bar.update(1)

    def close(self) -> None:
        """Remove the bar."""
        if self.bar is not None:
            self.bar.close()


def run_report(args: argparse.Namespace) -> int:
    """Handler of ``twin report``."""
    from twin.api.reports import STAGES, report

    bar = StageBar(len(STAGES))
    try:
        files = report(args.warehouse, args.out, on_stage=bar, **period_arguments(args))
    finally:
        bar.close()
    return emit(
        args.json,
        files.to_dict(),
        lambda r: f"wrote {r['html']} and {len(r['tables'])} tables (CSV + JSON) to {r['out']}\n",
    )
