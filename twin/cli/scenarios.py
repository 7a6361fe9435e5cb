"""``twin scenario run|compare`` and ``twin sweep``: what-if runs, comparisons and parameter sweeps."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from twin import api
from twin.cli.common import add_command_group, number_type

_positive_int = number_type(int, "an integer", lambda v: v >= 1, "{value} must be at least 1")
_positive_float = number_type(
    float, "a number", lambda v: math.isfinite(v) and v > 0, "{text} must be a positive number"
)
_seed = number_type(int, "an integer", lambda v: v >= 0, "{value} must be non-negative")


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``twin scenario run|compare`` and ``twin sweep``.

    Args:
        subparsers: The ``twin`` command's sub-parsers.
        parent: The parser holding ``--warehouse``, ``--json`` and ``--debug``.
    """
    actions = add_command_group(subparsers, "scenario", "what-if scenarios: run one, compare several")

    run = actions.add_parser("run", parents=[parent], help="simulate a scenario: KPIs with 95 %% intervals")
    run.add_argument("file", metavar="FILE", help="scenario file or registered id (assets/scenarios/<id>.yaml)")
    run.add_argument("--replications", type=_positive_int, default=None, help="replications (default: the file's)")
    run.add_argument("--horizon", type=_positive_float, default=None, metavar="DAYS", help="simulated days")
    run.add_argument("--seed", type=_seed, default=None, help="seed (default: the file's); same seed, same output")
    run.add_argument("--workers", type=_positive_int, default=None, help="parallel processes (default 1)")
    run.add_argument(
        "--to-warehouse",
        action="store_true",
        help="ingest every replication's events, energy and quality (source simulated:<scenario>, with the "
        "scenario's cell) into --warehouse",
    )
    run.add_argument("--no-store", action="store_true", help="do not keep the KPIs in the warehouse")
    run.add_argument(
        "--nominal", action="store_true", help="plan with the cell file's power models, not the robots' calibrations"
    )
    run.set_defaults(func=run_run)

    compare = actions.add_parser(
        "compare", parents=[parent], help="scenarios against the first (the baseline), with deltas and intervals"
    )
    compare.add_argument("files", metavar="FILE", nargs="+", help="baseline first, then the what-ifs")
    compare.add_argument("--replications", type=_positive_int, default=None, help="default: the baseline's")
    compare.add_argument(
        "--horizon", type=_positive_float, default=None, metavar="DAYS", help="default: the baseline's"
    )
    compare.add_argument("--workers", type=_positive_int, default=None, help="parallel processes (default 1)")
    compare.add_argument("--no-store", action="store_true", help="do not keep the KPIs in the warehouse")
    compare.add_argument(
        "--nominal", action="store_true", help="plan with the cell file's power models, not the robots' calibrations"
    )
    compare.set_defaults(func=run_compare)

    sweep = subparsers.add_parser("sweep", parents=[parent], help="a grid or random sweep over scenario parameters")
    sweep.add_argument("file", metavar="FILE", help="sweep file or id (assets/scenarios/sweeps/<id>.yaml)")
    sweep.add_argument("--executor", choices=("local", "ray"), default="local", help="process pool or Ray")
    sweep.add_argument("--address", default=None, help="an existing Ray cluster (default: start a local one)")
    sweep.add_argument("--workers", type=_positive_int, default=None, help="processes / local Ray CPUs")
    sweep.add_argument(
        "--nominal", action="store_true", help="plan with the cell file's power models, not the robots' calibrations"
    )
    sweep.set_defaults(func=run_sweep_command)


