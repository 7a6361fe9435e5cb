"""Anomalies of a replay, each with its time and cycle.

- ``joint_limit`` / ``velocity_limit``: a logged joint outside its position range, or faster than its
  velocity limit (the cell's limits for cell robots, the URDF's otherwise; 1 % margin on velocity);
- ``clearance`` / ``collision``: a clearance check below the cell's threshold, or penetration;
- ``gap``: a hole in the log inside one program step (a pause between two steps is the program
  waiting, not lost data; without program steps every hole counts);
- ``torque_outlier`` / ``power_outlier``: residual (measured − predicted, smoothed over the derivative
  window) with a robust z-score ``0.6745 (r − median) / MAD`` beyond ``outlier_z`` and farther than 5 % of
  the measurement's range from the median residual.

Consecutive flagged samples form one anomaly (an episode); outlier episodes closer than
``outlier_merge_s`` are merged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from numpy.typing import NDArray

from twin.replay.signals import SignalConfig, smooth

if TYPE_CHECKING:
    from twin.replay.data import ReplayConfig, ReplayData

MAD_TO_SIGMA = 0.6745
FLOOR_SHARE = 0.05
VELOCITY_MARGIN = 1.01
POSITION_TOLERANCE = 1e-4

ANOMALY_SCHEMA = {
    "kind": pl.String,
    "start_s": pl.Float64,
    "duration_s": pl.Float64,
    "run": pl.Int64,
    "cycle": pl.String,
    "joint": pl.Int64,
    "value": pl.Float64,
    "limit": pl.Float64,
    "body": pl.String,
    "detail": pl.String,
}


@dataclass(frozen=True)
class Anomaly:
    """One anomaly episode."""

    kind: str
    row: int
    start_s: float
    duration_s: float
    run: int
    cycle: str | None
    joint: int | None
    value: float | None
    limit: float | None
    body: str | None
    detail: str


def episodes(flags: NDArray[np.bool_], segment: NDArray[np.int64], merge_rows: int = 0) -> list[tuple[int, int]]:
    """(start, stop) row ranges of consecutive True flags within a segment; gaps <= ``merge_rows`` merged.

    >>> import numpy as np
    >>> episodes(np.array([0, 1, 1, 0, 0, 1, 0, 1], bool), np.zeros(8, int))
    [(1, 3), (5, 6), (7, 8)]
    >>> episodes(np.array([0, 1, 1, 0, 0, 1, 0, 1], bool), np.zeros(8, int), merge_rows=1)
    [(1, 3), (5, 8)]
    >>> episodes(np.array([0, 1, 1, 0, 0, 1, 0, 1], bool), np.zeros(8, int), merge_rows=2)
    [(1, 8)]
    """
    if not flags.any():
        return []
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.diff(padded)
    starts = np.nonzero(edges == 1)[0]
    stops = np.nonzero(edges == -1)[0]
    spans: list[tuple[int, int]] = []
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        # split at segment changes inside the run of flags
        seg = segment[start:stop]
        cuts = (np.nonzero(np.diff(seg))[0] + 1 + start).tolist()
        bounds = [start, *cuts, stop]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            if spans and a - spans[-1][1] <= merge_rows and segment[a] == segment[spans[-1][1] - 1]:
                spans[-1] = (spans[-1][0], b)
            else:
                spans.append((a, b))
    return spans


def _cycle_label(data: ReplayData, row: int) -> str | None:
    cycle = int(data.cycle[row])
    return data.cycle_labels[cycle] if cycle >= 0 else None


def _make(data: ReplayData, kind: str, start: int, stop: int, **fields: object) -> Anomaly:
    t = data.samples.t_s
    return Anomaly(
        kind=kind,
        row=start,
        start_s=float(t[start]),
        duration_s=float(t[stop - 1] - t[start]),
        run=int(data.samples.run[start]),
        cycle=_cycle_label(data, start),
        joint=fields.get("joint"),  # type: ignore[arg-type]
        value=fields.get("value"),  # type: ignore[arg-type]
        limit=fields.get("limit"),  # type: ignore[arg-type]
        body=fields.get("body"),  # type: ignore[arg-type]
        detail=str(fields.get("detail", "")),
    )


def limit_anomalies(data: ReplayData) -> list[Anomaly]:
    """Position-range and velocity-limit violations of the logged joints."""
    found: list[Anomaly] = []
    segment = data.samples.segment
    for j in data.logged:
        c = j - 1
        q = data.q[:, c]
        lower, upper = data.lower[c], data.upper[c]
        if np.isfinite(lower) and np.isfinite(upper):
            flags = (q < lower - POSITION_TOLERANCE) | (q > upper + POSITION_TOLERANCE)
            for a, b in episodes(flags, segment):
                window = q[a:b]
                worst = float(window[np.argmax(np.maximum(lower - window, window - upper))])
                limit = lower if worst < lower else upper
                found.append(
                    _make(
                        data,
                        "joint_limit",
                        a,
                        b,
                        joint=j,
                        value=worst,
                        limit=float(limit),
                        detail=f"joint {j} ({data.joint_names[c]}) at {worst:.4f} outside [{lower:.4f}, {upper:.4f}]",
                    )
                )
        vmax = data.max_velocity[c] if c < len(data.max_velocity) else np.nan
        if np.isfinite(vmax) and vmax > 0:
            speed = np.abs(data.qd[:, c])
            for a, b in episodes(speed > vmax * VELOCITY_MARGIN, segment):
                peak = float(speed[a:b].max())
                found.append(
                    _make(
                        data,
                        "velocity_limit",
                        a,
                        b,
                        joint=j,
                        value=peak,
                        limit=float(vmax),
                        detail=f"joint {j} ({data.joint_names[c]}) at {peak:.3f}/s, limit {vmax:.3f}/s",
                    )
                )
    return found


def clearance_anomalies(data: ReplayData, threshold_m: float) -> list[Anomaly]:
    """Clearance checks below the threshold (``collision`` when the robot penetrates a body)."""
    if data.clearance_rows is None or data.clearance_m is None or not len(data.clearance_rows):
        return []
    rows = data.clearance_rows
    distance = data.clearance_m
    flags = distance < threshold_m
    found = []
    for a, b in episodes(flags, data.samples.segment[rows]):
        k = a + int(np.argmin(distance[a:b]))
        worst = float(distance[k])
        body = (data.clearance_body or [None] * len(rows))[k]
        link = (data.clearance_link or [None] * len(rows))[k]
        kind = "collision" if worst < 0.0 else "clearance"
        what = f"penetration {-worst * 1000:.1f} mm" if worst < 0 else f"clearance {worst * 1000:.1f} mm"
        found.append(
            _make(
                data,
                kind,
                int(rows[a]),
                int(rows[b - 1]) + 1,
                value=worst,
                limit=threshold_m,
                body=body,
                detail=f"{what} to {body} (link {link})",
            )
        )
    return found


def gap_anomalies(data: ReplayData) -> list[Anomaly]:
    """Holes in the log inside one program step (or any hole when the log has no steps)."""
    samples = data.samples
    found = []
    for gap in samples.gaps:
        if gap.label_before != gap.label_after:
            continue
        rows = np.nonzero(samples.run == gap.run)[0]
        k = int(rows[min(len(rows) - 1, int(np.searchsorted(samples.t_s[rows], gap.start_s, side="left")))])
        found.append(
            Anomaly(
                kind="gap",
                row=k,
                start_s=gap.start_s,
                duration_s=gap.duration_s,
                run=gap.run,
                cycle=_cycle_label(data, k),
                joint=None,
                value=gap.duration_s,
                limit=None,
                body=None,
                detail=f"no samples for {gap.duration_s:.3f} s"
                + (f" during {gap.label_before}" if gap.label_before else ""),
            )
        )
    return found


def robust_z(residual: NDArray[np.float64]) -> tuple[NDArray[np.float64], float, float]:
    """Robust z-score of every residual, with the median and the MAD (NaN stays NaN; zero MAD -> zeros)."""
    finite = residual[np.isfinite(residual)]
    if len(finite) == 0:
        return np.full_like(residual, np.nan), float("nan"), float("nan")
    median = float(np.median(finite))
    mad = float(np.median(np.abs(finite - median)))
    if mad <= 0.0:
        return np.zeros_like(residual), median, mad
    return MAD_TO_SIGMA * (residual - median) / mad, median, mad


def outlier_anomalies(
    data: ReplayData,
    tau_meas: NDArray[np.float64],
    tau_pred: NDArray[np.float64],
    power_meas: NDArray[np.float64] | None,
    power_pred: NDArray[np.float64],
    z_limit: float,
    merge_s: float,
    signals: SignalConfig | None = None,
) -> list[Anomaly]:
    """Residual outliers of every measured joint torque and of power.

    The residual is smoothed over the derivative window first (a spike shorter than the window that
    the acceleration estimate cannot resolve is not an anomaly), and the limit is at least
    ``FLOOR_SHARE`` of the measurement's range (a near-perfect fit makes the MAD tiny).
    """
    samples = data.samples
    period = samples.period_s[0] if samples.period_s else 0.0
    merge_rows = int(round(merge_s / period)) if period > 0 else 0
    found = []
    series: list[tuple[str, int | None, NDArray[np.float64], str]] = []
    for c in range(tau_meas.shape[1]):
        if np.isfinite(tau_meas[:, c]).any():
            series.append(("torque_outlier", c + 1, tau_meas[:, c] - tau_pred[:, c], "N·m"))
    if power_meas is not None:
        series.append(("power_outlier", None, power_meas - power_pred, "W"))
    for kind, joint, raw, unit in series:
        residual = smooth(samples, raw, signals)
        z, median, mad = robust_z(residual)
        if not np.isfinite(mad) or mad <= 0.0:
            continue
        measured = raw + (tau_pred[:, joint - 1] if joint else power_pred)
        finite = measured[np.isfinite(measured)]
        floor = FLOOR_SHARE * float(finite.max() - finite.min()) if len(finite) else 0.0
        limit = max(z_limit * mad / MAD_TO_SIGMA, floor)
        flags = np.abs(np.nan_to_num(residual - median)) > limit
        for a, b in episodes(flags, samples.segment, merge_rows):
            k = a + int(np.nanargmax(np.abs(residual[a:b] - median)))
            value = float(residual[k])
            where = f"joint {joint} " if joint else ""
            found.append(
                _make(
                    data,
                    kind,
                    a,
                    b,
                    joint=joint,
                    value=value,
                    limit=float(limit),
                    detail=f"{where}residual {value:+.2f} {unit} (smoothed; limit ±{limit:.2f} {unit})",
                )
            )
    return found


def find_anomalies(
    data: ReplayData,
    tau_meas: NDArray[np.float64],
    tau_pred: NDArray[np.float64],
    power_meas: NDArray[np.float64] | None,
    power_pred: NDArray[np.float64],
    config: ReplayConfig,
) -> list[Anomaly]:
    """Every kind of anomaly, in time order."""
    found = limit_anomalies(data)
    found += clearance_anomalies(data, config.clearance_threshold_m)
    found += gap_anomalies(data)
    found += outlier_anomalies(
        data, tau_meas, tau_pred, power_meas, power_pred, config.outlier_z, config.outlier_merge_s, config.signals
    )
    return sorted(found, key=lambda a: (a.run, a.start_s, a.kind))


def anomalies_frame(found: list[Anomaly], absolute: bool) -> pl.DataFrame:
    """One row per anomaly (``start_at`` in UTC when the log has absolute time)."""
    frame = pl.DataFrame(
        {name: [getattr(a, name) for a in found] for name in ANOMALY_SCHEMA},
        schema=ANOMALY_SCHEMA,
    )
    if absolute:
        frame = frame.with_columns(
            pl.from_epoch((pl.col("start_s") * 1e6).round().cast(pl.Int64), time_unit="us")
            .dt.replace_time_zone("UTC")
            .alias("start_at")
        )
    return frame
