"""Replay and the warehouse: recorded joint states in, replay results out.

Reading: a cell robot's measured joint states (and the events that delimit its cycles) from the first of
``stg_joint_states`` / ``raw_joint_states`` (``stg_events`` / ``raw_events``) the warehouse has, with
``source = 'measured'`` and the robot's cell where the table has those columns; columns as the telemetry contract
names them (``ts``, ``robot_id``, ``q_N``, ``qd_N``, ``tau_N``, ``i_N``, ``power_w``, ``program_step``).

Writing (:func:`write_replay_results`, on an open connection; the caller owns the transaction scope
and publishing), four append-only tables keyed by ``run_id``; re-writing a run replaces its rows:

- ``raw_replay_runs``: one row per replay run (robot, parameter set, figures as JSON);
- ``raw_replay_cycles``: one row per replayed cycle (energy measured and predicted, power RMSE, clearance);
- ``raw_replay_anomalies``: one row per anomaly (kind, time, cycle, joint, value, limit, body);
- ``raw_replay_series``: a decimated per-sample series for plots (power and torque, measured and predicted).

Each carries ``run_id``, ``source`` (``simulated:replay``) and ``loaded_at``; a run also its ``cell_id``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import polars as pl

from twin.errors import WarehouseError
from twin.replay.player import ReplayResult
from twin.warehouse.connection import transaction

SOURCE = "simulated:replay"
JOINT_STATE_TABLES = ("stg_joint_states", "raw_joint_states")
EVENT_TABLES = ("stg_events", "raw_events")
RESULT_TABLES = ("raw_replay_runs", "raw_replay_cycles", "raw_replay_anomalies", "raw_replay_series")


def _query(con: Any, sql: str, params: dict[str, Any]) -> pl.DataFrame:
    """A parameterized query's rows as a polars frame (across DuckDB versions)."""
    try:
        relation = con.sql(sql, params=params)
    except TypeError:  # an older DuckDB without relation parameters
        result = con.execute(sql, params)
        return result.pl() if hasattr(result, "pl") else pl.from_arrow(result.fetch_arrow_table())  # type: ignore[return-value]
    if hasattr(relation, "pl"):
        return relation.pl()
    return pl.from_arrow(relation.to_arrow_table())  # type: ignore[return-value]


def _tables(con: Any) -> set[str]:
    rows = con.execute("select table_name from information_schema.tables").fetchall()
    return {str(r[0]) for r in rows}


def _columns(con: Any, table: str) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_name = ? order by ordinal_position", [table]
    ).fetchall()
    return [str(r[0]) for r in rows]


def _lineage_where(columns: list[str], cell_id: str, params: dict[str, Any]) -> list[str]:
    """Measured rows of the cell, where the table has the lineage columns."""
    where = []
    if "source" in columns:
        where.append("source = 'measured'")
    if "cell_id" in columns:
        where.append("cell_id = $cell")
        params["cell"] = cell_id
    return where


def read_joint_states(
    con: Any, cell_id: str, robot_id: str, start: datetime | None = None, end: datetime | None = None
) -> pl.DataFrame:
    """One robot's measured joint states in ``[start, end)``, ordered by time.

    Raises:
        WarehouseError: The warehouse has no joint-state table, or no rows for the robot and period.
    """
    tables = _tables(con)
    table = next((t for t in JOINT_STATE_TABLES if t in tables), None)
    if table is None:
        raise WarehouseError(
            f"the warehouse has no joint states ({' or '.join(JOINT_STATE_TABLES)}); run `twin ingest` first"
        )
    columns = _columns(con, table)
    if "ts" not in columns or "robot_id" not in columns:
        raise WarehouseError(f"{table} lacks the 'ts' or 'robot_id' column; found: {', '.join(columns)}")
    params: dict[str, Any] = {"robot": robot_id}
    where = ["robot_id = $robot", *_lineage_where(columns, cell_id, params)]
    if start is not None:
        where.append("ts >= $start")
        params["start"] = start
    if end is not None:
        where.append("ts < $end")
        params["end"] = end
    frame = _query(con, f"select * from {table} where {' and '.join(where)} order by ts", params)
    if frame.height == 0:
        period = "" if start is None and end is None else f" in [{start}, {end})"
        raise WarehouseError(f"no measured joint states of robot {robot_id!r} of cell {cell_id}{period} in {table}")
    keep = [c for c in frame.columns if c in ("ts", "robot_id", "power_w", "program_step") or _is_joint(c)]
    return frame.select(keep)


def _is_joint(name: str) -> bool:
    prefix, _, number = name.partition("_")
    return prefix in ("q", "qd", "tau", "i") and number.isdigit()


