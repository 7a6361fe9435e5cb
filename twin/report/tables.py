"""The report's tables: every figure of the period as a polars frame (written as CSV and JSON).

:func:`collect` computes the figures once (OEE, cost, carbon, quality, control charts, capability) and
returns them as JSON-ready objects plus one frame per table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from twin.analytics import figures, quality
from twin.analytics.capability import capability
from twin.analytics.cost import LINES
from twin.analytics.figures import Prepared, hourly_of
from twin.analytics.spc import p_chart, xbar_s
from twin.cell import factors as fx
from twin.errors import InputError

RULES = "western-electric"
"""Run rules applied to the report's control charts."""


CHART_SCHEMA: dict[str, pl.DataType] = {
    "chart": pl.String(),
    "index": pl.Int64(),
    "subgroup": pl.String(),
    "value": pl.Float64(),
    "center": pl.Float64(),
    "lcl": pl.Float64(),
    "ucl": pl.Float64(),
    "violations": pl.String(),
}
CAPABILITY_SCHEMA: dict[str, pl.DataType] = {
    "characteristic": pl.String(),
    "n": pl.Int64(),
    "n_units": pl.Int64(),
    "mean": pl.Float64(),
    "lsl": pl.Float64(),
    "usl": pl.Float64(),
    "target": pl.Float64(),
    "cp": pl.Float64(),
    "cpk": pl.Float64(),
    "pp": pl.Float64(),
    "ppk": pl.Float64(),
    "cpm": pl.Float64(),
    "sigma_within": pl.Float64(),
    "sigma_overall": pl.Float64(),
    "subgroups": pl.String(),
}
OEE_DAILY_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.String(),
    "planned_time_s": pl.Float64(),
    "run_time_s": pl.Float64(),
    "ideal_time_s": pl.Float64(),
    "total_count": pl.Int64(),
    "good_count": pl.Int64(),
    "availability": pl.Float64(),
    "performance": pl.Float64(),
    "quality": pl.Float64(),
    "oee": pl.Float64(),
}
SETTINGS_SCHEMA: dict[str, pl.DataType] = {
    "characteristic": pl.String(),
    "n_before": pl.Int64(),
    "mean_before": pl.Float64(),
    "std_before": pl.Float64(),
    "n_after": pl.Int64(),
    "mean_after": pl.Float64(),
    "std_after": pl.Float64(),
    "std_ratio": pl.Float64(),
    "levene_p": pl.Float64(),
}
SETTINGS_ROBOTS_SCHEMA: dict[str, pl.DataType] = {
    "robot": pl.String(),
    "variant": pl.String(),
    "before_s": pl.Float64(),
    "after_s": pl.Float64(),
}


@dataclass
class ReportData:
    """Everything the report shows.

    Attributes:
        summary: JSON-ready figures: ``oee``, ``cost``, ``carbon``, ``quality``, ``settings``, ``charts``,
            ``capability``, ``period``, ``cell``.
        tables: Table name -> frame (each written as ``<name>.csv`` and ``<name>.json``).
        charts: Chart name -> chart dicts of :mod:`twin.analytics.spc` with their point labels.
    """

    summary: dict[str, Any]
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)


def _frame(rows: list[dict[str, Any]], schema: Mapping[str, pl.DataType] | None = None) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=dict(schema or {}))
    return pl.DataFrame(rows, schema=dict(schema) if schema else None, infer_schema_length=None)


def _chart_table(charts: list[dict[str, Any]], labels: list[str]) -> pl.DataFrame:
    rows = []
    for chart in charts:
        flagged: dict[int, list[str]] = {}
        for v in chart["violations"]:
            flagged.setdefault(v["index"], []).append(v["rule"])
        n = len(chart["points"])
        lcl = chart["lcl"] if isinstance(chart["lcl"], list) else [chart["lcl"]] * n
        ucl = chart["ucl"] if isinstance(chart["ucl"], list) else [chart["ucl"]] * n
        for i, value in enumerate(chart["points"]):
            rows.append(
                {
                    "chart": chart["name"],
                    "index": i + 1,
                    "subgroup": labels[i] if i < len(labels) else str(i + 1),
                    "value": value,
                    "center": chart["center"],
                    "lcl": lcl[i],
                    "ucl": ucl[i],
                    "violations": ",".join(flagged.get(i + 1, [])),
                }
            )
    return _frame(rows, CHART_SCHEMA)


