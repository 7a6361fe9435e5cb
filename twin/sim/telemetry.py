"""A replication as telemetry: ``events``, ``energy`` and ``quality`` frames in the contract's schema.

Every row carries ``source = simulated:<scenario>`` and ``replication = r``, so the warehouse, the
analytics and the dashboard treat a what-if like measured data while fits and error figures keep to
measured rows. Timestamps are UTC (``Datetime("us", "UTC")``) and only what happened before the end of
the horizon is written. What the frames hold, as the cell's own instruments would report it:

- **events**: every cycle of every robot and station (start and end; a robot's cycle still running at
  the horizon has its start only), every fault (start and end, with the unit in work) and setup.
- **energy**: one cumulative register per meter (kWh, 0 at the start of the horizon) read every 15
  minutes: the operations' energy plus idle and standby power.
- **quality**: every screw's final torque when its unit is screwed (``screw_<k>_torque_nm``), and gap and
  flush at the end of the unit's inspection when inspection samples it; a reworked unit is inspected
  again later, in specification. Values are drawn from the defect model (normal, with the screwdriver's
  tool-wear drift) conditioned on what the model decided: a unit with a screw defect has one torque out
  of its limits, a unit with a gap or flush defect has that measurement out of its limits (seen only if
  inspected), every other value is inside. A reworked unit that inspection did not sample has its re-made
  screw torqued again after it left, in its limits, so that the disposition mart sees the rework. The
  draws come from a stream of their own, so writing telemetry changes no other random number of the
  replication.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl
from numpy.typing import NDArray

from twin.cell.spec import item_characteristic
from twin.sim.model import Draws, replication_seed
from twin.sim.plan import BIN_S, INSPECT, SimInputs
from twin.sim.record import INSPECTION_DEFECT, REWORKED, SCREW_DEFECT, ReplicationRecord
from twin.telemetry.schema import SIMULATED_PREFIX, defect_code, fault_code, service_code

US = 1_000_000
REWORK_DELAY_S = (1800.0, 7200.0)
"""A reworked unit is inspected again this long (uniform) after its first inspection."""
LINEAGE: dict[str, pl.DataType] = {"source": pl.String(), "replication": pl.Int64()}
EVENTS_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "station_id": pl.String(),
    "event": pl.String(),
    "unit_id": pl.String(),
    "variant": pl.String(),
    "code": pl.String(),
    **LINEAGE,
}
ENERGY_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "meter_id": pl.String(),
    "energy_kwh": pl.Float64(),
    **LINEAGE,
}
QUALITY_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "unit_id": pl.String(),
    "station_id": pl.String(),
    "characteristic": pl.String(),
    "value": pl.Float64(),
    "lsl": pl.Float64(),
    "usl": pl.Float64(),
    "defect_code": pl.String(),
    **LINEAGE,
}
GRID_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "region": pl.String(),
    "gco2e_per_kwh": pl.Float64(),
    "interval_min": pl.Int64(),
}
EVENT_NAMES = ("cycle_start", "cycle_end", "fault_start", "fault_end", "setup_start", "setup_end")


def source_of(scenario_id: str) -> str:
    """The ``source`` value of a scenario's rows.

    >>> source_of("baseline-v2")
    'simulated:baseline-v2'
    """
    return f"{SIMULATED_PREFIX}{scenario_id}"


def unit_ids(units: pl.Expr) -> pl.Expr:
    """Unit ids in telemetry (``U0000001`` for unit index 0) from unit indices (negative: none).

    >>> pl.select(unit_ids(pl.lit(pl.Series([0, 41, -1])))).to_series().to_list()
    ['U0000001', 'U0000042', None]
    """
    return pl.when(units >= 0).then(pl.concat_str(pl.lit("U"), (units + 1).cast(pl.String).str.zfill(7)))


def _timestamps(inputs: SimInputs, t: NDArray[np.float64]) -> pl.Series:
    """Simulation seconds -> UTC timestamps (whole microseconds, rounded half to even)."""
    us = np.round((np.asarray(t, dtype=np.float64) + inputs.calendar.t0_epoch_s) * US).astype(np.int64)
    return pl.Series("ts", us).cast(pl.Datetime("us", "UTC"))


def _lineage(inputs: SimInputs, replication: int) -> list[pl.Expr]:
    return [pl.lit(inputs.source).alias("source"), pl.lit(replication, pl.Int64).alias("replication")]


def _unit_id_list(n: int) -> list[str]:
    """The ids of units 0..n-1."""
    return pl.select(unit_ids(pl.int_range(n, dtype=pl.Int64))).to_series().to_list()


def _names(values: list[str], index: NDArray[np.int32]) -> pl.Series:
    """``values[index]`` as strings, null where ``index`` is negative (a gather: no string is built per row)."""
    series = pl.Series(values, dtype=pl.String)
    if not len(values):
        return pl.Series([None] * len(index), dtype=pl.String)
    gathered = series.gather(np.clip(index, 0, None))
    if (index < 0).any():
        gathered = pl.select(pl.when(pl.lit(pl.Series(index)) >= 0).then(gathered)).to_series()
    return gathered


def events_frame(inputs: SimInputs, record: ReplicationRecord) -> pl.DataFrame:
    """The run's events (cycles, faults, setups) before the end of the horizon."""
    stations: list[str] = list(record.cycles)
    codes: list[str] = []
    blocks: dict[str, list[NDArray]] = {"t": [], "station": [], "event": [], "unit": [], "code": []}

    def add(t: NDArray, station: NDArray | int, event: int, units: NDArray, code: NDArray | int = -1) -> None:
        n = len(t)
        blocks["t"].append(np.asarray(t, dtype=np.float64))
        blocks["station"].append(np.broadcast_to(np.asarray(station, dtype=np.int32), (n,)))
        blocks["event"].append(np.full(n, event, dtype=np.int32))
        blocks["unit"].append(np.asarray(units, dtype=np.int32))
        blocks["code"].append(np.broadcast_to(np.asarray(code, dtype=np.int32), (n,)))

    for index, (units, starts, ends) in enumerate(record.cycles.values()):
        unit = np.asarray(units, dtype=np.int32)
        add(np.asarray(starts), index, EVENT_NAMES.index("cycle_start"), unit)
        add(np.asarray(ends), index, EVENT_NAMES.index("cycle_end"), unit[: len(ends)])
    for kind, rows, units_of in (("fault", record.faults, record.fault_units), ("setup", record.setups, None)):
        if not rows:
            continue
        resources = [r for r, _, _ in rows]
        stations += [r for r in dict.fromkeys(resources) if r not in stations]
        code_names = [fault_code(r) if kind == "fault" else service_code(r) for r in resources]
        codes += [c for c in dict.fromkeys(code_names) if c not in codes]
        station_index = np.asarray([stations.index(r) for r in resources], dtype=np.int32)
        code_index = np.asarray([codes.index(c) for c in code_names], dtype=np.int32)
        unit = np.asarray(units_of if units_of is not None else [-1] * len(rows), dtype=np.int32)
        for edge, column in (("start", 1), ("end", 2)):
            t = np.asarray([row[column] for row in rows], dtype=np.float64)
            add(t, station_index, EVENT_NAMES.index(f"{kind}_{edge}"), unit, code_index)
    t = np.concatenate(blocks["t"])
    keep = np.flatnonzero(t < inputs.horizon_s)
    t = t[keep]
    station, event, unit, code = (np.concatenate(blocks[k])[keep] for k in ("station", "event", "unit", "code"))
    unit_variant = np.asarray(record.unit_variant, dtype=np.int32)
    variant = np.where(unit >= 0, unit_variant[np.clip(unit, 0, None)], -1) if len(unit_variant) else unit
    ids = _unit_id_list(len(unit_variant))
    return pl.DataFrame(
        {
            "ts": _timestamps(inputs, t),
            "station_id": _names(stations, station),
            "event": _names(list(EVENT_NAMES), event),
            "unit_id": _names(ids, unit),
            "variant": _names([v.name for v in inputs.variants], variant),
            "code": _names(codes, code),
        }
    ).with_columns(*_lineage(inputs, record.replication))


