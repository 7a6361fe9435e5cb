"""Ideal cycle times for OEE performance, from the physics twin's stored plan of the cell.

ISO 22400-2's "planned run time per item" (PRI) is, per variant:

- for the cell: the takt of the twin's plan (SPEC.md, Figures): the work per unit of the bottleneck
  resource at the cell's speed overrides (``twin cell check`` prints it);
- for one station or robot: that resource's own work per unit in the plan (a printer bank's print
  time divided by its printer count).

The plan is data (:class:`twin.physics.plan.CellPlan`): analytics never plans. It is read from the
warehouse (stored by ``twin demo`` and ``twin dashboard``) or from the physics cache (written by ``twin
cell check``), found by the content hash of the cell file, its URDFs and the physics model
(:func:`twin.warehouse.plans.find_plan`). A cell run faster than its file says (e.g. after a
speed-override change not written back to the cell YAML) shows performance above 1; plan the cell at
the new speed first (``twin cell check --set robots.R2.speed_override=...``) and pass the same ``--set``.
"""

from __future__ import annotations

from pathlib import Path

from twin.cell.spec import CellSpec
from twin.errors import InputError
from twin.physics.plan import CellPlan
from twin.warehouse.plans import find_plan


def ideal_cycle_times(
    cell: CellSpec, station: str | None = None, *, warehouse: str | Path | None = None
) -> dict[str, float]:
    """Ideal cycle time per variant, seconds, from the cell's stored plan.

    Args:
        cell: The validated cell (with any ``--set`` overrides applied).
        station: A robot or station id; None for the whole cell (the takt).
        warehouse: Look for the plan in this warehouse first, then in the physics cache.

    Returns:
        Variant -> ideal cycle time in seconds.

    Raises:
        InputError: ``station`` is not a robot or station of the cell, or the plan is infeasible.
        WarehouseError: No plan of this cell is stored (the message says what to run first).
    """
    if station is not None and station not in cell.robots and station not in cell.stations:
        valid = ", ".join([*cell.robots, *cell.stations])
        raise InputError(f"--station {station!r}: not a robot or station of cell {cell.cell.id}; valid: {valid}")
    return plan_ideal_cycle_times(find_plan(cell, warehouse), station)


def plan_ideal_cycle_times(plan: CellPlan, station: str | None = None) -> dict[str, float]:
    """Ideal cycle time per variant of a plan: its takt (``station`` None) or one resource's work per unit.

    A resource without work in a variant's plan has 0 there.

    Args:
        plan: The cell's plan.
        station: A robot or station id, or None.

    Returns:
        Variant -> seconds, in the plan's variant order.

    Raises:
        InputError: A variant is infeasible.
    """
    out: dict[str, float] = {}
    for row in plan.variants.iter_rows(named=True):
        if not row["feasible"]:
            raise InputError(
                f"cell {plan.cell_id}: variant {row['variant']} is infeasible, no ideal cycle time: "
                + "; ".join(row["problems"])
            )
        out[row["variant"]] = float(row["takt_s"])
    if station is not None:
        work = plan.work.filter(plan.work["resource"] == station)
        by_variant = dict(zip(work["variant"].to_list(), work["work_s"].to_list(), strict=True))
        out = {variant: float(by_variant.get(variant, 0.0)) for variant in out}
    return out
