"""``twin demo``: the whole chain on a shipped or own cell, the sample by default (:func:`twin.api.demos.demo`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from twin import api
from twin.paths import DEFAULT_CELL


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``twin demo``."""
    parser = subparsers.add_parser(
        "demo", parents=[parent], help="generate, ingest, replay, what-ifs, analytics, report"
    )
    parser.add_argument(
        "--cell",
        default=str(DEFAULT_CELL),
        help="cell YAML (default: the sample cell); its what-ifs are the registry's scenarios that name it",
    )
    parser.add_argument("--days", type=int, default=30, help="days of demo telemetry (default 30)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (scenarios use their files' seeds)")
    parser.add_argument("--replications", type=int, default=5, help="replications per scenario (default 5)")
    parser.add_argument("--horizon", type=float, default=5.0, help="scenario horizon in days (default 5)")
    parser.add_argument("--out", default=None, help="folder for generated files and the report (default data/)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``twin demo``."""
    summary = api.demo(
        args.warehouse,
        cell=args.cell,
        days=args.days,
        seed=args.seed,
        replications=args.replications,
        horizon_days=args.horizon,
        out=args.out,
        progress=sys.stderr.isatty(),
        on_step=lambda name: print(f"[demo] {name}", file=sys.stderr),
    ).to_dict()
    if args.json:
        print(json.dumps(summary, default=str))
        return 0
    print(format_summary(summary))
    return 0


def format_summary(summary: dict[str, Any]) -> str:
    """Readable ``twin demo`` output: the headline figures and each what-if's deltas."""
    oee, cost, carbon = summary["oee"], summary["cost"], summary["carbon"]
    per_unit = carbon["per_unit_kg"]
    lines = [
        f"demo warehouse: {summary['warehouse']}",
        f"telemetry: {summary['generated']['units']:,} units; ingested {summary['ingest']['accepted']:,} rows, "
        f"quarantined {summary['ingest']['quarantined']:,}",
        f"OEE {oee['oee']:.1%} (availability {oee['availability']:.1%}, performance {oee['performance']:.1%}, "
        f"quality {oee['quality']:.1%})",
        f"cost per unit {cost['cost_per_unit']['total']:.2f} {cost['currency']}; carbon per unit "
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
    return "\n".join(lines)
