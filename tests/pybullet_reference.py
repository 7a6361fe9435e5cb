"""pybullet's own inverse dynamics, one call per sample: the reference the batched RNEA is tested against."""

from __future__ import annotations

import numpy as np
import pybullet as pb
from numpy.typing import NDArray


def pybullet_inverse_dynamics(
    client: int, body: int, q: NDArray[np.float64], qd: NDArray[np.float64], qdd: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``calculateInverseDynamics`` for every row of ``q, qd, qdd`` (n x n_dof)."""
    rows = zip(q.tolist(), qd.tolist(), qdd.tolist(), strict=True)
    return np.array([pb.calculateInverseDynamics(body, a, b, c, physicsClientId=client) for a, b, c in rows])
