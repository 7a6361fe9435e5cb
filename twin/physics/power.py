"""Electrical power of a robot from joint torques and speeds (SPEC.md, Physics).

P = controller_w + sum_j [ pos(tau_m,j w_j) + eta * neg(tau_m,j w_j) + k_j tau_m,j^2 ],
tau_m = scale * tau_rigid + offset + b w + c sign(w).

Pure numpy: used by the physics twin, the replay and the calibration alike.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from twin.cell.spec import PowerModel


def motor_torque(model: PowerModel, tau_rigid: NDArray[np.float64], qd: NDArray[np.float64]) -> NDArray[np.float64]:
    """Torque the drives deliver: rigid-body torque (scaled, offset) plus viscous and Coulomb friction."""
    n = len(model.copper_loss_w_per_nm2)
    tau = tau_rigid[:, :n]
    w = qd[:, :n]
    scale = np.asarray(model.torque_scale) if model.torque_scale is not None else 1.0
    offset = np.asarray(model.torque_offset_nm) if model.torque_offset_nm is not None else 0.0
    viscous = np.asarray(model.viscous_friction_nm_s_per_rad)
    coulomb = np.asarray(model.coulomb_friction_nm)
    return scale * tau + offset + viscous * w + coulomb * np.sign(w)


def electrical_power(model: PowerModel, tau_rigid: NDArray[np.float64], qd: NDArray[np.float64]) -> NDArray[np.float64]:
    """Electrical input power in W for every sample (rows of ``tau_rigid`` and ``qd``)."""
    n = len(model.copper_loss_w_per_nm2)
    tau_m = motor_torque(model, tau_rigid, qd)
    mechanical = tau_m * qd[:, :n]
    recovered = np.where(mechanical >= 0.0, mechanical, model.regeneration_efficiency * mechanical)
    copper = np.asarray(model.copper_loss_w_per_nm2) * tau_m**2
    return model.controller_w + (recovered + copper).sum(axis=1)


def energy_j(power_w: NDArray[np.float64], dt: float) -> float:
    """Energy of a uniformly sampled power series (trapezoid rule), in J."""
    if len(power_w) < 2:
        return 0.0
    return float(np.trapezoid(power_w, dx=dt))
