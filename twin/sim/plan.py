"""A scenario's cell -> the simulation's inputs: stages per variant from the physics twin, faults and defects.

Operation durations and energies come from the physics twin's plan of the scenario's cell
(:func:`twin.physics.evaluate.plan_cell`, a :class:`twin.physics.plan.CellPlan`), cached by the content
hash of its inputs, so a scenario re-plans only the operations its changes touched.

The production model reads a variant's plan as **stages**: maximal runs of operations by one robot (R1
loads the fixture; R2 screws, carries the unit to inspection, waits for it and carries it to the
outfeed). Station operations run inside the stage of the robot that waits for them (inspection) or end
the unit's way through the cell (the outfeed conveyor runs on while the robot goes home). A unit holds
a fixture nest from the start of loading until the first operation that carries the whole unit away.
When an operation template is assigned to another robot (``changes.operation_robots``, e.g. the screws
to a second screwdriver ``R2b``), its work becomes a stage of its own and the stages hand the unit over.

Everything here is plain data (frozen dataclasses of floats and strings, and the validated cell): it
pickles to worker processes and Ray tasks, and the model never touches pybullet. Cost and carbon are not
here: a replication's KPIs are the analytics' period figures of its telemetry (:mod:`twin.sim.kpis`), so
tariffs, grid factors and the bill of materials have one owner, :mod:`twin.analytics`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from twin.analytics.ideal import plan_ideal_cycle_times
from twin.cell.calendar import ShiftCalendar
from twin.cell.sampling import WITHOUT_INSPECTION, inspection_stations, plan_without_inspection
from twin.cell.spec import CellSpec
from twin.errors import ConfigError, PhysicsError
from twin.telemetry.schema import SIMULATED_PREFIX

# segment kinds of a stage
WORK, RELEASE_NEST, INSPECT, SCREWED, CONVEY = range(5)

BIN_S = 900.0  # energy meter interval (the generator's 15 min)
NOMINAL_CP = 5.0 / 3.0  # nominal process capability (Cp) when no measured quality data exists
REPAIR_SIGMA = 0.6  # log-normal spread of repair times (mean = MTTR)
NEST_BUFFER = "fixture_to_inspection"  # fixture nests: units loaded or in work on the fixture
BRACKET_BUFFER = "printer_to_fixture"  # printed brackets waiting for the loader
OUTFEED_BUFFER = "inspection_to_outfeed"  # places on the outfeed conveyor
DEFAULT_BUFFERS = {NEST_BUFFER: 2, BRACKET_BUFFER: 6, OUTFEED_BUFFER: 4}


@dataclass(frozen=True)
class Segment:
    """One step of a stage: work of a robot or station, or a hand-over point."""

    kind: int
    resource: str = ""
    duration_s: float = 0.0
    energy_j: float = 0.0
    count: int = 0


@dataclass(frozen=True)
class VariantPlan:
    """How one variant goes through the cell."""

    name: str
    share: float
    screws: int
    print_s: float
    stages: tuple[tuple[Segment, ...], ...]
    stages_no_inspection: tuple[tuple[Segment, ...], ...] | None
    stage_work_s: tuple[float, ...]
    cycle_time_s: float


@dataclass(frozen=True)
class Fault:
    """Faults of one resource: exponential operating time between failures, log-normal repairs."""

    mtbf_s: float
    mttr_s: float


@dataclass(frozen=True)
class Characteristic:
    """A measured characteristic: normal with this mean and spread, judged against its limits."""

    name: str
    mean: float
    sigma: float
    lsl: float
    usl: float

    @property
    def p_out(self) -> float:
        """Probability of a measurement outside the limits."""
        return _normal_out(self.mean, self.sigma, self.lsl, self.usl)


@dataclass(frozen=True)
class Quality:
    """Defect model: screw torque per screw (with tool-wear drift) and gap/flush at inspection."""

    torque_mean_nm: float
    torque_sigma_nm: float
    torque_lsl: float
    torque_usl: float
    drift_nm_per_screw: float
    maintenance_interval_screws: int
    p_inspection_defect: float
    rework_share: float
    sampling: float
    source: str
    inspected: tuple[Characteristic, ...] = ()


@dataclass(frozen=True)
class SimInputs:
    """Everything one replication needs; plain data."""

    scenario_id: str
    start_iso: str
    cell: CellSpec
    calendar: ShiftCalendar
    variants: tuple[VariantPlan, ...]
    stage_robots: tuple[str, ...]
    screw_robot: str | None
    printer_id: str
    printer_count: int
    heating_s: float
    printer_power_w: dict[str, float]
    buffers: dict[str, int]
    faults: dict[str, Fault]
    quality: Quality
    meters: tuple[str, ...]
    idle_w: dict[str, tuple[float, float]]
    in_shift: tuple[bool, ...]
    resources: tuple[str, ...]
    ideal_cycle_s: dict[str, float]
    grid_intensity: tuple[tuple[int, str, float, int], ...] = ()
    """Measured grid intensity rows ``(ts_us, region, gco2e_per_kwh, interval_min)`` of the period (may be none)."""

    @property
    def source(self) -> str:
        """The ``source`` of the scenario's telemetry: ``simulated:<scenario>``."""
        return f"{SIMULATED_PREFIX}{self.scenario_id}"

    @property
    def horizon_s(self) -> float:
        """Length of the simulated period."""
        return self.calendar.horizon_s

    @property
    def n_bins(self) -> int:
        """Number of 15-minute energy bins."""
        return max(1, int(math.ceil(self.calendar.horizon_s / BIN_S)))


