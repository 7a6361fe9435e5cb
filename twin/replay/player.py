"""Replay recorded joint states in the physics twin: predicted against measured torque and power.

``replay_frame`` (a polars frame in the telemetry contract, e.g. from the warehouse) and ``replay_logs``
(files of any robot, through a column map) share one path:

1. :func:`twin.replay.signals.prepare` - order, gaps, uniform grid; Savitzky–Golay derivatives;
2. :func:`compute` - inverse dynamics of every sample (payload per operation for cell robots), joints the
   log lacks held fixed, clearance to the cell at a lower rate (``clearance_hz``);
3. :func:`evaluate` - the power model's torques and electrical power, the figures of SPEC.md per joint
   and for power, energy per cycle, anomalies, a decimated series for plots.

Calibration (``twin.replay.calibrate``) re-uses step 2 once and runs step 3 with the fitted parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from twin.cell.spec import CellSpec, PowerModel
from twin.errors import TelemetryError
from twin.physics.power import drive_friction, electrical_power, sensor_torque
from twin.replay import checks
from twin.replay.columns import ColumnMap, LogPart, map_file, read_logs
from twin.replay.data import ReplayConfig, ReplayData
from twin.replay.metrics import (
    MIN_MOVING_SHARE,
    MIN_VARIATION_SHARE,
    MOVING_RAD_S,
    figures,
    group_sum,
    interval_energy,
    moving_share,
    varies,
)
from twin.replay.signals import Samples, derivatives, prepare

if TYPE_CHECKING:
    from twin.physics.replay_world import ReplayRobot

DEFAULT_PARAMETER_SET = "default-uncalibrated"


@dataclass(frozen=True)
class RobotContext:
    """What the replay knows about the robot besides its physics."""

    robot_id: str | None
    model: PowerModel
    hold_q: tuple[float, ...] = ()
    payload_kg: float = 0.0
    drive_gains: dict[int, float] = field(default_factory=dict)
    step_payload_kg: dict[str, dict[str, float]] = field(default_factory=dict)  # step -> variant -> kg
    step_station: dict[str, str] = field(default_factory=dict)  # step -> station it may touch
    velocity_limits: tuple[float, ...] = ()
    source: str = ""  # the URDF or cell robot, for reports

    @property
    def parameter_set(self) -> str:
        """Name of the power model's parameter set."""
        return self.model.parameter_set


def default_power_model(n_dof: int) -> PowerModel:
    """A power model for a URDF without a cell: rigid-body torques, mechanical power only."""
    zeros = [0.0] * n_dof
    return PowerModel(
        controller_w=0.0,
        copper_loss_w_per_nm2=zeros,
        viscous_friction_nm_s_per_rad=zeros,
        coulomb_friction_nm=zeros,
        parameter_set=DEFAULT_PARAMETER_SET,
    )


def cell_context(
    cell: CellSpec, robot_id: str, model: PowerModel | None = None, payload_kg: float = 0.0
) -> RobotContext:
    """A cell robot's context: its power model, tool and per-operation payloads, home pose, limits."""
    robot = cell.robots[robot_id]
    step_payload: dict[str, dict[str, float]] = {}
    step_station: dict[str, str] = {}
    for variant in cell.variants:
        for op in cell.expand_plan(variant):
            if op.robot_id != robot_id:
                continue
            step_payload.setdefault(op.operation_id, {})[variant] = robot.tool.mass_kg + op.payload_kg
            if op.station_id:
                step_station[op.operation_id] = op.station_id
    step_payload[f"return_home_{robot_id}"] = {v: robot.tool.mass_kg for v in cell.variants}
    return RobotContext(
        robot_id=robot_id,
        model=model or robot.power_model,
        hold_q=tuple(float(v) for v in robot.home_q_rad),
        payload_kg=robot.tool.mass_kg + payload_kg,
        step_payload_kg=step_payload,
        step_station=step_station,
        velocity_limits=tuple(robot.limits.velocity_rad_per_s),
        source=f"{cell.cell.id}/{robot_id}",
    )


@dataclass
class ReplayResult:
    """Predicted against measured: the summary, one row per cycle, the anomalies, a series for plots."""

    summary: dict[str, Any]
    cycles: pl.DataFrame
    anomalies: pl.DataFrame
    series: pl.DataFrame
    tau_predicted: NDArray[np.float64]
    tau_measured: NDArray[np.float64]
    power_predicted_w: NDArray[np.float64]
    power_measured_w: NDArray[np.float64] | None

    def to_json(self) -> dict[str, Any]:
        """The object ``twin replay --json`` prints."""
        return self.summary


