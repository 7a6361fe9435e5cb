"""Plan and evaluate every operation of the sample cell: cold, then from the cache.

Prints the wall time of both, the share spent inside pybullet calls (IK, inverse dynamics,
clearance), and the same pybullet work done by a bare loop for comparison.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pybullet as pb

from twin.cell.load import load_cell
from twin.physics.cache import PhysicsCache
from twin.physics.evaluate import CellPlanner


def main() -> None:
    cell = load_cell()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        with CellPlanner(cell, cache=PhysicsCache(root=root)) as planner:
            cold = planner.evaluate()
            stats = planner.stats
            traces = [planner.trace(op) for v in cold.variants for op in v.operations if op.cache_key]
        cold_s = time.perf_counter() - start
        n_ops = sum(len(v.operations) for v in cold.variants)
        samples = sum(len(t["t"]) for t in traces if t is not None)
        print(
            f"operations: {n_ops} in {len(cold.variants)} variants ({stats.planned} planned, {stats.cached} "
            f"shared), {samples} trajectory samples"
        )
        print(
            f"cold:   {cold_s:8.3f} s  (world build {stats.world_build_s:.3f} s, inside pybullet "
            f"{stats.pybullet_s:.3f} s = {stats.pybullet_s / cold_s:.0%} of the run)"
        )
        start = time.perf_counter()
        with CellPlanner(cell, cache=PhysicsCache(root=root)) as planner:
            warm = planner.evaluate()
            warm_stats = planner.stats
        warm_s = time.perf_counter() - start
        assert warm.to_json() == cold.to_json()
        print(
            f"cached: {warm_s:8.3f} s  ({warm_stats.planned} planned, {warm_stats.cached} from cache, "
            f"no world built: {warm_stats.world_build_s == 0.0}); speed-up x{cold_s / warm_s:.0f}"
        )

        # bare pybullet: the same inverse dynamics on the same samples, plain lists, no bookkeeping
        with CellPlanner(cell, cache=PhysicsCache(root=root)) as planner:
            world = planner.world
            start = time.perf_counter()
            for op, trace in zip(
                [op for v in cold.variants for op in v.operations if op.cache_key], traces, strict=True
            ):
                if trace is None:
                    continue
                body = world.robots[op.robot_id].body
                q, qd, qdd = (np.asarray(trace[k], dtype=float).tolist() for k in ("q", "qd", "qdd"))
                for a, b, c in zip(q, qd, qdd, strict=True):
                    pb.calculateInverseDynamics(body, a, b, c, physicsClientId=world.client)
            bare_id_s = time.perf_counter() - start
        print(
            f"bare inverse dynamics of the same {samples} samples: {bare_id_s:.3f} s "
            f"({samples / bare_id_s:,.0f} samples/s)"
        )
        print(f"ratio: {bare_id_s / cold_s:.2f} (bare inverse dynamics / full cold planning)")


if __name__ == "__main__":
    main()
