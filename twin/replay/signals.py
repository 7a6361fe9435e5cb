"""Recorded samples onto a replayable time base: order, gaps, uniform grids, smoothed derivatives.

Within a run (one file, or one robot's rows from the warehouse) samples are sorted and exact duplicate
time stamps dropped. An interval longer than ``max(gap_factor x nominal period, min_gap_s)`` is a gap: it
splits the run into segments that are never interpolated, differentiated or integrated across. A
segment whose sampling is irregular (any interval off the nominal period by more than
``jitter_tolerance``) is resampled onto a uniform grid at the nominal period by linear interpolation;
labels (program step, cycle) take the value of the sample at or before each grid point.

Velocities come from the log when it has them, else from a Savitzky–Golay derivative of positions;
accelerations are a Savitzky–Golay derivative of velocities (or the second derivative of positions).
The window spans about ``window_s`` (0.1 s by default: 101 samples at 1 kHz, 13 at 125 Hz, 11 at
100 Hz), never fewer than ``polyorder + 2`` samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.signal import savgol_filter

from twin.errors import TelemetryError
from twin.replay.columns import LogPart


@dataclass(frozen=True)
class SignalConfig:
    """How samples are put on a time base and differentiated."""

    window_s: float = 0.1
    polyorder: int = 3
    gap_factor: float = 5.0
    min_gap_s: float = 0.02
    jitter_tolerance: float = 0.01
    smooth_velocity: bool = True


@dataclass(frozen=True)
class Gap:
    """A hole in a run's log."""

    run: int
    start_s: float
    end_s: float
    label_before: str | None
    label_after: str | None

    @property
    def duration_s(self) -> float:
        """Length of the hole."""
        return self.end_s - self.start_s


@dataclass
class Samples:
    """Every sample to replay, concatenated over runs, on (per segment) uniform time bases."""

    t_s: NDArray[np.float64]
    absolute: bool
    run: NDArray[np.int64]
    segment: NDArray[np.int64]
    run_names: list[str]
    values: dict[str, NDArray[np.float64]]
    labels: dict[str, NDArray[np.object_]]
    period_s: list[float]
    resampled: bool
    gaps: list[Gap] = field(default_factory=list)
    dropped_rows: int = 0

    @property
    def n(self) -> int:
        """Number of samples."""
        return len(self.t_s)

    @property
    def rate_hz(self) -> float:
        """Nominal sample rate (of the first run)."""
        return 1.0 / self.period_s[0] if self.period_s and self.period_s[0] > 0 else float("nan")

    def segment_bounds(self) -> list[tuple[int, int]]:
        """(start, stop) row ranges of every segment."""
        if self.n == 0:
            return []
        change = np.nonzero(np.diff(self.segment))[0] + 1
        starts = np.concatenate([[0], change])
        stops = np.concatenate([change, [self.n]])
        return list(zip(starts.tolist(), stops.tolist(), strict=True))

    def duration_s(self) -> float:
        """Time covered by the samples (sum of segment spans, gaps excluded)."""
        return float(sum(self.t_s[b - 1] - self.t_s[a] for a, b in self.segment_bounds()))

    def take(self, rows: NDArray[np.int64] | slice) -> Samples:
        """A subset of rows (segments keep their ids)."""
        return Samples(
            t_s=self.t_s[rows],
            absolute=self.absolute,
            run=self.run[rows],
            segment=self.segment[rows],
            run_names=self.run_names,
            values={k: v[rows] for k, v in self.values.items()},
            labels={k: v[rows] for k, v in self.labels.items()},
            period_s=self.period_s,
            resampled=self.resampled,
            gaps=self.gaps,
            dropped_rows=self.dropped_rows,
        )


def window_for(period_s: float, config: SignalConfig, length: int) -> int:
    """Savitzky–Golay window (odd samples) spanning about ``config.window_s``, bounded by the segment."""
    window = int(round(config.window_s / period_s)) if period_s > 0 else config.polyorder + 2
    window = max(window, config.polyorder + 2)
    if window % 2 == 0:
        window += 1
    if window > length:
        window = length if length % 2 == 1 else length - 1
    return window


def _nominal_period(t: NDArray[np.float64]) -> float:
    steps = np.diff(t)
    steps = steps[steps > 0]
    return float(np.median(steps)) if len(steps) else 0.0


