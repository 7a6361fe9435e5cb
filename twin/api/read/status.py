"""What the warehouse's published snapshot holds, and what a page misses and how to get it.

:func:`warehouse_status` reads the snapshot once (which streams have measured rows, which tables exist, the
data's extent); :func:`missing_message` turns it into the "what is missing and how to get it" message a page
shows; :func:`snapshot_version` keys cached reads, so a newly published snapshot shows up on the next read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from twin.analytics.store import Rows, data_extent
from twin.api.periods import characteristic_families
from twin.api.read.replay import cell_replay_runs
from twin.cell.load import load_cell
from twin.errors import TwinError, WarehouseError
from twin.warehouse.connection import read_connection
from twin.warehouse.snapshot import snapshot_path

STREAMS: tuple[str, ...] = ("events", "quality", "energy", "grid_intensity", "joint_states")
"""The telemetry streams (SPEC.md, telemetry contract)."""

STREAM_USE: dict[str, str] = {
    "events": "cycles, units, faults and setups: OEE, throughput and every per-unit figure",
    "quality": "measurements: first-pass yield, control charts, capability and the defect Pareto",
    "energy": "meter readings: energy cost and the carbon footprint",
    "grid_intensity": "hourly grid carbon intensity: location-based scope 2",
    "joint_states": "robot joint states: the replay of recorded cycles",
}
"""What each stream is needed for (the missing-data messages)."""


class MissingData(WarehouseError):
    """The warehouse (or a file beside it) lacks what was asked for; the message says what and how to get it."""


# ------------------------------------------------------------------------------------------------
# the cell, as the pages need it
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellSummary:
    """What the pages need of the cell definition (plain values, so it can be cached and pickled).

    Attributes:
        cell_id: The cell's id.
        name: Its name.
        timezone: IANA zone days and shifts are counted in.
        region: Grid region.
        variants: Variant ids.
        robots: Robot ids.
        stations: Station ids.
        spec_limits: Quality characteristic family -> ``(lsl, usl, target)``.
        layout: One row per robot and station: ``id``, ``kind``, ``x_m``, ``y_m``, ``yaw_deg``.
    """

    cell_id: str
    name: str
    timezone: str
    region: str
    variants: tuple[str, ...]
    robots: tuple[str, ...]
    stations: tuple[str, ...]
    spec_limits: dict[str, tuple[float | None, float | None, float | None]]
    layout: tuple[tuple[str, str, float, float, float], ...]


def cell_summary(cell_file: str | Path | None = None) -> CellSummary:
    """Load and summarize the cell definition (validated; no physics).

    Args:
        cell_file: The cell YAML (default: the sample cell).

    Returns:
        The summary.

    Raises:
        ConfigError: The file is invalid.
    """
    cell = load_cell(cell_file)
    limits = {}
    for name in characteristic_families(cell):
        spec = cell.quality.characteristics[name]
        limits[name] = (spec.lsl, spec.usl, spec.target)
    layout = [
        (rid, f"robot ({r.model})", r.base_pose.x_m, r.base_pose.y_m, r.base_pose.yaw_deg)
        for rid, r in cell.robots.items()
    ]
    layout += [(sid, str(s.kind), s.pose.x_m, s.pose.y_m, s.pose.yaw_deg) for sid, s in cell.stations.items()]
    return CellSummary(
        cell_id=cell.cell.id,
        name=cell.cell.name,
        timezone=cell.cell.timezone,
        region=cell.carbon.grid_region,
        variants=tuple(cell.variants),
        robots=tuple(cell.robots),
        stations=tuple(cell.stations),
        spec_limits=limits,
        layout=tuple(layout),
    )


# ------------------------------------------------------------------------------------------------
# the snapshot
# ------------------------------------------------------------------------------------------------


def snapshot_file(warehouse: str | Path) -> Path | None:
    """The file a reader opens: the published snapshot, else the warehouse itself, else None.

    Args:
        warehouse: The warehouse file.

    Returns:
        The path, or None without a warehouse.
    """
    path = Path(warehouse)
    snap = path if path.name.endswith(".read.duckdb") else snapshot_path(path)
    if snap.is_file():
        return snap
    return path if path.is_file() else None


def snapshot_version(warehouse: str | Path) -> int:
    """A number that changes whenever a new snapshot is published (from the file's mtime and size; 0 without one).

    Cached reads are keyed on it, so a newly published snapshot shows up on the next read.

    Args:
        warehouse: The warehouse file.

    Returns:
        The version.
    """
    snap = snapshot_file(warehouse)
    if snap is None:
        return 0
    try:
        stat = snap.stat()
    except FileNotFoundError:
        return 0
    return stat.st_mtime_ns ^ stat.st_size


@dataclass(frozen=True)
class WarehouseStatus:
    """What the published snapshot holds.

    Attributes:
        warehouse: The warehouse file.
        snapshot: The file read (None without a warehouse).
        published_at: Its modification time.
        tables: Table and view names.
        rows: Measured rows per stream (0 when the stream's table is missing).
        first_day: The first local day with units (None without).
        last_day: The last local day with units.
        replay_runs: Robots of the cell with a stored replay run.
        problem: Why the snapshot could not be read (None when it could).
    """

    warehouse: str
    snapshot: str | None
    published_at: datetime | None = None
    tables: frozenset[str] = frozenset()
    rows: dict[str, int] = field(default_factory=dict)
    first_day: date | None = None
    last_day: date | None = None
    replay_runs: int = 0
    problem: str | None = None

    @property
    def exists(self) -> bool:
        """A warehouse file (or snapshot) is there."""
        return self.snapshot is not None

    @property
    def is_empty(self) -> bool:
        """No measured telemetry in any stream."""
        return not any(self.rows.get(s, 0) for s in STREAMS)

    @property
    def has_marts(self) -> bool:
        """The analytics marts are built."""
        return {"mart_an_units", "mart_an_downtime"} <= self.tables

    def missing(self, needs: Sequence[str]) -> list[str]:
        """The streams of ``needs`` without measured rows."""
        return [s for s in needs if not self.rows.get(s, 0)]


def _count(con: Any, tables: set[str], stream: str, cell_id: str) -> int:
    """A cell's measured rows of a stream: its staging view, else its raw table (names are this module's constants)."""
    for table in (f"stg_{stream}", f"raw_{stream}"):
        if table in tables:
            try:
                columns = {r[0] for r in con.execute(f"describe {table}").fetchall()}
                conditions, params = [], {}
                if "source" in columns:
                    conditions.append("source = 'measured'")
                if "cell_id" in columns:
                    conditions.append("cell_id = $cell")
                    params["cell"] = cell_id
                where = f" where {' and '.join(conditions)}" if conditions else ""
                return int(con.execute(f"select count(*) from {table}{where}", params).fetchall()[0][0])
            except Exception:  # noqa: BLE001 - a broken view counts as no rows; the status says so
                return 0
    return 0


def warehouse_status(warehouse: str | Path, cell_id: str, timezone: str) -> WarehouseStatus:
    """Read what the warehouse's published snapshot holds of one cell (one short-lived read-only connection).

    Args:
        warehouse: The warehouse file.
        cell_id: The cell whose rows, days and replay runs are counted (a warehouse may hold several cells).
        timezone: The cell's zone (days are local).

    Returns:
        The status; ``problem`` says why the snapshot could not be read.
    """
    path = Path(warehouse)
    snap = snapshot_file(path)
    if snap is None:
        return WarehouseStatus(str(path), None)
    published = datetime.fromtimestamp(snap.stat().st_mtime).astimezone()
    try:
        with read_connection(path) as con:
            tables = {str(r[0]) for r in con.execute("select table_name from information_schema.tables").fetchall()}
            rows = {s: _count(con, tables, s, cell_id) for s in STREAMS}
            first_day = last_day = None
            if "mart_an_units" in tables and rows["events"]:
                first, last = data_extent(con, Rows(cell_id))
                if first is not None and last is not None:
                    first_day = first.astimezone(ZoneInfo(timezone)).date()
                    last_day = last.astimezone(ZoneInfo(timezone)).date()
            replay_runs = 0
            if "raw_replay_runs" in tables:
                replay_runs = len(cell_replay_runs(con, cell_id))
    except TwinError as exc:
        return WarehouseStatus(str(path), str(snap), published, problem=str(exc))
    return WarehouseStatus(str(path), str(snap), published, frozenset(tables), rows, first_day, last_day, replay_runs)


def missing_message(status: WarehouseStatus, needs: Sequence[str] = ("events",)) -> str | None:
    """What a page needs that the warehouse lacks, and how to get it (Markdown); None when nothing is missing.

    Args:
        status: The warehouse's status.
        needs: The streams the page needs.

    Returns:
        The message, or None.

    >>> print(missing_message(WarehouseStatus("data/twin.duckdb", None)).split(".")[0])
    **No warehouse at `data/twin
    """
    where = f"`{status.warehouse}`"
    if not status.exists:
        return (
            f"**No warehouse at {where}.** Run `twin demo` to build the demo warehouse (30 days of telemetry from "
            "the twin, replays, scenarios and the report), or `twin ingest DIR` to load your own telemetry; "
            "`twin dashboard` builds the demo by itself when there is no warehouse."
        )
    if status.problem:
        return f"**The warehouse {where} cannot be read:** {status.problem}"
    if status.is_empty:
        return (
            f"**The warehouse {where} holds no telemetry yet.** Run `twin ingest DIR` with telemetry files "
            "(`twin generate --days 30 --out DIR` writes synthetic ones), or `twin demo`."
        )
    missing = status.missing(needs)
    if missing:
        lines = [f"**The warehouse {where} has no measured `{s}` telemetry**, which this page needs for "
                 f"{STREAM_USE[s]}." for s in missing]  # fmt: skip
        names = " and ".join(f"`{s}`" for s in missing)
        lines.append(
            f"Ingest {names} files with `twin ingest FILE...` (or run `twin demo` for a complete demo warehouse)."
        )
        return "\n\n".join(lines)
    if "events" in needs and not status.has_marts:
        return (
            f"**The warehouse {where} has telemetry but its analytics marts are not built.** Run `twin ingest` "
            "again on any telemetry file (it rebuilds the marts), or `twin demo`."
        )
    if "events" in needs and status.first_day is None:
        return f"**The warehouse {where} has events but no complete unit cycles yet.** Ingest more `events` telemetry."
    return None
