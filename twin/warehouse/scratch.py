"""An in-memory warehouse for telemetry the twin produced itself: the same staging views and marts, no files.

A what-if computes each replication's KPIs with the analytics, which read marts. Writing every
replication through ``twin ingest`` would validate rows the simulation wrote in the contract's schema by
construction, and would cost more than the simulation itself; so in a private in-memory DuckDB (one
thread: replications already run in parallel processes) each ``raw_<stream>`` is a view over the frame
itself (Arrow, not copied), the models the analytics read are built from the same SQL files
(:func:`twin.warehouse.build.build`), and the connection is handed to the analytics. The same frames
ingested into a warehouse file give the same marts (``tests/scenarios/test_kpi_consistency.py`` holds
that to 1e-9).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import polars as pl

from twin.errors import WarehouseError
from twin.telemetry.read import ident
from twin.telemetry.schema import MEASURED, STREAMS
from twin.telemetry.validate import MEASURED_REPLICATION, ValidationContext, raw_columns
from twin.warehouse.build import build
from twin.warehouse.connection import connect
from twin.warehouse.load import ensure_schema, raw_table


@contextmanager
def scratch_warehouse(cell_id: str, frames: Mapping[str, pl.DataFrame], marts: Collection[str]) -> Iterator[Any]:
    """A private in-memory warehouse holding ``frames``, with ``marts`` and what they read built.

    Args:
        cell_id: The cell the rows are of (rows without a ``cell_id``).
        frames: Stream -> rows in the contract's columns plus ``source`` and ``replication`` (rows without
            them are measured, replication 0); trusted, not validated.
        marts: The marts to build (:data:`twin.analytics.store.PERIOD_MARTS` for the period figures).

    Yields:
        The open connection (closed on exit).

    Raises:
        WarehouseError: A frame is of an unknown stream or a model fails to build.
    """
    unknown = sorted(set(frames) - set(STREAMS))
    if unknown:
        raise WarehouseError(f"no telemetry stream {', '.join(unknown)}; streams: {', '.join(STREAMS)}")
    con = connect(":memory:")
    try:
        con.execute("set threads = 1")
        con.execute("set enable_progress_bar = false")  # a command's stdout holds its output only
        # no joint states here: the raw tables need no joint columns, so no URDF is read
        ensure_schema(con, ValidationContext(cell_id, {}, ()))
        for stream, frame in frames.items():
            if "cell_id" not in frame.columns:
                frame = frame.with_columns(pl.lit(cell_id).alias("cell_id"))
            if "source" not in frame.columns:
                frame = frame.with_columns(pl.lit(MEASURED).alias("source"))
            if "replication" not in frame.columns:
                frame = frame.with_columns(pl.lit(MEASURED_REPLICATION, pl.Int64).alias("replication"))
            con.register(f"scratch_{stream}", frame.to_arrow())
            columns = [
                ident(c.name) if c.name in frame.columns else f"null::{c.sql_type} as {ident(c.name)}"
                for c in raw_columns(stream, 0)
            ]
            con.execute(f"drop table {raw_table(stream)}")
            con.execute(f"create view {raw_table(stream)} as select {', '.join(columns)} from scratch_{stream}")
        build(con, check=False, only=marts)
        yield con
    finally:
        con.close()
