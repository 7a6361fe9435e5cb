"""What the dashboard needs before its app starts: a warehouse with the cell's plan, the app's command line.

The app (``apps/dashboard.py``) only reads the warehouse's published snapshot, so ``twin ingest`` or a
what-if may write meanwhile; it never plans, so the plan is stored here, in a process where physics is
allowed.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from twin.api.demos import demo
from twin.api.plan import store_cell_plan
from twin.errors import ConfigError, TwinError
from twin.paths import PROJECT_DIR
from twin.warehouse.plans import warehouse_exists

log = logging.getLogger(__name__)

APP = PROJECT_DIR / "apps" / "dashboard.py"
"""The Streamlit entry script (the ``st.navigation`` router)."""

ENV_WAREHOUSE = "TWIN_WAREHOUSE"
ENV_CELL = "TWIN_CELL"
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class DashboardSetup:
    """A warehouse made ready for the app.

    Attributes:
        warehouse: The warehouse file.
        built_demo: Whether the demo was built because there was no warehouse.
        plan_problem: Why the cell's plan could not be stored (the pages then say OEE is missing), or None.
        app: The Streamlit entry script.
    """

    warehouse: Path
    built_demo: bool
    plan_problem: str | None
    app: Path = APP


def prepare_dashboard(warehouse: str | Path, cell: str | Path, *, build_demo: bool = True) -> DashboardSetup:
    """Build the demo when there is no warehouse, then store the cell's plan in it.

    Args:
        warehouse: The warehouse file.
        cell: The cell YAML the pages show.
        build_demo: Build the demo warehouse when none exists (else the pages say what to run).

    Returns:
        What was done.

    Raises:
        ConfigError: The app is not there (not a source checkout).
        TwinError: The demo failed.
    """
    if not APP.is_file():
        raise ConfigError(f"{APP}: the dashboard app is not there (run from a source checkout of celltwin)")
    target = Path(warehouse)
    built = False
    if build_demo and not warehouse_exists(target):
        demo(target, cell=cell, progress=sys.stderr.isatty())
        built = True
    try:
        plan = store_cell_plan(target, cell)
        log.info("plan %s of cell %s stored in %s", plan.content_hash[:12], plan.cell_id, target)
        problem = None
    except TwinError as exc:  # the pages still work; OEE says what is missing
        problem = str(exc)
    return DashboardSetup(target, built, problem)


def streamlit_command(port: int, app: Path = APP, address: str = LOOPBACK) -> list[str]:
    """The ``streamlit run`` command line of the app.

    Args:
        port: Port to serve on.
        app: The entry script.
        address: Address to listen on (loopback unless told otherwise).

    Returns:
        The argv.

    Raises:
        ConfigError: The port is out of range.

    >>> streamlit_command(8501)[5:9]
    ['--server.port', '8501', '--server.address', '127.0.0.1']
    """
    if not 0 < port < 65536:
        raise ConfigError(f"--port {port}: must be in 1..65535")
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(port),
        "--server.address",
        address,
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

    Raises:
        Nothing: only paths are resolved; whether they exist is the app's check.
    """
    env = dict(os.environ if base is None else base)
    env[ENV_WAREHOUSE] = str(Path(warehouse).resolve())
    env[ENV_CELL] = str(Path(cell).resolve())
    return env
