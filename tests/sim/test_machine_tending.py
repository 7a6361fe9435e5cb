"""A robot that loads a one-place machine and later unloads it: one resource serving two stages.

The shipped hinge-press cell: a UR10 picks a blank, loads the press, and after pressing unloads it, puts it
on the camera (waiting while it measures) and onto the outfeed chute. With one press the robot cannot load
the next blank before it has unloaded and finished this one, so without faults a unit takes the sum of the
robot's work, the inspection it waits at and the press time; two presses overlap pressing with the robot.
"""

from __future__ import annotations

import math
from datetime import date

import pytest

from twin.cell.load import load_cell
from twin.paths import CELLS_DIR
from twin.sim.engine import ProductionModel
from twin.sim.plan import build_inputs, plan_variants

HINGE = CELLS_DIR / "hinge-press-v1.yaml"
START, DAYS = date(2026, 10, 5), 5.0  # Monday to Friday: five 7.5 h shifts


def _units_per_hour(cell) -> tuple[float, float]:
    """(simulated, hand-computed) units per working hour, without faults."""
    plan = plan_variants(cell)
    inputs = build_inputs("tending", cell, START, DAYS, planned=plan, faults_enabled=False)
    record = ProductionModel(inputs, seed=3, replication=0).run()
    done = sum(1 for t in record.unit_done_s if not math.isnan(t))
    hours = sum(end - start for start, end in inputs.calendar.windows) / 3600.0
    # by hand: every operation of the plan in sequence, but the conveyor, which runs while the robot goes on
    conveyors = set(cell.stations_of_kind("conveyor"))
    cycle = 0.0
    for name, variant in cell.variants.items():
        ops = plan.variant(name).operations
        seconds = sum(op.duration_s for op in ops if (op.robot_id or op.station_id) not in conveyors)
        cycle += variant.mix_share * seconds
    return done / hours, 3600.0 / cycle


def test_one_press_gives_one_unit_per_load_press_unload_cycle():
    simulated, by_hand = _units_per_hour(load_cell(HINGE))
    assert simulated == pytest.approx(by_hand, rel=0.02)


def test_two_presses_overlap_pressing_with_the_robot():
    one, _ = _units_per_hour(load_cell(HINGE))
    two, _ = _units_per_hour(load_cell(HINGE, overrides=["stations.press_brake.count=2"]))
    assert two > 1.15 * one


def test_the_robot_serves_both_stages_and_the_press_holds_one_unit():
    cell = load_cell(HINGE)
    inputs = build_inputs("tending", cell, START, 1.0, faults_enabled=False)
    assert [(s.owner, s.process, s.enters) for s in inputs.shapes] == [
        ("tender", False, "press_brake"),
        ("press_brake", True, None),
        ("tender", False, None),
    ]
    record = ProductionModel(inputs, seed=3, replication=0).run()
    units, starts, ends = record.cycles["press_brake"]
    assert len(units) > 50
    # one place: a pressing never starts before the previous unit was carried away from the press
    loads_units, load_starts, _ = record.cycles["tender"]
    assert all(b >= a for a, b in zip(ends, starts[1:], strict=False))
    assert len(loads_units) >= 2 * len(units) - 1  # the robot cycles twice per unit: load, then unload
