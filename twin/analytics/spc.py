"""Statistical process control: Shewhart control charts and run rules.

Charts: ``xbar-r``, ``xbar-s``, ``imr``, ``p``, ``np``, ``c`` and ``u``, all with 3-sigma limits.
Each chart function returns a list of chart dicts::

    {"name": "xbar" | "r" | "s" | "i" | "mr" | "p" | "np" | "c" | "u",
     "center": float, "lcl": float | [float], "ucl": float | [float],
     "points": [float | None], "violations": [{"index": int, "rule": str}]}

Limits are one float when they are the same for every point and a list (one per point) when the
subgroup or sample sizes vary. ``index`` is the 1-based position of the point that COMPLETES the
pattern. A point may carry several violations (one per rule it breaks); they are sorted by index
and then by rule number.

Estimation follows Montgomery (*Introduction to Statistical Quality Control*) and the R package
qcc, so results can be checked against their published examples:

- X̄-R: sigma is the unweighted average of ``R_i / d2(n_i)`` over the subgroups (``R̄/d2`` for
  equal sizes); the centre is the grand mean of all observations. The R chart's centre is the
  size-weighted mean range and its limits are ``centre ± 3·d3(n_i)·sigma`` (``D3·R̄``, ``D4·R̄`` for
  equal sizes).
- X̄-S: sigma is the unweighted average of ``S_i / c4(n_i)`` (``S̄/c4`` for equal sizes); the S
  chart's limits are ``centre ± 3·sigma·sqrt(1 - c4(n_i)²)`` (``B3·S̄``, ``B4·S̄``).
- I-MR: sigma is ``MR̄ / d2(2)`` with ``d2(2) = 1.128``; the MR chart's limits are
  ``MR̄ ± 3·d3(2)·sigma``. The MR chart's first point is ``None`` (no moving range), so its indices
  line up with the I chart's.
- p, np, c, u: the binomial / Poisson limits of Montgomery chapter 7; the np and c charts need a
  constant sample size (use the p or u chart otherwise).

Lower limits of the R, S, MR, p, np, c and u charts are clipped at 0.

Phase I / phase II: a boolean ``base`` mask (or ``phase_col`` / ``phase_value`` in
:func:`control_chart`) selects the points the limits are estimated from; the limits are then
applied to every point, and the rules run over every point.

Rules apply to the location chart (xbar, i, p, np, c, u). Without a rule set a violation is a point
beyond the limits (rule ``beyond-limits``). ``western-electric`` names its rules
``western-electric-1`` .. ``-4`` and ``nelson`` names ``nelson-1`` .. ``-8`` (see
:func:`detect_violations`). The dispersion chart (r, s, mr) always gets ``beyond-limits`` only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from twin.errors import InputError

CHARTS: tuple[str, ...] = ("xbar-r", "xbar-s", "imr", "p", "np", "c", "u")
RULE_SETS: tuple[str, ...] = ("western-electric", "nelson")
NSIGMAS = 3.0

# d2(n) and d3(n): mean and standard deviation of the range of n standard normal observations.
# d2 to three decimals as printed in Montgomery, Introduction to Statistical Quality Control,
# Appendix VI; that is also what qcc's published examples use (piston rings: sigma 0.009785039 =
# 0.02276 / 2.326). d3 to four decimals as in the ASTM MNL 7 / Harter tables (Montgomery prints
# three); qcc's published R-chart limits need the fourth. tests/analytics checks both tables against
# a numerical integration of the range distribution.
_D2_TABLE: dict[int, float] = {
    2: 1.128, 3: 1.693, 4: 2.059, 5: 2.326, 6: 2.534, 7: 2.704, 8: 2.847, 9: 2.970, 10: 3.078,
    11: 3.173, 12: 3.258, 13: 3.336, 14: 3.407, 15: 3.472, 16: 3.532, 17: 3.588, 18: 3.640,
    19: 3.689, 20: 3.735, 21: 3.778, 22: 3.819, 23: 3.858, 24: 3.895, 25: 3.931,
}  # fmt: skip
_D3_TABLE: dict[int, float] = {
    2: 0.8525, 3: 0.8884, 4: 0.8798, 5: 0.8641, 6: 0.8480, 7: 0.8332, 8: 0.8198, 9: 0.8078,
    10: 0.7971, 11: 0.7873, 12: 0.7785, 13: 0.7704, 14: 0.7630, 15: 0.7562, 16: 0.7499,
    17: 0.7441, 18: 0.7386, 19: 0.7335, 20: 0.7287, 21: 0.7242, 22: 0.7199, 23: 0.7159,
    24: 0.7121, 25: 0.7084,
}  # fmt: skip
MIN_TABLE_N = 2
MAX_TABLE_N = 25


def c4(n: int) -> float:
    """Bias correction of the sample standard deviation (``E(S) = c4·sigma``), computed exactly.

    Args:
        n: Subgroup size, at least 2.

    Returns:
        ``sqrt(2/(n-1)) · Γ(n/2) / Γ((n-1)/2)``.

    Raises:
        InputError: If ``n < 2``.

    >>> round(c4(5), 4)
    0.94
    """
    if n < 2:
        raise InputError(f"c4 needs a subgroup size of at least 2, got {n}")
    return math.sqrt(2.0 / (n - 1)) * math.exp(math.lgamma(n / 2.0) - math.lgamma((n - 1) / 2.0))


def d2(n: int) -> float:
    """Mean range of ``n`` standard normal observations (published table, n = 2..25).

    Args:
        n: Subgroup size.

    Returns:
        The tabulated d2 constant.

    Raises:
        InputError: If ``n`` is outside 2..25.
    """
    return _table(_D2_TABLE, "d2", n)


def d3(n: int) -> float:
    """Standard deviation of the range of ``n`` standard normal observations (table, n = 2..25).

    Args:
        n: Subgroup size.

    Returns:
        The tabulated d3 constant.

    Raises:
        InputError: If ``n`` is outside 2..25.
    """
    return _table(_D3_TABLE, "d3", n)


def _table(table: dict[int, float], name: str, n: int) -> float:
    try:
        return table[int(n)]
    except KeyError:
        raise InputError(f"{name} is tabulated for subgroup sizes {MIN_TABLE_N}..{MAX_TABLE_N}, got {n}") from None


def constants(n: int) -> dict[str, float]:
    """The control chart constants for subgroup size ``n`` (2..25).

    ``d2``, ``d3`` come from the published table and ``c4`` from the gamma function; the factors
    follow from them: ``A2 = 3/(d2·√n)``, ``D3 = max(0, 1 - 3·d3/d2)``, ``D4 = 1 + 3·d3/d2``,
    ``A3 = 3/(c4·√n)``, ``B3 = max(0, 1 - 3·√(1-c4²)/c4)``, ``B4 = 1 + 3·√(1-c4²)/c4``. They agree
    with the printed tables (e.g. Montgomery Appendix VI) to the table's last digit, give or take
    the rounding of d2 and d3.

    Args:
        n: Subgroup size.

    Returns:
        A dict with keys ``d2, d3, c4, A2, A3, B3, B4, D3, D4``.

    Raises:
        InputError: If ``n`` is outside 2..25.

    >>> round(constants(5)["A2"], 3), round(constants(5)["D4"], 3)
    (0.577, 2.114)
    """
    dd2, dd3, cc4 = d2(n), d3(n), c4(n)
    root_n = math.sqrt(n)
    s_factor = 3.0 * math.sqrt(1.0 - cc4 * cc4) / cc4
    return {
        "d2": dd2,
        "d3": dd3,
        "c4": cc4,
        "A2": 3.0 / (dd2 * root_n),
        "A3": 3.0 / (cc4 * root_n),
        "B3": max(0.0, 1.0 - s_factor),
        "B4": 1.0 + s_factor,
        "D3": max(0.0, 1.0 - 3.0 * dd3 / dd2),
        "D4": 1.0 + 3.0 * dd3 / dd2,
    }


CONSTANTS: dict[int, dict[str, float]] = {n: constants(n) for n in range(MIN_TABLE_N, MAX_TABLE_N + 1)}
"""Control chart constants for n = 2..25, keyed by subgroup size."""


# --------------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------------


def _run_flags(condition: NDArray[np.bool_], length: int) -> NDArray[np.bool_]:
    """True at each position where ``condition`` has held for the last ``length`` positions."""
    flags = np.zeros(condition.shape, dtype=bool)
    count = 0
    for i, ok in enumerate(condition):
        count = count + 1 if ok else 0
        flags[i] = count >= length
    return flags


def _k_of_m(
    x: NDArray[np.float64], center: float, sigma: NDArray[np.float64], z: float, k: int, m: int
) -> NDArray[np.bool_]:
    """``k`` of ``m`` consecutive points beyond ``z`` sigma on the same side, the last one included."""
    above = x > center + z * sigma
    below = x < center - z * sigma
    flags = np.zeros(x.shape, dtype=bool)
    for i in range(m - 1, x.size):
        window = slice(i - m + 1, i + 1)
        flags[i] = (above[i] and above[window].sum() >= k) or (below[i] and below[window].sum() >= k)
    return flags


def _same_side(x: NDArray[np.float64], center: float, length: int) -> NDArray[np.bool_]:
    """``length`` points in a row strictly above, or strictly below, the centre line."""
    return _run_flags(x > center, length) | _run_flags(x < center, length)


def _trend(x: NDArray[np.float64], length: int) -> NDArray[np.bool_]:
    """``length`` points in a row steadily increasing or steadily decreasing."""
    flags = np.zeros(x.shape, dtype=bool)
    if x.size < 2:
        return flags
    diffs = np.diff(x)
    flags[1:] = _run_flags(diffs > 0, length - 1) | _run_flags(diffs < 0, length - 1)
    return flags


def _alternating(x: NDArray[np.float64], length: int) -> NDArray[np.bool_]:
    """``length`` points in a row alternating up and down."""
    flags = np.zeros(x.shape, dtype=bool)
    if x.size < 3:
        return flags
    diffs = np.diff(x)
    flags[2:] = _run_flags(diffs[1:] * diffs[:-1] < 0, length - 2)
    return flags


def _within(x: NDArray[np.float64], center: float, sigma: NDArray[np.float64], length: int) -> NDArray[np.bool_]:
    """``length`` points in a row within one sigma of the centre line (boundary included)."""
    return _run_flags((x >= center - sigma) & (x <= center + sigma), length)


def _mixture(x: NDArray[np.float64], center: float, sigma: NDArray[np.float64], length: int) -> NDArray[np.bool_]:
    """``length`` points in a row beyond one sigma, with points on both sides of the centre line."""
    above = x > center + sigma
    below = x < center - sigma
    flags = np.zeros(x.shape, dtype=bool)
    for i in range(length - 1, x.size):
        window = slice(i - length + 1, i + 1)
        flags[i] = bool(np.all(above[window] | below[window]) and above[window].any() and below[window].any())
    return flags


def detect_violations(
    points: ArrayLike,
    center: float,
    sigma: float | ArrayLike,
    *,
    lcl: float | ArrayLike | None = None,
    ucl: float | ArrayLike | None = None,
    rules: str | None = None,
) -> list[dict[str, Any]]:
    """Points that break the control limits or a run rule.

    Zones are computed per point from ``center ± k·sigma`` (``sigma`` may be one value per point).
    Comparisons are strict ("beyond" a limit means strictly outside it, "on one side" means
    strictly above or below the centre, so a point on the centre line breaks a run), except the
    one-sigma band of Nelson 7, which includes its boundary. A window rule (k of m) flags its last
    point only when that point itself is beyond the zone, and only once a full window of m points
    exists. A run rule flags every point from the one that completes the run to the end of the run.
    These are the definitions of qcc's ``qccRulesViolating*`` functions.

    Rule sets:

    - ``None``: ``beyond-limits``, a point beyond ``lcl`` / ``ucl``.
    - ``western-electric``: 1 one point beyond the 3-sigma limits; 2 two of three consecutive
      points beyond 2 sigma on the same side; 3 four of five beyond 1 sigma on the same side;
      4 eight in a row on the same side of the centre.
    - ``nelson``: 1 one point beyond the 3-sigma limits; 2 nine in a row on the same side;
      3 six in a row steadily increasing or decreasing; 4 fourteen in a row alternating up and
      down; 5 two of three beyond 2 sigma on the same side; 6 four of five beyond 1 sigma on the
      same side; 7 fifteen in a row within 1 sigma; 8 eight in a row beyond 1 sigma, either side,
      with points on both sides (Nelson's "mixture" test, as in qcc; eight beyond 1 sigma on one
      side only are caught by rules 2 and 6 instead).

    Args:
        points: The charted statistics; NaN marks a missing point (never flagged, breaks runs).
        center: Centre line.
        sigma: Standard error of each point (scalar or one per point).
        lcl: Lower control limit(s); default ``center - 3·sigma``.
        ucl: Upper control limit(s); default ``center + 3·sigma``.
        rules: ``None``, ``"western-electric"`` or ``"nelson"``.

    Returns:
        ``[{"index": int (1-based), "rule": str}]`` sorted by index, then rule number.

    Raises:
        InputError: If ``rules`` is not a known rule set or the lengths disagree.

    >>> detect_violations([0.5] * 9, 0.0, 1.0, rules="nelson")
    [{'index': 9, 'rule': 'nelson-2'}]
    """
    if rules is not None and rules not in RULE_SETS:
        raise InputError(f"unknown rule set {rules!r}; valid: {', '.join(RULE_SETS)} (or none)")
    x = np.asarray(points, dtype=np.float64).ravel()
    n = x.size
    try:
        sig = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (n,))
        lo = np.broadcast_to(np.asarray(center - NSIGMAS * sig if lcl is None else lcl, dtype=np.float64), (n,))
        hi = np.broadcast_to(np.asarray(center + NSIGMAS * sig if ucl is None else ucl, dtype=np.float64), (n,))
    except ValueError as exc:
        raise InputError(f"sigma and limits must be scalars or have one value per point ({n})") from exc
    beyond = (x > hi) | (x < lo)

    checks: list[tuple[str, Callable[[], NDArray[np.bool_]]]]
    if rules is None:
        checks = [("beyond-limits", lambda: beyond)]
    elif rules == "western-electric":
        checks = [
            ("western-electric-1", lambda: beyond),
            ("western-electric-2", lambda: _k_of_m(x, center, sig, 2.0, 2, 3)),
            ("western-electric-3", lambda: _k_of_m(x, center, sig, 1.0, 4, 5)),
            ("western-electric-4", lambda: _same_side(x, center, 8)),
        ]
    else:
        checks = [
            ("nelson-1", lambda: beyond),
            ("nelson-2", lambda: _same_side(x, center, 9)),
            ("nelson-3", lambda: _trend(x, 6)),
            ("nelson-4", lambda: _alternating(x, 14)),
            ("nelson-5", lambda: _k_of_m(x, center, sig, 2.0, 2, 3)),
            ("nelson-6", lambda: _k_of_m(x, center, sig, 1.0, 4, 5)),
            ("nelson-7", lambda: _within(x, center, sig, 15)),
            ("nelson-8", lambda: _mixture(x, center, sig, 8)),
        ]
    found: list[tuple[int, int, str]] = []
    for order, (name, check) in enumerate(checks):
        for i in np.flatnonzero(check()):
            found.append((int(i) + 1, order, name))
    found.sort()
    return [{"index": index, "rule": name} for index, _, name in found]


# --------------------------------------------------------------------------------------------------
# Charts on numpy input
# --------------------------------------------------------------------------------------------------


def _base_mask(base: ArrayLike | None, n: int, what: str) -> NDArray[np.bool_]:
    if base is None:
        return np.ones(n, dtype=bool)
    mask = np.asarray(base, dtype=bool).ravel()
    if mask.size != n:
        raise InputError(f"the phase I mask has {mask.size} entries but there are {n} {what}")
    if not mask.any():
        raise InputError(f"no {what} are selected for phase I; the limits need at least one")
    return mask


def _limit(values: NDArray[np.float64]) -> float | list[float]:
    """One float when every point shares the limit, else one per point."""
    if values.size and np.all(values == values[0]):
        return float(values[0])
    return [float(v) for v in values]


def _points(values: NDArray[np.float64]) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values]


def _chart(
    name: str,
    center: float,
    lcl: NDArray[np.float64],
    ucl: NDArray[np.float64],
    points: NDArray[np.float64],
    violations: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "name": name,
        "center": float(center),
        "lcl": _limit(lcl),
        "ucl": _limit(ucl),
        "points": _points(points),
        "violations": violations,
    }


def _subgroup_arrays(subgroups: Sequence[ArrayLike], minimum: int, chart: str) -> list[NDArray[np.float64]]:
    groups = [np.asarray(g, dtype=np.float64).ravel() for g in subgroups]
    if not groups:
        raise InputError(f"an {chart} chart needs at least one subgroup")
    for k, g in enumerate(groups, start=1):
        if g.size < minimum:
            raise InputError(
                f"subgroup {k} has {g.size} value(s); an {chart} chart needs at least {minimum} per "
                "subgroup (use the imr chart for individual values)"
            )
        if not np.all(np.isfinite(g)):
            raise InputError(f"subgroup {k} contains NaN or infinite values")
    return groups


def xbar_r(
    subgroups: Sequence[ArrayLike], *, base: ArrayLike | None = None, rules: str | None = None
) -> list[dict[str, Any]]:
    """X̄ and R charts.

    Args:
        subgroups: One array of observations per subgroup, in time order (sizes 2..25).
        base: Optional boolean mask, one per subgroup, of the phase I subgroups the limits are
            estimated from (default: all).
        rules: Rule set for the X̄ chart (see :func:`detect_violations`); the R chart gets
            ``beyond-limits`` only.

    Returns:
        ``[xbar_chart, r_chart]``.

    Raises:
        InputError: If a subgroup has fewer than 2 or more than 25 values, or holds NaN.
    """
    groups = _subgroup_arrays(subgroups, 2, "xbar-r")
    sizes = np.array([g.size for g in groups])
    too_big = np.flatnonzero(sizes > MAX_TABLE_N)
    if too_big.size:
        raise InputError(
            f"subgroup {too_big[0] + 1} has {sizes[too_big[0]]} values; the X̄-R chart's d2/d3 are "
            f"tabulated up to n = {MAX_TABLE_N}: use the xbar-s chart"
        )
    b = _base_mask(base, len(groups), "subgroups")
    means = np.array([g.mean() for g in groups])
    ranges = np.array([np.ptp(g) for g in groups])
    d2s = np.array([d2(n) for n in sizes])
    d3s = np.array([d3(n) for n in sizes])
    sigma = float(np.mean(ranges[b] / d2s[b]))
    center = float(np.sum(sizes[b] * means[b]) / np.sum(sizes[b]))
    se = sigma / np.sqrt(sizes)
    x_lcl, x_ucl = center - NSIGMAS * se, center + NSIGMAS * se
    r_center = float(np.sum(sizes[b] * ranges[b]) / np.sum(sizes[b]))
    r_lcl = np.maximum(0.0, r_center - NSIGMAS * d3s * sigma)
    r_ucl = r_center + NSIGMAS * d3s * sigma
    x_violations = detect_violations(means, center, se, lcl=x_lcl, ucl=x_ucl, rules=rules)
    r_violations = detect_violations(ranges, r_center, d3s * sigma, lcl=r_lcl, ucl=r_ucl)
    return [
        _chart("xbar", center, x_lcl, x_ucl, means, x_violations),
        _chart("r", r_center, r_lcl, r_ucl, ranges, r_violations),
    ]


def xbar_s(
    subgroups: Sequence[ArrayLike], *, base: ArrayLike | None = None, rules: str | None = None
) -> list[dict[str, Any]]:
    """X̄ and S charts.

    Args:
        subgroups: One array of observations per subgroup, in time order (sizes of at least 2).
        base: Optional boolean mask, one per subgroup, of the phase I subgroups (default: all).
        rules: Rule set for the X̄ chart; the S chart gets ``beyond-limits`` only.

    Returns:
        ``[xbar_chart, s_chart]``.

    Raises:
        InputError: If a subgroup has fewer than 2 values or holds NaN.
    """
    groups = _subgroup_arrays(subgroups, 2, "xbar-s")
    sizes = np.array([g.size for g in groups])
    b = _base_mask(base, len(groups), "subgroups")
    means = np.array([g.mean() for g in groups])
    sds = np.array([g.std(ddof=1) for g in groups])
    c4s = np.array([c4(int(n)) for n in sizes])
    sigma = float(np.mean(sds[b] / c4s[b]))
    center = float(np.sum(sizes[b] * means[b]) / np.sum(sizes[b]))
    se = sigma / np.sqrt(sizes)
    x_lcl, x_ucl = center - NSIGMAS * se, center + NSIGMAS * se
    s_center = float(np.sum(sizes[b] * sds[b]) / np.sum(sizes[b]))
    s_se = sigma * np.sqrt(1.0 - c4s**2)
    s_lcl = np.maximum(0.0, s_center - NSIGMAS * s_se)
    s_ucl = s_center + NSIGMAS * s_se
    x_violations = detect_violations(means, center, se, lcl=x_lcl, ucl=x_ucl, rules=rules)
    s_violations = detect_violations(sds, s_center, s_se, lcl=s_lcl, ucl=s_ucl)
    return [
        _chart("xbar", center, x_lcl, x_ucl, means, x_violations),
        _chart("s", s_center, s_lcl, s_ucl, sds, s_violations),
    ]


def imr(values: ArrayLike, *, base: ArrayLike | None = None, rules: str | None = None) -> list[dict[str, Any]]:
    """Individuals (I) and moving range (MR) charts.

    Sigma is ``MR̄ / 1.128``, with ``MR̄`` the mean absolute difference of consecutive phase I
    values. The MR chart's first point is ``None``; point ``i`` is ``|x_i - x_(i-1)|``.

    Args:
        values: Individual observations in time order.
        base: Optional boolean mask, one per value, of the phase I values (default: all).
        rules: Rule set for the I chart; the MR chart gets ``beyond-limits`` only.

    Returns:
        ``[i_chart, mr_chart]``.

    Raises:
        InputError: If there are fewer than 2 (phase I) values or a value is NaN.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(x)):
        raise InputError(f"value {int(np.flatnonzero(~np.isfinite(x))[0]) + 1} is NaN or infinite")
    b = _base_mask(base, x.size, "values")
    xb = x[b]
    if xb.size < 2:
        raise InputError(f"an imr chart needs at least 2 (phase I) values, got {xb.size}")
    mr_bar = float(np.mean(np.abs(np.diff(xb))))
    sigma = mr_bar / d2(2)
    center = float(xb.mean())
    n = x.size
    i_lcl = np.full(n, center - NSIGMAS * sigma)
    i_ucl = np.full(n, center + NSIGMAS * sigma)
    mr = np.concatenate([[np.nan], np.abs(np.diff(x))])
    mr_lcl = np.full(n, max(0.0, mr_bar - NSIGMAS * d3(2) * sigma))
    mr_ucl = np.full(n, mr_bar + NSIGMAS * d3(2) * sigma)
    i_violations = detect_violations(x, center, sigma, lcl=i_lcl, ucl=i_ucl, rules=rules)
    mr_violations = detect_violations(mr, mr_bar, d3(2) * sigma, lcl=mr_lcl, ucl=mr_ucl)
    return [
        _chart("i", center, i_lcl, i_ucl, x, i_violations),
        _chart("mr", mr_bar, mr_lcl, mr_ucl, mr, mr_violations),
    ]


