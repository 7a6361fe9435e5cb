"""What the scenario commands do, as functions returning JSON-ready results (the CLI only prints them).

- :func:`run_scenario`: one scenario's KPIs with 95 % intervals and the baseline's twin error.
- :func:`compare_scenarios`: several scenarios against the first (the baseline), paired by seed.
- :func:`run_sweep`: a sweep file's runs on the inline, local-pool or Ray executor.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

from twin.errors import ConfigError
from twin.paths import data_dir
from twin.scenarios.load import Scenario, load_scenario, load_sweep
from twin.scenarios.sweep import expand, parameter_changes
from twin.sim.kpis import compare_kpis, summarize
from twin.sim.runner import ScenarioResult, prepare, run_many, telemetry_stem
from twin.warehouse.scenario_runs import SimulatedRun, write_run

NULL_ERROR: dict[str, float | None] = {"cycle_time_rel": None, "energy_per_unit_rel": None}
TWIN_ERROR_REPLICATIONS = 3


def _executor(workers: int | None) -> str:
    return "local" if workers is not None and workers > 1 else "inline"


def measured_data(warehouse: str | Path | None, scenario: Scenario) -> Any:
    """The measured data of the scenario's cell in the warehouse (None without a warehouse or measured cycles)."""
    from twin.sim.measured import read_warehouse

    return read_warehouse(warehouse, scenario.cell.cell.id)


def baseline_twin_error(scenario: Scenario, measured: Any) -> dict[str, float | None]:
    """The baseline's relative error against the measured data (null figures without measured cycles).

    The scenario's baseline (``baseline:``, the scenario itself when none) is simulated over the measured
    period and compared: cycle time per unit, energy per completed unit.
    """
    if measured is None:
        return dict(NULL_ERROR)
    from twin.sim.measured import measured_period, twin_error

    reference = scenario.spec.baseline or scenario.id
    baseline = (
        scenario
        if reference == scenario.id
        else load_scenario(_sibling(reference, scenario.path), nominal=scenario.nominal)
    )
    start, days = measured_period(measured, baseline.cell.cell.timezone)
    inputs = prepare(baseline, days, measured=measured, start=start)
    n = min(baseline.spec.replications, TWIN_ERROR_REPLICATIONS)
    (per_rep,) = run_many([(inputs, baseline.spec.seed, n)])
    summary = summarize(per_rep)
    cycles = {
        v.name: summary[f"cycle_time_s_{v.name}"]["mean"]
        for v in inputs.variants
        if summary.get(f"cycle_time_s_{v.name}", {}).get("mean") is not None
    }
    per_unit = [r["_energy_kwh"] / r["_units_completed"] for r in per_rep if r["_units_completed"] > 0]
    energy = sum(per_unit) / len(per_unit) if per_unit else math.nan
    cell = baseline.cell
    conveyors = {sid for sid, s in cell.stations.items() if s.kind == "conveyor"}
    processing = {run.owner for name in cell.variants for run in cell.stage_runs(name) if run.process}
    return twin_error(measured, cycles, energy, set(cell.robots) | processing, conveyors)


def _sibling(reference: str, path: Path) -> str | Path:
    candidate = path.parent / f"{reference}.yaml"
    return candidate if candidate.is_file() else reference


def run_scenario(
    reference: str | Path,
    *,
    replications: int | None = None,
    horizon_days: float | None = None,
    seed: int | None = None,
    workers: int | None = None,
    progress: bool = False,
    warehouse: str | Path | None = None,
    write: bool = False,
    nominal: bool = False,
) -> ScenarioResult:
    """Run a scenario file (or registered id) and attach the baseline's twin error.

    The measured data of the scenario's cell in ``warehouse`` (if any) fit the faults and quality and give
    the twin error.

    With ``write``, every replication's telemetry (events, energy, quality; ``source =
    simulated:<scenario>``, ``replication = r``) is written as Parquet files under
    ``data/generated/simulated/`` while it runs, and ingested into ``warehouse`` with the scenario's cell
    (:func:`twin.warehouse.scenario_runs.write_run`), so ``twin cost|carbon|oee --source
    simulated:<scenario> --replication r`` give the figures this run's KPIs were computed from.

    Each robot plans with its stored calibration unless ``nominal`` (:func:`twin.scenarios.load.load_scenario`);
    the result names every robot's parameter set.
    """
    scenario = load_scenario(reference, nominal=nominal)
    spec = scenario.spec
    n = replications if replications is not None else spec.replications
    days = horizon_days if horizon_days is not None else spec.horizon_days
    s = seed if seed is not None else spec.seed
    measured = measured_data(warehouse, scenario)
    inputs = prepare(scenario, days, measured=measured)
    out_dir = None
    if write:
        out_dir = data_dir() / "generated" / "simulated" / f"{scenario.id}-seed{s}"
    (per_rep,) = run_many(
        [(inputs, s, n)],
        executor=_executor(workers),
        workers=workers,
        progress=progress,
        desc=scenario.id,
        out_dir=out_dir,
    )
    result = ScenarioResult(
        scenario.id,
        s,
        n,
        days,
        per_rep,
        currency=scenario.cell.cost.currency,
        cell_id=scenario.cell.cell.id,
        parameter_sets=scenario.parameter_sets,
    )
    result.twin_error = baseline_twin_error(scenario, measured)
    if out_dir is not None:
        stems = [telemetry_stem(scenario.id, s, r) for r in range(n)]
        paths = [out_dir / f"{stream}-{stem}.parquet" for stem in stems for stream in ("events", "energy", "quality")]
        first = date.fromisoformat(inputs.start_iso)
        write_run(SimulatedRun(scenario.id, s, days, first, n, scenario.cell), paths, warehouse)
    return result


