"""What the cell IS: validated, frozen specs of robots, stations, parts, operations and variants.

No pybullet and no duckdb here. Every dimensioned number carries its unit in its key (``_s``, ``_m``,
``_kg``, ``_w``, ``_eur``, ``_gco2e_per_kwh``); unknown keys are rejected so a key without its unit
(``mass`` instead of ``mass_kg``) is an error, not a silently ignored value.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Spec(BaseModel):
    """Base of every spec: frozen, unknown keys forbidden."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Pose(Spec):
    """A planar-mounted pose: position in metres, yaw about world z in degrees."""

    x_m: float
    y_m: float
    z_m: float = 0.0
    yaw_deg: float = 0.0

    @property
    def yaw_rad(self) -> float:
        """Yaw in radians."""
        return math.radians(self.yaw_deg)

    def transform(self, local: tuple[float, float, float] | list[float]) -> tuple[float, float, float]:
        """A point given in this pose's frame, expressed in the world frame."""
        c, s = math.cos(self.yaw_rad), math.sin(self.yaw_rad)
        x, y, z = local
        return (self.x_m + c * x - s * y, self.y_m + s * x + c * y, self.z_m + z)


class JointLimits(Spec):
    """Per-joint kinematic limits of the arm joints (URDF movable-joint order, arm joints only)."""

    velocity_rad_per_s: list[float]
    acceleration_rad_per_s2: list[float]
    jerk_rad_per_s3: list[float]

    @model_validator(mode="after")
    def _same_length_and_positive(self) -> JointLimits:
        lengths = {len(self.velocity_rad_per_s), len(self.acceleration_rad_per_s2), len(self.jerk_rad_per_s3)}
        if len(lengths) != 1:
            raise ValueError("velocity, acceleration and jerk limits need one value per arm joint each")
        for values in (self.velocity_rad_per_s, self.acceleration_rad_per_s2, self.jerk_rad_per_s3):
            if any(v <= 0 for v in values):
                raise ValueError("limits must be positive")
        return self


class ToolSpec(Spec):
    """The end effector: its mass rides on the tool-mount link."""

    name: str
    mass_kg: float = Field(ge=0.0)
    grip_time_s: float = Field(default=0.3, ge=0.0)


class PowerModel(Spec):
    """Electrical power model of one robot (SPEC.md, Physics).

    P = controller_w + sum_j [ pos(tau_m w) + regeneration_efficiency * neg(tau_m w) + k_j tau_m^2 ],
    with the motor torque tau_m = tau_sensor + viscous_j w + coulomb_j sign(w) and the torque a joint torque
    sensor reads tau_sensor = scale_j tau_rigid_body + offset_j + sensor_viscous_j w + sensor_coulomb_j sign(w).

    Friction sits on one side of the torque sensor or the other: ``viscous_friction_nm_s_per_rad`` and
    ``coulomb_friction_nm`` are the drive's (motor and gearbox, before the sensor: a sensor does not see them,
    a motor current and the power do); ``sensor_*`` is the friction the sensor sees (between it and the link).
    Both cost power. A robot without joint torque sensors has one total friction: the drive's.
    """

    controller_w: float = Field(ge=0.0)
    copper_loss_w_per_nm2: list[float]
    viscous_friction_nm_s_per_rad: list[float]
    coulomb_friction_nm: list[float]
    regeneration_efficiency: float = Field(default=0.0, ge=0.0, le=1.0)
    torque_scale: list[float] | None = None
    torque_offset_nm: list[float] | None = None
    sensor_viscous_friction_nm_s_per_rad: list[float] | None = None
    sensor_coulomb_friction_nm: list[float] | None = None
    parameter_set: str = "nominal"

    @model_validator(mode="after")
    def _same_length(self) -> PowerModel:
        n = len(self.copper_loss_w_per_nm2)
        for name in (
            "viscous_friction_nm_s_per_rad",
            "coulomb_friction_nm",
            "torque_scale",
            "torque_offset_nm",
            "sensor_viscous_friction_nm_s_per_rad",
            "sensor_coulomb_friction_nm",
        ):
            values = getattr(self, name)
            if values is not None and len(values) != n:
                raise ValueError(f"{name} has {len(values)} values, copper_loss_w_per_nm2 has {n}")
        if any(v < 0 for v in self.copper_loss_w_per_nm2):
            raise ValueError("copper_loss_w_per_nm2 must be non-negative")
        return self


