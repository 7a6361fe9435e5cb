"""pybullet's own inverse dynamics, one call per sample: the reference the batched RNEA is tested against."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pybullet as pb
from numpy.typing import NDArray


def pybullet_inverse_dynamics(
    client: int, body: int, q: NDArray[np.float64], qd: NDArray[np.float64], qdd: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``calculateInverseDynamics`` for every row of ``q, qd, qdd`` (n x n_dof)."""
    rows = zip(q.tolist(), qd.tolist(), qdd.tolist(), strict=True)
    return np.array([pb.calculateInverseDynamics(body, a, b, c, physicsClientId=client) for a, b, c in rows])


def urdf_with_payload(urdf: Path, link: str, kg: float, out: Path) -> Path:
    """A copy of ``urdf`` with ``kg`` more in ``link``'s ``<inertial>`` mass: what pybullet needs to see a payload.

    Mesh paths are made absolute (the copy lives elsewhere; ``package://`` read beside the URDF, as pybullet does).
    """
    tree = ElementTree.parse(urdf)
    for mesh in tree.getroot().iter("mesh"):
        name = mesh.get("filename", "").removeprefix("package://")
        if name and not Path(name).is_absolute():
            mesh.set("filename", str((Path(urdf).parent / name).resolve()))
    element = next(el for el in tree.getroot().iter("link") if el.get("name") == link)
    mass = element.find("inertial/mass")
    assert mass is not None, f"{urdf}: link {link} has no <inertial> to add a payload to"
    mass.set("value", repr(float(mass.get("value", "0")) + kg))
    tree.write(out)
    return out
