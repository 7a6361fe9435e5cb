"""Calibrate a robot's power model against recorded torques and power (``twin calibrate``).

Given the rigid-body torques ``tau`` of the replay, the model is linear in what it lacks:

- per joint, from measured torques (or drive gain x current): ``tau_meas = s tau + o + b w + c sign(w)``
  (torque scale ``0 <= s <= 2`` for model error, offset ``o``, viscous ``b`` >= 0 and Coulomb ``c`` >= 0 friction).
  The friction is put on its side of the torque sensor (:class:`twin.cell.spec.PowerModel`): a joint torque
  sensor sees only the friction between it and the link (``sensor_*``), so the drive's friction stays as it was
  and still costs power; a motor current sees all of it, and the drive's is what the sensor side leaves;
- from measured electrical power, with those motor torques ``tau_m``:
  ``P - sum pos(tau_m w) = P_0 + eta sum neg(tau_m w) + sum_j k_j tau_m,j^2`` (constant power ``P_0`` >= 0,
  regeneration ``eta`` in [0, 1], copper-loss coefficients ``k_j = k x prior ratio`` >= 0),

so both are bounded linear least squares on the training samples. The error before (the parameter set
in use) and after is measured on validation samples the fit never saw: given files, or the last 30 %
of the recording's time (a held-out block). Parameters the data cannot inform keep their prior values.

Calibrated parameters are stored as JSON under ``data/calibration/<key>.json`` with a versioned
parameter-set name (``<key>-cal-v<N>``) and used by later replays (and, through
:func:`calibrated_cell`, by scenarios); every result names the parameter set it used.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import ValidationError
from scipy.optimize import lsq_linear

from twin.cell.spec import CellSpec, PowerModel
from twin.errors import ConfigError, TelemetryError
from twin.paths import data_dir
from twin.physics.power import motor_torque
from twin.physics.urdf import UrdfOptions, links_without_inertial
from twin.replay.player import ReplayConfig, ReplayData, RobotContext, evaluate, measured_torque
from twin.replay.signals import Samples

TRAIN_FRACTION = 0.7
MIN_TRAIN_SAMPLES = 20
MAX_TORQUE_SCALE = 2.0
"""The largest torque scale a fit may give: beyond twice the URDF's torque the URDF is wrong, not the drive (an
unloaded wrist otherwise fits a scale of hundreds to noise, which a what-if would then plan with)."""
MIN_IMPROVEMENT = 0.01
"""A fit is kept when a held-out error falls by at least this share and none rises by more."""


def calibration_dir() -> Path:
    """Where calibrated parameter sets live: ``data/calibration``."""
    return data_dir() / "calibration"


def urdf_key(urdf_path: str | Path) -> str:
    """Calibration key of a URDF: its stem and a short hash of its bytes (a changed URDF is another robot)."""
    return f"{Path(urdf_path).stem}-{urdf_sha256(urdf_path)[:10]}"


def cell_key(cell: CellSpec, robot_id: str, options: UrdfOptions | None = None, urdf: Path | None = None) -> str:
    """Calibration key of a cell robot: ``<cell id>-<robot id>``, :func:`model_key` of its URDF (or ``urdf``)."""
    return model_key(f"{cell.cell.id}-{robot_id}", urdf or cell.robots[robot_id].urdf_path, options)


def model_key(key: str, urdf: Path | None, options: UrdfOptions | None = None) -> str:
    """A calibration key with the way the URDF is loaded: frames without ``<inertial>`` massless or at 1 kg.

    A URDF whose every link has an ``<inertial>`` is the same model either way and keeps ``key``; otherwise the
    massless model is ``<key>-massless-frames`` and pybullet's default ``<key>-default-mass``, so a
    calibration fitted on one never feeds the other.
    """
    if urdf is None or not links_without_inertial(urdf):
        return key
    keep = options is not None and options.keep_default_mass
    return f"{key}-default-mass" if keep else f"{key}-massless-frames"


def urdf_sha256(urdf: str | Path) -> str:
    """SHA-256 of a URDF's bytes: what a stored calibration was fitted on."""
    return hashlib.sha256(Path(urdf).read_bytes()).hexdigest()


