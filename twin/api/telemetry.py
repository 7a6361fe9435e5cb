"""Telemetry in: generate a cell's synthetic telemetry, ingest files into the warehouse, list what was quarantined.

``twin generate``, ``twin ingest`` and ``twin quarantine`` call these functions and print their results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from twin.api._inputs import CellInput, resolve_cell, resolve_warehouse
from twin.errors import InputError
from twin.paths import data_dir
from twin.telemetry.generate import GenerateConfig, GenerateSummary
from twin.telemetry.generate import generate as generate_telemetry
from twin.warehouse.connection import read_connection
from twin.warehouse.load import FileResult, IngestReport, ingest_paths
from twin.warehouse.quarantine import list_quarantine


@dataclass(frozen=True)
class GeneratedTelemetry:
    """The files ``generate`` wrote.

    Attributes:
        out_dir: The folder written to.
        summary: Files, rows per stream, units made and when the process change happened.
    """

    out_dir: Path
    summary: GenerateSummary

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file written."""
        return tuple(self.summary.files)

    @property
    def rows(self) -> dict[str, int]:
        """Rows written per stream."""
        return dict(self.summary.rows)

    @property
    def units(self) -> int:
        """Units the generated cell started."""
        return self.summary.units

    @property
    def speed_change_at(self) -> str | None:
        """When the robots' speed override changed (ISO-8601, local time)."""
        return self.summary.speed_change_at

    def to_dict(self) -> dict[str, Any]:
        """The object ``twin generate --json`` prints: files, rows, units and the process change (when, robots)."""
        return self.summary.to_json()


@dataclass(frozen=True)
class IngestSummary:
    """What one ingest did to each file.

    Attributes:
        report: Per file: stream, rows, accepted, quarantined, status and the error of a rejected file.
    """

    report: IngestReport

    @property
    def files(self) -> tuple[FileResult, ...]:
        """One result per file, in ingest order."""
        return tuple(self.report.files)

    @property
    def run_id(self) -> str:
        """The ingest run's id (``run_id`` of the rows it loaded)."""
        return self.report.run_id

    @property
    def accepted(self) -> int:
        """Rows accepted in this run."""
        return self.report.accepted

    @property
    def quarantined(self) -> int:
        """Rows quarantined in this run."""
        return self.report.quarantined

    @property
    def rejected(self) -> tuple[FileResult, ...]:
        """Files rejected as a whole."""
        return tuple(self.report.rejected)

    @property
    def exit_code(self) -> int:
        """0 when every file was ingested or a duplicate, 2 when any was rejected."""
        return self.report.exit_code

    def to_dict(self) -> dict[str, Any]:
        """The object ``twin ingest --json`` prints: ``{"files": [...], "accepted", "quarantined"}``."""
        return self.report.to_json()


@dataclass(frozen=True)
class QuarantineListing:
    """Quarantined rows and rejected files.

    Attributes:
        rows: Columns ``file, line, column, reason, stream, record, run_id, loaded_at``; a rejected file's row
            has no line.
    """

    rows: pl.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """The object ``twin quarantine --json`` prints: ``{"quarantined": [...], "count": int}``."""
        rows = self.rows.to_dicts()
        for row in rows:
            if row.get("loaded_at") is not None and not isinstance(row["loaded_at"], str):
                row["loaded_at"] = row["loaded_at"].isoformat()
        return {"quarantined": rows, "count": len(rows)}


