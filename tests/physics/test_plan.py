"""The plan is data: plan_cell's CellPlan, its trajectories and witnesses, storage and the readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from fresh_python import assert_runs

from twin.physics.cache import PhysicsCache
from twin.physics.plan import CellPlan, PlanError, plan_key, sample_indices

REPO = Path(__file__).resolve().parents[2]


# --- without pybullet --------------------------------------------------------------------------


def test_readers_of_the_plan_never_import_pybullet_or_the_planner():
    code = (
        "import sys\n"
        "import twin.physics.plan, twin.warehouse.plans, twin.analytics.ideal, twin.api.read.ideal_times\n"
        "assert 'pybullet' not in sys.modules\n"
        "assert 'twin.physics.evaluate' not in sys.modules, 'a reader imported the planner'\n"
    )
    assert_runs(code)


def test_analytics_report_and_pages_never_call_the_planner():
    planner_names = ("CellPlanner", "plan_cell", "twin.physics.evaluate", "store_cell_plan")
    folders = [REPO / "twin" / "analytics", REPO / "twin" / "report", REPO / "apps"]
    offenders = [
        f"{path.relative_to(REPO)}: {name}"
        for folder in folders
        for path in sorted(folder.rglob("*.py"))
        for name in planner_names
        if name in path.read_text()
    ]
    assert offenders == []


def test_plan_key_follows_what_the_planner_reads(sample_cell, tmp_path):
    from twin.cell.load import load_cell

    key = plan_key(sample_cell)
    source = Path(sample_cell.source_path)
    copy = tmp_path / "cells" / "copy.yaml"  # another path, same content: the same plan
    copy.parent.mkdir()
    copy.write_text(source.read_text())
    (tmp_path / "urdf").symlink_to(source.parent.parent / "urdf")
    assert plan_key(load_cell(copy)) == key
    assert plan_key(load_cell(source, ["cost.labour_per_h=99"])) == key  # the planner never reads cost
    robot = next(iter(sample_cell.robots))
    assert plan_key(load_cell(source, [f"robots.{robot}.speed_override=0.3"])) != key
    assert plan_key(sample_cell, sample_hz=50.0) != key


def test_sample_indices_keep_both_ends_at_the_rate():
    rows = sample_indices(1001, 1 / 125, 25)
    assert rows[0] == 0 and rows[-1] == 1000 and np.all(np.diff(rows) == 5)
    assert sample_indices(1, 1 / 125).tolist() == [0]
    assert sample_indices(0, 1 / 125).tolist() == []


# --- planned (pybullet) ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planned(sample_cell, tmp_path_factory):
    """The sample cell planned twice from nothing (two caches), and the disk cache's root."""
    from twin.physics.evaluate import plan_cell

    root = tmp_path_factory.mktemp("physics-cache")
    first = plan_cell(sample_cell, PhysicsCache(root=root))
    second = plan_cell(sample_cell, PhysicsCache(persist=False))
    return first, second, root


@pytest.fixture(scope="module")
def world(sample_cell):
    from twin.physics.build import CellWorld

    with CellWorld.from_cell(sample_cell) as w:
        yield w


@pytest.mark.physics
def test_plan_cell_is_deterministic_and_a_second_call_reads_the_cache(planned, sample_cell, monkeypatch):
    import twin.physics.evaluate as evaluate

    first, second, root = planned
    assert first.content_hash == second.content_hash == plan_key(sample_cell)
    for name, frame in first.to_frames().items():
        assert frame.equals(second.to_frames()[name]), name
    assert first == second
    assert first.variant_names == list(sample_cell.variants) and first.feasible

    def no_planning(*args, **kwargs):
        raise AssertionError("planned again although the plan is cached")

    monkeypatch.setattr(evaluate, "CellPlanner", no_planning)
    again = evaluate.plan_cell(sample_cell, PhysicsCache(root=root))  # a new process: from the disk
    assert again == first


@pytest.mark.physics
def test_plan_figures_are_the_planners(planned, sample_cell):
    from twin.physics.evaluate import CellPlanner

    plan = planned[0]
    with CellPlanner(sample_cell, cache=PhysicsCache(persist=False)) as planner:
        result = planner.evaluate()
    for variant in result.variants:
        view = plan.variant(variant.variant)
        assert (view.takt_s, view.cycle_time_s, view.bottleneck) == (
            variant.takt_s,
            variant.cycle_time_s,
            variant.bottleneck,
        )
        assert view.work_s == variant.work_s
        assert [(op.operation, op.duration_s, op.energy_j) for op in view.operations] == [
            (op.operation, op.duration_s, op.energy_j) for op in variant.operations
        ]
    # the templates are the cell's (a station operation has no trajectory)
    ops = plan.operations.filter(pl.col("variant") == result.variants[0].variant)
    expanded = sample_cell.expand_plan(result.variants[0].variant)
    assert ops["template"].to_list()[: len(expanded)] == [op.template for op in expanded]
    station_ops = ops.filter(pl.col("robot_id").is_null())["seq"].to_list()
    assert station_ops and all(len(plan.trajectory(ops["variant"][0], s)[0]) == 0 for s in station_ops)


