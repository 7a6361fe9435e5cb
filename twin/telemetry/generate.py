"""Synthetic telemetry of a cell, produced by running the twin (``twin generate``).

The physics twin plans every operation of every variant (durations, energies and 125 Hz traces);
this module lays them out on a production timeline and writes the five streams of the telemetry
contract, one file per stream and day:

- orders with the cell's variant mix, paced by the robots (two fixture nests: R1 loads the next
  unit while R2 screws the current one), production only inside shifts and outside breaks;
- station and robot events (cycle, fault, setup for maintenance, break);
- joint states at 125 Hz with sensor noise and measured power, logged for the first cycles of each
  shift and for every cycle with a fault (as real cells log them);
- energy meter registers (kWh, every 15 min) for each robot and station and ``cell_aux``, with one
  register reset;
- quality per unit: final torque and angle of every screw, gap and flush at inspection, with tool-
  wear drift of the screw torque and a reset at each screwdriver maintenance; failed units are
  reworked (and measured again) or scrapped;
- faults with exponential times between failures (MTBF, operating hours) and log-normal repairs;
- one process change: the robots' speed override raised on a given day, which shortens cycles,
  changes energy per unit and widens the screw torque spread;
- hourly grid carbon intensity for the cell's region (synthetic daily and seasonal shape, or a real
  series given as a file).

The same seed gives the same files (one ``numpy.random.Generator`` is passed down).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from twin.cell import factors
from twin.cell.calendar import lay_out
from twin.cell.spec import CellSpec, item_characteristic
from twin.errors import InputError
from twin.telemetry.schema import defect_code, fault_code, service_code

US = 1_000_000
METER_INTERVAL_S = 900
HIRES_RATE_HZ = 125.0


@dataclass(frozen=True)
class GenerateConfig:
    """What to generate."""

    days: int = 30
    seed: int = 7
    start: date = date(2026, 10, 5)  # a Monday; 30 days span the end of summer time (2026-10-25)
    fmt: str = "parquet"
    speed_change_day: int | None = None  # day index of the process change; default: the middle
    speed_after: float = 0.7
    speed_change_robots: tuple[str, ...] = ()  # the robots the process change speeds up; empty: every robot
    hires_cycles_per_shift: int = 2
    grid_intensity_path: Path | None = None
    register_reset_meter: str | None = None  # a meter whose register is replaced mid-period; None: the inspection


@dataclass
class GenerateSummary:
    """Files written and rows per stream."""

    files: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    units: int = 0
    speed_change_at: str | None = None
    speed_change_robots: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON of ``twin generate --json``."""
        return {
            "files": [str(p) for p in self.files],
            "rows": self.rows,
            "units": self.units,
            "speed_change_at": self.speed_change_at,
            "speed_change_robots": list(self.speed_change_robots),
        }


@dataclass(frozen=True)
class OpPlan:
    """One operation of a variant as the physics twin planned it."""

    operation: str
    resource: str
    duration_s: float
    energy_j: float
    trace: dict[str, np.ndarray] | None
    template: str = ""