class RobotSpec(Spec):
    """One robot of the cell."""

    model: str
    urdf: str
    base_pose: Pose
    tcp_link: str
    tool_mount_link: str
    tcp_offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    home_q_rad: list[float]
    speed_override: float = Field(gt=0.0, le=1.0)
    limits: JointLimits
    tool: ToolSpec
    power_model: PowerModel
    mtbf_h: float = Field(default=80.0, gt=0.0)
    mttr_min: float = Field(default=6.0, gt=0.0)
    urdf_path: Path | None = None  # resolved by the loader

    @model_validator(mode="after")
    def _consistent_dofs(self) -> RobotSpec:
        n = len(self.limits.velocity_rad_per_s)
        if len(self.power_model.copper_loss_w_per_nm2) != n:
            raise ValueError(f"power_model has {len(self.power_model.copper_loss_w_per_nm2)} joints, limits {n}")
        if len(self.home_q_rad) < n:
            raise ValueError(f"home_q_rad has {len(self.home_q_rad)} values, the arm has {n} joints")
        return self

    @property
    def n_arm_joints(self) -> int:
        """Number of actuated arm joints the planner moves."""
        return len(self.limits.velocity_rad_per_s)


StationKind = Literal["machine", "feeder", "fixture", "inspection", "conveyor", "manual"]
"""Station kinds (vocabulary, never ids): ``machine`` (a bank of ``count`` parallel machines with a process
time per variant: 3D printers, CNC, laser, press), ``feeder`` (a feeder or kitting rack), ``fixture`` (a
fixture or jig with ``nests``), ``inspection`` (measures the characteristics of its operations, on a
``sampling`` share of the units), ``conveyor`` (an outfeed or conveyor with ``places``) and ``manual`` (a
station worked by ``operators``)."""

PerVariant = float | dict[str, float]
"""One number for every variant, or one per variant id."""


class StationSpec(Spec):
    """One station: a body in the cell with a pick frame, power by state and its kind's parameters."""

    kind: StationKind
    urdf: str
    pose: Pose
    pick_frame_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    power_w: dict[str, float]
    count: int = Field(default=1, ge=1)
    nests: int | None = Field(default=None, ge=1)
    places: int | None = Field(default=None, ge=1)
    setup_time_s: float = Field(default=0.0, ge=0.0)
    process_time_s: PerVariant | None = None
    consumables_kg_per_unit: dict[str, PerVariant] = {}
    sampling: float | None = Field(default=None, gt=0.0, le=1.0)
    operators: float | None = Field(default=None, ge=0.0)
    mtbf_h: float | None = Field(default=None, gt=0.0)
    mttr_min: float | None = Field(default=None, gt=0.0)
    urdf_path: Path | None = None

    @model_validator(mode="after")
    def _kind_fields(self) -> StationSpec:
        allowed = {
            "machine": {"count", "setup_time_s", "process_time_s", "consumables_kg_per_unit"},
            "feeder": set(),
            "fixture": {"nests"},
            "inspection": {"process_time_s", "sampling"},
            "conveyor": {"process_time_s", "places"},
            "manual": {"count", "process_time_s", "operators", "consumables_kg_per_unit"},
        }[self.kind]
        given = {  # a parameter differing from its default (a stored cell spells out every default)
            name
            for name in ("count", "nests", "places", "setup_time_s", "process_time_s", "consumables_kg_per_unit")
            + ("sampling", "operators")
            if getattr(self, name) != type(self).model_fields[name].default
        }
        if given - allowed:
            raise ValueError(
                f"a {self.kind} station takes no {', '.join(sorted(given - allowed))}; "
                f"its parameters: {', '.join(sorted(allowed)) or 'none'}"
            )
        if self.kind == "machine" and self.process_time_s is None:
            raise ValueError("a machine station needs process_time_s (one number, or one per variant)")
        values = self.process_time_s.values() if isinstance(self.process_time_s, dict) else [self.process_time_s]
        if any(v is not None and v < 0 for v in values):
            raise ValueError("process_time_s must be non-negative")
        if any(v < 0 for v in self.power_w.values()):
            raise ValueError("power_w values must be non-negative")
        return self

    @property
    def capacity(self) -> int:
        """Units the station holds at once: machines or operators in parallel, nests, or places."""
        return self.nests or self.places or self.count

    @property
    def inspection_sampling(self) -> float:
        """The share of units an inspection station measures (1 for any other kind)."""
        return self.sampling if self.sampling is not None else 1.0

    def process_time_for(self, variant: str) -> float:
        """The station's process time for one unit of ``variant`` (0 when it has none)."""
        value = self.process_time_s
        if isinstance(value, dict):
            return float(value.get(variant, 0.0))
        return float(value or 0.0)

    def consumables_for(self, variant: str) -> dict[str, float]:
        """Material -> kg the station consumes per unit of ``variant``."""
        out = {}
        for material, value in self.consumables_kg_per_unit.items():
            kg = float(value.get(variant, 0.0)) if isinstance(value, dict) else float(value)
            if kg > 0:
                out[material] = kg
        return out


