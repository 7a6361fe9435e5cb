"""``twin dashboard``: start the Streamlit app (``apps/dashboard.py``) on a warehouse.

Before the app starts, this command (a CLI process, where physics is allowed):

1. builds the demo warehouse when there is none (``twin demo``), so a fresh clone shows data;
2. writes the ideal cycle times of the cell beside the warehouse (``<warehouse>.ideal.json``,
   :func:`write_ideal_cycle_times`): OEE performance needs them and they come from the physics twin's
   plan, which a page never computes;
3. runs ``streamlit run apps/dashboard.py --server.port P --server.headless true`` with the warehouse
   in ``$TWIN_WAREHOUSE`` and the cell in ``$TWIN_CELL``, until it is stopped (Ctrl-C).

The app only reads the warehouse's published snapshot (:mod:`twin.warehouse.snapshot`), so ``twin
ingest`` or ``twin scenario run`` may write meanwhile.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twin.errors import ConfigError, TwinError
from twin.paths import DEFAULT_CELL, PROJECT_DIR

log = logging.getLogger(__name__)

APP = PROJECT_DIR / "apps" / "dashboard.py"
"""The Streamlit entry script (the ``st.navigation`` router)."""

ENV_WAREHOUSE = "TWIN_WAREHOUSE"
ENV_CELL = "TWIN_CELL"
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
            "http://localhost:PORT. Builds the demo warehouse first when the warehouse does not exist."
        ),
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to serve on (default {DEFAULT_PORT})")
    parser.add_argument("--cell", default=str(DEFAULT_CELL), help="cell YAML (default: the sample cell)")
    parser.add_argument(
        "--no-demo", action="store_true", help="do not build the demo when the warehouse is missing (pages say so)"
    )
    parser.set_defaults(func=run_dashboard)


def warehouse_exists(warehouse: Path) -> bool:
    """Whether a warehouse (or its published snapshot) is there.

    Args:
        warehouse: The warehouse file.

    Returns:
        True when the file or its read snapshot exists.
    """
    from twin.warehouse.snapshot import snapshot_path

    return warehouse.is_file() or snapshot_path(warehouse).is_file()


def build_demo(warehouse: Path) -> None:
    """Build the demo warehouse: ``twin.demo.run_demo`` when available, else ``twin demo`` in a subprocess.

    Args:
        warehouse: Where the demo warehouse goes.

    Raises:
        TwinError: The demo failed.
    """
    try:
        from twin.demo import run_demo  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        run_demo = None
    if run_demo is not None:
        params = inspect.signature(run_demo).parameters
        kwargs: dict[str, Any] = {}
        if "warehouse" in params:
            kwargs["warehouse"] = warehouse
        print(f"twin dashboard: no warehouse at {warehouse}; building the demo first", file=sys.stderr)
        run_demo(**kwargs)
        return
    print(f"twin dashboard: no warehouse at {warehouse}; running `twin demo` first", file=sys.stderr)
    cmd = [sys.executable, "-m", "twin.cli", "demo", "--warehouse", str(warehouse)]
    proc = subprocess.run(cmd, stdout=sys.stderr, check=False)
    if proc.returncode != 0:
        raise TwinError(f"`twin demo` failed (exit code {proc.returncode}); the dashboard needs a warehouse")


def write_ideal_cycle_times(warehouse: str | Path, cell: str | Path | None = None) -> Path:
    """Plan the cell with the physics twin and write its ideal cycle times beside the warehouse.

    The file (``<warehouse>.ideal.json``, :func:`twin.api.read.ideal_times.ideal_path`) holds the
    cell's takt per variant (what ``twin oee`` uses) and each robot's and station's work per unit
    (``twin oee --station``), with the fingerprint of the cell file and the physics model it was
    computed for. ``twin demo`` may call this too.

    Args:
        warehouse: The warehouse file.
        cell: Cell YAML; the sample cell when None.

    Returns:
        The file written.

    Raises:
        TwinError: The cell is invalid or a variant infeasible.
    """
    from twin.analytics.ideal import ideal_cycle_times
    from twin.api.read.ideal_times import cell_fingerprint, ideal_path
    from twin.cell.load import load_cell

    cell_file = Path(cell) if cell is not None else DEFAULT_CELL
    spec = load_cell(cell_file)
    doc = {
        "cell_id": spec.cell.id,
        "cell_file": str(cell_file.resolve()),
        "fingerprint": cell_fingerprint(cell_file),
        "computed_at": datetime.now(UTC).isoformat(),
        "cell": ideal_cycle_times(spec),
        "stations": {sid: ideal_cycle_times(spec, sid) for sid in [*spec.robots, *spec.stations]},
    }
    target = ideal_path(warehouse)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


def streamlit_command(port: int, app: Path = APP) -> list[str]:
    """The ``streamlit run`` command line of the app.

    Args:
        port: Port to serve on.
        app: The entry script.

    Returns:
        The argv.
    """
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]


def app_environment(warehouse: Path, cell: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the app process: the warehouse and the cell, absolute.

    Args:
        warehouse: The warehouse file.
        cell: The cell YAML.
        base: Environment to extend (default: this process's).

    Returns:
        The environment.
    """
    env = dict(os.environ if base is None else base)
    env[ENV_WAREHOUSE] = str(warehouse.resolve())
    env[ENV_CELL] = str(cell.resolve())
    return env


def run_dashboard(args: argparse.Namespace) -> int:
    """Handler of ``twin dashboard``."""
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port {args.port}: must be in 1..65535")
    if not APP.is_file():
        raise ConfigError(f"{APP}: the dashboard app is not there (run from a source checkout of celltwin)")
    warehouse = Path(args.warehouse)
    cell = Path(args.cell)
    if not warehouse_exists(warehouse) and not args.no_demo:
        build_demo(warehouse)
    try:
        written = write_ideal_cycle_times(warehouse, cell)
        log.info("ideal cycle times written to %s", written)
    except TwinError as exc:  # the pages still work; OEE says what is missing
        print(f"twin dashboard: warning: no ideal cycle times, OEE will be unavailable ({exc})", file=sys.stderr)
    url = f"http://localhost:{args.port}"
    if args.json:
        print(json.dumps({"url": url, "warehouse": str(warehouse.resolve()), "app": str(APP)}), flush=True)
    else:
        print(f"twin dashboard: serving {warehouse} on {url} (Ctrl-C stops it)", file=sys.stderr)
    # streamlit's own output goes to stderr: stdout carries only our JSON
    proc = subprocess.Popen(streamlit_command(args.port), env=app_environment(warehouse, cell), stdout=sys.stderr)

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
