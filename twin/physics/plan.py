"""The plan is data: a cell's planned operations, cycle figures, trajectories and clearance witnesses.

:class:`CellPlan` is what the physics twin knows about a cell, as frames and plain values: per variant
its operations (duration, energy, peak power, feasibility), its ideal cycle figures (cycle time, takt,
bottleneck, each resource's work per unit), each robot operation's joint trajectory sampled at
:data:`TRAJECTORY_HZ`, and each operation's minimum-clearance pair with the two witness points. It is
keyed by :func:`plan_key`, the content hash of the planner's inputs, so a stored plan is valid exactly
as long as the cell, its URDFs and the physics model are unchanged.

This module never imports pybullet (nor the planner): analytics, the report and the dashboard read a
stored plan through it (from the warehouse, :mod:`twin.warehouse.plans`, or from the physics cache, by
:func:`read_cached_plan`), and only :func:`twin.physics.evaluate.plan_cell` makes one.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from twin.cell.sampling import planning_cell
from twin.cell.spec import CellSpec
from twin.errors import PhysicsError
from twin.physics.cache import CACHE_VERSION, MODEL_FINGERPRINT, PhysicsCache, content_hash, file_hash

PLAN_FORMAT = "cell-plan-v2"
"""Version of the stored layout (frames, columns, metadata); part of :func:`plan_key`."""

CONTROL_DT_S = 1.0 / 125.0
"""The planner's sample period: the controller and telemetry rate."""

CLEARANCE_EVERY = 4
"""The planner checks clearance every n-th sample (and at every segment end)."""

TRAJECTORY_HZ = 25.0
"""Rate at which a plan keeps each operation's trajectory (its first and last sample always kept)."""

_POINT = pl.Array(pl.Float64, 3)

VARIANTS_SCHEMA: dict[str, Any] = {
    "variant": pl.String,
    "cycle_time_s": pl.Float64,
    "takt_s": pl.Float64,
    "bottleneck": pl.String,
    "making_time_s": pl.Float64,
    "making_energy_j": pl.Float64,
    "energy_j": pl.Float64,
    "feasible": pl.Boolean,
    "problems": pl.List(pl.String),
    "warnings": pl.List(pl.String),
}
"""One row per variant, in the cell file's order."""

WORK_SCHEMA: dict[str, Any] = {"variant": pl.String, "resource": pl.String, "work_s": pl.Float64}
"""One row per variant and resource (robot or station): its work per unit; the takt is the largest."""

OPERATIONS_SCHEMA: dict[str, Any] = {
    "variant": pl.String,
    "seq": pl.Int32,
    "operation": pl.String,
    "template": pl.String,
    "robot_id": pl.String,
    "station_id": pl.String,
    "duration_s": pl.Float64,
    "energy_j": pl.Float64,
    "peak_power_w": pl.Float64,
    "payload_kg": pl.Float64,
    "feasible": pl.Boolean,
    "reason": pl.String,
    "min_clearance_m": pl.Float64,
    "closest_body": pl.String,
    "closest_body_link": pl.String,
    "robot_link": pl.String,
    "robot_point_m": _POINT,
    "body_point_m": _POINT,
    "clearance_at_s": pl.Float64,
    "clearance_q_rad": pl.List(pl.Float64),
    "end_q_rad": pl.List(pl.Float64),
}
"""One row per variant and operation, in plan order (``seq``).

A robot operation's clearance is the smallest distance from its moving links to any cell body within
the planner's radius, over its checked samples: ``min_clearance_m`` (the radius when nothing came
closer; negative is penetration), the body and link (``closest_body``, ``closest_body_link``) and the
robot's link (``robot_link``), the witness points on each in world coordinates (``robot_point_m``,
``body_point_m``, whose distance is ``|min_clearance_m|``), and when and where it happened
(``clearance_at_s`` from the operation's start, ``clearance_q_rad`` every movable joint). The witness
columns are null when nothing came within the radius, and for station operations.
"""

TRAJECTORIES_SCHEMA: dict[str, Any] = {
    "variant": pl.String,
    "seq": pl.Int32,
    "t_s": pl.Float32,
    "q_rad": pl.List(pl.Float32),
}
"""One row per sample of each feasible robot operation: time from its start and every movable joint."""

FRAMES = {
    "variants": VARIANTS_SCHEMA,
    "work": WORK_SCHEMA,
    "operations": OPERATIONS_SCHEMA,
    "trajectories": TRAJECTORIES_SCHEMA,
}
"""The plan's frames and their schemas (also the warehouse's ``cell_plan_<name>`` tables)."""


class PlanError(PhysicsError):
    """A stored plan is missing, unreadable or of another format."""