# step 2: physics ------------------------------------------------------------------------------------
def logged_joints(samples: Samples, n_dof: int, joint_names: list[str]) -> list[int]:
    """Joint numbers (from 1) the log has positions for.

    Raises:
        TelemetryError: A position column names a joint the robot does not have.
    """
    joints = sorted(int(k[2:]) for k in samples.values if k.startswith("q_") and k[2:].isdigit())
    for j in joints:
        if not 1 <= j <= n_dof:
            raise TelemetryError(f"unknown joint 'q_{j}'; valid: q_1..q_{n_dof} ({', '.join(joint_names)})")
    for key in samples.values:
        prefix, _, number = key.partition("_")
        if prefix in ("qd", "tau", "i") and number.isdigit() and not 1 <= int(number) <= n_dof:
            raise TelemetryError(f"unknown joint {key!r}; valid: {prefix}_1..{prefix}_{n_dof}")
    return joints


def assign_cycles(
    samples: Samples, robot_id: str | None, events: pl.DataFrame | None = None
) -> tuple[NDArray[np.int64], list[str], dict[str, str]]:
    """Cycle id per sample (-1 outside cycles), cycle labels, and each labelled cycle's variant.

    Preference: a ``cycle_id`` or ``unit_id`` column; the robot's ``cycle_start``/``cycle_end`` events;
    the program step (a cycle starts where the run's first step comes round again); else one cycle per
    run (file).
    """
    n = samples.n
    for key in ("cycle_id", "unit_id"):
        if key in samples.labels:
            raw = samples.labels[key]
            labels, ids = np.unique(np.where(raw == None, "", raw).astype(str), return_inverse=True)  # noqa: E711
            ids = ids.astype(np.int64)
            if "" in labels:
                blank = int(np.nonzero(labels == "")[0][0])
                ids = np.where(ids == blank, -1, ids - (ids > blank))
                labels = labels[labels != ""]
            return ids, [str(x) for x in labels], {}
    if events is not None and robot_id is not None and samples.absolute and events.height:
        found = _cycles_from_events(samples, robot_id, events)
        if found is not None:
            return found
    if "program_step" in samples.labels:
        steps = samples.labels["program_step"]
        starts = np.zeros(n, dtype=bool)
        for run in np.unique(samples.run).tolist():
            rows = np.nonzero(samples.run == run)[0]
            first = steps[rows[0]]
            run_steps = steps[rows]
            is_first = run_steps == first
            begin = is_first.copy()
            begin[1:] &= ~is_first[:-1]
            begin[0] = True
            starts[rows] = begin
        ids = np.cumsum(starts) - 1
        labels = []
        counters: dict[int, int] = {}
        for row in np.nonzero(starts)[0].tolist():
            run = int(samples.run[row])
            counters[run] = counters.get(run, 0) + 1
            labels.append(f"{samples.run_names[run]}#{counters[run]}")
        return ids.astype(np.int64), labels, {}
    return samples.run.astype(np.int64).copy(), list(samples.run_names), {}


