"""``twin ingest`` and ``twin quarantine`` (and ``twin generate``, registered by its own module)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any

from twin.paths import DEFAULT_CELL
from twin.telemetry.schema import STREAMS


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``twin ingest``, ``twin quarantine`` and, when its module exists, ``twin generate``."""
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

    _register_optional(subparsers, parent)


def _register_optional(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """``twin generate`` lives in twin.telemetry.generate (``register_generate(subparsers, parent)``)."""
    try:
        module = importlib.import_module("twin.telemetry.generate")
    except ModuleNotFoundError as exc:
        if exc.name in ("twin.telemetry.generate",):
            return
        raise
    hook = getattr(module, "register_generate", None)
    if hook is not None:
        hook(subparsers, parent)


def run_ingest(args: argparse.Namespace) -> int:
    """Ingest the given paths; print the summary (or JSON); one stderr line per rejected file."""
    from twin.warehouse.load import REJECTED, FileResult, ingest_paths

    bar: Any = None

    def on_start(files: list[Any]) -> None:
        nonlocal bar
        if sys.stderr.isatty() and len(files) > 0:
            from tqdm import tqdm

            bar = tqdm(total=len(files), unit="file", desc="ingest", file=sys.stderr, leave=False)

    def on_file(result: FileResult) -> None:
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{result.path[-40:]} {result.status}")
        if result.status == REJECTED:
            line = f"twin ingest: rejected {result.path}: {result.error}"
            if bar is not None:
                bar.write(line, file=sys.stderr)
            else:
                print(line, file=sys.stderr)

    try:
        report = ingest_paths(
            args.paths,
            args.warehouse,
            cell=args.cell,
            stream=args.stream,
            build=not args.no_build,
            export_dir=args.export_parquet,
            on_file=on_file,
            on_start=on_start,
        )
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(format_report(report.to_json()))
    return report.exit_code


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
    from twin.warehouse.connection import read_connection
    from twin.warehouse.quarantine import list_quarantine

    with read_connection(args.warehouse) as con:
        frame = list_quarantine(con, args.file, args.limit)
    rows = frame.to_dicts()
    for row in rows:
        if row.get("loaded_at") is not None and not isinstance(row["loaded_at"], str):
            row["loaded_at"] = row["loaded_at"].isoformat()
    if args.json:
        print(json.dumps({"quarantined": rows, "count": len(rows)}))
        return 0
    if not rows:
        print("nothing quarantined")
        return 0
    for row in rows:
        where = f"{row['file']}:{row['line']}" if row["line"] is not None else f"{row['file']} (whole file)"
        column = f" [{row['column']}]" if row["column"] else ""
        print(f"{where}{column}: {row['reason']}")
    print(f"{len(rows)} quarantined")
    return 0