def plan_variants(cell: CellSpec, cache: Any = None) -> Any:
    """Plan the cell in the physics twin (with its planning-only variants when inspection samples); cached.

    Args:
        cell: The (changed) cell.
        cache: A :class:`twin.physics.cache.PhysicsCache`; the on-disk default when None.

    Returns:
        The :class:`twin.physics.plan.CellPlan`.

    Raises:
        PhysicsError: A variant is infeasible (unreachable target, joint limit, collision).
    """
    from twin.physics.evaluate import plan_cell

    plan = plan_cell(cell, cache)
    problems = [f"{name}: {p}" for name in plan.variant_names for p in plan.variant(name).problems]
    if problems:
        raise PhysicsError(
            f"infeasible plan: {problems[0]}" + (f" (and {len(problems) - 1} more)" if problems[1:] else "")
        )
    return plan


def build_stages(cell: CellSpec, variant: str, result: Any) -> tuple[tuple[Segment, ...], ...]:
    """A planned variant's operations as the production model's stages (see the module docstring).

    Raises:
        ConfigError: A robot's operations are not one contiguous run of the plan.
    """
    plan_name = result.variant
    base = cell.variants[variant]
    spec = base if plan_name == variant else base.model_copy(update={"plan": plan_without_inspection(cell, variant)})
    expanded = _expand(cell, spec)
    ops = list(result.operations)
    homes = {op.robot_id: op for op in ops[len(expanded) :]}
    stages: list[list[Segment]] = []
    robots: list[str] = []
    released = False
    screws_left = spec.screws
    for planned, op in zip(expanded, ops, strict=False):
        template = cell.operations[planned.template]
        if planned.robot_id is not None:
            rid = planned.robot_id
            if not robots or robots[-1] != rid:
                if rid in robots:
                    raise ConfigError(
                        f"plan of {variant}: robot {rid} works in two separate parts of the plan "
                        f"({' -> '.join([*robots, rid])}); a robot's operations must be one contiguous run"
                    )
                robots.append(rid)
                stages.append([])
            if not released and template.carries == "unit" and stages:
                stages[-1].append(Segment(RELEASE_NEST))
                released = True
            stages[-1].append(Segment(WORK, rid, op.duration_s, op.energy_j))
            if template.repeat_per_screw:
                screws_left -= 1
                if screws_left == 0:
                    stages[-1].append(Segment(SCREWED, rid, count=spec.screws))
            continue
        if not stages:
            raise ConfigError(
                f"plan of {variant}: the plan starts with station {planned.station_id}; a robot loads first"
            )
        sid = planned.station_id or ""
        kind = cell.stations[sid].kind
        if kind == "inspection":
            stages[-1].append(Segment(INSPECT, sid, op.duration_s, op.energy_j))
        elif kind == "conveyor":
            if not released:
                stages[-1].append(Segment(RELEASE_NEST))
                released = True
            stages[-1].append(Segment(CONVEY, sid, op.duration_s, op.energy_j))
        else:
            stages[-1].append(Segment(WORK, sid, op.duration_s, op.energy_j))
    if not released:
        stages[-1].append(Segment(RELEASE_NEST))
    for index, rid in enumerate(robots):
        if rid in homes:
            home = homes[rid]
            stages[index].append(Segment(WORK, rid, home.duration_s, home.energy_j))
    if screws_left > 0 and spec.screws:
        stages[-1].append(Segment(SCREWED, robots[-1], count=spec.screws - screws_left))
    return tuple(_merge(stage) for stage in stages)


def _merge(stage: list[Segment]) -> tuple[Segment, ...]:
    """Consecutive work of one resource as one segment (the model steps once for it)."""
    out: list[Segment] = []
    for seg in stage:
        if out and seg.kind == WORK and out[-1].kind == WORK and out[-1].resource == seg.resource:
            last = out[-1]
            out[-1] = Segment(WORK, seg.resource, last.duration_s + seg.duration_s, last.energy_j + seg.energy_j)
        else:
            out.append(seg)
    return tuple(out)


