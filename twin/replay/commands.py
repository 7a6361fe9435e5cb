"""``twin replay`` and ``twin calibrate``: recorded joint states in the physics twin.

Sources of joint states: a cell robot's from the warehouse (``--robot ID [--from] [--to]``), a cell
robot's from files (``--robot ID --joint-states FILE...``), or any robot's log (``--urdf PATH
--joint-states FILE... [--columns MAP]``). Every result names the parameter set it used: a stored
calibration of the robot (``data/calibration/``) when there is one, else the cell's nominal power model
(or a rigid-body default for a foreign URDF); ``--nominal`` ignores stored calibrations.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import polars as pl

from twin.errors import InputError, TelemetryError
from twin.paths import DEFAULT_CELL


def _common(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--robot", metavar="ID", help="a robot of the cell (R1, R2)")
    source.add_argument("--urdf", metavar="PATH", help="any robot's URDF (a foreign log; no cell, no clearance)")
    parser.add_argument(
        "--joint-states",
        nargs="+",
        default=None,
        metavar="FILE",
        help="log files (CSV, Parquet, JSON Lines); with --robot, instead of the warehouse",
    )
    parser.add_argument(
        "--columns",
        default=None,
        metavar="MAP",
        help="column map 'q_1=actual_q_0,...,t_s=timestamp' (k_N=<gain>, #N for column N) or a YAML file of it",
    )
    parser.add_argument("--drive-gains", default=None, metavar="G1,G2,...", help="N·m/A per joint: torque = gain x i_N")
    parser.add_argument("--payload-kg", type=float, default=0.0, help="mass on the tool mount (besides a cell tool)")
    parser.add_argument("--events", nargs="+", default=None, metavar="FILE", help="events files (cycles) for --robot")
    parser.add_argument("--from", dest="start", default=None, help="inclusive start (date = local midnight)")
    parser.add_argument("--to", dest="end", default=None, help="exclusive end")
    parser.add_argument("--cell", default=str(DEFAULT_CELL), help="cell YAML (default: the sample cell)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--window-s", type=float, default=0.1, help="Savitzky–Golay window in seconds (0.1)")
    parser.add_argument("--clearance-hz", type=float, default=25.0, help="clearance check rate (25 Hz; 0: off)")
    parser.add_argument(
        "--clearance-tolerance-m",
        type=float,
        default=0.0005,
        help="reuse a clearance answer while the robot moved less than this (0.0005 m; 0: every check exact)",
    )
    parser.add_argument("--nominal", action="store_true", help="use the nominal parameters, not a stored calibration")


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``twin replay`` and ``twin calibrate``."""
    replay = subparsers.add_parser(
        "replay", parents=[parent], help="replay recorded joint states: predicted vs measured torque and power"
    )
    _common(replay)
    replay.add_argument("--no-store", action="store_true", help="do not write the results to the warehouse")
    replay.add_argument("--out", default=None, metavar="DIR", help="also write cycles, anomalies, series as Parquet")
    replay.set_defaults(func=run_replay)
    calibrate = subparsers.add_parser(
        "calibrate", parents=[parent], help="fit the power model to recorded torque and power; held-out error"
    )
    _common(calibrate)
    calibrate.add_argument(
        "--validate", nargs="+", default=None, metavar="FILE", help="validation logs (default: last 30 %% held out)"
    )
    calibrate.add_argument("--train-fraction", type=float, default=0.7, help="training share of the time (0.7)")
    calibrate.add_argument("--no-store", action="store_true", help="report only; do not store the parameters")
    calibrate.set_defaults(func=run_calibrate)


@dataclass
class Setup:
    """What both commands resolve from their arguments before any physics."""

    config: Any
    cmap: Any
    key: str
    robot_id: str | None
    cell: Any


def _setup(args: argparse.Namespace) -> Setup:
    from twin.replay.calibrate import cell_key, urdf_key
    from twin.replay.columns import ColumnMap
    from twin.replay.player import ReplayConfig
    from twin.replay.signals import SignalConfig

    if args.window_s <= 0:
        raise InputError(f"--window-s {args.window_s}: must be positive")
    if args.clearance_hz < 0:
        raise InputError(f"--clearance-hz {args.clearance_hz}: must be zero (off) or positive")
    if args.payload_kg < 0:
        raise InputError(f"--payload-kg {args.payload_kg}: must not be negative")
    cmap = ColumnMap.parse(args.columns, args.drive_gains)
    if args.clearance_tolerance_m < 0:
        raise InputError(f"--clearance-tolerance-m {args.clearance_tolerance_m}: must not be negative")
    config = ReplayConfig(
        signals=SignalConfig(window_s=args.window_s),
        clearance_hz=args.clearance_hz,
        clearance_tolerance_m=args.clearance_tolerance_m,
    )
    if args.urdf is not None:
        if not args.joint_states:
            raise InputError("--urdf needs --joint-states FILE... (the robot's log)")
        if not Path(args.urdf).is_file():
            raise InputError(f"--urdf {args.urdf}: file not found")
        return Setup(config, cmap, urdf_key(args.urdf), None, None)
    from twin.cell.load import load_cell

    cell = load_cell(args.cell, args.overrides)
    if args.robot not in cell.robots:
        raise InputError(f"--robot {args.robot!r}: unknown robot; valid: {', '.join(sorted(cell.robots))}")
    config = replace(config, clearance_threshold_m=cell.cell.clearance_threshold_m)
    return Setup(config, cmap, cell_key(cell, args.robot), args.robot, cell)


