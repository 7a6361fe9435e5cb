"""``replay`` and ``calibrate`` give what ``twin replay|calibrate --json`` print."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pybullet_data
import pytest

from twin.api import calibrate, replay
from twin.errors import InputError
from twin.physics.replay_world import ReplayRobot

pytestmark = pytest.mark.physics

IIWA = Path(pybullet_data.getDataPath()) / "kuka_iiwa" / "model.urdf"
COLUMNS = "t_s=time_s," + ",".join(f"q_{j + 1}=pos{j},tau_{j + 1}=trq{j}" for j in range(7))


@pytest.fixture
def log(tmp_path, monkeypatch) -> Path:
    """Three seconds of a 7-joint motion whose measured torques are 0.9 x the rigid-body ones plus 0.4 N·m."""
    monkeypatch.setenv("TWIN_DATA_DIR", str(tmp_path / "data"))  # calibrations stay in this test
    t = np.arange(0.0, 3.0, 0.01)
    amp, freq = np.linspace(0.3, 0.8, 7), np.linspace(0.3, 0.9, 7)
    phase = 2 * np.pi * freq * t[:, None]
    omega = 2 * np.pi * freq
    q, qd, qdd = amp * np.sin(phase), amp * omega * np.cos(phase), -amp * omega**2 * np.sin(phase)
    with ReplayRobot.from_urdf(IIWA) as robot:
        tau = robot.inverse_dynamics(q, qd, qdd)
    measured = 0.9 * tau + 0.4
    path = tmp_path / "log.csv"
    columns = {"time_s": t, **{f"pos{j}": q[:, j] for j in range(7)}, **{f"trq{j}": measured[:, j] for j in range(7)}}
    pl.DataFrame(columns).write_csv(path)
    return path


def test_replay_equals_the_command(log, tmp_path, printed):
    report = replay(urdf=IIWA, joint_states=[log], columns=COLUMNS, out_dir=tmp_path / "out")
    code, printed_json = printed("replay", "--urdf", str(IIWA), "--joint-states", str(log), "--columns", COLUMNS)
    assert code == 0 and json.dumps(report.to_dict()) == printed_json
    assert report.parameter_set == "default-uncalibrated" and report.stored is None
    assert report.run_id.startswith("replay-model-")
    assert report.to_dict()["samples"] == 300
    assert pl.read_parquet(tmp_path / "out" / "series.parquet").equals(report.series)


def test_calibrate_equals_the_command(log, printed):
    report = calibrate(urdf=IIWA, joint_states=[log], columns=COLUMNS, store=False)
    code, printed_json = printed(
        "calibrate", "--urdf", str(IIWA), "--joint-states", str(log), "--columns", COLUMNS, "--no-store"
    )
    assert code == 0 and json.dumps(report.to_dict()) == printed_json
    assert report.stored is None and report.parameter_set.endswith("-cal-v1")
    assert report.model.torque_scale[:2] == pytest.approx([0.9, 0.9], abs=0.02)  # the log's scale, recovered


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"robot": "any", "urdf": IIWA}, "exactly one"),
        ({"urdf": IIWA}, "needs joint-state files"),
        ({"urdf": IIWA, "joint_states": ["x.csv"], "window_s": 0.0}, "window_s 0.0: must be positive"),
        ({"robot": "no-such-robot"}, "unknown robot; valid: "),
        ({"urdf": IIWA, "joint_states": ["x.csv"], "start": "2026-10-06", "end": "2026-10-05"}, "is not before"),
    ],
)
def test_bad_inputs_are_one_clear_error(kwargs, message):
    with pytest.raises(InputError, match=message):
        replay(**kwargs)
