"""``twin dashboard``: start the Streamlit app (``apps/dashboard.py``) on a warehouse.

:func:`twin.api.dashboard.prepare_dashboard` builds the demo when there is no warehouse and stores each
cell's plan; then ``streamlit run`` serves the app, with the warehouse in ``$TWIN_WAREHOUSE`` and the
cells in ``$TWIN_CELL``, until it is stopped (Ctrl-C or SIGTERM stop the app too).
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from twin import api
from twin.paths import DEFAULT_CELL

DEFAULT_PORT = 8501


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add ``twin dashboard``.

    Args:
        subparsers: The ``twin`` command's sub-parsers.
        parent: The parser holding ``--warehouse``, ``--json`` and ``--debug``.
    """
    parser = subparsers.add_parser(
        "dashboard",
        parents=[parent],
        help="start the Streamlit dashboard on the warehouse (building the demo first when none exists)",
        description=(
            "Serve the multipage dashboard (Overview, Cell & replay, Quality, Cost, Carbon, Scenarios) on "
            "http://127.0.0.1:PORT. Builds the demo warehouse first when the warehouse does not exist."
        ),
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to serve on (default {DEFAULT_PORT})")
    parser.add_argument(
        "--host",
        "--address",
        dest="address",
        default=None,
        help="address to listen on (default 127.0.0.1: this machine only; the dashboard has no login, so give "
        "another address, e.g. 0.0.0.0, only on a network you trust)",
    )
    parser.add_argument(
        "--cell",
        action="append",
        default=None,
        help="cell YAML; repeat it for several cells in one warehouse, picked in the sidebar (default: sample cell)",
    )
    parser.add_argument(
        "--no-demo", action="store_true", help="do not build the demo when the warehouse is missing (pages say so)"
    )
    parser.set_defaults(func=run_dashboard)


def run_dashboard(args: argparse.Namespace) -> int:
    """Handler of ``twin dashboard``."""
    where = {"address": args.address} if args.address else {}
    command = api.streamlit_command(args.port, **where)  # checks the port before any work
    address = command[command.index("--server.address") + 1]
    warehouse, cells = Path(args.warehouse), [Path(c) for c in args.cell or [DEFAULT_CELL]]
    setup = api.prepare_dashboard(warehouse, cells, build_demo=not args.no_demo)
    if setup.plan_problem:
        print(f"twin dashboard: warning: a cell's plan is not stored, no OEE ({setup.plan_problem})", file=sys.stderr)
    url = f"http://{address}:{args.port}"
    if args.json:
        print(json.dumps({"url": url, "warehouse": str(warehouse.resolve()), "app": str(setup.app)}), flush=True)
    else:
        print(f"twin dashboard: serving {warehouse} on {url} (Ctrl-C stops it)", file=sys.stderr)
    # streamlit's own output goes to stderr: stdout carries only our JSON
    proc = subprocess.Popen(command, env=api.app_environment(warehouse, cells), stdout=sys.stderr)

    def stop(signum: int, _frame: Any) -> None:  # a SIGTERM to `twin dashboard` stops the app too
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return proc.wait()
    finally:  # Ctrl-C (KeyboardInterrupt, re-raised for the CLI), SIGTERM or an error: never leave the app behind
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
