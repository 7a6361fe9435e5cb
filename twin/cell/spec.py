"""What the cell IS: validated, frozen specs of robots, stations, parts, operations and variants.

No pybullet and no duckdb here. Every dimensioned number carries its unit in its key (``_s``, ``_m``,
``_kg``, ``_w``, ``_eur``, ``_gco2e_per_kwh``); unknown keys are rejected so a key without its unit
(``mass`` instead of ``mass_kg``) is an error, not a silently ignored value.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

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
    with the motor torque tau_m = tau_rigid_body + viscous_j w + coulomb_j sign(w).
    """

    controller_w: float = Field(ge=0.0)
    copper_loss_w_per_nm2: list[float]
    viscous_friction_nm_s_per_rad: list[float]
    coulomb_friction_nm: list[float]
    regeneration_efficiency: float = Field(default=0.0, ge=0.0, le=1.0)
    torque_scale: list[float] | None = None
    torque_offset_nm: list[float] | None = None
    parameter_set: str = "nominal"

    @model_validator(mode="after")
    def _same_length(self) -> PowerModel:
        n = len(self.copper_loss_w_per_nm2)
        for name in (
            "viscous_friction_nm_s_per_rad",
            "coulomb_friction_nm",
            "torque_scale",
            "torque_offset_nm",
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


StationKind = Literal["printer_bank", "feeder", "fixture", "inspection", "conveyor"]


class StationSpec(Spec):
    """One station: a body in the cell with a pick frame and power by state."""

    kind: StationKind
    urdf: str
    pose: Pose
    pick_frame_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    power_w: dict[str, float]
    printer_count: int | None = Field(default=None, ge=1)
    heating_time_s: float | None = Field(default=None, ge=0.0)
    process_time_s: float | None = Field(default=None, ge=0.0)
    mtbf_h: float | None = Field(default=None, gt=0.0)
    mttr_min: float | None = Field(default=None, gt=0.0)
    urdf_path: Path | None = None

    @model_validator(mode="after")
    def _kind_fields(self) -> StationSpec:
        if self.kind == "printer_bank" and self.printer_count is None:
            raise ValueError("a printer_bank needs printer_count")
        if any(v < 0 for v in self.power_w.values()):
            raise ValueError("power_w values must be non-negative")
        return self


class PartSpec(Spec):
    """A part handled in the cell."""

    urdf: str | None = None
    mass_kg: float = Field(gt=0.0)
    material: str
    insert_mass_kg: float | None = Field(default=None, gt=0.0)
    insert_material: str | None = None
    urdf_path: Path | None = None


class TargetSpec(Spec):
    """A target frame: a station's pick frame plus an offset in the station frame."""

    station: str
    offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)


class OperationSpec(Spec):
    """An operation template: a robot motion to a target, or a station process."""

    robot: str | None = None
    station: str | None = None
    target: TargetSpec | None = None
    approach_m: float = Field(default=0.1, ge=0.0)
    dwell_s: float = Field(default=0.0, ge=0.0)
    carries: str | None = None
    repeat_per_screw: bool = False

    @model_validator(mode="after")
    def _robot_xor_station(self) -> OperationSpec:
        if (self.robot is None) == (self.station is None):
            raise ValueError("an operation names exactly one of robot (with target) or station")
        if self.robot is not None and self.target is None:
            raise ValueError("a robot operation needs a target")
        return self


class VariantSpec(Spec):
    """A product variant: its bracket, screw count, print job and process plan."""

    mix_share: float = Field(ge=0.0, le=1.0)
    bracket: str
    screws: int = Field(ge=0, le=8)
    print_time_s: float = Field(gt=0.0)
    filament_kg: float = Field(gt=0.0)
    plan: list[str]


class BufferSpec(Spec):
    """A buffer between two stations."""

    capacity: int = Field(ge=1)


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


class CostSpec(Spec):
    """Cost parameters (EUR)."""

    currency: Literal["EUR"] = "EUR"
    tariff_id: str
    labour_eur_per_h: float = Field(ge=0.0)
    operators_per_shift: float = Field(ge=0.0)
    depreciation_eur_per_machine_h: dict[str, float]
    maintenance_eur_per_h: float = Field(ge=0.0)
    materials_eur_per_kg: dict[str, float]
    rework_eur_per_unit: float = Field(ge=0.0)


class CarbonSpec(Spec):
    """Carbon accounting parameters (GHG Protocol scope 2 market-based instruments, scope 1 fuels)."""

    grid_region: str
    renewable_share: float = Field(default=0.0, ge=0.0, le=1.0)
    supplier_factor_gco2e_per_kwh: float | None = Field(default=None, ge=0.0)
    scope1_fuels: dict[str, float] = {}


class CharacteristicSpec(Spec):
    """A quality characteristic with its specification limits (in the characteristic's unit)."""

    target: float
    lsl: float
    usl: float

    @model_validator(mode="after")
    def _ordered(self) -> CharacteristicSpec:
        if not self.lsl < self.usl:
            raise ValueError("lsl must be below usl")
        return self