def load_calibration(key: str, urdf: str | Path | None = None) -> PowerModel | None:
    """The stored calibrated power model of ``key``, or None.

    Args:
        key: The calibration key.
        urdf: The robot's URDF now: a calibration stored with another URDF's hash (a robot model swapped under
            the same id) is not used.

    Raises:
        ConfigError: The stored file is malformed.
    """
    path = calibration_dir() / f"{key}.json"
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        model = PowerModel(**document["power_model"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
        raise ConfigError(f"{path}: not a calibration file ({exc.__class__.__name__}); delete or fix it") from exc
    fitted_on = document.get("urdf_sha256")
    if urdf is not None and fitted_on is not None and fitted_on != urdf_sha256(urdf):
        return None
    return model


def next_parameter_set(key: str) -> str:
    """The next versioned parameter-set name of ``key`` (``<key>-cal-v1``, ``-v2``, ...)."""
    path = calibration_dir() / f"{key}.json"
    version = 0
    if path.is_file():
        try:
            version = int(json.loads(path.read_text(encoding="utf-8")).get("version", 0))
        except (OSError, ValueError, json.JSONDecodeError, AttributeError):
            version = 0
    return f"{key}-cal-v{version + 1}"


def store_calibration(key: str, model: PowerModel, meta: dict[str, Any]) -> Path:
    """Write the calibrated model (atomically) and return the file."""
    folder = calibration_dir()
    folder.mkdir(parents=True, exist_ok=True)
    version = int(model.parameter_set.rsplit("-v", 1)[-1]) if "-cal-v" in model.parameter_set else 1
    document = {
        "key": key,
        "parameter_set": model.parameter_set,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "power_model": model.model_dump(mode="json"),
        **meta,
    }
    path = folder / f"{key}.json"
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=f".{key}-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=2)
    os.replace(tmp, path)
    return path


def calibrated_cell(cell: CellSpec, sources: Mapping[str, str] | None = None, keep: Collection[str] = ()) -> CellSpec:
    """The cell with each robot's power model replaced by its stored calibration, where there is one.

    Args:
        cell: The cell (a scenario's changed cell).
        sources: Robot -> the robot whose calibration it takes (an added copy takes its original's);
            itself when absent.
        keep: Robots whose power model stays as the cell has it (a scenario that sets it).

    Returns:
        The cell; a calibration fitted on another URDF or joint count is not used.
    """
    robots = {}
    for robot_id, robot in cell.robots.items():
        source = (sources or {}).get(robot_id, robot_id)
        model = None
        if robot_id not in keep and robot.urdf_path is not None:
            model = load_calibration(cell_key(cell, source, urdf=robot.urdf_path), robot.urdf_path)
        fits = model is not None and len(model.copper_loss_w_per_nm2) == len(robot.power_model.copper_loss_w_per_nm2)
        robots[robot_id] = robot.model_copy(update={"power_model": model}) if fits else robot
    return cell.model_copy(update={"robots": robots})


def time_block_split(samples: Samples, fraction: float = TRAIN_FRACTION) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Rows of the first ``fraction`` of the replayed time (runs in order) and of the rest."""
    t = samples.t_s
    step = np.zeros(samples.n)
    if samples.n > 1:
        same = samples.segment[1:] == samples.segment[:-1]
        step[1:] = np.where(same, np.diff(t), 0.0)
    elapsed = np.cumsum(step)
    total = elapsed[-1] if samples.n else 0.0
    train = elapsed < fraction * total
    return np.nonzero(train)[0].astype(np.int64), np.nonzero(~train)[0].astype(np.int64)


def fit_joint_torque(
    tau_rb: NDArray[np.float64], w: NDArray[np.float64], measured: NDArray[np.float64]
) -> tuple[float, float, float, float] | None:
    """(scale, offset, viscous, Coulomb) of one joint by bounded least squares; None without data."""
    ok = np.isfinite(measured) & np.isfinite(tau_rb) & np.isfinite(w)
    if ok.sum() < MIN_TRAIN_SAMPLES:
        return None
    a = np.column_stack([tau_rb[ok], np.ones(ok.sum()), w[ok], np.sign(w[ok])])
    scale = np.maximum(np.abs(a).max(axis=0), 1e-12)  # column scaling keeps the solver well conditioned
    lower = np.array([0.0, -np.inf, 0.0, 0.0])
    upper = np.array([MAX_TORQUE_SCALE, np.inf, np.inf, np.inf])
    result = lsq_linear(a / scale, measured[ok], bounds=(lower * scale, upper * scale), method="bvls")
    s, o, b, c = (result.x / scale).tolist()
    return s, o, b, c


def fit_power(
    model: PowerModel, tau_rb: NDArray[np.float64], w: NDArray[np.float64], measured: NDArray[np.float64]
) -> tuple[float, float, list[float]] | None:
    """(constant power, regeneration, copper loss per joint) given the model's motor torques; None without data.

    Copper loss is one coefficient: it scales the prior per-joint coefficients when the prior has any
    (their ratios reflect the motors' sizes), else it is shared by every joint. One coefficient stays
    identifiable on short logs where per-joint ones would chase noise through joints that barely load.
    """
    n = len(model.copper_loss_w_per_nm2)
    ok = np.isfinite(measured) & np.all(np.isfinite(w[:, :n]), axis=1)
    if ok.sum() < MIN_TRAIN_SAMPLES:
        return None
    tau_m = motor_torque(model, tau_rb[ok], w[ok])
    mechanical = tau_m * w[ok, :n]
    positive = np.where(mechanical > 0, mechanical, 0.0).sum(axis=1)
    negative = np.where(mechanical < 0, mechanical, 0.0).sum(axis=1)
    prior = np.asarray(model.copper_loss_w_per_nm2, dtype=float)
    shape = prior / prior.max() if prior.max() > 0 else np.ones(n)
    a = np.column_stack([np.ones(ok.sum()), negative, (tau_m**2) @ shape])
    y = measured[ok] - positive
    scale = np.maximum(np.abs(a).max(axis=0), 1e-12)
    lower = np.zeros(3)
    upper = np.array([np.inf, 1.0, np.inf])
    result = lsq_linear(a / scale, y, bounds=(lower * scale, upper * scale), method="bvls")
    x = result.x / scale
    return float(x[0]), float(np.clip(x[1], 0.0, 1.0)), [float(v) for v in x[2] * shape]


def fit_model(data: ReplayData, context: RobotContext, parameter_set: str) -> tuple[PowerModel, list[int], bool]:
    """Fit the power model to ``data`` (training samples).

    Returns:
        The calibrated model, the joints whose torque parameters were fitted, and whether power was.

    Raises:
        TelemetryError: Nothing to fit: no measured torque, current with a drive gain, or power.
    """
    prior = context.model
    n = len(prior.copper_loss_w_per_nm2)
    measured, sources = measured_torque(data.samples, data.n_dof, context.drive_gains)
    scale = list(prior.torque_scale or [1.0] * n)
    offset = list(prior.torque_offset_nm or [0.0] * n)
    viscous = list(prior.viscous_friction_nm_s_per_rad)
    coulomb = list(prior.coulomb_friction_nm)
    sensor_viscous = list(prior.sensor_viscous_friction_nm_s_per_rad or [0.0] * n)
    sensor_coulomb = list(prior.sensor_coulomb_friction_nm or [0.0] * n)
    fitted = []
    for c in range(min(n, data.n_dof)):
        if not np.isfinite(measured[:, c]).any():
            continue
        fit = fit_joint_torque(data.tau_rb[:, c], data.qd[:, c], measured[:, c])
        if fit is None:
            continue
        if sources[c] == "current":  # a motor current sees all friction: the drive's is the rest of it
            scale[c], offset[c], b, f = fit
            viscous[c], coulomb[c] = max(b - sensor_viscous[c], 0.0), max(f - sensor_coulomb[c], 0.0)
        else:  # a joint torque sensor sees its own side only: the drive's friction stays as it was
            scale[c], offset[c], sensor_viscous[c], sensor_coulomb[c] = fit
        fitted.append(c + 1)
    model = prior.model_copy(
        update={
            "torque_scale": scale,
            "torque_offset_nm": offset,
            "viscous_friction_nm_s_per_rad": viscous,
            "coulomb_friction_nm": coulomb,
            "sensor_viscous_friction_nm_s_per_rad": sensor_viscous,
            "sensor_coulomb_friction_nm": sensor_coulomb,
            "parameter_set": parameter_set,
        }
    )
    power = data.samples.values.get("power_w")
    power_fitted = False
    if power is not None:
        fit = fit_power(model, data.tau_rb, data.qd, power)
        if fit is not None:
            controller, regeneration, copper = fit
            model = model.model_copy(
                update={
                    "controller_w": controller,
                    "regeneration_efficiency": regeneration,
                    "copper_loss_w_per_nm2": copper,
                }
            )
            power_fitted = True
    if not fitted and not power_fitted:
        raise TelemetryError(
            "nothing to calibrate against: the log has no measured torque (tau_N), current with a drive gain "
            "(i_N with k_N or --drive-gains) or power (power_w)"
        )
    return PowerModel(**model.model_dump()), fitted, power_fitted


@dataclass
class CalibrationResult:
    """The fitted model and the error before and after on validation samples."""

    model: PowerModel
    torque_joints: list[int]
    power_fitted: bool
    before: dict[str, Any]
    after: dict[str, Any]
    train_samples: int
    validation_samples: int
    validation: str
    accepted: bool = True
    decision: str = ""
    stored: Path | None = None

    def to_json(self) -> dict[str, Any]:
        """The object ``twin calibrate --json`` prints."""
        model = self.model
        return {
            "parameters": {
                "parameter_set": model.parameter_set,
                "torque_scale": model.torque_scale,
                "torque_offset_nm": model.torque_offset_nm,
                "viscous_friction_nm_s_per_rad": model.viscous_friction_nm_s_per_rad,
                "coulomb_friction_nm": model.coulomb_friction_nm,
                "sensor_viscous_friction_nm_s_per_rad": model.sensor_viscous_friction_nm_s_per_rad,
                "sensor_coulomb_friction_nm": model.sensor_coulomb_friction_nm,
                "copper_loss_w_per_nm2": model.copper_loss_w_per_nm2,
                "controller_w": model.controller_w,
                "regeneration_efficiency": model.regeneration_efficiency,
                "fitted_torque_joints": self.torque_joints,
                "fitted_power": self.power_fitted,
            },
            "before": self.before,
            "after": self.after,
            "train_samples": self.train_samples,
            "validation_samples": self.validation_samples,
            "validation": self.validation,
            "accepted": self.accepted,
            "decision": self.decision,
            "stored": None if self.stored is None else str(self.stored),
        }


def held_out_errors(figures: dict[str, Any]) -> dict[str, float]:
    """The held-out errors a fit is judged on, those the validation data has.

    Torque: the root-sum-square of the measured joints' RMSE (N·m); power: its RMSE (W).
    """
    rmse = [j["torque_rmse_nm"] for j in figures["joints"] if j.get("torque_rmse_nm") is not None]
    out = {"torque_nm": float(np.sqrt(np.sum(np.square(rmse))))} if rmse else {}
    if figures["power"].get("rmse_w") is not None:
        out["power_w"] = float(figures["power"]["rmse_w"])
    return out


def judge(before: dict[str, Any], after: dict[str, Any]) -> tuple[bool, str]:
    """Whether a fit helps on the held-out data, and why (a fit that does not is not stored).

    It helps when some held-out error (:func:`held_out_errors`) falls by :data:`MIN_IMPROVEMENT` or more and
    none rises by more than that.

    >>> fig = lambda t, p: {"joints": [{"torque_rmse_nm": t}], "power": {"rmse_w": p}}
    >>> judge(fig(3.0, 40.0), fig(1.0, 3.0))
    (True, 'held-out torque 3 -> 1 N·m, power 40 -> 3 W: kept')
    >>> judge(fig(1.0, 2.0), fig(1.0, 2.5))[1]
    'held-out torque 1 -> 1 N·m, power 2 -> 2.5 W (worse): not kept, the prior parameters stay'
    """
    was, now = held_out_errors(before), held_out_errors(after)
    unit = {"torque_nm": "N·m", "power_w": "W"}
    words = {"torque_nm": "torque", "power_w": "power"}
    parts, worse, better = [], [], []
    for name in was:
        a, b = was[name], now[name]
        parts.append(f"{words[name]} {a:.3g} -> {b:.3g} {unit[name]}")
        if b > a * (1 + MIN_IMPROVEMENT) and b - a > 1e-9:
            worse.append(name)
        elif b <= a * (1 - MIN_IMPROVEMENT):
            better.append(name)
    if not was:
        return False, "nothing measured on the held-out data: not kept, the prior parameters stay"
    text = "held-out " + ", ".join(parts)
    if worse:
        return False, text + " (worse): not kept, the prior parameters stay"
    if not better:
        return False, text + f" (not {MIN_IMPROVEMENT:.0%} better): not kept, the prior parameters stay"
    return True, text + ": kept"


def _figures(result_summary: dict[str, Any]) -> dict[str, Any]:
    keep = ("samples", "duration_s", "joints", "power", "motion", "anomalies", "parameter_set")
    return {k: result_summary[k] for k in keep}


def calibrate(
    data: ReplayData,
    context: RobotContext,
    parameter_set: str,
    validation: ReplayData | None = None,
    config: ReplayConfig | None = None,
    fraction: float = TRAIN_FRACTION,
) -> CalibrationResult:
    """Fit on ``data`` (or its first ``fraction`` of time) and measure before/after on the validation samples.

    Raises:
        TelemetryError: Too few samples to train or validate on, or nothing measured to fit.
    """
    config = config or ReplayConfig()
    if validation is None:
        train_rows, val_rows = time_block_split(data.samples, fraction)
        train, validation = data.take(train_rows), data.take(val_rows)
        how = f"held-out time block: last {round((1 - fraction) * 100)} %"
    else:
        train = data
        how = "validation files"
    if train.samples.n < MIN_TRAIN_SAMPLES or validation.samples.n < 2:
        raise TelemetryError(
            f"too few samples to calibrate: {train.samples.n} to train on, {validation.samples.n} to validate on"
        )
    model, joints, power = fit_model(train, context, parameter_set)
    before = _figures(evaluate(validation, context, config).summary)
    after = _figures(evaluate(validation, replace(context, model=model), config).summary)
    accepted, decision = judge(before, after)
    return CalibrationResult(
        model=model,
        torque_joints=joints,
        power_fitted=power,
        before=before,
        after=after,
        train_samples=train.samples.n,
        validation_samples=validation.samples.n,
        validation=how,
        accepted=accepted,
        decision=decision,
    )
