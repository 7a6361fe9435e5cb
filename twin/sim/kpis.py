"""Scenario KPIs per replication, their means with 95 % Student-t intervals, and deltas against a baseline.

KPI names follow SPEC.md ("Scenario KPIs"); ``utilization`` is flattened per resource
(``utilization_R2``) and cycle time also per variant (``cycle_time_s_B4-PLA``). Definitions:

- ``throughput_units_per_h``: units shipped (good, reworked, or escaped undetected) per planned busy hour
  (the shift calendar minus breaks); ``output_units_per_day`` per calendar day (a longer calendar shows
  here).
- ``cycle_time_s``: a unit's operations in sequence with no waiting, printing excluded (mean over the
  units completed); ``takt_s``: the bottleneck's work per unit (the printer bank's print time divided by
  its printer count), over the completed mix; the bottleneck is the resource with the most work per unit.
- ``oee`` = availability x performance x quality (ISO 22400): availability = run time / planned busy time,
  where down time is the union of every fault and setup interval inside the working windows; performance
  = takt x units completed / run time; quality = first-pass good / completed (``oee_availability``,
  ``oee_performance``, ``oee_quality``).
- ``wip_units``: time-average number of units released (print started) and not completed, over the
  whole horizon; ``flow_time_s``: mean release-to-completion time (so WIP = throughput x flow time,
  Little's law, with throughput per calendar hour).
- ``energy_kwh_per_unit``: every meter's energy (operations, idle, standby, ``cell_aux``) per unit shipped.
- ``cost_eur_per_unit``: energy at the time-of-use tariff of its 15-minute interval, labour (paid shift
  time), equipment depreciation and maintenance per planned hour, material of every unit completed
  (scrap included), rework; per unit shipped.
- ``kgco2e_per_unit``: scope 2 market-based (renewable share at zero, supplier factor or residual mix for
  the rest) plus scope 3 category 1 materials (scrap included), per unit shipped;
  ``kgco2e_location_per_unit`` uses the location-based annual grid factor instead.
- ``first_pass_yield``: units without a defect / units completed; ``escape_rate``: defective units
  shipped undetected (inspection sampling below 1) / units shipped.
- ``utilization_<resource>``: operating time (work, excluding waits and repairs) / planned busy time; for
  the printer bank, printing time / (printers x planned busy time).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from twin.scenarios.spec import SCENARIO_KPIS
from twin.sim.plan import BIN_S, SimInputs
from twin.sim.record import ESCAPED, GOOD, REWORKED, SCRAPPED, ReplicationRecord

HEADLINE = SCENARIO_KPIS


def _union_in_windows(intervals: list[tuple[float, float]], windows: Sequence[tuple[float, float]]) -> float:
    """Length of the union of ``intervals`` inside ``windows`` (both lists of (start, end))."""
    if not intervals:
        return 0.0
    merged: list[list[float]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    total, j = 0.0, 0
    for a, b in merged:
        while j < len(windows) and windows[j][1] <= a:
            j += 1
        k = j
        while k < len(windows) and windows[k][0] < b:
            total += max(0.0, min(b, windows[k][1]) - max(a, windows[k][0]))
            k += 1
    return total


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def energy_bins_j(inputs: SimInputs, record: ReplicationRecord) -> dict[str, np.ndarray]:
    """Energy per meter per 15-minute bin: the operations' energy plus idle and standby power."""
    n = inputs.n_bins
    last = inputs.horizon_s - (n - 1) * BIN_S
    length = np.full(n, BIN_S)
    length[-1] = last
    in_shift = np.asarray(inputs.in_shift, dtype=bool)
    out: dict[str, np.ndarray] = {}
    for meter in inputs.meters:
        on, off = inputs.idle_w.get(meter, (0.0, 0.0))
        out[meter] = np.asarray(record.energy_j[meter]) + np.where(in_shift, on, off) * length
    return out


