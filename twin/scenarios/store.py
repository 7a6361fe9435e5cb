"""What-if results in the warehouse: one row per scenario and KPI, per run.

``scenario_results`` is what the dashboard's Scenarios page compares; each ``twin scenario run`` or
``compare`` appends one run (``run_id``) and publishes the read snapshot.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TABLE = "scenario_results"
COLUMNS = (
    ("run_id", "varchar"),
    ("kind", "varchar"),
    ("created_at", "timestamptz"),
    ("baseline", "varchar"),
    ("scenario", "varchar"),
    ("seed", "bigint"),
    ("replications", "integer"),
    ("horizon_days", "double"),
    ("kpi", "varchar"),
    ("mean", "double"),
    ("ci_low", "double"),
    ("ci_high", "double"),
    ("delta", "double"),
    ("delta_ci_low", "double"),
    ("delta_ci_high", "double"),
    ("twin_error_cycle_time_rel", "double"),
    ("twin_error_energy_per_unit_rel", "double"),
    ("cell_id", "varchar"),
)


def result_rows(kind: str, report: dict[str, Any], run_id: str, created_at: datetime) -> list[tuple[Any, ...]]:
    """Rows of one ``run`` or ``compare`` report (its ``--json`` object)."""
    error = report.get("twin_error") or {}
    scenarios = report["scenarios"] if kind == "compare" else [report]
    baseline = report.get("baseline", report.get("scenario"))
    rows = []
    for item in scenarios:
        for kpi, value in sorted(item["kpis"].items()):
            rows.append((
                run_id, kind, created_at, baseline, item["scenario"], report.get("seed"), report.get("replications"),
                report.get("horizon_days"), kpi, value.get("mean"), value.get("ci_low"), value.get("ci_high"),
                value.get("delta"), value.get("delta_ci_low"), value.get("delta_ci_high"),
                error.get("cycle_time_rel"), error.get("energy_per_unit_rel"), report.get("cell_id"),
            ))  # fmt: skip
    return rows


def store_results(warehouse: str | Path, kind: str, report: dict[str, Any]) -> str:
    """Append a report to ``scenario_results`` in one transaction and publish the snapshot.

    Returns:
        The run id.

    Raises:
        WarehouseError: Another process is writing the warehouse.
    """
    from twin.warehouse.connection import write_job

    run_id = f"scenario-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    rows = result_rows(kind, report, run_id, datetime.now(UTC))
    columns = ", ".join(f"{name} {kind_}" for name, kind_ in COLUMNS)
    placeholders = ", ".join("?" for _ in COLUMNS)
    with write_job(warehouse) as con:
        con.execute("begin")
        con.execute(f"create table if not exists {TABLE} ({columns})")
        for name, kind_ in COLUMNS:  # a table from before a column was added
            con.execute(f"alter table {TABLE} add column if not exists {name} {kind_}")
        names = ", ".join(name for name, _ in COLUMNS)
        con.executemany(f"insert into {TABLE} ({names}) values ({placeholders})", rows)
        con.execute("commit")
    return run_id
