"""``twin replay`` and ``twin calibrate``: recorded joint states in the physics twin.

Sources of joint states: a cell robot's from the warehouse (``--robot ID [--from] [--to]``), a cell
robot's from files (``--robot ID --joint-states FILE...``), or any robot's log (``--urdf PATH
--joint-states FILE... [--columns MAP]``). Every result names the parameter set it used: a stored
calibration of the robot (``data/calibration/``) when there is one, else the cell's nominal power model
(or a rigid-body default for a foreign URDF); ``--nominal`` ignores stored calibrations.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from twin import api
from twin.cli.common import add_cell_options


def _common(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--robot", metavar="ID", help="a robot of the cell (its id in the cell file)")
    source.add_argument("--urdf", metavar="PATH", help="any robot's URDF (a foreign log; no cell, no clearance)")
    parser.add_argument(
        "--joint-states",
        action="extend",
        nargs="+",
        default=None,
        metavar="FILE",
        help="log files (CSV, Parquet, JSON Lines; repeat the flag or list them); with --robot, not the warehouse",
    )
    parser.add_argument(
        "--columns",
        default=None,
        metavar="MAP",
        help="column map 'q_1=actual_q_0,...,t_s=timestamp' (k_N=<gain>, #N for column N) or a YAML file of it",
    )
    parser.add_argument("--drive-gains", default=None, metavar="G1,G2,...", help="N·m/A per joint: torque = gain x i_N")
    parser.add_argument("--payload-kg", type=float, default=0.0, help="mass on the tool mount (besides a cell tool)")
    parser.add_argument(
        "--events", action="extend", nargs="+", default=None, metavar="FILE", help="events files (cycles) for --robot"
    )
    parser.add_argument("--from", dest="start", default=None, help="inclusive start (date = local midnight)")
    parser.add_argument("--to", dest="end", default=None, help="exclusive end")
    add_cell_options(parser)
    parser.add_argument("--window-s", type=float, default=0.1, help="Savitzky–Golay window in seconds (0.1)")
    parser.add_argument("--clearance-hz", type=float, default=25.0, help="clearance check rate (25 Hz; 0: off)")
    parser.add_argument(
        "--clearance-tolerance-m",
        type=float,
        default=0.0005,
        help="reuse a clearance answer while the robot moved less than this (0.0005 m; 0: every check exact)",
    )
    parser.add_argument("--nominal", action="store_true", help="use the nominal parameters, not a stored calibration")
    parser.add_argument(
        "--package-path",
        dest="package_paths",
        action="append",
        default=[],
        metavar="DIR",
        help="folder holding the ROS packages that package:// mesh URIs name (repeatable, as ROS_PACKAGE_PATH)",
    )
    parser.add_argument(
        "--keep-default-mass",
        action="store_true",
        help="leave URDF links without <inertial> at pybullet's 1 kg (default: massless frames, as the hardware)",
    )


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``twin replay`` and ``twin calibrate``.

    Args:
        subparsers: The ``twin`` command's sub-parsers.
        parent: The parser holding ``--warehouse``, ``--json`` and ``--debug``.
    """
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
        "--validate",
        action="extend",
        nargs="+",
        default=None,
        metavar="FILE",
        help="validation logs; repeat the flag or list them (default: the last 30 %% held out)",
    )
    calibrate.add_argument("--train-fraction", type=float, default=0.7, help="training share of the time (0.7)")
    calibrate.add_argument("--no-store", action="store_true", help="report only; do not store the parameters")
    calibrate.set_defaults(func=run_calibrate)


def _source(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments ``replay`` and ``calibrate`` share, from the options they share."""
    return {
        "urdf": args.urdf,
        "joint_states": args.joint_states,
        "columns": args.columns,
        "drive_gains": args.drive_gains,
        "payload_kg": args.payload_kg,
        "events": args.events,
        "start": args.start,
        "end": args.end,
        "cell": args.cell,
        "overrides": args.overrides,
        "window_s": args.window_s,
        "clearance_hz": args.clearance_hz,
        "clearance_tolerance_m": args.clearance_tolerance_m,
        "nominal": args.nominal,
        "package_paths": args.package_paths,
        "keep_default_mass": args.keep_default_mass,
        "warehouse": args.warehouse,
    }


def run_replay(args: argparse.Namespace) -> int:
    """Handler of ``twin replay``."""
    report = api.replay(args.robot, **_source(args), store=not args.no_store, out_dir=args.out)
    print(json.dumps(report.to_dict()) if args.json else format_replay(report.to_dict()))
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    """Handler of ``twin calibrate``."""
    report = api.calibrate(
        args.robot,
        **_source(args),
        validate=args.validate,
        train_fraction=args.train_fraction,
        store=not args.no_store,
    )
    print(json.dumps(report.to_dict()) if args.json else format_calibration(report.to_dict()))
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


def format_replay(summary: dict[str, Any]) -> str:
    """A readable report of ``twin replay``."""
    power = summary["power"]
    lines = [
        f"replayed {summary['samples']:,} samples, {summary['duration_s']:.1f} s of {summary['robot']} "
        f"({summary['rate_hz']:.0f} Hz{', resampled' if summary['resampled'] else ''}; parameter set "
        f"{summary['parameter_set']})",
    ]
    if summary["held_fixed_joints"]:
        lines.append(f"joints held fixed (not in the log): {', '.join(map(str, summary['held_fixed_joints']))}")
    if summary["motion"]["static"]:
        lines.append(summary["motion"]["note"])
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
        f"  {report['decision']}",
    ]
    for label in ("before", "after"):
        part = report[label]
        lines.append(f"{label} ({part['parameter_set']}):")
        if part["motion"]["static"]:
            lines.append(f"  {part['motion']['note']}")
        lines += _joint_lines(part["joints"])
        power = part["power"]
        lines.append(f"  power: R² {_fmt(power['r2'])}, RMSE {_fmt(power['rmse_w'], '.2f')} W")
    return "\n".join(lines)
