"""What a replication of the production model leaves behind, and the units' final states.

Kept apart from :mod:`twin.sim.model` so that the interpreted and the compiled build of the model (see
:mod:`twin.sim.engine`) return the same record type. :mod:`twin.sim.telemetry` turns a record into the
replication's telemetry (events, energy, quality), from which the analytics compute its KPIs.
"""

from __future__ import annotations

from dataclasses import dataclass

IN_PROCESS, GOOD, REWORKED, SCRAPPED, ESCAPED = 0, 1, 2, 3, 4
STATUS_NAMES = ("in_process", "good", "reworked", "scrapped", "escaped")
NO_DEFECT, SCREW_DEFECT, INSPECTION_DEFECT = 0, 1, 2
"""A unit's defect: none, a screw's torque out of its limits, or gap or flush out of theirs."""


@dataclass
class ReplicationRecord:
    """What one replication leaves behind: per unit, per resource, per meter, and every cycle.

    Attributes:
        seed: The scenario seed.
        replication: The replication index.
        unit_variant: Per unit (index = release order), its variant's index.
        unit_release_s: When its print started.
        unit_done_s: When it left the outfeed (NaN: not yet).
        unit_status: ``IN_PROCESS``, ``GOOD``, ``REWORKED``, ``SCRAPPED`` or ``ESCAPED``.
        faults: ``(resource, start, end)`` of every fault.
        setups: ``(resource, start, end)`` of every setup (screwdriver bit changes).
        energy_j: Operations' energy per meter per 15-minute bin (idle and standby not included).
        fault_units: Per fault, the unit in work (-1: none).
        cycles: Per robot or station: units, cycle starts and cycle ends (a robot's last cycle may be open,
            so its ends can be one shorter).
        unit_defect: Per unit, ``NO_DEFECT``, ``SCREW_DEFECT`` or ``INSPECTION_DEFECT``.
        unit_screwed_at_s: When its last screw was driven (NaN: not yet).
        unit_screws_before: Screws driven since the screwdriver's last bit change, before this unit's.
        unit_inspected_at_s: When its inspection ended (NaN: not inspected).
        sim_events: Events SimPy scheduled.
    """

    seed: int
    replication: int
    unit_variant: list[int]
    unit_release_s: list[float]
    unit_done_s: list[float]
    unit_status: list[int]
    faults: list[tuple[str, float, float]]
    setups: list[tuple[str, float, float]]
    energy_j: dict[str, list[float]]
    fault_units: list[int]
    cycles: dict[str, tuple[list[int], list[float], list[float]]]
    unit_defect: list[int]
    unit_screwed_at_s: list[float]
    unit_screws_before: list[int]
    unit_inspected_at_s: list[float]
    sim_events: int = 0
