"""Options several sub-commands share."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

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
        help="override any cell value, e.g. robots.<id>.speed_override=0.6 (repeatable)",
    )


def add_command_group(subparsers: Any, name: str, help_text: str) -> Any:
    """A command with actions (``twin NAME ACTION``), such as ``twin cell check``.

    Args:
        subparsers: The ``twin`` command's sub-parsers.
        name: The command.
        help_text: Its line in ``twin --help``.

    Returns:
        The sub-parsers to add the actions to; the chosen one lands in ``args.action`` (an error line names it).
    """
    group = subparsers.add_parser(name, help=help_text)
    return group.add_subparsers(dest="action", metavar="ACTION", required=True)


def number_type(
    kind: Callable[[str], Any], noun: str, valid: Callable[[Any], bool], problem: str
) -> Callable[[str], Any]:
    """An argparse type: ``kind(text)``, refused unless ``valid``.

    Args:
        kind: Parses the text (``int``, ``float``).
        noun: What the text should be, for the error (``an integer``).
        valid: Whether a parsed value is allowed.
        problem: The error for a value not allowed; may name ``{text}`` and ``{value}``.

    Returns:
        The argparse ``type``.
    """

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from exc
        if not valid(value):
            raise argparse.ArgumentTypeError(problem.format(text=text, value=value))
        return value

    return parse
