"""Ideal cycle times for OEE performance, from the physics twin's plan of the cell.

ISO 22400-2's "planned run time per item" (PRI) is, per variant:

- for the cell: the takt of the twin's plan (SPEC.md, Figures): the work per unit of the bottleneck
  resource at the cell's speed overrides (``twin cell check`` prints it);
- for one station or robot: that resource's own work per unit in the plan (a printer bank's print
  time divided by its printer count).

When inspection samples only a share of the units (``quality.inspection_sampling`` below 1), a unit's
planned work blends its plan with inspection and its plan without (:func:`plan_without_inspection`),
resource by resource, in that share; the takt is the largest blended work. (Without the blend a cell that
inspects one unit in four would show a performance above 1.)

The plan is computed by :class:`twin.physics.evaluate.CellPlanner` and cached on disk by content hash,
so after the first run this costs a file read. pybullet is imported only inside
:func:`ideal_cycle_times`, never when :mod:`twin.analytics` is imported (the dashboard's layering rule).
A cell run faster than its file says (e.g. after a speed-override change not written back to the cell
YAML) shows performance above 1; pass ``--set robots.R2.speed_override=...`` to plan at the new speed.
"""

from __future__ import annotations

from twin.cell.spec import CellSpec
from twin.errors import InputError

WITHOUT_INSPECTION = "|no_inspection"
"""Suffix of a variant's plan without its inspection operations (a planning-only variant name)."""


def inspection_stations(cell: CellSpec) -> set[str]:
    """The cell's inspection stations."""
    return {sid for sid, s in cell.stations.items() if s.kind == "inspection"}


def plan_without_inspection(cell: CellSpec, variant: str) -> list[str]:
    """A variant's plan (operation templates) without the operations at an inspection station.

    What a unit that inspection does not sample goes through (the robot carries it on directly).

    Args:
        cell: The validated cell.
        variant: A variant id.

    Returns:
        The operation templates, in plan order.
    """
    inspection = inspection_stations(cell)

    def station_of(template: str) -> str | None:
        op = cell.operations[template]
        return op.station or (op.target.station if op.target else None)

    return [t for t in cell.variants[variant].plan if station_of(t) not in inspection]


def with_uninspected_variants(cell: CellSpec) -> CellSpec:
    """The cell plus, per variant, a planning-only variant ``<variant>|no_inspection`` (mix share 0)."""
    extra = {
        f"{name}{WITHOUT_INSPECTION}": spec.model_copy(
            update={"plan": plan_without_inspection(cell, name), "mix_share": 0.0}
        )
        for name, spec in cell.variants.items()
    }
    return cell.model_copy(update={"variants": {**cell.variants, **extra}})


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

    sampling = cell.quality.inspection_sampling
    planning = with_uninspected_variants(cell) if sampling < 1.0 else cell
    with CellPlanner(planning, cache=PhysicsCache()) as planner:
        results = {v.variant: v for v in planner.evaluate().variants}
    out: dict[str, float] = {}
    for name in cell.variants:
        plans = [(1.0, results[name])]
        if sampling < 1.0:
            plans = [(sampling, results[name]), (1.0 - sampling, results[f"{name}{WITHOUT_INSPECTION}"])]
        work: dict[str, float] = {}
        for share, plan in plans:
            if not plan.feasible:
                raise InputError(
                    f"cell {cell.cell.id}: variant {plan.variant} is infeasible, no ideal cycle time: "
                    + "; ".join(plan.problems)
                )
            for resource, seconds in plan.work_s.items():
                work[resource] = work.get(resource, 0.0) + share * seconds
        out[name] = float(max(work.values()) if station is None else work.get(station, 0.0))
    return out
