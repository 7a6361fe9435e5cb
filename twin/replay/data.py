"""What one replay computes once and how it is set: shared by the player, the checks and the calibration.

Its own module so the anomaly checks can read a replay's data without importing the player that calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from twin.replay.signals import Samples, SignalConfig


@dataclass(frozen=True)
class ReplayConfig:
    """Settings of a replay."""

    signals: SignalConfig = field(default_factory=SignalConfig)
    clearance_hz: float = 25.0
    clearance_threshold_m: float = 0.02
    clearance_tolerance_m: float = 0.0005
    outlier_z: float = 8.0
    outlier_merge_s: float = 0.5
    series_hz: float = 10.0


@dataclass
class ReplayData:
    """Everything computed once per replay: samples, kinematics, rigid-body torques, clearance, cycles."""

    samples: Samples
    joint_names: list[str]
    logged: list[int]
    held: list[int]
    q: NDArray[np.float64]
    qd: NDArray[np.float64]
    qdd: NDArray[np.float64]
    tau_rb: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    max_velocity: NDArray[np.float64]
    cycle: NDArray[np.int64]  # -1 outside any cycle
    cycle_labels: list[str]
    clearance_rows: NDArray[np.int64] | None = None
    clearance_m: NDArray[np.float64] | None = None
    clearance_body: list[str | None] | None = None
    clearance_link: list[str | None] | None = None
    clearance_calls: int = 0

    @property
    def n_dof(self) -> int:
        """Movable joints of the robot."""
        return self.q.shape[1]

    def take(self, rows: NDArray[np.int64]) -> ReplayData:
        """The same replay restricted to ``rows`` (sorted); clearance rows are re-indexed."""
        new = replace(
            self,
            samples=self.samples.take(rows),
            q=self.q[rows],
            qd=self.qd[rows],
            qdd=self.qdd[rows],
            tau_rb=self.tau_rb[rows],
            cycle=self.cycle[rows],
        )
        if self.clearance_rows is not None and self.clearance_m is not None:
            position = np.full(len(self.q), -1, dtype=np.int64)
            position[rows] = np.arange(len(rows))
            keep = position[self.clearance_rows] >= 0
            new.clearance_rows = position[self.clearance_rows[keep]]
            new.clearance_m = self.clearance_m[keep]
            new.clearance_body = [b for b, k in zip(self.clearance_body or [], keep, strict=True) if k]
            new.clearance_link = [b for b, k in zip(self.clearance_link or [], keep, strict=True) if k]
        return new