def _cycles_from_events(
    samples: Samples, robot_id: str, events: pl.DataFrame
) -> tuple[NDArray[np.int64], list[str], dict[str, str]] | None:
    needed = {"ts", "station_id", "event", "unit_id"}
    if not needed <= set(events.columns):
        missing = sorted(needed - set(events.columns))
        raise TelemetryError(f"events: missing column {missing[0]!r}; events need {', '.join(sorted(needed))}")
    mine = events.filter(pl.col("station_id") == robot_id, pl.col("event").is_in(["cycle_start", "cycle_end"]))
    if mine.height == 0:
        return None
    ts = mine.get_column("ts")
    if ts.dtype == pl.String:
        ts = ts.str.to_datetime(time_unit="us", time_zone="UTC")
    if isinstance(ts.dtype, pl.Datetime):
        t = ts.dt.convert_time_zone("UTC").dt.epoch("us").to_numpy() / 1e6 if ts.dtype.time_zone else None
        if t is None:
            raise TelemetryError("events: column 'ts' has naive timestamps")
    else:
        t = ts.cast(pl.Int64).to_numpy() / 1e6
    kinds = mine.get_column("event").to_numpy()
    units = mine.get_column("unit_id").cast(pl.String).to_numpy()
    variants = (
        mine.get_column("variant").cast(pl.String).to_numpy()
        if "variant" in mine.columns
        else np.full(len(t), None, dtype=object)
    )
    order = np.argsort(t, kind="stable")
    t, kinds, units, variants = t[order], kinds[order], units[order], variants[order]
    start_mask = kinds == "cycle_start"
    start_t, start_unit = t[start_mask], units[start_mask]
    end_of: dict[str, float] = {}
    for time_s, unit in zip(t[~start_mask].tolist(), units[~start_mask].tolist(), strict=True):
        end_of.setdefault(unit, time_s)
    ends = np.array(
        [end_of.get(u, start_t[k + 1] if k + 1 < len(start_t) else np.inf) for k, u in enumerate(start_unit)]
    )
    k = np.searchsorted(start_t, samples.t_s + 1e-7, side="right") - 1
    inside = (k >= 0) & (samples.t_s <= np.where(k >= 0, ends[np.clip(k, 0, None)], -np.inf) + 1e-7)
    ids = np.where(inside, k, -1).astype(np.int64)
    used = np.unique(ids[ids >= 0])
    remap = np.full(len(start_t), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    ids = np.where(ids >= 0, remap[np.clip(ids, 0, None)], -1)
    labels = [str(start_unit[u]) for u in used.tolist()]
    variant_of = {
        str(u): str(v)
        for u, v, s in zip(units.tolist(), variants.tolist(), start_mask.tolist(), strict=True)
        if s and v
    }
    return ids, labels, variant_of


def compute(
    samples: Samples,
    robot: ReplayRobot,
    context: RobotContext,
    config: ReplayConfig | None = None,
    events: pl.DataFrame | None = None,
) -> ReplayData:
    """Kinematics, rigid-body torques, cycles and clearance of every sample.

    Raises:
        TelemetryError: The log names joints the robot lacks.
    """
    config = config or ReplayConfig()
    n_dof = robot.n_dof
    names = robot.joint_names
    logged = logged_joints(samples, n_dof, names)
    q_log, qd_log, qdd_log = derivatives(samples, logged, config.signals)
    n = samples.n
    hold = np.zeros(n_dof)
    given = np.asarray(context.hold_q[:n_dof], dtype=float)
    hold[: len(given)] = given
    lower, upper = robot.lower, robot.upper
    hold = np.where(np.isfinite(lower) & (hold < lower), lower, hold)
    hold = np.where(np.isfinite(upper) & (hold > upper), upper, hold)
    q = np.repeat(hold[None, :], n, axis=0)
    qd = np.zeros((n, n_dof))
    qdd = np.zeros((n, n_dof))
    columns = [j - 1 for j in logged]
    q[:, columns] = q_log
    qd[:, columns] = qd_log
    qdd[:, columns] = qdd_log
    cycle, labels, variant_of = assign_cycles(samples, context.robot_id, events)
    payload = _payload(samples, context, cycle, labels, variant_of)
    tau_rb = robot.inverse_dynamics(q, qd, qdd, payload)
    max_velocity = robot.max_velocity
    if context.velocity_limits:
        limits = np.asarray(context.velocity_limits[:n_dof])
        max_velocity = max_velocity.copy()
        max_velocity[: len(limits)] = limits
    data = ReplayData(
        samples=samples,
        joint_names=names,
        logged=logged,
        held=[j for j in range(1, n_dof + 1) if j not in logged],
        q=q,
        qd=qd,
        qdd=qdd,
        tau_rb=tau_rb,
        lower=lower,
        upper=upper,
        max_velocity=max_velocity,
        cycle=cycle,
        cycle_labels=labels,
    )
    if robot.has_cell and config.clearance_hz > 0:
        _clearance(data, robot, context, config)
    return data


def _payload(
    samples: Samples,
    context: RobotContext,
    cycle: NDArray[np.int64],
    labels: list[str],
    variant_of: dict[str, str],
) -> NDArray[np.float64] | float:
    """Mass on the tool mount per sample: the operation's (tool plus part, by the cycle's variant) or constant."""
    if not context.step_payload_kg or "program_step" not in samples.labels:
        return context.payload_kg
    home = context.step_payload_kg.get(f"return_home_{context.robot_id}", {})
    tool = float(next(iter(home.values()))) if home else 0.0
    extra = context.payload_kg - tool  # what the user added on top of the tool
    steps = samples.labels["program_step"]
    payload = np.full(samples.n, context.payload_kg)
    variant_per_cycle = np.array([variant_of.get(label) for label in labels] + [None], dtype=object)
    variants = variant_per_cycle[np.where(cycle >= 0, cycle, len(labels))]
    for step, by_variant in context.step_payload_kg.items():
        rows = steps == step
        if not rows.any():
            continue
        mean = float(np.mean(list(by_variant.values())))
        values = [by_variant.get(v, mean) if v is not None else mean for v in variants[rows].tolist()]
        payload[rows] = np.asarray(values) + extra
    return payload


def clearance_rows(samples: Samples, clearance_hz: float) -> NDArray[np.int64]:
    """Rows checked for clearance: every k-th sample of each segment (k from the rate) and its last one."""
    rows = []
    for start, stop in samples.segment_bounds():
        period = samples.period_s[int(samples.run[start])]
        every = max(1, int(round(1.0 / (clearance_hz * period)))) if period > 0 else 1
        segment_rows = np.arange(start, stop, every)
        if segment_rows[-1] != stop - 1:
            segment_rows = np.append(segment_rows, stop - 1)
        rows.append(segment_rows)
    return np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, dtype=np.int64)