class PartSpec(Spec):
    """A part handled in the cell: bought, or made in the cell by a machine station (``made_by``)."""

    urdf: str | None = None
    mass_kg: float = Field(gt=0.0)
    material: str
    made_by: str | None = None
    feedstock_kg: float | None = Field(default=None, gt=0.0)
    """Material consumed to make one (waste included) when ``made_by``; the part's mass otherwise."""
    urdf_path: Path | None = None

    @property
    def material_kg(self) -> float:
        """Kilograms of :attr:`material` one part takes: its feedstock when made in the cell, else its mass."""
        return self.feedstock_kg if self.feedstock_kg is not None else self.mass_kg


class TargetSpec(Spec):
    """A target frame: a station's pick frame plus an offset in the station frame."""

    station: str
    offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)


UNIT = "unit"
"""What an operation carries when it moves the whole unit (vocabulary, not an id)."""

HOLDING_KINDS = ("fixture", "machine", "manual")
"""Station kinds a unit is placed into and held at (a nest, a machine, a work place) until carried away."""


class OperationSpec(Spec):
    """An operation template: a robot motion to a target, or a station process.

    ``carries`` names the bill-of-materials slots (or ``unit``) the robot holds, for its payload;
    ``repeat_per`` repeats the operation once per piece of a slot (a screw per screw), at the successive
    ``pattern_m`` offsets.
    """

    robot: str | None = None
    station: str | None = None
    target: TargetSpec | None = None
    approach_m: float = Field(default=0.1, ge=0.0)
    dwell_s: float = Field(default=0.0, ge=0.0)
    carries: list[str] = []
    repeat_per: str | None = None
    pattern_m: list[tuple[float, float, float]] = []

    @field_validator("carries", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _robot_xor_station(self) -> OperationSpec:
        if (self.robot is None) == (self.station is None):
            raise ValueError("an operation names exactly one of robot (with target) or station")
        if self.robot is not None and self.target is None:
            raise ValueError("a robot operation needs a target")
        if self.repeat_per is not None and not self.pattern_m:
            raise ValueError("repeat_per needs pattern_m: one offset per repetition")
        return self

    @property
    def station_id(self) -> str | None:
        """The station the operation works at: its own, or its target's."""
        return self.station or (self.target.station if self.target else None)


class BomItem(Spec):
    """One slot of a variant's bill of materials: a part and how many."""

    part: str
    qty: int = Field(default=1, ge=1)


class VariantSpec(Spec):
    """A product variant: its bill of materials (slot -> part) and its process plan (operation ids)."""

    mix_share: float = Field(ge=0.0, le=1.0)
    bom: dict[str, BomItem]
    plan: list[str]

    @field_validator("bom", mode="before")
    @classmethod
    def _part_shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {slot: {"part": item} if isinstance(item, str) else item for slot, item in value.items()}
        return value

    def qty(self, slot: str) -> int:
        """Pieces in a bill-of-materials slot (0 when the variant has no such slot)."""
        item = self.bom.get(slot)
        return item.qty if item is not None else 0


class BufferSpec(Spec):
    """A buffer of ``capacity`` units where the plan passes from one robot or station (``from``) to another (``to``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    capacity: int = Field(ge=1)
    from_: str = Field(alias="from")
    to: str


class ShiftSpec(Spec):
    """A shift, local wall-clock times HH:MM."""

    name: str
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        _parse_hhmm(value)
        return value


class BreakSpec(Spec):
    """A planned break, local wall-clock start."""

    start: str
    duration_min: float = Field(gt=0.0)

    @field_validator("start")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        _parse_hhmm(value)
        return value


def _parse_hhmm(value: str) -> int:
    try:
        hours, minutes = value.split(":")
        h, m = int(hours), int(minutes)
    except ValueError as exc:
        raise ValueError(f"time {value!r} is not HH:MM") from exc
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m != 0):
        raise ValueError(f"time {value!r} is not HH:MM")
    return h * 60 + m


class CalendarSpec(Spec):
    """The shift calendar in the cell's time zone."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]]
    shifts: list[ShiftSpec]
    breaks: list[BreakSpec] = []

    def shift_minutes(self) -> list[tuple[int, int]]:
        """Shifts as (start, end) minutes after local midnight; an end past midnight exceeds 1440."""
        spans = []
        for shift in self.shifts:
            start, end = _parse_hhmm(shift.start), _parse_hhmm(shift.end)
            spans.append((start, end if end > start else end + 1440))
        return spans

    def break_minutes(self) -> list[tuple[float, float]]:
        """Breaks as (start, end) minutes after local midnight."""
        return [(_parse_hhmm(b.start), _parse_hhmm(b.start) + b.duration_min) for b in self.breaks]


class ExchangeRateSpec(Spec):
    """An exchange rate into the cell's currency: 1 unit of the keyed currency = ``rate`` cell-currency units."""

    rate: float = Field(gt=0.0)
    date: dt.date
    source: str = Field(min_length=1)

    @field_validator("source")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("source must name where the rate was read (e.g. a central bank's table and date)")
        return value


class CostSpec(Spec):
    """Cost parameters, every amount in the cell's ``currency`` (an ISO 4217 code).

    ``exchange_rates`` converts a price row in another currency (a tariff in EUR/kWh for a PLN cell):
    ``{EUR: {rate: 4.3, date: 2024-12-31, source: "..."}}`` means 1 EUR = 4.3 units of ``currency``.
    """

    currency: str = "EUR"
    tariff_id: str
    labour_per_h: float = Field(ge=0.0)
    operators_per_shift: float = Field(ge=0.0)
    depreciation_per_machine_h: dict[str, float]
    maintenance_per_h: float = Field(ge=0.0)
    materials_per_kg: dict[str, float]
    rework_per_unit: float = Field(ge=0.0)
    exchange_rates: dict[str, ExchangeRateSpec] = {}

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha() or not value.isupper():
            raise ValueError(f"currency {value!r} is not an ISO 4217 code (three capital letters, e.g. EUR, PLN)")
        return value

    @model_validator(mode="after")
    def _rates_from_other_currencies(self) -> CostSpec:
        for code in self.exchange_rates:
            try:
                self._iso_4217(code)
            except ValueError as exc:
                raise ValueError(f"exchange_rates.{code}: {exc}") from exc
            if code == self.currency:
                raise ValueError(f"exchange_rates.{code}: a rate from the cell's own currency {code} to itself")
        return self


class CarbonSpec(Spec):
    """Carbon accounting parameters (GHG Protocol scope 2 market-based instruments, scope 1 fuels)."""

    grid_region: str
    renewable_share: float = Field(default=0.0, ge=0.0, le=1.0)
    supplier_factor_gco2e_per_kwh: float | None = Field(default=None, ge=0.0)
    scope1_fuels: dict[str, float] = {}


class CharacteristicSpec(Spec):
    """A quality characteristic: its unit, specification limits, and the operation that measures it.

    A characteristic measured by an operation that repeats (a torque per screw) is recorded once per
    repetition, as ``<first word>_<k>_<rest>`` (:func:`item_characteristic`). Its measurements may drift with
    tool wear (``drift_per_1000``, in its unit per 1,000 measurements) until the tool is serviced every
    ``service_interval`` measurements.
    """

    unit: str
    target: float
    lsl: float
    usl: float
    measured_by: str
    drift_per_1000: float = 0.0
    service_interval: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> CharacteristicSpec:
        if not self.lsl < self.usl:
            raise ValueError("lsl must be below usl")
        return self


def item_characteristic(characteristic: str, index: int) -> str:
    """The name of a repeated measurement's ``index``-th item (1-based): the index after the first word.

    >>> item_characteristic("screw_torque_nm", 3)
    'screw_3_torque_nm'
    """
    head, _, rest = characteristic.partition("_")
    return f"{head}_{index}_{rest}"


class QualitySpec(Spec):
    """Quality characteristics and what happens to a unit that fails."""

    characteristics: dict[str, CharacteristicSpec]
    rework_share_of_failed: float = Field(ge=0.0, le=1.0)


class AuxPowerSpec(Spec):
    """Constant draw of the ``cell_aux`` meter (lighting, compressed air, controllers), in W."""

    in_shift: float = Field(default=1200.0, ge=0.0)
    off_shift: float = Field(default=150.0, ge=0.0)


class IdleShareSpec(Spec):
    """A robot's draw while it waits (no motion), as a share of its ``power_model.controller_w``."""

    in_shift: float = Field(default=0.35, ge=0.0, le=1.0)
    off_shift: float = Field(default=0.2, ge=0.0, le=1.0)


class CellInfo(Spec):
    """Identity and context of the cell."""

    id: str
    name: str
    timezone: str
    grid_region: str
    clearance_threshold_m: float = Field(default=0.02, ge=0.0)
    aux_power_w: AuxPowerSpec = AuxPowerSpec()
    robot_idle_share: IdleShareSpec = IdleShareSpec()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)") from exc
        return value


