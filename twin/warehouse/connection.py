"""Connections to the DuckDB warehouse: one writer job at a time, readers on the published snapshot.

Write jobs::

    with write_job(warehouse) as con:      # lock held, session time zone UTC
        ...                                # commit as you go; on success: checkpoint + publish

Readers (the dashboard, report and analytics commands)::

    with read_connection(warehouse) as con:   # the snapshot, read-only, closed on exit
        frame = con.sql("select * from mart_cycles").pl()

or simply ``read_query(sql, params, warehouse)``. Every connection runs with ``TimeZone = 'UTC'`` so
timestamps, ``date_trunc`` and hours are UTC; the cell's time zone is applied explicitly where days and
shifts are counted. See :mod:`twin.warehouse.snapshot` for why readers never block on a writer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from twin.errors import WarehouseError
from twin.paths import default_warehouse
from twin.warehouse.snapshot import publish, snapshot_path

__all__ = [
    "connect",
    "publish",
    "read_connection",
    "read_query",
    "snapshot_path",
    "transaction",
    "write_connection",
    "write_job",
]


def _open(path: Path, read_only: bool) -> Any:
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            pid = re.search(r"PID (\d+)", text)
            who = f" (process {pid.group(1)})" if pid else ""
            raise WarehouseError(
                f"{path}: the warehouse is in use by another writer{who}; wait for it to finish"
            ) from exc
        raise WarehouseError(f"{path}: cannot open the warehouse ({text.splitlines()[0]})") from exc
    except duckdb.Error as exc:
        raise WarehouseError(f"{path}: cannot open the warehouse ({str(exc).splitlines()[0]})") from exc
    con.execute("set TimeZone = 'UTC'")
    return con


def connect(path: str | Path | None = None, *, read_only: bool = False) -> Any:
    """A DuckDB connection with the warehouse's session settings (UTC). Prefer the context managers.

    Args:
        path: A warehouse file, or ``:memory:``; the default warehouse when None.
        read_only: Open read-only.

    Returns:
        The connection (the caller closes it).

    Raises:
        WarehouseError: The file is locked by a writer or unreadable.
    """
    if path is not None and str(path) == ":memory:":
        import duckdb

        con = duckdb.connect(":memory:")
        con.execute("set TimeZone = 'UTC'")
        return con
    target = Path(path) if path is not None else default_warehouse()
    if not read_only:
        target.parent.mkdir(parents=True, exist_ok=True)
    return _open(target, read_only)


@contextmanager
def write_connection(path: str | Path | None = None) -> Iterator[Any]:
    """The warehouse file opened for writing; closed on exit (no publish: see :func:`write_job`).

    Raises:
        WarehouseError: Another process holds the warehouse.
    """
    con = connect(path)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def write_job(path: str | Path | None = None) -> Iterator[Any]:
    """A write job: the warehouse opened for writing, published as the read snapshot on success.

    The body commits its own transactions (or runs in auto-commit). When it raises, nothing is
    published and readers keep the previous snapshot.

    Args:
        path: The warehouse file (default ``data/twin.duckdb``).

    Yields:
        The write connection.

    Raises:
        WarehouseError: Another process holds the warehouse, or publishing failed.
    """
    target = Path(path) if path is not None else default_warehouse()
    con = connect(target)
    try:
        yield con
        publish(con, target)
    finally:
        con.close()


@contextmanager
def transaction(con: Any, action: str) -> Iterator[None]:
    """One transaction on a write connection: committed when the body returns, rolled back when DuckDB fails.

    Args:
        con: An open write connection outside a transaction.
        action: What the body does, for the error (``cannot <action>: ...``).

    Yields:
        Nothing; the body writes through ``con``.

    Raises:
        WarehouseError: A DuckDB error in the body or the commit (the warehouse is unchanged).
    """
    import duckdb

    try:
        con.execute("begin transaction")
        yield
        con.execute("commit")
    except duckdb.Error as exc:
        try:
            con.execute("rollback")
        except duckdb.Error:
            pass
        raise WarehouseError(f"cannot {action}: {str(exc).splitlines()[0]}") from exc


@contextmanager
def read_connection(path: str | Path | None = None) -> Iterator[Any]:
    """A short-lived read-only connection to what the last write job published.

    Opens the snapshot (``<warehouse>.read.duckdb``); a warehouse that was never published (written
    by hand) is opened read-only itself, which fails while a writer holds it.

    Args:
        path: The warehouse file (default ``data/twin.duckdb``) or a snapshot file.

    Yields:
        A read-only connection, closed on exit. Do not keep it across queries or page reruns.

    Raises:
        WarehouseError: There is no warehouse, or only a locked one.
    """
    target = Path(path) if path is not None else default_warehouse()
    snapshot = target if target.name.endswith(".read.duckdb") else snapshot_path(target)
    if snapshot.is_file():
        con = _open(snapshot, read_only=True)
    elif target.is_file():
        con = _open(target, read_only=True)
    else:
        raise WarehouseError(f"{target}: no warehouse yet; run `twin ingest` or `twin demo` first")
    try:
        yield con
    finally:
        con.close()


def read_query(sql: str, params: Any = None, path: str | Path | None = None) -> pl.DataFrame:
    """Run one query on the published snapshot and return a polars frame.

    Args:
        sql: The query (bind user values as parameters, never format them in).
        params: Its parameters.
        path: The warehouse file.

    Returns:
        The result.

    Raises:
        WarehouseError: No warehouse, or the query failed (e.g. a missing table).
    """
    import duckdb

    with read_connection(path) as con:
        try:
            return con.sql(sql, params=params).pl() if params is not None else con.sql(sql).pl()
        except duckdb.Error as exc:
            raise WarehouseError(f"query failed: {str(exc).splitlines()[0]}") from exc
