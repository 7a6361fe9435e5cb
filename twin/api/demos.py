"""The whole chain on a cell, from the twin's own telemetry to the report: what ``twin demo`` runs.

generate (the twin writes telemetry) -> ingest (validated into the warehouse) -> store the cell's plan ->
render the cell -> replay every robot (twin vs measurement) -> the baseline and every registered what-if ->
period figures -> report. Each step is the API function a user would call; the demo calls them in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.api._inputs import CellInput, resolve_cell, resolve_warehouse
from twin.api.cell import render_cell
from twin.api.periods import period
from twin.api.plan import store_cell_plan
from twin.api.replays import replay
from twin.api.reports import report
from twin.api.scenarios import compare
from twin.api.telemetry import generate, ingest
from twin.cell.spec import CellSpec
from twin.errors import InputError
from twin.paths import DEFAULT_CELL, SCENARIOS_DIR, data_dir
from twin.scenarios.load import read_scenario_spec, scenario_cell


@dataclass(frozen=True)
class DemoSummary:
    """What the demo did and its headline figures.

    Attributes:
        warehouse: The warehouse it built.
        steps: Per step its name and seconds.
        figures: Per step its result as the matching command prints it under ``--json`` (shortened for
            generate and ingest).
        report_html: The report's HTML file.
    """

    warehouse: Path
    steps: tuple[dict[str, Any], ...]
    figures: dict[str, Any] = field(default_factory=dict)
    report_html: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``twin demo --json`` prints."""
        return {
            "warehouse": str(self.warehouse),
            "steps": list(self.steps),
            **self.figures,
            "report": str(self.report_html) if self.report_html else None,
        }


def registered_scenarios(cell: CellSpec, folder: Path = SCENARIOS_DIR) -> list[Path]:
    """The registry's scenario files of one cell (by its file), its baseline first.

    A cell's baseline is the scenario that is its own baseline (``baseline:`` none or its own id); every other
    what-if names it.

    Args:
        cell: The cell (its ``source_path`` picks the scenarios whose ``cell:`` is that file).
        folder: The registry (``assets/scenarios``).

    Returns:
        The files; none when the registry has no scenario of the cell.
    """
    source = (cell.source_path or DEFAULT_CELL).resolve()
    paths = [path for path in sorted(folder.glob("*.yaml")) if scenario_cell(path) == source]

    def is_baseline(path: Path) -> bool:
        baseline = read_scenario_spec(path).baseline
        return baseline is None or baseline == path.stem

    return sorted(paths, key=lambda path: not is_baseline(path))


def demo(
    warehouse: str | Path | None = None,
    *,
    cell: CellInput = None,
    days: int = 30,
    seed: int = 7,
    replications: int = 5,
    horizon_days: float = 5.0,
    out: str | Path | None = None,
    progress: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Run the whole chain and return a summary.

    Args:
        warehouse: The warehouse file to build (default ``data/twin.duckdb``).
        cell: The cell (a spec, a YAML file, or None for the sample cell).
        days: Days of telemetry to generate.
        seed: Seed of the generator (scenarios use the seeds their files declare).
        replications: Replications per scenario.
        horizon_days: Scenario horizon in days.
        out: Folder for generated telemetry, the cell picture and the report (default ``data/``).
        progress: Show each long step's progress bar on stderr.
        on_step: Called with a step's name before it starts.

    Returns:
        Steps with timings, and the headline figures.

    Raises:
        TwinError: A step failed (its own error, unchanged).
    """
    spec = resolve_cell(cell)
    target = resolve_warehouse(warehouse)
    root = Path(out) if out is not None else data_dir()
    generated = root / "generated"
    steps: list[dict[str, Any]] = []
    figures: dict[str, Any] = {}

    def step(name: str, work: Callable[[], Any]) -> Any:
        if on_step is not None:
            on_step(name)
        start = time.perf_counter()
        result = work()
        steps.append({"step": name, "seconds": round(time.perf_counter() - start, 2)})
        return result

    made = step("generate", lambda: generate(spec, generated, days=days, seed=seed, progress=progress))
    figures["generated"] = {"files": len(made.files), "rows": made.rows, "units": made.units}
    # the files just written, not the folder: another cell's earlier files there are not this cell's telemetry
    loaded = step("ingest", lambda: ingest(list(made.files), target, cell=spec.source_path))
    figures["ingest"] = {"accepted": loaded.accepted, "quarantined": loaded.quarantined}
    store_cell_plan(target, spec)  # OEE, the report and the dashboard read the twin's plan from the warehouse
    step("render", lambda: render_cell(spec, root / "cell.png"))
    figures["replay"] = {}
    for robot in spec.robots:
        replayed = step(f"replay {robot}", lambda robot=robot: replay(robot, cell=spec, warehouse=target))
        figures["replay"][robot] = replayed.to_dict()
    # the comparison runs the baseline too: every what-if is paired with it, replication by replication
    scenarios = registered_scenarios(spec)
    if not scenarios:
        raise InputError(
            f"cell {spec.cell.id}: no scenario in {SCENARIOS_DIR} names {spec.source_path}; add its baseline "
            "(a scenario file with cell: <that file>) to run the what-ifs"
        )
    compared = step(
        "what-ifs",
        lambda: compare(
            scenarios,
            replications=replications,
            horizon_days=horizon_days,
            warehouse=target,
            progress=progress,
        ),
    )
    figures["compare"] = compared.to_dict()
    figures_of = step("period", lambda: period(target, cell=spec))
    figures["oee"] = figures_of.oee().to_dict()
    figures["cost"] = figures_of.cost().to_dict()
    figures["carbon"] = figures_of.carbon().to_dict()
    written = step("report", lambda: report(target, root / "report", cell=spec))
    return DemoSummary(Path(target), tuple(steps), figures, written.html)
