"""Simulated runs in the warehouse: each ``simulated:<scenario>`` source with the cell it ran on.

A what-if runs on its own cell: the base cell with the scenario's changes (an added robot, a night
shift, another tariff). Its telemetry is only meaningful against that cell (its robots, calendar, prices
and factors), so the run stores the cell beside its rows: ``scenario_runs`` holds one row per simulated
source with the cell as JSON and its SHA-256, the seed, horizon, first day and replications.
:func:`scenario_cell` gives it back; the period figures of a simulated source use it instead of
``--cell``.

A source holds one run. Writing a different run of the same scenario (another seed, horizon, first day
or cell) replaces the earlier one's rows: simulated telemetry is derived and can be made again, and two
runs under one source would mix. Writing the same run again (more replications, say) adds only what is
new: its files and rows are already there (ingest is idempotent by content hash and natural key).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from twin.cell.spec import CellSpec
from twin.errors import InputError, WarehouseError
from twin.paths import default_warehouse
from twin.telemetry.schema import SIMULATED_PREFIX, STREAMS
from twin.telemetry.validate import ValidationContext
from twin.warehouse.build import build
from twin.warehouse.connection import connect
from twin.warehouse.load import Ingestor, IngestReport, ensure_schema, raw_table, table_columns
from twin.warehouse.snapshot import publish

TABLE = "scenario_runs"
COLUMNS = (
    ("source", "varchar primary key"),
    ("scenario_id", "varchar"),
    ("seed", "bigint"),
    ("horizon_days", "double"),
    ("start_date", "date"),
    ("replications", "integer"),
    ("cell_id", "varchar"),
    ("cell_sha256", "varchar"),
    ("cell_json", "varchar"),
    ("written_at", "timestamptz"),
)


def cell_json(cell: CellSpec) -> str:
    """The cell as canonical JSON (sorted keys): what is stored and hashed."""
    return json.dumps(cell.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def cell_sha256(cell: CellSpec) -> str:
    """SHA-256 of :func:`cell_json`: equal cells, equal hashes."""
    return hashlib.sha256(cell_json(cell).encode()).hexdigest()


@dataclass(frozen=True)
class SimulatedRun:
    """What identifies a run's telemetry: the same run written twice holds the same rows.

    Attributes:
        scenario_id: The scenario (``source = simulated:<scenario_id>``).
        seed: The seed.
        horizon_days: Simulated days.
        start: The first local day.
        replications: How many replications are written.
        cell: The scenario's cell (base cell with its changes).
    """

    scenario_id: str
    seed: int
    horizon_days: float
    start: date
    replications: int
    cell: CellSpec

    @property
    def source(self) -> str:
        """``simulated:<scenario_id>``."""
        return f"{SIMULATED_PREFIX}{self.scenario_id}"

    def same_telemetry(self, row: dict[str, Any]) -> bool:
        """Whether a stored run (a :data:`TABLE` row) produced the same rows as this one (replications aside)."""
        return (
            row["seed"] == self.seed
            and float(row["horizon_days"]) == float(self.horizon_days)
            and row["start_date"] == self.start
            and row["cell_sha256"] == cell_sha256(self.cell)
        )


def ensure_table(con: Any) -> None:
    """Create :data:`TABLE` when missing."""
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
    con.execute(f"create table if not exists {TABLE} ({columns})")


def stored_run(conn: Any, source: str) -> dict[str, Any] | None:
    """The stored run of a simulated source (a :data:`TABLE` row as a dict), or None."""
    if not table_columns(conn, TABLE):
        return None
    names = [name for name, _ in COLUMNS]
    rows = conn.execute(f"select {', '.join(names)} from {TABLE} where source = ?", [source]).fetchall()
    return dict(zip(names, rows[0], strict=True)) if rows else None


def scenario_cell(conn: Any, source: str) -> CellSpec:
    """The cell a simulated source ran on, as stored with its run.

    Args:
        conn: An open warehouse connection (the read snapshot is enough).
        source: ``simulated:<scenario>``.

    Returns:
        The validated cell.

    Raises:
        InputError: ``source`` is not a simulated source, or the warehouse holds no run of it.
        WarehouseError: The stored cell no longer validates or its hash does not match.
    """
    if not source.startswith(SIMULATED_PREFIX):
        raise InputError(f"source {source!r} is not simulated; valid: simulated:<scenario>")
    row = stored_run(conn, source)
    if row is None:
        known = []
        if table_columns(conn, TABLE):
            known = [r[0] for r in conn.execute(f"select source from {TABLE} order by source").fetchall()]
        raise InputError(
            f"the warehouse holds no simulated run {source!r} (write one with twin scenario run --to-warehouse); "
            f"runs: {', '.join(known) or 'none'}"
        )
    text = row["cell_json"]
    if hashlib.sha256(text.encode()).hexdigest() != row["cell_sha256"]:
        raise WarehouseError(f"{TABLE}: the stored cell of {source} does not match its SHA-256")
    try:
        return CellSpec.model_validate_json(text)
    except ValueError as exc:
        raise WarehouseError(f"{TABLE}: the stored cell of {source} no longer validates ({exc})") from exc


def _forget(con: Any, source: str) -> None:
    """Delete every row of a source, and the files that held only its rows, from the raw tables."""
    files: set[int] = set()
    for stream in STREAMS:
        table = raw_table(stream)
        if not table_columns(con, table):
            continue
        rows = con.execute(f"select distinct file_id from {table} where source = ?", [source]).fetchall()
        files |= {r[0] for r in rows}
        con.execute(f"delete from {table} where source = ?", [source])
    for file_id in sorted(f for f in files if f is not None):
        still = any(
            con.execute(f"select exists (select 1 from {raw_table(s)} where file_id = ?)", [file_id]).fetchall()[0][0]
            for s in STREAMS
            if table_columns(con, raw_table(s))
        )
        if not still:
            con.execute("delete from quarantine where file_id = ?", [file_id])
            con.execute("delete from ingest_files where file_id = ?", [file_id])
    con.execute(f"delete from {TABLE} where source = ?", [source])


def write_run(run: SimulatedRun, paths: Iterable[str | Path], warehouse: str | Path | None = None) -> IngestReport:
    """Ingest a run's telemetry files into the warehouse with its cell, then rebuild and publish.

    One write job: an earlier, different run of the source is forgotten first (see the module docstring),
    each file is ingested in its own transaction (validated against the scenario's own cell, so an added
    robot's rows are accepted), and the run's row is written last, only when no row was quarantined.

    Args:
        run: The run.
        paths: Its telemetry files (every replication's events, energy and quality).
        warehouse: The warehouse file (default ``data/twin.duckdb``).

    Returns:
        The ingest report.

    Raises:
        WarehouseError: The warehouse is held by another writer, the source holds another cell's run, a file was
            rejected or a row quarantined, or the build failed.
    """
    target = Path(warehouse) if warehouse is not None else default_warehouse()
    ctx = ValidationContext.from_cell(run.cell)
    con = connect(target)
    try:
        ensure_schema(con, ctx)
        ensure_table(con)
        previous = stored_run(con, run.source)
        if previous is not None and previous["cell_id"] != run.cell.cell.id:
            raise WarehouseError(
                f"{run.source} holds a run of cell {previous['cell_id']}, not of {run.cell.cell.id}: a simulated "
                "source is one cell's; give this scenario another id"
            )
        con.begin()
        try:
            if previous is not None and not run.same_telemetry(previous):
                _forget(con, run.source)
            con.commit()
        except BaseException:
            con.rollback()
            raise
        ingestor = Ingestor(con, ctx)
        results = [ingestor.ingest(path) for path in paths]
        rejected = [r for r in results if r.status == "rejected"]
        if rejected:
            raise WarehouseError(f"simulated telemetry {rejected[0].path} was rejected: {rejected[0].error}")
        quarantined = [r for r in results if r.quarantined]
        if quarantined:  # the twin writes the contract by construction: a quarantined row is a bug, not data
            raise WarehouseError(
                f"{sum(r.quarantined for r in quarantined)} rows of simulated telemetry were quarantined, "
                f"first in {quarantined[0].path}; see twin quarantine (the run is not recorded)"
            )
        replications = run.replications
        if previous is not None and run.same_telemetry(previous):
            replications = max(replications, int(previous["replications"]))
        con.begin()
        try:
            con.execute(f"delete from {TABLE} where source = ?", [run.source])
            con.execute(
                f"insert into {TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run.source,
                    run.scenario_id,
                    run.seed,
                    float(run.horizon_days),
                    run.start,
                    replications,
                    run.cell.cell.id,
                    cell_sha256(run.cell),
                    cell_json(run.cell),
                    datetime.now(UTC),
                ],
            )
            con.commit()
        except BaseException:
            con.rollback()
            raise
        build(con)
        publish(con, target)
        return IngestReport(results, ingestor.run_id)
    finally:
        con.close()