def _clearance(data: ReplayData, robot: ReplayRobot, context: RobotContext, config: ReplayConfig) -> None:
    rows = clearance_rows(data.samples, config.clearance_hz)
    names = robot.obstacle_names
    ignore = None
    steps = data.samples.labels.get("program_step")
    if steps is not None and context.step_station:
        ignore = np.zeros((len(rows), len(names)), dtype=bool)
        index = {name: k for k, name in enumerate(names)}
        row_steps = steps[rows]
        for step, station in context.step_station.items():
            if station in index:
                ignore[row_steps == step, index[station]] = True
    result = robot.clearance(data.q[rows], ignore, config.clearance_tolerance_m, config.clearance_threshold_m)
    if result is None:
        return
    data.clearance_rows = rows
    data.clearance_m = result.distance_m
    data.clearance_body = result.body
    data.clearance_link = result.link
    data.clearance_calls = result.calls


# step 3: figures ------------------------------------------------------------------------------------
def predicted_torque(
    model: PowerModel, tau_rb: NDArray[np.float64], qd: NDArray[np.float64], sources: Sequence[str | None] = ()
) -> NDArray[np.float64]:
    """Joint torques per the model as each joint's measurement sees them; beyond the model, the rigid-body torque.

    A joint measured by its motor current (``sources[j] == "current"``) is compared with the drive's torque
    (the drive's friction included); any other with what a joint torque sensor reads (without it).
    """
    out = tau_rb.copy()
    n = min(len(model.copper_loss_w_per_nm2), tau_rb.shape[1])
    sensor, friction = sensor_torque(model, tau_rb, qd), drive_friction(model, qd)
    for j in range(n):
        current = j < len(sources) and sources[j] == "current"
        out[:, j] = sensor[:, j] + friction[:, j] if current else sensor[:, j]
    return out


def measured_torque(
    samples: Samples, n_dof: int, gains: dict[int, float]
) -> tuple[NDArray[np.float64], list[str | None]]:
    """Measured torque per joint (NaN where none): ``tau_N``, else drive gain x ``i_N``; and its source."""
    out = np.full((samples.n, n_dof), np.nan)
    source: list[str | None] = [None] * n_dof
    for j in range(1, n_dof + 1):
        tau = samples.values.get(f"tau_{j}")
        current = samples.values.get(f"i_{j}")
        if tau is not None and np.isfinite(tau).any():
            out[:, j - 1] = tau
            source[j - 1] = "torque"
        elif current is not None and j in gains and np.isfinite(current).any():
            out[:, j - 1] = gains[j] * current
            source[j - 1] = "current"
    return out, source


def model_power(model: PowerModel, tau_rb: NDArray[np.float64], qd: NDArray[np.float64]) -> NDArray[np.float64]:
    """Electrical power of the model (W) for every sample."""
    n = len(model.copper_loss_w_per_nm2)
    if tau_rb.shape[1] < n:
        raise TelemetryError(f"the power model has {n} joints, the robot {tau_rb.shape[1]}")
    return electrical_power(model, tau_rb, qd)


