"""Process capability indices: Cp, Cpk, Cpl, Cpu, Cpm (within-subgroup sigma) and Pp, Ppk (overall).

Definitions (Montgomery, *Introduction to Statistical Quality Control*, ch. 8; as in the R package
qcc's ``processCapability``), with ``μ`` the mean of all values:

- ``sigma_within``: ``R̄/d2`` for subgrouped data (the unweighted average of ``R_i/d2(n_i)`` when
  the subgroup sizes differ, qcc's default "UWAVE-R"), ``MR̄/d2(2) = MR̄/1.128`` for individual
  values (consecutive values, in the order given).
- ``sigma_overall``: the sample standard deviation of all values (ddof = 1).
- ``cp = (USL-LSL)/(6σw)``, ``cpl = (μ-LSL)/(3σw)``, ``cpu = (USL-μ)/(3σw)``,
  ``cpk = min(cpl, cpu)`` over the defined sides.
- ``cpm = (USL-LSL) / (6·sqrt(σw² + (μ-T)²))`` (the Taguchi index on the within-subgroup sigma, as
  qcc computes it). The target ``T`` defaults to the mid-specification ``(LSL+USL)/2`` when both
  limits exist; ``cpm`` needs both limits, so it is None for a one-sided specification even if a
  target is given.
- ``pp``, ``ppl``, ``ppu``, ``ppk``: the same as ``cp``, ``cpl``, ``cpu``, ``cpk`` with
  ``sigma_overall``.

With a one-sided specification the indices that need the missing limit are None: no USL leaves
``cp``, ``cpu``, ``cpm``, ``pp`` and ``ppu`` undefined, ``cpk = cpl`` and ``ppk = ppl``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from twin.analytics.spc import MAX_TABLE_N, d2, group_rows, numeric_column, require_columns
from twin.errors import InputError

INDEX_KEYS: tuple[str, ...] = ("cp", "cpk", "cpl", "cpu", "cpm", "pp", "ppk", "ppl", "ppu")


def _groups(values: NDArray[np.float64], subgroups: ArrayLike) -> list[NDArray[np.float64]]:
    labels = np.asarray(subgroups).ravel()
    if labels.size != values.size:
        raise InputError(f"subgroups has {labels.size} labels for {values.size} values")
    frame = pl.DataFrame({"key": labels.tolist(), "row": np.arange(values.size)})
    rows = frame.group_by("key", maintain_order=True).agg(pl.col("row")).get_column("row").to_list()
    return [values[np.asarray(r, dtype=np.int64)] for r in rows]


def sigma_within(values: ArrayLike, subgroups: ArrayLike | None = None) -> float:
    """Within-subgroup sigma: ``mean(R_i/d2(n_i))`` with subgroups, ``MR̄/1.128`` without.

    Args:
        values: Observations (in time order for individuals).
        subgroups: Optional subgroup label per value.

    Returns:
        The within-subgroup standard deviation estimate.

    Raises:
        InputError: If a subgroup has 1 or more than 25 values, or there are fewer than 2 values.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if subgroups is None:
        if x.size < 2:
            raise InputError(f"the moving-range sigma needs at least 2 values, got {x.size}")
        return float(np.mean(np.abs(np.diff(x))) / d2(2))
    groups = _groups(x, subgroups)
    for k, g in enumerate(groups, start=1):
        if g.size < 2 or g.size > MAX_TABLE_N:
            raise InputError(
                f"subgroup {k} has {g.size} value(s); R̄/d2 needs 2..{MAX_TABLE_N} values per subgroup "
                "(leave out the subgroups for individual values)"
            )
    return float(np.mean([np.ptp(g) / d2(g.size) for g in groups]))


def _index(numerator: float, sigma: float, factor: float) -> float | None:
    if sigma <= 0.0 or not math.isfinite(sigma):
        return None
    return float(numerator / (factor * sigma))


def _min_defined(*values: float | None) -> float | None:
    defined = [v for v in values if v is not None]
    return min(defined) if defined else None