def energy_bins_j(inputs: SimInputs, record: ReplicationRecord) -> dict[str, NDArray[np.float64]]:
    """Energy per meter per 15-minute bin: the operations' energy plus idle and standby power."""
    n = inputs.n_bins
    last = inputs.horizon_s - (n - 1) * BIN_S
    length = np.full(n, BIN_S)
    length[-1] = last
    in_shift = np.asarray(inputs.in_shift, dtype=bool)
    out: dict[str, NDArray[np.float64]] = {}
    for meter in inputs.meters:
        on, off = inputs.idle_w.get(meter, (0.0, 0.0))
        out[meter] = np.asarray(record.energy_j[meter]) + np.where(in_shift, on, off) * length
    return out


def energy_frame(inputs: SimInputs, record: ReplicationRecord) -> pl.DataFrame:
    """Cumulative kWh registers per meter: 0 at the start of the horizon, then at the end of every 15 minutes."""
    bins = energy_bins_j(inputs, record)
    n = inputs.n_bins
    ends = np.concatenate([[0.0], np.minimum(np.arange(1, n + 1) * BIN_S, inputs.horizon_s)])
    frames = [
        pl.DataFrame(
            {"t": ends, "meter_id": meter, "energy_kwh": np.concatenate([[0.0], np.cumsum(bins[meter]) / 3.6e6])}
        )
        for meter in inputs.meters
    ]
    frame = pl.concat(frames)
    return frame.select(
        _timestamps(inputs, frame["t"].to_numpy()),
        "meter_id",
        pl.col("energy_kwh").round(9),
        *_lineage(inputs, record.replication),
    )


