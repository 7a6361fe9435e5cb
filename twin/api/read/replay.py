"""The replay results ``twin replay`` stored: runs, replayed cycles, their sampled series and the anomalies found.

They live in ``raw_replay_runs``, ``raw_replay_cycles``, ``raw_replay_series`` and ``raw_replay_anomalies``.
Each function opens a short-lived read-only connection to the published snapshot; a warehouse without a
table gives an empty frame. Values (run ids, cycles, bounds) are bound as query parameters; column names
come from the table's own description.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from twin.errors import InputError
from twin.warehouse.connection import read_connection

RUN_COLUMNS: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "robot_id": pl.String(),
    "parameter_set": pl.String(),
    "samples": pl.Int64(),
    "duration_s": pl.Float64(),
    "energy_measured_j": pl.Float64(),
    "energy_predicted_j": pl.Float64(),
    "power_r2": pl.Float64(),
    "power_rmse_w": pl.Float64(),
    "n_anomalies": pl.Int64(),
    "loaded_at": pl.Datetime("us", "UTC"),
}
"""The columns of :func:`replay_runs`."""

CYCLE_COLUMNS: tuple[str, ...] = (
    "cycle", "start_at", "start_s", "duration_s", "n_samples", "energy_measured_j", "energy_predicted_j",
    "energy_error_pct", "power_rmse_w", "min_clearance_m", "n_anomalies",
)  # fmt: skip
"""The columns of the replayed cycles (:func:`replay_rows`)."""

ANOMALY_COLUMNS: tuple[str, ...] = (
    "kind", "start_at", "start_s", "duration_s", "cycle", "joint", "value", "limit", "body", "detail",
)  # fmt: skip
"""The columns of the anomalies (:func:`replay_rows`)."""


def _tables(con: Any) -> set[str]:
    return {str(r[0]) for r in con.execute("select table_name from information_schema.tables").fetchall()}


def _columns_of(con: Any, table: str) -> list[str]:
    return [str(r[0]) for r in con.execute(f"describe {table}").fetchall()]


def cell_replay_runs(con: Any, cell_id: str) -> pl.DataFrame:
    """The latest replay run of each robot of a cell, on an open connection.

    Args:
        con: An open connection (the read snapshot is enough).
        cell_id: The cell (runs stored before runs carried their cell are every cell's).

    Returns:
        One row per robot (empty without replay results), :data:`RUN_COLUMNS`.
    """
    if "raw_replay_runs" not in _tables(con):
        return pl.DataFrame(schema=RUN_COLUMNS)
    have = set(_columns_of(con, "raw_replay_runs"))
    cols = ", ".join(c if c in have else f"null as {c}" for c in RUN_COLUMNS)
    of_cell = "and cell_id = $cell " if "cell_id" in have else ""
    frame = con.sql(
        f"select {cols} from raw_replay_runs where robot_id is not null {of_cell}"
        "qualify row_number() over (partition by robot_id order by loaded_at desc, run_id desc) = 1 "
        "order by robot_id",
        params={"cell": cell_id} if of_cell else None,
    ).pl()
    return frame.cast(RUN_COLUMNS, strict=False) if frame.height else pl.DataFrame(schema=RUN_COLUMNS)  # type: ignore[arg-type]


def replay_runs(warehouse: str | Path, cell_id: str) -> pl.DataFrame:
    """The latest replay run of each robot of a cell (:func:`cell_replay_runs`) in the warehouse's snapshot."""
    with read_connection(warehouse) as con:
        return cell_replay_runs(con, cell_id)


REPLAY_ROWS: dict[str, tuple[str, tuple[str, ...], pl.DataType]] = {
    "cycles": ("raw_replay_cycles", CYCLE_COLUMNS, pl.Float64()),
    "anomalies": ("raw_replay_anomalies", ANOMALY_COLUMNS, pl.String()),
}
"""What :func:`replay_rows` reads: its table, the columns it keeps (those the table has) and their type when empty."""


def replay_rows(
    warehouse: str | Path, rows: str, run_id: str, start: datetime | None = None, end: datetime | None = None
) -> pl.DataFrame:
    """The replayed cycles of a run, or the anomalies the replay found in them (within ``[start, end)``), in time order.

    Args:
        warehouse: The warehouse file.
        rows: ``cycles`` (energy measured and predicted, power error, clearance per cycle) or ``anomalies``
            (limits, clearance, gaps, outliers).
        run_id: The replay run.
        start: Period start (UTC-aware); with ``end``, only rows starting in ``[start, end)``.
        end: Period end.

    Returns:
        The table's rows (:data:`CYCLE_COLUMNS` or :data:`ANOMALY_COLUMNS`, those it has); empty without the table.

    Raises:
        InputError: ``rows`` is neither kind.
    """
    if rows not in REPLAY_ROWS:
        raise InputError(f"unknown replay rows {rows!r}; valid: {', '.join(REPLAY_ROWS)}")
    table, keep, empty_dtype = REPLAY_ROWS[rows]
    with read_connection(warehouse) as con:
        if table not in _tables(con):
            return pl.DataFrame(schema=dict.fromkeys(keep, empty_dtype))
        have = _columns_of(con, table)
        cols = ", ".join(f'"{c}"' for c in keep if c in have)
        where, params = ["run_id = $run"], {"run": run_id}
        if "start_at" in have and start is not None and end is not None:
            where.append("start_at >= $lo and start_at < $hi")
            params.update(lo=start, hi=end)
        order = "start_at" if "start_at" in have else "start_s"
        return con.sql(f"select {cols} from {table} where {' and '.join(where)} order by {order}", params=params).pl()


def replay_series(warehouse: str | Path, run_id: str, cycle: str) -> pl.DataFrame:
    """The stored (decimated) samples of one replayed cycle: time, power and joint torques, measured and predicted.

    Args:
        warehouse: The warehouse file.
        run_id: The replay run.
        cycle: The cycle label.

    Returns:
        ``t_s`` (seconds from the cycle's first sample), ``ts``, ``power_measured_w``, ``power_predicted_w``,
        ``program_step``, ``tau_measured_<j>``, ``tau_predicted_<j>``, ``q_<j>`` ... (as stored; a joint column
        null throughout is left out).
    """
    with read_connection(warehouse) as con:
        if "raw_replay_series" not in _tables(con):
            return pl.DataFrame()
        have = _columns_of(con, "raw_replay_series")
        keep = [c for c in have if c not in ("run_id", "source", "loaded_at", "robot_id", "run", "cycle")]
        cols = ", ".join(f'"{c}"' for c in keep)
        frame = con.sql(
            f'select {cols} from raw_replay_series where run_id = $run and "cycle" = $cycle order by t_s',
            params={"run": run_id, "cycle": cycle},
        ).pl()
    if frame.height:
        frame = frame.with_columns((pl.col("t_s") - pl.col("t_s").min()).alias("t_s"))
        frame = frame.select([c for c in frame.columns if frame[c].null_count() < frame.height])
    return frame


def joints_of(series: pl.DataFrame) -> list[int]:
    """Joint numbers with measured or predicted torque in a series frame.

    Args:
        series: :func:`replay_series`.

    Returns:
        The joint numbers, ascending.

    >>> joints_of(pl.DataFrame({"tau_measured_2": [1.0], "tau_predicted_1": [0.0], "q_1": [0.0]}))
    [1, 2]
    """
    found = set()
    for name in series.columns:
        for prefix in ("tau_measured_", "tau_predicted_"):
            if name.startswith(prefix) and name[len(prefix) :].isdigit():
                found.add(int(name[len(prefix) :]))
    return sorted(found)
