"""A scenario's cell -> the simulation's inputs: stages per variant from the physics twin, plus economics.

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

Everything here is plain data (frozen dataclasses of floats and strings): it pickles to worker processes
and Ray tasks, and the model never touches pybullet.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from twin.cell.calendar import ShiftCalendar
from twin.cell.spec import CellSpec
from twin.errors import ConfigError, PhysicsError

# segment kinds of a stage
WORK, RELEASE_NEST, INSPECT, SCREWED, CONVEY = range(5)

BIN_S = 900.0  # energy meter interval (the generator's 15 min)
ROBOT_IDLE_SHARE = {"in_shift": 0.35, "off_shift": 0.2}  # of controller_w, as the generator models idle robots
NOMINAL_CP = 5.0 / 3.0  # nominal process capability (Cp) when no measured quality data exists
REPAIR_SIGMA = 0.6  # log-normal spread of repair times (mean = MTTR)
NO_INSPECTION = "|no_inspection"  # suffix of a variant's plan without inspection (sampling < 1)
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
    work_s: dict[str, float]
    takt_s: float
    bottleneck: str
    material_eur: float
    material_kgco2e: float


@dataclass(frozen=True)
class Fault:
    """Faults of one resource: exponential operating time between failures, log-normal repairs."""

    mtbf_s: float
    mttr_s: float


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


@dataclass(frozen=True)
class SimInputs:
    """Everything one replication needs; plain data."""

    scenario_id: str
    start_iso: str
    calendar: ShiftCalendar
    variants: tuple[VariantPlan, ...]
    stage_robots: tuple[str, ...]
    screw_robot: str | None
    printer_count: int
    heating_s: float
    printer_power_w: dict[str, float]
    buffers: dict[str, int]
    faults: dict[str, Fault]
    quality: Quality
    meters: tuple[str, ...]
    idle_w: dict[str, tuple[float, float]]
    bin_price_eur_per_kwh: tuple[float, ...]
    in_shift: tuple[bool, ...]
    fixed_cost_eur: dict[str, float]
    rework_eur_per_unit: float
    market_gco2e_per_kwh: float
    location_gco2e_per_kwh: float
    resources: tuple[str, ...]

    @property
    def horizon_s(self) -> float:
        """Length of the simulated period."""
        return self.calendar.horizon_s

    @property
    def n_bins(self) -> int:
        """Number of 15-minute energy bins."""
        return max(1, int(math.ceil(self.calendar.horizon_s / BIN_S)))


def plan_variants(cell: CellSpec, cache: Any = None, extra: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Plan every variant (and ``extra`` plans, by name) in the physics twin; cached by content hash.

    Args:
        cell: The (changed) cell.
        cache: A :class:`twin.physics.cache.PhysicsCache`; the on-disk default when None.
        extra: Additional plans to evaluate: name -> operation templates (a variant's plan variant).

    Returns:
        Name -> :class:`twin.physics.plan.PlanVariant`.

    Raises:
        PhysicsError: A variant is infeasible (unreachable target, joint limit, collision).
    """
    from twin.physics.evaluate import plan_cell

    variants = dict(cell.variants)
    for name, plan in (extra or {}).items():
        base = name.split(NO_INSPECTION)[0]
        variants[name] = cell.variants[base].model_copy(update={"plan": plan, "mix_share": 0.0})
    planning_cell = cell.model_copy(update={"variants": variants})
    plan = plan_cell(planning_cell, cache)
    results = {name: plan.variant(name) for name in variants}
    problems = [f"{name}: {p}" for name, r in results.items() for p in r.problems]
    if problems:
        raise PhysicsError(
            f"infeasible plan: {problems[0]}" + (f" (and {len(problems) - 1} more)" if problems[1:] else "")
        )
    return results


def _station_of(cell: CellSpec, template: str) -> str | None:
    op = cell.operations[template]
    return op.station or (op.target.station if op.target else None)


def _inspection_stations(cell: CellSpec) -> set[str]:
    return {sid for sid, s in cell.stations.items() if s.kind == "inspection"}


def build_stages(cell: CellSpec, variant: str, result: Any) -> tuple[tuple[Segment, ...], ...]:
    """A planned variant's operations as the production model's stages (see the module docstring).

    Raises:
        ConfigError: A robot's operations are not one contiguous run of the plan.
    """
    plan_name = result.variant
    base = cell.variants[variant]
    spec = base if plan_name == variant else base.model_copy(update={"plan": _no_inspection_plan(cell, variant)})
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


