"""Error figures of the twin against measurements (SPEC.md, "Figures, defined once").

R² = 1 − SS_res / SS_tot pooled over every sample compared; RMSE in the quantity's unit; NRMSE = RMSE /
(max − min of the measurement). Samples where either side is missing (NaN) are not compared.

R² only means something where the measurement varies: on a robot holding still, SS_tot is the sensor's
noise and R² can be −7556 with a good model. So RMSE is always reported, and R² only where the measurement
varies (:func:`varies`: its standard deviation is at least :data:`MIN_VARIATION_SHARE` of its RMS) and the
robot moves (:func:`moving_share` at least :data:`MIN_MOVING_SHARE`).

>>> import numpy as np
>>> round(r2(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0])), 3)
0.5
>>> rmse(np.array([0.0, 0.0]), np.array([3.0, 4.0])) == float(np.sqrt(12.5))
True
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

MIN_VARIATION_SHARE = 0.05
"""A measurement varies when its standard deviation is at least this share of its RMS."""
MOVING_RAD_S = 0.02
"""A sample moves when some joint turns faster than this."""
MIN_MOVING_SHARE = 0.05
"""A log moves when at least this share of its samples move; below it the log is static."""


def varies(measured: NDArray[np.float64]) -> bool:
    """Whether a measurement varies enough for R² to mean something (see the module docstring).

    >>> varies(np.array([30.0, 30.1, 29.9, 30.0])), varies(np.array([0.0, 10.0, -5.0, 20.0]))
    (False, True)
    """
    y = measured[np.isfinite(measured)]
    if len(y) < 2:
        return False
    rms = float(np.sqrt(np.mean(y**2)))
    return rms > 0.0 and float(np.std(y)) >= MIN_VARIATION_SHARE * rms


def moving_share(qd: NDArray[np.float64]) -> float:
    """The share of samples in which some joint turns faster than :data:`MOVING_RAD_S` (0 without samples)."""
    if qd.size == 0:
        return 0.0
    return float(np.mean(np.nanmax(np.abs(qd), axis=1) > MOVING_RAD_S))


def _pair(measured: NDArray[np.float64], predicted: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    ok = np.isfinite(measured) & np.isfinite(predicted)
    return measured[ok], predicted[ok]


def r2(measured: NDArray[np.float64], predicted: NDArray[np.float64]) -> float | None:
    """Coefficient of determination; None with fewer than two samples or a constant measurement."""
    return _r2(*_pair(measured, predicted))


def rmse(measured: NDArray[np.float64], predicted: NDArray[np.float64]) -> float | None:
    """Root-mean-square error; None without samples."""
    return _rmse(*_pair(measured, predicted))


def nrmse(measured: NDArray[np.float64], predicted: NDArray[np.float64]) -> float | None:
    """RMSE over the measurement's range; None when the range is zero or nothing is compared."""
    return _nrmse(*_pair(measured, predicted))


def _r2(y: NDArray[np.float64], p: NDArray[np.float64]) -> float | None:
    if len(y) < 2:
        return None
    total = float(np.sum((y - y.mean()) ** 2))
    if total <= 0.0:
        return None
    return 1.0 - float(np.sum((y - p) ** 2)) / total


def _rmse(y: NDArray[np.float64], p: NDArray[np.float64]) -> float | None:
    if len(y) == 0:
        return None
    return float(np.sqrt(np.mean((y - p) ** 2)))


def _nrmse(y: NDArray[np.float64], p: NDArray[np.float64]) -> float | None:
    error = _rmse(y, p)
    if error is None:
        return None
    spread = float(y.max() - y.min())
    return error / spread if spread > 0.0 else None


def interval_energy(
    t_s: NDArray[np.float64], segment: NDArray[np.int64], power_w: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Energy (J) of each interval ``[i, i+1]`` by the trapezoid rule; zero across a segment break.

    The result has one value per sample (the interval starting there; the last is zero), so summing it
    over any grouping of samples gives that group's energy. NaN power makes its intervals NaN.
    """
    out = np.zeros(len(t_s))
    if len(t_s) < 2:
        return out
    same = segment[1:] == segment[:-1]
    out[:-1] = np.where(same, 0.5 * (power_w[1:] + power_w[:-1]) * np.diff(t_s), 0.0)
    return out


def group_sum(values: NDArray[np.float64], groups: NDArray[np.int64], n_groups: int) -> NDArray[np.float64]:
    """Sum of ``values`` per integer group id (0..n_groups-1); NaN stays NaN in its group."""
    nan = np.isnan(values)
    sums = np.bincount(groups, weights=np.where(nan, 0.0, values), minlength=n_groups)
    has_nan = np.bincount(groups, weights=nan.astype(float), minlength=n_groups) > 0
    return np.where(has_nan, np.nan, sums)


def figures(measured: NDArray[np.float64], predicted: NDArray[np.float64]) -> dict[str, float | None]:
    """R², RMSE and NRMSE of one quantity (the samples are paired once)."""
    y, p = _pair(measured, predicted)
    return {"r2": _r2(y, p), "rmse": _rmse(y, p), "nrmse": _nrmse(y, p)}
