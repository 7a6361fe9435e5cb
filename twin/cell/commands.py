"""``twin cell check`` and ``twin cell render``: the cell-level what-if (``--set``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from twin.paths import DEFAULT_CELL

EXIT_INFEASIBLE = 3


def add_cell_options(parser: argparse.ArgumentParser) -> None:
    """``--cell`` and repeated ``--set`` (shared by every command that takes a cell)."""
    parser.add_argument("--cell", default=str(DEFAULT_CELL), help="cell YAML (default: the sample cell)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any cell value, e.g. robots.R1.speed_override=0.6 (repeatable)",
    )


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``twin cell check|render``."""
    cell = subparsers.add_parser("cell", help="check or render a cell definition")
    actions = cell.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", parents=[parent], help="feasibility, cycle time, takt and energy per variant")
    add_cell_options(check)
    check.add_argument("--no-cache", action="store_true", help="re-plan every operation")
    check.set_defaults(func=run_check)
    render = actions.add_parser("render", parents=[parent], help="a PNG picture of the cell")
    add_cell_options(render)
    render.add_argument("--out", required=True, help="PNG file to write")
    render.add_argument("--width", type=int, default=1280)
    render.add_argument("--height", type=int, default=800)
    render.set_defaults(func=run_render)


def run_check(args: argparse.Namespace) -> int:
    """Plan every operation of every variant and report feasibility and cycle figures."""
    from twin.cell.load import load_cell
    from twin.physics.cache import PhysicsCache
    from twin.physics.evaluate import CellPlanner
    from twin.physics.plan import write_cached_plan

    cell = load_cell(args.cell, args.overrides)
    cache = PhysicsCache(persist=not args.no_cache)
    with CellPlanner(cell, cache=cache) as planner:
        result = planner.evaluate_with_progress() if sys.stderr.isatty() else planner.evaluate()
        write_cached_plan(cache, planner.plan(result))  # `twin oee` and the report read the plan from the cache
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(format_check(result.to_json()))
    return 0 if result.feasible else EXIT_INFEASIBLE


def format_check(report: dict[str, Any]) -> str:
    """A readable table of ``twin cell check``."""
    lines = [f"cell {report['cell']}: {'feasible' if report['feasible'] else 'INFEASIBLE'}"]
    for v in report["variants"]:
        lines.append(
            f"\n{v['variant']}: cycle {v['cycle_time_s']:.2f} s (+ print {v['print_time_s']:.0f} s), "
            f"takt {v['takt_s']:.2f} s, bottleneck {v['bottleneck']}, energy {v['energy_j'] / 1000:.1f} kJ/unit"
            f" ({v['print_energy_j'] / 1000:.1f} kJ printing)"
        )
        lines.append(
            f"  {'operation':<24}{'resource':<12}{'time s':>8}{'energy J':>10}{'peak W':>9}{'clear mm':>10}  status"
        )
        for op in v["operations"]:
            clearance = "-" if op["min_clearance_m"] is None else f"{op['min_clearance_m'] * 1000:.0f}"
            status = "ok" if op["feasible"] else f"INFEASIBLE: {op['reason']}"
            lines.append(
                f"  {op['operation']:<24}{op['robot_id']:<12}{op['duration_s']:>8.2f}{op['energy_j']:>10.0f}"
                f"{op['peak_power_w']:>9.0f}{clearance:>10}  {status}"
            )
        for warning in v["warnings"]:
            lines.append(f"  warning: {warning}")
    return "\n".join(lines)


def run_render(args: argparse.Namespace) -> int:
    """Write a labelled PNG of the cell."""
    from twin.cell.load import load_cell
    from twin.errors import InputError
    from twin.physics.render import save_cell_png

    if not args.out.lower().endswith(".png"):
        raise InputError(f"--out {args.out!r}: the picture is written as PNG; give a .png file name")
    cell = load_cell(args.cell, args.overrides)
    path = save_cell_png(cell, args.out, args.width, args.height)
    if args.json:
        print(json.dumps({"cell": cell.cell.id, "out": str(path), "width": args.width, "height": args.height}))
    else:
        print(f"wrote {path}")
    return 0
