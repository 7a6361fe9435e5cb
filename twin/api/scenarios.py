"""What-ifs on the production model: run one scenario, compare several against a baseline, sweep parameters.

A scenario is a file or a registered id (``assets/scenarios/<id>.yaml``); the same seed gives the same
figures. Each KPI is the mean over replications with its 95 % Student-t interval. ``run_scenario`` and
``compare`` also give the baseline's twin error against the measured data in the warehouse (null figures
without measured cycles) and, unless ``store=False``, keep their KPIs in the warehouse's
``scenario_results`` for the dashboard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from twin.api._inputs import resolve_warehouse
from twin.errors import InputError
from twin.scenarios.service import compare_scenarios, run_sweep
from twin.scenarios.service import run_scenario as simulate_scenario
from twin.scenarios.store import store_results
from twin.sim.runner import ScenarioResult
from twin.warehouse.plans import warehouse_exists

EXECUTORS = ("local", "ray")
"""Where a sweep's runs go: a local process pool or Ray."""

INTERVAL_SCHEMA: dict[str, type[pl.DataType]] = {
    "kpi": pl.String,
    "mean": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
}
DELTA_SCHEMA: dict[str, type[pl.DataType]] = {
    "scenario": pl.String,
    **INTERVAL_SCHEMA,
    "delta": pl.Float64,
    "delta_ci_low": pl.Float64,
    "delta_ci_high": pl.Float64,
}
"""Columns of :attr:`Comparison.kpis`: one row per scenario and KPI."""


def _interval_rows(kpis: dict[str, dict[str, Any]], **keys: Any) -> list[dict[str, Any]]:
    return [{**keys, "kpi": name, **values} for name, values in kpis.items()]


def _store(warehouse: Path, kind: str, report: dict[str, Any]) -> str | None:
    """Keep a report's KPIs in an existing warehouse; without one nothing is written (None)."""
    return store_results(warehouse, kind, report) if warehouse_exists(warehouse) else None


@dataclass(frozen=True)
class ScenarioRun:
    """One scenario's KPIs over its replications.

    Attributes:
        result: The scenario, seed, replications, horizon, each replication's KPIs, their summary and
            the baseline's twin error.
        stored_as: The ``run_id`` of its rows in ``scenario_results``; None when not stored (not asked, or
            no warehouse yet: one is never started for them).
    """

    result: ScenarioResult
    stored_as: str | None = None

    @property
    def scenario(self) -> str:
        """The scenario's id."""
        return self.result.scenario

    @property
    def bottleneck(self) -> str:
        """The resource with the highest mean utilization."""
        return self.result.bottleneck

    @property
    def kpis(self) -> pl.DataFrame:
        """One row per KPI: ``kpi, mean, ci_low, ci_high`` (95 % interval over replications)."""
        return pl.DataFrame(_interval_rows(self.result.kpis), schema=INTERVAL_SCHEMA)

    @property
    def per_replication(self) -> pl.DataFrame:
        """One row per replication, one column per KPI."""
        return pl.from_dicts(self.result.per_replication, infer_schema_length=None)

    @property
    def twin_error(self) -> dict[str, float | None]:
        """The baseline's relative error against measured data (None figures without measured cycles)."""
        return dict(self.result.twin_error)

    def to_dict(self) -> dict[str, Any]:
        """The object ``twin scenario run --json`` prints.

        ``{"scenario", "seed", "replications", "horizon_days", "currency", "kpis", "twin_error"}``.
        """
        return self.result.to_json()


@dataclass(frozen=True)
class Comparison:
    """Scenarios against the first (the baseline), paired by replication seed.

    Attributes:
        report: ``{"baseline", "seed", "replications", "horizon_days", "currency", "scenarios": [{"scenario", "kpis"}],
            "twin_error"}``; each KPI has its mean, interval, delta against the baseline and the delta's interval.
        stored_as: The ``run_id`` of its rows in ``scenario_results``; None when not stored (not asked, or
            no warehouse yet: one is never started for them).
    """

    report: dict[str, Any]
    stored_as: str | None = None

    @property
    def baseline(self) -> str:
        """The baseline scenario's id."""
        return str(self.report["baseline"])

    @property
    def kpis(self) -> pl.DataFrame:
        """One row per scenario and KPI (:data:`DELTA_SCHEMA`), the baseline first."""
        rows = [row for s in self.report["scenarios"] for row in _interval_rows(s["kpis"], scenario=s["scenario"])]
        return pl.DataFrame(rows, schema=DELTA_SCHEMA)

    def to_dict(self) -> dict[str, Any]:
        """The object ``twin scenario compare --json`` prints."""
        return dict(self.report)


@dataclass(frozen=True)
class SweepRun:
    """A sweep's runs: each run's parameters and KPIs.

    Attributes:
        report: ``{"sweep", "scenario", "seed", "replications", "horizon_days", "currency",
            "runs": [{"parameters", "kpis"}]}``.
    """

    report: dict[str, Any]

    @property
    def kpis(self) -> pl.DataFrame:
        """One row per run and KPI: ``run`` (0-based), the run's parameters, ``kpi, mean, ci_low, ci_high``."""
        rows = [
            row
            for i, run in enumerate(self.report["runs"])
            for row in _interval_rows(run["kpis"], run=i, **run["parameters"])
        ]
        return pl.from_dicts(rows, infer_schema_length=None)

    def to_dict(self) -> dict[str, Any]:
        """The object ``twin sweep --json`` prints."""
        return dict(self.report)


