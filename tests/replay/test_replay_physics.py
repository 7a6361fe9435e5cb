"""Replay in the physics twin: inverse dynamics, clearance, the CLI, calibration storage, the generator's energy."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pybullet as pb
import pybullet_data
import pytest
from pybullet_reference import pybullet_inverse_dynamics

from twin.cli import main
from twin.physics.cache import PhysicsCache
from twin.physics.evaluate import CellPlanner
from twin.physics.replay_world import ReplayRobot
from twin.replay.player import ReplayConfig, RobotContext, cell_context, default_power_model, replay_frame
from twin.replay.store import read_joint_states, write_replay_results

pytestmark = pytest.mark.physics

IIWA = Path(pybullet_data.getDataPath()) / "kuka_iiwa" / "model.urdf"
PANDA = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
REPLAY_KEYS = {"samples", "duration_s", "joints", "power", "anomalies"}


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TWIN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _iiwa_log(path: Path, seconds: float = 6.0, rate: float = 200.0, seed: int = 0) -> dict[str, np.ndarray]:
    """A smooth 7-joint motion with measured torques from pybullet itself (plus noise) and power."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, seconds, 1.0 / rate)
    amp = np.array([0.6, 0.4, 0.5, 0.6, 0.7, 0.5, 0.8])
    freq = np.array([0.3, 0.5, 0.4, 0.6, 0.7, 0.5, 0.9])
    q = amp * np.sin(2 * np.pi * freq * t[:, None])
    qd = amp * 2 * np.pi * freq * np.cos(2 * np.pi * freq * t[:, None])
    qdd = -amp * (2 * np.pi * freq) ** 2 * np.sin(2 * np.pi * freq * t[:, None])
    client = pb.connect(pb.DIRECT)
    pb.setGravity(0, 0, -9.81, physicsClientId=client)
    body = pb.loadURDF(str(IIWA), useFixedBase=True, flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=client)
    tau = pybullet_inverse_dynamics(client, body, q, qd, qdd)
    pb.disconnect(client)
    measured = 0.9 * tau + 0.4 + rng.normal(0, 0.05, tau.shape)
    power = 50.0 + np.sum(np.maximum(tau * qd, 0.0), axis=1) + rng.normal(0, 0.2, len(t))
    columns = {"time_s": t, **{f"pos{j}": q[:, j] for j in range(7)}, **{f"trq{j}": measured[:, j] for j in range(7)}}
    columns["watts"] = power
    pl.DataFrame(columns).write_csv(path)
    return {"t": t, "q": q, "qd": qd, "qdd": qdd, "tau": tau}


IIWA_MAP = "t_s=time_s,power_w=watts," + ",".join(f"q_{j + 1}=pos{j},tau_{j + 1}=trq{j}" for j in range(7))


def test_batch_inverse_dynamics_equals_per_sample_pybullet():
    with ReplayRobot.from_urdf(IIWA) as robot:
        rng = np.random.default_rng(1)
        q, qd, qdd = (rng.normal(0, 0.5, (50, 7)) for _ in range(3))
        ours = robot.inverse_dynamics(q, qd, qdd)
        client, body = robot.world.client, robot.handle.body
        for i in range(50):
            expected = pb.calculateInverseDynamics(
                body, q[i].tolist(), qd[i].tolist(), qdd[i].tolist(), physicsClientId=client
            )
            assert np.allclose(ours[i], expected, atol=1e-9)
        heavier = robot.inverse_dynamics(q, qd, qdd, payload_kg=2.0)
        assert np.abs(heavier[:, 1] - ours[:, 1]).max() > 0.5  # a payload loads the shoulder