def _robot_and_context(args: argparse.Namespace, setup: Setup) -> tuple[Any, Any]:
    """The physics robot and the replay context (power model: stored calibration unless --nominal)."""
    from twin.physics.replay_world import ReplayRobot
    from twin.replay.calibrate import load_calibration
    from twin.replay.player import RobotContext, cell_context, default_power_model

    stored = None if args.nominal else load_calibration(setup.key)
    if setup.cell is None:
        robot = ReplayRobot.from_urdf(args.urdf)
        model = stored if stored is not None and len(stored.copper_loss_w_per_nm2) == robot.n_dof else None
        context = RobotContext(
            robot_id=None,
            model=model or default_power_model(robot.n_dof),
            payload_kg=args.payload_kg,
            drive_gains=dict(setup.cmap.drive_gains),
            source=str(args.urdf),
        )
        return robot, context
    context = cell_context(setup.cell, args.robot, stored, payload_kg=args.payload_kg)
    context = replace(context, drive_gains=dict(setup.cmap.drive_gains))
    return ReplayRobot.from_cell(setup.cell, args.robot), context


def _period(args: argparse.Namespace, cell: Any) -> tuple[Any, Any]:
    from twin.analytics.period import parse_instant

    zone = cell.cell.timezone if cell is not None else "UTC"
    start = parse_instant(args.start, zone, "--from") if args.start else None
    end = parse_instant(args.end, zone, "--to") if args.end else None
    if start is not None and end is not None and start >= end:
        raise InputError(f"--from {args.start} is not before --to {args.end} (--from is inclusive, --to exclusive)")
    return start, end


def _read_events(paths: list[str] | None) -> pl.DataFrame | None:
    if not paths:
        return None
    from twin.replay.columns import read_table

    frames = [read_table(p) for p in paths]
    try:
        return pl.concat(frames, how="diagonal_relaxed")
    except pl.exceptions.PolarsError as exc:
        raise TelemetryError(f"events files do not share columns: {exc}") from exc


def _samples(setup: Setup, args: argparse.Namespace, files: list[str] | None) -> tuple[Any, Any, dict[str, Any]]:
    """Prepared samples and events from files or (cell robots) the warehouse, and where they came from."""
    from twin.replay.columns import read_logs
    from twin.replay.player import frame_parts
    from twin.replay.signals import prepare

    start, end = _period(args, setup.cell)
    events = _read_events(args.events)
    if files:
        parts = read_logs(files, setup.cmap, robot_id=setup.robot_id)
        parts = [_clip(p, start, end) for p in parts]
        origin: dict[str, Any] = {"files": [str(f) for f in files]}
    else:
        from twin.replay.store import read_events, read_joint_states
        from twin.warehouse.connection import read_connection

        with read_connection(args.warehouse) as con:
            frame = read_joint_states(con, setup.robot_id or "", start, end)
            if events is None:
                events = read_events(con, setup.robot_id or "", start, end)
        parts = frame_parts(frame, f"{args.warehouse}:joint_states")
        origin = {"warehouse": str(args.warehouse)}
    origin.update(
        {"from": None if start is None else start.isoformat(), "to": None if end is None else end.isoformat()}
    )
    return prepare(parts, setup.config.signals), events, origin


def _clip(part: Any, start: Any, end: Any) -> Any:
    if start is None and end is None:
        return part
    if not part.absolute:
        raise InputError(f"--from/--to need absolute time stamps (ts); {part.path} has relative seconds (t_s)")
    keep = part.t_s >= (start.timestamp() if start is not None else -float("inf"))
    if end is not None:
        keep &= part.t_s < end.timestamp()
    if not keep.any():
        raise TelemetryError(f"{part.path}: no samples in the period")
    part.t_s = part.t_s[keep]
    part.values = {k: v[keep] for k, v in part.values.items()}
    part.labels = {k: v[keep] for k, v in part.labels.items()}
    return part


