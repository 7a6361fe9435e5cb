"""Cell plans in the warehouse: the physics twin's plan stored as tables, read without the planner.

Whatever builds a warehouse for a cell (``twin demo``, ``twin dashboard``) plans it once
(:func:`twin.physics.evaluate.plan_cell`) and stores the plan with :func:`store_plan`:

- ``cell_plans``: one row per stored plan (``content_hash``, ``cell_id``, ``stored_at``, ``metadata_json``);
- ``cell_plan_variants``, ``cell_plan_work``, ``cell_plan_operations``, ``cell_plan_trajectories``: the
  plan's frames (:data:`twin.physics.plan.FRAMES`), each row keyed by ``content_hash`` and its position
  in the frame (``row_n``, so a plan reads back in its order).

Readers (analytics, the report, the dashboard) find the plan of a cell by its content hash
(:func:`twin.physics.plan.plan_key`, computed from the cell file and its URDFs without pybullet):
:func:`find_plan` looks in the warehouse's published snapshot, then in the physics cache.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twin.cell.spec import CellSpec
from twin.errors import WarehouseError
from twin.physics.cache import PhysicsCache
from twin.physics.plan import FRAMES, CellPlan, PlanError, plan_key, read_cached_plan
from twin.warehouse.connection import read_connection, transaction
from twin.warehouse.snapshot import snapshot_path

PLANS_TABLE = "cell_plans"
"""One row per stored plan."""

FRAME_TABLES = {name: f"cell_plan_{name}" for name in FRAMES}
"""Frame name -> its table."""

HOW_TO_PLAN = "run `twin cell check` (with the same --cell and --set) or `twin demo` first"
"""What a reader without a plan tells the user (``twin cell check`` stores the plan in the physics cache)."""

HOW_TO_STORE = "start `twin dashboard` (it plans the cell and stores the plan in the warehouse) or run `twin demo`"
"""What a reader of the warehouse alone (the dashboard) tells the user."""


def _tables(con: Any) -> set[str]:
    rows = con.execute("select table_name from duckdb_tables() where database_name = current_database()").fetchall()
    return {row[0] for row in rows}


def store_plan(con: Any, plan: CellPlan) -> None:
    """Store a plan in the warehouse (replacing a stored plan of the same content hash), in one transaction.

    The caller owns the write connection (a :func:`twin.warehouse.connection.write_job` publishes it).

    Args:
        con: An open write connection.
        plan: The plan.

    Raises:
        WarehouseError: The write failed (the warehouse is unchanged).
    """
    with transaction(con, f"store the plan of cell {plan.cell_id}"):
        con.execute(
            f"create table if not exists {PLANS_TABLE} (content_hash varchar primary key, cell_id varchar not null, "
            "stored_at timestamptz not null, metadata_json varchar not null)"
        )
        existing = _tables(con)
        for name, frame in plan.to_frames().items():
            table = FRAME_TABLES[name]
            frame = frame.with_row_index("row_n")
            con.register("_plan_frame", frame.to_arrow())
            try:
                if table not in existing:
                    con.execute(
                        f"create table {table} as select ?::varchar as content_hash, * from _plan_frame limit 0",
                        [plan.content_hash],
                    )
                con.execute(f"delete from {table} where content_hash = ?", [plan.content_hash])
                names = ", ".join(f'"{column}"' for column in frame.columns)
                con.execute(
                    f"insert into {table} (content_hash, {names}) select ?, {names} from _plan_frame",
                    [plan.content_hash],
                )
            finally:
                con.unregister("_plan_frame")
        con.execute(f"delete from {PLANS_TABLE} where content_hash = ?", [plan.content_hash])
        con.execute(
            f"insert into {PLANS_TABLE} values (?, ?, ?, ?)",
            [plan.content_hash, plan.cell_id, datetime.now(UTC), json.dumps(plan.metadata, sort_keys=True)],
        )


def load_plan(con: Any, content_hash: str) -> CellPlan | None:
    """The plan stored under ``content_hash``, or None when the warehouse holds none.

    Args:
        con: An open connection (read-only is enough).
        content_hash: :func:`twin.physics.plan.plan_key` of the cell.

    Returns:
        The plan, or None.

    Raises:
        WarehouseError: The stored plan is incomplete or of another format.
    """
    if PLANS_TABLE not in _tables(con):
        return None
    rows = con.execute(f"select metadata_json from {PLANS_TABLE} where content_hash = ?", [content_hash]).fetchall()
    if not rows:
        return None
    frames = {}
    for name, table in FRAME_TABLES.items():
        query = f"select * exclude (content_hash, row_n) from {table} where content_hash = ? order by row_n"
        frames[name] = con.sql(query, params=[content_hash]).pl()
    try:
        return CellPlan.from_frames(json.loads(rows[0][0]), frames)
    except PlanError as exc:
        raise WarehouseError(f"the stored plan {content_hash[:12]} is unusable ({exc}); {HOW_TO_PLAN}") from exc


def has_plan(warehouse: str | Path, content_hash: str) -> bool:
    """Whether the warehouse's published snapshot holds the plan ``content_hash`` (False without a warehouse)."""
    if not warehouse_exists(warehouse):
        return False
    with read_connection(warehouse) as con:
        if PLANS_TABLE not in _tables(con):
            return False
        query = f"select count(*) from {PLANS_TABLE} where content_hash = ?"
        return bool(con.execute(query, [content_hash]).fetchall()[0][0])