def _prepare_run(
    part: LogPart, sides: list[LogPart], config: SignalConfig, run: int, first_segment: int
) -> tuple[dict[str, NDArray], dict[str, NDArray], NDArray, NDArray, float, bool, list[Gap], int]:
    order = np.argsort(part.t_s, kind="stable")
    t = part.t_s[order]
    values = {k: v[order] for k, v in part.values.items()}
    labels = {k: v[order] for k, v in part.labels.items()}
    keep = np.ones(len(t), dtype=bool)
    # duplicate time stamps (and near-duplicates, e.g. one operation's last sample and the next one's
    # first): the first row stands
    keep[1:] = np.diff(t) > 0.1 * _nominal_period(t)
    q_keys = [k for k in values if k.startswith("q_")]
    finite = np.all(np.isfinite(np.column_stack([values[k] for k in q_keys])), axis=1) & np.isfinite(t)
    dropped = int((~finite).sum())
    keep &= finite
    t = t[keep]
    values = {k: v[keep] for k, v in values.items()}
    labels = {k: v[keep] for k, v in labels.items()}
    if len(t) < 2:
        raise TelemetryError(f"{part.path}: fewer than two usable samples (rows with positions and a time)")
    period = _nominal_period(t)
    threshold = max(config.gap_factor * period, config.min_gap_s)
    steps = np.diff(t)
    breaks = np.nonzero(steps > threshold)[0]
    step_label = labels.get("program_step")
    gaps = [
        Gap(
            run,
            float(t[i]),
            float(t[i + 1]),
            None if step_label is None else str(step_label[i]),
            None if step_label is None else str(step_label[i + 1]),
        )
        for i in breaks.tolist()
    ]
    seg_local = np.zeros(len(t), dtype=np.int64)
    seg_local[breaks + 1] = 1
    seg_local = np.cumsum(seg_local)
    inside = np.ones(len(steps), dtype=bool)
    inside[breaks] = False
    irregular = bool(inside.any() and np.max(np.abs(steps[inside] - period)) > config.jitter_tolerance * period)
    if irregular:
        grids = []
        grid_seg = []
        for s in range(int(seg_local[-1]) + 1):
            rows = np.nonzero(seg_local == s)[0]
            t0, t1 = t[rows[0]], t[rows[-1]]
            count = int(np.floor((t1 - t0) / period + 1e-9)) + 1
            grids.append(t0 + period * np.arange(count))
            grid_seg.append(np.full(count, s, dtype=np.int64))
        grid = np.concatenate(grids)
        values = {k: np.interp(grid, t, v) for k, v in values.items()}
        previous = np.clip(np.searchsorted(t, grid + 1e-9 * period, side="right") - 1, 0, len(t) - 1)
        labels = {k: v[previous] for k, v in labels.items()}
        t, seg_local = grid, np.concatenate(grid_seg)
    for side in sides:
        side_order = np.argsort(side.t_s, kind="stable")
        st = side.t_s[side_order]
        for key, v in side.values.items():
            if key in values:
                continue
            sv = v[side_order]
            ok = np.isfinite(sv)
            if ok.sum() < 2:
                continue
            values[key] = np.interp(t, st[ok], sv[ok], left=np.nan, right=np.nan)
        for key, v in side.labels.items():
            if key not in labels:
                previous = np.clip(np.searchsorted(st, t, side="right") - 1, 0, len(st) - 1)
                labels[key] = v[side_order][previous]
    return values, labels, t, seg_local + first_segment, period, irregular, gaps, dropped


