"""Inverse dynamics of a fixed-base robot for many samples at once: the recursive Newton-Euler algorithm in numpy.

pybullet's ``calculateInverseDynamics`` answers one state per call (about 5 µs each, and a Python call
around it); a replay asks for hundreds of thousands. :class:`RigidBodyModel` reads the same URDF pybullet
loads (prepared by :mod:`twin.physics.urdf`: frames without ``<inertial>`` massless) once, derives a model per
payload (:meth:`RigidBodyModel.with_payload`: the mass added at a link's centre of mass), and runs RNEA over
all samples as array operations, link by link. It gives pybullet's answer (tested to 1e-9 N·m on every
shipped robot, payload included).

Conventions, as pybullet's URDF importer: a link's frame is its parent joint's frame (joint origin, then
the joint's motion about or along its axis); the inertia tensor is taken about the centre of mass in the
``<inertial>`` origin's frame; a link without ``<inertial>`` has pybullet's default (1 kg, unit diagonal
inertia) unless the URDF was prepared massless; gravity is -9.81 m/s² along world z, turned into the base
frame by the base orientation.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
from numpy.typing import NDArray

from twin.errors import AssetError

GRAVITY = 9.81
CHUNK_ROWS = 8192
"""Rows computed together: their arrays stay in the cache."""
MOVABLE = ("revolute", "continuous", "prismatic")


def _floats(text: str | None, default: tuple[float, ...]) -> NDArray[np.float64]:
    return np.array([float(v) for v in text.split()]) if text else np.array(default, dtype=float)


def rpy_matrix(rpy: Sequence[float]) -> NDArray[np.float64]:
    """Rotation matrix of URDF roll-pitch-yaw (fixed axes x, y, z): ``Rz(yaw) @ Ry(pitch) @ Rx(roll)``."""
    r, p, y = rpy
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


@dataclass(frozen=True)
class Body:
    """One link below the root, with the joint that carries it."""

    name: str
    parent: int  # index into the bodies, -1 for the root link
    joint_type: str
    axis: NDArray[np.float64]  # unit, in the link frame
    origin_rotation: NDArray[np.float64]  # parent frame -> joint frame at zero
    origin_position: NDArray[np.float64]  # joint frame origin in the parent frame
    mass: float
    com: NDArray[np.float64]  # centre of mass in the link frame
    inertia: NDArray[np.float64]  # about the centre of mass, in the link frame
    dof: int  # index of the movable joint (URDF movable-joint order), -1 when fixed


def _inertial(link: ElementTree.Element | None) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    element = link.find("inertial") if link is not None else None
    if element is None:  # pybullet's default for a link without <inertial>
        return 1.0, np.zeros(3), np.eye(3)
    origin = element.find("origin")
    com = _floats(origin.get("xyz") if origin is not None else None, (0.0, 0.0, 0.0))
    rot = rpy_matrix(_floats(origin.get("rpy") if origin is not None else None, (0.0, 0.0, 0.0)))
    mass_el = element.find("mass")
    mass = float(mass_el.get("value", "0")) if mass_el is not None else 0.0
    i = element.find("inertia")
    get = (lambda k: float(i.get(k, "0"))) if i is not None else (lambda k: 0.0)
    tensor = np.array(
        [
            [get("ixx"), get("ixy"), get("ixz")],
            [get("ixy"), get("iyy"), get("iyz")],
            [get("ixz"), get("iyz"), get("izz")],
        ]
    )
    return mass, com, rot @ tensor @ rot.T


class RigidBodyModel:
    """The kinematic tree and inertias of a fixed-base URDF, for batched inverse dynamics.

    Args:
        urdf: The URDF file as pybullet loads it (already prepared: massless frames).

    Raises:
        AssetError: The file cannot be read, or it is not one tree.
    """

    def __init__(self, urdf: str | Path) -> None:
        try:
            root = ElementTree.parse(urdf).getroot()
        except (OSError, ElementTree.ParseError) as exc:
            raise AssetError(f"{urdf}: cannot read the URDF for inverse dynamics ({exc})") from exc
        links = {link.get("name", ""): link for link in root.iter("link")}
        joints = list(root.iter("joint"))
        children = {j.find("child").get("link") for j in joints if j.find("child") is not None}  # type: ignore[union-attr]
        roots = [name for name in links if name not in children]
        if len(roots) != 1:
            raise AssetError(f"{urdf}: a URDF is one tree with one root link; found roots {roots}")
        self.root = roots[0]
        by_parent: dict[str, list[ElementTree.Element]] = {}
        for joint in joints:
            parent = joint.find("parent")
            if parent is not None:
                by_parent.setdefault(parent.get("link", ""), []).append(joint)
        bodies: list[Body] = []
        index = {self.root: -1}
        dof = 0
        # pybullet numbers joints depth-first in the order the URDF lists them: so does its movable-joint order
        stack = list(reversed(by_parent.get(self.root, [])))
        while stack:
            joint = stack.pop()
            child = joint.find("child").get("link", "")  # type: ignore[union-attr]
            kind = joint.get("type", "fixed")
            origin = joint.find("origin")
            axis_el = joint.find("axis")
            axis = _floats(axis_el.get("xyz") if axis_el is not None else None, (1.0, 0.0, 0.0))
            norm = float(np.linalg.norm(axis))
            mass, com, inertia = _inertial(links.get(child))
            bodies.append(
                Body(
                    name=child,
                    parent=index[joint.find("parent").get("link", "")],  # type: ignore[union-attr]
                    joint_type=kind,
                    axis=axis / norm if norm > 0 else axis,
                    origin_rotation=rpy_matrix(_floats(origin.get("rpy") if origin is not None else None, (0, 0, 0))),
                    origin_position=_floats(origin.get("xyz") if origin is not None else None, (0.0, 0.0, 0.0)),
                    mass=mass,
                    com=com,
                    inertia=inertia,
                    dof=dof if kind in MOVABLE else -1,
                )
            )
            index[child] = len(bodies) - 1
            dof += kind in MOVABLE
            stack.extend(reversed(by_parent.get(child, [])))
        self.urdf = Path(urdf)
        self.bodies = tuple(bodies)
        self.n_dof = dof
        # a revolute joint's rotation is r0 (I + s K + (1 - c) K²): three constant matrices per body
        self._rodrigues: list[tuple[list[list[float]], list[list[float]], list[list[float]]]] = []
        for body in self.bodies:
            x, y, z = body.axis
            k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
            r0 = body.origin_rotation
            self._rodrigues.append((r0.tolist(), (r0 @ k).tolist(), (r0 @ k @ k).tolist()))

    def with_payload(self, link: str, kg: float) -> RigidBodyModel:
        """The same robot with ``kg`` more at ``link``'s centre of mass (tool plus part), the URDF not read again.

        Raises:
            AssetError: No such link below the root.
        """
        if not any(body.name == link for body in self.bodies):
            raise AssetError(f"{self.urdf}: no link {link!r} below the root to carry a payload")
        heavier = copy.copy(self)
        heavier.bodies = tuple(replace(b, mass=b.mass + kg) if b.name == link else b for b in self.bodies)
        return heavier

    def inverse_dynamics(
        self,
        q: NDArray[np.float64],
        qd: NDArray[np.float64],
        qdd: NDArray[np.float64],
        base_rotation: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        """Joint torques (forces for prismatic joints) for every row of ``q, qd, qdd`` (n x n_dof).

        Args:
            q: Joint positions, URDF movable-joint order.
            qd: Joint velocities.
            qdd: Joint accelerations.
            base_rotation: The fixed base's orientation in the world (3 x 3); identity when None. (pybullet's
                own inverse dynamics ignores it: a tilted base gets upright gravity there.)

        Returns:
            n x n_dof torques.
        """
        q, qd, qdd = (np.atleast_2d(np.asarray(a, dtype=float)) for a in (q, qd, qdd))
        gravity = np.array([0.0, 0.0, -GRAVITY])
        if base_rotation is not None:
            gravity = np.asarray(base_rotation).T @ gravity
        out = np.empty((q.shape[0], self.n_dof))
        # rows in chunks that stay in the cache; each vector is three contiguous arrays (structure of arrays)
        for start in range(0, q.shape[0], CHUNK_ROWS):
            rows = slice(start, start + CHUNK_ROWS)
            self._chunk(q[rows].T.copy(), qd[rows].T.copy(), qdd[rows].T.copy(), gravity, out[rows])
        return out

    def _chunk(self, q: Any, qd: Any, qdd: Any, gravity: NDArray[np.float64], out: NDArray[np.float64]) -> None:
        """RNEA on one chunk; ``q[j]`` is joint j's row of values (a vector is a list of three arrays or floats)."""
        count = len(self.bodies)
        rotations: list[Any] = [None] * count  # link -> parent frame, 3 x 3 nested lists
        positions: list[Any] = [None] * count  # link origin in the parent frame
        w: list[Any] = [None] * count
        dw: list[Any] = [None] * count
        dv: list[Any] = [None] * count
        force: list[Any] = [None] * count
        moment: list[Any] = [None] * count
        base_w = [0.0, 0.0, 0.0]
        base_dv = [-float(g) for g in gravity]
        for i, body in enumerate(self.bodies):
            if body.parent < 0:
                w_p, dw_p, dv_p = base_w, base_w, base_dv
            else:
                w_p, dw_p, dv_p = w[body.parent], dw[body.parent], dv[body.parent]
            z = body.axis.tolist()
            position: list[Any] = body.origin_position.tolist()
            if body.dof >= 0 and body.joint_type != "prismatic":
                angle = q[body.dof]
                s, omc = np.sin(angle), 1.0 - np.cos(angle)
                a, b, c = self._rodrigues[i]
                rotation = [[a[r][k] + b[r][k] * s + c[r][k] * omc for k in range(3)] for r in range(3)]
            else:
                rotation = body.origin_rotation.tolist()
                if body.joint_type == "prismatic":
                    slide = (body.origin_rotation @ body.axis).tolist()
                    position = [position[k] + slide[k] * q[body.dof] for k in range(3)]
            carried = _add(dv_p, _add(_cross(dw_p, position), _cross(w_p, _cross(w_p, position))))
            w_i, dw_i, dv_i = _rot_t(rotation, w_p), _rot_t(rotation, dw_p), _rot_t(rotation, carried)
            if body.dof >= 0:
                rate, accel = qd[body.dof], qdd[body.dof]
                if body.joint_type == "prismatic":
                    along = [z[k] * rate for k in range(3)]
                    cor = _cross(w_i, along)
                    dv_i = [dv_i[k] + 2.0 * cor[k] + z[k] * accel for k in range(3)]
                else:
                    spin = [z[k] * rate for k in range(3)]
                    cor = _cross(w_i, spin)
                    dw_i = [dw_i[k] + z[k] * accel + cor[k] for k in range(3)]
                    w_i = _add(w_i, spin)
            com = body.com.tolist()
            accel_com = _add(dv_i, _add(_cross(dw_i, com), _cross(w_i, _cross(w_i, com))))
            f_i = [body.mass * v for v in accel_com]
            inertia = body.inertia.tolist()
            n_i = _add(_matvec(inertia, dw_i), _add(_cross(w_i, _matvec(inertia, w_i)), _cross(com, f_i)))
            rotations[i], positions[i], w[i], dw[i], dv[i], force[i], moment[i] = (
                rotation, position, w_i, dw_i, dv_i, f_i, n_i,
            )  # fmt: skip
        for i in range(count - 1, -1, -1):
            body = self.bodies[i]
            if body.dof >= 0:
                z = body.axis.tolist()
                load = force[i] if body.joint_type == "prismatic" else moment[i]
                out[:, body.dof] = load[0] * z[0] + load[1] * z[1] + load[2] * z[2]
            if body.parent >= 0:
                f_parent = _matvec(rotations[i], force[i])
                force[body.parent] = _add(force[body.parent], f_parent)
                moment[body.parent] = _add(
                    moment[body.parent], _add(_matvec(rotations[i], moment[i]), _cross(positions[i], f_parent))
                )


def _add(a: Sequence[Any], b: Sequence[Any]) -> list[Any]:
    return [a[0] + b[0], a[1] + b[1], a[2] + b[2]]


def _cross(a: Sequence[Any], b: Sequence[Any]) -> list[Any]:
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]


def _matvec(m: Sequence[Sequence[Any]], v: Sequence[Any]) -> list[Any]:
    return [m[r][0] * v[0] + m[r][1] * v[1] + m[r][2] * v[2] for r in range(3)]


def _rot_t(m: Sequence[Sequence[Any]], v: Sequence[Any]) -> list[Any]:
    """``m`` transposed times ``v``: a parent-frame vector in the link frame."""
    return [m[0][c] * v[0] + m[1][c] * v[1] + m[2][c] * v[2] for c in range(3)]