@dataclass(frozen=True)
class PlanOperation:
    """One operation of a variant's plan (a row of :attr:`CellPlan.operations`)."""

    seq: int
    operation: str
    template: str
    robot_id: str | None
    station_id: str | None
    duration_s: float
    energy_j: float
    peak_power_w: float
    payload_kg: float
    feasible: bool
    reason: str | None
    min_clearance_m: float | None
    closest_body: str | None


@dataclass(frozen=True)
class PlanVariant:
    """One variant's cycle figures and operations (rows of the plan's frames)."""

    variant: str
    cycle_time_s: float
    takt_s: float
    bottleneck: str
    making_time_s: float
    energy_j: float
    feasible: bool
    problems: tuple[str, ...]
    work_s: dict[str, float]
    operations: tuple[PlanOperation, ...]


def planner_inputs(cell: CellSpec) -> dict[str, Any]:
    """Everything of a cell the planner reads, with each URDF as the hash of its bytes (not its path).

    Failure rates, buffers, shifts, cost, carbon and quality do not change a plan and are left out, except
    inspection sampling, which adds planning-only variants (:func:`twin.cell.sampling.planning_cell`).

    Args:
        cell: The validated cell.

    Returns:
        A JSON-serialisable document.
    """
    cell = planning_cell(cell)

    def with_urdf(spec: Any, exclude: set[str]) -> dict[str, Any]:
        doc: dict[str, Any] = spec.model_dump(mode="json", exclude={"urdf_path", *exclude})
        doc["urdf_sha256"] = None if spec.urdf_path is None else file_hash(spec.urdf_path)
        return doc

    return {
        "cell_id": cell.cell.id,
        "clearance_threshold_m": cell.cell.clearance_threshold_m,
        "robots": {rid: with_urdf(robot, {"mtbf_h", "mttr_min"}) for rid, robot in cell.robots.items()},
        "stations": {sid: with_urdf(station, {"mtbf_h", "mttr_min"}) for sid, station in cell.stations.items()},
        "parts": {pid: part.model_dump(mode="json", exclude={"urdf", "urdf_path"}) for pid, part in cell.parts.items()},
        "operations": {oid: op.model_dump(mode="json") for oid, op in cell.operations.items()},
        "variants": [
            [name, variant.model_dump(mode="json", exclude={"mix_share"})] for name, variant in cell.variants.items()
        ],
        "obstacles": {name: obstacle.model_dump(mode="json") for name, obstacle in cell.obstacles.items()},
    }


def plan_key(
    cell: CellSpec,
    dt: float = CONTROL_DT_S,
    clearance_every: int = CLEARANCE_EVERY,
    sample_hz: float = TRAJECTORY_HZ,
) -> str:
    """The content hash of a cell's plan: its planner inputs, the planner's settings and the physics model.

    Reads the cell's URDF files only; nothing is planned.

    Args:
        cell: The validated cell.
        dt: The planner's sample period.
        clearance_every: The planner's clearance stride.
        sample_hz: The kept trajectory rate.

    Returns:
        64 hex digits (:func:`twin.physics.cache.content_hash`, which includes the model's fingerprint).
    """
    settings = {"format": PLAN_FORMAT, "dt_s": dt, "clearance_every": clearance_every, "sample_hz": sample_hz}
    return content_hash({"plan": settings, "cell": planner_inputs(cell)})


def sample_indices(n_samples: int, dt: float, sample_hz: float = TRAJECTORY_HZ) -> NDArray[np.int64]:
    """Rows of a trajectory sampled every ``dt`` kept at ``sample_hz``: every k-th one, and the last.

    >>> sample_indices(12, 1 / 125, 25).tolist()
    [0, 5, 10, 11]
    """
    if n_samples <= 0:
        return np.zeros(0, dtype=np.int64)
    step = max(1, int(round(1.0 / (dt * sample_hz))))
    rows = np.arange(0, n_samples, step, dtype=np.int64)
    if rows[-1] != n_samples - 1:
        rows = np.append(rows, n_samples - 1)
    return rows


