"""``twin demo``: the whole chain on the sample cell, from the twin's own telemetry to the report.

generate (the twin writes telemetry) -> ingest (validated into the warehouse) -> render the cell ->
replay both robots (twin vs measurement) -> baseline and what-if scenarios -> analytics -> report.
Each step is the same sub-command a user would run; the demo runs them in order and summarises.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

from twin import api
from twin.errors import TwinError
from twin.paths import DEFAULT_CELL, SCENARIOS_DIR, data_dir

BASELINE_SCENARIO = "baseline-v1"


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``twin demo``."""
    parser = subparsers.add_parser(
        "demo", parents=[parent], help="generate, ingest, replay, what-ifs, analytics, report"
    )
    parser.add_argument("--days", type=int, default=30, help="days of demo telemetry (default 30)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (scenarios use their files' seeds)")
    parser.add_argument("--replications", type=int, default=5, help="replications per scenario (default 5)")
    parser.add_argument("--horizon", type=float, default=5.0, help="scenario horizon in days (default 5)")
    parser.add_argument("--out", default=None, help="folder for generated files and the report (default data/)")
    parser.set_defaults(func=run)


def _step(name: str, argv: list[str], log: list[dict[str, Any]], parse_json: bool = True) -> Any:
    """Run one sub-command in-process; its JSON output is returned, its exit code checked."""
    from twin.cli import main

    print(f"[demo] {name}: twin {' '.join(argv)}", file=sys.stderr)
    start = time.perf_counter()
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(argv)
    elapsed = time.perf_counter() - start
    log.append({"step": name, "exit_code": code, "seconds": round(elapsed, 2)})
    if code not in (0, 3):  # 3: a what-if may be infeasible; the demo reports it
        raise TwinError(f"demo step {name!r} failed with exit code {code}: twin {' '.join(argv)}")
    text = buffer.getvalue()
    if parse_json and text.strip():
        return json.loads(text)
    return text


def run_demo(
    warehouse: str | Path,
    days: int = 30,
    seed: int = 7,
    replications: int = 5,
    horizon: float = 5.0,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Run the whole chain and return a summary.

    Args:
        warehouse: The warehouse file to build (e.g. ``data/twin.duckdb``).
        days: Days of telemetry to generate.
        seed: Seed of the generator (scenarios use the seeds their files declare).
        replications: Replications per scenario.
        horizon: Scenario horizon in days.
        out: Folder for generated telemetry, the cell picture and the report (default ``data/``).

    Returns:
        Steps with timings, and the headline figures.
    """
    root = Path(out) if out is not None else data_dir()
    generated = root / "generated"
    wh = ["--warehouse", str(warehouse)]
    log: list[dict[str, Any]] = []
    summary: dict[str, Any] = {"warehouse": str(warehouse), "steps": log}
    gen = _step(
        "generate", ["generate", "--days", str(days), "--seed", str(seed), "--out", str(generated), "--json", *wh], log
    )
    summary["generated"] = {"files": len(gen["files"]), "rows": gen["rows"], "units": gen["units"]}
    ingest = _step("ingest", ["ingest", str(generated), "--json", *wh], log)
    summary["ingest"] = {"accepted": ingest["accepted"], "quarantined": ingest["quarantined"]}
    api.store_cell_plan(warehouse, DEFAULT_CELL)  # OEE, the report and the dashboard read the twin's plan here
    _step("render", ["cell", "render", "--out", str(root / "cell.png"), "--json", *wh], log)
    summary["replay"] = {}
    for robot in ("R1", "R2"):
        summary["replay"][robot] = _step(f"replay {robot}", ["replay", "--robot", robot, "--json", *wh], log)
    # every registered scenario, the baseline first (assets/scenarios is the registry)
    names = sorted(path.stem for path in SCENARIOS_DIR.glob("*.yaml"))
    names.sort(key=lambda name: name != BASELINE_SCENARIO)
    scenario_files = [str(SCENARIOS_DIR / f"{name}.yaml") for name in names]
    common = ["--replications", str(replications), "--horizon", str(horizon)]
    # the comparison runs the baseline too: every what-if is paired with it, replication by replication
    summary["compare"] = _step("what-ifs", ["scenario", "compare", *scenario_files, *common, "--json", *wh], log)
    for name in ("oee", "cost", "carbon"):
        summary[name] = _step(name, [name, "--json", *wh], log)
    _step("report", ["report", "--out", str(root / "report"), *wh], log, parse_json=False)
    summary["report"] = str(root / "report" / "report.html")
    return summary


def run(args: argparse.Namespace) -> int:
    """Handler of ``twin demo``."""
    summary = run_demo(
        args.warehouse,
        days=args.days,
        seed=args.seed,
        replications=args.replications,
        horizon=args.horizon,
        out=args.out,
    )
    if args.json:
        print(json.dumps(summary, default=str))
        return 0
    oee, cost, carbon = summary["oee"], summary["cost"], summary["carbon"]
    per_unit = carbon["per_unit_kg"]
    lines = [
        f"demo warehouse: {summary['warehouse']}",
        f"telemetry: {summary['generated']['units']:,} units; ingested {summary['ingest']['accepted']:,} rows, "
        f"quarantined {summary['ingest']['quarantined']:,}",
        f"OEE {oee['oee']:.1%} (availability {oee['availability']:.1%}, performance {oee['performance']:.1%}, "
        f"quality {oee['quality']:.1%})",
        f"cost per unit {cost['cost_per_unit']['total']:.2f} EUR; carbon per unit "
        f"{per_unit['total_location']:.3f} kgCO2e location-based, {per_unit['total_market']:.3f} market-based",
    ]
    for robot, replay in summary["replay"].items():
        power = replay.get("power", {})
        if power.get("energy_measured_j"):
            error = power["energy_predicted_j"] / power["energy_measured_j"] - 1.0
            lines.append(
                f"replay {robot}: {replay['samples']:,} samples, energy twin vs measured {error:+.1%}, "
                f"power R² {power.get('r2')}"
            )
    for scenario in summary["compare"]["scenarios"]:
        kpis = scenario["kpis"]
        parts = []
        for name, unit in (("throughput_units_per_h", "units/h"), ("kgco2e_per_unit", "kgCO2e/unit")):
            kpi = kpis.get(name)
            if kpi:
                low, high = kpi.get("delta_ci_low"), kpi.get("delta_ci_high")
                interval = f" [{low:+.3g}, {high:+.3g}]" if low is not None and high is not None else ""
                parts.append(f"{kpi['mean']:.3g} {unit} (delta {kpi.get('delta') or 0.0:+.3g}{interval})")
        lines.append(f"what-if {scenario['scenario']}: " + "; ".join(parts))
    lines.append("(deltas against the baseline with their 95 % intervals)")
    lines.append(f"report: {summary['report']}")
    print("\n".join(lines))
    return 0