def _counts_sizes(
    counts: ArrayLike, sizes: ArrayLike | None, chart: str, need_sizes: bool
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    c = np.asarray(counts, dtype=np.float64).ravel()
    if c.size == 0:
        raise InputError(f"a {chart} chart needs at least one sample")
    if sizes is None:
        if need_sizes:
            raise InputError(f"a {chart} chart needs the sample sizes")
        n = np.ones_like(c)
    else:
        n = np.broadcast_to(np.asarray(sizes, dtype=np.float64).ravel(), c.shape).astype(np.float64)
    for arr, what in ((c, "count"), (n, "sample size")):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise InputError(f"{what} of sample {bad[0] + 1} is NaN or infinite")
    bad = np.flatnonzero(c < 0)
    if bad.size:
        raise InputError(f"count of sample {bad[0] + 1} is negative ({c[bad[0]]:g})")
    bad = np.flatnonzero(n <= 0)
    if bad.size:
        raise InputError(f"sample size of sample {bad[0] + 1} is not positive ({n[bad[0]]:g})")
    return c, n


def p_chart(
    counts: ArrayLike, sizes: ArrayLike, *, base: ArrayLike | None = None, rules: str | None = None
) -> list[dict[str, Any]]:
    """The p chart: fraction nonconforming, ``p̄ ± 3·sqrt(p̄(1-p̄)/n_i)``.

    Args:
        counts: Nonconforming units per sample.
        sizes: Units inspected per sample (scalar or one per sample).
        base: Optional phase I mask, one per sample (default: all).
        rules: Rule set (see :func:`detect_violations`).

    Returns:
        ``[p_chart]``.

    Raises:
        InputError: On negative counts, non-positive sizes, or a count above its sample size.
    """
    c, n = _counts_sizes(counts, sizes, "p", need_sizes=True)
    bad = np.flatnonzero(c > n)
    if bad.size:
        raise InputError(f"sample {bad[0] + 1} has {c[bad[0]]:g} nonconforming of only {n[bad[0]]:g} units")
    b = _base_mask(base, c.size, "samples")
    p_bar = float(c[b].sum() / n[b].sum())
    sigma = np.sqrt(p_bar * (1.0 - p_bar) / n)
    lcl, ucl = np.maximum(0.0, p_bar - NSIGMAS * sigma), p_bar + NSIGMAS * sigma
    p = c / n
    return [_chart("p", p_bar, lcl, ucl, p, detect_violations(p, p_bar, sigma, lcl=lcl, ucl=ucl, rules=rules))]


def np_chart(
    counts: ArrayLike, sizes: ArrayLike, *, base: ArrayLike | None = None, rules: str | None = None
) -> list[dict[str, Any]]:
    """The np chart: number nonconforming, ``n·p̄ ± 3·sqrt(n·p̄(1-p̄))``, for a constant sample size.

    Args:
        counts: Nonconforming units per sample.
        sizes: Units inspected per sample; must be the same for every sample.
        base: Optional phase I mask, one per sample (default: all).
        rules: Rule set (see :func:`detect_violations`).

    Returns:
        ``[np_chart]``.

    Raises:
        InputError: If the sample sizes vary (use the p chart) or the counts are invalid.
    """
    c, n = _counts_sizes(counts, sizes, "np", need_sizes=True)
    if not np.all(n == n[0]):
        raise InputError(
            f"an np chart needs a constant sample size, but the sizes vary ({n.min():g}..{n.max():g}); use the p chart"
        )
    bad = np.flatnonzero(c > n)
    if bad.size:
        raise InputError(f"sample {bad[0] + 1} has {c[bad[0]]:g} nonconforming of only {n[bad[0]]:g} units")
    b = _base_mask(base, c.size, "samples")
    p_bar = float(c[b].sum() / n[b].sum())
    center = float(n[0] * p_bar)
    sigma = math.sqrt(n[0] * p_bar * (1.0 - p_bar))
    lcl = np.full(c.size, max(0.0, center - NSIGMAS * sigma))
    ucl = np.full(c.size, center + NSIGMAS * sigma)
    return [_chart("np", center, lcl, ucl, c, detect_violations(c, center, sigma, lcl=lcl, ucl=ucl, rules=rules))]


def c_chart(
    counts: ArrayLike,
    sizes: ArrayLike | None = None,
    *,
    base: ArrayLike | None = None,
    rules: str | None = None,
) -> list[dict[str, Any]]:
    """The c chart: nonconformities per inspection unit, ``c̄ ± 3·sqrt(c̄)``.

    Args:
        counts: Nonconformities per sample.
        sizes: Optional inspection unit size per sample; must be constant (use the u chart
            otherwise). It does not scale the counts.
        base: Optional phase I mask, one per sample (default: all).
        rules: Rule set (see :func:`detect_violations`).

    Returns:
        ``[c_chart]``.

    Raises:
        InputError: If the sizes vary or the counts are invalid.
    """
    c, n = _counts_sizes(counts, sizes, "c", need_sizes=False)
    if not np.all(n == n[0]):
        raise InputError(
            f"a c chart needs a constant inspection unit, but the sizes vary ({n.min():g}..{n.max():g}); "
            "use the u chart"
        )
    b = _base_mask(base, c.size, "samples")
    c_bar = float(c[b].mean())
    sigma = math.sqrt(c_bar)
    lcl = np.full(c.size, max(0.0, c_bar - NSIGMAS * sigma))
    ucl = np.full(c.size, c_bar + NSIGMAS * sigma)
    return [_chart("c", c_bar, lcl, ucl, c, detect_violations(c, c_bar, sigma, lcl=lcl, ucl=ucl, rules=rules))]


def u_chart(
    counts: ArrayLike, sizes: ArrayLike, *, base: ArrayLike | None = None, rules: str | None = None
) -> list[dict[str, Any]]:
    """The u chart: nonconformities per unit, ``ū ± 3·sqrt(ū/n_i)``.

    Args:
        counts: Nonconformities per sample.
        sizes: Inspection units per sample (scalar or one per sample).
        base: Optional phase I mask, one per sample (default: all).
        rules: Rule set (see :func:`detect_violations`).

    Returns:
        ``[u_chart]``.

    Raises:
        InputError: On negative counts or non-positive sizes.
    """
    c, n = _counts_sizes(counts, sizes, "u", need_sizes=True)
    b = _base_mask(base, c.size, "samples")
    u_bar = float(c[b].sum() / n[b].sum())
    sigma = np.sqrt(u_bar / n)
    lcl, ucl = np.maximum(0.0, u_bar - NSIGMAS * sigma), u_bar + NSIGMAS * sigma
    u = c / n
    return [_chart("u", u_bar, lcl, ucl, u, detect_violations(u, u_bar, sigma, lcl=lcl, ucl=ucl, rules=rules))]


# --------------------------------------------------------------------------------------------------
# Charts on a polars frame
# --------------------------------------------------------------------------------------------------


def _where(source: str | None) -> str:
    return f" in {source}" if source else ""


def require_columns(frame: pl.DataFrame, columns: Sequence[str | None], source: str | None = None) -> None:
    """Raise a clear error when a named column is missing.

    Args:
        frame: The data.
        columns: Column names to check (``None`` entries are skipped).
        source: The file the frame came from, for the message.

    Raises:
        InputError: Naming the missing column, the file and the available columns.
    """
    for column in columns:
        if column is not None and column not in frame.columns:
            raise InputError(
                f"column {column!r} not found{_where(source)}; available: {', '.join(frame.columns) or '(none)'}"
            )


def numeric_column(frame: pl.DataFrame, column: str, source: str | None = None) -> NDArray[np.float64]:
    """A column as float64, refusing text, nulls and NaN with the offending row.

    Booleans count as 0/1. Data rows are numbered from 1, the header not counted.

    Args:
        frame: The data.
        column: The column to read.
        source: The file the frame came from, for the message.

    Returns:
        The values as a float64 array.

    Raises:
        InputError: If the column is missing, not numeric, or holds a null, NaN or infinite value.
    """
    require_columns(frame, [column], source)
    series = frame.get_column(column)
    where = _where(source)
    if series.dtype == pl.Boolean:
        series = series.cast(pl.Int64)
    if not series.dtype.is_numeric():
        cast = series.cast(pl.Float64, strict=False)
        bad = (cast.is_null() & series.is_not_null()).arg_true()
        if bad.len():
            row = int(bad[0])
            raise InputError(f"column {column!r}{where} is not numeric: data row {row + 1} holds {series[row]!r}")
        series = cast
    values = series.cast(pl.Float64).to_numpy()
    bad_rows = np.flatnonzero(~np.isfinite(values))
    if bad_rows.size:
        row = int(bad_rows[0])
        what = "empty (null)" if series[row] is None else f"{values[row]!r}"
        raise InputError(f"column {column!r}{where} has a missing or non-finite value at data row {row + 1}: {what}")
    return values.astype(np.float64)


def phase_mask(
    frame: pl.DataFrame, phase_col: str | None, phase_value: str | None, source: str | None = None
) -> NDArray[np.bool_] | None:
    """Rows whose ``phase_col`` equals ``phase_value`` (compared as text), or None for all rows.

    Args:
        frame: The data.
        phase_col: Column holding the phase, or None.
        phase_value: Value marking the phase I rows (default ``"I"`` when ``phase_col`` is given).
        source: The file the frame came from, for messages.

    Returns:
        A boolean mask per row, or None when no phase column is given.

    Raises:
        InputError: If the column is missing, ``phase_value`` comes without ``phase_col``, or no
            row has the phase value.
    """
    if phase_col is None:
        if phase_value is not None:
            raise InputError("--phase-value needs --phase-col (the column holding the phase)")
        return None
    require_columns(frame, [phase_col], source)
    value = "I" if phase_value is None else str(phase_value)
    text = frame.get_column(phase_col).cast(pl.Utf8)
    mask = (text == value).fill_null(False).to_numpy().astype(bool)
    if not mask.any():
        present = sorted({str(v) for v in text.unique().to_list()})
        raise InputError(f"no row has {phase_col!r} == {value!r}{_where(source)}; values present: {', '.join(present)}")
    return mask


def group_rows(
    frame: pl.DataFrame, subgroup: str, source: str | None = None
) -> tuple[list[Any], list[NDArray[np.int64]]]:
    """Row indices of each subgroup, subgroups in order of first appearance.

    Args:
        frame: The data.
        subgroup: The subgroup column.
        source: The file the frame came from, for messages.

    Returns:
        ``(labels, row_indices)``.

    Raises:
        InputError: If the column is missing or holds a null.
    """
    require_columns(frame, [subgroup], source)
    keys = frame.get_column(subgroup)
    nulls = keys.is_null().arg_true()
    if nulls.len():
        raise InputError(f"column {subgroup!r}{_where(source)} is empty at data row {int(nulls[0]) + 1}")
    grouped = (
        pl.DataFrame({"key": keys, "row": np.arange(frame.height)})
        .group_by("key", maintain_order=True)
        .agg(pl.col("row"))
    )
    labels = grouped.get_column("key").to_list()
    rows = [np.asarray(r, dtype=np.int64) for r in grouped.get_column("row").to_list()]
    return labels, rows


def _group_phase(
    mask: NDArray[np.bool_] | None, rows: list[NDArray[np.int64]], labels: list[Any], subgroup: str
) -> NDArray[np.bool_] | None:
    if mask is None:
        return None
    out = np.empty(len(rows), dtype=bool)
    for k, (label, idx) in enumerate(zip(labels, rows, strict=True)):
        values = mask[idx]
        if values.min() != values.max():
            raise InputError(
                f"subgroup {subgroup}={label!r} mixes phase I and other rows; the phase must be constant per subgroup"
            )
        out[k] = bool(values[0])
    return out


def control_chart(
    frame: pl.DataFrame,
    chart: str,
    value: str,
    subgroup: str | None = None,
    size: str | None = None,
    rules: str | None = None,
    phase_col: str | None = None,
    phase_value: str | None = None,
    *,
    source: str | None = None,
) -> list[dict[str, Any]]:
    """Control chart(s) of one column of a frame; rows are in time order.

    - ``xbar-r`` / ``xbar-s``: ``value`` holds observations, ``subgroup`` names the subgroup of
      each row (required).
    - ``imr``: ``value`` holds individual observations, one per row (no subgroup).
    - ``p`` / ``np``: ``value`` holds nonconforming counts (or 0/1 / boolean flags per unit) and
      ``size`` the units inspected; with ``subgroup``, rows are summed per subgroup and, without a
      ``size`` column, each row counts as one unit.
    - ``c`` / ``u``: ``value`` holds nonconformity counts and ``size`` the inspection units
      (optional for c, where it must be constant); ``subgroup`` sums rows as for p.

    Args:
        frame: The data.
        chart: One of ``xbar-r, xbar-s, imr, p, np, c, u``.
        value: Column to chart.
        subgroup: Subgroup column (required for xbar charts, optional for attribute charts).
        size: Sample size column (p, np, u; optional for c).
        rules: ``None``, ``"western-electric"`` or ``"nelson"`` (location chart only).
        phase_col: Optional column selecting the phase I points the limits are estimated from.
        phase_value: Value of ``phase_col`` marking phase I (default ``"I"``).
        source: The file the frame came from, named in error messages.

    Returns:
        The chart dicts described in the module docstring.

    Raises:
        InputError: On an unknown chart or rule set, a missing column, non-numeric or missing
            values, or a subgroup structure the chart cannot use.
    """
    if chart not in CHARTS:
        raise InputError(f"unknown chart {chart!r}; valid: {', '.join(CHARTS)}")
    if rules is not None and rules not in RULE_SETS:
        raise InputError(f"unknown rule set {rules!r}; valid: {', '.join(RULE_SETS)} (or none)")
    require_columns(frame, [value, subgroup, size, phase_col], source)
    if frame.height == 0:
        raise InputError(f"no rows{_where(source)}")
    mask = phase_mask(frame, phase_col, phase_value, source)
    x = numeric_column(frame, value, source)

    if chart in ("xbar-r", "xbar-s"):
        if subgroup is None:
            raise InputError(f"an {chart} chart needs --subgroup (the column naming each row's subgroup)")
        if size is not None:
            raise InputError(f"an {chart} chart takes its subgroup sizes from the rows; drop --size")
        labels, rows = group_rows(frame, subgroup, source)
        for label, idx in zip(labels, rows, strict=True):
            if idx.size < 2:
                raise InputError(
                    f"subgroup {subgroup}={label!r}{_where(source)} has only one value; an {chart} chart "
                    "needs at least 2 per subgroup (use the imr chart for individual values)"
                )
            if chart == "xbar-r" and idx.size > MAX_TABLE_N:
                raise InputError(
                    f"subgroup {subgroup}={label!r}{_where(source)} has {idx.size} values; the X̄-R chart "
                    f"is tabulated up to {MAX_TABLE_N} per subgroup: use the xbar-s chart"
                )
        base = _group_phase(mask, rows, labels, subgroup)
        groups = [x[idx] for idx in rows]
        return (xbar_r if chart == "xbar-r" else xbar_s)(groups, base=base, rules=rules)

    if chart == "imr":
        if subgroup is not None or size is not None:
            raise InputError("an imr chart plots one value per row; drop --subgroup and --size")
        return imr(x, base=mask, rules=rules)

    sizes = numeric_column(frame, size, source) if size is not None else None
    if subgroup is not None:
        labels, rows = group_rows(frame, subgroup, source)
        base = _group_phase(mask, rows, labels, subgroup)
        counts = np.array([x[idx].sum() for idx in rows])
        if sizes is not None:
            sizes = np.array([sizes[idx].sum() for idx in rows])
        elif chart != "c":
            sizes = np.array([float(idx.size) for idx in rows])
    else:
        base, counts = mask, x
    if chart in ("p", "np", "u") and sizes is None:
        raise InputError(f"a {chart} chart needs --size (units inspected per sample) or --subgroup")
    builders = {"p": p_chart, "np": np_chart, "c": c_chart, "u": u_chart}
    return builders[chart](counts, sizes, base=base, rules=rules)
