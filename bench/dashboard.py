"""Each dashboard page's render time on the 30-day demo warehouse (target: under 2 s per page).

Uses ``data/twin.duckdb`` when it exists (``twin demo`` builds it), else builds the demo into a temporary
folder first (``twin.api.demo``: generate, ingest, render, replay, scenarios, report; a few minutes).
Each page is rendered with Streamlit's AppTest (the script run, no browser) on the whole data period:

- cold: the app's caches cleared first (every query of the page runs);
- warm: rendered again (cached queries: what a user sees when coming back to a page).

The first run of the app in the process (imports of streamlit, plotly, scipy) is timed apart. Times are
printed, not asserted.

    python bench/dashboard.py [--warehouse data/twin.duckdb] [--days 30] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "apps" / "dashboard.py"
PAGES = {
    "Overview": "views/overview.py",
    "Cell & replay": "views/cell_replay.py",
    "Quality": "views/quality.py",
    "Cost": "views/cost.py",
    "Carbon": "views/carbon.py",
    "Scenarios": "views/scenarios.py",
}
TARGET_S = 2.0


def build_demo(folder: Path, days: int) -> Path:
    warehouse = folder / "twin.duckdb"
    print(f"building the {days}-day demo warehouse in {folder} (twin demo) ...", file=sys.stderr)
    start = time.perf_counter()
    from twin.api import demo

    demo(warehouse, days=days, out=folder)
    print(f"built in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return warehouse


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", default=None, help="a warehouse (default data/twin.duckdb, else build the demo)")
    parser.add_argument("--days", type=int, default=30, help="days of the demo built when there is no warehouse")
    parser.add_argument("--repeat", type=int, default=3, help="renders per page and mode (median printed)")
    parser.add_argument("--keep", default=None, help="build the demo in this folder and keep it")
    args = parser.parse_args()

    if args.warehouse:
        warehouse = Path(args.warehouse)
    elif (REPO / "data" / "twin.duckdb").is_file():
        warehouse = REPO / "data" / "twin.duckdb"
    else:
        folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="twin-bench-dashboard-"))
        folder.mkdir(parents=True, exist_ok=True)
        warehouse = folder / "twin.duckdb"
        if not warehouse.is_file():
            warehouse = build_demo(folder, args.days)

    from twin import api
    from twin.api.read.status import cell_summary, warehouse_status
    from twin.paths import DEFAULT_CELL

    api.store_cell_plan(warehouse, DEFAULT_CELL)  # OEE's ideal cycle times (a no-op when it is stored)
    cell = cell_summary()
    status = warehouse_status(warehouse, cell.timezone)
    print(f"warehouse {warehouse}: {status.first_day} .. {status.last_day}, rows {status.rows}")

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["TWIN_WAREHOUSE"] = str(warehouse)
    at = AppTest.from_file(str(APP), default_timeout=600)
    start = time.perf_counter()
    at.run()
    first = time.perf_counter() - start
    if at.exception:
        print(at.exception[0].value, file=sys.stderr)
        return 1
    print(f"first run of the app in this process (imports + Overview, cold): {first:.2f} s\n")

    print(f"{'page':<16}{'cold (s)':>10}{'warm (s)':>10}   target {TARGET_S:.0f} s")
    worst = 0.0
    for name, path in PAGES.items():
        cold, warm = [], []
        for _ in range(args.repeat):
            st.cache_data.clear()
            st.cache_resource.clear()
            at.switch_page(path)
            t = time.perf_counter()
            at.run()
            cold.append(time.perf_counter() - t)
            t = time.perf_counter()
            at.run()
            warm.append(time.perf_counter() - t)
            problems = [e.value for e in (*at.exception, *at.error)]
            if problems:
                print(f"{name}: {problems[0]}", file=sys.stderr)
                return 1
        c, w = statistics.median(cold), statistics.median(warm)
        worst = max(worst, c)
        print(f"{name:<16}{c:>10.2f}{w:>10.2f}   {'ok' if c <= TARGET_S else 'SLOW'}")
    print(f"\nslowest page (cold): {worst:.2f} s; target {TARGET_S:.0f} s: {'met' if worst <= TARGET_S else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