def _no_inspection_plan(cell: CellSpec, variant: str) -> list[str]:
    inspection = _inspection_stations(cell)
    return [t for t in cell.variants[variant].plan if _station_of(cell, t) not in inspection]


def stage_robots(stages: tuple[tuple[Segment, ...], ...]) -> tuple[str, ...]:
    """The robot of each stage."""
    return tuple(next(s.resource for s in stage if s.kind == WORK) for stage in stages)


def _bom(cell: CellSpec, variant: str) -> list[tuple[str, float]]:
    spec = cell.variants[variant]
    bracket = cell.parts[spec.bracket]
    items = [(bracket.material, bracket.mass_kg)]
    if bracket.insert_material and bracket.insert_mass_kg:
        items.append((bracket.insert_material, bracket.insert_mass_kg))
    if "base_panel" in cell.parts:
        items.append((cell.parts["base_panel"].material, cell.parts["base_panel"].mass_kg))
    if "screw_m4" in cell.parts and spec.screws:
        items.append((cell.parts["screw_m4"].material, cell.parts["screw_m4"].mass_kg * spec.screws))
    return items


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
    for name in ("gap_mm", "flush_mm"):
        spec = getattr(q, name)
        mean, sigma = char(name, spec)
        p_ok *= 1.0 - _normal_out(mean, sigma, spec.lsl, spec.usl)
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
    )


