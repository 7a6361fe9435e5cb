"""Time every KPI query on a year of events and 10 million joint-state rows (target: under a second each).

Builds a temporary DuckDB warehouse with synthetic raw tables (tests/synthetic_warehouse.py: numpy and
DuckDB, no physics), runs the warehouse's build (staging views, every mart), then times each query a
command runs, on the file opened read-only as the commands do. Times are printed, not asserted.

    python bench/analytics.py [--days 365] [--joint-rows 10000000] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from twin.analytics import figures, quality, store
from twin.analytics.frames import roles
from twin.analytics.period import Period, local_midnight
from twin.cell.load import load_cell
from twin.report.tables import capability_table, control_charts

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test-data writer lives with the tests
from synthetic_warehouse import build, write_synthetic  # noqa: E402

TARGET_S = 1.0
IDEAL = {"B4-PLA": 25.512, "B6-RPLA": 32.536, "B8-ALU": 39.648}


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--joint-rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", default=None, help="build the warehouse in this folder and keep it")
    args = parser.parse_args()

    cell = load_cell()
    tz = cell.cell.timezone
    start = date(2026, 1, 5)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="twin-bench-analytics-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bench.duckdb"
    path.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(path))
        con.execute("set TimeZone = 'UTC'").fetchall()
        t = time.perf_counter()
        summary = write_synthetic(con, cell, start, args.days, joint_state_rows=args.joint_rows)
        t_data = time.perf_counter() - t
        t = time.perf_counter()
        models = build(con)
        t_marts = time.perf_counter() - t
        marts = {m: con.execute(f"select count(*) from {m}").fetchall()[0][0] for m in models if m.startswith("mart_")}
        con.execute("checkpoint").fetchall()
        con.close()
        print(f"synthetic warehouse {path} ({path.stat().st_size / 1e6:.0f} MB), {summary.units:,} units:")
        for table, n in {**summary.rows, **marts}.items():
            print(f"  {table:<22}{n:>12,} rows")
        print(
            f"  data {t_data:.1f} s; warehouse build (staging views, marts, contracts) {t_marts:.1f} s, once per ingest"
        )

        year = Period(local_midnight(start, tz), local_midnight(start + timedelta(days=args.days), tz), tz)
        month = Period(
            local_midnight(start + timedelta(days=150), tz), local_midnight(start + timedelta(days=180), tz), tz
        )
        con = duckdb.connect(str(path), read_only=True)
        con.execute("set TimeZone = 'UTC'").fetchall()
        families = ["screw_torque_nm", "gap_mm", "flush_mm"]
        cell_roles = roles(cell)
        selected = store.Rows(cell.cell.id)
        rows: list[tuple[str, str, float]] = []

        for label, period in (("year", year), ("month", month)):

            def load(period: Period = period) -> Any:
                return store.load_period(con, period, cell_roles, selected, region=cell.carbon.grid_region)

            t_load, data = timed(load, args.repeat)
            t_prep, prepared = timed(lambda data=data: figures.prepare(cell, data), args.repeat)
            t_oee, oee = timed(lambda p=prepared: figures.oee_of(p, IDEAL), args.repeat)
            t_cost, _ = timed(lambda p=prepared, o=oee: figures.cost_of(p, o["run_time_s"]), args.repeat)
            t_carbon, _ = timed(lambda p=prepared: figures.carbon_of(p), args.repeat)
            base = t_load + t_prep
            rows += [
                (label, "load period (5 mart queries)", t_load),
                (label, "prepare (units, calendar, energy split)", t_prep),
                (label, "twin oee (load + prepare + OEE)", base + t_oee),
                (label, "twin cost (load + prepare + OEE run time + cost)", base + t_oee + t_cost),
                (label, "twin carbon (load + prepare + carbon)", base + t_carbon),
            ]
            t_meas, meas = timed(
                lambda period=period: store.load_measurements(con, period, families, selected), args.repeat
            )
            rows.append((label, f"quality measurements ({meas.height:,} rows)", t_meas))
            t_fpy, _ = timed(lambda p=prepared: quality.first_pass_yield(p.units), args.repeat)
            t_def, defects = timed(
                lambda p=prepared, period=period: store.load_defects(con, period, p.data.units, selected), args.repeat
            )
            t_par, _ = timed(lambda p=prepared, d=defects: quality.defect_pareto(d, p.units), args.repeat)
            t_week, _ = timed(
                lambda p=prepared, o=oee: quality.weekly_trends(p.units, tz, p.split.hourly, o["by_day"]), args.repeat
            )
            rows += [
                (label, "first-pass yield", base + t_fpy),
                (label, f"defect Pareto (+ {defects.height:,} nonconforming rows)", base + t_def + t_par),
                (label, "weekly trends", base + t_week),
            ]
            t_rc, robot_cycles = timed(
                lambda period=period: store.load_robot_cycles(con, period, list(cell.robots), selected), args.repeat
            )
            with_meas = dataclasses.replace(
                prepared, data=prepared.data.replace(measurements=meas, robot_cycles=robot_cycles)
            )
            t_set, _ = timed(
                lambda p=with_meas: quality.settings_change(p.data.robot_cycles, p.data.measurements, p.units),
                args.repeat,
            )
            t_spc, _ = timed(lambda p=with_meas: control_charts(p), args.repeat)
            t_cap, _ = timed(lambda p=with_meas: capability_table(p), args.repeat)
            rows += [
                (label, "settings change (+ measurements, robot cycles)", base + t_meas + t_rc + t_set),
                (label, "control charts (+ measurements)", base + t_meas + t_spc),
                (label, "capability (+ measurements)", base + t_meas + t_cap),
            ]
            t_js, js = timed(lambda period=period: store.robot_energy_by_step(con, period, selected), args.repeat)
            n_js = int(js["n_samples"].sum())
            rows.append((label, f"robot energy by step (mart of {n_js:,} joint-state samples)", t_js))
        con.close()

        print(f"\nmedian of {args.repeat} runs; target < {TARGET_S:.1f} s per query")
        print(f"{'period':<7}{'query':<62}{'seconds':>9}  ")
        slow = 0
        for label, name, seconds in rows:
            flag = "" if seconds < TARGET_S else "  over target"
            slow += seconds >= TARGET_S
            print(f"{label:<7}{name:<62}{seconds:>9.3f}{flag}")
        print(f"\n{len(rows) - slow} of {len(rows)} under {TARGET_S:.1f} s")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
