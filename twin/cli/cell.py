"""``twin cell check``, ``render`` and ``migrate``: the cell-level what-if (``--set``) and old files."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from twin import api
from twin.cli.common import add_cell_options, add_command_group

EXIT_INFEASIBLE = 3


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``twin cell check|render|migrate``.

    Args:
        subparsers: The ``twin`` command's sub-parsers.
        parent: The parser holding ``--warehouse``, ``--json`` and ``--debug``.
    """
    actions = add_command_group(subparsers, "cell", "check or render a cell definition")
    check = actions.add_parser("check", parents=[parent], help="feasibility, cycle time, takt and energy per variant")
    add_cell_options(check)
    check.add_argument("--no-cache", action="store_true", help="re-plan every operation")
    check.set_defaults(func=run_check)
    render = actions.add_parser("render", parents=[parent], help="a PNG picture of the cell, or its 3D scene (.glb)")
    add_cell_options(render)
    render.add_argument(
        "--out", required=True, help="PNG file to write, or a .glb file for the 3D scene (glTF 2.0: Blender, viewers)"
    )
    render.add_argument("--width", type=int, default=1280)
    render.add_argument("--height", type=int, default=800)
    render.set_defaults(func=run_render)
    migrate = actions.add_parser("migrate", parents=[parent], help="rewrite a cell file in the current format")
    migrate.add_argument("source", help="the cell YAML to read")
    migrate.add_argument("--out", required=True, help="the YAML file to write")
    migrate.set_defaults(func=run_migrate)


def run_check(args: argparse.Namespace) -> int:
    """Plan every operation of every variant and report feasibility and cycle figures; exit 3 when infeasible."""
    check = api.check_cell(
        args.cell, overrides=args.overrides, use_cache=not args.no_cache, progress=sys.stderr.isatty()
    )
    report = check.to_dict()
    print(json.dumps(report) if args.json else format_check(report))
    return 0 if check.feasible else EXIT_INFEASIBLE


def format_check(report: dict[str, Any]) -> str:
    """A readable table of ``twin cell check``."""
    lines = [f"cell {report['cell']}: {'feasible' if report['feasible'] else 'INFEASIBLE'}"]
    for v in report["variants"]:
        lines.append(
            f"\n{v['variant']}: cycle {v['cycle_time_s']:.2f} s (+ making parts {v['making_time_s']:.0f} s), "
            f"takt {v['takt_s']:.2f} s, bottleneck {v['bottleneck']}, energy {v['energy_j'] / 1000:.1f} kJ/unit"
            f" ({v['making_energy_j'] / 1000:.1f} kJ making parts)"
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
    picture = api.render_cell(args.cell, args.out, overrides=args.overrides, width=args.width, height=args.height)
    print(json.dumps(picture.to_dict()) if args.json else f"wrote {picture.path}")
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    """Write a cell file in the current format."""
    migrated = api.migrate_cell(args.source, args.out)
    print(json.dumps(migrated.to_dict()) if args.json else f"wrote {migrated.out} (from format {migrated.from_format})")
    return 0
