"""The ideal cycle times of the cell's stored plan, for OEE performance without planning the cell.

OEE performance needs the ideal cycle time of each variant, which comes from the physics twin's plan. A page
never plans: ``twin dashboard`` (a command) stores the cell's plan in the warehouse
(:mod:`twin.warehouse.plans`), and :func:`load_ideal` reads it from the snapshot by the content hash of the
current cell file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from twin.analytics.ideal import plan_ideal_cycle_times
from twin.api.read.status import MissingData
from twin.cell.load import load_cell
from twin.errors import TwinError
from twin.warehouse.plans import find_plan


@dataclass(frozen=True)
class IdealTimes:
    """The plan's ideal cycle time per variant: the cell's takt and each station's work per unit (s).

    Attributes:
        cell: Variant -> the cell's takt.
        stations: Robot or station -> variant -> its work per unit.
        computed_at: When the plan was made (ISO-8601).
    """

    cell: dict[str, float]
    stations: dict[str, dict[str, float]]
    computed_at: str = ""

    def for_station(self, station: str | None) -> dict[str, float]:
        """Ideal cycle time per variant of the cell (None) or of one robot or station.

        Args:
            station: A robot or station id, or None for the cell.

        Returns:
            Variant -> seconds.

        Raises:
            MissingData: The station is not in the plan.
        """
        if station is None:
            return dict(self.cell)
        if station not in self.stations:
            raise MissingData(
                f"no ideal cycle time for station {station!r} in the plan; known: {', '.join(self.stations)}"
            )
        return dict(self.stations[station])


def load_ideal(warehouse: str | Path, cell_file: str | Path | None = None) -> IdealTimes:
    """The ideal cycle times of the cell's plan stored in this warehouse (``twin dashboard`` stores it).

    Args:
        warehouse: The warehouse file.
        cell_file: The cell YAML the pages use (default: the sample cell).

    Returns:
        The times.

    Raises:
        MissingData: No plan of this version of the cell (file, URDFs, physics model) is stored, or it is infeasible.
    """
    try:
        cell = load_cell(cell_file)
        plan = find_plan(cell, warehouse, search_cache=False)
        return IdealTimes(
            cell=plan_ideal_cycle_times(plan, sampling=cell.inspection_sampling),
            stations={
                sid: plan_ideal_cycle_times(plan, sid, cell.inspection_sampling)
                for sid in [*cell.robots, *cell.stations]
            },
        )
    except TwinError as exc:
        raise MissingData(f"OEE needs the ideal cycle times of the physics twin's plan: {exc}") from exc