@pytest.mark.physics
def test_trajectories_respect_joint_limits_and_join_start_to_target(planned, sample_cell, world):
    plan = planned[0]
    hz = plan.settings["sample_hz"]
    checked = 0
    for variant in plan.variant_names:
        current = {}
        for rid, robot in sample_cell.robots.items():
            n = world.robots[rid].n_dof
            current[rid] = np.asarray((list(robot.home_q_rad) + [0.0] * n)[:n])
        expanded = sample_cell.expand_plan(variant)
        for op in plan.operations.filter(pl.col("variant") == variant).sort("seq").iter_rows(named=True):
            if op["robot_id"] is None:
                continue
            handle = world.robots[op["robot_id"]]
            t, q = plan.trajectory(variant, op["seq"])
            assert q.dtype == np.float32 and q.shape == (len(t), handle.n_dof)
            assert t[0] == 0.0 and t[-1] == pytest.approx(op["duration_s"], abs=1e-5)
            assert np.all(np.diff(t) > 0) and np.max(np.diff(t)) <= 1.0 / hz + 1e-5
            assert np.all(q >= handle.lower - 1e-5) and np.all(q <= handle.upper + 1e-5), op["operation"]
            # starts where the robot stood, ends in its end configuration
            np.testing.assert_allclose(q[0], current[op["robot_id"]], atol=1e-5, err_msg=op["operation"])
            end = np.asarray(op["end_q_rad"])
            np.testing.assert_allclose(q[-1], end, atol=1e-5, err_msg=op["operation"])
            current[op["robot_id"]] = end
            # ...which is the target: the TCP above the station's pick frame, or the robot's home
            if op["seq"] < len(expanded):
                planned_op = expanded[op["seq"]]
                station = sample_cell.stations[planned_op.station_id]
                frame = [a + b for a, b in zip(station.pick_frame_m, planned_op.offset_m, strict=True)]
                target = np.asarray(station.pose.transform(frame)) + [0.0, 0.0, planned_op.approach_m]
                handle.set_q(end)
                assert np.linalg.norm(handle.tcp_pose()[0] - target) < 0.006, op["operation"]  # IK tolerance
            else:
                home = sample_cell.robots[op["robot_id"]].home_q_rad
                np.testing.assert_allclose(q[-1][: len(home)], home, atol=1e-5)
            checked += 1
    for rid, robot in sample_cell.robots.items():  # leave the world as built
        n = world.robots[rid].n_dof
        world.robots[rid].set_q((list(robot.home_q_rad) + [0.0] * n)[:n])
    assert checked > 30


def _link_index(world, body_name: str, link: str) -> int:
    import pybullet as pb

    if link == "base":
        return -1
    body = world.obstacle_bodies[body_name]
    for j in range(pb.getNumJoints(body, physicsClientId=world.client)):
        if pb.getJointInfo(body, j, physicsClientId=world.client)[12].decode() == link:
            return j
    raise AssertionError(f"{body_name} has no link {link}")


@pytest.mark.physics
def test_witness_points_are_the_minimum_clearance_pair(planned, sample_cell, world):
    import pybullet as pb

    plan = planned[0]
    witnessed = plan.operations.filter(pl.col("robot_point_m").is_not_null())
    assert witnessed.height > 20
    for op in witnessed.iter_rows(named=True):
        a, b = np.asarray(op["robot_point_m"]), np.asarray(op["body_point_m"])
        assert np.linalg.norm(a - b) == pytest.approx(abs(op["min_clearance_m"]), abs=1e-6), op["operation"]
        assert op["min_clearance_m"] < plan.settings["clearance_radius_m"]
        # a fresh query at the configuration where the minimum was found gives the same pair
        handle = world.robots[op["robot_id"]]
        handle.set_q(op["clearance_q_rad"])
        points = pb.getClosestPoints(
            handle.body,
            world.obstacle_bodies[op["closest_body"]],
            plan.settings["clearance_radius_m"],
            linkIndexA=_link_index(world, op["robot_id"], op["robot_link"]),
            linkIndexB=_link_index(world, op["closest_body"], op["closest_body_link"]),
            physicsClientId=world.client,
        )
        best = min(points, key=lambda p: p[8])
        assert best[8] == pytest.approx(op["min_clearance_m"], abs=1e-6), op["operation"]
        np.testing.assert_allclose(best[5], a, atol=1e-6)
        np.testing.assert_allclose(best[6], b, atol=1e-6)
        n = handle.n_dof
        handle.set_q((list(sample_cell.robots[op["robot_id"]].home_q_rad) + [0.0] * n)[:n])
    # nothing within the radius: no witness, the radius reported
    far = plan.operations.filter(pl.col("robot_id").is_not_null() & pl.col("robot_point_m").is_null())
    assert all(d == plan.settings["clearance_radius_m"] for d in far["min_clearance_m"])