def stored_plans(con: Any, cell_id: str | None = None) -> list[tuple[str, str, datetime]]:
    """``(content_hash, cell_id, stored_at)`` of every stored plan (of one cell), newest first."""
    if PLANS_TABLE not in _tables(con):
        return []
    where, params = ("where cell_id = ?", [cell_id]) if cell_id is not None else ("", [])
    rows = con.execute(
        f"select content_hash, cell_id, stored_at from {PLANS_TABLE} {where} order by stored_at desc", params
    ).fetchall()
    return [(str(h), str(c), at) for h, c, at in rows]


def find_plan(
    cell: CellSpec,
    warehouse: str | Path | None = None,
    cache: PhysicsCache | None = None,
    *,
    search_cache: bool = True,
) -> CellPlan:
    """The stored plan of a cell: from the warehouse's published snapshot, else from the physics cache.

    Never plans: the planner is not imported.

    Args:
        cell: The validated cell (with its ``--set`` overrides applied).
        warehouse: The warehouse file; None looks in the cache only.
        cache: The physics cache (the on-disk default when None).
        search_cache: False looks in the warehouse only.

    Returns:
        The plan.

    Raises:
        WarehouseError: No plan of this version of the cell is stored (the message says what to run).
    """
    key = plan_key(cell)
    others: list[tuple[str, str, datetime]] = []
    if warehouse is not None and warehouse_exists(warehouse):
        with read_connection(warehouse) as con:
            plan = load_plan(con, key)
            if plan is not None:
                return plan
            others = stored_plans(con, cell.cell.id)
    if search_cache:
        plan = read_cached_plan(cache if cache is not None else PhysicsCache(), key)
        if plan is not None:
            return plan
        where = "in the physics cache"
        if warehouse is not None:
            where = f"neither in the warehouse {warehouse} nor {where}"
    else:
        where = f"in the warehouse {warehouse}"
    how = HOW_TO_PLAN if search_cache else HOW_TO_STORE
    also = " (plans of another version of the cell file, its URDFs or the physics model are stored)" if others else ""
    raise WarehouseError(f"no plan of cell {cell.cell.id} (content hash {key[:12]}) {where}{also}; {how}")


def warehouse_exists(warehouse: str | Path) -> bool:
    """Whether the warehouse file or its published snapshot is there."""
    return Path(warehouse).is_file() or snapshot_path(warehouse).is_file()
