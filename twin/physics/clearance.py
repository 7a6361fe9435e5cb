"""Clearance of a moving robot to the cell's bodies over many samples, culled by bounding volumes.

An exact check poses the robot (``resetJointStatesMultiDof``) and asks pybullet for the closest points to
each cell body (``getClosestPoints`` within a radius). On these meshes that call costs tens of
microseconds for every pair of shapes within the radius, so the checker asks as little as it can while
returning exactly what asking every body would:

- a vectorised numpy pass (batch forward kinematics) bounds every link by an oriented box and gives,
  for every checked sample, a lower bound of its distance to every static body's boxes; bodies whose
  bound exceeds the radius are not asked, and a sample with no such body is not even posed;
- the remaining bodies are asked nearest bound first, each with the best distance so far as its query
  radius, and not at all once their bound exceeds it (branch and bound);
- the first query radius comes from the previous sample: its closest pair is at most its distance plus
  the largest motion of any robot point since (bounded from the joint motion), so the true minimum
  lies within it.

The robot's base link is never reported (it does not move relative to its mount), as in
:meth:`twin.physics.robot.RobotHandle.closest`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pybullet as pb
from numpy.typing import NDArray

from twin.errors import PhysicsError

_PROBE_RAD = 0.5  # joint displacement used to identify each joint's axis


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
                rot = parent_rot @ offset[:3, :3]
                pos = positions[:, parent] + parent_rot @ offset[:3, 3]
            column = self.dof_column[j]
            if column >= 0 and self.kinds[j] == pb.JOINT_REVOLUTE:
                rot = rot @ _axis_rotations(self.axes[j], q[:, column])
            elif column >= 0 and self.kinds[j] == pb.JOINT_PRISMATIC:
                pos = pos + np.einsum("mij,j->mi", rot, self.axes[j]) * q[:, column, None]
            rotations[:, j] = rot
            positions[:, j] = pos
        return rotations, positions


def _axis_rotations(axis: NDArray[np.float64], angles: NDArray[np.float64]) -> NDArray[np.float64]:
    """Rotation matrices about one unit axis for many angles (Rodrigues)."""
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    s = np.sin(angles)[:, None, None]
    c = np.cos(angles)[:, None, None]
    return np.eye(3) + s * k + (1.0 - c) * (k @ k)


@dataclass
class ClearanceResult:
    """Clearance at the checked samples: the smallest distance to any body within the radius.

    ``distance_m`` is the radius where nothing is closer (``body`` and ``link`` then None); a negative
    distance is penetration (a collision).
    """

    rows: NDArray[np.int64]
    distance_m: NDArray[np.float64]
    body: list[str | None]
    link: list[str | None]
    calls: int = 0
    posed: int = 0
    culled_checks: int = 0
    stats: dict[str, int] = field(default_factory=dict)


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
        self._pose(saved)
        # boxes of every obstacle link with a collision shape; the owner index per box
        box_lo, box_hi, owner = [], [], []
        for k, other in enumerate(self.obstacle_ids):
            for link in range(-1, pb.getNumJoints(other, physicsClientId=client)):
                if not pb.getCollisionShapeData(other, link, physicsClientId=client):
                    continue
                lo, hi = pb.getAABB(other, link, physicsClientId=client)
                box_lo.append(lo)
                box_hi.append(hi)
                owner.append(k)
        self.box_lo = np.asarray(box_lo).reshape(-1, 3)
        self.box_hi = np.asarray(box_hi).reshape(-1, 3)
        self.box_owner = np.asarray(owner, dtype=np.int64)
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

    def lower_bounds(self, q: NDArray[np.float64]) -> NDArray[np.float32]:
        """(m, links, bodies) lower bounds of the distance from each link to each body, per row of ``q``.

        Each link's oriented box is bounded by its world AABB at the sample's pose; the bound is the
        distance from that AABB to the nearest box of the body (minus infinity when they overlap: the
        shapes may penetrate to any depth). Bodies out of the robot's reach get infinity.
        """
        m, n_bodies, n_links = len(q), len(self.names), len(self.box_links)
        out = np.full((m, n_links, n_bodies), np.inf, dtype=np.float32)
        if m == 0 or n_links == 0:
            return out
        extent = float(self._reach.max(initial=0.0)) + self._extension(q) + self.radius_m
        boxes = np.nonzero(self._box_distance < extent)[0]
        if not len(boxes):
            return out
        rotations, positions = self.kinematics.frames(q)
        rot = rotations[:, self.box_links]  # (c, l, 3, 3)
        centre = positions[:, self.box_links] + np.einsum("clij,lj->cli", rot, self.link_centres)
        box_rot = rot @ self.link_axes[None]  # the link box's axes in the world
        half = np.einsum("clij,lj->cli", np.abs(box_rot), self.link_halves)
        # one axis at a time, one obstacle box at a time: flat float32 vectors stay in cache
        lo = [np.ascontiguousarray((centre - half)[:, :, a], dtype=np.float32) for a in range(3)]
        hi = [np.ascontiguousarray((centre + half)[:, :, a], dtype=np.float32) for a in range(3)]
        squared = np.full((m, n_links, n_bodies), np.inf, dtype=np.float32)
        for b in boxes.tolist():
            total = np.zeros((m, n_links), dtype=np.float32)
            for a in range(3):
                gap = np.maximum(self._box_lo[b, a] - hi[a], 0.0)
                gap += np.maximum(lo[a] - self._box_hi[b, a], 0.0)
                total += gap * gap
            k = int(self.box_owner[b])
            np.minimum(squared[:, :, k], total, out=squared[:, :, k])
        nearest = np.sqrt(squared)
        return np.where(nearest > 0.0, nearest, np.float32(-np.inf)).astype(np.float32)  # overlap: may penetrate

    def check(
        self,
        q: NDArray[np.float64],
        ignore: NDArray[np.bool_] | None = None,
        reuse_tolerance_m: float = 0.0,
        exact_below_m: float = 0.0,
        chunk: int = 8192,
    ) -> ClearanceResult:
        """Clearance for every row of ``q`` (m x n_dof); ``ignore`` (m x n_bodies) excludes bodies per row.

        Per row, bodies are asked in order of their lower bound and only while that bound is below the
        best distance found so far, with the best distance as the query radius (pybullet then skips
        every farther pair). The first query radius is the last computed distance plus how far any
        point of the robot can have moved since (joint motion times each joint's reach): the pair that
        was closest is at most that far now, so nothing closer is missed.

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
        radius = self.radius_m
        n_links = len(self.box_links)
        link_ids = self.box_links.tolist()
        reach = self.reach(q).tolist()
        calls = posed = reused = 0
        keep_above = exact_below_m + reuse_tolerance_m
        # the last computed row: q, distance (radius when nothing was near), body index (-1: none), link
        # name, and the bodies it ignored
        last: tuple[list[float], float, int, str | None, list[bool] | None] | None = None
        for start in range(0, m, chunk):
            stop = min(m, start + chunk)
            bounds = self.lower_bounds(q[start:stop])
            if ignore is not None:
                bounds[np.broadcast_to(ignore[start:stop, None, :], bounds.shape)] = np.inf
            body_bound = bounds.min(axis=1)  # (c, bodies)
            rows = np.nonzero((body_bound < radius).any(axis=1))[0]
            ignored = None if ignore is None else ignore[start + rows].tolist()
            for n, (local, q_row) in enumerate(zip(rows.tolist(), q[start + rows].tolist(), strict=True)):
                row = start + local
                per_body = body_bound[local].tolist()
                moved = None
                if last is not None and (last[2] < 0 or per_body[last[2]] < np.inf):
                    if ignored is None or ignored[n] == last[4]:
                        moved = sum(r * abs(a - b) for r, a, b in zip(reach, q_row, last[0], strict=True))
                if moved is not None and moved <= reuse_tolerance_m and last[1] >= keep_above:
                    reused += 1
                    if last[2] >= 0:
                        distance[row], body_out[row], link_out[row] = last[1], self.names[last[2]], last[3]
                    continue
                limit = radius
                if moved is not None and last[2] >= 0:
                    limit = min(radius, last[1] + moved + 1e-6)
                best, best_body, best_link = self._query(q_row, per_body, bounds[local], limit, link_ids, n_links)
                calls += best_link[1]
                posed += 1
                if best_body < 0 and limit < radius:  # numerical edge: ask again with the full radius
                    best, best_body, best_link = self._query(q_row, per_body, bounds[local], radius, link_ids, n_links)
                    calls += best_link[1]
                link_name = None if best_body < 0 else self.link_names.get(best_link[0], str(best_link[0]))
                if best_body >= 0:
                    distance[row], body_out[row], link_out[row] = best, self.names[best_body], link_name
                last = (
                    q_row,
                    best if best_body >= 0 else radius,
                    best_body,
                    link_name,
                    None if ignored is None else ignored[n],
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
        )

    def _query(
        self,
        q_row: list[float],
        per_body: list[float],
        link_bounds_all: NDArray[np.float32],
        limit: float,
        link_ids: list[int],
        n_links: int,
    ) -> tuple[float, int, tuple[int, int]]:
        """Branch and bound over bodies (and links) for one pose; returns (distance, body, (link, calls))."""
        order = sorted((b, k) for k, b in enumerate(per_body) if b < limit)
        best, best_body, best_link, calls = limit, -1, -1, 0
        if not order:
            return best, best_body, (best_link, calls)
        self._pose(q_row)
        closest = pb.getClosestPoints
        client, body = self.client, self.body
        for bound, k in order:
            if bound >= best:
                break
            other = self.obstacle_ids[k]
            link_bounds = link_bounds_all[:, k].tolist()
            links = sorted((link_bounds[i], link_ids[i]) for i in range(n_links) if link_bounds[i] < best)
            if len(links) * 2 > n_links:  # most links: one query for the whole robot
                queries: list[tuple[float, int | None]] = [(-np.inf, None)]
            else:  # a few links: only those, nearest first (the base and far links are never computed)
                queries = list(links)
            for link_bound, link in queries:
                if link_bound >= best:
                    break
                calls += 1
                if link is None:
                    points = closest(body, other, best, physicsClientId=client)
                else:
                    points = closest(body, other, best, linkIndexA=link, physicsClientId=client)
                for point in points:
                    if point[3] != -1 and point[8] < best:
                        best, best_body, best_link = point[8], k, point[3]
        return best, best_body, (best_link, calls)
