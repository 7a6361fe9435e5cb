"""Inverse dynamics of a fixed-base robot for many samples at once: the recursive Newton-Euler algorithm in numpy.

pybullet's ``calculateInverseDynamics`` answers one state per call (about 5 µs each, and a Python call
around it); a replay asks for hundreds of thousands. :class:`RigidBodyModel` reads the same URDF pybullet
loads (prepared by :mod:`twin.physics.urdf`: frames without ``<inertial>`` massless, a payload added to a
link's mass) and runs RNEA over all samples as array operations, link by link. It gives pybullet's answer
(tested to 1e-9 N·m on every shipped robot, payload included).

Conventions, as pybullet's URDF importer: a link's frame is its parent joint's frame (joint origin, then
the joint's motion about or along its axis); the inertia tensor is taken about the centre of mass in the
``<inertial>`` origin's frame; a link without ``<inertial>`` has pybullet's default (1 kg, unit diagonal
inertia) unless the URDF was prepared massless; gravity is -9.81 m/s² along world z, turned into the base
frame by the base orientation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
from numpy.typing import NDArray

from twin.errors import AssetError

GRAVITY = 9.81
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
        urdf: The URDF file as pybullet loads it (already prepared: massless frames, payload).
        extra_mass_kg: Mass added to links (a payload at the link's centre of mass), kg per link name.

    Raises:
        AssetError: The file cannot be read, or it is not one tree.
    """

    def __init__(self, urdf: str | Path, extra_mass_kg: Mapping[str, float] | None = None) -> None:
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
        extra = dict(extra_mass_kg or {})
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
                    mass=mass + extra.pop(child, 0.0),
                    com=com,
                    inertia=inertia,
                    dof=dof if kind in MOVABLE else -1,
                )
            )
            index[child] = len(bodies) - 1
            dof += kind in MOVABLE
            stack.extend(reversed(by_parent.get(child, [])))
        if extra:
            raise AssetError(f"{urdf}: no link {sorted(extra)[0]!r} below the root to carry a payload")
        self.bodies = tuple(bodies)
        self.n_dof = dof

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
            base_rotation: The fixed base's orientation in the world (3 x 3); identity when None.

        Returns:
            n x n_dof torques.
        """
        q, qd, qdd = (np.atleast_2d(np.asarray(a, dtype=float)) for a in (q, qd, qdd))
        n = q.shape[0]
        gravity = np.array([0.0, 0.0, -GRAVITY])
        if base_rotation is not None:
            gravity = np.asarray(base_rotation).T @ gravity
        count = len(self.bodies)
        rot: list[NDArray[np.float64]] = [np.empty(0)] * count  # parent frame -> link frame, n x 3 x 3 (R^T)
        pos: list[NDArray[np.float64]] = [np.empty(0)] * count  # link origin in the parent frame, n x 3
        w: list[NDArray[np.float64]] = [np.empty(0)] * count
        dw: list[NDArray[np.float64]] = [np.empty(0)] * count
        dv: list[NDArray[np.float64]] = [np.empty(0)] * count
        force: list[NDArray[np.float64]] = [np.empty(0)] * count
        torque: list[NDArray[np.float64]] = [np.empty(0)] * count
        zero = np.zeros((n, 3))
        base_dv = np.broadcast_to(-gravity, (n, 3))
        for i, body in enumerate(self.bodies):
            if body.parent < 0:
                w_p, dw_p, dv_p = zero, zero, base_dv
            else:
                w_p, dw_p, dv_p = w[body.parent], dw[body.parent], dv[body.parent]
            r0, p0, z = body.origin_rotation, body.origin_position, body.axis
            if body.dof >= 0 and body.joint_type != "prismatic":
                local = _axis_rotation(z, q[:, body.dof])  # joint frame -> link frame rotation, n x 3 x 3
                rotation = np.einsum("ij,njk->nik", r0, local)  # parent -> link, as columns (link axes in parent)
            else:
                rotation = np.broadcast_to(r0, (n, 3, 3))
            position = np.broadcast_to(p0, (n, 3))
            if body.joint_type == "prismatic":
                position = position + np.einsum("ij,j->i", r0, z)[None, :] * q[:, body.dof, None]
            rt = np.transpose(rotation, (0, 2, 1))  # parent frame -> link frame
            # the parent's motion carried to this link's origin, in the link frame
            carried = dv_p + np.cross(dw_p, position) + np.cross(w_p, np.cross(w_p, position))
            w_i = np.einsum("nij,nj->ni", rt, w_p)
            dw_i = np.einsum("nij,nj->ni", rt, dw_p)
            dv_i = np.einsum("nij,nj->ni", rt, carried)
            if body.dof >= 0:
                rate, accel = qd[:, body.dof, None], qdd[:, body.dof, None]
                if body.joint_type == "prismatic":
                    dv_i = dv_i + 2.0 * np.cross(w_i, z * rate) + z * accel
                else:
                    spin = z * rate
                    dw_i = dw_i + z * accel + np.cross(w_i, spin)
                    w_i = w_i + spin
            rot[i], pos[i], w[i], dw[i], dv[i] = rt, position, w_i, dw_i, dv_i
            c = body.com
            accel_com = dv_i + np.cross(dw_i, c) + np.cross(w_i, np.cross(w_i, c))
            force[i] = body.mass * accel_com
            torque[i] = dw_i @ body.inertia.T + np.cross(w_i, w_i @ body.inertia.T) + np.cross(c, force[i])
        out = np.zeros((n, self.n_dof))
        for i in range(count - 1, -1, -1):
            body = self.bodies[i]
            if body.dof >= 0:
                moment = force[i] if body.joint_type == "prismatic" else torque[i]
                out[:, body.dof] = moment @ body.axis
            if body.parent >= 0:
                to_parent = np.transpose(rot[i], (0, 2, 1))  # link frame -> parent frame
                f_parent = np.einsum("nij,nj->ni", to_parent, force[i])
                force[body.parent] = force[body.parent] + f_parent
                torque[body.parent] = (
                    torque[body.parent] + np.einsum("nij,nj->ni", to_parent, torque[i]) + np.cross(pos[i], f_parent)
                )
        return out


def _axis_rotation(axis: NDArray[np.float64], angle: NDArray[np.float64]) -> NDArray[np.float64]:
    """Rotations by ``angle`` (n) about the unit ``axis``: Rodrigues' formula, n x 3 x 3."""
    x, y, z = axis
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3)[None] + s * k[None] + (1.0 - c) * (k @ k)[None]
