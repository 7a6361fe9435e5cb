"""Telemetry as Hive-partitioned Parquet: the path for data that outgrows one DuckDB file.

``export_partitioned`` writes each stream's accepted rows as
``<dir>/<stream>/cell=<cell id>/day=<YYYY-MM-DD>/*.parquet`` (``day`` is the UTC date of ``ts``; the files
hold the contract's columns, extras and the lineage ``cell_id``, ``source`` and ``replication``, so they can be
ingested again elsewhere, and only on their own cell);
DuckDB, or any lake engine, queries that folder in place::

    select * from read_parquet('<dir>/joint_states/**/*.parquet', hive_partitioning = true)
    where day = '2026-11-02'          -- partition pruning: only that day's files are read

``attach_partitioned`` creates such views (``lake_<stream>``) on a connection, and ``twin ingest`` takes
a partition folder like any other (the stream is the folder's name).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twin.errors import WarehouseError
from twin.telemetry.read import literal
from twin.telemetry.schema import STREAMS


def _raw_tables(con: Any) -> set[str]:
    rows = con.execute("select table_name from duckdb_tables() where database_name = current_database()").fetchall()
    return {r[0] for r in rows}


def export_partitioned(
    source: Any, out_dir: str | Path, *, streams: list[str] | None = None, read_snapshot: bool = True
) -> dict[str, int]:
    """Export every stream's raw rows as Hive-partitioned Parquet (a full copy; the folder is replaced).

    Args:
        source: An open DuckDB connection, or a warehouse path (its read snapshot is used).
        out_dir: Target folder; ``<stream>/`` under it is overwritten.
        streams: Streams to export (default: all with rows).
        read_snapshot: With a path, read the published snapshot (else the file itself).

    Returns:
        Stream -> rows written.

    Raises:
        WarehouseError: The warehouse cannot be read or written out.
    """
    import duckdb

    if isinstance(source, (str, Path)):
        from twin.warehouse.connection import connect, read_connection

        if read_snapshot:
            with read_connection(source) as con:
                return export_partitioned(con, out_dir, streams=streams)
        con = connect(source, read_only=True)
        try:
            return export_partitioned(con, out_dir, streams=streams)
        finally:
            con.close()
    con = source
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = _raw_tables(con)
    written: dict[str, int] = {}
    for stream in streams or list(STREAMS):
        table = f"raw_{stream}"
        if table not in tables:
            continue
        n = con.execute(f"select count(*) from {table}").fetchall()[0][0]
        if n == 0 and streams is None:
            continue
        target = out / stream
        try:
            con.execute(
                f"copy (select r.* exclude (file_id), r.cell_id as cell, strftime(r.ts, '%Y-%m-%d') as day "
                f"from {table} r) "
                f"to {literal(str(target))} "
                f"(format parquet, partition_by (cell, day), overwrite true, filename_pattern 'part_{{i}}')"
            )
        except duckdb.Error as exc:
            raise WarehouseError(f"{target}: export failed ({str(exc).splitlines()[0]})") from exc
        written[stream] = int(n)
    return written


def partitioned_scan(out_dir: str | Path, stream: str) -> str:
    """SQL ``read_parquet`` of one stream's partition folder, usable after ``FROM``."""
    pattern = str(Path(out_dir) / stream / "**" / "*.parquet")
    return f"read_parquet({literal(pattern)}, hive_partitioning = true, union_by_name = true)"


def attach_partitioned(con: Any, out_dir: str | Path) -> list[str]:
    """Create temporary views ``lake_<stream>`` over a partition folder (works on read-only connections).

    Args:
        con: Any DuckDB connection.
        out_dir: A folder written by :func:`export_partitioned` (or by another writer, same layout).

    Returns:
        The views created (streams whose folder exists).
    """
    views = []
    for stream in STREAMS:
        if not any((Path(out_dir) / stream).rglob("*.parquet")):
            continue
        name = f"lake_{stream}"
        con.execute(f"create or replace temp view {name} as select * from {partitioned_scan(out_dir, stream)}")
        views.append(name)
    return views