def read_events(
    con: Any, cell_id: str, robot_id: str, start: datetime | None = None, end: datetime | None = None
) -> pl.DataFrame | None:
    """The robot's cycle events around ``[start, end)`` (None when the warehouse has no events table)."""
    tables = _tables(con)
    table = next((t for t in EVENT_TABLES if t in tables), None)
    if table is None:
        return None
    columns = _columns(con, table)
    if not {"ts", "station_id", "event", "unit_id"} <= set(columns):
        return None
    select = "ts, station_id, event, unit_id" + (", variant" if "variant" in columns else "")
    params: dict[str, Any] = {"robot": robot_id}
    where = ["station_id = $robot", "event in ('cycle_start', 'cycle_end')", *_lineage_where(columns, cell_id, params)]
    if start is not None:  # a cycle may have started before the period
        where.append("ts >= $start - interval 1 day")
        params["start"] = start
    if end is not None:
        where.append("ts < $end + interval 1 day")
        params["end"] = end
    return _query(con, f"select {select} from {table} where {' and '.join(where)} order by ts", params)


def _with_lineage(frame: pl.DataFrame, run_id: str, loaded_at: datetime) -> pl.DataFrame:
    return frame.with_columns(
        pl.lit(run_id).alias("run_id"),
        pl.lit(SOURCE).alias("source"),
        pl.lit(loaded_at).cast(pl.Datetime("us", "UTC")).alias("loaded_at"),
    )


def write_replay_results(
    con: Any,
    result: ReplayResult,
    run_id: str,
    robot_id: str | None,
    extra: dict[str, Any] | None = None,
    cell_id: str | None = None,
) -> dict[str, int]:
    """Write one replay's summary, cycles, anomalies and series in one transaction (replacing the run).

    Args:
        con: An open, writable DuckDB connection (e.g. from ``twin.warehouse.connection.write_job``).
        result: The replay's result.
        run_id: The replay run's id (same inputs, same id: re-writing replaces the run's rows).
        robot_id: The cell robot (or None for a foreign URDF).
        cell_id: The robot's cell (or None for a foreign URDF).
        extra: More run attributes stored in ``raw_replay_runs`` (period, files, ...).

    Returns:
        Rows written per table.

    Raises:
        WarehouseError: The write failed (the warehouse is unchanged).
    """
    loaded_at = datetime.now(UTC)
    summary = result.summary
    run = pl.DataFrame(
        {
            "cell_id": [cell_id],
            "robot_id": [robot_id],
            "robot": [summary.get("robot")],
            "parameter_set": [summary.get("parameter_set")],
            "samples": [int(summary["samples"])],
            "duration_s": [summary.get("duration_s")],
            "energy_measured_j": [summary["power"].get("energy_measured_j")],
            "energy_predicted_j": [summary["power"].get("energy_predicted_j")],
            "power_r2": [summary["power"].get("r2")],
            "power_rmse_w": [summary["power"].get("rmse_w")],
            "n_anomalies": [int(summary["anomalies"])],
            "summary_json": [json.dumps(summary)],
            "attributes_json": [json.dumps(extra or {}, default=str)],
        },
        schema_overrides={
            "cell_id": pl.String,
            "robot_id": pl.String,
            "robot": pl.String,
            "duration_s": pl.Float64,
            "energy_measured_j": pl.Float64,
            "energy_predicted_j": pl.Float64,
            "power_r2": pl.Float64,
            "power_rmse_w": pl.Float64,
        },
    )
    frames = {
        "raw_replay_runs": run,
        "raw_replay_cycles": result.cycles.with_columns(pl.lit(robot_id, pl.String).alias("robot_id")),
        "raw_replay_anomalies": result.anomalies.with_columns(pl.lit(robot_id, pl.String).alias("robot_id")),
        "raw_replay_series": result.series.with_columns(pl.lit(robot_id, pl.String).alias("robot_id")),
    }
    written: dict[str, int] = {}
    with transaction(con, "write the replay results"):
        existing = _tables(con)
        for table, frame in frames.items():
            frame = _with_lineage(frame, run_id, loaded_at)
            con.register("_replay_frame", frame.to_arrow())
            try:
                if table not in existing:
                    con.execute(f"create table {table} as select * from _replay_frame limit 0")
                else:
                    have = set(_columns(con, table))
                    for name, dtype in zip(frame.columns, frame.dtypes, strict=True):
                        if name not in have:  # a robot with more joints adds its columns
                            sql_type = con.execute(f'select typeof("{name}") from _replay_frame limit 1').fetchone()
                            kind = sql_type[0] if sql_type else _duck_type(dtype)
                            con.execute(f'alter table {table} add column "{name}" {kind}')
                con.execute(f"delete from {table} where run_id = ?", [run_id])
                names = ", ".join(f'"{c}"' for c in frame.columns)
                con.execute(f"insert into {table} ({names}) select {names} from _replay_frame")
            finally:
                con.unregister("_replay_frame")
            written[table] = frame.height
    return written


def _duck_type(dtype: pl.DataType) -> str:
    if dtype == pl.String:
        return "VARCHAR"
    if dtype.is_integer():
        return "BIGINT"
    if dtype.is_float():
        return "DOUBLE"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMP WITH TIME ZONE"
    return "VARCHAR"