def generate(
    cell: CellInput = None,
    out_dir: str | Path | None = None,
    *,
    overrides: Iterable[str] = (),
    days: int = GenerateConfig.days,
    seed: int = GenerateConfig.seed,
    start: date = GenerateConfig.start,
    fmt: str = GenerateConfig.fmt,
    speed_change_day: int | None = None,
    speed_after: float = GenerateConfig.speed_after,
    speed_change_robots: Iterable[str] = (),
    grid_intensity: str | Path | None = None,
    progress: bool = False,
) -> GeneratedTelemetry:
    """Generate a cell's synthetic telemetry from the twin and write it as files (``twin generate``).

    Args:
        cell: A loaded cell, a cell YAML file, or None for the sample cell.
        out_dir: The folder to write to (default ``data/generated``).
        overrides: ``path.to.key=value`` strings applied to the cell file first.
        days: Days to generate.
        seed: Random seed: the same seed writes the same files.
        start: The first local day.
        fmt: ``parquet`` or ``csv``.
        speed_change_day: Day index of the process change (default: the middle of the period).
        speed_after: The robots' speed override after the change, in (0, 1].
        speed_change_robots: The robots the change speeds up (every robot when empty).
        grid_intensity: A real hourly grid-intensity series (e.g. an Electricity Maps export); default synthetic.
        progress: Show progress bars on stderr.

    Returns:
        The files written, rows per stream and units made.

    Raises:
        InputError: A value is out of range, or the grid-intensity file is missing.
        ConfigError: The cell file or an override is malformed.

    Example:
        >>> generated = generate(days=1, out_dir="data/generated")  # plans the cell with pybullet  # doctest: +SKIP
        >>> sorted(generated.rows)  # doctest: +SKIP
        ['energy', 'events', 'grid_intensity', 'joint_states', 'quality']
    """
    if not 0.0 < speed_after <= 1.0:
        raise InputError(f"speed_after {speed_after}: must be in (0, 1]")
    grid = Path(grid_intensity) if grid_intensity is not None else None
    if grid is not None and not grid.is_file():
        raise InputError(f"grid intensity {grid}: file not found")
    spec = resolve_cell(cell, overrides)
    config = GenerateConfig(
        days=days,
        seed=seed,
        start=start,
        fmt=fmt,
        speed_change_day=speed_change_day,
        speed_after=speed_after,
        speed_change_robots=tuple(speed_change_robots),
        grid_intensity_path=grid,
    )
    out = Path(out_dir) if out_dir is not None else data_dir() / "generated"
    return GeneratedTelemetry(out, generate_telemetry(spec, config, out, progress=progress))


def ingest(
    paths: Iterable[str | Path],
    warehouse: str | Path | None = None,
    *,
    cell: CellInput = None,
    stream: str | None = None,
    build: bool = True,
    export_dir: str | Path | None = None,
    on_start: Callable[[list[Path]], None] | None = None,
    on_file: Callable[[FileResult], None] | None = None,
) -> IngestSummary:
    """Validate telemetry files and load them into the warehouse (``twin ingest``).

    Every row is accepted or quarantined with its file, line, column and reason; re-ingesting the same
    content changes nothing.

    Args:
        paths: Files and folders (recursively; CSV, Parquet, JSON Lines).
        warehouse: The warehouse file (default ``data/twin.duckdb``).
        cell: The cell (a spec or its YAML file) whose ids and joint limits validate the rows, and whose id
            every row carries: several cells share one warehouse (default: the sample cell).
        stream: Force the stream of every file (default: from its name or columns).
        build: Rebuild the staging views and marts afterwards.
        export_dir: Also write every stream as Hive-partitioned Parquet there.
        on_start: Called with the files found, before the first is read (a progress bar's total).
        on_file: Called with each file's result as it is done.

    Returns:
        What happened to each file; ``exit_code`` is 2 when a file was rejected as a whole.

    Raises:
        TelemetryError: A folder holds no telemetry file.
        WarehouseError: The warehouse is held by another writer, or the build failed.
    """
    report = ingest_paths(
        list(paths),
        resolve_warehouse(warehouse),
        cell=cell,
        stream=stream,
        build=build,
        export_dir=export_dir,
        on_file=on_file,
        on_start=on_start,
    )
    return IngestSummary(report)


def quarantine(
    warehouse: str | Path | None = None, *, file: str | Path | None = None, limit: int | None = None
) -> QuarantineListing:
    """What the ingest quarantined, from the published snapshot (works while an ingest runs; ``twin quarantine``).

    Args:
        warehouse: The warehouse file (default ``data/twin.duckdb``).
        file: Only rows of this file: its path, or a path ending such as the file name.
        limit: At most this many rows.

    Returns:
        The rows, oldest load first, then by file and line.

    Raises:
        WarehouseError: There is no warehouse yet (the message says to run ``twin ingest``).
    """
    with read_connection(resolve_warehouse(warehouse)) as con:
        return QuarantineListing(list_quarantine(con, file, limit))
