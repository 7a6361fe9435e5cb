"""What a replication of the production model leaves behind, and the units' final states.

Kept apart from :mod:`twin.sim.model` so that the interpreted and the compiled build of the model (see
:mod:`twin.sim.engine`) return the same record type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

IN_PROCESS, GOOD, REWORKED, SCRAPPED, ESCAPED = 0, 1, 2, 3, 4
STATUS_NAMES = ("in_process", "good", "reworked", "scrapped", "escaped")


@dataclass
class ReplicationRecord:
    """What one replication leaves behind: per unit, per resource, per meter; events when recorded."""

    seed: int
    replication: int
    unit_variant: list[int]
    unit_release_s: list[float]
    unit_done_s: list[float]
    unit_status: list[int]
    unit_work_s: list[float]
    busy_s: dict[str, float]
    faults: list[tuple[str, float, float]]
    setups: list[tuple[str, float, float]]
    energy_j: dict[str, list[float]]
    events: dict[str, list[Any]] | None = None
    sim_events: int = 0