def _prices(cell: CellSpec, calendar: ShiftCalendar, n_bins: int) -> tuple[float, ...]:
    from twin.cell.factors import tariff_schedule

    schedule = tariff_schedule(cell.cost.tariff_id)
    zone = ZoneInfo(schedule.timezone)
    prices = []
    by_hour: dict[int, float] = {}
    for i in range(n_bins):
        epoch = calendar.t0_epoch_s + (i + 0.5) * BIN_S
        hour_key = int(epoch // 3600)
        if hour_key not in by_hour:
            by_hour[hour_key] = schedule.price_at(datetime.fromtimestamp(epoch, tz=UTC).astimezone(zone))
        prices.append(by_hour[hour_key])
    return tuple(prices)


def _carbon_factors(cell: CellSpec) -> tuple[float, float]:
    """(market-based, location-based) gCO2e/kWh of grid electricity for the cell."""
    from twin.cell.factors import grid_factor, residual_mix

    region = cell.carbon.grid_region
    location = grid_factor(region).value
    if cell.carbon.supplier_factor_gco2e_per_kwh is not None:
        contractual = cell.carbon.supplier_factor_gco2e_per_kwh
    else:
        try:
            contractual = residual_mix(region).value
        except ConfigError:
            warnings.warn(
                f"no residual mix for grid region {region}; the market-based factor falls back to the "
                "location-based one",
                stacklevel=2,
            )
            contractual = location
    return (1.0 - cell.carbon.renewable_share) * contractual, location


def build_inputs(
    scenario_id: str,
    cell: CellSpec,
    start: Any,
    horizon_days: float,
    *,
    planned: dict[str, Any] | None = None,
    cache: Any = None,
    faults_enabled: bool = True,
    fitted_faults: dict[str, tuple[float, float]] | None = None,
    fitted_quality: dict[str, tuple[float, float]] | None = None,
) -> SimInputs:
    """The simulation inputs of a cell over a period.

    Args:
        scenario_id: Names the run (``source = simulated:<scenario_id>``).
        cell: The scenario's changed cell.
        start: First local day (a :class:`datetime.date`).
        horizon_days: Length of the period.
        planned: Physics results from :func:`plan_variants` (planned here when None).
        cache: Physics cache for planning.
        faults_enabled: False removes every fault.
        fitted_faults: Resource -> (MTBF h, MTTR min) fitted from measured events; overrides the cell's.
        fitted_quality: Characteristic -> (mean, sigma) fitted from measured quality rows.

    Returns:
        The inputs of every replication.

    Raises:
        ConfigError: The plan cannot be read as stages, or a material has no price.
        PhysicsError: A variant is infeasible.
    """
    sampling = cell.quality.inspection_sampling
    extra = {f"{v}{NO_INSPECTION}": _no_inspection_plan(cell, v) for v in cell.variants} if sampling < 1.0 else {}
    if planned is None:
        planned = plan_variants(cell, cache=cache, extra=extra)
    printer = cell.stations["printer"]
    printer_count = printer.printer_count or 1
    prices = cell.cost.materials_eur_per_kg
    from twin.cell.factors import material_factor

    variants = []
    robots_seen: tuple[str, ...] | None = None
    for name, spec in cell.variants.items():
        result = planned[name]
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
            skip = build_stages(cell, name, planned[f"{name}{NO_INSPECTION}"])
            if stage_robots(skip) != robots:
                raise ConfigError(f"variant {name}: without inspection the robots change order; not supported")
        work = dict(result.work_s)
        cycle_time = result.cycle_time_s
        if skip is not None:  # the ideal work per unit blends the plans with and without inspection
            other = planned[f"{name}{NO_INSPECTION}"]
            keys = set(work) | set(other.work_s)
            work = {r: sampling * work.get(r, 0.0) + (1.0 - sampling) * other.work_s.get(r, 0.0) for r in keys}
            cycle_time = sampling * cycle_time + (1.0 - sampling) * other.cycle_time_s
        work["printer"] = spec.print_time_s / printer_count
        bottleneck = max(sorted(work), key=lambda k: work[k])
        material_eur = material_kg = 0.0
        for material, kg in _bom(cell, name):
            if material not in prices:
                raise ConfigError(
                    f"cost.materials_eur_per_kg: no price for material {material!r} (variant {name}); "
                    f"priced: {', '.join(sorted(prices))}"
                )
            material_eur += kg * prices[material]
            material_kg += kg * material_factor(material).value
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
                work_s=work,
                takt_s=work[bottleneck],
                bottleneck=bottleneck,
                material_eur=material_eur,
                material_kgco2e=material_kg,
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
    for rid, robot in cell.robots.items():
        w = robot.power_model.controller_w
        idle[rid] = (ROBOT_IDLE_SHARE["in_shift"] * w, ROBOT_IDLE_SHARE["off_shift"] * w)
    for sid, station in cell.stations.items():
        idle[sid] = (
            station.power_w.get("standby", 0.0) * (station.printer_count or 1),
            station.power_w.get("off", 0.0),
        )
    aux: Any = cell.cell.aux_power_w
    idle["cell_aux"] = (aux["in_shift"], aux["off_shift"]) if isinstance(aux, dict) else (aux.in_shift, aux.off_shift)
    planned_h = calendar.planned_s / 3600.0
    machines = [*cell.robots, *cell.stations]
    depreciation = sum(cell.cost.depreciation_eur_per_machine_h.get(m, 0.0) for m in machines) * planned_h
    fixed = {
        "labour": cell.cost.labour_eur_per_h * cell.cost.operators_per_shift * calendar.shift_s / 3600.0,
        "equipment": depreciation,
        "maintenance": cell.cost.maintenance_eur_per_h * planned_h,
    }
    market, location = _carbon_factors(cell)
    buffers = dict(DEFAULT_BUFFERS)
    buffers.update({k: b.capacity for k, b in cell.buffers.items() if k in DEFAULT_BUFFERS})
    resources = tuple(dict.fromkeys([*robots_seen, "printer", *_inspection_stations(cell), "outfeed"]))
    resources = tuple(r for r in resources if r in cell.robots or r in cell.stations)
    return SimInputs(
        scenario_id=scenario_id,
        start_iso=start.isoformat(),
        calendar=calendar,
        variants=tuple(variants),
        stage_robots=robots_seen,
        screw_robot=screw_robot,
        printer_count=printer_count,
        heating_s=printer.heating_time_s or 0.0,
        printer_power_w=dict(printer.power_w),
        buffers=buffers,
        faults=faults,
        quality=quality_model(cell, fitted_quality),
        meters=meters,
        idle_w=idle,
        bin_price_eur_per_kwh=_prices(cell, calendar, n_bins),
        in_shift=tuple(calendar.in_shift_mask(BIN_S, n_bins)),
        fixed_cost_eur=fixed,
        rework_eur_per_unit=cell.cost.rework_eur_per_unit,
        market_gco2e_per_kwh=market,
        location_gco2e_per_kwh=location,
        resources=resources,
    )
