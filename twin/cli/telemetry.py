"""``twin generate``, ``twin ingest`` and ``twin quarantine``: telemetry in."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from twin import api
from twin.cli.common import add_cell_options
from twin.errors import InputError
from twin.paths import DEFAULT_CELL
from twin.telemetry.schema import STREAMS


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``twin ingest``, ``twin quarantine`` and ``twin generate``.

    Args:
        subparsers: The ``twin`` command's sub-parsers.
        parent: The parser holding ``--warehouse``, ``--json`` and ``--debug``.
    """
    ingest = subparsers.add_parser(
        "ingest",
        parents=[parent],
        help="load telemetry files or folders into the warehouse",
        description="Validate telemetry files (CSV, Parquet, JSON Lines; folders recursively) and load them "
        "into the warehouse: every row is accepted or quarantined with its file, line, column and reason. "
        "Re-ingesting the same content changes nothing. Exit code 2 when a file is rejected as a whole.",
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="telemetry files or folders")
    ingest.add_argument("--stream", choices=list(STREAMS), help="force the stream (default: from name or columns)")
    ingest.add_argument("--cell", default=str(DEFAULT_CELL), help="cell YAML whose ids and joint limits apply")
    ingest.add_argument("--no-build", action="store_true", help="do not rebuild the staging views and marts")
    ingest.add_argument(
        "--export-parquet", metavar="DIR", help="also write every stream as Hive-partitioned Parquet under DIR"
    )
    ingest.set_defaults(func=run_ingest)

    quarantine = subparsers.add_parser(
        "quarantine",
        parents=[parent],
        help="list quarantined rows and rejected files",
        description="What the ingest quarantined: file, line, column and reason (rejected files have no line).",
    )
    quarantine.add_argument("--file", metavar="PATH", help="only rows of this file (path or file name)")
    quarantine.add_argument("--limit", type=int, default=None, help="at most this many rows")
    quarantine.set_defaults(func=run_quarantine)

    generate = subparsers.add_parser("generate", parents=[parent], help="synthetic telemetry of a cell, from the twin")
    add_cell_options(generate)
    generate.add_argument("--days", type=int, default=30, help="days to generate (default 30)")
    generate.add_argument("--seed", type=int, default=7, help="random seed (same seed, same files)")
    generate.add_argument("--start", default="2026-10-05", help="first local day, YYYY-MM-DD (default 2026-10-05)")
    generate.add_argument("--out", default=None, help="output folder (default data/generated)")
    generate.add_argument("--format", dest="fmt", choices=("parquet", "csv"), default="parquet")
    generate.add_argument(
        "--speed-change-day",
        type=int,
        default=None,
        help="day index of the process change (default: the middle of the period)",
    )
    generate.add_argument("--speed-after", type=float, default=0.7, help="robots' speed override after the change")
    generate.add_argument(
        "--speed-change-robot",
        dest="speed_change_robots",
        action="append",
        default=[],
        metavar="ROBOT",
        help="a robot the process change speeds up (repeat for several; default: every robot)",
    )
    generate.add_argument(
        "--grid-intensity",
        default=None,
        metavar="FILE",
        help="a real hourly grid-intensity series (e.g. an Electricity Maps export)",
    )
    generate.set_defaults(func=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    """Handler of ``twin generate``."""
    try:
        start = date.fromisoformat(args.start)
    except ValueError as exc:
        raise InputError(f"--start {args.start!r}: expected YYYY-MM-DD") from exc
    generated = api.generate(
        args.cell,
        args.out,
        overrides=args.overrides,
        days=args.days,
        seed=args.seed,
        start=start,
        fmt=args.fmt,
        speed_change_day=args.speed_change_day,
        speed_after=args.speed_after,
        speed_change_robots=args.speed_change_robots,
        grid_intensity=args.grid_intensity,
        progress=sys.stderr.isatty(),
    )
    if args.json:
        print(json.dumps(generated.to_dict()))
    else:
        rows = ", ".join(f"{k} {v:,}" for k, v in generated.rows.items())
        print(
            f"wrote {len(generated.files)} files to {generated.out_dir}: {generated.units:,} units; {rows}; "
            f"speed change of {', '.join(generated.summary.speed_change_robots)} at {generated.speed_change_at}"
        )
    return 0


class _IngestProgress:
    """A progress bar on a terminal's stderr, and one stderr line per rejected file."""

    def __init__(self) -> None:
        self.bar: Any = None

    def start(self, files: list[Path]) -> None:
        if sys.stderr.isatty() and len(files) > 0:
            from tqdm import tqdm

            self.bar = tqdm(total=len(files), unit="file", desc="ingest", file=sys.stderr, leave=False)

    def file(self, result: Any) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"{result.path[-40:]} {result.status}")
        if result.status == "rejected":
            line = f"twin ingest: rejected {result.path}: {result.error}"
            if self.bar is not None:
                self.bar.write(line, file=sys.stderr)
            else:
                print(line, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_ingest(args: argparse.Namespace) -> int:
    """Ingest the given paths; print the summary (or JSON); one stderr line per rejected file."""
    progress = _IngestProgress()
    try:
        summary = api.ingest(
            args.paths,
            args.warehouse,
            cell=args.cell,
            stream=args.stream,
            build=not args.no_build,
            export_dir=args.export_parquet,
            on_start=progress.start,
            on_file=progress.file,
        )
    finally:
        progress.close()
    report = summary.to_dict()
    print(json.dumps(report) if args.json else format_report(report))
    return summary.exit_code


def format_report(report: dict[str, Any]) -> str:
    """A readable summary of an ingest."""
    lines = []
    for f in report["files"]:
        if f["status"] == "rejected":
            lines.append(f"rejected   {f['path']}: {f['error']}")
        elif f["status"] == "duplicate":
            lines.append(f"duplicate  {f['path']} ({f['stream']}, {f['rows']} rows already ingested)")
        else:
            lines.append(
                f"ingested   {f['path']} ({f['stream']}): {f['rows']} rows, {f['accepted']} accepted, "
                f"{f['quarantined']} quarantined"
            )
    n_rejected = sum(1 for f in report["files"] if f["status"] == "rejected")
    lines.append(
        f"{len(report['files'])} files: {report['accepted']} rows accepted, {report['quarantined']} quarantined"
        + (f", {n_rejected} files rejected" if n_rejected else "")
        + ("; see `twin quarantine`" if report["quarantined"] or n_rejected else "")
    )
    return "\n".join(lines)


def run_quarantine(args: argparse.Namespace) -> int:
    """List what was quarantined (from the published snapshot: works while an ingest runs)."""
    listing = api.quarantine(args.warehouse, file=args.file, limit=args.limit)
    report = listing.to_dict()
    if args.json:
        print(json.dumps(report))
        return 0
    rows = report["quarantined"]
    if not rows:
        print("nothing quarantined")
        return 0
    for row in rows:
        where = f"{row['file']}:{row['line']}" if row["line"] is not None else f"{row['file']} (whole file)"
        column = f" [{row['column']}]" if row["column"] else ""
        print(f"{where}{column}: {row['reason']}")
    print(f"{len(rows)} quarantined")
    return 0
