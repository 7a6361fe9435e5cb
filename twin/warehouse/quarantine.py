"""What the ingest quarantined: rows (file, line, column, reason, the row as read) and rejected files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

QUARANTINE_COLUMNS = ("file", "line", "column", "reason", "stream", "record", "run_id", "loaded_at")


def list_quarantine(con: Any, file: str | Path | None = None, limit: int | None = None) -> pl.DataFrame:
    """Quarantined rows, oldest load first, then by file and line (whole-file rejections have no line).

    Args:
        con: A connection to the warehouse (read-only is enough).
        file: Only this file: its path, or a path ending (e.g. the file name).
        limit: At most this many rows.

    Returns:
        Columns ``file, line, column, reason, stream, record, run_id, loaded_at``.
    """
    tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    if "quarantine" not in tables:
        return pl.DataFrame(schema={c: pl.String for c in QUARANTINE_COLUMNS})
    where, params = "", []
    if file is not None:
        resolved = str(Path(file).resolve())
        where = "where file = ? or file like ? escape '\\'"
        suffix = str(file).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params = [resolved, "%/" + suffix]
    sql = (
        "select file, line, column_name as column, reason, stream, record, run_id, loaded_at from quarantine "
        f"{where} order by loaded_at, file, line nulls first"
    )
    if limit is not None:
        sql += f" limit {int(limit)}"
    return con.sql(sql, params=params or None).pl()