def compare_scenarios(
    references: list[str | Path],
    *,
    replications: int | None = None,
    horizon_days: float | None = None,
    workers: int | None = None,
    warehouse: str | Path | None = None,
    progress: bool = False,
    nominal: bool = False,
) -> dict[str, Any]:
    """Every scenario against the first, with the baseline's seed, replications and horizon for all.

    Replication ``r`` of every scenario uses the same seed (common random numbers), so the deltas and
    their intervals are paired over replications. Each scenario reads the measured data of its own cell in
    ``warehouse``; the twin error is the baseline's.
    """
    if len(references) < 2:
        raise ConfigError("compare needs a baseline and at least one scenario")
    scenarios = [load_scenario(r, nominal=nominal) for r in references]
    base = scenarios[0]
    n = replications if replications is not None else base.spec.replications
    days = horizon_days if horizon_days is not None else base.spec.horizon_days
    seed = base.spec.seed
    measured = {sc.cell.cell.id: measured_data(warehouse, sc) for sc in scenarios}
    prepared = [(prepare(sc, days, measured=measured[sc.cell.cell.id]), seed, n) for sc in scenarios]
    per_run = run_many(prepared, executor=_executor(workers), workers=workers, progress=progress, desc="compare")
    return {
        "baseline": base.id,
        "cell_id": base.cell.cell.id,
        "seed": seed,
        "replications": n,
        "horizon_days": days,
        "currency": base.cell.cost.currency,
        "scenarios": [
            {"scenario": sc.id, "parameter_sets": sc.parameter_sets, "kpis": compare_kpis(values, per_run[0])}
            for sc, values in zip(scenarios, per_run, strict=True)
        ],
        "twin_error": baseline_twin_error(base, measured[base.cell.cell.id]),
    }


def run_sweep(
    reference: str | Path,
    *,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = False,
    nominal: bool = False,
) -> dict[str, Any]:
    """Run a sweep file: ``{"sweep", "scenario", "seed", "replications", "horizon_days", "runs": [...]}``."""
    spec, path = load_sweep(reference)
    local = path.parent / spec.scenario
    base = load_scenario(local if local.is_file() else spec.scenario, nominal=nominal)
    seed = spec.seed if spec.seed is not None else base.spec.seed
    n = spec.replications if spec.replications is not None else base.spec.replications
    days = spec.horizon_days if spec.horizon_days is not None else base.spec.horizon_days
    runs = expand(spec, seed)
    prepared = []
    iterator: Any = runs
    if progress:
        from tqdm import tqdm

        iterator = tqdm(runs, desc="planning", unit="run", leave=False)
    for params in iterator:
        scenario = load_scenario(base.path, parameter_changes(params), nominal=nominal)
        prepared.append((prepare(scenario, days), seed, n))
    per_run = run_many(prepared, executor=executor, workers=workers, address=address, progress=progress, desc="sweep")
    return {
        "sweep": path.stem,
        "scenario": base.id,
        "cell_id": base.cell.cell.id,
        "parameter_sets": base.parameter_sets,
        "seed": seed,
        "replications": n,
        "horizon_days": days,
        "currency": base.cell.cost.currency,
        "runs": [
            {"parameters": params, "kpis": summarize(values)} for params, values in zip(runs, per_run, strict=True)
        ],
    }