def _frame(rows: list[dict[str, Any]], schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


@dataclass(frozen=True, eq=False)
class CellPlan:
    """A cell's plan: frames plus JSON-able settings; frozen, keyed by :attr:`content_hash`.

    Two plans are equal when their identity, settings and every frame are equal (``DataFrame.equals``).
    Make one with :func:`twin.physics.evaluate.plan_cell`; read a stored one with :meth:`read` or
    :meth:`from_frames`.

    Attributes:
        cell_id: The cell's id.
        content_hash: :func:`plan_key` of the cell it was planned for.
        settings: The physics model's version and the planner's settings (:func:`plan_settings`).
        variants: One row per variant (:data:`VARIANTS_SCHEMA`).
        work: One row per variant and resource (:data:`WORK_SCHEMA`).
        operations: One row per variant and operation (:data:`OPERATIONS_SCHEMA`).
        trajectories: One row per kept trajectory sample (:data:`TRAJECTORIES_SCHEMA`).
    """

    cell_id: str
    content_hash: str
    settings: dict[str, Any]
    variants: pl.DataFrame
    work: pl.DataFrame
    operations: pl.DataFrame
    trajectories: pl.DataFrame

    def __post_init__(self) -> None:
        for name, schema in FRAMES.items():
            if dict(getattr(self, name).schema) != schema:
                raise PlanError(f"plan {self.content_hash[:12]}: the {name} frame has another schema")
        # a private copy that round-trips through JSON exactly as stored
        object.__setattr__(self, "settings", json.loads(json.dumps(self.settings)))

    @property
    def metadata(self) -> dict[str, Any]:
        """Format, identity and settings: the JSON document stored beside the frames."""
        return {"format": PLAN_FORMAT, "cell_id": self.cell_id, "content_hash": self.content_hash, **self.settings}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CellPlan):
            return NotImplemented
        return self.metadata == other.metadata and all(
            getattr(self, name).equals(getattr(other, name)) for name in FRAMES
        )

    def __hash__(self) -> int:
        return hash(self.content_hash)

    def __repr__(self) -> str:
        return (
            f"CellPlan(cell_id={self.cell_id!r}, content_hash={self.content_hash[:12]!r}, "
            f"variants={self.variant_names}, operations={self.operations.height})"
        )

    # views -------------------------------------------------------------------------------------
    @property
    def variant_names(self) -> list[str]:
        """Variant names in the cell file's order."""
        return self.variants["variant"].to_list()

    @property
    def feasible(self) -> bool:
        """True when every variant is feasible."""
        return bool(self.variants["feasible"].all())

    def variant(self, name: str) -> PlanVariant:
        """One variant's figures and operations as typed values.

        Raises:
            PlanError: No such variant.
        """
        rows = self.variants.filter(pl.col("variant") == name)
        if rows.is_empty():
            raise PlanError(f"plan of {self.cell_id}: unknown variant {name!r}; valid: {', '.join(self.variant_names)}")
        row = rows.row(0, named=True)
        work = self.work.filter(pl.col("variant") == name)
        fields = PlanOperation.__dataclass_fields__
        operations = tuple(
            PlanOperation(**{k: v for k, v in op.items() if k in fields})
            for op in self.operations.filter(pl.col("variant") == name).sort("seq").iter_rows(named=True)
        )
        return PlanVariant(
            variant=name,
            cycle_time_s=row["cycle_time_s"],
            takt_s=row["takt_s"],
            bottleneck=row["bottleneck"],
            making_time_s=row["making_time_s"],
            energy_j=row["energy_j"],
            feasible=row["feasible"],
            problems=tuple(row["problems"]),
            work_s=dict(zip(work["resource"].to_list(), work["work_s"].to_list(), strict=True)),
            operations=operations,
        )

    def trajectory(self, variant: str, seq: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Times (s from the operation's start) and joint positions (samples x joints) of one operation.

        Both are empty for a station operation or an infeasible one.
        """
        rows = self.trajectories.filter((pl.col("variant") == variant) & (pl.col("seq") == seq))
        t = rows["t_s"].to_numpy()
        if not len(t):
            return t, np.zeros((0, 0), dtype=np.float32)
        return t, np.asarray(rows["q_rad"].to_list(), dtype=np.float32)

    # serialisation -----------------------------------------------------------------------------
    def to_frames(self) -> dict[str, pl.DataFrame]:
        """The frames by name (:data:`FRAMES`); with :attr:`metadata`, all there is to store."""
        return {name: getattr(self, name) for name in FRAMES}

    @classmethod
    def from_frames(cls, metadata: dict[str, Any], frames: dict[str, pl.DataFrame]) -> CellPlan:
        """A plan from its stored metadata and frames (columns beyond a schema, such as a table's keys, dropped).

        Raises:
            PlanError: Another format, or a frame missing or lacking a column.
        """
        if metadata.get("format") != PLAN_FORMAT:
            raise PlanError(f"plan format {metadata.get('format')!r} is not {PLAN_FORMAT!r}; plan the cell again")
        identity = {key: metadata.get(key) for key in ("cell_id", "content_hash")}
        for key, value in identity.items():
            if not isinstance(value, str):
                raise PlanError(f"stored plan: its metadata lacks {key!r}")
        picked = {}
        for name, schema in FRAMES.items():
            frame = frames.get(name)
            if frame is None:
                raise PlanError(f"stored plan: no {name} frame; valid: {', '.join(FRAMES)}")
            missing = [c for c in schema if c not in frame.columns]
            if missing:
                raise PlanError(f"stored plan: the {name} frame lacks {', '.join(missing)}")
            picked[name] = frame.select([pl.col(c).cast(t) for c, t in schema.items()])
        settings = {k: v for k, v in metadata.items() if k not in ("format", "cell_id", "content_hash")}
        return cls(str(identity["cell_id"]), str(identity["content_hash"]), settings, **picked)

    def write(self, directory: str | Path) -> Path:
        """Write ``metadata.json`` and one Parquet file per frame into ``directory`` (created).

        Returns:
            The directory.
        """
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        for name, frame in self.to_frames().items():
            frame.write_parquet(target / f"{name}.parquet")
        (target / "metadata.json").write_text(json.dumps(self.metadata, sort_keys=True, indent=1) + "\n")
        return target

    @classmethod
    def read(cls, directory: str | Path) -> CellPlan:
        """Read a plan written by :meth:`write`.

        Raises:
            PlanError: Missing or unreadable files.
        """
        source = Path(directory)
        try:
            metadata = json.loads((source / "metadata.json").read_text())
            frames = {name: pl.read_parquet(source / f"{name}.parquet") for name in FRAMES}
        except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
            raise PlanError(f"{source}: not a readable plan ({exc})") from exc
        return cls.from_frames(metadata, frames)

    @classmethod
    def from_records(
        cls,
        cell_id: str,
        content_hash: str,
        settings: dict[str, Any],
        variants: list[dict[str, Any]],
        work: list[dict[str, Any]],
        operations: list[dict[str, Any]],
        trajectories: list[tuple[str, int, NDArray[np.float64], NDArray[np.float64]]],
    ) -> CellPlan:
        """Build a plan from rows (the planner's side of :func:`twin.physics.evaluate.plan_cell`).

        Args:
            cell_id: The cell's id.
            content_hash: Its :func:`plan_key`.
            settings: :func:`plan_settings`.
            variants: Rows of :data:`VARIANTS_SCHEMA`.
            work: Rows of :data:`WORK_SCHEMA`.
            operations: Rows of :data:`OPERATIONS_SCHEMA` (missing keys are null).
            trajectories: ``(variant, seq, t, q)`` per operation, already sampled at the plan's rate.

        Returns:
            The plan.
        """
        parts = [
            pl.DataFrame(
                {
                    "variant": [variant] * len(t),
                    "seq": np.full(len(t), seq, dtype=np.int32),
                    "t_s": np.asarray(t, dtype=np.float32),
                    "q_rad": pl.Series(np.asarray(q, dtype=np.float32)).cast(pl.List(pl.Float32)),
                },
                schema=TRAJECTORIES_SCHEMA,
            )
            for variant, seq, t, q in trajectories
            if len(t)
        ]
        samples = pl.concat(parts) if parts else pl.DataFrame(schema=TRAJECTORIES_SCHEMA)
        ops = [{name: row.get(name) for name in OPERATIONS_SCHEMA} for row in operations]
        return cls(
            cell_id,
            content_hash,
            settings,
            variants=_frame(variants, VARIANTS_SCHEMA),
            work=_frame(work, WORK_SCHEMA),
            operations=_frame(ops, OPERATIONS_SCHEMA),
            trajectories=samples,
        )


def plan_settings(dt: float, clearance_every: int, radius_m: float, sample_hz: float = TRAJECTORY_HZ) -> dict[str, Any]:
    """A new plan's settings: the physics model's version and the planner's settings."""
    return {
        "physics": {"cache_version": CACHE_VERSION, "model_fingerprint": MODEL_FINGERPRINT},
        "dt_s": dt,
        "clearance_every": clearance_every,
        "clearance_radius_m": radius_m,
        "sample_hz": sample_hz,
    }


# the physics cache's plans ---------------------------------------------------------------------
def read_cached_plan(cache: PhysicsCache, key: str) -> CellPlan | None:
    """The plan stored in the cache under ``key`` (memory first, then ``<cache>/plans/<key>/``), or None."""
    plan = cache.plans.get(key)
    if plan is not None or not cache.persist:
        return plan
    directory = cache.plan_dir(key)
    if not (directory / "metadata.json").is_file():
        return None
    try:
        plan = CellPlan.read(directory)
    except PlanError:
        return None  # a damaged entry is a miss; the next plan_cell replaces it
    cache.plans[key] = plan
    return plan


def write_cached_plan(cache: PhysicsCache, plan: CellPlan) -> None:
    """Store a plan in the cache; on disk, written to a temporary folder renamed into place."""
    cache.plans[plan.content_hash] = plan
    if not cache.persist:
        return
    target = cache.plan_dir(plan.content_hash)
    if (target / "metadata.json").is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        plan.write(staging)
        if target.exists():  # a damaged entry (a complete one returned above)
            shutil.rmtree(target, ignore_errors=True)
        os.rename(staging, target)
    except OSError:
        if not (target / "metadata.json").is_file():  # not just another process that wrote the same plan
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
