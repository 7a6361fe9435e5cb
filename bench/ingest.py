"""Benchmark: ingest with validation vs. a bare DuckDB ``CREATE TABLE AS SELECT * FROM read_parquet``.

Builds 10 million joint-state rows of robot R1 (9 movable joints, smooth trajectories with sensor noise,
125 Hz, electrical power, program step) as one Parquet file in a temporary folder, then, alternating
``--repeat`` times, times

* ours: ``twin.warehouse.load.ingest_paths`` into a fresh warehouse, the code path of ``twin ingest``
  (content hash, validation of every row, duplicate checks, load, checkpoint and read-snapshot
  publish); the marts build that ``twin ingest`` runs afterwards is timed apart (it is the analytics'
  cost, and grows with the marts other modules add);
* bare: ``create table t as select * from read_parquet(...)`` into a fresh DuckDB file (closed, so
  checkpointed).

The best time of each is reported (the machine is shared; the minimum is the least disturbed run).
The last line is ``ratio: X.XX`` = ours rows/s / bare rows/s (target >= 0.5).

Usage: ``python bench/ingest.py [--rows N] [--repeat K] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

LOWER = [-2.9671, -1.8326, -2.9671, -3.1416, -2.9671, -0.0873, -2.9671, 0.0, 0.0]
UPPER = [2.9671, 1.8326, 2.9671, 0.0, 2.9671, 3.8223, 2.9671, 0.04, 0.04]
STEPS = ["pick_bracket", "place_bracket", "pick_panel", "place_panel", "home"]


def build_file(path: Path, rows: int, seed: int = 7) -> None:
    """Write ``rows`` joint states of R1 at 125 Hz to one Parquet file."""
    rng = np.random.default_rng(seed)
    chunk = 1_000_000
    start_us = 1_793_516_400_000_000  # 2026-11-01T07:00:00Z
    schema = pa.schema(
        [("ts", pa.timestamp("us", tz="UTC")), ("robot_id", pa.dictionary(pa.int8(), pa.string()))]
        + [(f"q_{k}", pa.float64()) for k in range(1, 10)]
        + [("power_w", pa.float64()), ("program_step", pa.dictionary(pa.int8(), pa.string()))]
    )
    robot = pa.array(["R1"])
    steps = pa.array(STEPS)
    with pq.ParquetWriter(path, schema) as writer:
        for offset in range(0, rows, chunk):
            n = min(chunk, rows - offset)
            i = np.arange(offset, offset + n, dtype=np.int64)
            t = i * 0.008
            columns = {
                "ts": pa.array(start_us + i * 8000, pa.timestamp("us", tz="UTC")),
                "robot_id": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int8)), robot),
            }
            for k in range(9):
                mid, amp = (LOWER[k] + UPPER[k]) / 2, (UPPER[k] - LOWER[k]) * 0.4
                q = mid + amp * np.sin(t * (0.21 + 0.03 * k) + k) + rng.normal(0.0, 2e-4, n)
                columns[f"q_{k + 1}"] = pa.array(q)
            columns["power_w"] = pa.array(95.0 + 180.0 * np.abs(np.sin(t * 0.4)) + rng.normal(0.0, 3.0, n))
            step = ((t // 6.0).astype(np.int64) % len(STEPS)).astype(np.int8)
            columns["program_step"] = pa.DictionaryArray.from_arrays(pa.array(step), steps)
            writer.write_table(pa.table(columns, schema=schema), row_group_size=122_880)


def time_ours(parquet: Path, folder: Path) -> tuple[float, float, int]:
    from twin.warehouse.load import ingest_paths

    warehouse = folder / "twin.duckdb"
    for leftover in folder.glob("twin*"):
        leftover.unlink()
    start, cpu = time.perf_counter(), time.process_time()
    report = ingest_paths([parquet], warehouse, build=False)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    result = report.files[0]
    if result.status != "ingested" or result.accepted != result.rows:
        raise SystemExit(f"ingest did not accept every row: {result}")
    return elapsed, cpu, result.accepted


def time_build(folder: Path) -> float:
    from twin.warehouse.build import build
    from twin.warehouse.connection import write_connection

    with write_connection(folder / "twin.duckdb") as con:
        start = time.perf_counter()
        build(con)
        return time.perf_counter() - start


def time_bare(parquet: Path, folder: Path) -> tuple[float, float, int]:
    import duckdb

    target = folder / "bare.duckdb"
    for leftover in folder.glob("bare*"):
        leftover.unlink()
    start, cpu = time.perf_counter(), time.process_time()
    con = duckdb.connect(str(target))
    con.execute(f"create table t as select * from read_parquet('{parquet}')")
    con.close()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    con = duckdb.connect(str(target), read_only=True)
    n = con.execute("select count(*) from t").fetchall()[0][0]
    con.close()
    return elapsed, cpu, n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temp folder)")
    args = parser.parse_args(argv)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="twin-bench-ingest-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        parquet = folder / "joint_states-bench.parquet"
        start = time.perf_counter()
        build_file(parquet, args.rows)
        size_mb = parquet.stat().st_size / 1e6
        print(f"built {args.rows:,} joint-state rows ({size_mb:.0f} MB Parquet) in {time.perf_counter() - start:.1f} s")
        parquet.read_bytes()  # warm the page cache for both contenders
        import twin.warehouse.load  # noqa: F401  (imports are not part of either timing)

        ours, bare, ours_cpu, bare_cpu = [], [], [], []
        for round_ in range(args.repeat):
            t_bare, c_bare, n_bare = time_bare(parquet, folder)
            t_ours, c_ours, n_ours = time_ours(parquet, folder)
            ours.append(t_ours)
            bare.append(t_bare)
            ours_cpu.append(c_ours)
            bare_cpu.append(c_bare)
            print(
                f"round {round_ + 1}: ours {t_ours:.2f} s (cpu {c_ours:.2f} s, {n_ours:,} rows), "
                f"bare {t_bare:.2f} s (cpu {c_bare:.2f} s, {n_bare:,} rows)"
            )
            sys.stdout.flush()
        best_ours, best_bare = min(ours), min(bare)
        ours_rate, bare_rate = args.rows / best_ours, args.rows / best_bare
        print(f"marts build after the ingest (not in the ratio): {time_build(folder):.2f} s")
        print(f"cpu-time ratio (bare cpu / ours cpu, best of each): {min(bare_cpu) / min(ours_cpu):.2f}")
        print(f"ours (hash + validate + load + publish): {ours_rate:,.0f} rows/s (best {best_ours:.2f} s)")
        print(f"bare duckdb read_parquet -> table:       {bare_rate:,.0f} rows/s (best {best_bare:.2f} s)")
        print(f"ratio: {ours_rate / bare_rate:.2f}")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
