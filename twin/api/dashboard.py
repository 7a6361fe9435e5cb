"""What the dashboard needs before its app starts: a warehouse with the cells' plans, the app's command line.

The app (``apps/dashboard.py``) only reads the warehouse's published snapshot, so ``twin ingest`` or a
what-if may write meanwhile; it never plans, so the plan is stored here, in a process where physics is
allowed.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from twin.api.demos import demo
from twin.api.plan import store_cell_plan
from twin.cell.load import load_cell
from twin.errors import ConfigError, TwinError
from twin.paths import PROJECT_DIR, data_dir
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
        plan_problem: Why a cell's plan could not be stored (the pages then say OEE is missing), or None.
        app: The Streamlit entry script.
    """

    warehouse: Path
    built_demo: bool
    plan_problem: str | None
    app: Path = APP


def prepare_dashboard(warehouse: str | Path, cells: Sequence[str | Path], *, build_demo: bool = True) -> DashboardSetup:
    """Build the demo when there is no warehouse, then store each cell's plan in it.

    Args:
        warehouse: The warehouse file.
        cells: The cell YAML files the pages offer (a picker when there are several).
        build_demo: Build the demo warehouse when none exists, of every cell into the one warehouse (else the
            pages say what to run).

    Returns:
        What was done.

    Raises:
        ConfigError: The app is not there (not a source checkout), no cell is given, or a cell file is invalid
            or repeated.
        TwinError: The demo failed.
    """
    if not APP.is_file():
        raise ConfigError(f"{APP}: the dashboard app is not there (run from a source checkout of celltwin)")
    if not cells:
        raise ConfigError("the dashboard needs at least one cell file")
    specs = [load_cell(cell) for cell in cells]
    ids = [spec.cell.id for spec in specs]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ConfigError(f"--cell: cell {', '.join(repeated)} is given more than once (one file per cell)")
    target = Path(warehouse)
    built = False
    if build_demo and not warehouse_exists(target):
        for i, spec in enumerate(specs):  # one folder of generated files per cell: their names would collide
            out = None if i == 0 else data_dir() / "demo-cells" / spec.cell.id
            demo(target, cell=spec, out=out, progress=sys.stderr.isatty())
        built = True
    problems = []
    for spec in specs:
        try:
            plan = store_cell_plan(target, spec)
            log.info("plan %s of cell %s stored in %s", plan.content_hash[:12], plan.cell_id, target)
        except TwinError as exc:  # the pages still work; OEE says what is missing
            problems.append(f"cell {spec.cell.id}: {exc}")
    return DashboardSetup(target, built, "; ".join(problems) or None)


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
        "--client.toolbarMode",  # a viewer's menu: no "Deploy" button on a factory's dashboard
        "viewer",
    ]


def app_environment(warehouse: Path, cells: Sequence[str | Path], base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the app process: the warehouse and the cells, absolute.

    Args:
        warehouse: The warehouse file.
        cells: The cell YAML files (``$TWIN_CELL`` holds them separated by ``os.pathsep``).
        base: Environment to extend (default: this process's).

    Returns:
        The environment.

    Raises:
        Nothing: only paths are resolved; whether they exist is the app's check.
    """
    env = dict(os.environ if base is None else base)
    env[ENV_WAREHOUSE] = str(Path(warehouse).resolve())
    env[ENV_CELL] = os.pathsep.join(str(Path(cell).resolve()) for cell in cells)
    return env
