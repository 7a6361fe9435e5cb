"""Recorded joint states in the physics twin: ``replay`` (predicted vs measured torque and power) and ``calibrate``.

Sources of joint states: a cell robot's from the warehouse (``robot=ID``, optionally ``start``/``end``), a
cell robot's from files (``robot=ID, joint_states=[...]``), or any robot's log (``urdf=PATH,
joint_states=[...]``, with ``columns`` mapping a foreign log onto the telemetry contract). Every result
names the parameter set it used: a stored calibration of the robot (``data/calibration/``) when there is
one, else the cell's nominal power model (a rigid-body default for a foreign URDF); ``nominal=True``
ignores stored calibrations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from twin.analytics.period import parse_instant
from twin.api._inputs import CellInput, resolve_cell, resolve_warehouse
from twin.cell.spec import PowerModel
from twin.errors import InputError
from twin.physics.urdf import UrdfOptions
from twin.replay.calibrate import (
    TRAIN_FRACTION,
    CalibrationResult,
    next_parameter_set,
    store_calibration,
    urdf_sha256,
)
from twin.replay.calibrate import calibrate as fit_calibration
from twin.replay.columns import ColumnMap, read_logs
from twin.replay.player import ReplayConfig, compute, frame_parts, replay_samples
from twin.replay.resolve import ReplayTarget, clip_to_period, open_robot, read_event_files, replay_run_id
from twin.replay.signals import Samples, SignalConfig, prepare
from twin.replay.store import read_events, read_joint_states, write_replay_results
from twin.warehouse.connection import read_connection, write_job
from twin.warehouse.plans import warehouse_exists

Instant = datetime | date | str
"""A period bound: an aware datetime, a date (local midnight in the cell's zone) or the text of either."""


@dataclass(frozen=True)
class ReplayReport:
    """Predicted against measured torque and power of one replayed log.

    Attributes:
        summary: The figures ``--json`` prints: samples, rate, joints, power, clearance, cycles, anomalies,
            the parameter set, the run id and (when stored) the warehouse.
        cycles: One row per cycle: duration, energy predicted and measured.
        anomalies: One row per anomaly episode with its kind.
        series: A downsampled series of predicted and measured power for plots.
    """

    summary: dict[str, Any]
    cycles: pl.DataFrame
    anomalies: pl.DataFrame
    series: pl.DataFrame

    @property
    def run_id(self) -> str:
        """The replay's run id (the same robot, data and parameter set give the same id)."""
        return str(self.summary["run_id"])

    @property
    def parameter_set(self) -> str:
        """The power model's parameter set: a stored calibration, ``nominal`` or ``default-uncalibrated``."""
        return str(self.summary["parameter_set"])

    @property
    def stored(self) -> str | None:
        """The warehouse the results were written to, if any."""
        return self.summary.get("stored")

    def to_dict(self) -> dict[str, Any]:
        """The object ``twin replay --json`` prints."""
        return dict(self.summary)


@dataclass(frozen=True)
class CalibrationReport:
    """A fitted power model and its error before and after on validation samples.

    Attributes:
        result: The fitted model, the joints and power it fitted, the figures before and after, where stored.
    """

    result: CalibrationResult

    @property
    def model(self) -> PowerModel:
        """The fitted power model."""
        return self.result.model

    @property
    def parameter_set(self) -> str:
        """The fitted parameter set's name (``<robot key>-cal-v<N>``)."""
        return self.result.model.parameter_set

    @property
    def stored(self) -> Path | None:
        """The file the parameters were stored in, if any."""
        return self.result.stored

    def to_dict(self) -> dict[str, Any]:
        """The object ``twin calibrate --json`` prints: ``{"parameters", "before", "after", ...}``."""
        return self.result.to_json()


@dataclass(frozen=True)
class _Prepared:
    """A replay's inputs once resolved: robot, settings, samples, events and where they came from."""

    target: ReplayTarget
    config: ReplayConfig
    cmap: ColumnMap
    samples: Samples
    events: pl.DataFrame | None
    origin: dict[str, Any]
    warehouse: str | Path


def _target(source: _Source) -> ReplayTarget:
    if (source.robot is None) == (source.urdf is None):
        raise InputError("give robot (a robot of the cell) or urdf (any robot's URDF file), exactly one")
    if source.urdf is not None:
        if not source.joint_states:
            raise InputError("a URDF needs joint-state files (the robot's log)")
        return ReplayTarget.from_urdf(source.urdf, source.urdf_options)
    cell = resolve_cell(source.cell, source.overrides)
    return ReplayTarget.in_cell(cell, str(source.robot), source.urdf_options)


def _config(window_s: float, clearance_hz: float, clearance_tolerance_m: float, payload_kg: float) -> ReplayConfig:
    if window_s <= 0:
        raise InputError(f"window_s {window_s}: must be positive")
    if clearance_hz < 0:
        raise InputError(f"clearance_hz {clearance_hz}: must be zero (off) or positive")
    if payload_kg < 0:
        raise InputError(f"payload_kg {payload_kg}: must not be negative")
    if clearance_tolerance_m < 0:
        raise InputError(f"clearance_tolerance_m {clearance_tolerance_m}: must not be negative")
    return ReplayConfig(
        signals=SignalConfig(window_s=window_s),
        clearance_hz=clearance_hz,
        clearance_tolerance_m=clearance_tolerance_m,
    )


def _instant(value: Instant | None, timezone: str, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InputError(f"{name} {value.isoformat()}: a date-time must carry a time zone")
        return value.astimezone(UTC)
    if isinstance(value, date):
        value = value.isoformat()
    return parse_instant(value, timezone, name)


def _period(start: Instant | None, end: Instant | None, timezone: str) -> tuple[datetime | None, datetime | None]:
    lo, hi = _instant(start, timezone, "start"), _instant(end, timezone, "end")
    if lo is not None and hi is not None and lo >= hi:
        raise InputError(f"start {start} is not before end {end} (start is inclusive, end exclusive)")
    return lo, hi


@dataclass(frozen=True)
class _Source:
    """Where the joint states ``replay`` and ``calibrate`` read come from (their shared parameters, as given)."""

    robot: str | None
    urdf: str | Path | None
    joint_states: Sequence[str | Path] | None
    columns: str | Path | None
    drive_gains: str | Sequence[float] | None
    events: Sequence[str | Path] | None
    start: Instant | None
    end: Instant | None
    cell: CellInput
    overrides: Iterable[str]
    warehouse: str | Path | None
    urdf_options: UrdfOptions


def _prepare(source: _Source, config: ReplayConfig) -> _Prepared:
    cmap = ColumnMap.parse(None if source.columns is None else str(source.columns), source.drive_gains)
    target = _target(source)
    if target.cell is not None:
        config = replace(config, clearance_threshold_m=target.cell.cell.clearance_threshold_m)
    lo, hi = _period(source.start, source.end, target.timezone)
    event_frame = read_event_files(source.events)
    where = resolve_warehouse(source.warehouse)
    if source.joint_states:
        logs = read_logs(source.joint_states, cmap, robot_id=target.robot_id)
        parts = [clip_to_period(p, lo, hi) for p in logs]
        origin: dict[str, Any] = {"files": [str(f) for f in source.joint_states]}
    else:
        cell_id = target.cell.cell.id if target.cell is not None else ""
        with read_connection(where) as con:
            frame = read_joint_states(con, cell_id, target.robot_id or "", lo, hi)
            if event_frame is None:
                event_frame = read_events(con, cell_id, target.robot_id or "", lo, hi)
        parts = frame_parts(frame, f"{where}:joint_states")
        origin = {"warehouse": str(where), "cell": cell_id}
    origin.update({"from": None if lo is None else lo.isoformat(), "to": None if hi is None else hi.isoformat()})
    return _Prepared(target, config, cmap, prepare(parts, config.signals), event_frame, origin, where)


def replay(
    robot: str | None = None,
    *,
    urdf: str | Path | None = None,
    joint_states: Sequence[str | Path] | None = None,
    columns: str | Path | None = None,
    drive_gains: str | Sequence[float] | None = None,
    payload_kg: float = 0.0,
    events: Sequence[str | Path] | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    cell: CellInput = None,
    overrides: Iterable[str] = (),
    window_s: float = SignalConfig.window_s,
    clearance_hz: float = ReplayConfig.clearance_hz,
    clearance_tolerance_m: float = ReplayConfig.clearance_tolerance_m,
    nominal: bool = False,
    package_paths: Sequence[str | Path] = (),
    keep_default_mass: bool = False,
    warehouse: str | Path | None = None,
    store: bool = True,
    out_dir: str | Path | None = None,
) -> ReplayReport:
    """Replay recorded joint states in the physics twin: predicted vs measured torque and power (``twin replay``).

    Args:
        robot: A robot of the cell; its joint states come from the warehouse unless ``joint_states`` is given.
        urdf: Any robot's URDF instead (a foreign log: no cell, no clearance); needs ``joint_states``.
        joint_states: Log files (CSV, Parquet, JSON Lines).
        columns: Column map ``q_1=actual_q_0,...,t_s=timestamp`` (``k_N=<gain>``, ``#N`` for column N) or a
            YAML file of it.
        drive_gains: N·m/A per joint (torque = gain x current), as numbers or ``"G1,G2,..."``.
        payload_kg: Mass on the tool mount besides a cell tool.
        events: Events files (cycles) for a cell robot; default from the warehouse when reading it.
        start: Inclusive start of the period (a date means local midnight in the cell's zone).
        end: Exclusive end of the period.
        cell: A loaded cell, a cell YAML file, or None for the sample cell.
        overrides: ``path.to.key=value`` strings applied to the cell file first.
        window_s: Savitzky-Golay window in seconds.
        clearance_hz: Clearance check rate (0: off).
        clearance_tolerance_m: Reuse a clearance answer while the robot moved less than this (0: every check exact).
        nominal: Use the nominal parameters, not a stored calibration.
        package_paths: Folders in which the URDF's ``package://`` mesh URIs are looked up (as ``ROS_PACKAGE_PATH``).
        keep_default_mass: Leave URDF links without ``<inertial>`` at pybullet's 1 kg instead of massless.
        warehouse: The warehouse file (default ``data/twin.duckdb``): read when no files are given, and
            written to for a cell robot's warehouse replay unless ``store`` is False.
        store: Write the results of a warehouse replay back to the warehouse.
        out_dir: Also write ``cycles``, ``anomalies`` and ``series`` as Parquet files there.

    Returns:
        The figures, the cycles, the anomalies and a series for plots.

    Raises:
        InputError: Not exactly one of ``robot`` and ``urdf``, an unknown robot, a value out of range, or a
            malformed period or column map.
        TelemetryError: A log cannot be read or holds no samples in the period.
        WarehouseError: There is no warehouse to read from, or another process is writing it.
    """
    options = UrdfOptions(tuple(Path(p) for p in package_paths), keep_default_mass)
    source = _Source(
        robot, urdf, joint_states, columns, drive_gains, events, start, end, cell, overrides, warehouse, options
    )
    prepared = _prepare(source, _config(window_s, clearance_hz, clearance_tolerance_m, payload_kg))
    physics, context = open_robot(
        prepared.target, nominal=nominal, payload_kg=payload_kg, drive_gains=prepared.cmap.drive_gains
    )
    with physics:
        result, _ = replay_samples(prepared.samples, physics, context, prepared.config, prepared.events)
    summary = dict(result.summary)
    run_id = replay_run_id(prepared.target.key, prepared.origin, context.parameter_set)
    summary["run_id"] = run_id
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        result.cycles.write_parquet(out / "cycles.parquet")
        result.anomalies.write_parquet(out / "anomalies.parquet")
        result.series.write_parquet(out / "series.parquet")
    robot_id = prepared.target.robot_id
    # results join a warehouse; without one yet (no ingest, no demo) they are not stored, and "stored" stays unset
    if robot_id is not None and store and not joint_states and warehouse_exists(prepared.warehouse):
        with write_job(prepared.warehouse) as con:
            cell = prepared.target.cell
            write_replay_results(con, result, run_id, robot_id, prepared.origin, cell.cell.id if cell else None)
        summary["stored"] = str(prepared.warehouse)
    return ReplayReport(summary, result.cycles, result.anomalies, result.series)


def calibrate(
    robot: str | None = None,
    *,
    urdf: str | Path | None = None,
    joint_states: Sequence[str | Path] | None = None,
    validate: Sequence[str | Path] | None = None,
    train_fraction: float = TRAIN_FRACTION,
    columns: str | Path | None = None,
    drive_gains: str | Sequence[float] | None = None,
    payload_kg: float = 0.0,
    events: Sequence[str | Path] | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    cell: CellInput = None,
    overrides: Iterable[str] = (),
    window_s: float = SignalConfig.window_s,
    clearance_hz: float = ReplayConfig.clearance_hz,
    clearance_tolerance_m: float = ReplayConfig.clearance_tolerance_m,
    nominal: bool = False,
    package_paths: Sequence[str | Path] = (),
    keep_default_mass: bool = False,
    warehouse: str | Path | None = None,
    store: bool = True,
) -> CalibrationReport:
    """Fit the power model to recorded torque and power and measure the held-out error (``twin calibrate``).

    The joint states come from the same sources as :func:`replay`. The fit starts from the robot's current
    parameters (its stored calibration unless ``nominal``) and is stored as the next parameter set
    (``<robot key>-cal-v<N>``), which later replays of the robot use.

    Args:
        robot: A robot of the cell; its joint states come from the warehouse unless ``joint_states`` is given.
        urdf: Any robot's URDF instead; needs ``joint_states``.
        joint_states: Training log files (CSV, Parquet, JSON Lines).
        validate: Validation log files; default: the last ``1 - train_fraction`` of the time is held out.
        train_fraction: The training share of the time, in [0.05, 0.95] (without ``validate``).
        columns: Column map or a YAML file of it (see :func:`replay`).
        drive_gains: N·m/A per joint, as numbers or ``"G1,G2,..."``.
        payload_kg: Mass on the tool mount besides a cell tool.
        events: Events files (cycles) for a cell robot.
        start: Inclusive start of the period (a date means local midnight in the cell's zone).
        end: Exclusive end of the period.
        cell: A loaded cell, a cell YAML file, or None for the sample cell.
        overrides: ``path.to.key=value`` strings applied to the cell file first.
        window_s: Savitzky-Golay window in seconds.
        clearance_hz: Clearance check rate (0: off).
        clearance_tolerance_m: Reuse a clearance answer while the robot moved less than this.
        nominal: Start from the nominal parameters, not a stored calibration.
        package_paths: Folders in which the URDF's ``package://`` mesh URIs are looked up.
        keep_default_mass: Leave URDF links without ``<inertial>`` at pybullet's 1 kg instead of massless.
        warehouse: The warehouse file to read joint states from when no files are given.
        store: Store the fitted parameters under ``data/calibration/`` when they help on the held-out data
            (:func:`twin.replay.calibrate.judge`; ``decision`` says why or why not).

    Returns:
        The fitted model and the error before and after.

    Raises:
        InputError: ``train_fraction`` out of range, or any input :func:`replay` rejects.
        TelemetryError: Too few samples, or nothing measured to fit against.
        WarehouseError: There is no warehouse to read from.
    """
    if not 0.05 <= train_fraction <= 0.95:
        raise InputError(f"train_fraction {train_fraction}: must be in [0.05, 0.95]")
    options = UrdfOptions(tuple(Path(p) for p in package_paths), keep_default_mass)
    source = _Source(
        robot, urdf, joint_states, columns, drive_gains, events, start, end, cell, overrides, warehouse, options
    )
    prepared = _prepare(source, _config(window_s, clearance_hz, clearance_tolerance_m, payload_kg))
    validation_samples = None
    if validate:
        parts = read_logs(validate, prepared.cmap, robot_id=prepared.target.robot_id)
        validation_samples = prepare(parts, prepared.config.signals)
    physics, context = open_robot(
        prepared.target, nominal=nominal, payload_kg=payload_kg, drive_gains=prepared.cmap.drive_gains
    )
    with physics:
        data = compute(prepared.samples, physics, context, prepared.config, prepared.events)
        validation = None
        if validation_samples is not None:
            validation = compute(validation_samples, physics, context, prepared.config, prepared.events)
    parameter_set = next_parameter_set(prepared.target.key)
    result = fit_calibration(
        data, context, parameter_set, validation=validation, config=prepared.config, fraction=train_fraction
    )
    if store and result.accepted:  # a fit that does not help on held-out data is reported, never stored
        urdf = prepared.target.urdf_path
        meta = {
            "robot": context.source,
            "urdf_sha256": None if urdf is None else urdf_sha256(urdf),
            "prior_parameter_set": context.parameter_set,
            "trained_on": prepared.origin,
            "validated_on": [str(f) for f in validate] if validate else result.validation,
            "train_samples": result.train_samples,
            "validation_samples": result.validation_samples,
            "before": result.before,
            "after": result.after,
        }
        result = replace(result, stored=store_calibration(prepared.target.key, result.model, meta))
    return CalibrationReport(result)
