"""Replay one hour of 125 Hz joint states of R2 (the 7-DOF KUKA iiwa) in the sample cell.

The joint states are the twin's own planned trajectories of R2 (every operation of every variant, in
order, repeated to one hour) with sensor noise, measured torques and power, as the generator writes them.

- **ours**: ``twin.replay.player.replay_frame`` on that frame: uniform grid, Savitzky–Golay derivatives,
  inverse dynamics of every sample (payload per operation), the power model, the figures, anomalies,
  cycles, the decimated series, and clearance to every cell body at ``--clearance-hz``;
- **bare**: the same samples as precomputed Python lists, in one loop: ``calculateInverseDynamics`` of
  every sample and, at the clearance rate, ``resetJointState`` of every joint plus ``getClosestPoints``
  against each of the cell's bodies - nothing else.

Both run in the same process on the same cell world (built anew for each of our runs, so the clearance
checker's setup is timed with the replay), and both pass the client id positionally to
``calculateInverseDynamics`` and ``resetJointState`` (keyword parsing alone costs pybullet a few µs per
call). The replay's clearance answers equal asking every body at every check, except that with the
default ``--clearance-tolerance-m`` 0.0005 a check may reuse the last answer while no robot point can
have moved more than 0.5 mm (``--clearance-tolerance-m 0`` for exact answers everywhere). Prints samples/s
of both by wall time and by CPU time (the machine may be shared: CPU time is what each loop itself
costs), the replay without clearance, and, last, ``ratio: X.XX`` (ours / bare samples/s, by CPU time).
Each loop runs ``--repeat`` times and the fastest run counts (timeit's convention: the machine's noise
only ever adds time; the same run varies by ±20 % on a shared VM).

    python bench/replay.py [--hours 1] [--clearance-hz 25] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import polars as pl
import pybullet as pb

from twin.cell.load import load_cell
from twin.physics.cache import PhysicsCache
from twin.physics.evaluate import CONTROL_DT_S, CellPlanner
from twin.physics.replay_world import ReplayRobot
from twin.replay.player import ReplayConfig, cell_context, replay_frame

ROBOT = "R2"


def joint_states(hours: float, seed: int = 1) -> pl.DataFrame:
    """One robot's joint states at 125 Hz: its planned operations in order, repeated, with noise."""
    cell = load_cell()
    with CellPlanner(cell, cache=PhysicsCache(persist=False)) as planner:
        result = planner.evaluate()
        ops = [
            (op.operation, planner.trace(op))
            for variant in result.variants
            for op in variant.operations
            if op.robot_id == ROBOT and op.cache_key
        ]
    q, qd, tau, power, steps = [], [], [], [], []
    for name, trace in ops:  # consecutive operations share their boundary sample: keep it once
        q.append(np.asarray(trace["q"], float)[1:])
        qd.append(np.asarray(trace["qd"], float)[1:])
        tau.append(np.asarray(trace["tau"], float)[1:])
        power.append(np.asarray(trace["power_w"], float)[1:])
        steps += [name] * (len(trace["t"]) - 1)
    one = [np.concatenate(x) for x in (q, qd, tau, power)]
    n = int(round(hours * 3600.0 / CONTROL_DT_S))
    reps = int(np.ceil(n / len(one[0])))
    q, qd, tau, power = (np.tile(x, (reps, 1))[:n] if x.ndim == 2 else np.tile(x, reps)[:n] for x in one)
    step = np.tile(np.asarray(steps, dtype=object), reps)[:n]
    rng = np.random.default_rng(seed)
    q = q + rng.normal(0.0, 2e-5, q.shape)
    qd = qd + rng.normal(0.0, 1e-3, qd.shape)
    tau = tau * (1.0 + rng.normal(0.0, 0.01)) + rng.normal(0.0, 0.05, tau.shape)
    power = power * (1.0 + rng.normal(0.0, 0.01, n)) + rng.normal(0.0, 1.0, n)
    ts_us = 1_790_000_000_000_000 + np.arange(n, dtype=np.int64) * int(CONTROL_DT_S * 1e6)
    columns: dict[str, object] = {"ts": pl.Series(ts_us).cast(pl.Datetime("us", "UTC")), "robot_id": [ROBOT] * n}
    for j in range(q.shape[1]):
        columns[f"q_{j + 1}"] = q[:, j]
    for j in range(q.shape[1]):
        columns[f"qd_{j + 1}"] = qd[:, j]
    for j in range(q.shape[1]):
        columns[f"tau_{j + 1}"] = tau[:, j]
    columns["power_w"] = power
    columns["program_step"] = pl.Series(step.tolist(), dtype=pl.String)
    return pl.DataFrame(columns)


