"""Clearance of a moving robot to the cell's bodies over many samples, culled by bounding volumes.

An exact check poses the robot (``resetJointStatesMultiDof``) and asks pybullet for the closest points of
one robot link and one obstacle link (``getClosestPoints`` within a radius). On these meshes that call
costs tens of microseconds when the pair is near, so the checker asks as few pairs as it can while
returning exactly what asking every body would:

- a vectorised numpy pass (batch forward kinematics) bounds every link by an oriented box and gives,
  for every checked sample, a lower bound of its distance to every obstacle link's box;
- pairs within the radius get a much tighter lower bound from the shapes themselves: a few steps of
  Gilbert's algorithm on the two convex hulls, with their support functions read from
  :class:`SupportTables`, give a separating direction, and the separation along any direction bounds
  the distance from below (within ~1 mm of it here, so most checks ask one pair);
- per sample the pairs are asked nearest bound first, each with the best distance so far as its query
  radius, and not at all once their bound exceeds it (branch and bound); a sample with no pair
  within the radius is not even posed;
- the first query radius comes from the previous sample: its closest pair is at most its distance plus
  the largest motion of any robot point since (bounded from the joint motion), so the true minimum
  lies within it.

The hull bounds use the vertices pybullet collides with (``getMeshData``; a box's corners) and each
shape's collision margin, measured once by probing the shape from afar with a small sphere; a shape
whose vertices do not explain pybullet's answers keeps its box bound only. The robot's base link is
never reported (it does not move relative to its mount), as in
:meth:`twin.physics.robot.RobotHandle.closest`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import sub
from typing import Any

import numpy as np
import pybullet as pb
from numpy.typing import NDArray

from twin.errors import PhysicsError

_PROBE_RAD = 0.5  # joint displacement used to identify each joint's axis
_TABLE_CELLS = 24  # cube-map cells per face edge of a support table (bounds ~0.3 mm loose on these meshes)
_BOUND_ITERATIONS = 4  # Gilbert steps per (sample, link, obstacle link) pair within the radius
_BOUND_SLACK_M = 1e-4  # added to each shape's measured margin: covers the probe's far-field error and rounding
_MAX_MARGIN_M = 0.005  # a shape whose vertices miss pybullet's answers by more keeps its box bound only
_PROBE_DISTANCE_M = 1000.0


def _rotation_matrix(quaternion: tuple[float, ...] | list[float]) -> NDArray[np.float64]:
    x, y, z, w = quaternion
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _frame(position: tuple[float, ...], quaternion: tuple[float, ...]) -> NDArray[np.float64]:
    frame = np.eye(4)
    frame[:3, :3] = _rotation_matrix(quaternion)
    frame[:3, 3] = position
    return frame


@dataclass(frozen=True)
class ChainKinematics:
    """Forward kinematics of a pybullet multibody as numpy arrays, batched over samples.

    Each link frame (the URDF link frame pybullet reports as ``worldLinkFrame``) is its parent's frame
    times a constant offset times the joint's motion (a rotation about, or a translation along, a unit
    axis). The offsets and axes are read off pybullet itself (link frames at zero and at a probe
    displacement of each joint), so no URDF convention is re-implemented here.
    """

    parents: tuple[int, ...]
    offsets: NDArray[np.float64]  # (n_links, 4, 4)
    axes: NDArray[np.float64]  # (n_links, 3), zero for fixed joints
    kinds: tuple[int, ...]  # pybullet joint type per link
    dof_column: tuple[int, ...]  # column of q driving the link's joint, -1 for fixed

    @classmethod
    def from_body(cls, client: int, body: int, joint_indices: list[int]) -> ChainKinematics:
        """Identify the chain of ``body``; its joints are left at zero afterwards (callers re-pose it)."""
        n_links = pb.getNumJoints(body, physicsClientId=client)
        column = {index: k for k, index in enumerate(joint_indices)}
        infos = [pb.getJointInfo(body, j, physicsClientId=client) for j in range(n_links)]
        for index in joint_indices:
            pb.resetJointState(body, index, 0.0, 0.0, physicsClientId=client)
        zero = cls._frames(client, body, n_links)
        parents, offsets, axes, kinds, dof_column = [], [], [], [], []
        for j, info in enumerate(infos):
            parent = int(info[16])
            parents.append(parent)
            offsets.append(zero[j] if parent < 0 else np.linalg.solve(zero[parent], zero[j]))
            kind = int(info[2])
            kinds.append(kind)
            dof_column.append(column.get(j, -1))
            axis = np.zeros(3)
            if j in column and kind in (pb.JOINT_REVOLUTE, pb.JOINT_PRISMATIC):
                pb.resetJointState(body, j, _PROBE_RAD, 0.0, physicsClientId=client)
                moved = cls._frames(client, body, n_links)[j]
                pb.resetJointState(body, j, 0.0, 0.0, physicsClientId=client)
                relative = np.linalg.solve(zero[j], moved)
                if kind == pb.JOINT_PRISMATIC:
                    axis = relative[:3, 3] / _PROBE_RAD
                else:
                    rot = relative[:3, :3]
                    angle = np.arccos(np.clip((np.trace(rot) - 1.0) / 2.0, -1.0, 1.0))
                    vector = np.array([rot[2, 1] - rot[1, 2], rot[0, 2] - rot[2, 0], rot[1, 0] - rot[0, 1]])
                    if abs(angle - _PROBE_RAD) > 1e-6 or np.linalg.norm(vector) < 1e-9:
                        raise PhysicsError(f"cannot identify the axis of joint {info[1].decode()}")
                    axis = vector / np.linalg.norm(vector)
            elif j in column:
                raise PhysicsError(f"joint {info[1].decode()}: only revolute and prismatic joints are supported")
            axes.append(axis)
        return cls(tuple(parents), np.asarray(offsets), np.asarray(axes), tuple(kinds), tuple(dof_column))

    @staticmethod
    def _frames(client: int, body: int, n_links: int) -> list[NDArray[np.float64]]:
        states = pb.getLinkStates(body, list(range(n_links)), computeForwardKinematics=True, physicsClientId=client)
        return [_frame(state[4], state[5]) for state in states]

    def reach(
        self, links: NDArray[np.int64], centres: NDArray[np.float64], halves: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Per joint (column of q): how far any point of the boxes downstream can move per unit of it.

        For a revolute joint, the largest distance from the joint's origin to any point of a link box
        after it, in any configuration (the chain's offsets plus the box's extent, by the triangle
        inequality); for a prismatic joint, 1. A motion ``dq`` moves no point by more than
        ``sum(reach * |dq|)``.
        """
        n_links = len(self.parents)
        box_extent = {
            int(j): float(np.linalg.norm(c) + np.linalg.norm(h)) for j, c, h in zip(links, centres, halves, strict=True)
        }
        out = np.zeros(max((c for c in self.dof_column if c >= 0), default=-1) + 1)
        for j in range(n_links):
            column = self.dof_column[j]
            if column < 0:
                continue
            if self.kinds[j] == pb.JOINT_PRISMATIC:
                out[column] = 1.0
                continue
            best = 0.0
            for link in range(n_links):  # links at or after j: walk up to j summing offsets
                path, node = 0.0, link
                while node > j:
                    path += float(np.linalg.norm(self.offsets[node][:3, 3]))
                    node = self.parents[node]
                if node == j and link in box_extent:
                    best = max(best, path + box_extent[link])
            out[column] = best
        return out

    def frames(self, q: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """World rotations (m, n_links, 3, 3) and positions (m, n_links, 3) of every link for rows of ``q``."""
        m = len(q)
        n_links = len(self.parents)
        rotations = np.empty((m, n_links, 3, 3))
        positions = np.empty((m, n_links, 3))
        for j in range(n_links):
            parent = self.parents[j]
            offset = self.offsets[j]
            if parent < 0:
                rot = np.broadcast_to(offset[:3, :3], (m, 3, 3))
                pos = np.broadcast_to(offset[:3, 3], (m, 3))
            else:
                parent_rot = rotations[:, parent]
                rot = _times(parent_rot, offset[:3, :3])
                pos = positions[:, parent] + (parent_rot.reshape(-1, 3) @ offset[:3, 3]).reshape(m, 3)
            column = self.dof_column[j]
            if column >= 0 and self.kinds[j] == pb.JOINT_REVOLUTE:
                # Rodrigues: rot @ (I + sin K + (1 - cos) K^2), with the constant products done as one GEMM each
                axis = self.axes[j]
                k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
                angle = q[:, column, None, None]
                rot = rot + np.sin(angle) * _times(rot, k) + (1.0 - np.cos(angle)) * _times(rot, k @ k)
            elif column >= 0 and self.kinds[j] == pb.JOINT_PRISMATIC:
                pos = pos + np.einsum("mij,j->mi", rot, self.axes[j]) * q[:, column, None]
            rotations[:, j] = rot
            positions[:, j] = pos
        return rotations, positions


def _times(rotations: NDArray[np.float64], constant: NDArray[np.float64]) -> NDArray[np.float64]:
    """``rotations @ constant`` for a stack of 3x3 matrices, as one matrix product (m*3, 3) @ (3, 3)."""
    return (np.ascontiguousarray(rotations).reshape(-1, 3) @ constant).reshape(rotations.shape)


_PROBE_DIRECTIONS = (
    np.array(
        [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]
        + [[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)],
        dtype=float,
    )
    / np.array([1.0] * 6 + [np.sqrt(3.0)] * 8)[:, None]
)


def _inertial_frame(client: int, body: int, link: int) -> NDArray[np.float64]:
    """World frame of a link's inertial frame (pybullet's frame for collision shapes and mesh data)."""
    if link < 0:
        position, orientation = pb.getBasePositionAndOrientation(body, physicsClientId=client)
        return _frame(position, orientation)
    state = pb.getLinkState(body, link, computeForwardKinematics=True, physicsClientId=client)
    return _frame(state[0], state[1])


def convex_vertices(client: int, body: int, link: int) -> NDArray[np.float64] | None:
    """Vertices of a link's collision shape in its inertial frame when it is one convex mesh or one box, else None."""
    data = pb.getCollisionShapeData(body, link, physicsClientId=client)
    if len(data) != 1:
        return None
    kind, dimensions, local_position, local_orientation = data[0][2], data[0][3], data[0][5], data[0][6]
    if kind == pb.GEOM_MESH:
        try:
            _, vertices = pb.getMeshData(body, link, physicsClientId=client)
        except pb.error:
            return None
        vertices = np.asarray(vertices, dtype=float).reshape(-1, 3)
        return vertices if len(vertices) else None
    if kind == pb.GEOM_BOX:
        corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
        local = _frame(local_position, local_orientation)
        return (corners * (np.asarray(dimensions) / 2.0)) @ local[:3, :3].T + local[:3, 3]
    return None


def probe_margin(client: int, body: int, link: int, world_vertices: NDArray[np.float64], probe: int) -> float:
    """How much closer pybullet reports a link than its sharp hull is: its collision margin, measured.

    A small sphere is placed far away in 14 directions; the separation of the hull's vertices along each
    direction minus the sphere's radius bounds the sharp hull's distance from below (to ~1e-5 m at this
    range), so the largest excess over pybullet's answer is the margin pybullet subtracts.
    """
    centre = world_vertices.mean(axis=0)
    radius = pb.getCollisionShapeData(probe, -1, physicsClientId=client)[0][3][0]
    worst = 0.0
    for u in _PROBE_DIRECTIONS:
        at = centre + _PROBE_DISTANCE_M * u
        pb.resetBasePositionAndOrientation(probe, at.tolist(), (0.0, 0.0, 0.0, 1.0), physicsClientId=client)
        points = pb.getClosestPoints(body, probe, 2.0 * _PROBE_DISTANCE_M, linkIndexA=link, physicsClientId=client)
        if not points:
            return np.inf
        reported = min(point[8] for point in points)
        sharp = float(at @ u - np.max(world_vertices @ u)) - radius
        worst = max(worst, sharp - reported)
    return worst + _BOUND_SLACK_M


def _world_hull(client: int, body: int, link: int, probe: int) -> tuple[NDArray[np.float64] | None, float]:
    """A link's convex collision vertices in the world as it stands, and its measured margin (None, inf if none)."""
    vertices = convex_vertices(client, body, link)
    if vertices is None:
        return None, np.inf
    inertial = _inertial_frame(client, body, link)
    world = vertices @ inertial[:3, :3].T + inertial[:3, 3]
    return world, probe_margin(client, body, link, world, probe)


class SupportTables:
    """Upper bounds of convex shapes' support functions, for many (shape, direction) pairs at once.

    A shape's support function ``h(d) = max over vertices v of v . d`` is sampled on a cube map: the
    grid points of every face of the cube [-1, 1]^3. A direction's point on the cube lies in a grid
    triangle, and because a support function is sublinear, the same barycentric mix of the corners'
    values is at least ``h`` there: an upper bound that costs a few array operations regardless of
    the shapes' vertex counts. Each grid point also keeps its supporting vertex (a point of the shape).
    """

    def __init__(self, shapes: list[NDArray[np.float64]], cells: int = _TABLE_CELLS) -> None:
        """Tabulate each shape (vertices in its own frame)."""
        self.cells = n = cells
        side = np.linspace(-1.0, 1.0, n + 1)
        s, t = (g.ravel() for g in np.meshgrid(side, side, indexing="ij"))
        faces = []
        for axis in range(3):
            b, c = (axis + 1) % 3, (axis + 2) % 3
            for sign in (1.0, -1.0):
                face = np.empty((len(s), 3))
                face[:, axis], face[:, b], face[:, c] = sign, s, t
                faces.append(face)
        grid = np.concatenate(faces)  # (6 (n+1)^2, 3), face index = 2 axis + (sign < 0)
        self.per_shape = len(grid)
        values, points = [], []
        for vertices in shapes:
            dots = grid @ vertices.T
            best = dots.argmax(axis=1)
            values.append(dots[np.arange(len(grid)), best])
            points.append(vertices[best])
        self.values = np.concatenate(values) if values else np.zeros(0)
        self.points = np.concatenate(points) if points else np.zeros((0, 3))

    def upper(
        self, shape: NDArray[np.int64], d: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """For rows of shape indices and directions (k, 3): an upper bound of ``h(d)`` and a supporting vertex."""
        n = self.cells
        k = len(d)
        absd = np.abs(d)
        axis = absd.argmax(axis=1)
        rows = np.arange(k)
        scale = np.maximum(absd[rows, axis], 1e-300)  # a zero direction gets the bound 0 (no NaN)
        sign = d[rows, axis] < 0.0
        b, c = (axis + 1) % 3, (axis + 2) % 3
        x = (d[rows, b] / scale + 1.0) * (n / 2.0)
        y = (d[rows, c] / scale + 1.0) * (n / 2.0)
        i = np.clip(np.floor(x), 0, n - 1)
        j = np.clip(np.floor(y), 0, n - 1)
        fx, fy = x - i, y - j
        base = shape * self.per_shape + (2 * axis + sign) * (n + 1) ** 2 + (i * (n + 1) + j).astype(np.int64)
        upper = fx + fy > 1.0  # which triangle of the grid square
        corner0 = np.where(upper, base + n + 2, base)  # (i+1, j+1) or (i, j)
        weight0 = np.where(upper, fx + fy - 1.0, 1.0 - fx - fy)
        weight_i = np.where(upper, 1.0 - fy, fx)  # corner (i+1, j)
        weight_j = np.where(upper, 1.0 - fx, fy)  # corner (i, j+1)
        values = self.values
        bound = weight0 * values[corner0] + weight_i * values[base + n + 1] + weight_j * values[base + 1]
        heaviest = np.where(
            weight0 >= np.maximum(weight_i, weight_j), corner0, np.where(weight_i >= weight_j, base + n + 1, base + 1)
        )
        return bound * scale, self.points[heaviest]


@dataclass
class ClearanceResult:
    """Clearance at the checked samples: the smallest distance to any body within the radius.

    ``distance_m`` is the radius where nothing is closer (``body`` and ``link`` then None, the witness
    points NaN); a negative distance is penetration (a collision). ``robot_point_m`` and ``body_point_m``
    (rows x 3, world coordinates) are the witness points of each row's closest pair: pybullet's
    ``positionOnA`` on the robot and ``positionOnB`` on the body, ``|a - b| = |distance_m|``.
    """

    rows: NDArray[np.int64]
    distance_m: NDArray[np.float64]
    body: list[str | None]
    link: list[str | None]
    calls: int = 0
    posed: int = 0
    culled_checks: int = 0
    stats: dict[str, int] = field(default_factory=dict)
    robot_point_m: NDArray[np.float64] | None = None
    body_point_m: NDArray[np.float64] | None = None


class ClearanceChecker:
    """Clearance of one robot to a fixed set of static bodies (the rest of the cell, posed as it stands)."""

    def __init__(
        self,
        client: int,
        body: int,
        joint_indices: list[int],
        link_names: dict[int, str],
        obstacles: dict[str, int],
        radius_m: float,
    ) -> None:
        """Identify the robot's chain and bound its links and the obstacles.

        Args:
            client: The pybullet client.
            body: The robot's body id.
            joint_indices: Its movable joints (the columns of ``q``).
            link_names: Link index -> name (for reports).
            obstacles: Name -> body id of everything the robot must not touch (static while checking).
            radius_m: Distances beyond this are reported as this value.
        """
        self.client, self.body, self.radius_m = client, body, float(radius_m)
        self.joint_indices = list(joint_indices)
        self.link_names = link_names
        self.names = list(obstacles)
        self.obstacle_ids = [obstacles[name] for name in self.names]
        saved = [s[0] for s in pb.getJointStates(body, self.joint_indices, physicsClientId=client)]
        self.kinematics = ChainKinematics.from_body(client, body, self.joint_indices)
        # an oriented box around each link with a collision shape: the link's world AABB at zero joint
        # angles (pybullet's own bound of the shape it collides with), carried rigidly by the link
        n_links = pb.getNumJoints(body, physicsClientId=client)
        zero = ChainKinematics._frames(client, body, n_links)
        centres, halves, axes, links = [], [], [], []
        for j in range(n_links):
            if not pb.getCollisionShapeData(body, j, physicsClientId=client):
                continue
            lo, hi = (np.asarray(v) for v in pb.getAABB(body, j, physicsClientId=client))
            centres.append(np.linalg.solve(zero[j], np.append((lo + hi) / 2.0, 1.0))[:3])
            halves.append((hi - lo) / 2.0)
            axes.append(zero[j][:3, :3].T)  # world axes at zero, in the link's frame
            links.append(j)
        self.box_links = np.asarray(links, dtype=np.int64)
        self.link_centres = np.asarray(centres).reshape(-1, 3)
        self.link_halves = np.asarray(halves).reshape(-1, 3)
        self.link_axes = np.asarray(axes).reshape(-1, 3, 3)
        # the convex hulls pybullet collides with, for the tight bounds: robot links in their link frames
        # (measured at zero joint angles, where the chain was identified), obstacles in the world
        probe = pb.createMultiBody(
            0.0,
            pb.createCollisionShape(pb.GEOM_SPHERE, radius=0.01, physicsClientId=client),
            basePosition=[0.0, 0.0, -10.0 * _PROBE_DISTANCE_M],
            physicsClientId=client,
        )
        try:
            link_hulls: list[NDArray[np.float64] | None] = []
            self.link_margin = np.full(len(links), np.inf)
            for i, j in enumerate(links):
                world, self.link_margin[i] = _world_hull(client, body, j, probe)
                link_hulls.append(None if world is None else (world - zero[j][:3, 3]) @ zero[j][:3, :3])
            self._pose(saved)
            # boxes of every obstacle link with a collision shape: owner, body, link, hull and margin per box
            box_lo, box_hi, owner, box_body, box_link, box_hulls, box_margin = [], [], [], [], [], [], []
            for k, other in enumerate(self.obstacle_ids):
                for link in range(-1, pb.getNumJoints(other, physicsClientId=client)):
                    if not pb.getCollisionShapeData(other, link, physicsClientId=client):
                        continue
                    lo, hi = pb.getAABB(other, link, physicsClientId=client)
                    box_lo.append(lo)
                    box_hi.append(hi)
                    owner.append(k)
                    box_body.append(other)
                    box_link.append(link)
                    world, margin = _world_hull(client, other, link, probe)
                    box_hulls.append(world)
                    box_margin.append(margin)
        finally:
            pb.removeBody(probe, physicsClientId=client)
        self.box_lo = np.asarray(box_lo).reshape(-1, 3)
        self.box_hi = np.asarray(box_hi).reshape(-1, 3)
        self.box_owner = np.asarray(owner, dtype=np.int64)
        self.box_body = box_body
        self.box_link = box_link
        self._box_lo = self.box_lo.astype(np.float32)
        self._box_hi = self.box_hi.astype(np.float32)
        self._reach = self.kinematics.reach(self.box_links, self.link_centres, self.link_halves)
        self._prismatic = [
            c
            for j, c in enumerate(self.kinematics.dof_column)
            if c >= 0 and self.kinematics.kinds[j] == pb.JOINT_PRISMATIC
        ]
        # every box's distance from the first moving joint's origin: a box farther than the robot's reach
        # (plus the radius) can never be near (links before that joint do not move)
        first = next((j for j, c in enumerate(self.kinematics.dof_column) if c >= 0), 0)
        origin = zero[first][:3, 3] if len(zero) else np.zeros(3)
        gap = np.maximum(self.box_lo - origin, 0.0) + np.maximum(origin - self.box_hi, 0.0)
        self._box_distance = np.linalg.norm(gap, axis=1)
        # hull pairs: both shapes convex with a plausible margin; one support table holds every hull
        link_ok = np.array([h is not None for h in link_hulls], dtype=bool) & (self.link_margin <= _MAX_MARGIN_M)
        box_ok = np.array([h is not None for h in box_hulls], dtype=bool) & (np.asarray(box_margin) <= _MAX_MARGIN_M)
        self.hull_pairs = link_ok[:, None] & box_ok[None, :]  # (links, boxes)
        hulls = [
            h if ok else np.zeros((1, 3)) for h, ok in zip(link_hulls + box_hulls, np.r_[link_ok, box_ok], strict=True)
        ]
        self._tables = SupportTables(hulls)
        self._hull_centres = np.asarray([h.mean(axis=0) for h in hulls]).reshape(-1, 3)
        self._pair_margin = self.link_margin[:, None] + np.asarray(box_margin)[None, :]
        # flattened (link, box) pairs: the robot link and the obstacle body and link a query names
        n_boxes = len(box_body)
        self._pair_link = [int(j) for j in self.box_links for _ in range(n_boxes)]
        self._pair_body = box_body * len(links)
        self._pair_other_link = box_link * len(links)
        self._pair_owner = self.box_owner.tolist() * len(links)

    def _extension(self, q: NDArray[np.float64]) -> float:
        """Largest total extension of the prismatic joints over the rows (moves points beyond the reach)."""
        return float(sum(np.max(np.abs(q[:, c])) for c in self._prismatic)) if len(q) and self._prismatic else 0.0

    def reach(self, q: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per joint: the largest motion of any robot point per unit of joint motion, over the rows of ``q``."""
        reach = self._reach.copy()
        revolute = np.ones(len(reach), dtype=bool)
        revolute[self._prismatic] = False
        reach[revolute] += self._extension(q)
        return reach

    def _pose(self, q: list[float]) -> None:
        pb.resetJointStatesMultiDof(self.body, self.joint_indices, [[v] for v in q], physicsClientId=self.client)

    def pair_bounds(
        self,
        q: NDArray[np.float64],
        ignore_boxes: NDArray[np.bool_] | None = None,
        refine_rows: NDArray[np.bool_] | None = None,
    ) -> NDArray[np.float32]:
        """(m, links, boxes) lower bounds of the distance from each robot link to each obstacle link, per row of ``q``.

        First each link's oriented box, bounded by its world AABB at the sample's pose, against the
        obstacle link's box (minus infinity when they overlap: the shapes may penetrate to any depth;
        infinity out of the robot's reach or where ``ignore_boxes`` (m, boxes) is set). Pairs of convex
        hulls within the radius then get the hulls' separation along directions from Gilbert's
        algorithm, less both shapes' margins: a lower bound of pybullet's distance for any direction
        (only in ``refine_rows`` when given: the others keep their box bounds, which are as valid).
        """
        m, n_links, n_boxes = len(q), len(self.box_links), len(self.box_owner)
        out = np.full((m, n_links, n_boxes), np.inf, dtype=np.float32)
        if m == 0 or n_links == 0:
            return out
        extent = float(self._reach.max(initial=0.0)) + self._extension(q) + self.radius_m
        boxes = np.nonzero(self._box_distance < extent)[0]
        if not len(boxes):
            return out
        rotations, positions = self.kinematics.frames(q)
        rot = rotations[:, self.box_links]  # (c, l, 3, 3)
        pos = positions[:, self.box_links]
        centre = pos + np.einsum("clij,lj->cli", rot, self.link_centres)
        box_rot = np.stack([_times(rot[:, i], axes) for i, axes in enumerate(self.link_axes)], axis=1)  # in the world
        half = np.einsum("clij,lj->cli", np.abs(box_rot), self.link_halves)
        # one axis at a time, one obstacle box at a time: flat float32 vectors stay in cache
        lo = [np.ascontiguousarray((centre - half)[:, :, a], dtype=np.float32) for a in range(3)]
        hi = [np.ascontiguousarray((centre + half)[:, :, a], dtype=np.float32) for a in range(3)]
        for b in boxes.tolist():
            total = np.zeros((m, n_links), dtype=np.float32)
            for a in range(3):
                gap = np.maximum(self._box_lo[b, a] - hi[a], 0.0)
                gap += np.maximum(lo[a] - self._box_hi[b, a], 0.0)
                total += gap * gap
            out[:, :, b] = total
        np.sqrt(out, out=out)
        out[out == 0.0] = -np.inf  # overlap: may penetrate
        if ignore_boxes is not None:
            out.transpose(0, 2, 1)[ignore_boxes] = np.inf  # every link of an ignored (row, box)
        refine = (out < self.radius_m) & self.hull_pairs[None]
        if refine_rows is not None:
            refine &= refine_rows[:, None, None]
        rows, link, box = np.nonzero(refine)
        if len(rows):
            out[rows, link, box] = self._hull_bounds(rot, pos, rows, link, box, out[rows, link, box])
        return out

    def _hull_bounds(
        self,
        rot: NDArray[np.float64],
        pos: NDArray[np.float64],
        rows: NDArray[np.int64],
        link: NDArray[np.int64],
        box: NDArray[np.int64],
        box_bound: NDArray[np.float32],
    ) -> NDArray[np.float32]:
        """Tighter lower bounds for (row, link, box) hull pairs (rows sorted), from their box bounds.

        Since any point of A-B is at least as long as the pair's distance, the seed of each row (its
        pair with the smallest box bound) is refined first, and a pair whose bound is not below the
        shortest such point of its row can never be the row's nearest: it keeps its box bound.
        """
        out = box_bound.copy()
        n_rows = int(rows[-1]) + 1
        # the seeds: each row's pairs with its smallest box bound
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        row_least = np.repeat(np.minimum.reduceat(box_bound, starts), np.diff(np.r_[starts, len(rows)]))
        seeds = np.flatnonzero(box_bound == row_least)
        row_upper = np.full(n_rows, np.inf)
        bound, shortest = self._gilbert(rot, pos, rows[seeds], link[seeds], box[seeds], 2)
        out[seeds] = np.maximum(out[seeds], bound)
        np.minimum.at(row_upper, rows[seeds], shortest)
        keep = np.nonzero(out < row_upper[rows])[0]
        if len(keep):
            bound, _ = self._gilbert(rot, pos, rows[keep], link[keep], box[keep], _BOUND_ITERATIONS, row_upper)
            out[keep] = np.maximum(out[keep], bound)
        return out

    def _gilbert(
        self,
        rot: NDArray[np.float64],
        pos: NDArray[np.float64],
        rows: NDArray[np.int64],
        link: NDArray[np.int64],
        box: NDArray[np.int64],
        iterations: int,
        row_upper: NDArray[np.float64] | None = None,
    ) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
        """Lower bounds of hull-pair distances after Gilbert steps, and the shortest point of A-B found per pair.

        For a unit direction u, ``min over A-B of x.u`` bounds ``|a - b|`` from below; the support
        tables bound both supports from above, so the bound stays valid. Gilbert's algorithm moves u
        toward the separating direction: v is a point of A-B (a convex combination of hull vertices),
        the support point w in -v is found, and v becomes the point of segment [v, w] nearest the origin.
        With ``row_upper`` (per row, at least its nearest pair's distance), pairs whose bound reaches it
        after the first step are not refined further (lowered in place as shorter points are found).
        """
        tables, n_links = self._tables, len(self.box_links)
        rot, pos = rot[rows, link], pos[rows, link]
        other = box + n_links
        margin = self._pair_margin[link, box]
        v = pos + np.einsum("kij,kj->ki", rot, self._hull_centres[link]) - self._hull_centres[other]
        best = np.full(len(link), -np.inf)
        out = np.full(len(link), -np.inf, dtype=np.float32)
        shortest = np.empty(len(link))  # |v| never grows: the point of [v, w] nearest the origin is no farther
        index = np.arange(len(link))
        for step_number in range(iterations):
            norm = np.sqrt(np.einsum("ki,ki->k", v, v))
            if row_upper is not None and step_number == 1:
                shortest[index] = norm
                np.minimum.at(row_upper, rows, norm)
                out[index] = best - margin
                keep = out[index] < row_upper[rows]
                rows, link, other, rot, pos, v, norm, best, margin, index = (
                    x[keep] for x in (rows, link, other, rot, pos, v, norm, best, margin, index)
                )
                if not len(rows):
                    return out, shortest
            u = v / np.maximum(norm, 1e-12)[:, None]
            h_a, a_local = tables.upper(link, -np.matmul(u[:, None, :], rot)[:, 0])  # support of A in -u
            h_b, b_point = tables.upper(other, u)  # support of B in u
            h_a = h_a - np.einsum("ki,ki->k", pos, u)
            np.maximum(best, np.where(norm > 1e-12, -h_a - h_b, -np.inf), out=best)  # min over A-B of x.u
            w = np.matmul(rot, a_local[:, :, None])[:, :, 0] + pos - b_point
            step = w - v
            along = -np.einsum("ki,ki->k", v, step) / np.maximum(np.einsum("ki,ki->k", step, step), 1e-18)
            v = v + np.clip(along, 0.0, 1.0)[:, None] * step
        shortest[index] = np.sqrt(np.einsum("ki,ki->k", v, v))
        out[index] = best - margin
        return out, shortest

    def body_bounds(self, pairs: NDArray[np.float32]) -> NDArray[np.float32]:
        """(m, bodies) lower bounds per obstacle body from :meth:`pair_bounds`."""
        per_box = pairs.min(axis=1)
        out = np.full((len(pairs), len(self.names)), np.inf, dtype=np.float32)
        for k in range(len(self.names)):
            mine = self.box_owner == k
            if mine.any():
                out[:, k] = per_box[:, mine].min(axis=1)
        return out

    def check(
        self,
        q: NDArray[np.float64],
        ignore: NDArray[np.bool_] | None = None,
        reuse_tolerance_m: float = 0.0,
        exact_below_m: float = 0.0,
        chunk: int = 8192,
    ) -> ClearanceResult:
        """Clearance for every row of ``q`` (m x n_dof); ``ignore`` (m x n_bodies) excludes bodies per row.

        Per row, (robot link, obstacle link) pairs are asked in order of their lower bound and only
        while that bound is below the best distance found so far, with the best distance as the query
        radius. The first query radius is the last computed distance plus how far any point of the
        robot can have moved since (joint motion times each joint's reach): the pair that was closest is
        at most that far now, so nothing closer is missed.

        With ``reuse_tolerance_m`` > 0, a row whose robot cannot have moved by more than that since the
        last computed row (and whose distance there was not below ``exact_below_m`` plus the tolerance)
        takes that row's answer: its distance is then within the tolerance of the exact one. With 0,
        every answer is exact. The robot is left in the last posed configuration.

        Args:
            q: Every movable joint, one row per check.
            ignore: Bodies a row may touch (the station an operation works at).
            reuse_tolerance_m: Largest motion (m) of any robot point for which an answer is reused.
            exact_below_m: Distances below this plus the tolerance are never reused (thresholds stay exact).
            chunk: Rows bounded per numpy pass.

        Returns:
            Distance, body and link per row, with counts of poses and queries.
        """
        m = len(q)
        distance = np.full(m, self.radius_m)
        body_out: list[str | None] = [None] * m
        link_out: list[str | None] = [None] * m
        robot_point = np.full((m, 3), np.nan)
        body_point = np.full((m, 3), np.nan)
        radius = self.radius_m
        weighted = q * self.reach(q)  # joint motion times reach: a row's L1 distance bounds any point's motion
        calls = posed = reused = 0
        keep_above = exact_below_m + reuse_tolerance_m
        # a row that moved more than twice the tolerance since the previous row cannot reuse an answer
        # when that row was computed or reused (it is the last computed one or within the tolerance of
        # it): only such rows get the hull bounds up front. A guess, not a rule: a row computed without
        # them is asked in order of its box bounds, exactly as well.
        may_compute = np.ones(m, dtype=bool)
        if reuse_tolerance_m > 0.0 and m > 1:
            may_compute[1:] = np.abs(np.diff(weighted, axis=0)).sum(axis=1) > 2.0 * reuse_tolerance_m
        # the last computed row: weighted q, distance (radius when nothing was near), body index (-1: none),
        # link name, the bodies it ignored, and its witness points
        last: tuple[list[float], float, int, str | None, list[bool] | None, Any] | None = None
        for start in range(0, m, chunk):
            stop = min(m, start + chunk)
            ignore_boxes = None if ignore is None else ignore[start:stop][:, self.box_owner]
            pairs = self.pair_bounds(q[start:stop], ignore_boxes, may_compute[start:stop])
            body_bound = self.body_bounds(pairs).tolist()  # per row, per body
            # per row, its pairs within the radius, as flat lists (sorted per row only when it is asked)
            flat = pairs.reshape(len(pairs), -1)
            near_row, near_pair = np.nonzero(flat < radius)
            first = np.searchsorted(near_row, np.arange(len(pairs) + 1)).tolist()
            near_bound, near_pair = flat[near_row, near_pair].tolist(), near_pair.tolist()
            rows = np.nonzero(np.diff(first))[0]
            ignored = None if ignore is None else ignore[start + rows].tolist()
            weighted_rows = weighted[start + rows].tolist()
            for n, (local, weighted_row) in enumerate(zip(rows.tolist(), weighted_rows, strict=True)):
                row = start + local
                moved = None
                if last is not None and (last[2] < 0 or body_bound[local][last[2]] < np.inf):
                    if ignored is None or ignored[n] == last[4]:
                        moved = sum(map(abs, map(sub, weighted_row, last[0])))
                if moved is not None and moved <= reuse_tolerance_m and last[1] >= keep_above:
                    reused += 1
                    if last[2] >= 0:
                        distance[row], body_out[row], link_out[row] = last[1], self.names[last[2]], last[3]
                        robot_point[row], body_point[row] = last[5]
                    continue
                limit = radius
                if moved is not None and last[2] >= 0:
                    limit = min(radius, last[1] + moved + 1e-6)
                span = slice(first[local], first[local + 1])
                q_row = q[row].tolist()
                best, pair, asked, witness = self._query(q_row, near_bound[span], near_pair[span], limit)
                calls += asked
                posed += 1
                if pair < 0 and limit < radius:  # numerical edge: ask again with the full radius
                    best, pair, asked, witness = self._query(q_row, near_bound[span], near_pair[span], radius)
                    calls += asked
                best_body = -1 if pair < 0 else self._pair_owner[pair]
                link_name = None
                if pair >= 0:
                    link = self._pair_link[pair]
                    link_name = self.link_names.get(link, str(link))
                    distance[row], body_out[row], link_out[row] = best, self.names[best_body], link_name
                    robot_point[row], body_point[row] = witness
                last = (
                    weighted_row,
                    best if pair >= 0 else radius,
                    best_body,
                    link_name,
                    None if ignored is None else ignored[n],
                    witness,
                )
        return ClearanceResult(
            rows=np.arange(m, dtype=np.int64),
            distance_m=distance,
            body=body_out,
            link=link_out,
            calls=calls,
            posed=posed,
            culled_checks=m - posed - reused,
            stats={"reused": reused},
            robot_point_m=robot_point,
            body_point_m=body_point,
        )

    def _query(
        self, q_row: list[float], bounds: list[float], pairs: list[int], limit: float
    ) -> tuple[float, int, int, Any]:
        """Branch and bound over (link, obstacle link) pairs for one pose.

        Returns:
            (distance, pair or -1, calls, witness points ``(positionOnA, positionOnB)`` or None).
        """
        best, best_pair, calls, witness = limit, -1, 0, None
        candidates = sorted(item for item in zip(bounds, pairs, strict=True) if item[0] < limit)
        if not candidates:
            return best, best_pair, calls, witness
        self._pose(q_row)
        closest = pb.getClosestPoints
        client, body = self.client, self.body
        for bound, pair in candidates:
            if bound >= best:
                break
            calls += 1
            points = closest(
                body,
                self._pair_body[pair],
                best,
                linkIndexA=self._pair_link[pair],
                linkIndexB=self._pair_other_link[pair],
                physicsClientId=client,
            )
            for point in points:
                if point[8] < best:
                    best, best_pair, witness = point[8], pair, (point[5], point[6])
        return best, best_pair, calls, witness
