"""Replay without physics: column maps, file formats, time bases, derivatives, figures, fits, anomalies."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from twin.cell.spec import PowerModel
from twin.errors import InputError, TelemetryError
from twin.physics.power import electrical_power
from twin.replay.calibrate import MAX_TORQUE_SCALE, fit_joint_torque, fit_power, time_block_split
from twin.replay.checks import episodes, robust_z
from twin.replay.columns import ColumnMap, read_logs, read_table
from twin.replay.metrics import interval_energy, nrmse, r2, rmse
from twin.replay.signals import SignalConfig, derivatives, prepare, window_for


def _write(path, text: str, newline: str = "\n") -> str:
    path.write_bytes(text.replace("\n", newline).encode())
    return str(path)


# column maps -------------------------------------------------------------------------------------------
def test_inline_map_with_products_indices_and_gains():
    cmap = ColumnMap.parse("q_1=actual_q_0, tau_2=#5, power_w=V*I, i_3=-cur, k_3=8.5", "10,11")
    assert cmap.sources["q_1"].columns == ("actual_q_0",)
    assert cmap.sources["tau_2"].columns == ("#5",)
    assert cmap.sources["power_w"].columns == ("V", "I")
    assert cmap.sources["i_3"].factor == -1.0
    assert cmap.drive_gains == {1: 10.0, 2: 11.0, 3: 8.5}


def test_yaml_map_both_forms(tmp_path):
    flat = tmp_path / "flat.yaml"
    flat.write_text("q_1: a\nt_s: t\nk_1: 2.5\n")
    nested = tmp_path / "nested.yaml"
    nested.write_text("columns: {q_1: a, t_s: t}\ndrive_gains: [3.0]\n")
    assert ColumnMap.parse(str(flat)).drive_gains == {1: 2.5}
    cmap = ColumnMap.parse(str(nested))
    assert cmap.sources["q_1"].columns == ("a",) and cmap.drive_gains == {1: 3.0}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("q1=a", "unknown target 'q1'"),
        ("q_0=a", "numbered from 1"),
        ("q_1", "is not TARGET=SOURCE"),
        ("k_1=abc", "not a number"),
        ("tau_1=2*3", "names no column"),
    ],
)
def test_malformed_maps_are_clear(spec, message):
    with pytest.raises(InputError, match=message):
        ColumnMap.parse(spec)


# files -------------------------------------------------------------------------------------------------
def test_csv_sniffing_cr_line_ends_headerless_and_spaces(tmp_path):
    cr = _write(tmp_path / "cr.csv", "t,a\n0,1\n0.1,2\n", newline="\r")
    assert read_table(cr).columns == ["t", "a"] and read_table(cr).height == 2
    headerless = _write(tmp_path / "nohead.csv", "0.0,1.5,2\n0.1,1.6,3\n")
    frame = read_table(headerless)
    assert frame.columns == ["#0", "#1", "#2"] and frame["#1"].to_list() == [1.5, 1.6]
    spaced = _write(tmp_path / "space.csv", "timestamp  q0 q1\n1.0  0.1 0.2\n1.1 0.1  0.3\n")
    assert read_table(spaced).columns == ["timestamp", "q0", "q1"]
    semi = _write(tmp_path / "semi.csv", "t;q\n0;1\n")
    assert read_table(semi).columns == ["t", "q"]


def test_missing_and_unparseable_columns_are_named(tmp_path):
    path = _write(tmp_path / "log.csv", "time,p0,p1\n0.0,0.1,abc\n0.01,0.1,0.2\n")
    with pytest.raises(TelemetryError, match=r"missing column 'p9' \(for q_3\)"):
        read_logs([path], ColumnMap.parse("t_s=time,q_1=p0,q_3=p9"))
    with pytest.raises(TelemetryError, match=r"column 'p1' \(for q_2\) is not numeric: 'abc' in data row 1"):
        read_logs([path], ColumnMap.parse("t_s=time,q_1=p0,q_2=p1"))
    with pytest.raises(TelemetryError, match="no time column"):
        read_logs([path], ColumnMap.parse("q_1=p0"))
    with pytest.raises(TelemetryError, match="no joint positions"):
        read_logs([path], ColumnMap.parse("t_s=time,tau_1=p0"))


def test_naive_timestamps_are_refused(tmp_path):
    path = _write(tmp_path / "js.csv", "ts,q_1\n2026-10-05T06:00:00,0.1\n2026-10-05T06:00:01+02:00,0.2\n")
    with pytest.raises(TelemetryError, match="has no offset or Z"):
        read_logs([path], ColumnMap())


def test_iso_offsets_and_epoch_micros_give_the_same_time(tmp_path):
    iso = _write(tmp_path / "a.csv", "ts,q_1\n2026-10-25T02:30:00+02:00,0.1\n2026-10-25T02:30:00+01:00,0.2\n")
    part = read_logs([iso], ColumnMap())[0]
    assert part.absolute and part.t_s[1] - part.t_s[0] == pytest.approx(3600.0)
    epoch = _write(tmp_path / "b.csv", "ts,q_1\n1000000,0.1\n3000000,0.2\n")
    assert read_logs([epoch], ColumnMap())[0].t_s.tolist() == [1.0, 3.0]


def test_shared_file_needs_a_robot_and_drops_other_robots_empty_joints(tmp_path):
    frame = pl.DataFrame(
        {
            "ts": [1, 2, 3, 4],
            "robot_id": ["R1", "R2", "R1", "R2"],
            "q_1": [0.1, 0.2, 0.3, 0.4],
            "q_9": [0.0, None, 0.0, None],
        }
    )
    path = tmp_path / "joint_states.parquet"
    frame.write_parquet(path)
    with pytest.raises(TelemetryError, match="several robots"):
        read_logs([path], ColumnMap())
    part = read_logs([path], ColumnMap(), robot_id="R2")[0]
    assert set(part.values) == {"q_1"} and part.values["q_1"].tolist() == [0.2, 0.4]


# time base and derivatives --------------------------------------------------------------------------------
def test_irregular_log_is_resampled_and_gaps_split_segments(tmp_path):
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(0.0007, 0.0013, 2000))
    t = np.concatenate([t, t[-1] + 0.5 + np.cumsum(np.full(500, 0.001))])  # a 0.5 s hole
    frame = pl.DataFrame({"t": t, "p": np.sin(t)})
    frame = pl.concat([frame, frame.head(3)])  # duplicates
    path = tmp_path / "log.parquet"
    frame.write_parquet(path)
    samples = prepare(read_logs([path], ColumnMap.parse("t_s=t,q_1=p")))
    assert samples.resampled
    assert len(samples.segment_bounds()) == 2 and len(samples.gaps) == 1
    assert samples.gaps[0].duration_s == pytest.approx(0.5, abs=0.002)
    steps = np.diff(samples.t_s)[samples.segment[1:] == samples.segment[:-1]]
    assert np.allclose(steps, samples.period_s[0])
    assert np.allclose(samples.values["q_1"], np.sin(samples.t_s), atol=1e-6)


def test_positions_and_torques_in_separate_files_are_merged_on_time(tmp_path):
    t = np.arange(0, 2, 0.01)
    pl.DataFrame({"t": t, "q": np.sin(t)}).write_csv(tmp_path / "pos.csv")
    t2 = np.arange(0, 2, 0.004)
    pl.DataFrame({"t": t2, "tq": 2 * t2}).write_csv(tmp_path / "tau.csv")
    cmap = ColumnMap.parse("t_s=t,q_1=q,tau_1=tq")
    samples = prepare(read_logs([tmp_path / "pos.csv", tmp_path / "tau.csv"], cmap))
    assert samples.n == len(t) and np.allclose(samples.values["tau_1"], 2 * samples.t_s, atol=1e-9)


def test_savitzky_golay_derivatives_follow_a_known_motion():
    t = np.arange(0, 4, 0.008)
    q = 0.5 * np.sin(2 * t)
    from pathlib import Path

    from twin.replay.columns import LogPart

    part = LogPart(Path("x"), t, False, {"q_1": q}, {})
    samples = prepare([part])
    assert window_for(0.008, SignalConfig(), 10_000) == 13
    assert window_for(0.001, SignalConfig(), 10_000) == 101
    _, qd, qdd = derivatives(samples, [1])
    inner = slice(20, -20)
    assert np.max(np.abs(qd[inner, 0] - np.cos(2 * t)[inner])) < 2e-3
    assert np.max(np.abs(qdd[inner, 0] + 2 * np.sin(2 * t)[inner])) < 2e-2


# figures -------------------------------------------------------------------------------------------------
def test_figures_follow_the_spec():
    y = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    p = np.array([1.0, 2.0, 3.0, 5.0, 9.0])
    assert rmse(y, p) == pytest.approx(0.5)
    assert nrmse(y, p) == pytest.approx(0.5 / 3.0)
    assert r2(y, p) == pytest.approx(1 - 1.0 / 5.0)
    assert r2(np.ones(3), np.ones(3)) is None
    energy = interval_energy(np.array([0.0, 1.0, 2.0, 10.0, 11.0]), np.array([0, 0, 0, 1, 1]), np.full(5, 100.0))
    assert energy.tolist() == [100.0, 100.0, 0.0, 100.0, 0.0]


def test_episodes_and_robust_z():
    flags = np.array([1, 1, 0, 1, 1, 1, 0, 0, 1], bool)
    assert episodes(flags, np.array([0, 0, 0, 0, 1, 1, 1, 1, 1])) == [(0, 2), (3, 4), (4, 6), (8, 9)]
    r = np.r_[np.random.default_rng(1).normal(0, 1, 1000), 50.0]
    z, median, mad = robust_z(r)
    assert abs(z[-1]) > 30 and np.median(np.abs(z[:-1])) == pytest.approx(0.6745, abs=0.1)


# calibration ---------------------------------------------------------------------------------------------
def test_torque_fit_recovers_scale_offset_and_friction():
    rng = np.random.default_rng(3)
    tau = rng.normal(0, 20, 5000)
    w = rng.normal(0, 1, 5000)
    measured = 0.8 * tau + 1.5 + 3.0 * w + 2.0 * np.sign(w) + rng.normal(0, 0.1, 5000)
    s, o, b, c = fit_joint_torque(tau, w, measured)
    assert (s, o, b, c) == pytest.approx((0.8, 1.5, 3.0, 2.0), abs=0.02)


def test_power_fit_recovers_constant_power_and_copper_loss():
    rng = np.random.default_rng(4)
    n = 4000
    tau = rng.normal(0, 30, (n, 2))
    w = rng.normal(0, 1, (n, 2))
    truth = PowerModel(
        controller_w=45.0,
        copper_loss_w_per_nm2=[0.02, 0.01],
        viscous_friction_nm_s_per_rad=[0.0, 0.0],
        coulomb_friction_nm=[0.0, 0.0],
    )
    measured = electrical_power(truth, tau, w) + rng.normal(0, 0.5, n)
    prior = truth.model_copy(update={"controller_w": 0.0, "copper_loss_w_per_nm2": [0.002, 0.001]})
    controller, regeneration, copper = fit_power(prior, tau, w, measured)
    assert controller == pytest.approx(45.0, abs=0.2)
    assert copper == pytest.approx([0.02, 0.01], rel=0.02)
    assert regeneration == pytest.approx(0.0, abs=0.01)


def test_time_block_split_holds_out_the_last_30_percent():
    from pathlib import Path

    from twin.replay.columns import LogPart

    t = np.arange(0, 10, 0.01)
    samples = prepare([LogPart(Path("a"), t, False, {"q_1": t}, {}), LogPart(Path("b"), t, False, {"q_1": t}, {})])
    train, validation = time_block_split(samples, 0.7)
    assert len(train) + len(validation) == samples.n
    assert samples.run[validation].min() == 1 and len(validation) == pytest.approx(0.3 * samples.n, rel=0.01)


def test_a_torque_scale_fitted_to_noise_stays_bounded():
    """A joint the motion barely loads: a small disturbance in phase with its tiny model torque would fit a scale
    of 50 (the UR10e's wrist fitted 291); the fit stops at twice the URDF's torque."""
    rng = np.random.default_rng(2)
    phase = np.linspace(0.0, 7.0, 500)
    w = np.sin(np.linspace(0.0, 20.0, 500))
    tau_rb = 1e-3 * np.cos(phase)  # N·m: the model says the joint carries almost nothing
    measured = 0.3 + 0.05 * np.cos(phase) + rng.normal(0.0, 0.005, 500)  # 50x that, plus an offset
    fit = fit_joint_torque(tau_rb, w, measured)
    assert fit is not None and fit[0] == pytest.approx(MAX_TORQUE_SCALE)
