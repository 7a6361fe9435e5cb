"""Replay and calibration on logs recorded on real robots by others (../shared/realdata, read-only).

Figures are measured on data the calibration did not see. The numbers in the asserts are what this
model achieves (rigid-body inverse dynamics of the published URDFs plus per-joint scale, offset,
viscous and Coulomb friction), with a tolerance; the issue's targets are asserted separately.
"""

from __future__ import annotations

import json

import pytest

from twin.cli import main
from twin.physics.replay_world import ReplayRobot
from twin.replay.calibrate import calibrate
from twin.replay.columns import ColumnMap
from twin.replay.player import RobotContext, default_power_model, replay_logs

pytestmark = [pytest.mark.realdata, pytest.mark.physics]

UR10E_GAINS = "10.0,10.6956,8.4566,9.0029,9.48,10.1232"  # N·m/A, the authors' identified drive gains
UR10E_MAP = "t_s=#0," + ",".join(f"q_{j}=#{j},qd_{j}=#{6 + j},i_{j}=#{12 + j}" for j in range(1, 7))
PANDA_MAP = "t_s=t_s," + ",".join(f"q_{j}=q{j}_rad,qd_{j}=dq{j}_rad_s,tau_{j}=tau{j}_nm" for j in range(1, 8))
UR3E_MAP = "t_s=timestamp,power_w=actual_robot_voltage*actual_robot_current," + ",".join(
    f"q_{j}=actual_q_{j - 1},qd_{j}=actual_qd_{j - 1},tau_{j}=target_moment_{j - 1}" for j in range(1, 7)
)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TWIN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _by_joint(part: dict, key: str) -> list[float | None]:
    return [j[key] for j in part["joints"]]