def prepare(parts: list[LogPart], config: SignalConfig | None = None) -> Samples:
    """Runs (files with positions) one after the other; side files interpolated onto them.

    Raises:
        TelemetryError: A run has fewer than two usable samples, or runs mix absolute and relative time.
    """
    config = config or SignalConfig()
    runs = [p for p in parts if p.has_positions]
    sides = [p for p in parts if not p.has_positions]
    if len({p.absolute for p in parts}) > 1:
        raise TelemetryError("the files mix absolute time stamps (ts) and relative seconds (t_s); use one kind")
    all_values: list[dict[str, NDArray]] = []
    all_labels: list[dict[str, NDArray]] = []
    ts, runs_col, segs, periods, gaps = [], [], [], [], []
    resampled, dropped, next_segment = False, 0, 0
    for index, part in enumerate(runs):
        values, labels, t, seg, period, irregular, run_gaps, n_dropped = _prepare_run(
            part, sides, config, index, next_segment
        )
        next_segment = int(seg[-1]) + 1
        all_values.append(values)
        all_labels.append(labels)
        ts.append(t)
        runs_col.append(np.full(len(t), index, dtype=np.int64))
        segs.append(seg)
        periods.append(period)
        gaps += run_gaps
        resampled |= irregular
        dropped += n_dropped
    n_total = sum(len(t) for t in ts)
    keys = sorted({k for v in all_values for k in v})
    label_keys = sorted({k for v in all_labels for k in v})
    values_out = {
        k: np.concatenate([v.get(k, np.full(len(t), np.nan)) for v, t in zip(all_values, ts, strict=True)])
        for k in keys
    }
    labels_out = {
        k: np.concatenate(
            [v.get(k, np.full(len(t), None, dtype=object)).astype(object) for v, t in zip(all_labels, ts, strict=True)]
        )
        for k in label_keys
    }
    samples = Samples(
        t_s=np.concatenate(ts),
        absolute=runs[0].absolute,
        run=np.concatenate(runs_col),
        segment=np.concatenate(segs),
        run_names=[p.path.name for p in runs],
        values=values_out,
        labels=labels_out,
        period_s=periods,
        resampled=resampled,
        gaps=gaps,
        dropped_rows=dropped,
    )
    assert samples.n == n_total
    return samples


def derivatives(
    samples: Samples, joints: list[int], config: SignalConfig | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Positions, velocities and accelerations (n x len(joints)) of the logged joints.

    Joints are numbered from 1; each segment is filtered on its own.
    """
    config = config or SignalConfig()
    n = samples.n
    q = np.column_stack([samples.values[f"q_{j}"] for j in joints]) if joints else np.zeros((n, 0))
    have_qd = all(f"qd_{j}" in samples.values and np.isfinite(samples.values[f"qd_{j}"]).all() for j in joints)
    qd_log = np.column_stack([samples.values[f"qd_{j}"] for j in joints]) if have_qd and joints else None
    qd = np.empty_like(q)
    qdd = np.empty_like(q)
    for start, stop in samples.segment_bounds():
        length = stop - start
        period = samples.period_s[int(samples.run[start])]
        window = window_for(period, config, length)
        rows = slice(start, stop)
        if window <= config.polyorder or length < 3:
            qd[rows] = qd_log[rows] if qd_log is not None else _gradient(q[rows], period)
            qdd[rows] = _gradient(qd[rows], period)
            continue
        if qd_log is not None:
            velocity = qd_log[rows]
            if config.smooth_velocity:
                qd[rows] = savgol_filter(velocity, window, config.polyorder, axis=0, mode="interp")
            else:
                qd[rows] = velocity
            qdd[rows] = savgol_filter(velocity, window, config.polyorder, deriv=1, delta=period, axis=0, mode="interp")
        else:
            qd[rows] = savgol_filter(q[rows], window, config.polyorder, deriv=1, delta=period, axis=0, mode="interp")
            qdd[rows] = savgol_filter(q[rows], window, config.polyorder, deriv=2, delta=period, axis=0, mode="interp")
    return q, qd, qdd


def _gradient(x: NDArray[np.float64], period: float) -> NDArray[np.float64]:
    if len(x) < 2 or period <= 0:
        return np.zeros_like(x)
    return np.gradient(x, period, axis=0)


def smooth(samples: Samples, x: NDArray[np.float64], config: SignalConfig | None = None) -> NDArray[np.float64]:
    """A moving-average view of ``x`` (same window as the derivatives), each segment on its own; NaN kept."""
    config = config or SignalConfig()
    out = np.array(x, dtype=float, copy=True)
    for start, stop in samples.segment_bounds():
        period = samples.period_s[int(samples.run[start])]
        window = window_for(period, config, stop - start)
        rows = slice(start, stop)
        if window < 3 or not np.isfinite(out[rows]).all():
            continue
        out[rows] = savgol_filter(out[rows], window, 1, axis=0, mode="interp")
    return out
