"""Ideal cycle times for OEE performance, from the physics twin's plan of the cell.

ISO 22400-2's "planned run time per item" (PRI) is, per variant:

- for the cell: the takt of the twin's plan (SPEC.md, Figures): the work per unit of the bottleneck
  resource at the cell's speed overrides (``twin cell check`` prints it);
- for one station or robot: that resource's own work per unit in the plan (a printer bank's print
  time divided by its printer count).

The plan is computed by :class:`twin.physics.evaluate.CellPlanner` and cached on disk by content hash,
so after the first run this costs a file read. pybullet is imported only inside
:func:`ideal_cycle_times`, never when :mod:`twin.analytics` is imported (the dashboard's layering rule).
A cell run faster than its file says (e.g. after a speed-override change not written back to the cell
YAML) shows performance above 1; pass ``--set robots.R2.speed_override=...`` to plan at the new speed.
"""

from __future__ import annotations

from twin.cell.spec import CellSpec
from twin.errors import InputError


def ideal_cycle_times(cell: CellSpec, station: str | None = None) -> dict[str, float]:
    """Ideal cycle time per variant, seconds.

    Args:
        cell: The validated cell (with any ``--set`` overrides applied).
        station: A robot or station id; None for the whole cell (the takt).

    Returns:
        Variant -> ideal cycle time in seconds.

    Raises:
        InputError: ``station`` is not a robot or station of the cell, or the plan is infeasible.
    """
    if station is not None and station not in cell.robots and station not in cell.stations:
        valid = ", ".join([*cell.robots, *cell.stations])
        raise InputError(f"--station {station!r}: not a robot or station of cell {cell.cell.id}; valid: {valid}")
    from twin.physics.cache import PhysicsCache
    from twin.physics.evaluate import CellPlanner

    with CellPlanner(cell, cache=PhysicsCache()) as planner:
        result = planner.evaluate()
    out: dict[str, float] = {}
    for variant in result.variants:
        if not variant.feasible:
            raise InputError(
                f"cell {cell.cell.id}: variant {variant.variant} is infeasible, no ideal cycle time: "
                + "; ".join(variant.problems)
            )
        if station is None:
            out[variant.variant] = float(variant.takt_s)
        else:
            out[variant.variant] = float(variant.work_s.get(station, 0.0))
    return out