class QualitySpec(Spec):
    """Quality characteristics and the inspection policy."""

    screw_torque_nm: CharacteristicSpec
    gap_mm: CharacteristicSpec
    flush_mm: CharacteristicSpec
    rework_share_of_failed: float = Field(ge=0.0, le=1.0)
    inspection_sampling: float = Field(default=1.0, gt=0.0, le=1.0)
    tool_wear_torque_drift_nm_per_1000_screws: float = 0.0
    maintenance_interval_screws: int = Field(default=6000, ge=1)


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


class CellSpec(Spec):
    """The whole cell definition (assets/cells/<cell>.yaml)."""

    cell: CellInfo
    robots: dict[str, RobotSpec]
    stations: dict[str, StationSpec]
    parts: dict[str, PartSpec]
    operations: dict[str, OperationSpec]
    screw_pattern_m: list[tuple[float, float, float]]
    variants: dict[str, VariantSpec]
    buffers: dict[str, BufferSpec]
    shifts: CalendarSpec
    cost: CostSpec
    carbon: CarbonSpec
    quality: QualitySpec
    obstacles: dict[str, ObstacleSpec] = {}
    source_path: Path | None = None

    @model_validator(mode="after")
    def _references(self) -> CellSpec:
        robots, stations, parts = sorted(self.robots), sorted(self.stations), sorted(self.parts)
        for op_id, op in self.operations.items():
            if op.robot is not None and op.robot not in self.robots:
                raise ValueError(f"operations.{op_id}.robot: unknown robot {op.robot!r}; valid: {', '.join(robots)}")
            station = op.station or (op.target.station if op.target else None)
            if station is not None and station not in self.stations:
                raise ValueError(f"operations.{op_id}: unknown station {station!r}; valid: {', '.join(stations)}")
            if op.carries not in (None, "bracket", "unit") and op.carries not in self.parts:
                raise ValueError(
                    f"operations.{op_id}.carries: unknown part {op.carries!r}; valid: bracket, unit, "
                    + ", ".join(parts)
                )
        for name, variant in self.variants.items():
            if variant.bracket not in self.parts:
                raise ValueError(
                    f"variants.{name}.bracket: unknown part {variant.bracket!r}; valid: {', '.join(parts)}"
                )
            for op_id in variant.plan:
                if op_id not in self.operations:
                    raise ValueError(
                        f"variants.{name}.plan: unknown operation {op_id!r}; "
                        f"valid: {', '.join(sorted(self.operations))}"
                    )
            if variant.screws > len(self.screw_pattern_m):
                raise ValueError(
                    f"variants.{name}.screws: {variant.screws} screws but screw_pattern_m has "
                    f"{len(self.screw_pattern_m)} positions"
                )
        total_share = sum(v.mix_share for v in self.variants.values())
        if self.variants and abs(total_share - 1.0) > 1e-6:
            raise ValueError(f"variants: mix_share values sum to {total_share:g}, not 1")
        for machine in self.cost.depreciation_eur_per_machine_h:
            if machine not in self.robots and machine not in self.stations:
                raise ValueError(
                    f"cost.depreciation_eur_per_machine_h: unknown machine {machine!r}; valid: "
                    + ", ".join(robots + stations)
                )
        if "printer" not in self.stations or self.stations["printer"].kind != "printer_bank":
            raise ValueError("stations: the cell needs a printer_bank station with id 'printer'")
        return self

    def expand_plan(self, variant: str) -> list[PlannedOperation]:
        """A variant's plan with per-screw operations repeated, parts resolved, ids made unique."""
        spec = self.variants[variant]
        bracket = self.parts[spec.bracket]
        panel_mass = self.parts["base_panel"].mass_kg if "base_panel" in self.parts else 0.0
        screw_mass = self.parts["screw_m4"].mass_kg if "screw_m4" in self.parts else 0.0
        unit_mass = panel_mass + bracket.mass_kg + (bracket.insert_mass_kg or 0.0) + spec.screws * screw_mass
        planned: list[PlannedOperation] = []
        for op_id in spec.plan:
            op = self.operations[op_id]
            if op.carries == "bracket":
                payload = bracket.mass_kg + (bracket.insert_mass_kg or 0.0)
            elif op.carries == "unit":
                payload = unit_mass
            elif op.carries is not None:
                payload = self.parts[op.carries].mass_kg
            else:
                payload = 0.0
            repeats = spec.screws if op.repeat_per_screw else 1
            for i in range(repeats):
                offset = op.target.offset_m if op.target else (0.0, 0.0, 0.0)
                if op.repeat_per_screw:
                    pattern = self.screw_pattern_m[i]
                    offset = (offset[0] + pattern[0], offset[1] + pattern[1], offset[2] + pattern[2])
                planned.append(
                    PlannedOperation(
                        operation_id=f"{op_id}_{i + 1}" if op.repeat_per_screw else op_id,
                        template=op_id,
                        robot_id=op.robot,
                        station_id=op.station or (op.target.station if op.target else None),
                        offset_m=offset,
                        approach_m=op.approach_m,
                        dwell_s=op.dwell_s,
                        payload_kg=payload,
                        process_time_s=(
                            self.stations[op.station].process_time_s or 0.0 if op.station is not None else None
                        ),
                    )
                )
        return planned


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