def _inside(rng: np.random.Generator, mean: NDArray, sigma: float, lsl: float, usl: float) -> NDArray:
    """Normal draws conditioned on lying within ``[lsl, usl]``."""
    from scipy.special import ndtr, ndtri

    if sigma <= 0:
        return np.clip(mean, lsl, usl)
    lo, hi = ndtr((lsl - mean) / sigma), ndtr((usl - mean) / sigma)
    u = lo + (hi - lo) * rng.random(len(mean))
    return np.clip(mean + sigma * ndtri(np.clip(u, 1e-300, 1.0 - 1e-16)), lsl, usl)


def _outside(rng: np.random.Generator, mean: NDArray, sigma: float, lsl: float, usl: float) -> NDArray:
    """Normal draws conditioned on lying outside ``[lsl, usl]`` (strictly)."""
    from scipy.special import ndtr, ndtri

    below = np.nextafter(lsl, -math.inf)
    above = np.nextafter(usl, math.inf)
    if sigma <= 0:
        return np.where(mean < lsl, np.minimum(mean, below), np.where(mean > usl, np.maximum(mean, above), below))
    p_low, p_high = ndtr((lsl - mean) / sigma), ndtr((mean - usl) / sigma)
    u = rng.random(len(mean)) * (p_low + p_high)
    low = u < p_low
    x_low = mean + sigma * ndtri(np.clip(u, 1e-300, 1.0))
    x_high = mean - sigma * ndtri(np.clip(u - p_low, 1e-300, 1.0))
    return np.where(low, np.minimum(x_low, below), np.maximum(x_high, above))


