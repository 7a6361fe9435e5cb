"""The telemetry contract (SPEC.md, "Telemetry contract"): streams, columns, units, types and keys.

One stream per file; the stream's name leads the file name (``joint_states-2026-11-02.parquet``) or
names a Hive-partitioned folder. Timestamps are ISO-8601 with an offset or ``Z``, or integer epoch
microseconds, and are stored in UTC. Every row carries ``source`` in the warehouse: ``measured``, or
``simulated:<scenario>`` for what the twin writes, and ``replication`` (which replication of a simulated
run; 0 for measured rows). Both lead every stream's natural key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

EVENT_NAMES = (
    "cycle_start",
    "cycle_end",
    "fault_start",
    "fault_end",
    "setup_start",
    "setup_end",
    "break_start",
    "break_end",
)
MEASURED = "measured"
SIMULATED_PREFIX = "simulated:"

# joint_states' per-joint columns: prefix -> (unit, description)
JOINT_COLUMN_PREFIXES = {
    "q_": ("rad", "joint position, URDF movable-joint order from 1"),
    "qd_": ("rad/s", "joint velocity"),
    "tau_": ("N·m", "measured joint torque"),
    "i_": ("A", "motor current"),
}
JOINT_COLUMN = re.compile(r"^(q|qd|tau|i)_(\d+)$")


@dataclass(frozen=True)
class Column:
    """One column of a stream."""

    name: str
    dtype: pl.DataType | type[pl.DataType]
    unit: str | None
    description: str
    required: bool = True


@dataclass(frozen=True)
class Stream:
    """One telemetry stream: its columns, natural key and an example row."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    example: dict[str, object] = field(default_factory=dict)
    per_joint: bool = False
    required_one_of: tuple[tuple[str, ...], ...] = ()
    """Groups of columns of which a file needs at least one (and each row a value in one)."""

    @property
    def required(self) -> tuple[str, ...]:
        """Columns every file of the stream must have (``q_1`` stands for ``q_1..q_n``)."""
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column | None:
        """The declared column ``name`` (per-joint columns resolve to their prefix)."""
        for column in self.columns:
            if column.name == name:
                return column
        match = JOINT_COLUMN.match(name) if self.per_joint else None
        if match:
            unit, description = JOINT_COLUMN_PREFIXES[match.group(1) + "_"]
            return Column(name, pl.Float64, unit, f"{description} {match.group(2)}", required=False)
        return None


TS = Column("ts", pl.Datetime("us", "UTC"), None, "timestamp, ISO-8601 with offset or Z, or epoch µs; stored UTC")

