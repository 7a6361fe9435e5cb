"""CellSpec -> CellWorld: every robot, station, part and obstacle of the cell in one PhysicsWorld."""

from __future__ import annotations

import pybullet as pb

from twin.cell.spec import UNIT, CellSpec
from twin.errors import ConfigError
from twin.physics.robot import RobotHandle
from twin.physics.urdf import UrdfOptions
from twin.physics.world import Mode, PhysicsWorld

LAYOUT_TOLERANCE_M = 0.001
"""Bodies may touch (a station on the floor plate of another) but not overlap by more than this."""


class CellWorld(PhysicsWorld):
    """The cell's bodies, names resolved to ids once: ``robots`` and ``obstacle_bodies``."""

    def __init__(
        self,
        cell: CellSpec,
        mode: Mode = "direct",
        dt: float = 1.0 / 240.0,
        with_parts: bool = False,
        urdf_options: UrdfOptions | None = None,
    ) -> None:
        """Create the client; call :meth:`build` (or use :meth:`from_cell`) to spawn the cell.

        Args:
            cell: The validated cell.
            mode: DIRECT or GUI.
            dt: Fixed time step.
            with_parts: Also spawn the parts at their stations (for pictures; parts are never
                collision obstacles, they are what the robots handle).
            urdf_options: How the URDFs are prepared (frames without ``<inertial>`` massless by default).
        """
        super().__init__(mode=mode, dt=dt, urdf_options=urdf_options)
        self.cell = cell
        self.with_parts = with_parts
        self.robots: dict[str, RobotHandle] = {}
        self.obstacle_bodies: dict[str, int] = {}
        self.part_bodies: dict[str, int] = {}

    @classmethod
    def from_cell(
        cls,
        cell: CellSpec,
        mode: Mode = "direct",
        dt: float = 1.0 / 240.0,
        with_parts: bool = False,
        urdf_options: UrdfOptions | None = None,
    ) -> CellWorld:
        """Build a ready world for ``cell``."""
        world = cls(cell, mode=mode, dt=dt, with_parts=with_parts, urdf_options=urdf_options)
        try:
            world.build()
        except BaseException:
            world.close()
            raise
        return world

    def _spawn_cell(self) -> None:
        cell = self.cell
        for robot_id, robot in cell.robots.items():
            pose = robot.base_pose
            self.load_urdf(
                robot_id,
                str(robot.urdf_path),
                (pose.x_m, pose.y_m, pose.z_m),
                pose.yaw_rad,
                fixed=True,
                dynamics=True,
            )
        for station_id, station in cell.stations.items():
            pose = station.pose
            self.load_urdf(station_id, str(station.urdf_path), (pose.x_m, pose.y_m, pose.z_m), pose.yaw_rad)
        for name, obstacle in cell.obstacles.items():
            pose = obstacle.pose
            self.add_box(name, obstacle.size_m, (pose.x_m, pose.y_m, pose.z_m + obstacle.size_m[2] / 2), pose.yaw_rad)
        self._check_layout()
        if self.with_parts:
            self._spawn_parts()

    def _check_layout(self) -> None:
        """No two stations, obstacles or robot bases overlap (a robot's moving links are the planner's business).

        Raises:
            ConfigError: Two bodies overlap by more than :data:`LAYOUT_TOLERANCE_M`, named with the depth.
        """
        cell = self.cell
        # (name, body, the link to check: None for the whole body, -1 for a robot's base link, cell key)
        bodies: list[tuple[str, int, int | None, str]] = [
            (sid, self.bodies[sid], None, f"stations.{sid}.pose") for sid in cell.stations
        ]
        bodies += [(name, self.bodies[name], None, f"obstacles.{name}.pose") for name in cell.obstacles]
        bodies += [(f"{rid} (its base)", self.bodies[rid], -1, f"robots.{rid}.base_pose") for rid in cell.robots]
        for i, (name_a, body_a, link_a, key_a) in enumerate(bodies):
            for name_b, body_b, link_b, key_b in bodies[i + 1 :]:
                links = {"linkIndexA": link_a, "linkIndexB": link_b}
                contacts = pb.getClosestPoints(
                    body_a,
                    body_b,
                    distance=0.0,
                    **{k: v for k, v in links.items() if v is not None},
                    physicsClientId=self.client,
                )
                depth = min((c[8] for c in contacts), default=0.0)
                if depth < -LAYOUT_TOLERANCE_M:
                    at = next(c[5] for c in contacts if c[8] == depth)
                    raise ConfigError(
                        f"cell {cell.cell.id}: layout: {name_a} and {name_b} overlap by {-depth * 1000:.0f} mm near "
                        f"({at[0]:.2f}, {at[1]:.2f}, {at[2]:.2f}) m; move one ({key_a} or {key_b})"
                    )

    def _spawn_parts(self) -> None:
        cell = self.cell
        placements = part_placements(cell)
        for name, part_id, station_id, dz in placements:
            part = cell.parts.get(part_id) if part_id else None
            station = cell.stations.get(station_id)
            if part is None or part.urdf_path is None or station is None:
                continue
            x, y, z = station.pose.transform(station.pick_frame_m)
            body = pb.loadURDF(
                str(part.urdf_path),
                (x, y, z - 0.02 + dz),
                pb.getQuaternionFromEuler((0, 0, station.pose.yaw_rad)),
                useFixedBase=True,
                physicsClientId=self.client,
            )
            self.part_bodies[name] = body

    def _resolve_ids(self) -> None:
        for robot_id, robot in self.cell.robots.items():
            handle = RobotHandle(
                self.client,
                self.bodies[robot_id],
                robot_id,
                robot.tcp_link,
                robot.tool_mount_link,
                robot.tcp_offset_m,
                urdf_path=str(robot.urdf_path),
                urdf_options=self.urdf_options,
            )
            handle.set_q(_full_q(handle.n_dof, robot.home_q_rad))
            self.robots[robot_id] = handle
        self.obstacle_bodies = {name: body for name, body in self.bodies.items()}


def part_placements(cell: CellSpec) -> list[tuple[str, str, str, float]]:
    """Where the parts of the first variant are drawn: at the station a robot picks each from, and on the unit.

    Read from the plan: a robot operation that carries nothing picks at its station; the next one that
    carries bill-of-materials slots brings their parts from there to its own station, where they stack.

    Returns:
        ``(body name, part id, station id, height offset m)`` per drawn part.
    """
    variant = next(iter(cell.variants.values()), None)
    if variant is None:
        return []
    placements: list[tuple[str, str, str, float]] = []
    stacked: dict[str, int] = {}
    source: str | None = None
    for op_id in variant.plan:
        op = cell.operations[op_id]
        if op.robot is None:
            continue
        slots = [slot for slot in op.carries if slot != UNIT and slot in variant.bom]
        if not op.carries:
            source = op.station_id
            continue
        for slot in slots:
            part_id, at = variant.bom[slot].part, op.station_id or ""
            if source is not None:
                placements.append((f"{slot}@{source}", part_id, source, 0.0))
            placements.append((f"{slot}@{at}", part_id, at, 0.01 * stacked.get(at, 0)))
            stacked[at] = stacked.get(at, 0) + 1
        source = None
    return placements


def _full_q(n_dof: int, q: list[float]) -> list[float]:
    """Pad a configuration to every movable joint (fingers default to 0)."""
    return list(q[:n_dof]) + [0.0] * max(0, n_dof - len(q))