def quality_frame(inputs: SimInputs, record: ReplicationRecord) -> pl.DataFrame:
    """The measurements of the run (see the module docstring), before the end of the horizon."""
    q = inputs.quality
    rng = Draws(replication_seed(record.seed, record.replication), "measurements").rng
    end = inputs.horizon_s
    variant = np.asarray(record.unit_variant, dtype=np.int64)
    defect = np.asarray(record.unit_defect, dtype=np.int64)
    status = np.asarray(record.unit_status, dtype=np.int64)
    screwed_at = np.asarray(record.unit_screwed_at_s, dtype=np.float64)
    inspected_at = np.asarray(record.unit_inspected_at_s, dtype=np.float64)
    parts: list[pl.DataFrame] = []

    # screw torques, one row per screw, when the unit is screwed
    screws_of = np.asarray([v.screws for v in inputs.variants], dtype=np.int64)
    screwed = np.flatnonzero(np.isfinite(screwed_at) & (screwed_at < end))
    retorqued: list[tuple[NDArray, NDArray, NDArray]] = []  # (unit, 0-based screw, torque mean)
    head, _, rest = q.per_item.partition("_")
    if inputs.screw_robot is not None and q.per_item and len(screwed):
        n = screws_of[variant[screwed]]
        unit = np.repeat(screwed, n)
        first = np.repeat(np.cumsum(n) - n, n)
        k = np.arange(len(unit)) - first  # 0-based screw of its unit
        before = np.asarray(record.unit_screws_before, dtype=np.int64)[unit]
        mean = q.torque_mean_nm + q.drift_nm_per_screw * (before + k)
        value = _inside(rng, mean, q.torque_sigma_nm, q.torque_lsl, q.torque_usl)
        bad_units = np.flatnonzero(defect[screwed] == SCREW_DEFECT)
        if len(bad_units):  # one screw of each such unit, chosen uniformly, is out of its limits
            offsets = np.cumsum(n) - n  # each screwed unit's first row
            pick = offsets[bad_units] + (rng.random(len(bad_units)) * n[bad_units]).astype(np.int64)
            value[pick] = _outside(rng, mean[pick], q.torque_sigma_nm, q.torque_lsl, q.torque_usl)
            retorqued.append((unit[pick], k[pick], mean[pick]))
        parts.append(
            pl.DataFrame(
                {
                    "t": screwed_at[unit],
                    "unit": unit,
                    "station_id": inputs.screw_robot,
                    "characteristic": pl.Series(k + 1).cast(pl.String),
                    "value": value,
                    "lsl": q.torque_lsl,
                    "usl": q.torque_usl,
                }
            ).with_columns(
                pl.concat_str(pl.lit(f"{head}_"), pl.col("characteristic"), pl.lit(f"_{rest}")).alias("characteristic"),
                pl.when(pl.col("value") < q.torque_lsl)
                .then(pl.lit(defect_code(q.per_item, low=True)))
                .when(pl.col("value") > q.torque_usl)
                .then(pl.lit(defect_code(q.per_item, low=False)))
                .alias("defect_code"),
            )
        )

    # gap and flush at the end of inspection; a reworked unit again, later, in specification
    station = next((s.resource for v in inputs.variants for st in v.stages for s in st if s.kind == INSPECT), None)
    inspected = np.flatnonzero(np.isfinite(inspected_at) & (inspected_at < end))
    if station is not None and q.inspected and len(inspected):
        p_out = np.asarray([c.p_out for c in q.inspected])
        weights = p_out / p_out.sum() if p_out.sum() > 0 else np.full(len(p_out), 1.0 / len(p_out))
        failing = np.where(
            defect[inspected] == INSPECTION_DEFECT,
            np.minimum(np.searchsorted(np.cumsum(weights), rng.random(len(inspected)), side="right"), len(p_out) - 1),
            -1,
        )
        reworked = inspected[status[inspected] == REWORKED]
        again = inspected_at[reworked] + rng.uniform(*REWORK_DELAY_S, len(reworked))
        keep = again < end
        for index, c in enumerate(q.inspected):
            mean = np.full(len(inspected), c.mean)
            value = _inside(rng, mean, c.sigma, c.lsl, c.usl)
            out = failing == index
            value[out] = _outside(rng, mean[out], c.sigma, c.lsl, c.usl)
            code = defect_code(c.name)
            rows = {"t": inspected_at[inspected], "unit": inspected, "value": value}
            retest = {
                "t": again[keep],
                "unit": reworked[keep],
                "value": _inside(rng, np.full(int(keep.sum()), c.mean), c.sigma, c.lsl, c.usl),
            }
            for block in (rows, retest):
                parts.append(
                    pl.DataFrame(block).with_columns(
                        pl.lit(station).alias("station_id"),
                        pl.lit(c.name).alias("characteristic"),
                        pl.lit(c.lsl).alias("lsl"),
                        pl.lit(c.usl).alias("usl"),
                        pl.when((pl.col("value") < c.lsl) | (pl.col("value") > c.usl))
                        .then(pl.lit(code))
                        .otherwise(pl.lit(None, pl.String))
                        .alias("defect_code"),
                    )
                )
    # a reworked unit that inspection did not sample: its re-made screw is torqued again later, in its limits
    # (drawn last, so that the other measurements do not depend on it)
    if retorqued:
        unit, k, mean = retorqued[0]
        done_at = np.asarray(record.unit_done_s, dtype=np.float64)[unit]
        again = (status[unit] == REWORKED) & ~np.isfinite(inspected_at[unit]) & np.isfinite(done_at)
        unit, k, mean = unit[again], k[again], mean[again]
        at = done_at[again] + rng.uniform(*REWORK_DELAY_S, len(unit))
        keep = at < end
        parts.append(
            pl.DataFrame(
                {
                    "t": at[keep],
                    "unit": unit[keep],
                    "station_id": inputs.screw_robot,
                    "characteristic": [item_characteristic(q.per_item, i + 1) for i in k[keep]],
                    "value": _inside(rng, mean[keep], q.torque_sigma_nm, q.torque_lsl, q.torque_usl),
                    "lsl": q.torque_lsl,
                    "usl": q.torque_usl,
                },
                schema_overrides={"characteristic": pl.String},
            ).with_columns(pl.lit(None, pl.String).alias("defect_code"))
        )
    if not parts:
        return pl.DataFrame(schema=QUALITY_SCHEMA)
    order = ["t", "unit", "station_id", "characteristic", "value", "lsl", "usl", "defect_code"]
    frame = pl.concat([p.select(order) for p in parts], how="vertical_relaxed")
    return frame.select(
        _timestamps(inputs, frame["t"].to_numpy()),
        _names(_unit_id_list(len(variant)), frame["unit"].to_numpy().astype(np.int32)).alias("unit_id"),
        pl.col("station_id").cast(pl.String),
        "characteristic",
        pl.col("value").cast(pl.Float64),
        pl.col("lsl").cast(pl.Float64),
        pl.col("usl").cast(pl.Float64),
        pl.col("defect_code").cast(pl.String),
        *_lineage(inputs, record.replication),
    )


