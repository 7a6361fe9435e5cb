"""Seeded replications of a scenario: inputs once (physics, cached), then N independent SimPy runs.

Replication ``r`` of seed ``s`` always draws the same numbers (``SeedSequence(s, spawn_key=(r,))``),
whatever N is and wherever it runs (in process, a local process pool or Ray), so results are identical
across executors and a larger N only adds replications. Each replication's KPIs are the analytics' period
figures of its telemetry (:mod:`twin.sim.kpis`), computed where it ran; with an output folder the task
also writes that telemetry as Parquet files, for the warehouse.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from twin.sim.engine import ProductionModel
from twin.sim.kpis import bottleneck, replication_kpis, summarize
from twin.sim.plan import SimInputs, build_inputs
from twin.sim.record import ReplicationRecord
from twin.sim.telemetry import replication_frames, write_frames
from twin.telemetry.generate import GenerateConfig


@dataclass(frozen=True)
class ReplicationTask:
    """One unit of work for an executor: a replication of prepared inputs.

    Attributes:
        run: Which run of the batch it belongs to.
        inputs: The run's inputs.
        seed: The run's seed.
        replication: The replication index.
        out_dir: Where to write its telemetry (:func:`telemetry_stem` names the files); none when None.
    """

    run: int
    inputs: SimInputs
    seed: int
    replication: int
    out_dir: str | None = None


def telemetry_stem(scenario_id: str, seed: int, replication: int) -> str:
    """What follows the stream in a replication's telemetry file names.

    >>> telemetry_stem("baseline-v2", 7, 2)
    'simulated-baseline-v2-seed7-r2'
    """
    return f"simulated-{scenario_id}-seed{seed}-r{replication}"


@dataclass
class ScenarioResult:
    """A scenario's replications and their summary."""

    scenario: str
    seed: int
    replications: int
    horizon_days: float
    per_replication: list[dict[str, float]]
    kpis: dict[str, dict[str, Any]] = field(default_factory=dict)
    twin_error: dict[str, float | None] = field(
        default_factory=lambda: {"cycle_time_rel": None, "energy_per_unit_rel": None}
    )
    currency: str = ""
    """The ISO 4217 code of ``cost_per_unit`` (the cell's)."""
    cell_id: str = ""
    """The cell the scenario ran on."""
    parameter_sets: dict[str, str] = field(default_factory=dict)
    """Robot -> the parameter set of its power model (``nominal`` or a calibration)."""

    def __post_init__(self) -> None:
        if not self.kpis:
            self.kpis = summarize(self.per_replication)

    @property
    def bottleneck(self) -> str:
        """The resource with the highest mean utilization."""
        means = {k: v["mean"] if v["mean"] is not None else math.nan for k, v in self.kpis.items()}
        return bottleneck(means)

    def to_json(self) -> dict[str, Any]:
        """The object ``twin scenario run --json`` prints."""
        return {
            "scenario": self.scenario,
            "cell_id": self.cell_id,
            "parameter_sets": self.parameter_sets,
            "seed": self.seed,
            "replications": self.replications,
            "horizon_days": self.horizon_days,
            "currency": self.currency,
            "kpis": self.kpis,
            "twin_error": self.twin_error,
        }


def run_replication(
    inputs: SimInputs, seed: int, replication: int, out_dir: str | Path | None = None
) -> tuple[dict[str, float], ReplicationRecord]:
    """Run one replication: its KPIs (the analytics' figures of its telemetry) and its record.

    Args:
        inputs: Prepared inputs.
        seed: The scenario seed.
        replication: The replication index.
        out_dir: Also write its telemetry there (``<stream>-<telemetry_stem>.parquet``).

    Returns:
        ``(kpis, record)``.
    """
    record = ProductionModel(inputs, seed, replication).run()
    frames = replication_frames(inputs, record)
    if out_dir is not None:
        write_frames(frames, Path(out_dir), telemetry_stem(inputs.scenario_id, seed, replication))
    return replication_kpis(inputs, record, frames), record


def replication_kpis_task(task: ReplicationTask) -> tuple[int, int, dict[str, float]]:
    """Executor entry point (module level, picklable): ``(run, replication, kpis)``."""
    kpis, _ = run_replication(task.inputs, task.seed, task.replication, task.out_dir)
    return task.run, task.replication, kpis


def default_start(measured: Any, timezone: str, days: float) -> date:
    """A scenario's first day when it names none: the latest measured period, else the generator's first day.

    The latest measured period is the last ``days`` local days that end with the last measured day, so a
    what-if runs over days that have grid intensity and tariffs like the data (clipped to the first measured
    day when the data span is shorter).

    Args:
        measured: :class:`twin.sim.measured.MeasuredData`, or None without measured data.
        timezone: The cell's zone.
        days: The scenario's horizon.
    """
    if measured is None:
        return GenerateConfig.start
    from twin.sim.measured import measured_period

    first, span = measured_period(measured, timezone)
    last = first + timedelta(days=span - 1)
    return max(first, last - timedelta(days=math.ceil(days) - 1))


