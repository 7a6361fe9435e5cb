"""A scenario's cell -> the simulation's inputs: stages per variant from the physics twin, faults and defects.

Operation durations and energies come from the physics twin's plan of the scenario's cell
(:func:`twin.physics.evaluate.plan_cell`, a :class:`twin.physics.plan.CellPlan`), cached by the content
hash of its inputs, so a scenario re-plans only the operations its changes touched.

The production model reads a variant's plan as **stages** (:meth:`twin.cell.spec.CellSpec.stage_runs`, shared
with the generator): runs of one robot's operations, with the inspection it waits at and the conveyor it puts
the unit on, and machine or manual stations' processes. A unit is held at a fixture, machine or manual
station from the stage that loads it until the first operation that carries it away
(:meth:`twin.cell.spec.CellSpec.holding_steps`). When an operation template is assigned to another robot
(``changes.operation_robots``, e.g. the screws to a second screwdriver), its work becomes a stage of its own
and the stages hand the unit over.

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
WORK, RELEASE, INSPECT, SCREWED, CONVEY, PROCESS = range(6)

BIN_S = 900.0  # energy meter interval (the generator's 15 min)
NOMINAL_CP = 5.0 / 3.0  # nominal process capability (Cp) when no measured quality data exists
REPAIR_SIGMA = 0.6  # log-normal spread of repair times (mean = MTTR)
NEVER_SERVICED = 10**9  # service interval of a tool the cell never services


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
    """Per stage, the work of its robot (with the stations it waits at) or of its process."""
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
    per_item: str = ""
    """The characteristic drawn per repetition (``torque_*`` fields; empty without one)."""


@dataclass(frozen=True)
class SimInputs:
    """Everything one replication needs; plain data."""

    scenario_id: str
    start_iso: str
    cell: CellSpec
    calendar: ShiftCalendar
    variants: tuple[VariantPlan, ...]
    shapes: tuple[StageShape, ...]
    screw_robot: str | None
    printer_id: str | None
    printer_count: int
    heating_s: float
    printer_power_w: dict[str, float]
    made_parts_capacity: int
    places: dict[str, int]
    """Station -> places a unit can be held at (the stations stages enter, and conveyors)."""
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


@dataclass(frozen=True)
class StageShape:
    """What a stage is, the same for every variant.

    Attributes:
        owner: The robot that works the stage, or the station that processes the unit in it.
        process: True for a station's process without a robot (a machine, a manual station).
        enters: The station where the stage places the unit: one of its places is taken before the stage
            starts, so a robot never waits for a place once it has begun.
    """

    owner: str
    process: bool = False
    enters: str | None = None


def build_stages(
    cell: CellSpec, variant: str, result: Any
) -> tuple[tuple[tuple[Segment, ...], ...], tuple[StageShape, ...]]:
    """A planned variant's operations as the production model's stages (see the module docstring).

    A stage is a maximal run of one robot's operations (with the inspection it waits at and the conveyor it
    puts the unit on), or one machine's or manual station's process. A robot may work several stages (it
    loads a machine, and later unloads it). A unit is held at a fixture, machine or manual station from the
    operation that places it there until the first operation that carries the whole unit away.

    Returns:
        The stages' segments, and their shapes.

    Raises:
        ConfigError: The plan starts at a station, or a station processes a unit no robot placed there.
    """
    plan_name = result.variant
    base = cell.variants[variant]
    spec = base if plan_name == variant else base.model_copy(update={"plan": plan_without_inspection(cell, variant)})
    expanded, holding_steps, runs, held = _expand(cell, spec, variant)
    ops = list(result.operations)
    homes = {op.robot_id: op for op in ops[len(expanded) :]}
    stages: list[list[Segment]] = []
    shapes: list[StageShape] = []
    repeated_slot = _measured_repeat_slot(cell)
    repeats = spec.qty(repeated_slot) if repeated_slot is not None else 0
    screws_left = repeats
    for run in runs:
        if run.process:
            op = ops[run.ops[0]]
            shapes.append(StageShape(run.owner, process=True))
            stages.append([Segment(PROCESS, run.owner, op.duration_s, op.energy_j)])
            continue
        shapes.append(StageShape(run.owner, enters=run.enters))
        stage: list[Segment] = []
        stages.append(stage)
        for index in run.ops:
            planned, op, (leaves, _) = expanded[index], ops[index], holding_steps[index]
            sid = planned.station_id or ""
            if leaves is not None:  # the unit leaves the station it was held at
                stage.append(Segment(RELEASE, leaves))
            if planned.robot_id is not None:
                stage.append(Segment(WORK, run.owner, op.duration_s, op.energy_j))
                template = cell.operations[planned.template]
                if template.repeat_per is not None and template.repeat_per == repeated_slot:
                    screws_left -= 1
                    if screws_left == 0:
                        stage.append(Segment(SCREWED, run.owner, count=repeats))
                continue
            kind = cell.stations[sid].kind
            segment_kind = {"inspection": INSPECT, "conveyor": CONVEY}.get(kind, WORK)
            stage.append(Segment(segment_kind, sid, op.duration_s, op.energy_j))
    last_robot = max(i for i, shape in enumerate(shapes) if not shape.process)
    if held is not None:  # the unit ends the plan held: its place frees when its last robot is done
        stages[last_robot].append(Segment(RELEASE, held))
    for rid, home in homes.items():
        owned = [i for i, shape in enumerate(shapes) if not shape.process and shape.owner == rid]
        if owned:
            stages[owned[-1]].append(Segment(WORK, rid, home.duration_s, home.energy_j))
    if screws_left > 0 and repeats:
        stages[last_robot].append(Segment(SCREWED, shapes[last_robot].owner, count=repeats - screws_left))
    return tuple(_merge(stage) for stage in stages), tuple(shapes)


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


def _expand(
    cell: CellSpec, spec: Any, variant: str
) -> tuple[list[Any], list[tuple[str | None, str | None]], list[Any], str | None]:
    """A variant spec's expanded plan, where its unit is held along it and at its end, and its stages.

    Raises:
        ConfigError: The plan cannot be read as stages (:meth:`CellSpec.stage_runs`).
    """
    name = "__expand__"
    tmp = cell.model_copy(update={"variants": {**cell.variants, name: spec}})
    try:
        runs = tmp.stage_runs(name)
    except ValueError as exc:
        raise ConfigError(str(exc).replace(name, variant)) from exc
    return tmp.expand_plan(name), tmp.holding_steps(name), runs, tmp.held_at_end(name)


def _normal_out(mean: float, sigma: float, lsl: float, usl: float) -> float:
    """P(x outside [lsl, usl]) for x ~ N(mean, sigma)."""
    if sigma <= 0:
        return 0.0 if lsl <= mean <= usl else 1.0
    cdf = lambda x: 0.5 * (1.0 + math.erf((x - mean) / (sigma * math.sqrt(2.0))))  # noqa: E731
    return cdf(lsl) + 1.0 - cdf(usl)


def _measured_repeat_slot(cell: CellSpec) -> str | None:
    """The bill-of-materials slot whose repetitions the per-item characteristic measures (a torque per screw)."""
    name = _per_item_characteristic(cell)
    return None if name is None else cell.operations[cell.quality.characteristics[name].measured_by].repeat_per


def _per_item_characteristic(cell: CellSpec) -> str | None:
    """The characteristic measured once per repetition of an operation (the model knows at most one)."""
    repeated = cell.per_item_characteristics
    if len(repeated) > 1:
        raise ConfigError(
            f"cell {cell.cell.id}: the production model draws one characteristic per repetition; "
            f"{', '.join(repeated)} are all measured per repetition"
        )
    return repeated[0] if repeated else None


def quality_model(cell: CellSpec, fitted: dict[str, tuple[float, float]] | None = None) -> Quality:
    """The defect model: fitted (mean, sigma) per characteristic when given, else nominal from the spec limits.

    Nominal: centred on the target, sigma = (USL - LSL) / (6 Cp) with Cp = 5/3, and, for the characteristic
    measured per repetition (a torque per screw), its tool-wear drift. Fitted values already contain the
    drift, so none is added. Characteristics measured at an inspection station are judged there.

    Raises:
        ConfigError: A characteristic is measured where the model does not draw it (neither per repetition
            of a robot operation nor at an inspection station).
    """
    q = cell.quality
    fitted = fitted or {}

    def char(name: str, spec: Any) -> tuple[float, float]:
        if name in fitted:
            return fitted[name]
        return spec.target, (spec.usl - spec.lsl) / (6.0 * NOMINAL_CP)

    per_item = _per_item_characteristic(cell)
    judged = cell.inspected_characteristics
    p_ok = 1.0
    inspected = []
    for name, spec in q.characteristics.items():
        if name == per_item:
            continue
        if name not in judged:
            raise ConfigError(
                f"quality.characteristics.{name}: measured by {spec.measured_by}, which is neither repeated nor "
                "an inspection station's operation; the production model draws only those"
            )
        mean, sigma = char(name, spec)
        inspected.append(Characteristic(name, mean, sigma, spec.lsl, spec.usl))
        p_ok *= 1.0 - inspected[-1].p_out
    if per_item is None:
        t_mean, t_sigma, t_lsl, t_usl, drift, interval = 0.0, 0.0, -math.inf, math.inf, 0.0, NEVER_SERVICED
    else:
        t = q.characteristics[per_item]
        t_mean, t_sigma = char(per_item, t)
        t_lsl, t_usl = t.lsl, t.usl
        drift = 0.0 if per_item in fitted else t.drift_per_1000 / 1000.0
        interval = t.service_interval or NEVER_SERVICED
    return Quality(
        torque_mean_nm=t_mean,
        torque_sigma_nm=t_sigma,
        torque_lsl=t_lsl,
        torque_usl=t_usl,
        drift_nm_per_screw=drift,
        maintenance_interval_screws=interval,
        p_inspection_defect=1.0 - p_ok,
        rework_share=q.rework_share_of_failed,
        sampling=cell.inspection_sampling,
        source="measured" if fitted else "nominal",
        inspected=tuple(inspected),
        per_item=per_item or "",
    )


def _repeats(cell: CellSpec, variant: str) -> int:
    """How often a unit of the variant repeats the operation measuring the per-item characteristic."""
    slot = _measured_repeat_slot(cell)
    return cell.variants[variant].qty(slot) if slot is not None else 0


def _describe(shapes: tuple[StageShape, ...]) -> str:
    return " -> ".join(f"{s.owner} (process)" if s.process else s.owner for s in shapes)


def _made_parts(cell: CellSpec, first: StageShape) -> tuple[str | None, int]:
    """The machine that makes parts ahead of the flow (None without one) and the buffer towards the first stage.

    Raises:
        ConfigError: More than one machine makes parts, or the made parts have no buffer to the robot of the
            first stage.
    """
    makers = cell.making_stations
    if not makers:
        return None, 0
    if len(makers) > 1:
        raise ConfigError(
            f"cell {cell.cell.id}: the production model has one machine that makes parts ahead of the flow; "
            f"{', '.join(makers)} all make parts"
        )
    maker = makers[0]
    out = [b for b in cell.buffers.values() if b.from_ == maker and b.to == first.owner]
    if not out:
        raise ConfigError(
            f"cell {cell.cell.id}: the parts {maker} makes need a buffer from {maker} to {first.owner}, which "
            f"picks them (buffers: <name>: {{capacity: N, from: {maker}, to: {first.owner}}})"
        )
    return maker, out[0].capacity


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
        ConfigError: The plan cannot be read as stages, or parts made ahead have no buffer to their robot.
        PhysicsError: A variant is infeasible.
    """
    sampling = cell.inspection_sampling
    plan = plan_variants(cell, cache=cache) if planned is None else planned
    variants = []
    shapes_seen: tuple[StageShape, ...] | None = None
    for name, spec in cell.variants.items():
        result = plan.variant(name)
        stages, shapes = build_stages(cell, name, result)
        if shapes_seen is not None and shapes != shapes_seen:
            raise ConfigError(
                f"variant {name}: its stages are {_describe(shapes)}, other variants' {_describe(shapes_seen)}; "
                "every variant needs the same stages in the same order"
            )
        shapes_seen = shapes
        skip = None
        if sampling < 1.0:
            skip, skip_shapes = build_stages(cell, name, plan.variant(f"{name}{WITHOUT_INSPECTION}"))
            if skip_shapes != shapes:
                raise ConfigError(f"variant {name}: without inspection the stages change; not supported")
        cycle_time = result.cycle_time_s
        if skip is not None:  # a unit's planned cycle blends the plans with and without inspection
            skipped = plan.variant(f"{name}{WITHOUT_INSPECTION}")
            cycle_time = sampling * cycle_time + (1.0 - sampling) * skipped.cycle_time_s
        variants.append((name, spec, stages, skip, cycle_time))
    assert shapes_seen is not None
    printer_id, made_capacity = _made_parts(cell, shapes_seen[0])
    printer = cell.stations[printer_id] if printer_id is not None else None
    variants = [
        VariantPlan(
            name=name,
            share=spec.mix_share,
            screws=_repeats(cell, name),
            print_s=printer.process_time_for(name) if printer is not None else 0.0,
            stages=stages,
            stages_no_inspection=skip,
            stage_work_s=tuple(sum(s.duration_s for s in st if s.kind in (WORK, INSPECT, PROCESS)) for st in stages),
            cycle_time_s=cycle_time,
        )
        for name, spec, stages, skip, cycle_time in variants
    ]
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
            station.power_w.get("standby", 0.0) * station.count,
            station.power_w.get("off", 0.0),
        )
    aux: Any = cell.cell.aux_power_w
    idle["cell_aux"] = (aux["in_shift"], aux["off_shift"]) if isinstance(aux, dict) else (aux.in_shift, aux.off_shift)
    conveyors = sorted(sid for sid, s in cell.stations.items() if s.kind == "conveyor")
    owners = [shape.owner for shape in shapes_seen]
    resources = tuple(
        dict.fromkeys([*owners, *([printer_id] if printer_id else []), *sorted(inspection_stations(cell)), *conveyors])
    )
    places = {sid: cell.stations[sid].capacity for sid in [*(s.enters for s in shapes_seen if s.enters), *conveyors]}
    if ideal_cycle_s is None:
        ideal_cycle_s = plan_ideal_cycle_times(plan, sampling=sampling)
    return SimInputs(
        scenario_id=scenario_id,
        start_iso=start.isoformat(),
        cell=cell,
        calendar=calendar,
        variants=tuple(variants),
        shapes=shapes_seen,
        screw_robot=screw_robot,
        printer_id=printer_id,
        printer_count=printer.count if printer is not None else 0,
        heating_s=printer.setup_time_s if printer is not None else 0.0,
        printer_power_w=dict(printer.power_w) if printer is not None else {},
        made_parts_capacity=made_capacity,
        places=places,
        faults=faults,
        quality=quality_model(cell, fitted_quality),
        meters=meters,
        idle_w=idle,
        in_shift=tuple(calendar.in_shift_mask(BIN_S, n_bins)),
        resources=resources,
        ideal_cycle_s=dict(ideal_cycle_s),
        grid_intensity=tuple(grid_intensity),
    )
