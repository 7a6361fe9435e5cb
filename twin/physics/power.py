"""Electrical power of a robot from joint torques and speeds (SPEC.md, Physics).

P = controller_w + sum_j [ pos(tau_m,j w_j) + eta * neg(tau_m,j w_j) + k_j tau_m,j^2 ],
tau_m = tau_sensor + b w + c sign(w) (the drive's friction, before a joint torque sensor),
tau_sensor = scale * tau_rigid + offset + b_s w + c_s sign(w) (what a joint torque sensor reads).

Pure numpy: used by the physics twin, the replay and the calibration alike.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from twin.cell.spec import PowerModel


def _optional(values: list[float] | None, default: float) -> NDArray[np.float64] | float:
    return np.asarray(values) if values is not None else default


def sensor_torque(model: PowerModel, tau_rigid: NDArray[np.float64], qd: NDArray[np.float64]) -> NDArray[np.float64]:
    """Torque a joint torque sensor reads: rigid-body torque (scaled, offset) plus the friction it sees."""
    n = len(model.copper_loss_w_per_nm2)
    w = qd[:, :n]
    return (
        _optional(model.torque_scale, 1.0) * tau_rigid[:, :n]
        + _optional(model.torque_offset_nm, 0.0)
        + _optional(model.sensor_viscous_friction_nm_s_per_rad, 0.0) * w
        + _optional(model.sensor_coulomb_friction_nm, 0.0) * np.sign(w)
    )


def drive_friction(model: PowerModel, qd: NDArray[np.float64]) -> NDArray[np.float64]:
    """The drive's friction torque (motor and gearbox, before a joint torque sensor)."""
    w = qd[:, : len(model.copper_loss_w_per_nm2)]
    return np.asarray(model.viscous_friction_nm_s_per_rad) * w + np.asarray(model.coulomb_friction_nm) * np.sign(w)


def motor_torque(model: PowerModel, tau_rigid: NDArray[np.float64], qd: NDArray[np.float64]) -> NDArray[np.float64]:
    """Torque the drives deliver (what a motor current measures): the sensor's torque plus the drive's friction."""
    return sensor_torque(model, tau_rigid, qd) + drive_friction(model, qd)


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
