"""Plan and evaluate every operation of every variant of a cell.

A robot operation moves from where the robot is to a point ``approach_m`` above its target, descends,
dwells (gripping, screwing), and retreats; each segment is a Ruckig rest-to-rest trajectory in joint
space between IK solutions. Along the trajectory: inverse-dynamics torques with the tool and payload,
electrical power, and the clearance to every cell body. A cycle starts and ends with every robot at
home (a ``return_home_<robot>`` operation closes each robot's work).

Results are cached by the content hash of their inputs: an operation whose robot, start
configuration, target, payload and surrounding bodies are unchanged is never re-planned.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from twin.cell.sampling import planning_cell
from twin.cell.spec import CellSpec, PlannedOperation, RobotSpec, base_variant
from twin.errors import PhysicsError
from twin.physics.cache import PhysicsCache, content_hash, file_hash
from twin.physics.plan import (
    CLEARANCE_EVERY,
    CONTROL_DT_S,
    CellPlan,
    plan_key,
    plan_settings,
    read_cached_plan,
    sample_indices,
    write_cached_plan,
)
from twin.physics.power import electrical_power, energy_j
from twin.physics.trajectory import SampledTrajectory, concatenate, hold, plan_segment

__all__ = ["CONTROL_DT_S", "CellPlanner", "CellResult", "OperationResult", "VariantResult", "plan_cell"]

if TYPE_CHECKING:  # robot.py imports pybullet: the world is built on first use only
    from twin.physics.robot import ClosestPair

CLEARANCE_RADIUS_M = 0.25  # distances beyond this are reported as this value
NEIGHBOUR_RADIUS_M = 2.5  # bodies farther than this from a robot base cannot touch it


@dataclass(frozen=True)
class OperationResult:
    """What the twin knows about one operation."""

    operation: str
    robot_id: str | None
    station_id: str | None
    duration_s: float
    energy_j: float
    peak_power_w: float
    min_clearance_m: float | None
    closest_body: str | None
    feasible: bool
    reason: str | None
    payload_kg: float = 0.0
    end_q: list[float] | None = None
    cache_key: str | None = None
    # the minimum-clearance pair: links, witness points (world, m), when (s from the start) and where (q)
    robot_link: str | None = None
    closest_body_link: str | None = None
    robot_point_m: list[float] | None = None
    body_point_m: list[float] | None = None
    clearance_at_s: float | None = None
    clearance_q: list[float] | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``operations`` item of ``twin cell check --json``."""
        return {
            "operation": self.operation,
            "robot_id": self.robot_id if self.robot_id is not None else self.station_id,
            "duration_s": round(self.duration_s, 6),
            "energy_j": round(self.energy_j, 6),
            "peak_power_w": round(self.peak_power_w, 6),
            "min_clearance_m": None if self.min_clearance_m is None else round(self.min_clearance_m, 6),
            "feasible": self.feasible,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class VariantResult:
    """Cycle time, takt, bottleneck and energy of one variant (SPEC.md, Figures)."""

    variant: str
    cycle_time_s: float
    making_time_s: float
    making_energy_j: float
    takt_s: float
    bottleneck: str
    energy_j: float
    feasible: bool
    problems: list[str]
    warnings: list[str]
    work_s: dict[str, float]
    operations: list[OperationResult]

    def to_json(self) -> dict[str, Any]:
        """The ``variants`` item of ``twin cell check --json``."""
        return {
            "variant": self.variant,
            "cycle_time_s": round(self.cycle_time_s, 6),
            "making_time_s": round(self.making_time_s, 6),
            "takt_s": round(self.takt_s, 6),
            "bottleneck": self.bottleneck,
            "energy_j": round(self.energy_j, 6),
            "making_energy_j": round(self.making_energy_j, 6),
            "feasible": self.feasible,
            "problems": self.problems,
            "warnings": self.warnings,
            "work_s": {k: round(v, 6) for k, v in self.work_s.items()},
            "operations": [op.to_json() for op in self.operations],
        }


@dataclass
class PlannerStats:
    """Where the time went (for bench/physics.py)."""

    planned: int = 0
    cached: int = 0
    pybullet_s: float = 0.0
    total_s: float = 0.0
    world_build_s: float = 0.0


@dataclass(frozen=True)
class CellResult:
    """Every variant of a cell."""

    cell: str
    variants: list[VariantResult]
    stats: PlannerStats = field(default_factory=PlannerStats)

    @property
    def feasible(self) -> bool:
        """True when every variant is feasible."""
        return all(v.feasible for v in self.variants)

    def to_json(self) -> dict[str, Any]:
        """The object ``twin cell check --json`` prints."""
        return {"cell": self.cell, "feasible": self.feasible, "variants": [v.to_json() for v in self.variants]}


def _down_orientation(yaw_rad: float) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) of a tool pointing straight down, turned by ``yaw_rad`` about z."""
    # roll = pi, then yaw: q = q_yaw * q_roll
    half = yaw_rad / 2.0
    return (math.cos(half), math.sin(half), 0.0, 0.0)


class CellPlanner:
    """Plans and evaluates a cell's operations; builds a physics world only on a cache miss."""

    def __init__(
        self,
        cell: CellSpec,
        cache: PhysicsCache | None = None,
        dt: float = CONTROL_DT_S,
        clearance_every: int = CLEARANCE_EVERY,
    ) -> None:
        """Set up a planner.

        Args:
            cell: The validated cell (planned with its planning-only variants, if it samples inspection).
            cache: Where results are looked up and stored; an in-memory cache when None.
            dt: Trajectory sample period (the controller rate).
            clearance_every: Check clearance every n-th sample (and at every segment end).
        """
        self.cell = planning_cell(cell)
        self.cache = cache if cache is not None else PhysicsCache(persist=False)
        self.dt = dt
        self.clearance_every = max(1, clearance_every)
        self.stats = PlannerStats()
        self._world: Any = None
        self._urdf_hashes: dict[str, str] = {}
        self._neighbours: dict[str, list[Any]] = {}

    # world, lazily -----------------------------------------------------------------------------
    @property
    def world(self) -> Any:
        """The cell's physics world, built on first use."""
        if self._world is None:
            from twin.physics.build import CellWorld

            start = time.perf_counter()
            self._world = CellWorld.from_cell(self.cell)
            self.stats.world_build_s += time.perf_counter() - start
        return self._world

    def close(self) -> None:
        """Disconnect the world if one was built."""
        if self._world is not None:
            self._world.close()
            self._world = None

    def __enter__(self) -> CellPlanner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _timed_pybullet(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stats.pybullet_s += time.perf_counter() - start

    # public ------------------------------------------------------------------------------------
    def evaluate(self, variants: list[str] | None = None) -> CellResult:
        """Evaluate every (or the named) variant."""
        start = time.perf_counter()
        names = variants if variants is not None else list(self.cell.variants)
        results = [self.evaluate_variant(name) for name in names]
        self.stats.total_s += time.perf_counter() - start
        return CellResult(self.cell.cell.id, results, self.stats)

    def evaluate_with_progress(self) -> CellResult:
        """:meth:`evaluate` with a progress bar on stderr, one step per variant."""
        from tqdm import tqdm

        start = time.perf_counter()
        results = [
            self.evaluate_variant(name)
            for name in tqdm(list(self.cell.variants), desc="planning", unit="variant", leave=False)
        ]
        self.stats.total_s += time.perf_counter() - start
        return CellResult(self.cell.cell.id, results, self.stats)

    def plan(self, result: CellResult | None = None) -> CellPlan:
        """The cell's plan as data: every variant's figures, operations, sampled trajectories, witnesses.

        Args:
            result: This planner's :meth:`evaluate` of every variant (evaluated here when None).

        Returns:
            The plan, keyed by :func:`twin.physics.plan.plan_key` of the cell.
        """
        result = result if result is not None else self.evaluate()
        if [v.variant for v in result.variants] != list(self.cell.variants):
            raise PhysicsError(f"a plan of cell {self.cell.cell.id} needs every variant evaluated, in the cell's order")
        variants, work, operations, trajectories = [], [], [], []
        templates = {name: [op.template for op in self.cell.expand_plan(name)] for name in self.cell.variants}
        for variant in result.variants:
            name = variant.variant
            variants.append(
                {
                    "variant": name,
                    "cycle_time_s": variant.cycle_time_s,
                    "takt_s": variant.takt_s,
                    "bottleneck": variant.bottleneck,
                    "making_time_s": variant.making_time_s,
                    "making_energy_j": variant.making_energy_j,
                    "energy_j": variant.energy_j,
                    "feasible": variant.feasible,
                    "problems": variant.problems,
                    "warnings": variant.warnings,
                }
            )
            work.extend({"variant": name, "resource": r, "work_s": w} for r, w in variant.work_s.items())
            planned = templates.get(name, [])
            for seq, op in enumerate(variant.operations):
                operations.append(
                    {
                        **asdict(op),
                        "variant": name,
                        "seq": seq,
                        "template": planned[seq] if seq < len(planned) else "return_home",
                        "clearance_q_rad": op.clearance_q,
                        "end_q_rad": op.end_q,
                    }
                )
                trace = self.trace(op) if op.feasible else None
                if trace is not None:
                    rows = sample_indices(len(trace["t"]), self.dt)
                    trajectories.append((name, seq, trace["t"][rows], trace["q"][rows]))
        settings = plan_settings(self.dt, self.clearance_every, CLEARANCE_RADIUS_M)
        key = plan_key(self.cell, self.dt, self.clearance_every)
        return CellPlan.from_records(self.cell.cell.id, key, settings, variants, work, operations, trajectories)

    def evaluate_variant(self, variant: str) -> VariantResult:
        """Plan every operation of one variant in order and derive its cycle figures."""
        cell = self.cell
        current = {rid: self._home(robot) for rid, robot in cell.robots.items()}
        used_robots: list[str] = []
        results: list[OperationResult] = []
        for op in cell.expand_plan(variant):
            if op.robot_id is None:
                results.append(self._station_operation(op))
                continue
            if op.robot_id not in used_robots:
                used_robots.append(op.robot_id)
            result = self.plan_robot_operation(op, current[op.robot_id])
            results.append(result)
            if result.feasible and result.end_q is not None:
                current[op.robot_id] = list(result.end_q)
        for robot_id in used_robots:
            home = PlannedOperation(
                operation_id=f"return_home_{robot_id}",
                template="return_home",
                robot_id=robot_id,
                station_id=None,
                offset_m=(0.0, 0.0, 0.0),
                approach_m=0.0,
                dwell_s=0.0,
                payload_kg=0.0,
                process_time_s=None,
            )
            results.append(self.plan_robot_operation(home, current[robot_id]))
        return self._variant_figures(variant, results)

    # figures -----------------------------------------------------------------------------------
    def _variant_figures(self, variant: str, ops: list[OperationResult]) -> VariantResult:
        """Cycle figures of a variant; a station's work is per machine of its ``count``.

        A station that holds the unit (:func:`holding_occupancy`) works at least as long as it is occupied.

        Parts the variant's bill of materials has made in the cell (``made_by`` a machine) are made ahead
        of the unit's flow: their time is the making machine's work and ``making_time_s`` (the longest
        making time), their energy ``making_energy_j``; neither is part of ``cycle_time_s``.
        """
        cell = self.cell
        work: dict[str, float] = {}
        for op in ops:
            resource = op.robot_id or op.station_id or "?"
            per = 1.0 if op.robot_id else float(cell.stations[resource].count)
            work[resource] = work.get(resource, 0.0) + op.duration_s / per
        making_time, making_energy = 0.0, 0.0
        name = base_variant(variant)
        for item in cell.variants[name].bom.values():
            maker_id = cell.parts[item.part].made_by
            if maker_id is None:
                continue
            maker = cell.stations[maker_id]
            seconds = maker.process_time_for(name) * item.qty
            work[maker_id] = work.get(maker_id, 0.0) + seconds / float(maker.count)
            making_time = max(making_time, seconds)
            making_energy += maker.power_w.get("running", 0.0) * seconds + maker.power_w.get("setup", 0.0) * (
                maker.setup_time_s * item.qty
            )
        for station, occupied in holding_occupancy(cell, variant, [op.duration_s for op in ops]).items():
            work[station] = max(work.get(station, 0.0), occupied)
        bottleneck = max(sorted(work), key=lambda k: work[k])
        problems = [f"{op.operation}: {op.reason}" for op in ops if not op.feasible]
        threshold = cell.cell.clearance_threshold_m
        warnings = [
            f"{op.operation}: clearance {op.min_clearance_m * 1000:.0f} mm to {op.closest_body} is below "
            f"{threshold * 1000:.0f} mm"
            for op in ops
            if op.feasible and op.min_clearance_m is not None and op.min_clearance_m < threshold
        ]
        return VariantResult(
            variant=variant,
            cycle_time_s=sum(op.duration_s for op in ops),
            making_time_s=making_time,
            making_energy_j=making_energy,
            takt_s=work[bottleneck],
            bottleneck=bottleneck,
            energy_j=sum(op.energy_j for op in ops) + making_energy,
            feasible=not problems,
            problems=problems,
            warnings=warnings,
            work_s=work,
            operations=ops,
        )

    def _station_operation(self, op: PlannedOperation) -> OperationResult:
        station = self.cell.stations[op.station_id or ""]
        duration = op.process_time_s or 0.0
        running = station.power_w.get("running", station.power_w.get("standby", 0.0))
        return OperationResult(
            op.operation_id, None, op.station_id, duration, running * duration, running, None, None, True, None
        )

    # robot operations --------------------------------------------------------------------------
    def _home(self, robot: RobotSpec) -> list[float]:
        return [float(v) for v in robot.home_q_rad]

    def target_pose(self, op: PlannedOperation, robot_id: str) -> tuple[tuple[float, float, float], Any]:
        """World position and orientation of an operation's TCP target."""
        station = self.cell.stations[op.station_id or ""]
        frame = station.pick_frame_m
        local = (frame[0] + op.offset_m[0], frame[1] + op.offset_m[1], frame[2] + op.offset_m[2])
        return station.pose.transform(local), _down_orientation(station.pose.yaw_rad)

    def operation_key(self, op: PlannedOperation, start_q: list[float]) -> str:
        """Content hash of everything that determines an operation's result."""
        robot = self.cell.robots[op.robot_id or ""]
        target = None if op.station_id is None else self.target_pose(op, op.robot_id or "")
        return content_hash(
            {
                "robot": robot.model_dump(mode="json", exclude={"mtbf_h", "mttr_min", "urdf_path"}),
                "urdf": self._hash(robot.urdf_path),
                "start_q": [round(v, 9) for v in start_q],
                "target": target,
                "op": op.model_dump(mode="json", exclude={"operation_id", "template", "process_time_s"}),
                "dt": self.dt,
                "clearance": [self.clearance_every, CLEARANCE_RADIUS_M],
                "neighbours": self._neighbour_signature(op.robot_id or ""),
            }
        )

    def _hash(self, path: Any) -> str:
        key = str(path)
        if key not in self._urdf_hashes:
            self._urdf_hashes[key] = file_hash(path)
        return self._urdf_hashes[key]

    def _neighbour_signature(self, robot_id: str) -> list[Any]:
        """Every body that could touch the robot: its kind, model file hash and pose."""
        if robot_id in self._neighbours:
            return self._neighbours[robot_id]
        cell = self.cell
        base = cell.robots[robot_id].base_pose
        signature: list[Any] = []

        def near(x: float, y: float) -> bool:
            return math.hypot(x - base.x_m, y - base.y_m) < NEIGHBOUR_RADIUS_M

        for other_id, other in sorted(cell.robots.items()):
            if other_id != robot_id and near(other.base_pose.x_m, other.base_pose.y_m):
                signature.append(
                    ["robot", other_id, self._hash(other.urdf_path), other.base_pose.model_dump(), other.home_q_rad]
                )
        for station_id, station in sorted(cell.stations.items()):
            if near(station.pose.x_m, station.pose.y_m):
                signature.append(["station", station_id, self._hash(station.urdf_path), station.pose.model_dump()])
        for name, obstacle in sorted(cell.obstacles.items()):
            if near(obstacle.pose.x_m, obstacle.pose.y_m):
                signature.append(["obstacle", name, obstacle.model_dump(mode="json")])
        self._neighbours[robot_id] = signature
        return signature

    def plan_robot_operation(self, op: PlannedOperation, start_q: list[float]) -> OperationResult:
        """Plan (or fetch from the cache) one robot operation starting at ``start_q``."""
        key = self.operation_key(op, start_q)
        cached = self.cache.get(key)
        if cached is not None:
            self.stats.cached += 1
            return OperationResult(**{**cached, "operation": op.operation_id, "cache_key": key})
        result, trace = self._plan(op, start_q)
        self.stats.planned += 1
        stored = asdict(result)
        stored.pop("cache_key")
        self.cache.put(key, stored, trace)
        return OperationResult(**{**stored, "cache_key": key})

    def trace(self, result: OperationResult) -> dict[str, NDArray[np.float64]] | None:
        """The sampled trace (t, q, qd, qdd, tau, power_w) of a planned operation."""
        if result.cache_key is None:
            return None
        return self.cache.trace(result.cache_key)

    def _infeasible(self, op: PlannedOperation, reason: str) -> tuple[OperationResult, None]:
        return (
            OperationResult(
                op.operation_id, op.robot_id, op.station_id, 0.0, 0.0, 0.0, None, None, False, reason, op.payload_kg
            ),
            None,
        )

    def _solve_ik(
        self,
        handle: Any,
        robot: RobotSpec,
        position: tuple[float, float, float],
        orientation: Any,
        start: NDArray[np.float64],
    ) -> Any:
        """IK seeded at the current configuration, then at home turned towards the target.

        Damped least squares from a seed on the far side of the base stalls; a second seed with the
        first joint facing the target finds the solution a human programmer would teach.
        """
        first = handle.solve_ik(position, orientation, start)
        if first.reason is None:
            return first
        base = robot.base_pose
        azimuth = math.atan2(position[1] - base.y_m, position[0] - base.x_m) - base.yaw_rad
        azimuth = math.atan2(math.sin(azimuth), math.cos(azimuth))
        seed = np.asarray(self._home(robot)[: handle.n_dof] + [0.0] * max(0, handle.n_dof - len(robot.home_q_rad)))
        seed[0] = azimuth
        second = handle.solve_ik(position, orientation, seed)
        return second if second.reason is None else first

    def _plan(self, op: PlannedOperation, start_q: list[float]) -> tuple[OperationResult, dict[str, Any] | None]:
        """Plan one operation; the other robots stand at home, as the cache key assumes."""
        handle = self.world.robots[op.robot_id]
        try:
            return self._plan_in_world(op, start_q)
        finally:
            robot = self.cell.robots[op.robot_id or ""]
            home = self._home(robot)
            handle.set_q(home[: handle.n_dof] + [0.0] * max(0, handle.n_dof - len(home)))

    def _plan_in_world(self, op: PlannedOperation, start_q: list[float]) -> tuple[OperationResult, Any]:
        robot_spec = self.cell.robots[op.robot_id or ""]
        handle = self.world.robots[op.robot_id]
        n_arm = robot_spec.n_arm_joints
        start = self._full(handle, start_q)
        # waypoints: (arm configuration, label); "contact" segments may touch the target station
        if op.station_id is None:  # return home
            waypoints = [(np.asarray(self._home(robot_spec)[:n_arm]), "transfer")]
        else:
            position, orientation = self.target_pose(op, op.robot_id or "")
            approach = (position[0], position[1], position[2] + op.approach_m)
            with self._timed_pybullet():
                above = self._solve_ik(handle, robot_spec, approach, orientation, start)
                if above.reason is not None:
                    return self._infeasible(op, f"{above.reason} (approach of {op.station_id})")
                at = handle.solve_ik(position, orientation, above.q)
                if at.reason is not None:
                    return self._infeasible(op, f"{at.reason} ({op.station_id})")
            waypoints = [(above.q[:n_arm], "transfer"), (at.q[:n_arm], "contact"), (above.q[:n_arm], "contact")]
        return self.evaluate_motion(
            op.robot_id or "",
            start_q,
            waypoints,
            op.payload_kg,
            dwell_s=op.dwell_s,
            dwell_after=1,
            target_station=op.station_id,
            operation=op.operation_id,
        )

    @staticmethod
    def _full(handle: Any, q: list[float] | NDArray[np.float64]) -> NDArray[np.float64]:
        """A configuration padded to every movable joint (joints the plan does not move stay at 0)."""
        values = [float(v) for v in q][: handle.n_dof]
        return np.asarray(values + [0.0] * (handle.n_dof - len(values)))

    def evaluate_motion(
        self,
        robot_id: str,
        start_q: list[float],
        waypoints: list[tuple[NDArray[np.float64], str]],
        payload_kg: float,
        dwell_s: float = 0.0,
        dwell_after: int = 0,
        target_station: str | None = None,
        operation: str = "motion",
    ) -> tuple[OperationResult, dict[str, Any] | None]:
        """Time-parameterize a joint-space motion through waypoints and evaluate it.

        Args:
            robot_id: The robot.
            start_q: Start configuration (every movable joint, or the arm joints).
            waypoints: Arm configurations with a label (``transfer`` or ``contact``; the target
                station may be touched during ``contact`` segments).
            payload_kg: Mass carried on the tool mount, besides the tool.
            dwell_s: Standing time after waypoint ``dwell_after``.
            dwell_after: Index of the waypoint followed by the dwell.
            target_station: The station touched in ``contact`` segments.
            operation: Name for the result.

        Returns:
            The result and its sampled trace (None when infeasible before dynamics).
        """
        robot_spec = self.cell.robots[robot_id]
        handle = self.world.robots[robot_id]
        n_arm = robot_spec.n_arm_joints
        start = self._full(handle, start_q)
        limits = robot_spec.limits
        vel, acc, jerk = (
            np.asarray(limits.velocity_rad_per_s),
            np.asarray(limits.acceleration_rad_per_s2),
            np.asarray(limits.jerk_rad_per_s3),
        )
        segments: list[SampledTrajectory] = []
        labels: list[str] = []
        previous = start[:n_arm]
        for index, (goal, label) in enumerate(waypoints):
            segments.append(plan_segment(previous, goal, vel, acc, jerk, robot_spec.speed_override, self.dt))
            labels.append(label)
            if index == dwell_after and dwell_s > 0:
                segments.append(hold(goal, dwell_s, self.dt))
                labels.append("contact")
            previous = goal
        arm = concatenate(segments, self.dt)
        n = len(arm.t)
        q = np.hstack([arm.q, np.repeat(start[n_arm:][None, :], n, axis=0)])
        qd = np.hstack([arm.qd, np.zeros((n, handle.n_dof - n_arm))])
        qdd = np.hstack([arm.qdd, np.zeros((n, handle.n_dof - n_arm))])
        station = target_station
        outside = np.nonzero((q < handle.lower - 1e-6) | (q > handle.upper + 1e-6))
        if len(outside[0]):
            joint = handle.joints[int(outside[1][0])].name
            reason = f"joint limit: {joint} leaves its range at t={arm.t[outside[0][0]]:.2f} s"
            infeasible = OperationResult(
                operation, robot_id, station, 0.0, 0.0, 0.0, None, None, False, reason, payload_kg
            )
            return infeasible, None
        with self._timed_pybullet():
            handle.set_payload(robot_spec.tool.mass_kg + payload_kg)
            tau = handle.inverse_dynamics(q, qd, qdd)
            handle.set_payload(0.0)
        power = electrical_power(robot_spec.power_model, tau, qd)
        pair, row = self._clearance(handle, q, segments, labels, station)
        clearance, when = pair.distance_m, row * self.dt
        reason = None
        if clearance < 0.0:
            reason = (
                f"collision with {pair.body} (link {pair.link}) at t={when:.2f} s, "
                f"penetration {-clearance * 1000:.0f} mm"
            )
        witness = pair.body is not None
        result = OperationResult(
            operation=operation,
            robot_id=robot_id,
            station_id=station,
            duration_s=float(arm.duration_s),
            energy_j=energy_j(power, self.dt),
            peak_power_w=float(power.max()),
            min_clearance_m=float(clearance),
            closest_body=pair.body,
            feasible=reason is None,
            reason=reason,
            payload_kg=payload_kg,
            end_q=[float(v) for v in q[-1]],
            robot_link=pair.link,
            closest_body_link=pair.body_link,
            robot_point_m=None if pair.point_on_robot_m is None else list(pair.point_on_robot_m),
            body_point_m=None if pair.point_on_body_m is None else list(pair.point_on_body_m),
            clearance_at_s=when if witness else None,
            clearance_q=[float(v) for v in q[row]] if witness else None,
        )
        trace = {
            "t": arm.t,
            "q": q.astype(np.float32),
            "qd": qd.astype(np.float32),
            "qdd": qdd.astype(np.float32),
            "tau": tau.astype(np.float32),
            "power_w": power.astype(np.float32),
        }
        return result, trace

    def _clearance(
        self,
        handle: Any,
        q: NDArray[np.float64],
        segments: list[SampledTrajectory],
        labels: list[str],
        target_station: str | None,
    ) -> tuple[ClosestPair, int]:
        """The closest pair to every cell body along the trajectory, and the sample (row of ``q``) it is at.

        Checked every n-th sample and at each segment end; the target station is expected to be
        touched during the final approach, dwell and retreat, so it is ignored there.
        """
        bodies = self.world.obstacle_bodies
        best: ClosestPair | None = None
        best_row = 0
        offset = 0
        with self._timed_pybullet():
            for segment, label in zip(segments, labels, strict=True):
                count = len(segment.t) - (1 if offset else 0)
                indices = list(range(offset, offset + count, self.clearance_every))
                if indices[-1] != offset + count - 1:
                    indices.append(offset + count - 1)
                ignore = frozenset({target_station}) if label == "contact" and target_station else frozenset()
                for i in indices:
                    handle.set_q(q[i])
                    pair = handle.closest(bodies, CLEARANCE_RADIUS_M, ignore)
                    if best is None or pair.distance_m < best.distance_m:
                        best, best_row = pair, i
                offset += count
        assert best is not None  # every segment has at least its end checked
        return best, best_row


def plan_cell(cell: CellSpec, cache: PhysicsCache | None = None, *, progress: bool = False) -> CellPlan:
    """The cell's plan (:class:`twin.physics.plan.CellPlan`): from the cache, or planned and cached.

    The plan is looked up by :func:`twin.physics.plan.plan_key` (the content hash of the planner's
    inputs); on a miss, :class:`CellPlanner` evaluates every variant (re-planning only the operations
    missing from the cache) and the plan is stored, so a second call costs a file read.

    Args:
        cell: The validated cell.
        cache: The physics cache; the on-disk default when None.
        progress: Show a progress bar on stderr while planning.

    Returns:
        The plan.
    """
    cache = cache if cache is not None else PhysicsCache()
    key = plan_key(cell)
    plan = read_cached_plan(cache, key)
    if plan is not None:
        return plan
    with CellPlanner(cell, cache=cache) as planner:
        result = planner.evaluate_with_progress() if progress else planner.evaluate()
        plan = planner.plan(result)
    write_cached_plan(cache, plan)
    return plan


def holding_occupancy(cell: CellSpec, variant: str, durations: list[float]) -> dict[str, float]:
    """How long each station that holds a unit is occupied per unit, per place.

    A place is taken when the stage that loads the unit starts and freed as the unit is carried away
    (:meth:`twin.cell.spec.CellSpec.holding_steps`); in between it is occupied for the operations of the
    plan run in sequence. A one-place station that the same robot loads and unloads is occupied for that
    robot's other work too (its operations and the inspections it waits at): the robot cannot load the next
    unit before it has unloaded and finished this one.

    Args:
        cell: The cell.
        variant: A variant of the cell (planning-only variants too).
        durations: The duration of every operation of the variant's expanded plan, then of the robots'
            returns home (in :meth:`CellPlanner.evaluate_variant` order).

    Returns:
        Station -> seconds per unit and place.
    """
    steps = cell.holding_steps(variant)
    runs = cell.stage_runs(variant)
    plan = cell.expand_plan(variant)
    homes = durations[len(plan) :]
    robots_home = list(dict.fromkeys(op.robot_id for op in plan if op.robot_id is not None))
    out: dict[str, float] = {}
    for run in runs:
        if run.enters is None:
            continue
        station = run.enters
        start = run.ops[0]
        entered = next(i for i in run.ops if steps[i][1] == station)
        release = next((i for i in range(entered + 1, len(steps)) if steps[i][0] == station), len(steps))
        span = sum(durations[start:release])
        places = cell.stations[station].capacity
        releaser = plan[release].robot_id if release < len(plan) else run.owner
        if places == 1 and releaser == run.owner:
            inside = set(range(start, release))
            waits = [  # the robot's own operations and the stations it waits at (not the conveyors it feeds)
                i
                for other in runs
                if other.owner == run.owner
                for i in other.ops
                if plan[i].robot_id is not None or cell.stations[plan[i].station_id or ""].kind != "conveyor"
            ]
            span += sum(durations[i] for i in waits if i not in inside)
            if run.owner in robots_home and robots_home.index(run.owner) < len(homes):
                span += homes[robots_home.index(run.owner)]
        out[station] = max(out.get(station, 0.0), span / places)
    return out