STREAMS: dict[str, Stream] = {
    "joint_states": Stream(
        "joint_states",
        "Robot joint states and electrical input power, high rate (125 Hz) in logged windows.",
        (
            TS,
            Column("robot_id", pl.String, None, "robot id of the cell (R1, R2)"),
            Column("q_1", pl.Float64, "rad", "joint positions q_1..q_n in URDF movable-joint order"),
            Column("qd_1", pl.Float64, "rad/s", "joint velocities qd_1..qd_n", required=False),
            Column("tau_1", pl.Float64, "N·m", "measured joint torques tau_1..tau_n", required=False),
            Column("i_1", pl.Float64, "A", "motor currents i_1..i_n", required=False),
            Column("power_w", pl.Float64, "W", "robot electrical input power", required=False),
            Column("program_step", pl.String, None, "operation the controller was executing", required=False),
        ),
        ("robot_id", "ts"),
        {
            "ts": "2026-11-02T06:00:00.008+01:00",
            "robot_id": "arm_1",
            "q_1": 0.01,
            "q_2": -0.785,
            "power_w": 96.4,
            "program_step": "pick_blank",
        },
        per_joint=True,
    ),
    "events": Stream(
        "events",
        "Station and robot events: cycles, faults, setups, breaks.",
        (
            TS,
            Column("station_id", pl.String, None, "station or robot id"),
            Column("event", pl.String, None, "one of " + ", ".join(EVENT_NAMES)),
            Column("unit_id", pl.String, None, "unit (order) id; empty for non-unit events", required=False),
            Column("variant", pl.String, None, "product variant of the unit", required=False),
            Column("code", pl.String, None, "fault or setup code", required=False),
        ),
        ("station_id", "ts", "event", "unit_id"),
        {
            "ts": "2026-11-02T06:00:03.1+01:00",
            "station_id": "arm_2",
            "event": "cycle_start",
            "unit_id": "U000001",
            "variant": "VARIANT-A",
            "code": None,
        },
    ),
    "quality": Stream(
        "quality",
        "Quality measurements per unit: each characteristic the cell declares, per repetition where it repeats.",
        (
            TS,
            Column("unit_id", pl.String, None, "unit id"),
            Column("station_id", pl.String, None, "measuring station or robot"),
            Column("characteristic", pl.String, None, "e.g. bolt_3_torque_nm (one per bolt), width_mm"),
            Column("value", pl.Float64, "characteristic's unit", "measured value"),
            Column("lsl", pl.Float64, "characteristic's unit", "lower specification limit"),
            Column("usl", pl.Float64, "characteristic's unit", "upper specification limit"),
            Column("defect_code", pl.String, None, "defect code when out of specification", required=False),
        ),
        ("unit_id", "characteristic", "ts"),
        {
            "ts": "2026-11-02T06:01:12Z",
            "unit_id": "U000001",
            "station_id": "qc_camera",
            "characteristic": "width_mm",
            "value": 1.02,
            "lsl": 0.6,
            "usl": 1.4,
            "defect_code": None,
        },
    ),
    "energy": Stream(
        "energy",
        "Energy meters: a cumulative register (kWh; resets and rollovers detected) or instantaneous power.",
        (
            TS,
            Column("meter_id", pl.String, None, "meter id: a robot or station id, or cell_aux"),
            Column("energy_kwh", pl.Float64, "kWh", "cumulative register reading", required=False),
            Column("power_w", pl.Float64, "W", "instantaneous power (integrated over time)", required=False),
            Column(
                "register_max_kwh",
                pl.Float64,
                "kWh",
                "declared register maximum; a fall from near it to near zero is a rollover",
                required=False,
            ),
        ),
        ("meter_id", "ts"),
        {"ts": "2026-11-02T06:15:00+01:00", "meter_id": "press", "energy_kwh": 1532.118},
        required_one_of=(("energy_kwh", "power_w"),),
    ),
    "grid_intensity": Stream(
        "grid_intensity",
        "Grid carbon intensity of a region per interval (location-based).",
        (
            TS,
            Column("region", pl.String, None, "grid region (e.g. DE, GB)"),
            Column("gco2e_per_kwh", pl.Float64, "gCO2e/kWh", "carbon intensity of the interval"),
            Column("interval_min", pl.Int64, "min", "interval length, default 60", required=False),
        ),
        ("region", "ts"),
        {"ts": "2026-11-02T05:00:00Z", "region": "DE", "gco2e_per_kwh": 412.0, "interval_min": 60},
    ),
}


# Lineage columns a file may carry (any stream); the ingest fills them in when absent.
LINEAGE_COLUMNS = (
    Column("source", pl.String, None, "measured (default) or simulated:<scenario>", required=False),
    Column(
        "replication",
        pl.Int64,
        None,
        "replication of a simulated run, from 0; measured rows are replication 0 (the default)",
        required=False,
    ),
    Column("run_id", pl.String, None, "the run that produced the row (default: the ingest run)", required=False),
    Column("cell_id", pl.String, None, "the cell (default: the --cell of the ingest)", required=False),
)


def meter_ids(robot_ids: list[str], station_ids: list[str]) -> list[str]:
    """The cell's energy meters: one per robot and station, plus ``cell_aux``."""
    return [*robot_ids, *station_ids, "cell_aux"]


def detect_stream(columns: list[str], file_name: str | None = None) -> str | None:
    """The stream a file belongs to: by the leading name of the file, else by its columns."""
    if file_name:
        for name in STREAMS:
            if file_name.startswith(name):
                return name
    present = set(columns)
    if {"robot_id", "q_1"} <= present:
        return "joint_states"
    if {"station_id", "event"} <= present:
        return "events"
    if {"unit_id", "characteristic", "value"} <= present:
        return "quality"
    if "meter_id" in present and ({"energy_kwh", "power_w"} & present):
        return "energy"
    if {"region", "gco2e_per_kwh"} <= present:
        return "grid_intensity"
    return None


def defect_code(characteristic: str, low: bool | None = None) -> str:
    """The defect code of a measurement out of its limits.

    The characteristic's first word and ``_OUT``; for a per-item characteristic, its word after the index
    and ``_LOW`` or ``_HIGH``.

    >>> defect_code("gap_mm"), defect_code("screw_torque_nm", low=True)
    ('GAP_OUT', 'TORQUE_LOW')
    """
    if low is None:
        return f"{characteristic.split('_')[0].upper()}_OUT"
    word = characteristic.split("_")[1] if "_" in characteristic else characteristic
    return f"{word.upper()}_{'LOW' if low else 'HIGH'}"


def service_code(robot: str) -> str:
    """The setup code of a robot's tool service (a screwdriver's bit change).

    >>> service_code("R2")
    'MAINT_R2_TOOL'
    """
    return f"MAINT_{robot.upper()}_TOOL"


def fault_code(resource: str) -> str:
    """The code of a robot's or station's fault events.

    >>> fault_code("R1")
    'R1_FAULT'
    """
    return f"{resource.upper()}_FAULT"