def replication_kpis(inputs: SimInputs, record: ReplicationRecord) -> dict[str, float]:
    """Every KPI of one replication (see the module docstring); NaN where undefined (no unit)."""
    horizon = inputs.horizon_s
    planned = inputs.calendar.planned_s
    variant = np.asarray(record.unit_variant, dtype=np.int64)
    release = np.asarray(record.unit_release_s, dtype=np.float64)
    done = np.asarray(record.unit_done_s, dtype=np.float64)
    status = np.asarray(record.unit_status, dtype=np.int64)
    work = np.asarray(record.unit_work_s, dtype=np.float64)
    completed = np.nan_to_num(done, nan=math.inf) <= horizon
    shipped = completed & np.isin(status, (GOOD, REWORKED, ESCAPED))
    n_done, n_shipped = int(completed.sum()), int(shipped.sum())
    n_good = int((completed & (status == GOOD)).sum())
    n_rework = int((completed & (status == REWORKED)).sum())
    n_escaped = int((completed & (status == ESCAPED)).sum())
    counts = (
        np.bincount(variant[completed], minlength=len(inputs.variants)) if n_done else np.zeros(len(inputs.variants))
    )

    kpis: dict[str, float] = {}
    kpis["throughput_units_per_h"] = _ratio(n_shipped, planned / 3600.0)
    kpis["cycle_time_s"] = float(work[completed].mean()) if n_done else math.nan
    resources = sorted({r for v in inputs.variants for r in v.work_s})
    work_per_unit = {
        r: _ratio(sum(c * v.work_s.get(r, 0.0) for c, v in zip(counts, inputs.variants, strict=True)), n_done)
        for r in resources
    }
    takt = max((w for w in work_per_unit.values() if not math.isnan(w)), default=math.nan)
    kpis["takt_s"] = takt
    down = _union_in_windows(
        [(a, b) for _, a, b in record.faults] + [(a, b) for _, a, b in record.setups], inputs.calendar.windows
    )
    run = planned - down
    availability = _ratio(run, planned)
    ideal = sum(c * v.takt_s for c, v in zip(counts, inputs.variants, strict=True))
    performance = _ratio(ideal, run)
    quality = _ratio(n_good, n_done)
    kpis["oee"] = availability * performance * quality
    in_system = np.clip(np.minimum(np.nan_to_num(done, nan=horizon), horizon) - np.minimum(release, horizon), 0.0, None)
    kpis["wip_units"] = float(in_system.sum() / horizon) if horizon > 0 else math.nan

    bins = energy_bins_j(inputs, record)
    total_j = np.sum([b for b in bins.values()], axis=0)
    kwh = float(total_j.sum() / 3.6e6)
    energy_eur = float(np.dot(total_j / 3.6e6, np.asarray(inputs.bin_price_eur_per_kwh)))
    material_eur = float(sum(c * v.material_eur for c, v in zip(counts, inputs.variants, strict=True)))
    material_kg = float(sum(c * v.material_kgco2e for c, v in zip(counts, inputs.variants, strict=True)))
    cost = energy_eur + material_eur + n_rework * inputs.rework_eur_per_unit + sum(inputs.fixed_cost_eur.values())
    kpis["energy_kwh_per_unit"] = _ratio(kwh, n_shipped)
    kpis["cost_eur_per_unit"] = _ratio(cost, n_shipped)
    kpis["kgco2e_per_unit"] = _ratio(kwh * inputs.market_gco2e_per_kwh / 1000.0 + material_kg, n_shipped)
    kpis["first_pass_yield"] = quality
    for resource in inputs.resources:
        scale = inputs.printer_count if resource == "printer" else 1
        kpis[f"utilization_{resource}"] = _ratio(record.busy_s.get(resource, 0.0), scale * planned)
    kpis["output_units_per_day"] = _ratio(n_shipped, horizon / 86400.0)
    kpis["oee_availability"] = availability
    kpis["oee_performance"] = performance
    kpis["oee_quality"] = quality
    flow = (done - release)[completed]
    kpis["flow_time_s"] = float(flow.mean()) if n_done else math.nan
    kpis["kgco2e_location_per_unit"] = _ratio(kwh * inputs.location_gco2e_per_kwh / 1000.0 + material_kg, n_shipped)
    kpis["escape_rate"] = _ratio(n_escaped, n_shipped)
    for index, v in enumerate(inputs.variants):
        mask = completed & (variant == index)
        kpis[f"cycle_time_s_{v.name}"] = float(work[mask].mean()) if mask.any() else math.nan
    kpis["_units_completed"] = float(n_done)
    kpis["_units_scrapped"] = float((completed & (status == SCRAPPED)).sum())
    kpis["_energy_kwh"] = kwh
    kpis["_bottleneck_work_s"] = takt
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
    rest = [k for k in public if k not in HEADLINE and k not in utilization]
    return [k for k in HEADLINE if k in public] + utilization + rest


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