STATIC_NOTE = (
    f"the robot does not move (no joint faster than {MOVING_RAD_S} rad/s on {MIN_MOVING_SHARE:.0%} of the samples): "
    "R² is meaningless without motion; RMSE stands"
)


def _meaningful_r2(
    r2: float | None, measured: NDArray[np.float64], static: bool, quantity: str
) -> tuple[float | None, str | None]:
    """R² where it means something, else None and why (:mod:`twin.replay.metrics`)."""
    if r2 is None:
        return None, None
    if static:
        return None, "static log"
    if not varies(measured):
        return None, f"measured {quantity} nearly constant (std below {MIN_VARIATION_SHARE:.0%} of its RMS)"
    return r2, None


def evaluate(
    data: ReplayData, context: RobotContext, config: ReplayConfig | None = None, anomalies: bool = True
) -> ReplayResult:
    """Predicted against measured for one parameter set."""
    config = config or ReplayConfig()
    samples = data.samples
    model = context.model
    tau_meas, tau_source = measured_torque(samples, data.n_dof, context.drive_gains)
    tau_pred = predicted_torque(model, data.tau_rb, data.qd, tau_source)
    power_pred = model_power(model, data.tau_rb, data.qd)
    power_meas = samples.values.get("power_w")
    if power_meas is not None and not np.isfinite(power_meas).any():
        power_meas = None
    share = moving_share(data.qd)
    static = share < MIN_MOVING_SHARE
    joints_out = []
    for j in range(1, data.n_dof + 1):
        fig = figures(tau_meas[:, j - 1], tau_pred[:, j - 1]) if tau_source[j - 1] else {}
        r2, note = _meaningful_r2(fig.get("r2"), tau_meas[:, j - 1], static, "torque") if fig else (None, None)
        joints_out.append(
            {
                "joint": j,
                "name": data.joint_names[j - 1],
                "torque_r2": _round(r2),
                "torque_r2_note": note,
                "torque_rmse_nm": _round(fig.get("rmse")),
                "torque_nrmse": _round(fig.get("nrmse")),
                "measured": tau_source[j - 1],
                "held_fixed": j in data.held,
            }
        )
    e_pred = interval_energy(samples.t_s, samples.segment, power_pred)
    e_meas = interval_energy(samples.t_s, samples.segment, power_meas) if power_meas is not None else None
    pfig = figures(power_meas, power_pred) if power_meas is not None else {}
    power_r2, power_note = (
        _meaningful_r2(pfig.get("r2"), power_meas, static, "power") if power_meas is not None else (None, None)
    )
    found = checks.find_anomalies(data, tau_meas, tau_pred, power_meas, power_pred, config) if anomalies else []
    anomaly_frame = checks.anomalies_frame(found, samples.absolute)
    cycles = _cycles_frame(data, e_meas, e_pred, power_meas, power_pred, anomaly_frame)
    summary: dict[str, Any] = {
        "samples": int(samples.n),
        "duration_s": _round(samples.duration_s()),
        "joints": joints_out,
        "motion": {
            "moving_share": _round(share),
            "static": static,
            "note": STATIC_NOTE if static else None,
        },
        "power": {
            "r2": _round(power_r2),
            "r2_note": power_note,
            "rmse_w": _round(pfig.get("rmse")),
            "nrmse": _round(pfig.get("nrmse")),
            "energy_measured_j": None if e_meas is None else _round(float(np.nansum(e_meas))),
            "energy_predicted_j": _round(float(np.sum(e_pred))),
        },
        "anomalies": int(anomaly_frame.height),
        "anomaly_counts": {k: int(v) for k, v in anomaly_frame.group_by("kind").len().iter_rows()}
        if anomaly_frame.height
        else {},
        "held_fixed_joints": data.held,
        "parameter_set": model.parameter_set,
        "robot": context.source,
        "rate_hz": _round(samples.rate_hz),
        "resampled": samples.resampled,
        "runs": len(samples.run_names),
        "cycles": int(cycles.height),
        "clearance_checks": None if data.clearance_rows is None else len(data.clearance_rows),
        "min_clearance_m": None
        if data.clearance_m is None or not len(data.clearance_m)
        else _round(float(np.min(data.clearance_m))),
    }
    series = _series(data, tau_meas, tau_pred, power_meas, power_pred, config)
    return ReplayResult(summary, cycles, anomaly_frame, series, tau_pred, tau_meas, power_pred, power_meas)


