"""What a replay or a calibration settles before any physics: the robot, its parameters, the period and the run id.

A log is replayed on a cell's robot (its tool, payloads, home pose and clearance to the cell) or on any
robot's URDF (a foreign log: no cell, no clearance). Its power model is the robot's stored calibration
(``data/calibration/``) unless the caller asks for the nominal one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from twin.cell.spec import CellSpec
from twin.errors import InputError, TelemetryError
from twin.physics.replay_world import ReplayRobot
from twin.physics.urdf import UrdfOptions
from twin.replay.calibrate import cell_key, load_calibration, model_key, urdf_key
from twin.replay.columns import LogPart, read_table
from twin.replay.player import RobotContext, cell_context, default_power_model


@dataclass(frozen=True)
class ReplayTarget:
    """The robot a log is replayed on.

    Attributes:
        key: The robot's calibration key (:func:`twin.replay.calibrate.cell_key` or ``urdf_key``).
        robot_id: The cell robot's id; None for a foreign URDF.
        cell: The cell the robot stands in; None for a foreign URDF.
        urdf: The foreign robot's URDF; None for a cell robot.
        urdf_options: How the URDF is loaded (package folders; frames without ``<inertial>`` massless unless
            ``keep_default_mass``, which also keys its own calibration).
    """

    key: str
    robot_id: str | None = None
    cell: CellSpec | None = None
    urdf: Path | None = None
    urdf_options: UrdfOptions = field(default_factory=UrdfOptions)

    @classmethod
    def in_cell(cls, cell: CellSpec, robot_id: str, urdf_options: UrdfOptions | None = None) -> ReplayTarget:
        """A robot of the cell.

        Raises:
            InputError: The cell has no such robot (the message lists its robots).
        """
        if robot_id not in cell.robots:
            raise InputError(f"robot {robot_id!r}: unknown robot; valid: {', '.join(sorted(cell.robots))}")
        options = urdf_options or UrdfOptions()
        return cls(cell_key(cell, robot_id, options), robot_id, cell, None, options)

    @classmethod
    def from_urdf(cls, urdf: str | Path, urdf_options: UrdfOptions | None = None) -> ReplayTarget:
        """Any robot, from its URDF.

        Raises:
            InputError: The file does not exist.
        """
        path = Path(urdf)
        if not path.is_file():
            raise InputError(f"urdf {urdf}: file not found")
        options = urdf_options or UrdfOptions()
        return cls(model_key(urdf_key(path), path, options), None, None, path, options)

    @property
    def urdf_path(self) -> Path | None:
        """The URDF the robot is loaded from (a cell robot's from its cell)."""
        if self.urdf is not None:
            return self.urdf
        if self.cell is not None and self.robot_id is not None:
            return self.cell.robots[self.robot_id].urdf_path
        return None

    @property
    def timezone(self) -> str:
        """The zone a date means local midnight in: the cell's, UTC for a foreign robot."""
        return self.cell.cell.timezone if self.cell is not None else "UTC"


def open_robot(
    target: ReplayTarget, *, nominal: bool = False, payload_kg: float = 0.0, drive_gains: dict[int, float] | None = None
) -> tuple[ReplayRobot, RobotContext]:
    """The physics robot (a context manager) and what the replay knows about it besides physics.

    Args:
        target: The robot.
        nominal: Ignore a stored calibration: the cell's nominal power model (a rigid-body default for a URDF).
        payload_kg: Mass on the tool mount besides a cell tool.
        drive_gains: N·m/A per joint (1-based), turning measured currents into torques.

    Returns:
        The robot and its context (power model, payloads, held joints, drive gains).

    Raises:
        InputError: The target is neither a cell robot nor a URDF, or there are more drive gains than joints.
        AssetError: The URDF cannot be loaded.
    """
    stored = None if nominal else load_calibration(target.key, target.urdf_path)
    gains = dict(drive_gains or {})
    if target.urdf is not None:
        urdf = target.urdf
        robot = ReplayRobot.from_urdf(urdf, target.urdf_options)
        _check_gains(gains, robot)
        model = stored if stored is not None and len(stored.copper_loss_w_per_nm2) == robot.n_dof else None
        context = RobotContext(
            robot_id=None,
            model=model or default_power_model(robot.n_dof),
            payload_kg=payload_kg,
            drive_gains=gains,
            source=str(urdf),
        )
        return robot, context
    if target.cell is None or target.robot_id is None:
        raise InputError("a replay target is a cell robot (ReplayTarget.in_cell) or a URDF (ReplayTarget.from_urdf)")
    context = cell_context(target.cell, target.robot_id, stored, payload_kg=payload_kg)
    robot = ReplayRobot.from_cell(target.cell, target.robot_id, urdf_options=target.urdf_options)
    _check_gains(gains, robot)
    return robot, replace(context, drive_gains=gains)


def _check_gains(gains: dict[int, float], robot: ReplayRobot) -> None:
    """One drive gain per movable joint at most: a gain beyond the URDF's joints is a mismatch, never ignored."""
    extra = sorted(j for j in gains if not 1 <= j <= robot.n_dof)
    if extra:
        robot.close()
        raise InputError(
            f"drive gains for {len(gains)} joints, but {robot.name} has {robot.n_dof} movable joints "
            f"(gain of joint {extra[0]} has no joint; give at most {robot.n_dof})"
        )


def read_event_files(paths: Sequence[str | Path] | None) -> pl.DataFrame | None:
    """The cell's events (cycles, variants) from files, one frame; None without files.

    Raises:
        TelemetryError: A file cannot be read, or the files do not share columns.
    """
    if not paths:
        return None
    frames = [read_table(p) for p in paths]
    try:
        return pl.concat(frames, how="diagonal_relaxed")
    except pl.exceptions.PolarsError as exc:
        raise TelemetryError(f"events files do not share columns: {exc}") from exc


def clip_to_period(part: LogPart, start: datetime | None, end: datetime | None) -> LogPart:
    """Keep the samples of one log file in ``[start, end)`` (in place; the part is returned).

    Raises:
        InputError: A period was given but the file has relative seconds (``t_s``), not time stamps.
        TelemetryError: No sample of the file lies in the period.
    """
    if start is None and end is None:
        return part
    if not part.absolute:
        raise InputError(f"a period needs absolute time stamps (ts); {part.path} has relative seconds (t_s)")
    keep = part.t_s >= (start.timestamp() if start is not None else -float("inf"))
    if end is not None:
        keep &= part.t_s < end.timestamp()
    if not keep.any():
        raise TelemetryError(f"{part.path}: no samples in the period")
    part.t_s = part.t_s[keep]
    part.values = {k: v[keep] for k, v in part.values.items()}
    part.labels = {k: v[keep] for k, v in part.labels.items()}
    return part


def replay_run_id(key: str, origin: dict[str, Any], parameter_set: str) -> str:
    """A replay's run id: the same robot, data and parameter set give the same id.

    Example:
        >>> replay_run_id("k", {"files": ["a.csv"]}, "nominal") == replay_run_id("k", {"files": ["a.csv"]}, "nominal")
        True
        >>> replay_run_id("k", {"files": ["a.csv"]}, "nominal").startswith("replay-k-")
        True
    """
    text = json.dumps({"key": key, "origin": origin, "set": parameter_set}, sort_keys=True)
    return f"replay-{key}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