def _simulation_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments ``scenario run`` and ``scenario compare`` share, from the options they share."""
    return {
        "replications": args.replications,
        "horizon_days": args.horizon,
        "workers": args.workers,
        "warehouse": args.warehouse,
        "store": not args.no_store,
        "progress": sys.stderr.isatty(),
        "nominal": args.nominal,
    }


def _note_unstored(args: argparse.Namespace, stored_as: str | None) -> None:
    if not args.no_store and stored_as is None:
        print(
            f"KPIs not stored: no warehouse at {args.warehouse} yet (twin demo or twin ingest makes one)",
            file=sys.stderr,
        )


def run_run(args: argparse.Namespace) -> int:
    """Handler of ``twin scenario run``."""
    run = api.run_scenario(args.file, seed=args.seed, to_warehouse=args.to_warehouse, **_simulation_options(args))
    _note_unstored(args, run.stored_as)
    report = run.to_dict()
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"scenario {report['scenario']}: {report['replications']} replications x {report['horizon_days']:g} days, "
            f"seed {report['seed']}; bottleneck {run.bottleneck}"
        )
        print(format_parameter_sets(report["parameter_sets"]))
        print(format_kpis(report["kpis"]))
        print(format_twin_error(report["twin_error"]))
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """Handler of ``twin scenario compare``."""
    comparison = api.compare(args.files, **_simulation_options(args))
    _note_unstored(args, comparison.stored_as)
    report = comparison.to_dict()
    print(json.dumps(report) if args.json else format_compare(report))
    return 0


def run_sweep_command(args: argparse.Namespace) -> int:
    """Handler of ``twin sweep``."""
    swept = api.sweep(
        args.file,
        executor=args.executor,
        workers=args.workers,
        address=args.address,
        progress=sys.stderr.isatty(),
        nominal=args.nominal,
    )
    report = swept.to_dict()
    print(json.dumps(report) if args.json else format_sweep(report))
    return 0


def _num(value: float | None, width: int = 12) -> str:
    if value is None:
        return f"{'-':>{width}}"
    magnitude = abs(value)
    text = f"{value:.4g}" if magnitude >= 1e-3 or magnitude == 0 else f"{value:.3e}"
    return f"{text:>{width}}"


def format_parameter_sets(sets: dict[str, str]) -> str:
    """Which power model each robot planned with."""
    return "power models: " + ", ".join(f"{robot} {name}" for robot, name in sets.items())


def format_kpis(kpis: dict[str, dict[str, Any]]) -> str:
    """KPI table: name, mean and the 95 % interval."""
    lines = [f"  {'KPI':<30}{'mean':>12}{'95% CI low':>12}{'95% CI high':>12}"]
    for name, v in kpis.items():
        lines.append(f"  {name:<30}{_num(v['mean'])}{_num(v['ci_low'])}{_num(v['ci_high'])}")
    return "\n".join(lines)


def format_twin_error(error: dict[str, float | None]) -> str:
    """The baseline's measured error, or why there is none."""
    if all(v is None for v in error.values()):
        return "twin error: no measured cycles in the warehouse (run `twin ingest` on recorded telemetry)"
    parts = [f"{k.removesuffix('_rel').replace('_', ' ')} {v:+.1%}" for k, v in error.items() if v is not None]
    return "twin error of the baseline against measured data: " + ", ".join(parts)


def format_compare(report: dict[str, Any]) -> str:
    """One block per scenario: mean, delta against the baseline and the delta's 95 % interval."""
    lines = [
        f"baseline {report['baseline']}: {report['replications']} replications x {report['horizon_days']:g} days, "
        f"seed {report['seed']} (paired by replication)"
    ]
    for entry in report["scenarios"]:
        lines.append(f"\n{entry['scenario']} ({format_parameter_sets(entry['parameter_sets'])})")
        lines.append(f"  {'KPI':<30}{'mean':>12}{'delta':>12}{'delta CI low':>14}{'delta CI high':>14}")
        for name, v in entry["kpis"].items():
            interval = f"{_num(v['delta_ci_low'], 14)}{_num(v['delta_ci_high'], 14)}"
            lines.append(f"  {name:<30}{_num(v['mean'])}{_num(v['delta'])}{interval}")
    lines.append("\n" + format_twin_error(report["twin_error"]))
    return "\n".join(lines)


def format_sweep(report: dict[str, Any]) -> str:
    """One row per run: its parameters and headline KPIs."""
    headline = ("throughput_units_per_h", "cost_per_unit", "kgco2e_per_unit", "oee")
    params = list(report["runs"][0]["parameters"]) if report["runs"] else []
    head = "".join(f"{p:>28}" for p in params) + "".join(f"{k:>24}" for k in headline)
    lines = [
        f"sweep {report['sweep']} over {report['scenario']}: {len(report['runs'])} runs x "
        f"{report['replications']} replications x {report['horizon_days']:g} days, seed {report['seed']}",
        format_parameter_sets(report["parameter_sets"]),
        head,
    ]
    for run in report["runs"]:
        cells = "".join(f"{run['parameters'][p]!s:>28}" for p in params)
        cells += "".join(_num(run["kpis"].get(k, {}).get("mean"), 24) for k in headline)
        lines.append(cells)
    return "\n".join(lines)