def _round(value: float | None, digits: int = 6) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)


def _cycles_frame(
    data: ReplayData,
    e_meas: NDArray[np.float64] | None,
    e_pred: NDArray[np.float64],
    power_meas: NDArray[np.float64] | None,
    power_pred: NDArray[np.float64],
    anomalies: pl.DataFrame,
) -> pl.DataFrame:
    samples = data.samples
    n_cycles = len(data.cycle_labels)
    inside = data.cycle >= 0
    ids = data.cycle[inside]
    t = samples.t_s[inside]
    counts = np.bincount(ids, minlength=n_cycles)
    start = np.full(n_cycles, np.inf)
    stop = np.full(n_cycles, -np.inf)
    np.minimum.at(start, ids, t)
    np.maximum.at(stop, ids, t)
    pred = group_sum(e_pred[inside], ids, n_cycles)
    meas = group_sum(e_meas[inside], ids, n_cycles) if e_meas is not None else np.full(n_cycles, np.nan)
    if power_meas is not None:
        sq = group_sum((power_meas - power_pred)[inside] ** 2, ids, n_cycles)
        power_rmse = np.sqrt(sq / np.maximum(counts, 1))
    else:
        power_rmse = np.full(n_cycles, np.nan)
    min_clear = np.full(n_cycles, np.nan)
    if data.clearance_rows is not None and data.clearance_m is not None and len(data.clearance_rows):
        c_ids = data.cycle[data.clearance_rows]
        ok = c_ids >= 0
        min_clear = np.full(n_cycles, np.inf)
        np.minimum.at(min_clear, c_ids[ok], data.clearance_m[ok])
        min_clear[np.isinf(min_clear)] = np.nan
    n_anomalies = np.zeros(n_cycles, dtype=np.int64)
    if anomalies.height:
        per = anomalies.filter(pl.col("cycle").is_not_null()).group_by("cycle").len()
        where = {label: k for k, label in enumerate(data.cycle_labels)}
        for label, count in per.iter_rows():
            if label in where:
                n_anomalies[where[label]] = count
    keep = counts > 0
    frame = pl.DataFrame(
        {
            "cycle": [label for label, k in zip(data.cycle_labels, keep, strict=True) if k],
            "start_s": start[keep],
            "duration_s": (stop - start)[keep],
            "n_samples": counts[keep].astype(np.int64),
            "energy_measured_j": meas[keep],
            "energy_predicted_j": pred[keep],
            "power_rmse_w": power_rmse[keep],
            "min_clearance_m": min_clear[keep],
            "n_anomalies": n_anomalies[keep],
        },
        schema={
            "cycle": pl.String,
            "start_s": pl.Float64,
            "duration_s": pl.Float64,
            "n_samples": pl.Int64,
            "energy_measured_j": pl.Float64,
            "energy_predicted_j": pl.Float64,
            "power_rmse_w": pl.Float64,
            "min_clearance_m": pl.Float64,
            "n_anomalies": pl.Int64,
        },
    )
    frame = frame.with_columns(
        ((pl.col("energy_predicted_j") - pl.col("energy_measured_j")) / pl.col("energy_measured_j") * 100.0)
        .fill_nan(None)
        .alias("energy_error_pct")
    )
    if samples.absolute:
        frame = frame.with_columns(
            pl.from_epoch((pl.col("start_s") * 1e6).round().cast(pl.Int64), time_unit="us")
            .dt.replace_time_zone("UTC")
            .alias("start_at")
        )
    return frame.sort("start_s")