def _run_id(setup: Setup, origin: dict[str, Any], parameter_set: str) -> str:
    text = json.dumps({"key": setup.key, "origin": origin, "set": parameter_set}, sort_keys=True)
    return f"replay-{setup.key}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def run_replay(args: argparse.Namespace) -> int:
    """Handler of ``twin replay``."""
    from twin.replay.player import replay_samples

    setup = _setup(args)
    samples, events, origin = _samples(setup, args, args.joint_states)
    robot, context = _robot_and_context(args, setup)
    with robot:
        result, _ = replay_samples(samples, robot, context, setup.config, events)
    summary = result.summary
    run_id = _run_id(setup, origin, context.parameter_set)
    summary["run_id"] = run_id
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        result.cycles.write_parquet(out / "cycles.parquet")
        result.anomalies.write_parquet(out / "anomalies.parquet")
        result.series.write_parquet(out / "series.parquet")
    if setup.robot_id is not None and not args.no_store and not args.joint_states:
        from twin.replay.store import write_replay_results
        from twin.warehouse.connection import write_job

        with write_job(args.warehouse) as con:
            write_replay_results(con, result, run_id, setup.robot_id, origin)
        summary["stored"] = str(args.warehouse)
    if args.json:
        print(json.dumps(summary))
    else:
        print(format_replay(summary, result.cycles))
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    """Handler of ``twin calibrate``."""
    from twin.replay.calibrate import calibrate, next_parameter_set, store_calibration
    from twin.replay.player import compute

    if not 0.05 <= args.train_fraction <= 0.95:
        raise InputError(f"--train-fraction {args.train_fraction}: must be in [0.05, 0.95]")
    setup = _setup(args)
    samples, events, origin = _samples(setup, args, args.joint_states)
    validation_samples = None
    if args.validate:
        from twin.replay.columns import read_logs
        from twin.replay.signals import prepare

        parts = read_logs(args.validate, setup.cmap, robot_id=setup.robot_id)
        validation_samples = prepare(parts, setup.config.signals)
    robot, context = _robot_and_context(args, setup)
    with robot:
        data = compute(samples, robot, context, setup.config, events)
        validation = None
        if validation_samples is not None:
            validation = compute(validation_samples, robot, context, setup.config, events)
    parameter_set = next_parameter_set(setup.key)
    result = calibrate(
        data, context, parameter_set, validation=validation, config=setup.config, fraction=args.train_fraction
    )
    if not args.no_store:
        meta = {
            "robot": context.source,
            "prior_parameter_set": context.parameter_set,
            "trained_on": origin,
            "validated_on": [str(f) for f in args.validate] if args.validate else result.validation,
            "train_samples": result.train_samples,
            "validation_samples": result.validation_samples,
            "before": result.before,
            "after": result.after,
        }
        result.stored = store_calibration(setup.key, result.model, meta)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(format_calibration(result.to_json()))
    return 0


# text output -------------------------------------------------------------------------------------------
def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def _joint_lines(joints: list[dict[str, Any]]) -> list[str]:
    lines = [f"  {'joint':<6}{'name':<24}{'R²':>9}{'RMSE N·m':>11}{'NRMSE':>8}  measured"]
    for j in joints:
        measured = j.get("measured") or ("held fixed" if j.get("held_fixed") else "-")
        lines.append(
            f"  {j['joint']:<6}{str(j.get('name', '')):<24}{_fmt(j['torque_r2']):>9}{_fmt(j['torque_rmse_nm']):>11}"
            f"{_fmt(j.get('torque_nrmse')):>8}  {measured}"
        )
    return lines


def format_replay(summary: dict[str, Any], cycles: pl.DataFrame) -> str:
    """A readable report of ``twin replay``."""
    power = summary["power"]
    lines = [
        f"replayed {summary['samples']:,} samples, {summary['duration_s']:.1f} s of {summary['robot']} "
        f"({summary['rate_hz']:.0f} Hz{', resampled' if summary['resampled'] else ''}; parameter set "
        f"{summary['parameter_set']})",
    ]
    if summary["held_fixed_joints"]:
        lines.append(f"joints held fixed (not in the log): {', '.join(map(str, summary['held_fixed_joints']))}")
    lines += _joint_lines(summary["joints"])
    energy = power["energy_measured_j"]
    lines.append(
        f"power: R² {_fmt(power['r2'])}, RMSE {_fmt(power['rmse_w'], '.2f')} W; energy predicted "
        f"{power['energy_predicted_j']:.1f} J" + ("" if energy is None else f", measured {energy:.1f} J")
    )
    if summary.get("min_clearance_m") is not None:
        lines.append(f"minimum clearance {summary['min_clearance_m'] * 1000:.0f} mm")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(summary["anomaly_counts"].items())) or "none"
    lines.append(f"{summary['cycles']} cycles; anomalies: {summary['anomalies']} ({counts})")
    return "\n".join(lines)


def format_calibration(report: dict[str, Any]) -> str:
    """A readable report of ``twin calibrate``."""
    p = report["parameters"]
    lines = [
        f"parameter set {p['parameter_set']}: trained on {report['train_samples']:,} samples, validated on "
        f"{report['validation_samples']:,} ({report['validation']})"
        + (f"; stored in {report['stored']}" if report.get("stored") else ""),
        f"  fitted torque joints: {', '.join(map(str, p['fitted_torque_joints'])) or 'none'}; power: "
        + ("fitted" if p["fitted_power"] else "not measured"),
    ]
    for label in ("before", "after"):
        part = report[label]
        lines.append(f"{label} ({part['parameter_set']}):")
        lines += _joint_lines(part["joints"])
        power = part["power"]
        lines.append(f"  power: R² {_fmt(power['r2'])}, RMSE {_fmt(power['rmse_w'], '.2f')} W")
    return "\n".join(lines)