HOUR_US = 3_600_000_000


def _hourly_groups(rows: pl.DataFrame, timezone: str) -> tuple[list[np.ndarray], list[str]]:
    """Values grouped by clock hour (groups of at least 2), in time order, labelled in local time.

    Hours are cut in UTC, which are the local clock hours of every zone with whole-hour offsets.
    """
    if rows.is_empty():
        return [], []
    ordered = rows.select((pl.col("measured_at").dt.epoch("us") // HOUR_US).alias("hour"), "value").sort("hour")
    hours = ordered["hour"].to_numpy()
    values = ordered["value"].to_numpy()
    starts = np.flatnonzero(np.r_[True, hours[1:] != hours[:-1]])
    bounds = np.r_[starts, values.size]
    keep = np.flatnonzero(np.diff(bounds) >= 2)
    groups = [values[bounds[i] : bounds[i + 1]] for i in keep]
    first_hours = pl.Series("h", hours[starts[keep]] * HOUR_US).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    labels = first_hours.dt.convert_time_zone(timezone).dt.strftime("%Y-%m-%d %H:00").to_list()
    return groups, labels


def control_charts(p: Prepared, torque_family: str | None = None) -> dict[str, dict[str, Any]]:
    """The report's control charts.

    - ``torque_xbar_s``: X̄-S of the first-pass screw torques measured in the period, one subgroup per
      clock hour;
    - ``first_pass_p``: p chart of the units completed and inspected in the period failing first pass, one
      sample per local day.

    Args:
        p: The prepared period (its measurements must include the torque family).
        torque_family: Characteristic family of the X̄-S chart; when None, the cell's first characteristic
            measured several times per unit (by a repeated operation), else its first characteristic.

    Returns:
        Chart name -> ``{"charts": [...], "labels": [...], "title": str}``; a chart without enough data
        is left out.
    """
    tz = p.data.period.timezone
    out: dict[str, dict[str, Any]] = {}
    torque_family = torque_family or subgrouped_characteristic(p.cell)
    torque = p.data.measurements.filter(pl.col("value").is_not_null() & (pl.col("family") == torque_family))
    groups, labels = _hourly_groups(torque, tz)
    if len(groups) >= 2:
        try:
            out["torque_xbar_s"] = {
                "charts": xbar_s(groups, rules=RULES),
                "labels": labels,
                "title": f"X̄-S chart of {torque_family} (first pass), subgroups = clock hours",
            }
        except InputError:
            pass
    done = p.units.filter(pl.col("in_period") & pl.col("is_inspected"))  # a unit not inspected is no sample
    if done.height:
        daily = (
            done.with_columns(pl.col("completed_at").dt.convert_time_zone(tz).dt.date().alias("day"))
            .group_by("day")
            .agg(pl.len().alias("n"), pl.col("is_first_pass_failed").sum().alias("bad"))
            .sort("day")
        )
        if daily.height >= 2:
            out["first_pass_p"] = {
                "charts": p_chart(daily["bad"].to_numpy(), daily["n"].to_numpy(), rules=RULES),
                "labels": [d.isoformat() for d in daily["day"].to_list()],
                "title": "p chart of units failing first pass, samples = local days",
            }
    return out


def subgrouped_characteristic(cell: Any) -> str | None:
    """The characteristic an X̄-S chart follows: the first measured per repetition, else the first one."""
    return next(iter(cell.per_item_characteristics or list(cell.quality.characteristics)), None)


CAPABILITY_MAX_UNITS = 10_000
"""Capability is estimated on about this many units at most, sampled over the whole period."""


def capability_table(p: Prepared) -> pl.DataFrame:
    """Capability of every quality characteristic family of the cell: first-pass measurements of the period.

    Families measured several times per unit (screw torques) use the unit as subgroup (sigma within =
    R̄/d₂); one value per unit uses moving ranges in time order. With more than
    :data:`CAPABILITY_MAX_UNITS` units, a fixed 1-in-k sample of the units (by a hash of the unit id) is used
    (``n_units`` says how many).

    Args:
        p: The prepared period.

    Returns:
        One row per family: ``characteristic``, ``n``, ``n_units``, ``mean``, ``lsl``, ``usl``, ``target``,
        ``cp``, ``cpk``, ``pp``, ``ppk``, ``cpm``, ``sigma_within``, ``sigma_overall``, ``subgroups``.
    """
    specs = dict(p.cell.quality.characteristics)
    by_family = p.data.measurements.filter(
        pl.col("value").is_not_null() & pl.col("family").is_in(list(specs))
    ).partition_by("family", as_dict=True, include_key=False)
    rows = []
    for name, spec in specs.items():
        sub = by_family.get((name,))
        if sub is None:
            continue
        n_units = sub["unit_id"].approx_n_unique()  # only sizes the sample; an estimate is enough
        if n_units > CAPABILITY_MAX_UNITS:  # a 1-in-k sample of units, by a fixed hash of the unit id
            k = -(-n_units // CAPABILITY_MAX_UNITS)
            sub = sub.filter(pl.col("unit_id").hash(seed=0) % k == 0)
        sub = sub.sort("measured_at", "unit_id")
        if sub.height < 3:
            continue
        sizes = sub.group_by("unit_id").len()["len"]
        subgroups = None
        if int(sizes.min()) >= 2 and int(sizes.max()) <= 25:
            subgroups = sub["unit_id"].rank("dense").to_numpy()  # integer labels group faster than strings
        try:
            r = capability(sub["value"].to_numpy(), subgroups, lsl=spec.lsl, usl=spec.usl, target=spec.target)
        except InputError:
            continue
        rows.append(
            {
                "characteristic": name,
                "n": int(r["n"]),
                "n_units": int(sizes.len()),
                "mean": r["mean"],
                "lsl": spec.lsl,
                "usl": spec.usl,
                "target": spec.target,
                "cp": r["cp"],
                "cpk": r["cpk"],
                "pp": r["pp"],
                "ppk": r["ppk"],
                "cpm": r["cpm"],
                "sigma_within": r["sigma_within"],
                "sigma_overall": r["sigma_overall"],
                "subgroups": "unit" if subgroups is not None else "moving range",
            }
        )
    return _frame(rows, CAPABILITY_SCHEMA)


def factor_table(p: Prepared, carbon_result: dict[str, Any]) -> pl.DataFrame:
    """Every factor and parameter behind the figures, with its source.

    Args:
        p: The prepared period.
        carbon_result: :func:`twin.analytics.figures.carbon_of` of the period.

    Returns:
        ``name``, ``value``, ``unit``, ``source``, ``year``, ``region``, ``used_for``.
    """
    rows = [{**f, "used_for": "carbon"} for f in carbon_result["factors"]]
    tariffs = fx.load_factor_table("tariffs", extra_dirs=fx.cell_factor_dirs(p.cell))
    tariff = tariffs.filter(pl.col("tariff_id") == p.cell.cost.tariff_id)
    rows += [{**f, "used_for": "cost: energy (time of use)"} for f in fx.factor_rows(tariff)]
    c, cell_id = p.cell.cost, p.cell.cell.id
    year = p.data.period.start.year
    region = p.cell.carbon.grid_region
    for currency in sorted({fx.unit_currency(u) for u in tariff["unit"].to_list()} - {c.currency, None}):
        rate = c.exchange_rates[currency]  # the cell loaded, so the tariff's currency has a rate
        rows.append(
            {
                "name": f"cost.exchange_rates.{currency}",
                "value": float(rate.rate),
                "unit": f"{c.currency}/{currency}",
                "source": f"cell definition {cell_id}: {rate.source} ({rate.date.isoformat()})",
                "year": rate.date.year,
                "region": region,
                "used_for": "cost: energy (tariff converted into the cell's currency)",
            }
        )

    def param(name: str, value: float, unit: str, used_for: str) -> dict[str, Any]:
        return {
            "name": name,
            "value": float(value),
            "unit": unit,
            "source": f"cell definition {cell_id}: {name}",
            "year": year,
            "region": region,
            "used_for": used_for,
        }

    currency = c.currency
    rows.append(param("cost.labour_per_h", c.labour_per_h, f"{currency}/h", "cost: labour"))
    rows.append(param("cost.operators_per_shift", c.operators_per_shift, "operators", "cost: labour"))
    rows.append(param("cost.maintenance_per_h", c.maintenance_per_h, f"{currency}/h of run time", "cost: maintenance"))
    rows.append(param("cost.rework_per_unit", c.rework_per_unit, f"{currency}/unit", "cost: poor quality"))
    for machine, rate in c.depreciation_per_machine_h.items():
        rows.append(
            param(f"cost.depreciation_per_machine_h.{machine}", rate, f"{currency}/machine h", "cost: equipment")
        )
    for material, price in c.materials_per_kg.items():
        rows.append(param(f"cost.materials_per_kg.{material}", price, f"{currency}/kg", "cost: material"))
    return _frame(rows)


def collect(p: Prepared, ideal_cycle_s: Mapping[str, float], step: Callable[[str], None] | None = None) -> ReportData:
    """Compute every figure of the report.

    Args:
        p: The prepared period (with torque, gap and flush measurements loaded).
        ideal_cycle_s: Ideal cycle time per variant for OEE.
        step: Called with a label after each stage (progress bar).

    Returns:
        The :class:`ReportData`.
    """
    tick = step or (lambda _label: None)
    period, tz = p.data.period, p.data.period.timezone
    oee = figures.oee_of(p, ideal_cycle_s)
    tick("oee")
    cost = figures.cost_of(p, oee["run_time_s"])
    tick("cost")
    carbon = figures.carbon_of(p)
    tick("carbon")
    fpy = quality.first_pass_yield(p.units, p.cell.inspection_sampling)
    pareto = quality.defect_pareto(p.data.defects, p.units)
    weekly = quality.weekly_trends(p.units, tz, p.split.hourly, oee["by_day"], p.cell.inspection_sampling)
    settings = quality.settings_change(p.data.robot_cycles, p.data.measurements, p.units)
    tick("quality")
    charts = control_charts(p)
    cap = capability_table(p)
    tick("control charts")

    tables: dict[str, pl.DataFrame] = {}
    tables["oee_daily"] = _frame(oee["by_day"], OEE_DAILY_SCHEMA)
    summary_rows = [
        ("units_completed", float(fpy["units_completed"]), "units"),
        ("good_units", float(cost["units"]), "units"),
        ("oee", oee["oee"], "ratio"),
        ("availability", oee["availability"], "ratio"),
        ("performance", oee["performance"], "ratio"),
        ("quality", oee["quality"], "ratio"),
        ("first_pass_yield", fpy["first_pass_yield"], "ratio"),
        ("final_yield", fpy["final_yield"], "ratio"),
        ("cost_per_unit", cost["cost_per_unit"]["total"], f"{cost['currency']}/unit"),
        ("energy_kwh", carbon["energy_kwh"], "kWh"),
        ("energy_kwh_per_unit", carbon["energy_kwh_per_unit"], "kWh/unit"),
        ("kgco2e_per_unit_location", carbon["per_unit_kg"]["total_location"], "kg CO2e/unit"),
        ("kgco2e_per_unit_market", carbon["per_unit_kg"]["total_market"], "kg CO2e/unit"),
        ("missing_intensity_hours", float(carbon["missing_intensity_hours"]), "h"),
    ]
    tables["kpi_summary"] = pl.DataFrame(
        {
            "kpi": [r[0] for r in summary_rows],
            "value": [r[1] for r in summary_rows],
            "unit": [r[2] for r in summary_rows],
        },
        schema={"kpi": pl.String(), "value": pl.Float64(), "unit": pl.String()},
    )
    tables["cost_per_unit"] = pl.DataFrame(
        {
            "line": [*LINES, "total"],
            "per_unit": [cost["cost_per_unit"][k] for k in (*LINES, "total")],
            "total_cost": [cost["total_cost"][k] for k in (*LINES, "total")],
        },
        schema={"line": pl.String(), "per_unit": pl.Float64(), "total_cost": pl.Float64()},
    )
    tables["cost_by_variant"] = _frame(
        [
            {
                "variant": v["variant"],
                "units": v["units"],
                **{f"{k}_per_unit": v["cost_per_unit"][k] for k in (*LINES, "total")},
            }
            for v in cost["by_variant"]
        ]
    )
    per = carbon["per_unit_kg"]
    tables["carbon_scopes"] = pl.DataFrame(
        {
            "scope": ["scope1", "scope2_location", "scope2_market", "scope3_cat1", "total_location", "total_market"],
            "kg": [
                carbon["scope1_kg"], carbon["scope2_location_kg"], carbon["scope2_market_kg"], carbon["scope3_cat1_kg"],
                carbon["scope1_kg"] + carbon["scope2_location_kg"] + carbon["scope3_cat1_kg"],
                carbon["scope1_kg"] + carbon["scope2_market_kg"] + carbon["scope3_cat1_kg"],
            ],
            "kg_per_unit": [per[k] for k in ("scope1", "scope2_location", "scope2_market", "scope3_cat1",
                                             "total_location", "total_market")],
        },
        schema={"scope": pl.String(), "kg": pl.Float64(), "kg_per_unit": pl.Float64()},
    )  # fmt: skip
    tables["carbon_by_variant"] = _frame(
        [{"variant": v["variant"], "units": v["units"], **{f"{k}_kg_per_unit": x for k, x in v["per_unit_kg"].items()}}
         for v in carbon["by_variant"]]
    )  # fmt: skip
    tables["energy_hourly"] = hourly_of(p).with_columns(
        pl.col("hour_at").dt.convert_time_zone(tz).dt.strftime("%Y-%m-%dT%H:%M%:z").alias("local_hour"),
    )
    tables["energy_by_meter"] = p.split.by_meter.with_columns(
        (pl.col("kwh") - pl.col("direct_kwh")).alias("shared_kwh")
    )
    tables["factors"] = factor_table(p, carbon)
    tables["first_pass_yield"] = _frame(
        [{"variant": "all", **{k: v for k, v in fpy.items() if k != "by_variant"}}, *fpy["by_variant"]]
    )
    tables["defect_pareto"] = pareto
    tables["weekly_trends"] = weekly
    tables["settings_change"] = _frame(
        [
            {
                "characteristic": c["characteristic"],
                "n_before": c["before"]["n"],
                "mean_before": c["before"]["mean"],
                "std_before": c["before"]["std"],
                "n_after": c["after"]["n"],
                "mean_after": c["after"]["mean"],
                "std_after": c["after"]["std"],
                "std_ratio": c["std_ratio"],
                "levene_p": c["levene_p"],
            }
            for c in settings["characteristics"]
        ],
        SETTINGS_SCHEMA,
    )
    tables["settings_change_cycle_times"] = _frame(settings["robots"], SETTINGS_ROBOTS_SCHEMA)
    tables["capability"] = cap
    for name, chart in charts.items():
        tables[f"spc_{name}"] = _chart_table(chart["charts"], chart["labels"])

    summary = {
        "cell": p.cell.cell.id,
        "period": period.to_json(),
        "source": p.data.source,
        "oee": oee,
        "cost": cost,
        "carbon": carbon,
        "quality": {**fpy, "defect_pareto": pareto.to_dicts()},
        "settings_change": settings,
        "control_charts": {k: {"title": v["title"], "charts": v["charts"]} for k, v in charts.items()},
        "capability": cap.to_dicts(),
    }
    return ReportData(summary=summary, tables=tables, charts=charts)
