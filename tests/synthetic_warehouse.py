"""Fast synthetic warehouse data for benchmarks and tests (numpy + DuckDB, no physics, no ingest).

A test-data writer, so it lives with the tests, not in the library.

:func:`write_raw` puts a frame shaped like a telemetry stream into its ``raw_<stream>`` table (the
columns ingest adds are filled with nulls), so tests can hand-build tiny warehouses and run the
warehouse's real build (:func:`build`). :func:`write_synthetic` fills every raw table at once with
rows shaped like the telemetry contract (``source = 'measured'``): units paced through the cell's shift
calendar, a cycle per station, a few faults, screw torques plus gap and flush per unit with first-pass
failures and rework, 15-minute energy registers per meter with one reset, hourly grid intensity, and
optionally joint states. It is a load generator, not a model of the cell: use ``twin generate`` for
realistic telemetry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import numpy as np
import polars as pl

from twin.analytics.period import Period, local_midnight
from twin.cell.calendar import planned_windows
from twin.cell.spec import CellSpec

US = 1_000_000
STATION_TIMES_S: dict[str, float] = {"printers": 520.0, "R1": 11.0, "R2": 34.0, "vision": 6.0, "outfeed_belt": 4.0}


@dataclass(frozen=True)
class SyntheticSummary:
    """Rows written per table and the period covered."""

    rows: dict[str, int]
    period: Period
    units: int


STREAMS: tuple[str, ...] = ("events", "quality", "energy", "grid_intensity", "joint_states")


def ensure_raw_tables(conn: Any, cell: CellSpec | None = None) -> None:
    """Create the warehouse's ingest tables (``raw_<stream>``, ``ingest_files``, ...) as ingest would.

    Args:
        conn: A writable DuckDB connection.
        cell: The cell whose joint count sizes ``raw_joint_states``; the sample cell when None.
    """
    from twin.cell.load import load_cell
    from twin.telemetry.validate import ValidationContext
    from twin.warehouse.load import ensure_schema, table_columns

    ensure_schema(conn, ValidationContext.from_cell(cell if cell is not None else load_cell()))
    if "register_max_kwh" not in table_columns(conn, "raw_energy"):
        conn.execute("alter table raw_energy add column register_max_kwh double").fetchall()


def write_raw(conn: Any, stream: str, frame: pl.DataFrame, cell: CellSpec | None = None) -> int:
    """Append rows of a telemetry stream to ``raw_<stream>``, bypassing ingest (tests and benchmarks).

    Args:
        conn: A writable DuckDB connection.
        stream: ``events``, ``quality``, ``energy``, ``grid_intensity`` or ``joint_states``.
        frame: Rows with (some of) the stream's columns and an aware UTC ``ts``; ``source`` defaults to
            ``measured``, ``cell_id`` to the cell's; missing optional columns are null.
        cell: The cell (its id, and the raw tables' joint columns); the sample cell when None.

    Returns:
        Rows written.
    """
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; valid: {', '.join(STREAMS)}")
    from twin.cell.load import load_cell

    cell = cell if cell is not None else load_cell()
    ensure_raw_tables(conn, cell)
    if "source" not in frame.columns:
        frame = frame.with_columns(pl.lit("measured").alias("source"))
    if "cell_id" not in frame.columns:
        frame = frame.with_columns(pl.lit(cell.cell.id).alias("cell_id"))
    if frame.is_empty():
        return 0
    conn.register("_synthetic_frame", frame.to_arrow())
    try:
        conn.execute(f"insert into raw_{stream} by name select * from _synthetic_frame").fetchall()
    finally:
        conn.unregister("_synthetic_frame")
    return frame.height


def build(conn: Any) -> list[str]:
    """Run the warehouse's build (staging views and every mart, contracts checked) on the raw tables.

    Args:
        conn: A writable DuckDB connection with every ``raw_<stream>`` table.

    Returns:
        The models built.
    """
    from twin.warehouse.build import build as build_models

    return build_models(conn)


def _ts(us: np.ndarray) -> pl.Series:
    return pl.Series("ts", us.astype(np.int64)).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def write_synthetic(
    conn: Any,
    cell: CellSpec,
    start: date,
    days: int,
    seed: int = 7,
    joint_state_rows: int = 0,
    pace_s: float = 36.0,
) -> SyntheticSummary:
    """Write synthetic raw tables (every stream; joint states only when asked).

    Args:
        conn: A writable DuckDB connection.
        cell: The cell (calendar, variants, robots, stations, quality limits).
        start: First local day.
        days: Number of days.
        seed: Random seed (one generator for everything).
        joint_state_rows: Rows of ``stg_joint_states`` to write (0: none).
        pace_s: Mean time between unit starts inside planned time.

    Returns:
        Rows written per table.
    """
    rng = np.random.default_rng(seed)
    tz = cell.cell.timezone
    period = Period(local_midnight(start, tz), local_midnight(start + timedelta(days=days), tz), tz)
    windows = planned_windows(cell.shifts, period)
    w0 = windows["start_at"].dt.epoch("us").to_numpy()
    w1 = windows["end_at"].dt.epoch("us").to_numpy()
    starts = []
    for a, b in zip(w0, w1, strict=True):
        n = int((b - a) / (pace_s * US))
        if n > 1:
            starts.append(a + np.arange(n - 1, dtype=np.int64) * int(pace_s * US))
    unit_start = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
    n_units = unit_start.size
    variants = list(cell.variants)
    shares = np.array([cell.variants[v].mix_share for v in variants])
    variant_idx = rng.choice(len(variants), size=n_units, p=shares / shares.sum())
    unit_ids = np.char.add("U", np.char.zfill(np.arange(1, n_units + 1).astype(str), 8))
    variant_arr = np.array(variants)[variant_idx]

    # events: a cycle per station, in sequence after the print
    ev_ts, ev_station, ev_event, ev_unit, ev_variant = [], [], [], [], []
    t = unit_start - int(STATION_TIMES_S["printers"] * US) - int(60 * US)
    for station, duration in STATION_TIMES_S.items():
        d = (duration * (1 + 0.02 * rng.standard_normal(n_units)) * US).astype(np.int64)
        if station == "R1":
            t = unit_start.copy()
        ev_ts += [t, t + d]
        ev_station += [np.full(n_units, station)] * 2
        ev_event += [np.full(n_units, "cycle_start"), np.full(n_units, "cycle_end")]
        ev_unit += [unit_ids, unit_ids]
        ev_variant += [variant_arr, variant_arr]
        t = t + d
    n_faults = max(1, days * 2)
    f_at = rng.choice(unit_start, size=min(n_faults, max(n_units, 1))) if n_units else np.zeros(0, dtype=np.int64)
    f_len = (rng.lognormal(np.log(360.0), 0.5, f_at.size) * US).astype(np.int64)
    f_station = rng.choice(["R1", "R2", "vision"], size=f_at.size)
    ev_ts += [f_at, f_at + f_len]
    ev_station += [f_station, f_station]
    ev_event += [np.full(f_at.size, "fault_start"), np.full(f_at.size, "fault_end")]
    ev_unit += [np.full(f_at.size, None)] * 2
    ev_variant += [np.full(f_at.size, None)] * 2
    events = pl.DataFrame(
        {
            "source": "measured",
            "ts": _ts(np.concatenate(ev_ts)),
            "station_id": np.concatenate(ev_station).astype(str),
            "event": np.concatenate(ev_event).astype(str),
            "unit_id": pl.Series(np.concatenate(ev_unit).tolist(), dtype=pl.String),
            "variant": pl.Series(np.concatenate(ev_variant).tolist(), dtype=pl.String),
            "code": pl.Series([None] * sum(a.size for a in ev_ts), dtype=pl.String),
        }
    )

    # quality: screw torques per unit, gap and flush at inspection, rework re-inspection of some failures
    q = SimpleNamespace(**cell.quality.characteristics, rework_share_of_failed=cell.quality.rework_share_of_failed)
    screws = np.array([cell.variants[v].qty("screws") for v in variants])[variant_idx]
    unit_of_screw = np.repeat(np.arange(n_units), screws)
    screw_no = np.concatenate([np.arange(1, s + 1) for s in screws]) if n_units else np.zeros(0, dtype=int)
    torque = q.screw_torque_nm.target - 0.1 + 0.06 * rng.standard_normal(unit_of_screw.size)
    insp_at = unit_start + int((STATION_TIMES_S["R1"] + STATION_TIMES_S["R2"] + 3) * US)
    gap = q.gap_mm.target + 0.13 * rng.standard_normal(n_units)
    flush = q.flush_mm.target + 0.09 * rng.standard_normal(n_units)
    failed_unit = np.zeros(n_units, dtype=bool)
    np.logical_or.at(failed_unit, unit_of_screw, (torque < q.screw_torque_nm.lsl) | (torque > q.screw_torque_nm.usl))
    failed_unit |= (gap < q.gap_mm.lsl) | (gap > q.gap_mm.usl) | (flush < q.flush_mm.lsl) | (flush > q.flush_mm.usl)
    rework = failed_unit & (rng.random(n_units) < q.rework_share_of_failed)
    rw_idx = np.flatnonzero(rework)
    rw_at = insp_at[rw_idx] + int(3600 * US)
    chars = [
        (unit_of_screw, insp_at[unit_of_screw] - int(3 * US),
         np.char.add(np.char.add("screw_", screw_no.astype(str)), "_torque_nm"), torque, q.screw_torque_nm),
        (np.arange(n_units), insp_at, np.full(n_units, "gap_mm"), gap, q.gap_mm),
        (np.arange(n_units), insp_at, np.full(n_units, "flush_mm"), flush, q.flush_mm),
        (rw_idx, rw_at, np.full(rw_idx.size, "gap_mm"), np.full(rw_idx.size, q.gap_mm.target), q.gap_mm),
        (rw_idx, rw_at, np.full(rw_idx.size, "flush_mm"), np.full(rw_idx.size, q.flush_mm.target), q.flush_mm),
    ]  # fmt: skip
    quality = pl.concat(
        [
            pl.DataFrame(
                {
                    "source": "measured",
                    "ts": _ts(at),
                    "unit_id": unit_ids[idx] if idx.size else np.zeros(0, dtype=str),
                    "station_id": "vision",
                    "characteristic": name.astype(str),
                    "value": np.round(value, 4),
                    "lsl": float(spec.lsl),
                    "usl": float(spec.usl),
                    "defect_code": pl.Series([None] * idx.size, dtype=pl.String),
                }
            )
            for idx, at, name, value, spec in chars
        ]
    )

    # energy: 15-minute registers of every meter, one reset; hourly grid intensity
    meters = [*cell.robots, *cell.stations, "cell_aux"]
    reading_us = period.start.timestamp() * US + np.arange(1, int(days * 96) + 1, dtype=np.int64) * 900 * US
    frames = []
    for i, meter in enumerate(meters):
        kwh = 1000.0 + np.cumsum(rng.uniform(0.01, 0.2, reading_us.size))
        if i == 0 and reading_us.size > 10:
            cut = reading_us.size // 2
            kwh[cut:] = kwh[cut:] - kwh[cut - 1] + 0.05
        frames.append(
            pl.DataFrame({"source": "measured", "ts": _ts(reading_us.astype(np.int64)), "meter_id": meter,
                          "energy_kwh": np.round(kwh, 4),
                          "power_w": pl.Series([None] * reading_us.size, dtype=pl.Float64)})
        )  # fmt: skip
    energy = pl.concat(frames)
    hours_us = (period.start.timestamp() * US + np.arange(int(days * 24) + 2) * 3600 * US).astype(np.int64)
    grid = pl.DataFrame(
        {
            "source": "measured",
            "ts": _ts(hours_us),
            "region": cell.carbon.grid_region,
            "gco2e_per_kwh": np.round(350 + 60 * np.sin(np.arange(hours_us.size) / 24 * 2 * np.pi), 2),
            "interval_min": pl.Series([60] * hours_us.size, dtype=pl.Int64),
        }
    )
    rows = {
        "raw_events": write_raw(conn, "events", events, cell),
        "raw_quality": write_raw(conn, "quality", quality, cell),
        "raw_energy": write_raw(conn, "energy", energy, cell),
        "raw_grid_intensity": write_raw(conn, "grid_intensity", grid, cell),
        "raw_joint_states": write_joint_states(conn, period, joint_state_rows, list(cell.robots), cell.cell.id),
    }
    return SyntheticSummary(rows=rows, period=period, units=int(n_units))


def write_joint_states(conn: Any, period: Period, n_rows: int, robots: list[str], cell_id: str) -> int:
    """Append ``n_rows`` rows at 125 Hz to ``raw_joint_states`` (call :func:`ensure_raw_tables` first).

    Args:
        conn: A writable DuckDB connection.
        period: Rows are laid out from the period's start.
        n_rows: Number of rows.
        robots: Robot ids (rows alternate between them in blocks).
        cell_id: Their cell.

    Returns:
        Rows written.
    """
    if n_rows <= 0:
        return 0
    steps = ["pick_panel", "place_panel", "pick_bracket", "place_bracket", "screw_1", "transfer_to_inspection"]
    start_us = int(period.start.timestamp() * US) + 6 * 3600 * US
    conn.execute(
        f"""
        insert into raw_joint_states by name
        select
            'measured' as source,
            $cell as cell_id,
            make_timestamp({start_us}::bigint + (i // 2) * 8000 + (i % 2) * 3) at time zone 'UTC' as ts,
            (['{"','".join(robots)}'])[1 + (i % {len(robots)})] as robot_id,
            sin(i / 1000.0) as q_1, cos(i / 900.0) as q_2, sin(i / 800.0) as q_3, cos(i / 700.0) as q_4,
            sin(i / 600.0) as q_5, cos(i / 500.0) as q_6, sin(i / 400.0) as q_7,
            150 + 80 * sin(i / 250.0) as power_w,
            (['{"','".join(steps)}'])[1 + ((i // 2000) % {len(steps)})] as program_step
        from range({int(n_rows)}) t(i)
        """,
        {"cell": cell_id},
    ).fetchall()
    return int(n_rows)
