"""What-if results (``twin scenario run --json`` objects) against a baseline, and what-if telemetry in the warehouse.

Results come from the warehouse (:func:`stored_scenario_results`) or from a dashboard job's result file; both
become :data:`SCENARIO_ROWS` (:func:`scenario_rows`) and :func:`compare_rows` sets each beside the baseline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from twin.api.periods import period
from twin.cell.spec import CellSpec
from twin.paths import SCENARIOS_DIR
from twin.sim.kpis import SCENARIO_KPIS
from twin.warehouse.connection import read_connection

__all__ = [
    "SCENARIO_KPIS",
    "SCENARIO_ROWS",
    "compare_rows",
    "scenario_files",
    "scenario_rows",
    "simulated_sources",
    "stored_scenario_results",
    "telemetry_figures",
]

SCENARIO_ROWS: dict[str, pl.DataType] = {
    "scenario": pl.String(),
    "run_id": pl.String(),
    "origin": pl.String(),
    "seed": pl.Int64(),
    "replications": pl.Int64(),
    "horizon_days": pl.Float64(),
    "kpi": pl.String(),
    "mean": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "delta": pl.Float64(),
    "delta_ci_low": pl.Float64(),
    "delta_ci_high": pl.Float64(),
    "twin_error_cycle_time_rel": pl.Float64(),
    "twin_error_energy_per_unit_rel": pl.Float64(),
}
"""One row per scenario run per KPI (``delta*`` only where the run was paired with a baseline)."""


def _num_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def scenario_rows(result: Mapping[str, Any], run_id: str = "", origin: str = "warehouse") -> pl.DataFrame:
    """The rows of one ``twin scenario run --json`` object (or one scenario of ``twin scenario compare``).

    Args:
        result: ``{"scenario", "seed", "replications", "horizon_days", "kpis": {NAME: {"mean", "ci_low",
            "ci_high", ["delta", "delta_ci_low", "delta_ci_high"]}}, "twin_error": {...}}``.
        run_id: An id of the run.
        origin: Where the result comes from (``warehouse``, ``dashboard job``).

    Returns:
        :data:`SCENARIO_ROWS` rows, the headline KPIs (:data:`SCENARIO_KPIS`) first.
    """
    kpis = result.get("kpis") or {}
    error = result.get("twin_error") or {}
    order = [k for k in SCENARIO_KPIS if k in kpis] + sorted(k for k in kpis if k not in SCENARIO_KPIS)
    rows = []
    for name in order:
        k = kpis[name] or {}
        rows.append(
            {
                "scenario": str(result.get("scenario", "")),
                "run_id": run_id,
                "origin": origin,
                "seed": result.get("seed"),
                "replications": result.get("replications"),
                "horizon_days": _num_or_none(result.get("horizon_days")),
                "kpi": name,
                "mean": _num_or_none(k.get("mean")),
                "ci_low": _num_or_none(k.get("ci_low")),
                "ci_high": _num_or_none(k.get("ci_high")),
                "delta": _num_or_none(k.get("delta")),
                "delta_ci_low": _num_or_none(k.get("delta_ci_low")),
                "delta_ci_high": _num_or_none(k.get("delta_ci_high")),
                "twin_error_cycle_time_rel": _num_or_none(error.get("cycle_time_rel")),
                "twin_error_energy_per_unit_rel": _num_or_none(error.get("energy_per_unit_rel")),
            }
        )
    return pl.DataFrame(rows, schema=SCENARIO_ROWS)


def compare_rows(rows: pl.DataFrame, baseline: str) -> pl.DataFrame:
    """Each scenario's KPIs against the baseline's: the baseline mean and the delta with its 95 % interval.

    A delta already paired with the baseline (``twin scenario compare``: common random numbers) is kept.
    Otherwise the runs are independent: delta = difference of the means, its half-width the two means'
    half-widths combined in quadrature (a conservative approximation of Welch's interval).

    Args:
        rows: :data:`SCENARIO_ROWS` rows of one or more runs (the latest run of each scenario is used).
        baseline: The baseline scenario's id.

    Returns:
        ``scenario``, ``kpi``, ``mean``, ``ci_low``, ``ci_high``, ``baseline_mean``, ``delta``, ``delta_ci_low``,
        ``delta_ci_high``, ``is_paired``, ``replications``, ``horizon_days`` and the twin error columns.

    >>> base = {"scenario": "base", "kpis": {"oee": {"mean": 0.5, "ci_low": 0.4, "ci_high": 0.6}}}
    >>> fast = {"scenario": "fast", "kpis": {"oee": {"mean": 0.6, "ci_low": 0.57, "ci_high": 0.63}}}
    >>> r = pl.concat([scenario_rows(base), scenario_rows(fast)])
    >>> out = compare_rows(r, "base").filter(pl.col("scenario") == "fast").row(0, named=True)
    >>> round(out["delta"], 3), round(out["delta_ci_high"] - out["delta"], 4), out["is_paired"]
    (0.1, 0.1044, False)
    """
    base = rows.filter(pl.col("scenario") == baseline).unique(["kpi"], keep="last", maintain_order=True)
    base = base.select(
        "kpi", pl.col("mean").alias("baseline_mean"), ((pl.col("ci_high") - pl.col("ci_low")) / 2).alias("_bhw")
    )
    latest = rows.unique(["scenario", "kpi"], keep="last", maintain_order=True)
    hw = (pl.col("ci_high") - pl.col("ci_low")) / 2
    unpaired_delta = pl.col("mean") - pl.col("baseline_mean")
    unpaired_hw = (hw.pow(2) + pl.col("_bhw").pow(2)).sqrt()
    is_paired = pl.col("delta").is_not_null()
    is_base = pl.col("scenario") == baseline
    out = latest.join(base, on="kpi", how="left").with_columns(
        is_paired.alias("is_paired"),
        pl.when(is_base).then(0.0).when(is_paired).then(pl.col("delta")).otherwise(unpaired_delta).alias("delta"),
        pl.when(is_base).then(None).when(is_paired).then(pl.col("delta_ci_low"))
        .otherwise(unpaired_delta - unpaired_hw).alias("delta_ci_low"),
        pl.when(is_base).then(None).when(is_paired).then(pl.col("delta_ci_high"))
        .otherwise(unpaired_delta + unpaired_hw).alias("delta_ci_high"),
    )  # fmt: skip
    return out.select(
        "scenario", "kpi", "mean", "ci_low", "ci_high", "baseline_mean", "delta", "delta_ci_low", "delta_ci_high",
        "is_paired", "replications", "horizon_days", "twin_error_cycle_time_rel", "twin_error_energy_per_unit_rel",
    )  # fmt: skip


def _json_cell(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _columns_of(con: Any, table: str) -> list[str]:
    return [str(r[0]) for r in con.execute(f'describe "{table}"').fetchall()]


def stored_scenario_results(warehouse: str | Path, cell_id: str | None = None) -> pl.DataFrame:
    """Scenario results the warehouse holds (of one cell), as :data:`SCENARIO_ROWS`.

    Reads every table whose name holds ``scenario``: one with ``kpi`` and ``mean`` columns is taken row by
    row (one row per run per KPI); one with a JSON column holding ``twin scenario run --json`` objects
    (``kpis``) is taken one run per row.

    Args:
        warehouse: The warehouse file.
        cell_id: Only the results of this cell (and those stored before results carried their cell); all when
            None.

    Returns:
        The rows (empty when the warehouse holds no scenario results).
    """
    parts = []
    with read_connection(warehouse) as con:
        tables = [
            str(r[0])
            for r in con.execute(
                "select table_name from information_schema.tables where table_name ilike '%scenario%' "
                "order by table_name"
            ).fetchall()
        ]
        for table in tables:
            columns = _columns_of(con, table)
            frame = con.sql(f'select * from "{table}"').pl()
            if frame.is_empty():
                continue
            scenario_col = next((c for c in ("scenario", "scenario_id") if c in columns), None)
            if cell_id is not None and "cell_id" in columns:
                frame = frame.filter(pl.col("cell_id").is_null() | (pl.col("cell_id") == cell_id))
            if {"kpi", "mean"} <= set(columns) and scenario_col:
                rows = frame.rename({scenario_col: "scenario"}) if scenario_col != "scenario" else frame
                extra = {c: pl.lit(None).cast(t) for c, t in SCENARIO_ROWS.items() if c not in rows.columns}
                rows = rows.with_columns(**extra).with_columns(pl.lit(f"warehouse ({table})").alias("origin"))
                parts.append(rows.select([pl.col(c).cast(t, strict=False) for c, t in SCENARIO_ROWS.items()]))
                continue
            for col in columns:
                if not (col.endswith("json") or col in ("result", "report", "kpis")):
                    continue
                for i, row in enumerate(frame.iter_rows(named=True)):
                    doc = _json_cell(row[col])
                    other_cell = cell_id is not None and doc.get("cell_id") not in (None, cell_id)
                    if isinstance(doc, Mapping) and isinstance(doc.get("kpis"), Mapping) and not other_cell:
                        if "scenario" not in doc and scenario_col:
                            doc = {**doc, "scenario": row[scenario_col]}
                        run_id = str(row.get("run_id") or f"{table}:{i}")
                        parts.append(scenario_rows(doc, run_id, f"warehouse ({table})"))
                break
    return pl.concat(parts) if parts else pl.DataFrame(schema=SCENARIO_ROWS)


def scenario_files(folder: str | Path | None = None) -> list[Path]:
    """The registered scenario files, by id.

    Args:
        folder: Where to look (default ``assets/scenarios``).

    Returns:
        The ``*.yaml`` files, sorted.
    """
    return sorted(Path(folder or SCENARIOS_DIR).glob("*.yaml"))


def simulated_sources(warehouse: str | Path, cell_id: str) -> list[str]:
    """The ``simulated:<scenario>`` runs of a cell the warehouse holds (``twin scenario run --to-warehouse``).

    A simulated source is read on the cell stored with its run; telemetry without a stored run is not listed.

    Args:
        warehouse: The warehouse file.
        cell_id: The cell the runs ran on.

    Returns:
        The sources, sorted.
    """
    with read_connection(warehouse) as con:
        names = {str(r[0]) for r in con.execute("select table_name from information_schema.tables").fetchall()}
        if "mart_an_units" not in names or "scenario_runs" not in names:
            return []
        rows = con.execute(
            "select distinct source from mart_an_units where cell_id = ? and source like 'simulated:%' "
            "and source in (select source from scenario_runs where cell_id = ?) order by source",
            [cell_id, cell_id],
        ).fetchall()
    return [str(r[0]) for r in rows]


def telemetry_figures(warehouse: str | Path, source: str, cell: str | Path | CellSpec | None = None) -> dict[str, Any]:
    """Figures of one source's telemetry over its own data period, computed like measured data.

    Args:
        warehouse: The warehouse file.
        source: ``measured`` or ``simulated:<scenario>``.
        cell: The cell YAML or a validated cell (default: the sample cell).

    Returns:
        ``source``, ``from``, ``to`` (local dates), ``days``, ``units``, ``units_per_day``,
        ``energy_kwh_per_unit``, ``cost_per_unit``, ``kgco2e_per_unit`` (market-based; None without energy).
    """
    figures = period(warehouse, cell=cell, source=source)
    cost, carbon, fpy = figures.cost(), figures.carbon(), figures.quality()
    bounds = figures.period.to_json()
    days = len(figures.period.local_dates())
    units = fpy.units_completed
    return {
        "source": source,
        "from": bounds["from"][:10],
        "to": bounds["to"][:10],
        "days": days,
        "units": units,
        "units_per_day": units / days if days else None,
        "energy_kwh_per_unit": carbon["energy_kwh_per_unit"],
        "cost_per_unit": cost.per_unit,
        "kgco2e_per_unit": carbon.per_unit_kg["total_market"],
    }
