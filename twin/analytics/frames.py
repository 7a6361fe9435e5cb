"""The frames the analytics read for one period, with their declared schemas.

They are what the warehouse marts hold (``mart_an_*``, see ``docs/analytics.md``), already filtered to
one ``source`` (``measured`` unless asked otherwise) and to the rows that can touch the period. Tests
build them by hand; :mod:`twin.analytics.store` reads them from the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from twin.analytics.period import Period
from twin.cell.spec import CellSpec

UTC_US = pl.Datetime("us", "UTC")

UNITS: dict[str, pl.DataType] = {
    "unit_id": pl.String(),
    "variant": pl.String(),
    "first_start_at": UTC_US,
    "last_end_at": UTC_US,
    "completed_at": UTC_US,
    "station_end_at": UTC_US,
    "run_s": pl.Float64(),
    "first_pass_result": pl.String(),
    "final_result": pl.String(),
    "is_inspected": pl.Boolean(),
    "is_first_pass_good": pl.Boolean(),
    "is_first_pass_failed": pl.Boolean(),
    "is_reworked": pl.Boolean(),
    "is_final_good": pl.Boolean(),
    "is_scrapped": pl.Boolean(),
    "is_escaped": pl.Boolean(),
    "is_fully_measured": pl.Boolean(),
}
"""One row per unit with a cycle touching the period: ``completed_at`` = its cycle end at the output station,
``station_end_at`` = its cycle end at the station OEE counts (the output station unless ``--station``),
``run_s`` = its cycle time at every station but the parallel ones. The disposition is ``mart_unit_disposition``'s
(``docs/analytics.md``): ``first_pass_result`` good / failed / not_inspected, ``final_result`` good / reworked /
scrapped / escaped, and the flags derived there (``is_reworked``: rework done, whatever its outcome)."""

OCCUPANCY: dict[str, pl.DataType] = {
    "station_id": pl.String(),
    "variant": pl.String(),
    "hour_at": UTC_US,
    "busy_s": pl.Float64(),
    "n_units": pl.Int64(),
}
"""One row per station per variant per UTC hour: seconds in unit cycles within the hour."""

ROBOT_CYCLES: dict[str, pl.DataType] = {
    "unit_id": pl.String(),
    "station_id": pl.String(),
    "variant": pl.String(),
    "at": UTC_US,
    "duration_s": pl.Float64(),
}
"""One row per unit per robot: the unit's first cycle start (``at``) and its cycle time on the robot."""

DOWNTIME: dict[str, pl.DataType] = {
    "station_id": pl.String(),
    "kind": pl.String(),  # fault | setup
    "code": pl.String(),
    "start_at": UTC_US,  # null for an end that closed nothing (reported, never counted as down time)
    "end_at": UTC_US,  # null while still open
}
"""One row per fault or setup interval per station (``mart_an_downtime``'s pairing), and per unmatched end."""

DEFECTS: dict[str, pl.DataType] = {
    "unit_id": pl.String(),
    "measured_at": UTC_US,
    "station_id": pl.String(),
    "characteristic": pl.String(),
    "defect": pl.String(),
    "is_first_pass": pl.Boolean(),
}
"""One row per nonconforming measurement."""

MEASUREMENTS: dict[str, pl.DataType] = {
    "unit_id": pl.String(),
    "measured_at": UTC_US,
    "family": pl.String(),
    "value": pl.Float64(),
}
"""First-pass quality measurements by characteristic family (``screw_torque_nm`` for every screw's torque),
for control charts, capability and the settings analysis."""

ENERGY_HOURLY: dict[str, pl.DataType] = {
    "meter_id": pl.String(),
    "hour_at": UTC_US,
    "kwh": pl.Float64(),
}
"""One row per meter per UTC hour: register deltas spread over the hours they span."""

