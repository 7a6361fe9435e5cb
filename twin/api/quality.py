"""Control charts and process capability on a table file: what ``twin quality spc|capability`` run.

The file is CSV or Parquet, rows in time order. Results carry plain values (``None`` where a value is
undefined); :meth:`SpcCharts.to_dict` and :meth:`Capability.to_dict` are the commands' ``--json`` objects.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from twin.analytics.capability import capability_from_frame
from twin.analytics.spc import CHARTS, RULE_SETS, control_chart
from twin.errors import InputError
from twin.jsonable import jsonable

__all__ = ["CHARTS", "READERS", "RULE_SETS", "Capability", "SpcCharts", "capability", "read_table", "spc"]

READERS: tuple[str, ...] = (".csv", ".parquet", ".pq")
"""File suffixes :func:`read_table` reads."""


def read_table(path: str | Path) -> pl.DataFrame:
    """Read a CSV or Parquet file into a frame.

    CSV column types are inferred from every row, so a stray text value makes its column text
    (and is reported by the chart functions with its row).

    Args:
        path: The file.

    Returns:
        The data.

    Raises:
        InputError: The file is missing, has an unknown suffix, or cannot be parsed.

    >>> read_table("values.xlsx")
    Traceback (most recent call last):
    ...
    twin.errors.InputError: cannot read values.xlsx: unknown file type '.xlsx'; valid: .csv, .parquet, .pq
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in READERS:
        raise InputError(f"cannot read {file}: unknown file type {suffix or '(none)'!r}; valid: {', '.join(READERS)}")
    if not file.is_file():
        raise InputError(f"file not found: {file}")
    try:
        if suffix == ".csv":
            return pl.read_csv(file, infer_schema_length=None)
        return pl.read_parquet(file)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read {file}: {first_line}") from exc


@dataclass(frozen=True)
class SpcCharts:
    """Control charts of one column: the location chart first, then its dispersion chart (when the kind has one).

    Attributes:
        charts: One dict per chart (:func:`twin.analytics.spc.control_chart`): ``name``, ``points``,
            ``center``, ``lcl``, ``ucl`` (a number, or one per point), ``violations``; plain JSON values.
    """

    charts: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """``{"charts": [...]}``: the object of ``twin quality spc --json``."""
        return {"charts": copy.deepcopy(self.charts)}


@dataclass(frozen=True)
class Capability:
    """Process capability of one column.

    Attributes:
        values: ``n``, ``mean``, ``lsl``, ``usl``, ``target``, ``sigma_within``, ``sigma_overall``, ``cp``,
            ``cpk``, ``cpl``, ``cpu``, ``cpm``, ``pp``, ``ppk``, ``ppl``, ``ppu`` (None where undefined).
    """

    values: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The object of ``twin quality capability --json``."""
        return copy.deepcopy(self.values)


def spc(
    path: str | Path,
    chart: str,
    value: str,
    *,
    subgroup: str | None = None,
    size: str | None = None,
    rules: str | None = None,
    phase_col: str | None = None,
    phase_value: str | None = None,
) -> SpcCharts:
    """Shewhart control charts (3-sigma) of a column of a file, with optional run rules.

    Args:
        path: CSV or Parquet file, rows in time order.
        chart: One of :data:`twin.analytics.spc.CHARTS` (``imr``, ``xbar-r``, ``xbar-s``, ``p``, ``np``, ``c``,
            ``u``).
        value: The column to chart (observations or counts).
        subgroup: Subgroup column (``xbar-r``, ``xbar-s``; sums rows for attribute charts).
        size: Sample size column (``p``, ``np``, ``u``; optional for ``c``).
        rules: ``western-electric`` or ``nelson`` on the location chart; None for the limits only.
        phase_col: Column marking the phase I rows the limits come from.
        phase_value: Value of ``phase_col`` for phase I (default ``I``).

    Returns:
        The charts.

    Raises:
        InputError: An unreadable file, an unknown chart or rule set, or an unusable column.
    """
    frame = read_table(path)
    charts = control_chart(
        frame,
        chart,
        value,
        subgroup=subgroup,
        size=size,
        rules=rules,
        phase_col=phase_col,
        phase_value=phase_value,
        source=str(path),
    )
    return SpcCharts(jsonable(charts))


def capability(
    path: str | Path,
    value: str,
    *,
    subgroup: str | None = None,
    lsl: float | None = None,
    usl: float | None = None,
    target: float | None = None,
) -> Capability:
    """Capability indices of a column of a file: Cp, Cpk, Cpm (within-subgroup sigma) and Pp, Ppk (overall).

    Args:
        path: CSV or Parquet file, rows in time order.
        value: The column of measurements.
        subgroup: Subgroup column (sigma within = R̄/d2); without it moving ranges (MR̄/1.128).
        lsl: Lower specification limit.
        usl: Upper specification limit.
        target: Target for Cpm (default mid-specification).

    Returns:
        The indices.

    Raises:
        InputError: An unreadable file, an unusable column or bad specification limits.
    """
    frame = read_table(path)
    result = capability_from_frame(frame, value, subgroup=subgroup, lsl=lsl, usl=usl, target=target, source=str(path))
    return Capability(jsonable(result))