def prepare(
    scenario: Any,
    horizon_days: float | None = None,
    *,
    cache: Any = None,
    measured: Any = None,
    start: date | None = None,
) -> SimInputs:
    """A scenario's simulation inputs (physics planned or taken from the cache).

    Args:
        scenario: A :class:`twin.scenarios.load.Scenario`.
        horizon_days: Overrides the scenario's horizon.
        cache: Physics cache (the on-disk default when None).
        measured: :class:`twin.sim.measured.MeasuredData` to fit faults and defects from (measured rows
            only), when the scenario allows it; its grid intensity of the cell's region over the horizon
            is used whatever the scenario says (an external series, like the tariff).
        start: Overrides the scenario's first day (else the scenario's ``start``, else :func:`default_start`).

    Returns:
        The inputs of every replication.
    """
    spec = scenario.spec
    days = horizon_days if horizon_days is not None else spec.horizon_days
    first = start or spec.start or default_start(measured, scenario.cell.cell.timezone, days)
    fitted_faults = fitted_quality = None
    if measured is not None and spec.fit_from_warehouse:
        fitted_faults = {
            k: v for k, v in measured.faults.items() if k in scenario.cell.robots or k in scenario.cell.stations
        }
        fitted_quality = measured.quality or None
        # an explicit fault change in the scenario wins over the fit
        for resource in spec.changes.faults:
            fitted_faults.pop(resource, None)
    grid: tuple[tuple[int, str, float, int], ...] = ()
    if measured is not None:
        grid = measured.grid_rows(scenario.cell.carbon.grid_region, first, first + timedelta(days=days))
    return build_inputs(
        scenario.id,
        scenario.cell,
        first,
        days,
        cache=cache,
        faults_enabled=spec.changes.faults_enabled,
        fitted_faults=fitted_faults,
        fitted_quality=fitted_quality,
        grid_intensity=grid,
    )


def execute(
    tasks: Sequence[ReplicationTask],
    executor: str = "inline",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = False,
    desc: str = "replications",
) -> list[tuple[int, int, dict[str, float]]]:
    """Run replication tasks inline, on a local process pool or on Ray; results in task order.

    Args:
        tasks: The work.
        executor: ``inline`` (this process), ``local`` (a process pool) or ``ray``.
        workers: Pool size / local Ray CPUs (default: the machine's cores).
        address: An existing Ray cluster (``ray://...`` or ``auto``); a local one is started when None.
        progress: Show a progress bar on stderr.
        desc: The progress bar's label.

    Returns:
        ``(run, replication, kpis)`` per task, in the order given.
    """
    bar = _bar(len(tasks), desc) if progress else None
    try:
        if executor == "inline":
            out = []
            for task in tasks:
                out.append(replication_kpis_task(task))
                if bar:
                    bar.update(1)
            return out
        if executor == "local":
            return _local(tasks, workers, bar)
        if executor == "ray":
            from twin.sim.ray_executor import run_on_ray

            return run_on_ray(
                tasks, replication_kpis_task, workers=workers, address=address, on_done=bar.update if bar else None
            )
        raise ValueError(f"unknown executor {executor!r}")
    finally:
        if bar:
            bar.close()


def _local(tasks: Sequence[ReplicationTask], workers: int | None, bar: Any) -> list[tuple[int, int, dict[str, float]]]:
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    size = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    # spawn, not fork: polars and numpy hold thread pools that a forked child must not inherit
    context = multiprocessing.get_context("spawn")
    results: list[tuple[int, int, dict[str, float]] | None] = [None] * len(tasks)
    with ProcessPoolExecutor(max_workers=size, mp_context=context) as pool:
        futures = {pool.submit(replication_kpis_task, task): i for i, task in enumerate(tasks)}
        from concurrent.futures import as_completed

        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if bar:
                bar.update(1)
    return [r for r in results if r is not None]


def _bar(total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="rep", leave=False, file=sys.stderr, disable=not sys.stderr.isatty())


def run_many(
    items: Iterable[tuple[SimInputs, int, int]],
    executor: str = "inline",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = False,
    desc: str = "runs",
    on_result: Callable[[int, list[dict[str, float]]], None] | None = None,
    out_dir: str | Path | None = None,
) -> list[list[dict[str, float]]]:
    """Several prepared runs ``(inputs, seed, replications)`` on one executor; per run, its replications' KPIs.

    With ``out_dir``, every replication's telemetry is written there too (:func:`run_replication`).
    """
    runs = list(items)
    folder = str(out_dir) if out_dir is not None else None
    tasks = [ReplicationTask(i, inp, s, r, folder) for i, (inp, s, n) in enumerate(runs) for r in range(n)]
    results = execute(tasks, executor=executor, workers=workers, address=address, progress=progress, desc=desc)
    per_run: list[list[dict[str, float]]] = [[] for _ in runs]
    for run, _, kpis in results:
        per_run[run].append(kpis)
    if on_result:
        for i, values in enumerate(per_run):
            on_result(i, values)
    return per_run
