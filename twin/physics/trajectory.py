"""Jerk-limited, synchronized joint trajectories with Ruckig (no profile code of our own).

A motion through waypoints is a chain of Ruckig state-to-state segments that stop at each waypoint
(the open-source edition's way to pass waypoints). The speed override scales time: velocity limits
by s, acceleration by s², jerk by s³.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from ruckig import InputParameter, Result, Ruckig, Synchronization, Trajectory

from twin.errors import PhysicsError


@dataclass(frozen=True)
class SampledTrajectory:
    """Uniformly sampled positions, velocities and accelerations (n_samples x n_joints)."""

    t: NDArray[np.float64]
    q: NDArray[np.float64]
    qd: NDArray[np.float64]
    qdd: NDArray[np.float64]

    @property
    def duration_s(self) -> float:
        """Duration of the motion in seconds."""
        return float(self.t[-1]) if len(self.t) else 0.0


def plan_segment(
    start: NDArray[np.float64],
    goal: NDArray[np.float64],
    velocity: NDArray[np.float64],
    acceleration: NDArray[np.float64],
    jerk: NDArray[np.float64],
    speed_override: float,
    dt: float,
) -> SampledTrajectory:
    """Rest-to-rest time-optimal jerk-limited motion from ``start`` to ``goal``, sampled every ``dt``.

    Joints are time-synchronized so they all arrive together. Samples include both ends.

    Raises:
        PhysicsError: Ruckig rejects the input (e.g. a non-finite target).
    """
    n = len(start)
    s = float(speed_override)
    generator = Ruckig(n)
    inp = InputParameter(n)
    inp.current_position = [float(v) for v in start]
    inp.current_velocity = [0.0] * n
    inp.current_acceleration = [0.0] * n
    inp.target_position = [float(v) for v in goal]
    inp.target_velocity = [0.0] * n
    inp.target_acceleration = [0.0] * n
    inp.max_velocity = [float(v) * s for v in velocity]
    inp.max_acceleration = [float(v) * s * s for v in acceleration]
    inp.max_jerk = [float(v) * s**3 for v in jerk]
    inp.synchronization = Synchronization.Time
    trajectory = Trajectory(n)
    result = generator.calculate(inp, trajectory)
    if result not in (Result.Working, Result.Finished):
        raise PhysicsError(f"Ruckig could not plan the segment ({result})")
    duration = trajectory.duration
    steps = max(1, int(np.ceil(duration / dt - 1e-9)))
    times = np.minimum(np.arange(steps + 1) * dt, duration)
    q = np.empty((steps + 1, n))
    qd = np.empty_like(q)
    qdd = np.empty_like(q)
    for i, t in enumerate(times):
        pos, vel, acc = trajectory.at_time(float(t))
        q[i], qd[i], qdd[i] = pos, vel, acc
    return SampledTrajectory(np.arange(steps + 1) * dt, q, qd, qdd)


def hold(q: NDArray[np.float64], duration_s: float, dt: float) -> SampledTrajectory:
    """Standing still at ``q`` for ``duration_s`` (dwell while gripping or screwing)."""
    steps = max(1, int(round(duration_s / dt)))
    qs = np.repeat(np.asarray(q, dtype=float)[None, :], steps + 1, axis=0)
    zeros = np.zeros_like(qs)
    return SampledTrajectory(np.arange(steps + 1) * dt, qs, zeros, zeros.copy())


def concatenate(parts: list[SampledTrajectory], dt: float) -> SampledTrajectory:
    """Chain segments end to start (the shared boundary sample appears once)."""
    q = [parts[0].q] + [p.q[1:] for p in parts[1:]]
    qd = [parts[0].qd] + [p.qd[1:] for p in parts[1:]]
    qdd = [parts[0].qdd] + [p.qdd[1:] for p in parts[1:]]
    qs = np.concatenate(q)
    return SampledTrajectory(np.arange(len(qs)) * dt, qs, np.concatenate(qd), np.concatenate(qdd))