def test_foreign_log_replay_json_shape_and_recovery(tmp_path, data_dir, capsys):
    truth = _iiwa_log(tmp_path / "log.csv")
    code = main(
        ["replay", "--urdf", str(IIWA), "--joint-states", str(tmp_path / "log.csv"), "--columns", IIWA_MAP, "--json"]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and set(report) >= REPLAY_KEYS
    assert report["samples"] == len(truth["t"]) and report["duration_s"] == pytest.approx(truth["t"][-1])
    assert [j["joint"] for j in report["joints"]] == list(range(1, 8))
    assert set(report["joints"][0]) >= {"joint", "torque_r2", "torque_rmse_nm"}
    assert set(report["power"]) >= {"r2", "rmse_w", "energy_measured_j", "energy_predicted_j"}
    assert report["parameter_set"] == "default-uncalibrated" and report["held_fixed_joints"] == []
    # before calibration the 0.9 scale and 0.4 N·m offset show; the shoulder still correlates
    assert report["joints"][1]["torque_r2"] > 0.9
    assert isinstance(report["anomalies"], int)


def test_repeated_file_flags_use_every_file(tmp_path, data_dir, capsys):
    """``--validate a --validate b`` (as most users write it) validates on both files, like ``--validate a b``."""
    _iiwa_log(tmp_path / "train.csv", seed=1)
    first = _iiwa_log(tmp_path / "check1.csv", seconds=3.0, seed=2)
    second = _iiwa_log(tmp_path / "check2.csv", seconds=2.0, seed=3)
    args = ["calibrate", "--urdf", str(IIWA), "--columns", IIWA_MAP, "--json", "--no-store"]
    args += ["--joint-states", str(tmp_path / "train.csv")]
    checks = [str(tmp_path / "check1.csv"), str(tmp_path / "check2.csv")]
    assert main([*args, "--validate", checks[0], "--validate", checks[1]]) == 0
    repeated = json.loads(capsys.readouterr().out)
    assert main([*args, "--validate", *checks]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert repeated["after"]["samples"] == listed["after"]["samples"] == len(first["t"]) + len(second["t"])


def test_calibrate_stores_a_parameter_set_that_later_replays_use(tmp_path, data_dir, capsys):
    _iiwa_log(tmp_path / "train.csv", seed=1)
    _iiwa_log(tmp_path / "check.csv", seconds=4.0, seed=2)
    args = ["--urdf", str(IIWA), "--joint-states", str(tmp_path / "train.csv"), "--columns", IIWA_MAP, "--json"]
    assert main(["calibrate", *args, "--validate", str(tmp_path / "check.csv")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {"parameters", "before", "after"}
    assert set(report["after"]) >= REPLAY_KEYS
    params = report["parameters"]
    assert params["torque_scale"][:6] == pytest.approx([0.9] * 6, abs=0.02)  # joint 7 barely loads
    assert params["torque_offset_nm"][:7] == pytest.approx([0.4] * 7, abs=0.05)
    assert params["controller_w"] == pytest.approx(50.0, abs=1.0)
    for before, after in zip(report["before"]["joints"], report["after"]["joints"], strict=True):
        assert after["torque_rmse_nm"] < 0.1 < before["torque_rmse_nm"]
    assert report["after"]["power"]["rmse_w"] < report["before"]["power"]["rmse_w"]
    stored = list((data_dir / "calibration").glob("*.json"))
    assert len(stored) == 1 and json.loads(stored[0].read_text())["parameter_set"] == params["parameter_set"]
    assert params["parameter_set"].endswith("-cal-v1")
    main(["replay", *args])
    assert json.loads(capsys.readouterr().out)["parameter_set"] == params["parameter_set"]
    main(["replay", *args, "--nominal"])
    assert json.loads(capsys.readouterr().out)["parameter_set"] == "default-uncalibrated"
    main(["calibrate", *args, "--no-store"])  # held-out block; nothing stored
    assert json.loads(capsys.readouterr().out)["parameters"]["parameter_set"].endswith("-cal-v2")
    assert len(list((data_dir / "calibration").glob("*.json"))) == 1


def test_joints_the_log_lacks_are_held_and_named(tmp_path, data_dir, capsys):
    t = np.arange(0, 2, 0.01)
    frame = {"t": t, **{f"q{j}": 0.2 * np.sin(t + j) for j in range(7)}}
    pl.DataFrame(frame).write_csv(tmp_path / "arm.csv")
    cmap = "t_s=t," + ",".join(f"q_{j + 1}=q{j}" for j in range(7))
    assert (
        main(["replay", "--urdf", str(PANDA), "--joint-states", str(tmp_path / "arm.csv"), "--columns", cmap, "--json"])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["held_fixed_joints"] == [8, 9]
    assert report["joints"][7]["torque_r2"] is None and report["power"]["energy_measured_j"] is None


@pytest.mark.parametrize(
    ("content", "columns", "message"),
    [
        ("t,a\n0,1\n0.1,x\n", "t_s=t,q_1=a", "column 'a' (for q_1) is not numeric"),
        ("t,a\n0,1\n0.1,2\n", "t_s=t,q_1=b", "missing column 'b' (for q_1)"),
        ("t,a\n0,1\n0.1,2\n", "t_s=t,q_9=a", "unknown joint 'q_9'; valid: q_1..q_7"),
        ("a,b\n0,1\n0.1,2\n", None, "no time column"),
    ],
)
def test_malformed_logs_give_one_clear_line(tmp_path, data_dir, capsys, content, columns, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    argv = ["replay", "--urdf", str(IIWA), "--joint-states", str(path)] + (["--columns", columns] if columns else [])
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and message in captured.err and "Traceback" not in captured.err


def test_clearance_culling_and_branch_and_bound_match_asking_every_body(sample_cell):
    with CellPlanner(sample_cell, cache=PhysicsCache(persist=False)) as planner:
        result = planner.evaluate(["B4-PLA"] if "B4-PLA" in sample_cell.variants else None)
        traces = [
            planner.trace(op) for v in result.variants for op in v.operations if op.robot_id == "R2" and op.cache_key
        ]
    q = np.concatenate([np.asarray(t["q"], float) for t in traces])[::7]
    q = q + np.random.default_rng(0).normal(0, 2e-5, q.shape)
    with ReplayRobot.from_cell(sample_cell, "R2") as robot:
        exact = robot.clearance(q)
        tolerant = robot.clearance(q, reuse_tolerance_m=0.001, exact_below_m=0.02)
        handle, client = robot.handle, robot.world.client
        every = np.full(len(q), robot.clearance_radius_m)
        for i in range(0, len(q), 3):
            handle.set_q(q[i])
            for other in robot.obstacles.values():
                for point in pb.getClosestPoints(handle.body, other, robot.clearance_radius_m, physicsClientId=client):
                    if point[3] != -1:
                        every[i] = min(every[i], point[8])
    rows = np.arange(0, len(q), 3)
    assert np.allclose(exact.distance_m[rows], every[rows], atol=1e-9)
    assert np.max(np.abs(tolerant.distance_m[rows] - every[rows])) <= 0.001 + 1e-9
    pairs = int(robot._checker.hull_pairs.size)  # (robot link, obstacle link) pairs
    assert exact.calls < 0.05 * pairs * len(q)  # far fewer queries than asking every pair at every check


def test_support_tables_bound_every_support_from_above_and_are_exact_on_the_grid():
    from twin.physics.clearance import SupportTables

    rng = np.random.default_rng(4)
    shapes = [rng.normal(size=(300, 3)) * [0.05, 0.04, 0.12], rng.uniform(-0.2, 0.2, size=(8, 3))]
    tables = SupportTables(shapes)
    shape = rng.integers(0, 2, 5000)
    d = rng.normal(size=(5000, 3)) * rng.uniform(0.1, 3.0, size=(5000, 1))
    upper, point = tables.upper(shape, d)
    exact = np.array([np.max(shapes[k] @ row) for k, row in zip(shape, d, strict=True)])
    assert np.all(upper >= exact - 1e-12)
    assert np.median((upper - exact) / np.linalg.norm(d, axis=1)) < 1e-3  # tight, not merely valid
    assert all(any(np.array_equal(p, v) for v in shapes[k]) for k, p in zip(shape[:300], point[:300], strict=True))
    on_grid = np.array([[1.0, 0.5, -0.25], [0.0, 0.0, -1.0]])  # (n/2)(s+1) integral for n = 24
    upper, _ = tables.upper(np.array([0, 1]), on_grid)
    assert np.allclose(upper, [np.max(shapes[0] @ on_grid[0]), np.max(shapes[1] @ on_grid[1])], atol=1e-12)
    upper, _ = tables.upper(np.array([1]), np.zeros((1, 3)))
    assert np.isfinite(upper).all() and abs(upper[0]) < 1e-290


@pytest.mark.parametrize("robot_id", ["R1", "R2"])
def test_hull_bounds_never_exceed_pybullets_pair_distances(sample_cell, robot_id):
    with ReplayRobot.from_cell(sample_cell, robot_id) as robot:
        rng = np.random.default_rng(5)
        home = np.asarray(sample_cell.robots[robot_id].home_q_rad)
        q = home + rng.normal(0, 0.6, (60, robot.n_dof))
        if robot_id == "R1":
            q[:, 7:] = np.clip(q[:, 7:], 0, 0.04)
        robot.clearance(q[:1])
        checker = robot._checker
        assert checker.hull_pairs.all()  # every shape in the sample cell is a hull or a box with a 1 mm margin
        assert np.all(checker.link_margin < 0.0015)
        bounds = checker.pair_bounds(q)
        gaps = []  # per row: its nearest pair's distance minus that pair's bound
        for i in range(len(q)):
            robot.handle.set_q(q[i])
            nearest = (np.inf, 0.0)
            for link_index, link in enumerate(checker.box_links.tolist()):
                for box in range(len(checker.box_owner)):
                    bound = float(bounds[i, link_index, box])
                    if not bound < checker.radius_m:
                        continue
                    points = pb.getClosestPoints(
                        robot.handle.body,
                        checker.box_body[box],
                        1.0,
                        linkIndexA=link,
                        linkIndexB=checker.box_link[box],
                        physicsClientId=robot.world.client,
                    )
                    distance = min(point[8] for point in points)
                    assert bound <= distance + 1e-9
                    nearest = min(nearest, (distance, bound))
            if np.isfinite(nearest[0]) and np.isfinite(nearest[1]):
                gaps.append(nearest[0] - nearest[1])
        # the pair that decides a check is bounded within millimetres (boxes alone: centimetres), so it is
        # usually the only one asked
        assert len(gaps) > 20 and np.median(gaps) < 0.01


def test_kinematics_match_pybullet(sample_cell):
    with ReplayRobot.from_cell(sample_cell, "R1") as robot:
        rng = np.random.default_rng(2)
        q = np.asarray(sample_cell.robots["R1"].home_q_rad) + rng.normal(0, 0.4, (20, robot.n_dof))
        q[:, 7:] = np.clip(q[:, 7:], 0, 0.04)
        robot.clearance(q[:1])
        rotations, positions = robot._checker.kinematics.frames(q)
        for i in range(20):
            robot.handle.set_q(q[i])
            for link in range(positions.shape[1]):
                state = pb.getLinkState(
                    robot.handle.body, link, computeForwardKinematics=True, physicsClientId=robot.world.client
                )
                assert np.allclose(positions[i, link], state[4], atol=1e-6)
                matrix = np.asarray(pb.getMatrixFromQuaternion(state[5])).reshape(3, 3)
                assert np.allclose(rotations[i, link], matrix, atol=1e-6)


# the generator's own telemetry ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def generated(tmp_path_factory, sample_cell):
    """One generated day, and the physics cache its planning filled."""
    from twin.telemetry.generate import GenerateConfig, generate

    out = tmp_path_factory.mktemp("generated")
    cache = tmp_path_factory.mktemp("cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("TWIN_CACHE_DIR", str(cache))
    try:
        generate(sample_cell, GenerateConfig(days=1, seed=11, speed_change_day=1), out)
    finally:
        mp.undo()
    return out, cache


@pytest.fixture(scope="module")
def one_day(generated):
    return generated[0]


@pytest.fixture(scope="module")
def planned(generated, sample_cell) -> dict[tuple[str, str], dict[str, tuple[float, float]]]:
    """(robot, variant) -> operation -> (energy J, duration s) as the twin planned them."""
    with CellPlanner(sample_cell, cache=PhysicsCache(root=generated[1])) as planner:
        result = planner.evaluate()
    return {
        (robot, v.variant): {op.operation: (op.energy_j, op.duration_s) for op in v.operations if op.robot_id == robot}
        for v in result.variants
        for robot in sample_cell.robots
    }


@pytest.mark.parametrize("robot_id", ["R1", "R2"])
def test_replay_of_generated_telemetry_recovers_energy_per_cycle(one_day, planned, sample_cell, robot_id):
    events = pl.concat([pl.read_parquet(p) for p in sorted(glob.glob(str(one_day / "events-*.parquet")))])
    frame = pl.concat([pl.read_parquet(p) for p in sorted(glob.glob(str(one_day / "joint_states-*.parquet")))])
    frame = frame.filter(pl.col("robot_id") == robot_id)
    with ReplayRobot.from_cell(sample_cell, robot_id) as robot:
        result, data = replay_frame(frame, robot, cell_context(sample_cell, robot_id), ReplayConfig(), events)
    cycles = result.cycles
    assert cycles.height >= 4
    error = (cycles["energy_predicted_j"] - cycles["energy_measured_j"]).abs() / cycles["energy_measured_j"]
    assert error.max() < 0.02
    # against the twin's plan: every operation's planned energy, stretched like its logged duration
    variant_of = dict(events.filter(pl.col("event") == "cycle_start").select("unit_id", "variant").iter_rows())
    steps = data.samples.labels["program_step"]
    for k, label in enumerate(data.cycle_labels):
        rows = np.nonzero(data.cycle == k)[0]
        plan = planned[(robot_id, variant_of[label])]
        twin = 0.0
        period = data.samples.period_s[0]
        for step in dict.fromkeys(steps[rows].tolist()):
            energy, duration = plan[step]
            logged_s = np.count_nonzero(steps[rows] == step) * period  # the operation as long as it was logged
            twin += energy * logged_s / duration
        predicted = cycles.filter(pl.col("cycle") == label)["energy_predicted_j"][0]
        assert predicted == pytest.approx(twin, rel=0.02), label
    assert result.summary["power"]["r2"] > 0.9
    assert result.summary["min_clearance_m"] > sample_cell.cell.clearance_threshold_m


def test_cell_robot_replay_from_files_and_warehouse_results(one_day, sample_cell, data_dir, capsys):
    files = sorted(glob.glob(str(one_day / "joint_states-*.parquet")))
    events = sorted(glob.glob(str(one_day / "events-*.parquet")))
    code = main(["replay", "--robot", "R1", "--joint-states", *files, "--events", *events, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["parameter_set"] == "nominal" and report["cycles"] >= 4
    # the warehouse side: read joint states from a table, write results (the caller owns the connection)
    con = duckdb.connect(":memory:")
    frame = pl.concat([pl.read_parquet(f) for f in files]).with_columns(pl.lit("measured").alias("source"))
    con.register("frame", frame.to_arrow())
    con.execute("create table raw_joint_states as select * from frame")
    states = read_joint_states(con, sample_cell.cell.id, "R2")
    assert states.height == frame.filter(pl.col("robot_id") == "R2").height and "source" not in states.columns
    with ReplayRobot.from_cell(sample_cell, "R2") as robot:
        result, _ = replay_frame(states, robot, cell_context(sample_cell, "R2"), ReplayConfig(series_hz=5.0))
    written = write_replay_results(con, result, "replay-test", "R2")
    again = write_replay_results(con, result, "replay-test", "R2")  # same run: replaced, not doubled
    assert written == again
    assert con.execute("select count(*) from raw_replay_cycles").fetchone()[0] == result.cycles.height
    assert con.execute("select count(*) from raw_replay_runs").fetchone()[0] == 1
    assert con.execute("select count(*) from raw_replay_series").fetchone()[0] == result.series.height
    assert con.execute("select distinct source from raw_replay_anomalies union select 'x'").fetchall()


def test_cli_replays_a_cell_robot_from_the_warehouse_and_stores_results(one_day, tmp_path, data_dir, capsys):
    warehouse = tmp_path / "twin.duckdb"
    states = pl.concat([pl.read_parquet(p) for p in sorted(glob.glob(str(one_day / "joint_states-*.parquet")))])
    events = pl.concat([pl.read_parquet(p) for p in sorted(glob.glob(str(one_day / "events-*.parquet")))])
    con = duckdb.connect(str(warehouse))
    con.register("states", states.with_columns(pl.lit("measured").alias("source")).to_arrow())
    con.register("events", events.with_columns(pl.lit("measured").alias("source")).to_arrow())
    con.execute("create table stg_joint_states as select * from states")
    con.execute("create table stg_events as select * from events")
    con.close()
    first_day = "2026-10-05"
    code = main(["replay", "--robot", "R1", "--warehouse", str(warehouse), "--from", first_day, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["stored"] == str(warehouse) and report["cycles"] >= 4
    with duckdb.connect(str(warehouse), read_only=True) as con:
        runs = con.execute("select run_id, robot_id, parameter_set, samples from raw_replay_runs").fetchall()
        cycles = con.execute("select count(*) from raw_replay_cycles where run_id = ?", [report["run_id"]]).fetchone()
    assert runs == [(report["run_id"], "R1", "nominal", report["samples"])] and cycles[0] == report["cycles"]
    assert main(["replay", "--robot", "R1", "--warehouse", str(tmp_path / "none.duckdb")]) == 2
    assert "no warehouse" in capsys.readouterr().err


def test_default_power_model_for_a_foreign_robot_is_mechanical_only():
    model = default_power_model(6)
    context = RobotContext(robot_id=None, model=model)
    assert context.parameter_set == "default-uncalibrated" and model.controller_w == 0.0


def test_a_fit_that_does_not_help_is_reported_and_not_stored(tmp_path, data_dir, capsys):
    """A second calibration on the same data starts from the first one's parameters: nothing to gain, so the
    stored set stays, and the report says why."""
    _iiwa_log(tmp_path / "train.csv", seed=1)
    _iiwa_log(tmp_path / "check.csv", seconds=4.0, seed=2)
    text = ["calibrate", "--urdf", str(IIWA), "--columns", IIWA_MAP]
    text += ["--joint-states", str(tmp_path / "train.csv"), "--validate", str(tmp_path / "check.csv")]
    args = [*text, "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["accepted"] and first["decision"].endswith(": kept") and first["stored"]
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["before"]["parameter_set"] == first["parameters"]["parameter_set"]
    assert not second["accepted"] and second["stored"] is None
    assert "not kept, the prior parameters stay" in second["decision"]
    stored = json.loads(next((data_dir / "calibration").glob("*.json")).read_text())
    assert stored["parameter_set"] == first["parameters"]["parameter_set"]  # still the first
    assert main(text) == 0  # the text report says it too
    assert "not kept" in capsys.readouterr().out


def test_calibrating_from_joint_torque_sensors_keeps_the_drive_friction(tmp_path, data_dir, sample_cell, capsys):
    """A joint torque sensor does not see the drive's friction: a fit on the twin's own telemetry (sensor torques,
    electrical power with friction) must not lose it, nor the held-out power figure with it."""
    from twin.api import generate

    made = generate(sample_cell, tmp_path / "gen", days=1, seed=11)
    files = [str(p) for p in made.files if p.name.startswith("joint_states-")]
    events = [str(p) for p in made.files if p.name.startswith("events-")]
    prior = sample_cell.robots["R2"].power_model
    assert main(["calibrate", "--robot", "R2", "--joint-states", *files, "--events", *events, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    fitted = report["parameters"]
    assert fitted["viscous_friction_nm_s_per_rad"] == prior.viscous_friction_nm_s_per_rad
    assert fitted["coulomb_friction_nm"] == prior.coulomb_friction_nm
    assert max(abs(v) for v in fitted["sensor_viscous_friction_nm_s_per_rad"]) < 0.2 * max(
        prior.viscous_friction_nm_s_per_rad
    )  # the sensors see almost none
    # the held-out power figure holds (it fell from 0.967 to 0.910 when the fit zeroed the drive's friction)
    assert report["after"]["power"]["r2"] >= report["before"]["power"]["r2"] - 0.005