def test_panda_excitation_calibrated_on_70_percent(realdata, data_dir, capsys):
    """Gaz et al. 2019: 21 s at ~1 kHz (irregular), measured link torques; last 30 % held out."""
    log = realdata / "panda_gaz2019_excitation" / "panda_excitation_measured.csv"
    urdf = realdata / "urdf" / "panda" / "urdf" / "panda_pybullet.urdf"
    code = main(["calibrate", "--urdf", str(urdf), "--joint-states", str(log), "--columns", PANDA_MAP, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["validation"].startswith("held-out time block: last 30")
    before, after = report["before"], report["after"]
    rmse_before, rmse_after = _by_joint(before, "torque_rmse_nm"), _by_joint(after, "torque_rmse_nm")
    r2_after = _by_joint(after, "torque_r2")
    # the target: joints 2-4 under 1.5 N·m on the held-out 30 %
    assert max(rmse_after[1:4]) < 1.5
    # what the model achieves (rmse before -> after, N·m): 3.12 -> 1.00, 1.50 -> 0.47, 3.34 -> 0.53
    assert rmse_after[1:4] == pytest.approx([1.00, 0.47, 0.53], abs=0.1)
    assert rmse_before[1:4] == pytest.approx([3.12, 1.50, 3.34], abs=0.2)
    assert rmse_after[:7] == pytest.approx([0.39, 1.00, 0.47, 0.53, 0.27, 0.35, 0.06], abs=0.1)
    assert min(r2_after[:7]) > 0.9
    assert rmse_after[7] is None and rmse_after[8] is None  # the fingers are not in the log
    # the stored set is used by the next replay of the same URDF
    main(["replay", "--urdf", str(urdf), "--joint-states", str(log), "--columns", PANDA_MAP, "--json"])
    replay = json.loads(capsys.readouterr().out)
    assert replay["parameter_set"] == report["parameters"]["parameter_set"]
    assert replay["held_fixed_joints"] == [8, 9] and replay["resampled"] is True
    assert replay["rate_hz"] == pytest.approx(1000.0, rel=0.01)


def test_panda_target_with_a_window_for_1_khz_velocities(realdata, data_dir, capsys):
    """The target, held-out RMSE <= 1.0 N·m on joints 2-4: met with a 0.2 s Savitzky-Golay window.

    The default 0.1 s window (made for 125 Hz joint states) leaves joint 2 at 1.005 N·m on this 1 kHz log; the
    accelerations, differentiated from the logged velocities, need the longer window.
    """
    log = realdata / "panda_gaz2019_excitation" / "panda_excitation_measured.csv"
    urdf = realdata / "urdf" / "panda" / "urdf" / "panda_pybullet.urdf"
    args = ["calibrate", "--urdf", str(urdf), "--joint-states", str(log), "--columns", PANDA_MAP, "--json"]
    assert main([*args, "--window-s", "0.2", "--no-store"]) == 0
    report = json.loads(capsys.readouterr().out)
    rmse_after = _by_joint(report["after"], "torque_rmse_nm")
    assert max(rmse_after[1:4]) <= 1.0 and report["accepted"]
    assert rmse_after[1:4] == pytest.approx([0.94, 0.41, 0.50], abs=0.05)


def _ur10e_replays(realdata):
    folder = realdata / "ur10e_innopolis_identification"
    cmap = ColumnMap.parse(UR10E_MAP, UR10E_GAINS)
    training = [
        folder / "identification_data" / name
        for name in ("ur-20_02_19_14harm50sec.csv", "ur-20_01_31-unload.csv", "ur-19_12_23_free.csv")
    ]  # the runs without the (unknown) payload
    validation = sorted((folder / "validation_data").glob("*.csv"))
    robot = ReplayRobot.from_urdf(realdata / "urdf" / "ur10e" / "urdf" / "ur10e_pybullet.urdf")
    context = RobotContext(None, default_power_model(robot.n_dof), drive_gains=dict(cmap.drive_gains), source="ur10e")
    return robot, context, cmap, training, validation


def test_ur10e_identification_to_validation_runs(realdata):
    """Mamedov et al.: trained on three identification runs, validated on 11 validation runs pooled."""
    robot, context, cmap, training, validation = _ur10e_replays(realdata)
    with robot:
        _, train = replay_logs(training, robot, context, cmap)
        _, check = replay_logs(validation, robot, context, cmap)
    result = calibrate(train, context, "ur10e-test", validation=check)
    r2_before, r2_after = _by_joint(result.before, "torque_r2"), _by_joint(result.after, "torque_r2")
    rmse_before, rmse_after = _by_joint(result.before, "torque_rmse_nm"), _by_joint(result.after, "torque_rmse_nm")
    assert check.samples.resampled and len(check.samples.run_names) == 11
    # the targets: R² >= 0.99 on shoulder and elbow and >= 0.9 on wrist 1, pooled over the validation runs
    assert r2_after[1] >= 0.99 and r2_after[2] >= 0.99 and r2_after[3] >= 0.9
    # achieved (R² before -> after), the URDF's frames without <inertial> massless: shoulder 0.959 -> 0.993,
    # elbow 0.956 -> 0.996 (at pybullet's 1 kg per frame they were 0.744 -> 0.989 and 0.529 -> 0.995)
    assert r2_after == pytest.approx([0.867, 0.993, 0.996, 0.959, 0.789, 0.697], abs=0.03)
    assert r2_before[1:3] == pytest.approx([0.959, 0.956], abs=0.02)
    assert rmse_after == pytest.approx([3.54, 4.96, 1.97, 0.55, 0.94, 0.77], abs=0.3)
    assert rmse_before[1:3] == pytest.approx([12.3, 6.7], abs=1.0)
    # the drives deliver ~0.9x the URDF's rigid-body torque on shoulder and elbow, UR's published URDF-to-drive
    # gap (with 1 kg frames the fit had to absorb them: 0.69 and 0.58)
    assert result.model.torque_scale[1:3] == pytest.approx([0.92, 0.89], abs=0.05)
    # the barely loaded wrist 3 fitted a scale of 291 to noise: the bound keeps it at 2
    assert max(result.model.torque_scale) <= 2.0 and result.model.torque_scale[5] == pytest.approx(2.0)


def test_ur10e_raw_model_on_the_moving_ptp_run(realdata, data_dir, capsys):
    """The uncalibrated URDF model on the point-to-point run: massless frames as the hardware, not pybullet's 1 kg."""
    log = realdata / "ur10e_innopolis_identification" / "validation_data" / "ur-20_01_17-ptp_10_points.csv"
    urdf = realdata / "urdf" / "ur10e" / "urdf" / "ur10e_pybullet.urdf"
    args = ["replay", "--urdf", str(urdf), "--joint-states", str(log), "--columns", UR10E_MAP]
    args += ["--drive-gains", UR10E_GAINS, "--nominal", "--json"]
    assert main(args) == 0
    massless = json.loads(capsys.readouterr().out)
    assert main([*args, "--keep-default-mass"]) == 0
    default = json.loads(capsys.readouterr().out)
    r2, rmse = _by_joint(massless, "torque_r2"), _by_joint(massless, "torque_rmse_nm")
    assert r2[1] >= 0.9 and r2[2] >= 0.88  # the targets
    assert rmse[1:3] == pytest.approx([15.5, 9.2], abs=1.0)
    # pybullet's 1 kg frames: 0.78 and 0.50, RMSE 28 and 23 N·m
    assert _by_joint(default, "torque_r2")[1:3] == pytest.approx([0.78, 0.50], abs=0.03)
    assert _by_joint(default, "torque_rmse_nm")[1:3] == pytest.approx([28.3, 23.0], abs=1.0)


def test_ur10e_push_shows_as_torque_outliers(realdata):
    """A person pushes the arm (collision runs): the residual against the calibrated model flags it."""
    robot, context, cmap, training, _ = _ur10e_replays(realdata)
    push = realdata / "ur10e_innopolis_identification" / "collision" / "ur-20_01_22-push_pose_1.csv"
    with robot:
        _, train = replay_logs(training, robot, context, cmap)
        model = calibrate(train, context, "ur10e-test").model
        calibrated = RobotContext(None, model, drive_gains=context.drive_gains, source="ur10e")
        quiet, _ = replay_logs(
            [realdata / "ur10e_innopolis_identification" / "validation_data" / "ur-20_01_17-p2.csv"],
            robot,
            calibrated,
            cmap,
        )
        pushed, _ = replay_logs([push], robot, calibrated, cmap)
    outliers = pushed.anomalies.filter(pushed.anomalies["kind"] == "torque_outlier")
    assert outliers.height >= 5 and quiet.anomalies.height == 0
    shoulder = outliers.filter(outliers["joint"] == 2)
    assert shoulder.height >= 2 and shoulder["value"].abs().max() > 40.0  # N·m of external torque


def test_ur10e_headerless_log_through_the_cli(realdata, data_dir, capsys):
    log = realdata / "ur10e_innopolis_identification" / "jointwise_motion" / "ur-20_01_22-joint_2.csv"
    urdf = realdata / "urdf" / "ur10e" / "urdf" / "ur10e_pybullet.urdf"
    args = ["--urdf", str(urdf), "--joint-states", str(log), "--columns", UR10E_MAP, "--drive-gains", UR10E_GAINS]
    assert main(["replay", *args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["samples"] > 6000 and report["rate_hz"] == pytest.approx(100.0, rel=0.01)
    assert all(j["measured"] == "current" for j in report["joints"])
    assert report["joints"][1]["torque_r2"] > 0.5  # uncalibrated: scale and friction missing


def test_ur3e_rtde_power_and_controller_torque(realdata, data_dir, capsys):
    """RAD UR3e record, 25 Hz, 9 s: arm power = robot voltage x current; torque = the controller's target."""
    log = realdata / "ur3e_rad_rtde" / "rad_ur3e_rtde_25hz_merged.csv"
    urdf = realdata / "urdf" / "ur3e" / "urdf" / "ur3e_pybullet.urdf"
    args = ["--urdf", str(urdf), "--joint-states", str(log), "--columns", UR3E_MAP, "--payload-kg", "1.07", "--json"]
    assert main(["calibrate", *args, "--no-store"]) == 0
    report = json.loads(capsys.readouterr().out)
    before, after = report["before"]["power"], report["after"]["power"]
    # uncalibrated the model has no electronics: ~42 W of the arm's input is missing (the massless frames take
    # another 2 W of phantom lifting out: 36.7 W with pybullet's 1 kg frames)
    assert before["rmse_w"] == pytest.approx(39.1, abs=2.0) and before["r2"] < 0
    # achieved on the held-out 30 %: RMSE 2.9 W, R² 0.66, energy within 3 %
    assert after["rmse_w"] == pytest.approx(2.88, abs=0.5) and after["r2"] == pytest.approx(0.66, abs=0.1)
    energy_error = abs(after["energy_predicted_j"] - after["energy_measured_j"]) / after["energy_measured_j"]
    assert energy_error < 0.05
    assert report["parameters"]["controller_w"] == pytest.approx(40.3, abs=2.0)
    # the shoulder against the controller's target torque, after calibration
    assert report["after"]["joints"][1]["torque_r2"] == pytest.approx(0.92, abs=0.05)
    # one raw RTDE segment (old-Mac CR line ends) replays the same way: its 65 rows as in the merged file
    raw = realdata / "ur3e_rad_rtde" / "L1L2.csv"
    assert main(["replay", "--urdf", str(urdf), "--joint-states", str(raw), "--columns", UR3E_MAP, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 65


def test_a_static_hold_reports_rmse_and_says_the_robot_does_not_move(realdata, data_dir, capsys):
    """The UR10e's p1 hold: R² of a static log is the noise's (it printed −566 on the elbow); RMSE stands."""
    log = realdata / "ur10e_innopolis_identification" / "validation_data" / "ur-20_01_17-p1.csv"
    urdf = realdata / "urdf" / "ur10e" / "urdf" / "ur10e_pybullet.urdf"
    args = ["replay", "--urdf", str(urdf), "--joint-states", str(log), "--columns", UR10E_MAP]
    assert main([*args, "--drive-gains", UR10E_GAINS, "--nominal", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["motion"]["static"] and report["motion"]["moving_share"] < 0.05
    assert "does not move" in report["motion"]["note"]
    assert all(j["torque_r2"] is None and j["torque_r2_note"] == "static log" for j in report["joints"])
    assert all(j["torque_rmse_nm"] is not None for j in report["joints"])
    assert main([*args, "--drive-gains", UR10E_GAINS, "--nominal"]) == 0
    assert "the robot does not move" in capsys.readouterr().out