def _series(
    data: ReplayData,
    tau_meas: NDArray[np.float64],
    tau_pred: NDArray[np.float64],
    power_meas: NDArray[np.float64] | None,
    power_pred: NDArray[np.float64],
    config: ReplayConfig,
) -> pl.DataFrame:
    """Every k-th sample of each segment (about ``series_hz``), for plots."""
    samples = data.samples
    rows = clearance_rows(samples, config.series_hz) if config.series_hz > 0 else np.arange(samples.n)
    labels = np.array(data.cycle_labels + [None], dtype=object)
    columns: dict[str, Any] = {
        "t_s": samples.t_s[rows],
        "run": samples.run[rows],
        "cycle": labels[np.where(data.cycle[rows] >= 0, data.cycle[rows], len(data.cycle_labels))].tolist(),
        "power_measured_w": power_meas[rows] if power_meas is not None else np.full(len(rows), np.nan),
        "power_predicted_w": power_pred[rows],
    }
    if "program_step" in samples.labels:
        columns["program_step"] = [None if v is None else str(v) for v in samples.labels["program_step"][rows]]
    for j in range(1, data.n_dof + 1):
        columns[f"q_{j}"] = data.q[rows, j - 1]
        columns[f"tau_measured_{j}"] = tau_meas[rows, j - 1]
        columns[f"tau_predicted_{j}"] = tau_pred[rows, j - 1]
    if data.clearance_rows is not None and data.clearance_m is not None and len(data.clearance_rows):
        k = np.clip(np.searchsorted(data.clearance_rows, rows, side="right") - 1, 0, len(data.clearance_rows) - 1)
        columns["clearance_m"] = data.clearance_m[k]
    frame = pl.DataFrame(columns)
    frame = frame.with_columns(pl.col("cycle").cast(pl.String))
    if samples.absolute:
        frame = frame.with_columns(
            pl.from_epoch((pl.col("t_s") * 1e6).round().cast(pl.Int64), time_unit="us")
            .dt.replace_time_zone("UTC")
            .alias("ts")
        )
    return frame


# entry points -----------------------------------------------------------------------------------------
def replay_samples(
    samples: Samples,
    robot: ReplayRobot,
    context: RobotContext,
    config: ReplayConfig | None = None,
    events: pl.DataFrame | None = None,
) -> tuple[ReplayResult, ReplayData]:
    """Steps 2 and 3 on prepared samples."""
    data = compute(samples, robot, context, config, events)
    return evaluate(data, context, config), data


def replay_logs(
    paths: Sequence[str | Path],
    robot: ReplayRobot,
    context: RobotContext,
    cmap: ColumnMap | None = None,
    config: ReplayConfig | None = None,
    events: pl.DataFrame | None = None,
) -> tuple[ReplayResult, ReplayData]:
    """Replay log files (CSV, Parquet, JSON Lines) through a column map."""
    config = config or ReplayConfig()
    cmap = cmap or ColumnMap()
    parts = read_logs(paths, cmap, robot_id=context.robot_id)
    if cmap.drive_gains and not context.drive_gains:
        context = replace(context, drive_gains=dict(cmap.drive_gains))
    samples = prepare(parts, config.signals)
    return replay_samples(samples, robot, context, config, events)


def frame_parts(frame: pl.DataFrame, name: str = "frame", cmap: ColumnMap | None = None) -> list[LogPart]:
    """A frame in the telemetry contract (one robot) as one run."""
    if frame.height == 0:
        raise TelemetryError(f"{name}: no joint states to replay")
    part = map_file(Path(name), frame, cmap or ColumnMap())
    if not part.has_positions:
        raise TelemetryError(f"{name}: no joint positions (q_1..q_n); found: {', '.join(frame.columns)}")
    return [part]


def replay_frame(
    frame: pl.DataFrame,
    robot: ReplayRobot,
    context: RobotContext,
    config: ReplayConfig | None = None,
    events: pl.DataFrame | None = None,
    name: str = "joint_states",
) -> tuple[ReplayResult, ReplayData]:
    """Replay one robot's joint states given as a polars frame in the telemetry contract.

    Args:
        frame: Columns ``ts`` (UTC datetime, ISO text or epoch µs) or ``t_s``, ``q_N`` and optionally
            ``qd_N``, ``tau_N``, ``i_N``, ``power_w``, ``program_step``, ``cycle_id``/``unit_id``.
        robot: The physics side (:class:`twin.physics.replay_world.ReplayRobot`).
        context: Power model, payloads, held joint positions, drive gains.
        config: Replay settings.
        events: The cell's events (for cycles and variants), optional.
        name: How errors name the frame.

    Returns:
        The figures and the computed per-sample data.
    """
    config = config or ReplayConfig()
    if "robot_id" in frame.columns and context.robot_id is not None:
        frame = frame.filter(pl.col("robot_id") == context.robot_id)
    samples = prepare(frame_parts(frame, name), config.signals)
    return replay_samples(samples, robot, context, config, events)
