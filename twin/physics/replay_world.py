"""A robot to replay recorded joint states in: batch inverse dynamics and, in a cell, clearance.

:class:`ReplayRobot` wraps either a cell robot (its :class:`~twin.physics.build.CellWorld`, so clearance to
the cell's bodies is known) or any URDF loaded alone (a foreign robot's log: no cell, no clearance).
Everything the replay needs from pybullet goes through it; the rest of the replay is numpy and polars
under ``twin.replay``.

Inverse dynamics is batched RNEA over all samples (:mod:`twin.physics.dynamics`, pybullet's answer to
1e-9 N·m), grouped by payload.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import numpy as np
import pybullet as pb
from numpy.typing import NDArray

from twin.cell.spec import CellSpec
from twin.errors import AssetError, PhysicsError
from twin.physics.clearance import ClearanceChecker, ClearanceResult
from twin.physics.robot import RobotHandle
from twin.physics.urdf import UrdfOptions
from twin.physics.world import PhysicsWorld

ID_CHUNK = 4096


class UrdfWorld(PhysicsWorld):
    """A world holding one fixed-base robot loaded from any URDF, at the origin."""

    def __init__(self, urdf_path: Path, dt: float = 1.0 / 240.0, urdf_options: UrdfOptions | None = None) -> None:
        """Connect a DIRECT client; :meth:`build` loads the robot (prepared with ``urdf_options``)."""
        super().__init__(mode="direct", dt=dt, urdf_options=urdf_options)
        self.urdf_path = Path(urdf_path)
        self.robot: RobotHandle | None = None

    def _spawn_cell(self) -> None:
        self.load_urdf("robot", str(self.urdf_path), (0.0, 0.0, 0.0), dynamics=True)

    def _resolve_ids(self) -> None:
        body = self.bodies["robot"]
        movable = [
            j
            for j in range(pb.getNumJoints(body, physicsClientId=self.client))
            if pb.getJointInfo(body, j, physicsClientId=self.client)[2] != pb.JOINT_FIXED
        ]
        if not movable:
            raise PhysicsError(f"{self.urdf_path}: the URDF has no movable joints")
        # the arm's last link carries the payload: the child of the last movable joint that is not a
        # finger (a prismatic joint after the last revolute one)
        revolute = [j for j in movable if pb.getJointInfo(body, j, physicsClientId=self.client)[2] == pb.JOINT_REVOLUTE]
        mount = (revolute or movable)[-1]
        mount_link = pb.getJointInfo(body, mount, physicsClientId=self.client)[12].decode()
        self.robot = RobotHandle(
            self.client,
            body,
            self.urdf_path.stem,
            mount_link,
            mount_link,
            urdf_path=str(self.urdf_path),
            urdf_options=self.urdf_options,
        )


class ReplayRobot:
    """The physics side of a replay: joints and limits, inverse dynamics, clearance (in a cell)."""

    def __init__(
        self,
        world: PhysicsWorld,
        handle: RobotHandle,
        obstacles: dict[str, int] | None = None,
        clearance_radius_m: float = 0.25,
        urdf_path: Path | None = None,
    ) -> None:
        """Wrap a robot of an already built world (use :meth:`from_urdf` or :meth:`from_cell`)."""
        self.world = world
        self.handle = handle
        self.name = handle.name
        self.urdf_path = urdf_path
        self.obstacles = dict(obstacles or {})
        self.clearance_radius_m = clearance_radius_m
        self._checker: ClearanceChecker | None = None

    # construction ------------------------------------------------------------------------------
    @classmethod
    def from_urdf(cls, urdf_path: str | Path, urdf_options: UrdfOptions | None = None) -> ReplayRobot:
        """Load any URDF alone (fixed base at the origin, inertias from the file, frames massless).

        Raises:
            AssetError: The file or one of its meshes does not exist (the message names which).
            PhysicsError: pybullet cannot load it.
        """
        path = Path(urdf_path)
        if not path.is_file():
            raise AssetError(f"--urdf {path}: file not found")
        world = UrdfWorld(path, urdf_options=urdf_options)
        try:
            world.build()
        except BaseException:
            world.close()
            raise
        assert world.robot is not None
        return cls(world, world.robot, urdf_path=path)

    @classmethod
    def from_cell(
        cls, cell: CellSpec, robot_id: str, clearance_radius_m: float = 0.25, urdf_options: UrdfOptions | None = None
    ) -> ReplayRobot:
        """A cell robot in its cell: every other body (stations, obstacles, other robots at home) is an obstacle.

        Raises:
            PhysicsError: The robot id is unknown or the world cannot be built.
        """
        from twin.physics.build import CellWorld

        if robot_id not in cell.robots:
            raise PhysicsError(f"unknown robot {robot_id!r}; valid: {', '.join(sorted(cell.robots))}")
        world = CellWorld.from_cell(cell, urdf_options=urdf_options)
        handle = world.robots[robot_id]
        obstacles = {name: body for name, body in world.obstacle_bodies.items() if body != handle.body}
        spec = cell.robots[robot_id]
        return cls(world, handle, obstacles, clearance_radius_m, urdf_path=spec.urdf_path)

    def close(self) -> None:
        """Disconnect the world."""
        self.world.close()

    def __enter__(self) -> ReplayRobot:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # joints ------------------------------------------------------------------------------------
    @property
    def n_dof(self) -> int:
        """Number of movable joints (URDF movable-joint order)."""
        return self.handle.n_dof

    @property
    def joint_names(self) -> list[str]:
        """Movable joint names in order (joint 1 first)."""
        return [j.name for j in self.handle.joints]

    @property
    def lower(self) -> NDArray[np.float64]:
        """Lower position limits (rad or m); NaN where the joint has none."""
        return np.array([j.lower if j.upper > j.lower else np.nan for j in self.handle.joints])

    @property
    def upper(self) -> NDArray[np.float64]:
        """Upper position limits (rad or m); NaN where the joint has none."""
        return np.array([j.upper if j.upper > j.lower else np.nan for j in self.handle.joints])

    @property
    def max_velocity(self) -> NDArray[np.float64]:
        """Velocity limits (rad/s or m/s) from the URDF; NaN where none is declared."""
        return np.array([j.max_velocity if j.max_velocity > 0 else np.nan for j in self.handle.joints])

    @property
    def has_cell(self) -> bool:
        """True when the robot stands in a cell (clearance can be checked)."""
        return bool(self.obstacles)

    # dynamics ----------------------------------------------------------------------------------
    def inverse_dynamics(
        self,
        q: NDArray[np.float64],
        qd: NDArray[np.float64],
        qdd: NDArray[np.float64],
        payload_kg: float | NDArray[np.float64] = 0.0,
    ) -> NDArray[np.float64]:
        """Rigid-body torques (n x n_dof) for every sample row, with a payload per sample or for all.

        Args:
            q: Positions of every movable joint, one row per sample.
            qd: Velocities, same shape.
            qdd: Accelerations, same shape.
            payload_kg: Mass on the tool mount (tool plus part), one value or one per sample.

        Returns:
            Joint torques (N·m; N for prismatic joints).
        """
        if q.shape[1] != self.n_dof:
            raise PhysicsError(f"robot {self.name} has {self.n_dof} movable joints, the rows have {q.shape[1]}")
        payload = np.broadcast_to(np.asarray(payload_kg, dtype=float), (len(q),))
        rounded = np.round(payload, 6)
        values = np.unique(rounded)
        out = np.empty_like(q)
        try:
            for value in values.tolist():
                self.handle.set_payload(value)
                rows = slice(None) if len(values) == 1 else np.nonzero(rounded == value)[0]
                out[rows] = self.handle.inverse_dynamics(q[rows], qd[rows], qdd[rows])
        finally:
            self.handle.set_payload(0.0)
        return out

    # clearance ---------------------------------------------------------------------------------
    @property
    def obstacle_names(self) -> list[str]:
        """The bodies clearance is measured to, in column order of ``ignore`` masks."""
        return list(self.obstacles)

    def clearance(
        self,
        q: NDArray[np.float64],
        ignore: NDArray[np.bool_] | None = None,
        reuse_tolerance_m: float = 0.0,
        exact_below_m: float = 0.0,
    ) -> ClearanceResult | None:
        """Smallest distance to the cell's bodies for every row of ``q``; None without a cell.

        Args:
            q: Positions of every movable joint, one row per checked sample.
            ignore: (rows x bodies) mask of bodies a row may touch (the station an operation works at).
            reuse_tolerance_m: Reuse the last computed answer while no robot point can have moved more
                than this (0: every answer exact); see :meth:`ClearanceChecker.check`.
            exact_below_m: Distances below this (plus the tolerance) are always computed.
        """
        if not self.obstacles:
            return None
        if self._checker is None:
            handle = self.handle
            self._checker = ClearanceChecker(
                self.world.client,
                handle.body,
                handle.joint_indices,
                handle.link_names,
                self.obstacles,
                self.clearance_radius_m,
            )
        return self._checker.check(q, ignore, reuse_tolerance_m, exact_below_m)