@dataclass
class Columns:
    """Column-wise row buffers for one stream (fast to append, one frame at the end)."""

    data: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, **row: Any) -> None:
        """Append one row; columns appear on first use."""
        n = len(next(iter(self.data.values()))) if self.data else 0
        for key in row:
            if key not in self.data:
                self.data[key] = [None] * n
        for key, values in self.data.items():
            values.append(row.get(key))

    def __len__(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0


def plan_variants(
    cell: CellSpec, speed_override: float | None, cache: Any = None, robots: tuple[str, ...] = ()
) -> dict[str, list[OpPlan]]:
    """Operation plans (with traces) of every variant, at the cell's speed or ``speed_override`` on ``robots``.

    Args:
        cell: The cell.
        speed_override: The changed robots' speed override; the cell's own when None.
        cache: Physics cache.
        robots: The robots whose speed changes; every robot when empty.
    """
    from twin.physics.cache import PhysicsCache
    from twin.physics.evaluate import CellPlanner

    if speed_override is not None:
        changed = robots or tuple(cell.robots)
        specs = {
            rid: r.model_copy(update={"speed_override": speed_override}) if rid in changed else r
            for rid, r in cell.robots.items()
        }
        cell = cell.model_copy(update={"robots": specs})
    plans: dict[str, list[OpPlan]] = {}
    with CellPlanner(cell, cache=cache or PhysicsCache()) as planner:
        result = planner.evaluate()
        for variant in result.variants:
            if not variant.feasible:
                raise InputError(f"variant {variant.variant} is infeasible: {'; '.join(variant.problems)}")
            templates = [planned.template for planned in cell.expand_plan(variant.variant)]
            plans[variant.variant] = [
                OpPlan(
                    op.operation,
                    op.robot_id or op.station_id or "?",
                    op.duration_s,
                    op.energy_j,
                    planner.trace(op) if op.cache_key else None,
                    templates[index] if index < len(templates) else "",
                )
                for index, op in enumerate(variant.operations)
            ]
    return plans


def synthetic_grid_intensity(
    region: str, start_utc: float, hours: int, rng: np.random.Generator, base: float
) -> pl.DataFrame:
    """Hourly grid intensity around ``base``, the region's annual factor.

    With a midday solar dip, an evening peak, a winter rise and AR(1) noise.
    """
    ts = start_utc + 3600.0 * np.arange(hours)
    hour_utc = (ts / 3600.0) % 24
    doy = np.array([datetime.fromtimestamp(t, tz=ZoneInfo("UTC")).timetuple().tm_yday for t in ts[::24]])
    doy = np.repeat(doy, 24)[:hours]
    solar = np.clip(np.cos((hour_utc - 11.0) / 12.0 * 2 * math.pi), 0.0, None) ** 2
    evening = np.exp(-0.5 * ((hour_utc - 17.5) / 1.5) ** 2)
    season = np.cos(2 * math.pi * (doy - 15) / 365.0)
    noise = np.empty(hours)
    level = 0.0
    for i in range(hours):
        level = 0.85 * level + rng.normal(0.0, 0.08)
        noise[i] = level
    value = base * (1.0 - 0.25 * solar * (1 - 0.5 * season) + 0.1 * evening + 0.12 * season + noise)
    value = np.clip(value, 0.1 * base, 2.5 * base)
    return pl.DataFrame(
        {"ts_us": (ts * US).astype(np.int64), "region": region, "gco2e_per_kwh": np.round(value, 2), "interval_min": 60}
    )


def real_grid_intensity(path: Path, region: str, start_utc: float, hours: int) -> pl.DataFrame:
    """A real hourly series (an Electricity Maps export, or a grid_intensity file of the contract).

    The series is shifted by whole weeks into the generated period when its years differ, which keeps
    its weekday pattern.
    """
    frame = pl.read_csv(path, infer_schema_length=0)
    ts_col = next((c for c in frame.columns if c.lower().startswith(("datetime", "ts"))), None)
    value_col = next((c for c in frame.columns if "intensity" in c.lower() and "direct" in c.lower()), None)
    value_col = value_col or next(
        (c for c in frame.columns if c in ("gco2e_per_kwh",) or "intensity" in c.lower()), None
    )
    if ts_col is None or value_col is None:
        raise InputError(
            f"{path}: expected a time column (Datetime (UTC) or ts) and an intensity column; "
            f"found {', '.join(frame.columns)}"
        )
    parsed = (
        frame.select(
            pl.col(ts_col).str.to_datetime(time_zone="UTC", strict=False).alias("t"),
            pl.col(value_col).cast(pl.Float64, strict=False).alias("v"),
        )
        .drop_nulls()
        .sort("t")
    )
    if parsed.is_empty():
        raise InputError(f"{path}: no parseable rows in columns {ts_col!r}, {value_col!r}")
    t_us = parsed["t"].dt.epoch("us").to_numpy()
    week_us = 7 * 86400 * US
    first_needed = int(start_utc * US)
    shift = ((first_needed - t_us[0]) // week_us) * week_us
    while t_us[0] + shift > first_needed:
        shift -= week_us
    shifted = t_us + shift
    end_us = first_needed + hours * 3600 * US
    keep = (shifted >= first_needed) & (shifted < end_us)
    if keep.sum() < hours * 0.9:
        raise InputError(f"{path}: the series covers {int(keep.sum())} of the {hours} hours needed")
    return pl.DataFrame(
        {"ts_us": shifted[keep], "region": region, "gco2e_per_kwh": parsed["v"].to_numpy()[keep], "interval_min": 60}
    )


VARIANT_BIAS = (0.0, 0.1, -0.075)
"""Bias of the first inspected characteristic by variant (in order, cycling), in half-tolerances."""


@dataclass(frozen=True)
class GeneratorRoles:
    """Which of the cell's robots and stations play which part in the generated timeline (read from the plan).

    Attributes:
        maker: The machine station that makes parts ahead of the flow (None without one).
        conveyors: Conveyor stations (they run on while the robot goes home).
        inspection: The inspection station of the plan (None without one).
        per_item: The characteristic measured per repetition of an operation (a torque per screw).
        per_item_robot: The robot of that operation (its tool is serviced).
        inspected: The characteristics measured at the inspection station.
    """

    maker: str | None
    conveyors: frozenset[str]
    inspection: str | None
    per_item: str | None
    per_item_robot: str | None
    inspected: tuple[str, ...]

    @classmethod
    def of(cls, cell: CellSpec) -> GeneratorRoles:
        """The roles of a cell's first variant's plan."""
        plan = next(iter(cell.variants.values())).plan
        stations = [cell.operations[op].station for op in plan if cell.operations[op].station is not None]
        inspecting = [sid for sid in stations if cell.stations[sid].kind == "inspection"]
        chars = cell.quality.characteristics
        per_item = next(iter(cell.per_item_characteristics), None)
        makers = cell.making_stations
        return cls(
            maker=makers[0] if makers else None,
            conveyors=frozenset(cell.stations_of_kind("conveyor")),
            inspection=inspecting[0] if inspecting else None,
            per_item=per_item,
            per_item_robot=cell.operations[chars[per_item].measured_by].robot if per_item else None,
            inspected=tuple(cell.inspected_characteristics),
        )


class Generator:
    """Lays the twin's plans out on a production timeline and collects the streams."""

    def __init__(
        self,
        cell: CellSpec,
        config: GenerateConfig,
        plans_before: dict[str, list[OpPlan]],
        plans_after: dict[str, list[OpPlan]],
        rng: np.random.Generator,
    ) -> None:
        """Prepare the calendar, fault clocks, energy bins and row buffers."""
        self.cell, self.config, self.rng = cell, config, rng
        self.plans_before, self.plans_after = plans_before, plans_after
        zone = ZoneInfo(cell.cell.timezone)
        period_start = datetime.combine(config.start, time(0), tzinfo=zone)
        period_end = datetime.combine(config.start + timedelta(days=config.days), time(0), tzinfo=zone)
        self.calendar = lay_out(cell.shifts, cell.cell.timezone, period_start, period_end)
        self.t0, self.t_end = self.calendar.start_s, self.calendar.end_s
        change_day = config.speed_change_day if config.speed_change_day is not None else config.days // 2
        self.change_at = datetime.combine(config.start + timedelta(days=change_day), time(0), tzinfo=zone).timestamp()
        self.meters = [*cell.robots, *cell.stations, "cell_aux"]
        n_bins = int(math.ceil((self.t_end - self.t0) / METER_INTERVAL_S))
        self.energy_j = {m: np.zeros(n_bins) for m in self.meters}
        self.events, self.quality, self.joints = Columns(), Columns(), Columns()
        self.fault_clock = {r: self._next_failure(r) for r in self._fault_resources()}
        self.screws_since_maintenance = 0
        self.maintenance_due = False
        self.unit_counter = 0
        self.hires_logged: dict[tuple[float, float], int] = {}
        self.roles = GeneratorRoles.of(cell)
        self._stages: dict[str, tuple[list[Any], list[tuple[str | None, str | None]], str | None]] = {}

    # helpers -----------------------------------------------------------------------------------
    def _fault_resources(self) -> dict[str, tuple[float, float]]:
        out = {rid: (r.mtbf_h, r.mttr_min) for rid, r in self.cell.robots.items()}
        for sid, s in self.cell.stations.items():
            if s.mtbf_h and s.mttr_min:
                out[sid] = (s.mtbf_h, s.mttr_min)
        return out

    def _next_failure(self, resource: str) -> float:
        mtbf_h, _ = self._fault_resources()[resource]
        return float(self.rng.exponential(mtbf_h * 3600.0))

    def _repair_s(self, resource: str) -> float:
        _, mttr_min = self._fault_resources()[resource]
        sigma = 0.6
        return float(self.rng.lognormal(math.log(mttr_min * 60.0) - sigma**2 / 2, sigma))

    def _add_energy(self, meter: str, start: float, end: float, joules: float) -> None:
        """Spread ``joules`` uniformly over [start, end) into the meter's 15-min bins."""
        bins = self.energy_j[meter]
        if end <= start:
            index = int((start - self.t0) // METER_INTERVAL_S)
            if 0 <= index < len(bins):
                bins[index] += joules
            return
        rate = joules / (end - start)
        first, last = int((start - self.t0) // METER_INTERVAL_S), int((end - self.t0) // METER_INTERVAL_S)
        for index in range(max(first, 0), min(last, len(bins) - 1) + 1):
            b0 = self.t0 + index * METER_INTERVAL_S
            overlap = min(end, b0 + METER_INTERVAL_S) - max(start, b0)
            if overlap > 0:
                bins[index] += rate * overlap

    def _event(
        self,
        t: float,
        station: str,
        event: str,
        unit: str | None = None,
        variant: str | None = None,
        code: str | None = None,
    ) -> None:
        self.events.add(
            ts_us=int(round(t * US)), station_id=station, event=event, unit_id=unit, variant=variant, code=code
        )

    # the timeline --------------------------------------------------------------------------------
    def run(self, progress: Callable[[int], None] | None = None) -> None:
        """Produce units window by window; then the baseline energy of every meter.

        Units go through the plan's stages in order (:meth:`twin.cell.spec.CellSpec.stage_runs`): a stage
        starts when its unit is ready and its robot or station is free; a unit is loaded once the previous
        unit has moved on to its second stage and a place is free where it is loaded.
        """
        owners = {run.owner for name in self.cell.variants for run in self._runs(name)}
        self.free = dict.fromkeys(sorted(owners), self.t0)
        self.releases: dict[str, list[float]] = {}
        last_next_start = self.t0
        previous_shift: tuple[date, str] | None = None
        cycles_in_shift = 0
        for w_start, w_end, shift_name, shift_day in self.calendar.windows:
            shift_key = (shift_day, shift_name)
            if shift_key != previous_shift:
                previous_shift, cycles_in_shift = shift_key, 0
            if self.maintenance_due and w_start > self.t0:
                self._maintenance(w_start)
            for owner, free in self.free.items():
                self.free[owner] = max(free, w_start)
            last_next_start = max(last_next_start, w_start)
            while True:
                t = self.free[self._runs(next(iter(self.cell.variants)))[0].owner]
                plans = self.plans_after if t >= self.change_at else self.plans_before
                variant = self._pick_variant()
                ops = plans[variant]
                expected = sum(op.duration_s for op in ops)
                first = self._runs(variant)[0]
                start = max(self.free[first.owner], last_next_start, self._place_free_at(first.enters))
                if start + 0.5 * expected > w_end:
                    break
                hires = cycles_in_shift < self.config.hires_cycles_per_shift
                last_next_start = self._unit(variant, ops, start, hires)
                cycles_in_shift += 1
            if progress:
                progress(1)
        self._baseline_energy()

    def _runs(self, variant: str) -> list[Any]:
        """The variant's stages (cached with where its unit is held, :meth:`_holding`)."""
        if variant not in self._stages:
            cell = self.cell
            self._stages[variant] = (cell.stage_runs(variant), cell.holding_steps(variant), cell.held_at_end(variant))
        return self._stages[variant][0]

    def _holding(self, variant: str) -> list[tuple[str | None, str | None]]:
        """Per operation of the variant's plan, the station its unit leaves and the one it is loaded into."""
        self._runs(variant)
        return self._stages[variant][1]

    def _held_at_end(self, variant: str) -> str | None:
        """The station the variant's unit is still held at when its plan ends."""
        self._runs(variant)
        return self._stages[variant][2]

    def _place_free_at(self, station: str | None) -> float:
        """When a place frees at a station a unit is loaded into (units leave in the order they came)."""
        if station is None:
            return -math.inf
        releases = self.releases.get(station, [])
        places = self.cell.stations[station].capacity
        return releases[-places] if len(releases) >= places else -math.inf

    def _pick_variant(self) -> str:
        names = list(self.cell.variants)
        shares = np.array([self.cell.variants[n].mix_share for n in names])
        return names[int(self.rng.choice(len(names), p=shares / shares.sum()))]

    def _unit(self, variant: str, ops: list[OpPlan], start: float, hires: bool) -> float:
        """One unit through the cell from ``start``; returns when its second stage started."""
        self.unit_counter += 1
        unit = f"U{self.unit_counter:07d}"
        timeline: list[tuple[OpPlan, float, float]] = []
        faults: list[tuple[str, float, float]] = []
        roles = self.roles
        runs = self._runs(variant)
        holding = self._holding(variant)
        # the parts made in the cell were made beforehand on one of the making machines
        made_end = start - float(self.rng.uniform(30.0, 600.0))
        if roles.maker is not None:
            maker = self.cell.stations[roles.maker]
            made_start = made_end - maker.process_time_for(variant) * float(self.rng.normal(1.0, 0.01))
            self._event(made_start, roles.maker, "cycle_start", unit, variant)
            self._event(made_end, roles.maker, "cycle_end", unit, variant)
            setup = maker.setup_time_s
            self._add_energy(roles.maker, made_start - setup, made_start, maker.power_w.get("setup", 0.0) * setup)
            self._add_energy(
                roles.maker, made_start, made_end, maker.power_w.get("running", 0.0) * (made_end - made_start)
            )
        homes = {op.resource: op for op in ops[len(holding) :]}
        last_run = {run.owner: j for j, run in enumerate(runs) if not run.process}
        t = start
        next_start = start
        for j, run in enumerate(runs):
            begin = start if j == 0 else max(t, self.free[run.owner])
            if j == 1:
                next_start = begin
            if run.process:
                t = self._run_station(ops[run.ops[0]], begin, timeline, faults, unit, variant)
                self.free[run.owner] = t
                continue
            self._event(begin, run.owner, "cycle_start", unit, variant)
            t = begin
            steps = [ops[i] for i in run.ops] + ([homes[run.owner]] if last_run[run.owner] == j else [])
            for index, op in zip([*run.ops, -1], steps, strict=False):
                leaves = holding[index][0] if index >= 0 else None
                if leaves is not None:
                    self.releases.setdefault(leaves, []).append(t)
                if op.resource in roles.conveyors:  # the conveyor runs on while the robot goes on
                    self._run_station(op, t, timeline, faults, unit, variant)
                    continue
                if op.resource in self.cell.stations:
                    t = self._run_station(op, t, timeline, faults, unit, variant)
                    continue
                t = self._run_op(op, t, timeline, faults)
            self._event(t, run.owner, "cycle_end", unit, variant)
            self.free[run.owner] = t
        held = self._held_at_end(variant)
        if held is not None:  # the unit ends the plan where it was loaded: the place frees as it leaves
            self.releases.setdefault(held, []).append(t)
        self._quality(unit, variant, timeline)
        if hires or faults:
            self._joint_states(timeline)
        for resource, f0, f1 in faults:
            self._event(f0, resource, "fault_start", unit, variant, code=fault_code(resource))
            self._event(f1, resource, "fault_end", unit, variant, code=fault_code(resource))
        return next_start

    def _run_op(
        self, op: OpPlan, t: float, timeline: list[tuple[OpPlan, float, float]], faults: list[tuple[str, float, float]]
    ) -> float:
        duration = op.duration_s * float(1.0 + abs(self.rng.normal(0.0, 0.003)))
        self.fault_clock[op.resource] -= duration
        if self.fault_clock[op.resource] <= 0.0:  # fails at the end of this move; stands until repaired
            repair = self._repair_s(op.resource)
            faults.append((op.resource, t + duration, t + duration + repair))
            self.fault_clock[op.resource] = self._next_failure(op.resource)
            timeline.append((op, t, t + duration))
            self._add_energy(op.resource, t, t + duration, op.energy_j * duration / op.duration_s)
            return t + duration + repair
        timeline.append((op, t, t + duration))
        self._add_energy(op.resource, t, t + duration, op.energy_j * duration / op.duration_s)
        return t + duration

    def _run_station(
        self,
        op: OpPlan,
        t: float,
        timeline: list[tuple[OpPlan, float, float]],
        faults: list[tuple[str, float, float]],
        unit: str,
        variant: str,
    ) -> float:
        duration = op.duration_s * float(self.rng.normal(1.0, 0.02))
        start = t
        if op.resource in self.fault_clock:
            self.fault_clock[op.resource] -= duration
            if self.fault_clock[op.resource] <= 0.0:
                repair = self._repair_s(op.resource)
                faults.append((op.resource, start, start + repair))
                self.fault_clock[op.resource] = self._next_failure(op.resource)
                start += repair
        self._event(start, op.resource, "cycle_start", unit, variant)
        self._event(start + duration, op.resource, "cycle_end", unit, variant)
        timeline.append((op, start, start + duration))
        self._add_energy(op.resource, start, start + duration, op.energy_j * duration / max(op.duration_s, 1e-9))
        return start + duration

    def _maintenance(self, at: float) -> None:
        """Tool service (a screwdriver's bit change) before the next working window: restores the drift."""
        duration = 600.0
        robot = self.roles.per_item_robot
        if robot is not None:
            self._event(at - duration, robot, "setup_start", code=service_code(robot))
            self._event(at, robot, "setup_end", code=service_code(robot))
        self.screws_since_maintenance = 0
        self.maintenance_due = False

    # quality -------------------------------------------------------------------------------------
    def _quality(self, unit: str, variant: str, timeline: list[tuple[OpPlan, float, float]]) -> None:
        q, roles = self.cell.quality, self.roles
        speed_factor = 1.0 if timeline[0][1] < self.change_at else 1.0 + 2.0 * (self.config.speed_after - 0.5)
        failed: list[str] = []
        item = q.characteristics[roles.per_item] if roles.per_item is not None else None
        index = 0
        for op, _, end in timeline:
            if item is None or op.template != item.measured_by:
                continue
            index += 1
            self.screws_since_maintenance += 1
            drift = item.drift_per_1000 * self.screws_since_maintenance / 1000.0
            # the process spread of the stand-in cell: a tenth of the tolerance, wider after a speed-up
            value = float(self.rng.normal(item.target + drift, 0.0917 * (item.usl - item.lsl) * speed_factor))
            defect = None
            if not item.lsl <= value <= item.usl:
                defect = defect_code(roles.per_item or "", low=value < item.lsl)
                failed.append(defect)
            self.quality.add(
                ts_us=int(end * US),
                unit_id=unit,
                station_id=op.resource,
                characteristic=item_characteristic(roles.per_item or "", index),
                value=round(value, 4),
                lsl=item.lsl,
                usl=item.usl,
                defect_code=defect,
            )
        if item is not None and item.service_interval and self.screws_since_maintenance >= item.service_interval:
            self.maintenance_due = True
        if roles.inspection is None:
            return
        inspect_end = next((end for op, _, end in timeline if op.resource == roles.inspection), timeline[-1][2])
        if self.rng.random() > self.cell.inspection_sampling:
            return
        failed += self._inspect(unit, variant, inspect_end, spread=speed_factor, rework=False)
        if failed and self.rng.random() < q.rework_share_of_failed:  # reworked by hand, inspected again
            self._inspect(unit, variant, inspect_end + float(self.rng.uniform(1800.0, 7200.0)), spread=0.6, rework=True)

    def _inspect(self, unit: str, variant: str, at: float, spread: float, rework: bool) -> list[str]:
        """The inspected characteristics of one unit at the inspection station; returns the defect codes."""
        defects = []
        for name, value in self._inspected_values(variant, spread).items():
            spec = self.cell.quality.characteristics[name]
            defect = None
            if not spec.lsl <= value <= spec.usl:
                defect = "REWORK_FAILED" if rework else defect_code(name)
                defects.append(defect)
            self.quality.add(
                ts_us=int(at * US),
                unit_id=unit,
                station_id=self.roles.inspection,
                characteristic=name,
                value=round(value, 4),
                lsl=spec.lsl,
                usl=spec.usl,
                defect_code=defect,
            )
        return defects

    def _inspected_values(self, variant: str, spread: float) -> dict[str, float]:
        """One unit's inspected values, with the stand-in cell's spread (0.15 of the tolerance).

        The first characteristic has a bias by variant, an effect the production model does not have.
        """
        chars = self.cell.quality.characteristics
        out = {}
        for k, name in enumerate(self.roles.inspected):
            c = chars[name]
            half = (c.usl - c.lsl) / 2.0
            bias = VARIANT_BIAS[list(self.cell.variants).index(variant) % len(VARIANT_BIAS)] * half if k == 0 else 0.0
            out[name] = float(self.rng.normal(c.target + bias, 0.15 * (c.usl - c.lsl) * spread))
        return out

    # high-rate joint states ----------------------------------------------------------------------
    def _joint_states(self, timeline: list[tuple[OpPlan, float, float]]) -> None:
        rng = self.rng
        for op, start, end in timeline:
            if op.trace is None or op.resource not in self.cell.robots:
                continue
            trace = op.trace
            # the controller logs on a fixed 125 Hz clock; a slightly slower or faster execution of the
            # planned motion is sampled on that clock
            stretch = (end - start) / max(op.duration_s, 1e-9)
            n = int((end - start) * HIRES_RATE_HZ) + 1
            t_log = np.arange(n) / HIRES_RATE_HZ
            t_plan = np.minimum(t_log / stretch, float(trace["t"][-1]))

            def resample(values: np.ndarray, t_plan: np.ndarray = t_plan, source: Any = trace["t"]) -> np.ndarray:
                values = np.asarray(values, dtype=float)
                if values.ndim == 1:
                    return np.interp(t_plan, source, values)
                return np.column_stack([np.interp(t_plan, source, values[:, j]) for j in range(values.shape[1])])

            t_us = np.round((start + t_log) * US)
            n_joints = trace["q"].shape[1]
            q = resample(trace["q"]) + rng.normal(0.0, 2e-5, (n, n_joints))
            qd = resample(trace["qd"]) / stretch + rng.normal(0.0, 1e-3, (n, n_joints))
            tau = resample(trace["tau"])
            tau = tau * (1.0 + rng.normal(0.0, 0.01)) + rng.normal(0.0, 0.05, tau.shape)
            power = resample(trace["power_w"]) * (1.0 + rng.normal(0.0, 0.01, n)) + rng.normal(0.0, 1.0, n)
            block: dict[str, Any] = {"ts_us": t_us.astype(np.int64), "robot_id": [op.resource] * n}
            for j in range(q.shape[1]):
                block[f"q_{j + 1}"] = np.round(q[:, j], 6)
            for j in range(q.shape[1]):
                block[f"qd_{j + 1}"] = np.round(qd[:, j], 5)
            for j in range(q.shape[1]):
                block[f"tau_{j + 1}"] = np.round(tau[:, j], 4)
            block["power_w"] = np.round(power, 2)
            block["program_step"] = [op.operation] * n
            self.joints.data.setdefault("blocks", []).append(pl.DataFrame(block))

    # energy ----------------------------------------------------------------------------------------
    def _baseline_energy(self) -> None:
        """Idle and standby power of every meter, in and out of shifts."""
        n_bins = len(self.energy_j["cell_aux"])
        starts = self.t0 + METER_INTERVAL_S * np.arange(n_bins)
        in_shift = np.array([self.calendar.in_shift(t + METER_INTERVAL_S / 2) for t in starts])
        aux = self.cell.cell.aux_power_w
        self.energy_j["cell_aux"] += np.where(in_shift, aux.in_shift, aux.off_shift) * METER_INTERVAL_S
        share = self.cell.cell.robot_idle_share
        for rid, robot in self.cell.robots.items():
            idle = robot.power_model.controller_w
            self.energy_j[rid] += np.where(in_shift, share.in_shift * idle, share.off_shift * idle) * METER_INTERVAL_S
        for sid, station in self.cell.stations.items():
            standby = station.power_w.get("standby", 0.0) * station.count
            off = station.power_w.get("off", 0.0)
            self.energy_j[sid] += np.where(in_shift, standby, off) * METER_INTERVAL_S

    # frames ----------------------------------------------------------------------------------------
    def frames(self, grid: pl.DataFrame) -> dict[str, pl.DataFrame]:
        """Every stream as a frame with an integer ``ts_us`` column (UTC epoch microseconds)."""
        events = pl.DataFrame(self.events.data).sort("ts_us", "station_id")
        quality = pl.DataFrame(self.quality.data).sort("ts_us", "unit_id", "characteristic")
        blocks = self.joints.data.get("blocks", [])
        joints = pl.concat(blocks, how="diagonal") if blocks else pl.DataFrame({"ts_us": [], "robot_id": []})
        energy = self._registers()
        return {"events": events, "quality": quality, "joint_states": joints, "energy": energy, "grid_intensity": grid}

    def _registers(self) -> pl.DataFrame:
        """Cumulative kWh readings every 15 min, one register reset on the configured meter."""
        rng = self.rng
        n_bins = len(self.energy_j["cell_aux"])
        ts = self.t0 + METER_INTERVAL_S * np.arange(1, n_bins + 1)
        frames = []
        reset_at = int(n_bins * 0.4) + 37
        for meter in self.meters:
            start = float(rng.uniform(500.0, 5000.0))
            kwh = start + np.cumsum(self.energy_j[meter]) / 3.6e6
            if meter == (self.config.register_reset_meter or self.roles.inspection):  # replaced: restarts near zero
                kwh[reset_at:] = kwh[reset_at:] - kwh[reset_at - 1] + 0.0
                kwh[reset_at:] = np.maximum(kwh[reset_at:], 0.0)
            frames.append(
                pl.DataFrame({"ts_us": (ts * US).astype(np.int64), "meter_id": meter, "energy_kwh": np.round(kwh, 4)})
            )
        return pl.concat(frames)


def _write(frame: pl.DataFrame, stream: str, out: Path, fmt: str, zone: str) -> list[Path]:
    """One file per stream and local day.

    Timestamps are ISO-8601 with the local offset in CSV, timezone-aware UTC timestamps in Parquet.
    """
    if frame.is_empty():
        return []
    utc = pl.from_epoch(pl.col("ts_us"), time_unit="us").dt.replace_time_zone("UTC")
    frame = frame.with_columns(utc.dt.convert_time_zone(zone).dt.date().alias("_day"))
    written = []
    for (day,), part in frame.partition_by("_day", as_dict=True, maintain_order=True).items():
        if fmt == "csv":
            ts = utc.dt.convert_time_zone(zone).dt.strftime("%Y-%m-%dT%H:%M:%S%.6f%:z")
        else:
            ts = utc
        part = part.with_columns(ts.alias("ts")).drop("ts_us", "_day")
        part = part.select("ts", *[c for c in part.columns if c != "ts"])
        path = out / f"{stream}-{day.isoformat()}.{fmt}"
        if fmt == "csv":
            part.write_csv(path)
        else:
            part.write_parquet(path, statistics=True)
        written.append(path)
    return written


def generate(cell: CellSpec, config: GenerateConfig, out: Path, progress: bool = False) -> GenerateSummary:
    """Generate the telemetry of ``config.days`` days and write it under ``out``.

    Args:
        cell: The validated cell.
        config: Period, seed, format, the process change and the grid series.
        out: Output folder (created).
        progress: Show progress bars on stderr.

    Returns:
        Files written and rows per stream.
    """
    if config.fmt not in ("parquet", "csv"):
        raise InputError(f"--format {config.fmt!r}: valid: parquet, csv")
    if config.days < 1:
        raise InputError(f"--days {config.days}: must be at least 1")
    rng = np.random.default_rng(config.seed)
    unknown = [r for r in config.speed_change_robots if r not in cell.robots]
    if unknown:
        raise InputError(f"--speed-change-robot {unknown[0]}: not a robot of the cell; valid: {', '.join(cell.robots)}")
    changed = config.speed_change_robots or tuple(cell.robots)
    base_speed = {cell.robots[r].speed_override for r in changed}
    if len(base_speed) != 1:
        raise InputError(
            "the process change sets one speed override on the robots it changes, whose speeds differ "
            f"({', '.join(changed)}); name one with --speed-change-robot"
        )
    plans_before = plan_variants(cell, None)
    plans_after = plan_variants(cell, config.speed_after, robots=changed)
    generator = Generator(cell, config, plans_before, plans_after, rng)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(generator.calendar.windows), desc="generating", unit="window", leave=False)
    generator.run(bar.update if bar else None)
    if bar:
        bar.close()
    hours = int(math.ceil((generator.t_end - generator.t0) / 3600.0))
    region = cell.carbon.grid_region
    if config.grid_intensity_path is not None:
        grid = real_grid_intensity(config.grid_intensity_path, region, generator.t0, hours)
    else:
        year = datetime.fromtimestamp(generator.t0, tz=generator.calendar.zone).year
        annual = factors.grid_factor(region, year, extra_dirs=factors.cell_factor_dirs(cell))
        grid = synthetic_grid_intensity(region, generator.t0, hours, rng, annual.value)
    out.mkdir(parents=True, exist_ok=True)
    summary = GenerateSummary(units=generator.unit_counter)
    summary.speed_change_at = datetime.fromtimestamp(generator.change_at, tz=generator.calendar.zone).isoformat()
    summary.speed_change_robots = changed
    for stream, frame in generator.frames(grid).items():
        summary.rows[stream] = frame.height
        summary.files += _write(frame, stream, out, config.fmt, cell.cell.timezone)
    return summary