def run_scenario(
    scenario: str | Path,
    *,
    replications: int | None = None,
    horizon_days: float | None = None,
    seed: int | None = None,
    workers: int | None = None,
    warehouse: str | Path | None = None,
    to_warehouse: bool = False,
    store: bool = True,
    progress: bool = False,
    nominal: bool = False,
) -> ScenarioRun:
    """Simulate a scenario: KPIs with 95 % intervals and the baseline's twin error (``twin scenario run``).

    Args:
        scenario: A scenario file or registered id (``assets/scenarios/<id>.yaml``).
        replications: Replications (default: the file's).
        horizon_days: Simulated days (default: the file's).
        seed: Seed (default: the file's); the same seed gives the same output.
        workers: Parallel processes (default 1).
        warehouse: The warehouse file (default ``data/twin.duckdb``): its measured data give the twin
            error; the KPIs and, with ``to_warehouse``, the simulated telemetry are written to it.
        to_warehouse: Ingest every replication's events, energy and quality (``source = simulated:<scenario>``,
            a column ``replication``) with the scenario's cell, so the period figures read it like measured data.
        store: Keep the KPIs in the warehouse's ``scenario_results``.
        progress: Show a progress bar on stderr.
        nominal: Plan every robot with the cell file's power model, not its stored calibration (``twin
            calibrate``); the result names each robot's parameter set either way.

    Returns:
        The KPIs and the twin error.

    Raises:
        ConfigError: The scenario file is malformed or the id is not registered (the message lists the ids).
        WarehouseError: Another process holds the warehouse while storing.

    Example:
        >>> run = run_scenario("baseline-v2", replications=2, horizon_days=1, store=False)  # doctest: +SKIP
        >>> run.kpis.columns  # doctest: +SKIP
        ['kpi', 'mean', 'ci_low', 'ci_high']
    """
    where = resolve_warehouse(warehouse)
    result = simulate_scenario(
        scenario,
        replications=replications,
        horizon_days=horizon_days,
        seed=seed,
        workers=workers,
        progress=progress,
        warehouse=where,
        write=to_warehouse,
        nominal=nominal,
    )
    stored_as = _store(where, "run", result.to_json()) if store else None
    return ScenarioRun(result, stored_as)


def compare(
    scenarios: Sequence[str | Path],
    *,
    replications: int | None = None,
    horizon_days: float | None = None,
    workers: int | None = None,
    warehouse: str | Path | None = None,
    store: bool = True,
    progress: bool = False,
    nominal: bool = False,
) -> Comparison:
    """Scenarios against the first (the baseline), with deltas and their intervals (``twin scenario compare``).

    Replication ``r`` of every scenario uses the same seed (common random numbers), so the deltas and their
    intervals are paired over replications.

    Args:
        scenarios: Scenario files or registered ids, the baseline first.
        replications: Replications (default: the baseline's).
        horizon_days: Simulated days (default: the baseline's).
        workers: Parallel processes (default 1).
        warehouse: The warehouse file (default ``data/twin.duckdb``) whose measured data give the twin
            error and where the KPIs are kept.
        store: Keep the KPIs in the warehouse's ``scenario_results``.
        progress: Show a progress bar on stderr.
        nominal: Plan every robot with the cell file's power model, not its stored calibration (``twin
            calibrate``); the result names each robot's parameter set either way.

    Returns:
        Each scenario's KPIs with deltas against the baseline.

    Raises:
        ConfigError: Fewer than two scenarios, or a scenario is malformed or unknown.
        WarehouseError: Another process holds the warehouse while storing.
    """
    where = resolve_warehouse(warehouse)
    report = compare_scenarios(
        list(scenarios),
        replications=replications,
        horizon_days=horizon_days,
        workers=workers,
        warehouse=where,
        progress=progress,
        nominal=nominal,
    )
    stored_as = _store(where, "compare", report) if store else None
    return Comparison(report, stored_as)


def sweep(
    sweep_file: str | Path,
    *,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = False,
    nominal: bool = False,
) -> SweepRun:
    """Run a grid or random sweep over scenario parameters (``twin sweep``).

    Args:
        sweep_file: A sweep file or id (``assets/scenarios/sweeps/<id>.yaml``).
        executor: ``local`` (a process pool) or ``ray``.
        workers: Processes, or local Ray CPUs.
        address: An existing Ray cluster (default: start a local one); needs ``executor="ray"``.
        progress: Show progress bars on stderr.
        nominal: Plan every robot with the cell file's power model, not its stored calibration (``twin
            calibrate``); the result names each robot's parameter set either way.

    Returns:
        Each run's parameters and KPIs.

    Raises:
        InputError: An unknown executor, or an address without Ray.
        ConfigError: The sweep file or its scenario is malformed or unknown.
    """
    if executor not in EXECUTORS:
        raise InputError(f"executor {executor!r}: valid: {', '.join(EXECUTORS)}")
    if address and executor != "ray":
        raise InputError(f"address {address!r}: a Ray cluster needs executor 'ray'")
    return SweepRun(
        run_sweep(sweep_file, executor=executor, workers=workers, address=address, progress=progress, nominal=nominal)
    )
