"""A simulated run as telemetry: ``events`` and ``energy`` frames in the contract's schema.

Rows carry ``source = simulated:<scenario>`` so the warehouse, the analytics and the dashboard treat a
what-if like measured data while fits and error figures keep to measured rows. Timestamps are UTC
(``Datetime("us", "UTC")``); energy is one cumulative register per meter (kWh, starting at 0) read every
15 minutes, as the cell's meters report it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from twin.sim.kpis import energy_bins_j
from twin.sim.plan import BIN_S, SimInputs
from twin.sim.record import ReplicationRecord
from twin.telemetry.schema import SIMULATED_PREFIX

US = 1_000_000
EVENTS_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "station_id": pl.String(),
    "event": pl.String(),
    "unit_id": pl.String(),
    "variant": pl.String(),
    "code": pl.String(),
    "source": pl.String(),
}
ENERGY_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "meter_id": pl.String(),
    "energy_kwh": pl.Float64(),
    "source": pl.String(),
}


def source_of(scenario_id: str) -> str:
    """The ``source`` value of a scenario's rows.

    >>> source_of("baseline-v1")
    'simulated:baseline-v1'
    """
    return f"{SIMULATED_PREFIX}{scenario_id}"


def events_frame(inputs: SimInputs, record: ReplicationRecord) -> pl.DataFrame:
    """The run's events (cycles, faults, setups) inside the horizon, sorted by time and station."""
    if record.events is None:
        raise ValueError("the replication ran without record=True; it kept no events")
    end_us = int(round((inputs.calendar.t0_epoch_s + inputs.horizon_s) * US))
    data = dict(record.events)
    frame = pl.DataFrame(
        {
            "ts": pl.Series(data["ts_us"], dtype=pl.Int64),
            "station_id": pl.Series(data["station_id"], dtype=pl.String),
            "event": pl.Series(data["event"], dtype=pl.String),
            "unit_id": pl.Series(data["unit_id"], dtype=pl.String),
            "variant": pl.Series(data["variant"], dtype=pl.String),
            "code": pl.Series(data["code"], dtype=pl.String),
        }
    )
    return (
        frame.filter(pl.col("ts") < end_us)
        .sort("ts", "station_id", "event", "unit_id", maintain_order=True)
        .with_columns(
            pl.from_epoch(pl.col("ts"), time_unit="us").dt.replace_time_zone("UTC"),
            pl.lit(source_of(inputs.scenario_id)).alias("source"),
        )
        .select(list(EVENTS_SCHEMA))
    )


def energy_frame(inputs: SimInputs, record: ReplicationRecord) -> pl.DataFrame:
    """Cumulative kWh registers per meter at the end of every 15-minute interval."""
    bins = energy_bins_j(inputs, record)
    n = inputs.n_bins
    ends = np.minimum((np.arange(1, n + 1) * BIN_S), inputs.horizon_s) + inputs.calendar.t0_epoch_s
    ts = np.round(ends * US).astype(np.int64)
    frames = [
        pl.DataFrame({"ts": ts, "meter_id": meter, "energy_kwh": np.round(np.cumsum(bins[meter]) / 3.6e6, 6)})
        for meter in inputs.meters
    ]
    return (
        pl.concat(frames)
        .with_columns(
            pl.from_epoch(pl.col("ts"), time_unit="us").dt.replace_time_zone("UTC"),
            pl.lit(source_of(inputs.scenario_id)).alias("source"),
        )
        .select(list(ENERGY_SCHEMA))
    )


def simulated_frames(inputs: SimInputs, seed: int, replication: int = 0) -> dict[str, pl.DataFrame]:
    """Run one replication with events recorded; its ``events`` and ``energy`` telemetry frames.

    Args:
        inputs: Prepared inputs (:func:`twin.sim.runner.prepare`).
        seed: The scenario seed.
        replication: Which replication (0-based).

    Returns:
        ``{"events": ..., "energy": ...}`` in :data:`EVENTS_SCHEMA` and :data:`ENERGY_SCHEMA`.
    """
    from twin.sim.engine import ProductionModel

    record = ProductionModel(inputs, seed, replication, record=True).run()
    return {"events": events_frame(inputs, record), "energy": energy_frame(inputs, record)}


def write_to_warehouse(
    frames: dict[str, pl.DataFrame], scenario_id: str, seed: int, warehouse: str | Path | None, out_dir: Path
) -> list[Path]:
    """Write a run's frames as telemetry files and ingest them into the warehouse (``twin ingest``'s path).

    Args:
        frames: ``{"events": ..., "energy": ...}`` from :func:`simulated_frames`.
        scenario_id: The scenario (names the files).
        seed: The seed (names the files: re-running the same scenario and seed re-ingests nothing).
        warehouse: The warehouse file (default ``data/twin.duckdb``).
        out_dir: Where the Parquet files are written.

    Returns:
        The files written and ingested.

    Raises:
        WarehouseError: The warehouse is held by another writer.
    """
    from twin.warehouse.load import ingest_paths

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for stream, frame in frames.items():
        path = out_dir / f"{stream}-simulated-{scenario_id}-seed{seed}.parquet"
        frame.write_parquet(path)
        paths.append(path)
    ingest_paths(paths, warehouse)
    return paths
