"""Options several sub-commands share."""

from __future__ import annotations

import argparse

from twin.paths import DEFAULT_CELL


def add_cell_options(parser: argparse.ArgumentParser) -> None:
    """``--cell`` and repeated ``--set`` (shared by every command that takes a cell).

    Args:
        parser: The sub-command's parser; the values land in ``args.cell`` and ``args.overrides``.
    """
    parser.add_argument("--cell", default=str(DEFAULT_CELL), help="cell YAML (default: the sample cell)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any cell value, e.g. robots.R1.speed_override=0.6 (repeatable)",
    )