class ObstacleSpec(Spec):
    """A box obstacle (guard, cart, pallet) placed in the cell; checked like any cell body."""

    size_m: tuple[float, float, float]
    pose: Pose

    @field_validator("size_m")
    @classmethod
    def _positive(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(v <= 0 for v in value):
            raise ValueError("size_m values must be positive")
        return value


CELL_FORMAT = 2
"""The cell file format this code reads; older files are migrated when they load (:mod:`twin.cell.migrate`)."""


def base_variant(name: str) -> str:
    """A planning-only variant's product variant (the part before ``|``); a variant id is its own."""
    return name.split("|", 1)[0]


class CellSpec(Spec):
    """The whole cell definition (assets/cells/<cell>.yaml)."""

    format: Literal[2] = CELL_FORMAT
    cell: CellInfo
    robots: dict[str, RobotSpec]
    stations: dict[str, StationSpec]
    parts: dict[str, PartSpec]
    operations: dict[str, OperationSpec]
    variants: dict[str, VariantSpec]
    buffers: dict[str, BufferSpec] = {}
    shifts: CalendarSpec
    cost: CostSpec
    carbon: CarbonSpec
    quality: QualitySpec
    obstacles: dict[str, ObstacleSpec] = {}
    source_path: Path | None = None

    @model_validator(mode="after")
    def _references(self) -> CellSpec:
        robots, stations, parts = sorted(self.robots), sorted(self.stations), sorted(self.parts)
        machines = robots + stations

        def valid(options: list[str] | set[str]) -> str:
            return ", ".join(sorted(options)) or "none"

        slots = {slot for v in self.variants.values() for slot in v.bom}
        taken = set(self.robots) & set(self.stations)
        if taken:
            raise ValueError(f"stations: id {sorted(taken)[0]!r} is also a robot's; ids must be unique in the cell")
        for op_id, op in self.operations.items():
            if op.robot is not None and op.robot not in self.robots:
                raise ValueError(f"operations.{op_id}.robot: unknown robot {op.robot!r}; valid: {valid(robots)}")
            if op.station_id is not None and op.station_id not in self.stations:
                raise ValueError(f"operations.{op_id}: unknown station {op.station_id!r}; valid: {valid(stations)}")
            for slot in op.carries:
                if slot != UNIT and slot not in slots:
                    raise ValueError(
                        f"operations.{op_id}.carries: unknown bill-of-materials slot {slot!r}; "
                        f"valid: {UNIT}, {valid(slots)}"
                    )
            if op.repeat_per is not None and op.repeat_per not in slots:
                raise ValueError(
                    f"operations.{op_id}.repeat_per: unknown bill-of-materials slot {op.repeat_per!r}; "
                    f"valid: {valid(slots)}"
                )
        for part_id, part in self.parts.items():
            if part.made_by is not None:
                maker = self.stations.get(part.made_by)
                if maker is None or maker.kind != "machine":
                    makers = [sid for sid, s in self.stations.items() if s.kind == "machine"]
                    raise ValueError(
                        f"parts.{part_id}.made_by: {part.made_by!r} is not a machine station; valid: {valid(makers)}"
                    )
        for name, variant in self.variants.items():
            if "|" in name:
                raise ValueError(f"variants.{name}: a variant id cannot contain '|'")
            for slot, item in variant.bom.items():
                if item.part not in self.parts:
                    raise ValueError(f"variants.{name}.bom.{slot}: unknown part {item.part!r}; valid: {valid(parts)}")
            for op_id in variant.plan:
                if op_id not in self.operations:
                    raise ValueError(
                        f"variants.{name}.plan: unknown operation {op_id!r}; valid: {valid(set(self.operations))}"
                    )
                op = self.operations[op_id]
                if op.repeat_per is not None and variant.qty(op.repeat_per) > len(op.pattern_m):
                    raise ValueError(
                        f"variants.{name}: {variant.qty(op.repeat_per)} x {op.repeat_per} but operations."
                        f"{op_id}.pattern_m has {len(op.pattern_m)} positions"
                    )
        total_share = sum(v.mix_share for v in self.variants.values())
        if self.variants and abs(total_share - 1.0) > 1e-6:
            raise ValueError(f"variants: mix_share values sum to {total_share:g}, not 1")
        for sid, station in self.stations.items():
            for key in ("process_time_s",):
                value = getattr(station, key)
                if isinstance(value, dict):
                    for variant in value:
                        if variant not in self.variants:
                            raise ValueError(
                                f"stations.{sid}.{key}: unknown variant {variant!r}; valid: {valid(set(self.variants))}"
                            )
            for material, value in station.consumables_kg_per_unit.items():
                for variant in value if isinstance(value, dict) else ():
                    if variant not in self.variants:
                        raise ValueError(
                            f"stations.{sid}.consumables_kg_per_unit.{material}: unknown variant {variant!r}; "
                            f"valid: {valid(set(self.variants))}"
                        )
        for buffer_id, buffer in self.buffers.items():
            for end in (buffer.from_, buffer.to):
                if end not in self.robots and end not in self.stations:
                    raise ValueError(f"buffers.{buffer_id}: unknown robot or station {end!r}; valid: {valid(machines)}")
        for machine in self.cost.depreciation_per_machine_h:
            if machine not in self.robots and machine not in self.stations:
                raise ValueError(
                    f"cost.depreciation_per_machine_h: unknown machine {machine!r}; valid: {valid(machines)}"
                )
        for name, char in self.quality.characteristics.items():
            if char.measured_by not in self.operations:
                raise ValueError(
                    f"quality.characteristics.{name}.measured_by: unknown operation {char.measured_by!r}; "
                    f"valid: {valid(set(self.operations))}"
                )
            if self.operations[char.measured_by].repeat_per is not None and "_" not in name:
                raise ValueError(
                    f"quality.characteristics.{name}: measured per repetition of {char.measured_by}, so its name "
                    "needs a first word to index (e.g. screw_torque_nm -> screw_3_torque_nm)"
                )
        samplings = {s.inspection_sampling for s in self.stations.values() if s.kind == "inspection"}
        if len(samplings) > 1:
            raise ValueError("stations: every inspection station samples the same share of units (one sampling)")
        return self

    @property
    def inspection_sampling(self) -> float:
        """The share of units inspection measures (1 when the cell inspects every unit or has no inspection)."""
        return next((s.inspection_sampling for s in self.stations.values() if s.kind == "inspection"), 1.0)

    @property
    def making_stations(self) -> list[str]:
        """Machine stations that make parts ahead of the units' flow (some part is ``made_by`` them)."""
        makers = {part.made_by for part in self.parts.values() if part.made_by is not None}
        return [sid for sid in self.stations if sid in makers]

    def stations_of_kind(self, kind: str) -> list[str]:
        """Ids of the stations of one kind, in file order."""
        return [sid for sid, s in self.stations.items() if s.kind == kind]

    def unit_mass_kg(self, variant: str) -> float:
        """The mass of one finished unit of a variant: every part of its bill of materials."""
        spec = self.variants[base_variant(variant)]
        return sum(self.parts[item.part].mass_kg * item.qty for item in spec.bom.values())

    def payload_kg(self, variant: str, carries: list[str]) -> float:
        """What a robot holds in an operation that carries these slots (or the whole unit) of a variant."""
        if UNIT in carries:
            return self.unit_mass_kg(variant)
        spec = self.variants[base_variant(variant)]
        return sum(self.parts[spec.bom[slot].part].mass_kg * spec.bom[slot].qty for slot in carries if slot in spec.bom)

    @property
    def per_item_characteristics(self) -> list[str]:
        """Characteristics measured once per repetition of an operation (a torque per screw), in file order."""
        chars = self.quality.characteristics
        return [name for name, c in chars.items() if self.operations[c.measured_by].repeat_per is not None]

    @property
    def inspected_characteristics(self) -> list[str]:
        """Characteristics measured by an inspection station's operation, in file order."""
        inspecting = set(self.stations_of_kind("inspection"))
        return [
            name
            for name, c in self.quality.characteristics.items()
            if self.operations[c.measured_by].station in inspecting
        ]

    def held_at_end(self, variant: str) -> str | None:
        """The station a unit of the variant is still held at when its plan ends (:meth:`holding_steps`)."""
        held = None
        for leaves, enters in self.holding_steps(variant):
            held = enters or (None if leaves is not None else held)
        return held

    def holding_steps(self, variant: str) -> list[tuple[str | None, str | None]]:
        """Where a unit of a variant is held along its expanded plan: per operation, (leaves, enters).

        A unit is held at a fixture, machine or manual station from the robot operation that places a part
        of it there (carries a bill-of-materials slot to it) until the first operation that carries the
        whole unit to another station, or puts it on a conveyor. ``leaves`` is the station the unit leaves
        as the operation starts; ``enters`` the station the operation places it at.
        """
        steps: list[tuple[str | None, str | None]] = []
        holding: str | None = None
        for op in self.expand_plan(variant):
            template = self.operations[op.template]
            leaves = enters = None
            station = op.station_id
            if op.robot_id is not None:
                if template.carries and station != holding and (UNIT in template.carries or holding is None):
                    leaves, holding = holding, None
                    if station is not None and self.stations[station].kind in HOLDING_KINDS:
                        enters = holding = station
            elif station is not None and self.stations[station].kind == "conveyor":
                leaves, holding = holding, None
            steps.append((leaves, enters))
        return steps

    def stage_runs(self, variant: str) -> list[StageRun]:
        """A variant's expanded plan as stages: runs of one robot's operations, and stations' processes.

        A stage is a maximal run of one robot's operations, with the inspection it waits at and the conveyor
        it puts the unit on, or one machine's or manual station's process of the unit. A robot may work
        several stages (it loads a machine and later unloads it).

        Raises:
            ValueError: The plan starts at a station, a station processes a unit no robot placed there, or
                one run places the unit at two stations.
        """
        runs: list[StageRun] = []
        holding: str | None = None
        for index, (op, (leaves, enters)) in enumerate(
            zip(self.expand_plan(variant), self.holding_steps(variant), strict=True)
        ):
            if leaves is not None:
                holding = None
            if op.robot_id is not None:
                if not runs or runs[-1].process or runs[-1].owner != op.robot_id:
                    runs.append(StageRun(owner=op.robot_id, ops=()))
                last = runs[-1]
                if enters is not None:
                    if last.enters is not None:
                        raise ValueError(
                            f"plan of {variant}: robot {op.robot_id} places the unit at {last.enters} and then at "
                            f"{enters} in one run of operations; hand it over between two stations in two runs"
                        )
                    holding = enters
                runs[-1] = last.model_copy(update={"ops": (*last.ops, index), "enters": enters or last.enters})
                continue
            station = op.station_id or ""
            if not runs:
                raise ValueError(f"plan of {variant}: the plan starts with station {station}; a robot loads first")
            if self.stations[station].kind in ("machine", "manual"):
                if holding != station:
                    raise ValueError(
                        f"plan of {variant}: {op.operation_id} processes the unit at {station}, but no robot "
                        f"operation places it there (carries a part or the unit to {station})"
                    )
                runs.append(StageRun(owner=station, process=True, ops=(index,)))
            else:
                runs[-1] = runs[-1].model_copy(update={"ops": (*runs[-1].ops, index)})
        return runs

    def expand_plan(self, variant: str) -> list[PlannedOperation]:
        """A variant's plan with repeated operations unrolled, payloads resolved, ids made unique."""
        spec = self.variants[variant]
        planned: list[PlannedOperation] = []
        for op_id in spec.plan:
            op = self.operations[op_id]
            payload = self.payload_kg(variant, op.carries)
            repeats = spec.qty(op.repeat_per) if op.repeat_per is not None else 1
            for i in range(repeats):
                offset = op.target.offset_m if op.target else (0.0, 0.0, 0.0)
                if op.repeat_per is not None:
                    pattern = op.pattern_m[i]
                    offset = (offset[0] + pattern[0], offset[1] + pattern[1], offset[2] + pattern[2])
                station = op.station
                planned.append(
                    PlannedOperation(
                        operation_id=f"{op_id}_{i + 1}" if op.repeat_per is not None else op_id,
                        template=op_id,
                        robot_id=op.robot,
                        station_id=op.station_id,
                        offset_m=offset,
                        approach_m=op.approach_m,
                        dwell_s=op.dwell_s,
                        payload_kg=payload,
                        process_time_s=(
                            self.stations[station].process_time_for(base_variant(variant))
                            if station is not None
                            else None
                        ),
                    )
                )
        return planned


class StageRun(Spec):
    """One stage of a variant's plan (:meth:`CellSpec.stage_runs`).

    Attributes:
        owner: The robot that works the stage, or the station that processes the unit in it.
        process: True for a station's process without a robot (a machine, a manual station).
        ops: Indices of its operations in the expanded plan.
        enters: The station where the stage places the unit (held there until carried away).
    """

    owner: str
    process: bool = False
    ops: tuple[int, ...]
    enters: str | None = None


class PlannedOperation(Spec):
    """One concrete operation of a variant's plan, as the physics and the simulation see it."""

    operation_id: str
    template: str
    robot_id: str | None
    station_id: str | None
    offset_m: tuple[float, float, float]
    approach_m: float
    dwell_s: float
    payload_kg: float
    process_time_s: float | None
