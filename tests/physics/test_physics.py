"""Physics twin tests that would fail on a wrong model: limits, energy balance, payload, collisions."""

from __future__ import annotations

import numpy as np
import pybullet as pb
import pytest

from twin.cell.load import load_cell
from twin.physics.cache import PhysicsCache
from twin.physics.evaluate import CellPlanner

pytestmark = pytest.mark.physics
G = 9.81


def evaluate(cell, cache=None):
    with CellPlanner(cell, cache=cache or PhysicsCache(persist=False)) as planner:
        return planner.evaluate(), planner


def test_same_inputs_identical_results(sample_cell):
    first, _ = evaluate(sample_cell)
    second, _ = evaluate(sample_cell)
    assert first.to_json() == second.to_json()


def test_trajectories_respect_velocity_and_acceleration_limits(sample_cell):
    with CellPlanner(sample_cell, cache=PhysicsCache(persist=False)) as planner:
        result = planner.evaluate()
        checked = 0
        for variant in result.variants:
            for op in variant.operations:
                if op.robot_id is None or op.robot_id not in sample_cell.robots:
                    continue
                robot = sample_cell.robots[op.robot_id]
                trace = planner.trace(op)
                n = robot.n_arm_joints
                s = robot.speed_override
                vmax = np.asarray(robot.limits.velocity_rad_per_s) * s
                amax = np.asarray(robot.limits.acceleration_rad_per_s2) * s**2
                assert np.all(np.abs(trace["qd"][:, :n]) <= vmax * (1 + 1e-4) + 1e-6), op.operation
                assert np.all(np.abs(trace["qdd"][:, :n]) <= amax * (1 + 1e-4) + 1e-6), op.operation
                # velocities are the derivative of positions (the trace is one consistent motion)
                numeric = np.gradient(trace["q"][:, :n].astype(float), planner.dt, axis=0)
                assert np.max(np.abs(numeric - trace["qd"][:, :n])) < 0.05 * max(vmax.max(), 1e-9)
                checked += 1
        assert checked > 20


def _ik(planner, robot_id, position):
    handle = planner.world.robots[robot_id]
    robot = planner.cell.robots[robot_id]
    home = planner._full(handle, robot.home_q_rad)
    solution = handle.solve_ik(position, (1.0, 0.0, 0.0, 0.0), home)
    assert solution.reason is None, solution.reason
    return solution.q


def _potential_energy(planner, robot_id, q, payload_kg=0.0):
    """Sum of m g z over the links' centres of mass (payload at the tool-mount COM)."""
    handle = planner.world.robots[robot_id]
    handle.set_q(q)
    client, body = handle.client, handle.body
    energy = 0.0
    for link in range(pb.getNumJoints(body, physicsClientId=client)):
        mass = pb.getDynamicsInfo(body, link, physicsClientId=client)[0]
        z = pb.getLinkState(body, link, computeForwardKinematics=True, physicsClientId=client)[0][2]
        if link == handle.mount_link:
            mass += payload_kg
        energy += mass * G * z
    return energy


@pytest.mark.parametrize("robot_id", ["R1", "R2"])
def test_mechanical_work_equals_potential_energy_change(sample_cell, robot_id):
    """Rest to rest, the integral of sum(tau * omega) is the change in potential energy."""
    cell = sample_cell
    with CellPlanner(cell, cache=PhysicsCache(persist=False)) as planner:
        base = cell.robots[robot_id].base_pose
        sign = 1.0 if robot_id == "R1" else -1.0
        low = _ik(planner, robot_id, (base.x_m + sign * 0.5, 0.1, 0.25))
        high = _ik(planner, robot_id, (base.x_m + sign * 0.4, -0.15, 0.6))
        n = cell.robots[robot_id].n_arm_joints
        _, trace = planner.evaluate_motion(robot_id, list(low), [(high[:n], "transfer")], payload_kg=0.0)
        work = np.trapezoid((trace["tau"].astype(float) * trace["qd"].astype(float)).sum(axis=1), dx=planner.dt)
        tool = cell.robots[robot_id].tool.mass_kg
        delta = _potential_energy(planner, robot_id, high, tool) - _potential_energy(planner, robot_id, low, tool)
        assert delta > 1.0  # a real lift
        assert work == pytest.approx(delta, rel=0.02, abs=0.05)


@pytest.mark.parametrize("robot_id", ["R1", "R2"])
def test_payload_lifted_costs_at_least_mgh(sample_cell, robot_id):
    cell = sample_cell
    mass, h = 2.0, 0.3
    with CellPlanner(cell, cache=PhysicsCache(persist=False)) as planner:
        base = cell.robots[robot_id].base_pose
        sign = 1.0 if robot_id == "R1" else -1.0
        x = base.x_m + sign * 0.5
        low = _ik(planner, robot_id, (x, 0.0, 0.25))
        high = _ik(planner, robot_id, (x, 0.0, 0.25 + h))
        n = cell.robots[robot_id].n_arm_joints
        empty, _ = planner.evaluate_motion(robot_id, list(low), [(high[:n], "transfer")], payload_kg=0.0)
        loaded, _ = planner.evaluate_motion(robot_id, list(low), [(high[:n], "transfer")], payload_kg=mass)
        assert empty.duration_s == pytest.approx(loaded.duration_s)
        assert loaded.energy_j - empty.energy_j >= mass * G * h


