"""Ideal cycle times for OEE performance, from the physics twin's stored plan of the cell.

ISO 22400-2's "planned run time per item" (PRI) is, per variant:

- for the cell: the takt of the twin's plan (SPEC.md, Figures): the work per unit of the bottleneck
  resource at the cell's speed overrides (``twin cell check`` prints it);
- for one station or robot: that resource's own work per unit in the plan (a bank of machines'
  time per job divided by its ``count``, e.g. the sample's printers).

The plan is data (:class:`twin.physics.plan.CellPlan`): analytics never plans. It is read from the
warehouse (stored by ``twin demo`` and ``twin dashboard``) or from the physics cache (written by ``twin
cell check``), found by the content hash of the cell file, its URDFs and the physics model
(:func:`twin.warehouse.plans.find_plan`). A cell run faster than its file says (e.g. after a
speed-override change not written back to the cell YAML) shows performance above 1; plan the cell at
the new speed first (``twin cell check --set robots.R2.speed_override=...``) and pass the same ``--set``.

When inspection samples only a share of the units (``sampling`` of the inspection stations below 1), a unit's
planned work blends its variant's plan with inspection and its planning-only plan without
(:mod:`twin.cell.sampling`), resource by resource, in that share; the takt is the largest blended work.
(Without the blend a cell that inspects one unit in four would show a performance above 1.)
"""

from __future__ import annotations

from pathlib import Path

from twin.cell.sampling import WITHOUT_INSPECTION, is_planning_only
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
    return plan_ideal_cycle_times(find_plan(cell, warehouse), station, cell.inspection_sampling)


def plan_ideal_cycle_times(plan: CellPlan, station: str | None = None, sampling: float = 1.0) -> dict[str, float]:
    """Ideal cycle time per variant of a plan: its takt (``station`` None) or one resource's work per unit.

    A resource without work in a variant's plan has 0 there. With ``sampling`` below 1 each resource's
    work blends the variant's plan and its planning-only plan without inspection in that share.

    Args:
        plan: The cell's plan.
        station: A robot or station id, or None.
        sampling: The cell's ``sampling`` of the inspection stations.

    Returns:
        Variant -> seconds, in the plan's variant order (planning-only variants left out).

    Raises:
        InputError: A variant is infeasible, or the plan was made for another sampling.
    """
    rows = {row["variant"]: row for row in plan.variants.iter_rows(named=True)}
    for row in rows.values():
        if not row["feasible"]:
            raise InputError(
                f"cell {plan.cell_id}: variant {row['variant']} is infeasible, no ideal cycle time: "
                + "; ".join(row["problems"])
            )
    work: dict[str, dict[str, float]] = {}
    for row in plan.work.iter_rows(named=True):
        work.setdefault(row["variant"], {})[row["resource"]] = float(row["work_s"])
    out: dict[str, float] = {}
    for variant in rows:
        if is_planning_only(variant):
            continue
        shares = [(variant, 1.0)]
        if sampling < 1.0:
            skip = f"{variant}{WITHOUT_INSPECTION}"
            if skip not in rows:
                raise InputError(
                    f"cell {plan.cell_id}: inspection samples {sampling:g} of the units but the plan has no "
                    f"{skip}; plan the cell again (twin cell check)"
                )
            shares = [(variant, sampling), (skip, 1.0 - sampling)]
        blend: dict[str, float] = {}
        for name, share in shares:
            for resource, seconds in work.get(name, {}).items():
                blend[resource] = blend.get(resource, 0.0) + share * seconds
        if station is not None:
            out[variant] = blend.get(station, 0.0)
        elif sampling < 1.0:
            out[variant] = max(blend.values())
        else:
            out[variant] = float(rows[variant]["takt_s"])  # the planner's takt, the largest work
    return out
