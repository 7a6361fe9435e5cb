"""The period report from a warehouse: ``report.html``, ``report.json`` and every table as CSV and JSON.

``twin report``, ``twin demo`` and the dashboard's report job call :func:`report`; the files are built by
:func:`twin.report.build.build_report` from the period :func:`twin.api.periods.period` reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from twin.api._inputs import CellInput
from twin.api.periods import Bound, period
from twin.errors import InputError
from twin.report.build import STAGES, ReportFiles, build_report

__all__ = ["STAGES", "ReportFiles", "report"]


def report(
    warehouse: str | Path,
    out_dir: str | Path,
    *,
    start: Bound = None,
    end: Bound = None,
    cell: CellInput = None,
    overrides: Iterable[str] = (),
    source: str = "measured",
    replication: int | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> ReportFiles:
    """Read a period of the warehouse and write its report.

    Args:
        warehouse: The DuckDB warehouse file.
        out_dir: Output folder (created).
        start: Inclusive start (a local date, an aware datetime or ``--from`` text); default the first data.
        end: Exclusive end; default after the last data.
        cell: The cell YAML or a validated cell; the sample cell when None.
        overrides: ``key=value`` changes of the cell file (``--set``).
        source: ``measured`` or ``simulated:<scenario>``.
        replication: One replication of a simulated source.
        on_stage: Called with the name of each of :data:`STAGES` as it ends.

    Returns:
        The files written.

    Raises:
        InputError: No output folder, a bad period or source.
        ConfigError: The cell file or an override is invalid.
        WarehouseError: The warehouse is missing or lacks the marts.
    """
    if not str(out_dir).strip():
        raise InputError("--out: give an output folder")
    figures = period(
        warehouse, start, end, cell=cell, overrides=overrides, source=source, replication=replication, detail=True
    )
    return build_report(
        figures.cell,
        figures.prepared,
        figures.ideal_cycle_s(),
        out_dir,
        step=on_stage,
        robot_energy=figures.robot_energy(),
    )