@pytest.mark.parametrize("robot_id", ["R1", "R2"])
def test_holding_still_draws_more_than_controller_power(sample_cell, robot_id):
    cell = sample_cell
    with CellPlanner(cell, cache=PhysicsCache(persist=False)) as planner:
        robot = cell.robots[robot_id]
        home = list(robot.home_q_rad)
        n = robot.n_arm_joints
        result, trace = planner.evaluate_motion(
            robot_id, home, [(np.asarray(home[:n]), "transfer")], 0.0, dwell_s=1.0, dwell_after=0
        )
        assert result.duration_s == pytest.approx(1.0, abs=0.02)
        assert np.all(np.abs(trace["qd"]) < 1e-9)
        assert np.all(trace["power_w"] > robot.power_model.controller_w)  # gravity needs torque: copper loss
        assert np.abs(trace["tau"][:, 1]).min() > 1.0  # the shoulder carries the arm


def test_lower_speed_override_lengthens_every_cycle():
    fast, _ = evaluate(load_cell(overrides=["robots.R1.speed_override=0.8", "robots.R2.speed_override=0.8"]))
    slow, _ = evaluate(load_cell(overrides=["robots.R1.speed_override=0.3", "robots.R2.speed_override=0.3"]))
    for f, s in zip(fast.variants, slow.variants, strict=True):
        assert s.cycle_time_s > f.cycle_time_s + 5.0
        for fo, so in zip(f.operations, s.operations, strict=True):
            if fo.robot_id in ("R1", "R2"):
                assert so.duration_s > fo.duration_s


def test_obstacle_in_path_is_a_collision_with_its_name():
    guard = "obstacles.guard={size_m: [0.08, 0.08, 1.2], pose: {x_m: 0.42, y_m: 0.32}}"
    result, _ = evaluate(load_cell(overrides=[guard]))
    reasons = [op.reason for v in result.variants for op in v.operations if not op.feasible]
    assert reasons and any("collision with guard" in r for r in reasons), reasons
    assert not result.feasible


def test_target_out_of_reach_is_infeasible_not_an_exception():
    result, _ = evaluate(
        load_cell(overrides=["stations.panel_feeder.pose.x_m=2.5", "stations.panel_feeder.pose.y_m=1.5"])
    )
    ops = {op.operation: op for op in result.variants[0].operations}
    assert not ops["pick_panel"].feasible
    assert ops["pick_panel"].reason.startswith("unreachable target")
    assert result.variants[0].problems


def test_cache_replans_only_what_changed(tmp_path, sample_cell):
    cache = PhysicsCache(root=tmp_path)
    first, planner = evaluate(sample_cell, cache)
    assert planner.stats.planned > 0
    again, planner = evaluate(sample_cell, PhysicsCache(root=tmp_path))  # fresh process, disk cache
    assert planner.stats.planned == 0
    assert again.to_json() == first.to_json()
    changed = load_cell(overrides=["robots.R2.speed_override=0.7"])
    third, planner = evaluate(changed, PhysicsCache(root=tmp_path))
    r2_ops = {op.operation for v in third.variants for op in v.operations if op.robot_id == "R2"}
    assert planner.stats.planned == len(
        {(v.variant, op) for v in third.variants for op in r2_ops if op in {o.operation for o in v.operations}}
    ) - _shared(third, "R2")
    r1_first = [op for v in first.variants for op in v.operations if op.robot_id == "R1"]
    r1_third = [op for v in third.variants for op in v.operations if op.robot_id == "R1"]
    assert [o.energy_j for o in r1_first] == [o.energy_j for o in r1_third]


def _shared(result, robot_id):
    """Operations identical across variants (same start and target) are planned once."""
    keys = [op.cache_key for v in result.variants for op in v.operations if op.robot_id == robot_id]
    return len(keys) - len(set(keys))


def test_overlapping_stations_are_a_layout_error_naming_both():
    from twin.api import check_cell
    from twin.errors import ConfigError

    overrides = ["stations.panel_feeder.pose.x_m=0.6", "stations.panel_feeder.pose.y_m=0.1"]
    with pytest.raises(ConfigError, match=r"layout: panel_feeder and assembly_fixture overlap by \d+ mm") as info:
        check_cell(None, overrides=overrides, use_cache=False)
    assert "stations.panel_feeder.pose or stations.assembly_fixture.pose" in str(info.value)
