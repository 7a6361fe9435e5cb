"""The ``twin`` command: one sub-command per capability (SPEC.md, "Command line").

Each capability module exposes ``register(subparsers)`` that adds its sub-command(s) and sets
``func`` on the parser; a handler returns the process exit code. Every sub-command accepts
``--warehouse``, ``--json`` and ``--debug`` after its own name. A :class:`TwinError` becomes one
line on stderr and its exit code (2 for bad input), with a traceback only under ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from twin.errors import TwinError
from twin.paths import default_warehouse

# Modules that contribute sub-commands, imported lazily so `twin --help` stays fast and a command
# only pays for the libraries it uses.
COMMAND_MODULES: tuple[str, ...] = (
    "twin.cli.cell",
    "twin.cli.telemetry",
    "twin.cli.replay",
    "twin.cli.scenarios",
    "twin.cli.analytics",
    "twin.cli.quality",
    "twin.cli.report",
    "twin.cli.dashboard",
    "twin.cli.demo",
)


def common_options() -> argparse.ArgumentParser:
    """The options every sub-command takes after its own name."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--warehouse", default=None, help="DuckDB warehouse file (default data/twin.duckdb)")
    parent.add_argument("--json", action="store_true", help="machine-readable output on stdout only")
    parent.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The full ``twin`` argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(prog="twin", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    parent = common_options()
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):  # not built yet
                continue
            raise
        module.register(subparsers, parent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if getattr(args, "warehouse", None) is None:
        args.warehouse = str(default_warehouse())
    try:
        return int(args.func(args) or 0)
    except TwinError as exc:
        if args.debug:
            raise
        name = " ".join(part for part in (args.command, getattr(args, "action", None)) if part)
        print(f"twin {name}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # stdout closed early (e.g. piped into head): not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"twin {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