def capability(
    values: ArrayLike,
    subgroups: ArrayLike | None = None,
    lsl: float | None = None,
    usl: float | None = None,
    target: float | None = None,
) -> dict[str, Any]:
    """Capability indices of a process against its specification limits.

    Args:
        values: Observations; in time order when ``subgroups`` is None (moving ranges).
        subgroups: Optional subgroup label per value (subgroups of 2..25 values).
        lsl: Lower specification limit, or None.
        usl: Upper specification limit, or None.
        target: Target for Cpm; default the mid-specification when both limits are given.

    Returns:
        A dict with ``cp, cpk, cpl, cpu, cpm, pp, ppk, ppl, ppu`` (float or None when the
        specification leaves the index undefined, or when a sigma is 0), ``sigma_within``,
        ``sigma_overall``, ``mean``, ``n``, ``lsl``, ``usl`` and ``target``.

    Raises:
        InputError: If no limit is given, ``lsl >= usl``, a value is NaN, or there are too few
            values.

    >>> r = capability([1.0, 2.0, 1.5, 2.5, 2.0], lsl=0.0)
    >>> r["cp"], r["cpu"], r["cpk"] == r["cpl"]
    (None, None, True)
    """
    if lsl is None and usl is None:
        raise InputError("capability needs a specification: give --lsl and/or --usl")
    for name, limit in (("lsl", lsl), ("usl", usl), ("target", target)):
        if limit is not None and not math.isfinite(limit):
            raise InputError(f"{name} must be a finite number, got {limit!r}")
    if lsl is not None and usl is not None and lsl >= usl:
        raise InputError(f"lsl ({lsl:g}) must be below usl ({usl:g})")
    x = np.asarray(values, dtype=np.float64).ravel()
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise InputError(f"value {bad[0] + 1} is NaN or infinite")
    if x.size < 2:
        raise InputError(f"capability needs at least 2 values, got {x.size}")
    s_within = sigma_within(x, subgroups)
    s_overall = float(x.std(ddof=1))
    mu = float(x.mean())
    if lsl is not None and usl is not None and target is None:
        target = (lsl + usl) / 2.0
    if s_within == 0.0 or s_overall == 0.0:
        warnings.warn("a sigma is 0 (all values equal?): the indices that divide by it are None", stacklevel=2)

    cpl = _index(mu - lsl, s_within, 3.0) if lsl is not None else None
    cpu = _index(usl - mu, s_within, 3.0) if usl is not None else None
    ppl = _index(mu - lsl, s_overall, 3.0) if lsl is not None else None
    ppu = _index(usl - mu, s_overall, 3.0) if usl is not None else None
    cp = pp = cpm = None
    if lsl is not None and usl is not None and target is not None:
        cp = _index(usl - lsl, s_within, 6.0)
        pp = _index(usl - lsl, s_overall, 6.0)
        cpm = _index(usl - lsl, math.sqrt(s_within**2 + (mu - target) ** 2), 6.0)
    return {
        "cp": cp,
        "cpk": _min_defined(cpl, cpu),
        "cpl": cpl,
        "cpu": cpu,
        "cpm": cpm,
        "pp": pp,
        "ppk": _min_defined(ppl, ppu),
        "ppl": ppl,
        "ppu": ppu,
        "sigma_within": s_within,
        "sigma_overall": s_overall,
        "mean": mu,
        "n": int(x.size),
        "lsl": None if lsl is None else float(lsl),
        "usl": None if usl is None else float(usl),
        "target": None if target is None else float(target),
    }


def capability_from_frame(
    frame: pl.DataFrame,
    value: str,
    subgroup: str | None = None,
    lsl: float | None = None,
    usl: float | None = None,
    target: float | None = None,
    *,
    source: str | None = None,
) -> dict[str, Any]:
    """:func:`capability` on one column of a frame (rows in time order).

    Args:
        frame: The data.
        value: Column of observations.
        subgroup: Optional subgroup column.
        lsl: Lower specification limit.
        usl: Upper specification limit.
        target: Target for Cpm.
        source: The file the frame came from, named in error messages.

    Returns:
        The capability dict.

    Raises:
        InputError: On a missing column, non-numeric or missing values, or bad limits.
    """
    require_columns(frame, [value, subgroup], source)
    x = numeric_column(frame, value, source)
    labels = None
    if subgroup is not None:
        keys, rows = group_rows(frame, subgroup, source)
        for key, idx in zip(keys, rows, strict=True):
            if idx.size < 2 or idx.size > MAX_TABLE_N:
                where = f" in {source}" if source else ""
                raise InputError(
                    f"subgroup {subgroup}={key!r}{where} has {idx.size} value(s); R̄/d2 needs 2..{MAX_TABLE_N} "
                    "values per subgroup (drop --subgroup for individual values)"
                )
        labels = np.empty(x.size, dtype=np.int64)
        for k, idx in enumerate(rows):
            labels[idx] = k
    return capability(x, labels, lsl=lsl, usl=usl, target=target)