def _expand(cell: CellSpec, spec: Any) -> list[Any]:
    name = "__expand__"
    tmp = cell.model_copy(update={"variants": {**cell.variants, name: spec}})
    return tmp.expand_plan(name)


def stage_robots(stages: tuple[tuple[Segment, ...], ...]) -> tuple[str, ...]:
    """The robot of each stage."""
    return tuple(next(s.resource for s in stage if s.kind == WORK) for stage in stages)


def _normal_out(mean: float, sigma: float, lsl: float, usl: float) -> float:
    """P(x outside [lsl, usl]) for x ~ N(mean, sigma)."""
    if sigma <= 0:
        return 0.0 if lsl <= mean <= usl else 1.0
    cdf = lambda x: 0.5 * (1.0 + math.erf((x - mean) / (sigma * math.sqrt(2.0))))  # noqa: E731
    return cdf(lsl) + 1.0 - cdf(usl)


def quality_model(cell: CellSpec, fitted: dict[str, tuple[float, float]] | None = None) -> Quality:
    """The defect model: fitted (mean, sigma) per characteristic when given, else nominal from the spec limits.

    Nominal: centred on the target, sigma = (USL - LSL) / (6 Cp) with Cp = 5/3, and the cell's tool-wear
    drift of the screw torque. Fitted values already contain the drift, so none is added.
    """
    q = cell.quality
    fitted = fitted or {}

    def char(name: str, spec: Any) -> tuple[float, float]:
        if name in fitted:
            return fitted[name]
        return spec.target, (spec.usl - spec.lsl) / (6.0 * NOMINAL_CP)

    t_mean, t_sigma = char("screw_torque_nm", q.screw_torque_nm)
    p_ok = 1.0
    inspected = []
    for name in ("gap_mm", "flush_mm"):
        spec = getattr(q, name)
        mean, sigma = char(name, spec)
        inspected.append(Characteristic(name, mean, sigma, spec.lsl, spec.usl))
        p_ok *= 1.0 - inspected[-1].p_out
    return Quality(
        torque_mean_nm=t_mean,
        torque_sigma_nm=t_sigma,
        torque_lsl=q.screw_torque_nm.lsl,
        torque_usl=q.screw_torque_nm.usl,
        drift_nm_per_screw=0.0 if "screw_torque_nm" in fitted else q.tool_wear_torque_drift_nm_per_1000_screws / 1000.0,
        maintenance_interval_screws=q.maintenance_interval_screws,
        p_inspection_defect=1.0 - p_ok,
        rework_share=q.rework_share_of_failed,
        sampling=q.inspection_sampling,
        source="measured" if fitted else "nominal",
        inspected=tuple(inspected),
    )


