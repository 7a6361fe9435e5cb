"""RobotHandle: a robot body's joints by name, kinematics, inverse dynamics and clearance."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pybullet as pb
from numpy.typing import NDArray

from twin.errors import PhysicsError
from twin.physics.dynamics import RigidBodyModel
from twin.physics.urdf import UrdfOptions

IK_POSITION_TOLERANCE_M = 0.005
IK_ORIENTATION_TOLERANCE_RAD = math.radians(3.0)


@dataclass(frozen=True)
class JointInfo:
    """One movable joint as the URDF declares it."""

    index: int
    name: str
    lower: float
    upper: float
    max_velocity: float
    max_effort: float


@dataclass(frozen=True)
class IkSolution:
    """Outcome of an IK query: the configuration and why it may not be usable."""

    q: NDArray[np.float64]
    position_error_m: float
    orientation_error_rad: float
    reason: str | None


@dataclass(frozen=True)
class ClosestPair:
    """The closest points of a robot and the cell bodies around it (None fields: nothing within the radius)."""

    distance_m: float
    body: str | None
    link: str | None  # the robot's link
    body_link: str | None  # the other body's link ("base" for its base)
    point_on_robot_m: tuple[float, ...] | None  # world coordinates
    point_on_body_m: tuple[float, ...] | None


class RobotHandle:
    """A robot body in a world: movable joints in URDF order, the TCP, payload and dynamics."""

    def __init__(
        self,
        client: int,
        body: int,
        name: str,
        tcp_link: str,
        tool_mount_link: str,
        tcp_offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0),
        urdf_path: str | None = None,
        urdf_options: UrdfOptions | None = None,
    ) -> None:
        """Resolve joint and link names to indices once.

        Args:
            client: The pybullet client id.
            body: The robot's body id.
            name: The robot id in the cell (R1).
            tcp_link: Link whose frame (plus ``tcp_offset_m``) is the tool centre point.
            tool_mount_link: Link that carries the tool and payload mass.
            tcp_offset_m: TCP offset in the ``tcp_link`` frame.
            urdf_path: The robot's URDF, for its rigid-body model (:meth:`inverse_dynamics`).
            urdf_options: How the URDF was prepared (a payload copy is prepared the same way).
        """
        self.client, self.body, self.name = client, body, name
        self.tcp_offset_m = tcp_offset_m
        links: dict[str, int] = {}
        joints: list[JointInfo] = []
        for j in range(pb.getNumJoints(body, physicsClientId=client)):
            info = pb.getJointInfo(body, j, physicsClientId=client)
            links[info[12].decode()] = j
            if info[2] != pb.JOINT_FIXED:
                joints.append(JointInfo(j, info[1].decode(), info[8], info[9], info[11], info[10]))
        self.joints = joints
        self.joint_indices = [j.index for j in joints]
        self.n_dof = len(joints)
        for label, link in (("tcp_link", tcp_link), ("tool_mount_link", tool_mount_link)):
            if link not in links:
                raise PhysicsError(f"robot {name}: unknown {label} {link!r}; valid: {', '.join(links)}")
        self.tcp_link = links[tcp_link]
        self.mount_link = links[tool_mount_link]
        self.link_names = {index: link for link, index in links.items()}
        self.link_names[-1] = "base"
        self.lower = np.array([j.lower for j in joints])
        self.upper = np.array([j.upper for j in joints])
        self.urdf_path = urdf_path
        self.urdf_options = urdf_options if urdf_options is not None else UrdfOptions()
        self.tool_mount_link_name = tool_mount_link
        self.payload_kg = 0.0
        self._models: dict[float, RigidBodyModel] = {}
        _, orientation = pb.getBasePositionAndOrientation(body, physicsClientId=client)
        self.base_rotation = np.array(pb.getMatrixFromQuaternion(orientation, physicsClientId=client)).reshape(3, 3)
        for j in self.joint_indices:  # no joint motors or damping: inverse dynamics is rigid-body only
            pb.changeDynamics(body, j, linearDamping=0.0, angularDamping=0.0, jointDamping=0.0, physicsClientId=client)
        pb.changeDynamics(body, -1, linearDamping=0.0, angularDamping=0.0, physicsClientId=client)

    # state -----------------------------------------------------------------------------------
    def set_q(self, q: NDArray[np.float64] | list[float]) -> None:
        """Teleport every movable joint to ``q`` (zero velocity)."""
        for index, value in zip(self.joint_indices, q, strict=True):
            pb.resetJointState(self.body, index, float(value), 0.0, physicsClientId=self.client)

    def tcp_pose(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """World position and quaternion (x, y, z, w) of the TCP in the current configuration."""
        state = pb.getLinkState(self.body, self.tcp_link, computeForwardKinematics=True, physicsClientId=self.client)
        pos, orn = pb.multiplyTransforms(
            state[4], state[5], self.tcp_offset_m, (0, 0, 0, 1), physicsClientId=self.client
        )
        return np.array(pos), np.array(orn)

    def set_payload(self, mass_kg: float) -> None:
        """Model ``mass_kg`` (tool plus part) on the tool-mount link for :meth:`inverse_dynamics`.

        The mass is added at the mount link's centre of mass of the robot's rigid-body model (its URDF as
        loaded, :class:`twin.physics.dynamics.RigidBodyModel`), one model per distinct payload.
        """
        self.payload_kg = round(float(mass_kg), 6)

    def _dynamics(self) -> RigidBodyModel:
        """The rigid-body model with the current payload (the URDF read once, each payload derived from it)."""
        key = self.payload_kg
        if key not in self._models:
            if 0.0 not in self._models:
                if self.urdf_path is None:
                    raise PhysicsError(f"robot {self.name}: inverse dynamics needs the robot's URDF path")
                self._models[0.0] = RigidBodyModel(self.urdf_options.prepare(self.urdf_path).path)
            self._models[key] = self._models[0.0].with_payload(self.tool_mount_link_name, key)
        return self._models[key]

    # kinematics ------------------------------------------------------------------------------
    def solve_ik(
        self,
        position: tuple[float, float, float],
        orientation: tuple[float, float, float, float],
        seed_q: NDArray[np.float64],
        iterations: int = 8,
    ) -> IkSolution:
        """IK of the TCP to a world pose, seeded at ``seed_q``, verified by forward kinematics.

        The link frame target is the TCP target moved back along the TCP offset. The solution is
        refined by re-seeding a few times (pybullet's damped least squares stops early). A result
        outside the joint limits or farther than the tolerances from the target says why.
        """
        inv_pos, inv_orn = pb.invertTransform(self.tcp_offset_m, (0, 0, 0, 1), physicsClientId=self.client)
        link_pos, link_orn = pb.multiplyTransforms(position, orientation, inv_pos, inv_orn, physicsClientId=self.client)
        ranges = list(self.upper - self.lower)
        q = np.array(seed_q, dtype=float)
        self.set_q(q)
        for _ in range(iterations):
            solution = pb.calculateInverseKinematics(
                self.body,
                self.tcp_link,
                link_pos,
                link_orn,
                lowerLimits=list(self.lower),
                upperLimits=list(self.upper),
                jointRanges=ranges,
                restPoses=list(seed_q),
                maxNumIterations=200,
                residualThreshold=1e-6,
                physicsClientId=self.client,
            )
            q = np.array(solution[: self.n_dof])
            self.set_q(q)
            pos_err, orn_err = self._pose_error(position, orientation)
            if pos_err < 1e-4 and orn_err < 1e-3:
                break
        pos_err, orn_err = self._pose_error(position, orientation)
        reason = None
        outside = [
            (j.name, float(v)) for j, v in zip(self.joints, q, strict=True) if v < j.lower - 1e-6 or v > j.upper + 1e-6
        ]
        if pos_err > IK_POSITION_TOLERANCE_M or orn_err > IK_ORIENTATION_TOLERANCE_RAD:
            reason = (
                f"unreachable target: TCP stays {pos_err * 1000:.0f} mm and {math.degrees(orn_err):.1f} deg from it"
            )
        elif outside:
            name, value = outside[0]
            reason = f"joint limit: {name} would need {value:.3f} rad"
        return IkSolution(q, pos_err, orn_err, reason)

    def _pose_error(
        self, position: tuple[float, float, float], orientation: tuple[float, float, float, float]
    ) -> tuple[float, float]:
        pos, orn = self.tcp_pose()
        pos_err = float(np.linalg.norm(pos - np.asarray(position)))
        dot = abs(float(np.dot(orn, np.asarray(orientation))))
        return pos_err, 2.0 * math.acos(min(1.0, dot))

    # dynamics --------------------------------------------------------------------------------
    def inverse_dynamics(
        self, q: NDArray[np.float64], qd: NDArray[np.float64], qdd: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Rigid-body joint torques (N·m; N for prismatic joints) for every sample row (n_samples x n_dof).

        The payload is :meth:`set_payload`'s; batched RNEA over the rows (pybullet's answer, to 1e-9 N·m).
        """
        return self._dynamics().inverse_dynamics(q, qd, qdd, self.base_rotation)

    # clearance -------------------------------------------------------------------------------
    def closest(self, bodies: dict[str, int], radius_m: float, ignore: frozenset[str] = frozenset()) -> ClosestPair:
        """The closest pair between the moving links and any named body within ``radius_m``.

        Returns:
            The pair with its witness points (pybullet's ``positionOnA`` and ``positionOnB``); distance
            ``radius_m`` and no names or points when nothing is closer. Negative distance is penetration.
        """
        best, best_name, best_point = radius_m, None, None
        for name, other in bodies.items():
            if name in ignore or other == self.body:
                continue
            for point in pb.getClosestPoints(self.body, other, radius_m, physicsClientId=self.client):
                if point[3] == -1:  # the base does not move relative to its mount
                    continue
                if point[8] < best:
                    best, best_name, best_point = point[8], name, point
        if best_point is None:
            return ClosestPair(float(best), None, None, None, None, None)
        other_link = int(best_point[4])
        if other_link < 0:
            other_link_name = "base"
        else:
            info = pb.getJointInfo(bodies[best_name or ""], other_link, physicsClientId=self.client)
            other_link_name = info[12].decode()
        link = int(best_point[3])
        return ClosestPair(
            distance_m=float(best),
            body=best_name,
            link=self.link_names.get(link, str(link)),
            body_link=other_link_name,
            point_on_robot_m=tuple(float(v) for v in best_point[5]),
            point_on_body_m=tuple(float(v) for v in best_point[6]),
        )