GRID_HOURLY: dict[str, pl.DataType] = {
    "region": pl.String(),
    "hour_at": UTC_US,
    "gco2e_per_kwh": pl.Float64(),
}
"""One row per region per UTC hour with a grid intensity."""


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with a declared schema."""
    return pl.DataFrame(schema=schema)


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType], name: str) -> pl.DataFrame:
    """Select and cast a frame to a declared schema (extra columns dropped, missing ones are an error).

    Args:
        frame: Input rows.
        schema: Declared columns and dtypes.
        name: Frame name for the error message.

    Returns:
        The frame with exactly the declared columns; naive datetimes are read as UTC.

    Raises:
        ValueError: A declared column is missing.
    """
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks column(s) {', '.join(missing)}; has: {', '.join(frame.columns)}")
    exprs = []
    for col, dtype in schema.items():
        expr = pl.col(col)
        if isinstance(dtype, pl.Datetime):
            current = frame.schema[col]
            if isinstance(current, pl.Datetime) and current.time_zone is None:
                expr = expr.dt.replace_time_zone("UTC")
            elif isinstance(current, pl.Datetime):
                expr = expr.dt.convert_time_zone("UTC")
        exprs.append(expr.cast(dtype).alias(col))
    return frame.select(exprs)


@dataclass(frozen=True)
class Roles:
    """Which of the cell's ids play which part in the KPIs.

    Attributes:
        robots: Robot ids.
        stations: Station ids.
        output_station: The station whose cycle end completes a unit (last operation of the plan).
        parallel_stations: Stations that make parts ahead of the flow (``made_by``); their cycles overlap
            and are not counted in a unit's run time.
        machines: Robots and stations (the meters that may carry direct unit energy).
    """

    robots: tuple[str, ...]
    stations: tuple[str, ...]
    output_station: str
    parallel_stations: tuple[str, ...]

    @property
    def machines(self) -> tuple[str, ...]:
        """Robots and stations."""
        return (*self.robots, *self.stations)


def roles(cell: CellSpec) -> Roles:
    """The :class:`Roles` of a cell.

    Args:
        cell: The validated cell.

    Returns:
        Robots, stations, the output station (station of the last operation of the first variant's plan)
        and the stations that make parts.
    """
    output = None
    for variant in cell.variants:
        plan = cell.expand_plan(variant)
        stations = [op.station_id for op in plan if op.station_id is not None]
        if stations:
            output = stations[-1]
            break
    return Roles(
        robots=tuple(cell.robots),
        stations=tuple(cell.stations),
        output_station=output or next(iter(cell.stations)),
        parallel_stations=tuple(cell.making_stations),
    )


@dataclass(frozen=True)
class PeriodData:
    """Every frame the period figures are computed from.

    Attributes:
        period: The reporting period.
        units: :data:`UNITS` rows of the units whose cycles touch the period.
        downtime: :data:`DOWNTIME` rows overlapping the period.
        occupancy: :data:`OCCUPANCY` rows of the period's hours.
        energy_hourly: :data:`ENERGY_HOURLY` rows of the period's hours.
        grid_hourly: :data:`GRID_HOURLY` rows of the period's hours.
        defects: :data:`DEFECTS` rows of the period's units.
        measurements: :data:`MEASUREMENTS` of selected characteristic families (may be empty).
        robot_cycles: :data:`ROBOT_CYCLES` of the period's units (may be empty).
        source: Which telemetry source the rows come from.
        counted_station: The station whose cycle ends ``units.station_end_at`` holds (None: the output station).
        replication: Which replication of the source (0 for measured rows).
    """

    period: Period
    units: pl.DataFrame = field(default_factory=lambda: empty(UNITS))
    downtime: pl.DataFrame = field(default_factory=lambda: empty(DOWNTIME))
    occupancy: pl.DataFrame = field(default_factory=lambda: empty(OCCUPANCY))
    energy_hourly: pl.DataFrame = field(default_factory=lambda: empty(ENERGY_HOURLY))
    grid_hourly: pl.DataFrame = field(default_factory=lambda: empty(GRID_HOURLY))
    defects: pl.DataFrame = field(default_factory=lambda: empty(DEFECTS))
    measurements: pl.DataFrame = field(default_factory=lambda: empty(MEASUREMENTS))
    robot_cycles: pl.DataFrame = field(default_factory=lambda: empty(ROBOT_CYCLES))
    source: str = "measured"
    counted_station: str | None = None
    replication: int = 0

    def __post_init__(self) -> None:
        for name, schema in (
            ("units", UNITS),
            ("downtime", DOWNTIME),
            ("occupancy", OCCUPANCY),
            ("energy_hourly", ENERGY_HOURLY),
            ("grid_hourly", GRID_HOURLY),
            ("defects", DEFECTS),
            ("measurements", MEASUREMENTS),
            ("robot_cycles", ROBOT_CYCLES),
        ):
            object.__setattr__(self, name, conform(getattr(self, name), schema, name))

    def replace(self, **changes: object) -> PeriodData:
        """A copy with some frames replaced."""
        values = {f: getattr(self, f) for f in self.__dataclass_fields__}
        values.update(changes)
        return PeriodData(**values)  # type: ignore[arg-type]