def build_inputs(
    scenario_id: str,
    cell: CellSpec,
    start: Any,
    horizon_days: float,
    *,
    planned: Any = None,
    cache: Any = None,
    faults_enabled: bool = True,
    fitted_faults: dict[str, tuple[float, float]] | None = None,
    fitted_quality: dict[str, tuple[float, float]] | None = None,
    ideal_cycle_s: dict[str, float] | None = None,
    grid_intensity: tuple[tuple[int, str, float, int], ...] = (),
) -> SimInputs:
    """The simulation inputs of a cell over a period.

    Args:
        scenario_id: Names the run (``source = simulated:<scenario_id>``).
        cell: The scenario's changed cell.
        start: First local day (a :class:`datetime.date`).
        horizon_days: Length of the period.
        planned: The cell's :class:`twin.physics.plan.CellPlan` (:func:`plan_variants`; planned here when None).
        cache: Physics cache for planning.
        faults_enabled: False removes every fault.
        fitted_faults: Resource -> (MTBF h, MTTR min) fitted from measured events; overrides the cell's.
        fitted_quality: Characteristic -> (mean, sigma) fitted from measured quality rows.
        ideal_cycle_s: Ideal cycle time per variant for OEE (the analytics' own rule on the plan,
            :func:`twin.analytics.ideal.plan_ideal_cycle_times`, when None).
        grid_intensity: Measured grid intensity rows ``(ts_us, region, gco2e_per_kwh, interval_min)`` of the
            period: the carbon figures use them where they cover an hour, else the annual factor.

    Returns:
        The inputs of every replication.

    Raises:
        ConfigError: The plan cannot be read as stages, or the cell has no printer bank.
        PhysicsError: A variant is infeasible.
    """
    sampling = cell.quality.inspection_sampling
    plan = plan_variants(cell, cache=cache) if planned is None else planned
    banks = [sid for sid, station in cell.stations.items() if station.kind == "printer_bank"]
    if not banks:
        kinds = ", ".join(f"{sid} ({s.kind})" for sid, s in cell.stations.items())
        raise ConfigError(f"cell {cell.cell.id}: the simulation needs a printer_bank station; stations: {kinds}")
    printer_id = banks[0]
    printer = cell.stations[printer_id]
    printer_count = printer.printer_count or 1
    variants = []
    robots_seen: tuple[str, ...] | None = None
    for name, spec in cell.variants.items():
        result = plan.variant(name)
        stages = build_stages(cell, name, result)
        robots = stage_robots(stages)
        if robots_seen is not None and robots != robots_seen:
            raise ConfigError(
                f"variant {name}: its robots work in the order {' -> '.join(robots)}, other variants in "
                f"{' -> '.join(robots_seen)}; every variant needs the same order of robots"
            )
        robots_seen = robots
        skip = None
        if sampling < 1.0:
            skip = build_stages(cell, name, plan.variant(f"{name}{WITHOUT_INSPECTION}"))
            if stage_robots(skip) != robots:
                raise ConfigError(f"variant {name}: without inspection the robots change order; not supported")
        cycle_time = result.cycle_time_s
        if skip is not None:  # a unit's planned cycle blends the plans with and without inspection
            skipped = plan.variant(f"{name}{WITHOUT_INSPECTION}")
            cycle_time = sampling * cycle_time + (1.0 - sampling) * skipped.cycle_time_s
        variants.append(
            VariantPlan(
                name=name,
                share=spec.mix_share,
                screws=spec.screws,
                print_s=spec.print_time_s,
                stages=stages,
                stages_no_inspection=skip,
                stage_work_s=tuple(sum(s.duration_s for s in st if s.kind in (WORK, INSPECT)) for st in stages),
                cycle_time_s=cycle_time,
            )
        )
    assert robots_seen is not None
    screw_robot = next((s.resource for st in variants[0].stages for s in st if s.kind == SCREWED), None)
    calendar = ShiftCalendar.build(cell.shifts, cell.cell.timezone, start, horizon_days)
    n_bins = max(1, int(math.ceil(calendar.horizon_s / BIN_S)))
    faults: dict[str, Fault] = {}
    if faults_enabled:
        sources: dict[str, tuple[float, float]] = {rid: (r.mtbf_h, r.mttr_min) for rid, r in cell.robots.items()}
        for sid, s in cell.stations.items():
            if s.mtbf_h and s.mttr_min:
                sources[sid] = (s.mtbf_h, s.mttr_min)
        sources.update(fitted_faults or {})
        faults = {k: Fault(v[0] * 3600.0, v[1] * 60.0) for k, v in sorted(sources.items())}
    meters = (*cell.robots, *cell.stations, "cell_aux")
    idle: dict[str, tuple[float, float]] = {}
    share = cell.cell.robot_idle_share
    for rid, robot in cell.robots.items():
        w = robot.power_model.controller_w
        idle[rid] = (share.in_shift * w, share.off_shift * w)
    for sid, station in cell.stations.items():
        idle[sid] = (
            station.power_w.get("standby", 0.0) * (station.printer_count or 1),
            station.power_w.get("off", 0.0),
        )
    aux: Any = cell.cell.aux_power_w
    idle["cell_aux"] = (aux["in_shift"], aux["off_shift"]) if isinstance(aux, dict) else (aux.in_shift, aux.off_shift)
    buffers = dict(DEFAULT_BUFFERS)
    buffers.update({k: b.capacity for k, b in cell.buffers.items() if k in DEFAULT_BUFFERS})
    conveyors = sorted(sid for sid, s in cell.stations.items() if s.kind == "conveyor")
    resources = tuple(dict.fromkeys([*robots_seen, printer_id, *sorted(inspection_stations(cell)), *conveyors]))
    if ideal_cycle_s is None:
        ideal_cycle_s = plan_ideal_cycle_times(plan, sampling=sampling)
    return SimInputs(
        scenario_id=scenario_id,
        start_iso=start.isoformat(),
        cell=cell,
        calendar=calendar,
        variants=tuple(variants),
        stage_robots=robots_seen,
        screw_robot=screw_robot,
        printer_id=printer_id,
        printer_count=printer_count,
        heating_s=printer.heating_time_s or 0.0,
        printer_power_w=dict(printer.power_w),
        buffers=buffers,
        faults=faults,
        quality=quality_model(cell, fitted_quality),
        meters=meters,
        idle_w=idle,
        in_shift=tuple(calendar.in_shift_mask(BIN_S, n_bins)),
        resources=resources,
        ideal_cycle_s=dict(ideal_cycle_s),
        grid_intensity=tuple(grid_intensity),
    )
