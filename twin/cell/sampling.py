"""Inspection sampling: the plan of a unit that inspection does not sample.

When ``sampling`` of the inspection stations is below 1, inspection measures only that share of the units; the
others go on without their inspection operations (the robot carries them on directly). The planner
therefore plans, beside every variant, a planning-only variant ``<variant>|no_inspection`` without
those operations (:func:`planning_cell`); the simulation runs it for the unsampled units, and a unit's
ideal work blends both plans in the sampling share (:func:`twin.analytics.ideal.plan_ideal_cycle_times`).
"""

from __future__ import annotations

from twin.cell.spec import CellSpec

WITHOUT_INSPECTION = "|no_inspection"
"""Suffix of a variant's planning-only twin without its inspection operations."""


def is_planning_only(variant: str) -> bool:
    """Whether a plan's variant is a planning-only variant (not one a unit is built as)."""
    return variant.endswith(WITHOUT_INSPECTION)


def inspection_stations(cell: CellSpec) -> set[str]:
    """The cell's inspection stations."""
    return set(cell.stations_of_kind("inspection"))


def plan_without_inspection(cell: CellSpec, variant: str) -> list[str]:
    """A variant's plan (operation templates) without the operations at an inspection station.

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


def planning_cell(cell: CellSpec) -> CellSpec:
    """The cell the planner plans: the cell, plus a planning-only variant per variant when inspection samples.

    Each ``<variant>|no_inspection`` has mix share 0, so no unit is built as one. Applying it twice changes
    nothing.

    Args:
        cell: The validated cell.

    Returns:
        The cell to plan.
    """
    if cell.inspection_sampling >= 1.0 or any(is_planning_only(name) for name in cell.variants):
        return cell
    extra = {
        f"{name}{WITHOUT_INSPECTION}": spec.model_copy(
            update={"plan": plan_without_inspection(cell, name), "mix_share": 0.0}
        )
        for name, spec in cell.variants.items()
    }
    return cell.model_copy(update={"variants": {**cell.variants, **extra}})
