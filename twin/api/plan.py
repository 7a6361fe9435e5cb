"""The physics twin's plan of a cell, as data: ``plan_cell(cell) -> CellPlan``.

>>> from twin.api import plan_cell
>>> from twin.paths import DEFAULT_CELL
>>> plan = plan_cell(DEFAULT_CELL)  # planned once, then read from the cache by content hash
>>> plan == plan_cell(DEFAULT_CELL)
True
>>> plan.variants.columns[:4]
['variant', 'cycle_time_s', 'takt_s', 'bottleneck']
>>> t, q = plan.trajectory(plan.variant_names[0], 0)  # the first operation's joint positions over time
>>> bool(t[0] == 0.0 and len(t) == len(q))
True
"""

from __future__ import annotations

from pathlib import Path

from twin.api._inputs import resolve_cell
from twin.cell.spec import CellSpec
from twin.errors import WarehouseError
from twin.physics.cache import PhysicsCache
from twin.physics.evaluate import plan_cell as _plan_cell
from twin.physics.plan import CellPlan
from twin.warehouse.connection import write_job
from twin.warehouse.plans import find_plan, has_plan, store_plan, warehouse_exists

__all__ = ["CellPlan", "find_plan", "plan_cell", "store_cell_plan"]


def plan_cell(
    cell: CellSpec | str | Path, *, overrides: list[str] | None = None, cache: PhysicsCache | None = None
) -> CellPlan:
    """Plan every variant of a cell (or read its plan from the physics cache, by content hash).

    Args:
        cell: A validated cell, or the path of its YAML file.
        overrides: ``--set`` style ``path=value`` overrides of the cell file (not of a validated cell).
        cache: The physics cache; the on-disk default (``data/cache``, ``$TWIN_CACHE_DIR``) when None.

    Returns:
        The plan: operations, cycle figures, trajectories and clearance witnesses per variant.

    Raises:
        InputError: Overrides given with a validated cell.
        ConfigError: The cell file is invalid.
        PhysicsError: The world cannot be built.
    """
    return _plan_cell(resolve_cell(cell, overrides or ()), cache)


def store_cell_plan(
    warehouse: str | Path, cell: CellSpec | str | Path, *, overrides: list[str] | None = None
) -> CellPlan:
    """Plan a cell (:func:`plan_cell`) and store the plan in a warehouse, unless it is stored there already.

    A write job when it stores: it publishes the warehouse's read snapshot. A warehouse is complete or
    absent, so this never creates one.

    Args:
        warehouse: The warehouse file.
        cell: A validated cell, or the path of its YAML file.
        overrides: ``--set`` overrides of the cell file (not of a validated cell).

    Returns:
        The plan.

    Raises:
        InputError: Overrides given with a validated cell.
        WarehouseError: No warehouse, another process is writing it, or the write failed.
    """
    if not warehouse_exists(warehouse):
        raise WarehouseError(f"{warehouse}: no warehouse yet; run `twin ingest` or `twin demo` first")
    plan = _plan_cell(resolve_cell(cell, overrides or ()))
    if not has_plan(warehouse, plan.content_hash):
        with write_job(warehouse) as con:
            store_plan(con, plan)
    return plan
