"""Scenario KPIs: each replication's period figures, computed by the analytics from its telemetry.

A replication's KPIs are not computed here. Its telemetry (:mod:`twin.sim.telemetry`: events, energy,
quality, with ``source = simulated:<scenario>`` and its ``replication``) is loaded into a private
in-memory warehouse (:mod:`twin.warehouse.scratch`), the marts are built from the same SQL files as for
measured data, and the period figures of :mod:`twin.analytics.figures` are read off the horizon on the
scenario's own cell: the same functions ``twin oee|cost|carbon --source simulated:<scenario>
--replication r`` run on the warehouse. A what-if KPI is then the mean of the replications' figures
with a 95 % Student-t interval (:func:`summarize`), and a delta is paired over replications
(:func:`compare_kpis`).

KPI names follow SPEC.md ("Scenario KPIs"); ``utilization`` is flattened per resource
(``utilization_R2``) and cycle time also per variant (``cycle_time_s_B4-PLA``). Each is:

- ``throughput_units_per_h``: units delivered (completed and not scrapped: the cost and carbon figures'
  ``units``) per hour of planned busy time (OEE's ``planned_time_s``);
  ``output_units_per_day`` per calendar day of the horizon.
- ``cycle_time_s``: the plan's cycle time (a unit's operations in sequence with no waiting, printing
  excluded) over the variant mix completed; ``takt_s``: OEE's ideal cycle time over the same mix (the
  bottleneck's work per unit).
- ``oee`` and ``oee_availability``, ``oee_performance``, ``oee_quality``: the cell's OEE (ISO 22400).
- ``wip_units``, ``flow_time_s``: :func:`twin.analytics.figures.flow_of`.
- ``energy_kwh_per_unit``: every meter's energy per delivered unit (the carbon figure's).
- ``cost_per_unit``: the cost figure's total per delivered unit, in the cell's currency (``currency`` beside the KPIs).
- ``kgco2e_per_unit``: the carbon figure's market-based total per delivered unit (scope 1, scope 2
  market-based, scope 3 cat. 1); ``kgco2e_location_per_unit`` the location-based one.
- ``first_pass_yield``: OEE's quality (first-pass good / judged: :func:`twin.analytics.quality.judged_count`).
- ``utilization_<resource>``: :func:`twin.analytics.figures.utilization_of`.
- ``escape_rate``: units with a gap or flush defect that inspection did not sample / units delivered (a
  screw defect is always caught: the screwdriver measures every torque). The one figure the
  telemetry cannot show (an escape is what nobody measured), so the simulation's own record gives it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from twin.analytics import figures
from twin.analytics.frames import roles
from twin.analytics.period import Period
from twin.analytics.store import PERIOD_MARTS, Rows, load_period
from twin.sim.plan import SimInputs
from twin.sim.record import ESCAPED, ReplicationRecord
from twin.sim.telemetry import grid_frame, replication_frames
from twin.warehouse.scratch import scratch_warehouse

SCENARIO_KPIS: tuple[str, ...] = (
    "throughput_units_per_h",
    "cycle_time_s",
    "takt_s",
    "oee",
    "wip_units",
    "energy_kwh_per_unit",
    "cost_per_unit",
    "kgco2e_per_unit",
    "first_pass_yield",
)
"""The scenario KPIs of SPEC.md ("Figures"), in its order; ``utilization_<resource>`` and the rest follow."""


def horizon_period(inputs: SimInputs) -> Period:
    """The simulated horizon as a reporting period: local midnight of the first day, ``horizon_days`` long."""
    start = datetime.fromtimestamp(inputs.calendar.t0_epoch_s, tz=UTC)
    return Period(start, start + timedelta(seconds=inputs.horizon_s), inputs.calendar.timezone)


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def period_kpis(p: figures.Prepared, inputs: SimInputs) -> dict[str, float]:
    """The scenario KPIs of one period of one source (see the module docstring); NaN where undefined.

    Args:
        p: The prepared period (:func:`twin.analytics.figures.prepare` on the scenario's cell).
        inputs: The scenario's inputs (the plan's cycle times, the ideal cycle times, the resources).

    Returns:
        KPI name -> value.
    """
    oee = figures.oee_of(p, inputs.ideal_cycle_s)
    cost = figures.cost_of(p, oee["run_time_s"])
    carbon = figures.carbon_of(p)
    flow = figures.flow_of(p)
    utilization = figures.utilization_of(p)
    delivered = float(cost["units"])
    planned_h = oee["planned_time_s"] / 3600.0
    days = (p.data.period.end - p.data.period.start).total_seconds() / 86400.0
    cycle = {v.name: v.cycle_time_s for v in inputs.variants}
    kpis: dict[str, float] = {
        "throughput_units_per_h": _ratio(delivered, planned_h),
        "cycle_time_s": _num(figures.mix_mean(p, cycle)),
        "takt_s": _ratio(oee["ideal_time_s"], oee["total_count"]),
        "oee": _num(oee["oee"]),
        "wip_units": _num(flow["wip_units"]),
        "energy_kwh_per_unit": _num(carbon["energy_kwh_per_unit"]),
        "cost_per_unit": _num(cost["cost_per_unit"]["total"]),
        "kgco2e_per_unit": _num(carbon["per_unit_kg"]["total_market"]),
        "first_pass_yield": _num(oee["quality"]),
    }
    for resource in inputs.resources:
        kpis[f"utilization_{resource}"] = _num(utilization.get(resource))
    kpis["output_units_per_day"] = _ratio(delivered, days)
    kpis["oee_availability"] = _num(oee["availability"])
    kpis["oee_performance"] = _num(oee["performance"])
    kpis["oee_quality"] = _num(oee["quality"])
    kpis["flow_time_s"] = _num(flow["flow_time_s"])
    kpis["kgco2e_location_per_unit"] = _num(carbon["per_unit_kg"]["total_location"])
    for name, value in cycle.items():
        kpis[f"cycle_time_s_{name}"] = value
    kpis["_units_completed"] = float(cost["units_completed"])
    kpis["_units_delivered"] = delivered
    kpis["_units_scrapped"] = float(cost["units_scrapped"])
    kpis["_energy_kwh"] = float(carbon["energy_kwh"])
    kpis["_missing_intensity_hours"] = float(carbon["missing_intensity_hours"])
    return kpis


def replication_kpis(
    inputs: SimInputs, record: ReplicationRecord, frames: Mapping[str, pl.DataFrame] | None = None
) -> dict[str, float]:
    """Every KPI of one replication: its telemetry through the warehouse's marts and the analytics.

    Args:
        inputs: The scenario's inputs.
        record: The replication's record.
        frames: Its telemetry (:func:`twin.sim.telemetry.replication_frames`; made here when None).

    Returns:
        KPI name -> value (see the module docstring); NaN where undefined (no unit).
    """
    frames = dict(frames) if frames is not None else replication_frames(inputs, record)
    if inputs.grid_intensity:
        frames["grid_intensity"] = grid_frame(inputs)
    cell = inputs.cell
    rows = Rows(cell.cell.id, inputs.source, record.replication)
    with scratch_warehouse(cell.cell.id, frames, PERIOD_MARTS) as con:
        data = load_period(con, horizon_period(inputs), roles(cell), rows, cell.carbon.grid_region)
    kpis = period_kpis(figures.prepare(cell, data), inputs)
    done = np.nan_to_num(np.asarray(record.unit_done_s, dtype=np.float64), nan=math.inf) <= inputs.horizon_s
    escaped = int((done & (np.asarray(record.unit_status) == ESCAPED)).sum())
    kpis["escape_rate"] = _ratio(escaped, kpis["_units_delivered"])
    return kpis


def bottleneck(kpis: Mapping[str, float]) -> str:
    """The resource with the highest utilization."""
    utilization = {k.removeprefix("utilization_"): v for k, v in kpis.items() if k.startswith("utilization_")}
    return max(sorted(utilization), key=lambda r: -math.inf if math.isnan(utilization[r]) else utilization[r])


def _t(n: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1))


def interval(values: Sequence[float]) -> dict[str, float | None]:
    """Mean and 95 % Student-t interval over replications (NaNs dropped; one value: a zero-width interval).

    >>> interval([1.0, 2.0, 3.0])
    {'mean': 2.0, 'ci_low': -0.4841377118, 'ci_high': 4.484137712}
    """
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    if len(x) == 0:
        return {"mean": None, "ci_low": None, "ci_high": None}
    mean = float(x.mean())
    half = _t(len(x)) * float(x.std(ddof=1)) / math.sqrt(len(x)) if len(x) > 1 else 0.0
    return {"mean": _round(mean), "ci_low": _round(mean - half), "ci_high": _round(mean + half)}


def delta_interval(values: Sequence[float], baseline: Sequence[float]) -> dict[str, float | None]:
    """Delta of the means with its 95 % interval.

    Paired over replications when both ran the same seeds (common random numbers), else Welch's
    unequal-variance interval.

    >>> delta_interval([2.0, 3.0, 4.0], [1.0, 2.0, 3.5])
    {'delta': 0.8333333333, 'delta_ci_low': 0.116224545, 'delta_ci_high': 1.550442122}
    """
    x = np.asarray(values, dtype=np.float64)
    y = np.asarray(baseline, dtype=np.float64)
    if len(x) == len(y):
        ok = ~(np.isnan(x) | np.isnan(y))
        d = x[ok] - y[ok]
        if len(d) == 0:
            return {"delta": None, "delta_ci_low": None, "delta_ci_high": None}
        mean = float(d.mean())
        half = _t(len(d)) * float(d.std(ddof=1)) / math.sqrt(len(d)) if len(d) > 1 else 0.0
    else:
        x, y = x[~np.isnan(x)], y[~np.isnan(y)]
        if len(x) == 0 or len(y) == 0:
            return {"delta": None, "delta_ci_low": None, "delta_ci_high": None}
        mean = float(x.mean() - y.mean())
        vx = float(x.var(ddof=1)) / len(x) if len(x) > 1 else 0.0
        vy = float(y.var(ddof=1)) / len(y) if len(y) > 1 else 0.0
        se = math.sqrt(vx + vy)
        if se == 0.0:
            half = 0.0
        else:
            dof_den = (vx**2 / (len(x) - 1) if len(x) > 1 else 0.0) + (vy**2 / (len(y) - 1) if len(y) > 1 else 0.0)
            dof = (vx + vy) ** 2 / dof_den if dof_den > 0 else 1.0
            from scipy.stats import t

            half = float(t.ppf(0.975, dof)) * se
    return {"delta": _round(mean), "delta_ci_low": _round(mean - half), "delta_ci_high": _round(mean + half)}


def _round(value: float) -> float | None:
    """Ten significant digits (stable JSON across platforms); NaN and inf become None."""
    if not math.isfinite(value):
        return None
    return float(f"{value:.10g}")


def kpi_names(per_replication: Sequence[Mapping[str, float]]) -> list[str]:
    """Public KPI names in report order: SPEC's headline KPIs, utilization per resource, then the rest."""
    present = list(per_replication[0]) if per_replication else []
    public = [k for k in present if not k.startswith("_")]
    utilization = [k for k in public if k.startswith("utilization_")]
    rest = [k for k in public if k not in SCENARIO_KPIS and k not in utilization]
    return [k for k in SCENARIO_KPIS if k in public] + utilization + rest


def summarize(per_replication: Sequence[Mapping[str, float]]) -> dict[str, dict[str, Any]]:
    """``{NAME: {"mean", "ci_low", "ci_high"}}`` over replications."""
    return {name: interval([r.get(name, math.nan) for r in per_replication]) for name in kpi_names(per_replication)}


def compare_kpis(
    scenario: Sequence[Mapping[str, float]], baseline: Sequence[Mapping[str, float]]
) -> dict[str, dict[str, Any]]:
    """``{NAME: {"mean", "ci_low", "ci_high", "delta", "delta_ci_low", "delta_ci_high"}}`` per KPI.

    A KPI the baseline lacks (a resource it does not have) has null deltas.
    """
    out: dict[str, dict[str, Any]] = {}
    base_names = set(kpi_names(baseline))
    for name in kpi_names(scenario):
        values = [r.get(name, math.nan) for r in scenario]
        entry: dict[str, Any] = interval(values)
        if name in base_names:
            entry.update(delta_interval(values, [r.get(name, math.nan) for r in baseline]))
        else:
            entry.update({"delta": None, "delta_ci_low": None, "delta_ci_high": None})
        out[name] = entry
    return out