def grid_frame(inputs: SimInputs) -> pl.DataFrame:
    """The measured grid intensity rows the scenario was prepared with (``source`` measured)."""
    rows = inputs.grid_intensity
    frame = pl.DataFrame(
        {
            "ts_us": [r[0] for r in rows],
            "region": [r[1] for r in rows],
            "gco2e_per_kwh": [r[2] for r in rows],
            "interval_min": [r[3] for r in rows],
        },
        schema={"ts_us": pl.Int64(), "region": pl.String(), "gco2e_per_kwh": pl.Float64(), "interval_min": pl.Int64()},
    )
    return frame.select(
        pl.from_epoch("ts_us", time_unit="us").dt.replace_time_zone("UTC").alias("ts"),
        "region",
        "gco2e_per_kwh",
        "interval_min",
    )


def replication_frames(inputs: SimInputs, record: ReplicationRecord) -> dict[str, pl.DataFrame]:
    """A replication's telemetry: ``events``, ``energy`` and ``quality`` frames (see the module docstring)."""
    return {
        "events": events_frame(inputs, record),
        "energy": energy_frame(inputs, record),
        "quality": quality_frame(inputs, record),
    }


def simulated_frames(inputs: SimInputs, seed: int, replication: int = 0) -> dict[str, pl.DataFrame]:
    """Run one replication; its ``events``, ``energy`` and ``quality`` telemetry frames.

    Args:
        inputs: Prepared inputs (:func:`twin.sim.runner.prepare`).
        seed: The scenario seed.
        replication: Which replication (0-based).

    Returns:
        The frames, in :data:`EVENTS_SCHEMA`, :data:`ENERGY_SCHEMA` and :data:`QUALITY_SCHEMA`.
    """
    from twin.sim.engine import ProductionModel

    return replication_frames(inputs, ProductionModel(inputs, seed, replication).run())


def write_frames(frames: Mapping[str, pl.DataFrame], out_dir: Path, stem: str) -> list[Path]:
    """Write telemetry frames as Parquet files ``<stream>-<stem>.parquet`` (the stream leads the name).

    Args:
        frames: Stream -> frame.
        out_dir: The folder (created when missing).
        stem: What follows the stream in each file name.

    Returns:
        The files written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for stream, frame in frames.items():
        path = out_dir / f"{stream}-{stem}.parquet"
        tmp = path.with_name(f".{path.name}.tmp")
        frame.write_parquet(tmp)
        tmp.replace(path)
        paths.append(path)
    return paths