@pytest.mark.physics
def test_round_trips_are_exact(planned, tmp_path):
    from twin.warehouse.connection import connect
    from twin.warehouse.plans import load_plan, store_plan, stored_plans

    plan = planned[0]
    assert CellPlan.read(plan.write(tmp_path / "plan")) == plan
    con = connect(":memory:")
    store_plan(con, plan)
    store_plan(con, plan)  # replaces, never duplicates
    assert load_plan(con, plan.content_hash) == plan
    assert [h for h, _, _ in stored_plans(con, plan.cell_id)] == [plan.content_hash]
    assert con.execute("select count(*) from cell_plan_trajectories").fetchall()[0][0] == plan.trajectories.height
    assert load_plan(con, "0" * 64) is None
    with pytest.raises(PlanError, match="format"):
        CellPlan.from_frames({**plan.metadata, "format": "cell-plan-v0"}, plan.to_frames())
    with pytest.raises(PlanError, match="lacks takt_s"):
        CellPlan.from_frames(plan.metadata, {**plan.to_frames(), "variants": plan.variants.drop("takt_s")})


@pytest.mark.physics
def test_ideal_cycle_times_read_the_stored_plan_without_the_planner(planned, sample_cell, tmp_path, monkeypatch):
    import twin.physics.evaluate as evaluate
    from twin.analytics.ideal import ideal_cycle_times
    from twin.errors import WarehouseError
    from twin.warehouse.connection import write_job
    from twin.warehouse.plans import store_plan

    plan = planned[0]
    with evaluate.CellPlanner(sample_cell, cache=PhysicsCache(persist=False)) as planner:
        result = planner.evaluate()
    monkeypatch.setenv("TWIN_CACHE_DIR", str(tmp_path / "empty-cache"))  # only the warehouse has the plan
    monkeypatch.setattr(evaluate, "CellPlanner", None)  # and nothing may plan
    warehouse = tmp_path / "twin.duckdb"
    with pytest.raises(WarehouseError, match="twin cell check"):
        ideal_cycle_times(sample_cell, warehouse=warehouse)
    with write_job(warehouse) as con:
        store_plan(con, plan)
    assert ideal_cycle_times(sample_cell, warehouse=warehouse) == {v.variant: v.takt_s for v in result.variants}
    robot = next(iter(sample_cell.robots))
    assert ideal_cycle_times(sample_cell, robot, warehouse=warehouse) == {
        v.variant: v.work_s[robot] for v in result.variants
    }
    with pytest.raises(WarehouseError, match="another version"):  # the same cell at another speed
        from twin.cell.load import load_cell

        ideal_cycle_times(
            load_cell(sample_cell.source_path, [f"robots.{robot}.speed_override=0.3"]), warehouse=warehouse
        )


@pytest.mark.physics
def test_the_replay_clearance_checker_reports_witness_points_too(planned, sample_cell):
    from twin.physics.replay_world import ReplayRobot

    plan = planned[0]
    variant = plan.variant_names[0]
    robot_id = plan.operations.filter(pl.col("robot_id").is_not_null())["robot_id"][0]
    seqs = plan.operations.filter((pl.col("variant") == variant) & (pl.col("robot_id") == robot_id))["seq"]
    q = np.concatenate([plan.trajectory(variant, s)[1] for s in seqs]).astype(float)
    with ReplayRobot.from_cell(sample_cell, robot_id) as robot:
        result = robot.clearance(q)
    near = np.array([body is not None for body in result.body])
    assert near.sum() > len(q) // 2
    gap = np.linalg.norm(result.robot_point_m - result.body_point_m, axis=1)
    np.testing.assert_allclose(gap[near], np.abs(result.distance_m[near]), atol=1e-6)
    assert np.isnan(result.robot_point_m[~near]).all() and np.isnan(result.body_point_m[~near]).all()