def bare_loop(robot: ReplayRobot, q: list, qd: list, qdd: list, every: int) -> tuple[float, float, int]:
    """The bare pybullet loop on precomputed lists; returns its wall and CPU time and getClosestPoints calls."""
    client = robot.world.client
    body = robot.handle.body
    joints = robot.handle.joint_indices
    others = list(robot.obstacles.values())
    calc = pb.calculateInverseDynamics
    reset = pb.resetJointState
    closest = pb.getClosestPoints
    radius = robot.clearance_radius_m
    calls = 0
    start, cpu = time.perf_counter(), time.process_time()
    for i, (a, b, c) in enumerate(zip(q, qd, qdd, strict=True)):
        calc(body, a, b, c, 0, client)
        if i % every == 0:
            for joint, value in zip(joints, a, strict=True):
                reset(body, joint, value, 0.0, client)
            for other in others:
                closest(body, other, radius, physicsClientId=client)
                calls += 1
    return time.perf_counter() - start, time.process_time() - cpu, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--clearance-hz", type=float, default=25.0)
    parser.add_argument("--clearance-tolerance-m", type=float, default=0.0005)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each loop; the fastest counts")
    args = parser.parse_args()
    frame = joint_states(args.hours)
    n = frame.height
    cell = load_cell()
    config = ReplayConfig(clearance_hz=args.clearance_hz, clearance_tolerance_m=args.clearance_tolerance_m)
    every = max(1, int(round(1.0 / (args.clearance_hz * CONTROL_DT_S))))
    print(
        f"{n:,} samples ({n * CONTROL_DT_S / 3600:.2f} h at {1 / CONTROL_DT_S:.0f} Hz) of {ROBOT}, 7 DOF; "
        f"clearance every {every} samples ({args.clearance_hz:g} Hz) against the cell's bodies"
    )
    context = cell_context(cell, ROBOT)
    runs = []
    for _ in range(max(1, args.repeat)):  # a new world each run: the clearance checker's setup is timed too
        with ReplayRobot.from_cell(cell, ROBOT) as robot:
            robot.inverse_dynamics(np.zeros((1, 7)), np.zeros((1, 7)), np.zeros((1, 7)))  # warm up
            start, cpu = time.perf_counter(), time.process_time()
            result, data = replay_frame(frame, robot, context, config)
            runs.append((time.perf_counter() - start, time.process_time() - cpu))
    ours_s, ours_cpu = min(runs)
    checks = len(data.clearance_rows) if data.clearance_rows is not None else 0
    with ReplayRobot.from_cell(cell, ROBOT) as robot:
        q, qd, qdd = data.q.tolist(), data.qd.tolist(), data.qdd.tolist()
        bare_s, bare_cpu, bare_calls = min(bare_loop(robot, q, qd, qdd, every) for _ in range(max(1, args.repeat)))
        n_bodies = len(robot.obstacles)
        plain = []
        for _ in range(max(1, args.repeat)):
            start, cpu = time.perf_counter(), time.process_time()
            replay_frame(frame, robot, context, ReplayConfig(clearance_hz=0.0))
            plain.append((time.perf_counter() - start, time.process_time() - cpu))
        plain_s, plain_cpu = min(plain)
    s = result.summary
    print(
        f"ours: {ours_s:7.2f} s wall, {ours_cpu:7.2f} s CPU  {n / ours_s:9,.0f} samples/s wall  "
        f"{n / ours_cpu:9,.0f} samples/s CPU  (inverse dynamics, power, figures, {s['anomalies']} anomalies; "
        f"{checks:,} clearance checks -> {data.clearance_calls:,} getClosestPoints calls, tolerance "
        f"{args.clearance_tolerance_m * 1000:g} mm; min clearance {s['min_clearance_m']} m)"
    )
    print(
        f"bare: {bare_s:7.2f} s wall, {bare_cpu:7.2f} s CPU  {n / bare_s:9,.0f} samples/s wall  "
        f"{n / bare_cpu:9,.0f} samples/s CPU  (calculateInverseDynamics per sample; resetJointState x 7 + "
        f"getClosestPoints x {n_bodies} per check = {bare_calls:,} calls)"
    )
    print(
        f"ours without clearance: {plain_s:.2f} s wall, {plain_cpu:.2f} s CPU  {n / plain_cpu:,.0f} samples/s CPU; "
        f"energy predicted {s['power']['energy_predicted_j'] / 1000:.1f} kJ, measured "
        f"{s['power']['energy_measured_j'] / 1000:.1f} kJ; power R² {s['power']['r2']}"
    )
    print(f"all runs, ours: {', '.join(f'{w:.2f}' for w, _ in runs)} s wall (best of {len(runs)} counts)")
    print(f"ratio: {bare_cpu / ours_cpu:.2f}")


if __name__ == "__main__":
    main()
