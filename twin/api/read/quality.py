"""Quality of a period: control charts, capability, the defect Pareto, setups, the first-pass p chart.

Control charts and capability use the first-pass measurements of the period's completed units.

Every function takes a period read with ``detail=True`` (:func:`twin.api.periods.period`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from twin.analytics import spc
from twin.analytics.capability import capability
from twin.analytics.quality import defect_pareto
from twin.api.periods import PeriodFigures
from twin.errors import InputError

SUBGROUPS: dict[str, str] = {"hour": "1h", "shift (8 h)": "8h", "day": "1d"}
"""Control-chart subgroupings of the first-pass measurements by local time: name -> polars duration."""


def completed_units(figures: PeriodFigures, variant: str | None = None) -> pl.DataFrame:
    """The units completed in the period (of one variant).

    Args:
        figures: The period.
        variant: Only this variant's units.

    Returns:
        :func:`twin.analytics.kpis.unit_table` rows.
    """
    units = figures.prepared.units.filter(pl.col("in_period"))
    return units.filter(pl.col("variant") == variant) if variant is not None else units


def first_pass_measurements(figures: PeriodFigures, family: str, variant: str | None = None) -> pl.DataFrame:
    """First-pass measurements of one characteristic family of the period's completed units, in time order.

    Args:
        figures: The period.
        family: A characteristic family, e.g. ``gap_mm``.
        variant: Only this variant's units.

    Returns:
        :data:`twin.analytics.frames.MEASUREMENTS` rows.
    """
    m = figures.prepared.data.measurements
    keep = (pl.col("family") == family) & pl.col("value").is_not_null()
    if "is_first_pass" in m.columns:  # the frame holds first-pass rows only in newer marts
        keep = keep & pl.col("is_first_pass")
    m = m.filter(keep)
    return m.join(completed_units(figures, variant).select("unit_id"), on="unit_id", how="semi").sort("measured_at")


def _chart_frame(chart: Mapping[str, Any], at: pl.Series, sizes: pl.Series) -> pl.DataFrame:
    """One :mod:`twin.analytics.spc` chart as rows: ``at``, ``n``, ``value``, ``center``, ``lcl``, ``ucl``, ``rules``.

    ``rules`` lists the run rules a point violates (comma separated, empty when none).
    """
    n = len(chart["points"])
    flagged: dict[int, list[str]] = {}
    for v in chart["violations"]:
        flagged.setdefault(int(v["index"]) - 1, []).append(str(v["rule"]))
    lcl = chart["lcl"] if isinstance(chart["lcl"], list) else [chart["lcl"]] * n
    ucl = chart["ucl"] if isinstance(chart["ucl"], list) else [chart["ucl"]] * n
    return pl.DataFrame(
        {
            "at": at,
            "n": sizes,
            "value": pl.Series(chart["points"], dtype=pl.Float64),
            "center": pl.Series([chart["center"]] * n, dtype=pl.Float64),
            "lcl": pl.Series(lcl, dtype=pl.Float64),
            "ucl": pl.Series(ucl, dtype=pl.Float64),
            "rules": pl.Series([",".join(flagged.get(i, [])) for i in range(n)], dtype=pl.String),
        }
    )


def subgroup_chart(
    measurements: pl.DataFrame, timezone: str, subgroup: str = "hour", rules: str | None = "western-electric"
) -> dict[str, Any] | None:
    """X̄-S (or X̄-R for subgroups of at most ten) chart of measurements grouped by local time, for plotting.

    Subgroups of fewer than two values are left out. Limits come from every subgroup shown (phase I).

    Args:
        measurements: Rows with ``measured_at`` and ``value``.
        timezone: The cell's zone (subgroups are local hours, shifts or days).
        subgroup: A key of :data:`SUBGROUPS`.
        rules: ``western-electric``, ``nelson`` or None (beyond the limits only).

    Returns:
        ``{"chart", "location_name", "dispersion_name", "location", "dispersion", "violations"}`` where each
        frame has ``at`` (subgroup start), ``n``, ``value``, ``center``, ``lcl``, ``ucl``, ``rules`` (violated
        rules, comma separated, empty when none); None with fewer than two subgroups.

    Raises:
        InputError: An unknown subgrouping or rule set.
    """
    if subgroup not in SUBGROUPS:
        raise InputError(f"unknown subgroup {subgroup!r}; valid: {', '.join(SUBGROUPS)}")
    grouped = (
        measurements.with_columns(
            pl.col("measured_at").dt.convert_time_zone(timezone).dt.truncate(SUBGROUPS[subgroup]).alias("at")
        )
        .group_by("at")
        .agg(pl.col("value"))
        .filter(pl.col("value").list.len() >= 2)
        .sort("at")
    )
    if grouped.height < 2:
        return None
    groups = [np.asarray(v, dtype=float) for v in grouped["value"].to_list()]
    use_r = max(g.size for g in groups) <= 10
    charts = (spc.xbar_r if use_r else spc.xbar_s)(groups, rules=rules)
    sizes = grouped["value"].list.len().cast(pl.Int64)
    location, dispersion = (_chart_frame(c, grouped["at"], sizes) for c in charts[:2])
    return {
        "chart": "xbar-r" if use_r else "xbar-s",
        "location_name": charts[0]["name"],
        "dispersion_name": charts[1]["name"],
        "location": location,
        "dispersion": dispersion,
        "violations": int((location["rules"] != "").sum() + (dispersion["rules"] != "").sum()),
    }


def measurement_chart(
    figures: PeriodFigures,
    family: str,
    variant: str | None = None,
    subgroup: str = "hour",
    rules: str | None = "western-electric",
) -> dict[str, Any] | None:
    """The control chart of one family's first-pass measurements in the period (:func:`subgroup_chart`).

    Args:
        figures: The period.
        family: A characteristic family.
        variant: Only this variant's units.
        subgroup: A key of :data:`SUBGROUPS`.
        rules: ``western-electric``, ``nelson`` or None.

    Returns:
        The chart, or None with fewer than two subgroups.

    Raises:
        InputError: An unknown subgrouping or rule set.
    """
    return subgroup_chart(first_pass_measurements(figures, family, variant), figures.period.timezone, subgroup, rules)


CAPABILITY_ROWS: dict[str, pl.DataType] = {
    "characteristic": pl.String(),
    "phase": pl.String(),
    "n": pl.Int64(),
    "mean": pl.Float64(),
    "lsl": pl.Float64(),
    "usl": pl.Float64(),
    "cp": pl.Float64(),
    "cpk": pl.Float64(),
    "pp": pl.Float64(),
    "ppk": pl.Float64(),
    "cpm": pl.Float64(),
}
"""The columns of :func:`capability_rows`."""


def capability_rows(
    figures: PeriodFigures,
    spec_limits: Mapping[str, tuple[float | None, float | None, float | None]],
    variant: str | None = None,
    split_at: str | None = None,
) -> pl.DataFrame:
    """Capability of each family over the period's first-pass measurements (and before / after a change).

    Families measured several times per unit (screws) use the unit as subgroup (σ within = R̄/d₂);
    one value per unit uses moving ranges.

    Args:
        figures: The period.
        spec_limits: Family -> ``(lsl, usl, target)``.
        variant: Only this variant's units.
        split_at: An ISO instant (the process change): rows ``before`` and ``after`` it as well.

    Returns:
        :data:`CAPABILITY_ROWS`: one row per family and phase (``period``, ``before``, ``after``) with at
        least three values.
    """
    rows = []
    cut = datetime.fromisoformat(split_at) if split_at else None
    for name, (lsl, usl, target) in spec_limits.items():
        whole = first_pass_measurements(figures, name, variant)
        phases = [("period", whole)]
        if cut is not None:
            phases += [
                ("before", whole.filter(pl.col("measured_at") < cut)),
                ("after", whole.filter(pl.col("measured_at") >= cut)),
            ]
        for phase, sub in phases:
            if sub.height < 3:
                continue
            sizes = sub.group_by("unit_id").len()["len"]
            subgroups = sub["unit_id"].to_list() if int(sizes.min()) >= 2 and int(sizes.max()) <= 25 else None
            try:
                r = capability(sub["value"].to_numpy(), subgroups, lsl=lsl, usl=usl, target=target)
            except InputError:
                continue
            rows.append(
                {"characteristic": name, "phase": phase, "n": int(r["n"]), "mean": r["mean"], "lsl": lsl, "usl": usl,
                 "cp": r["cp"], "cpk": r["cpk"], "pp": r["pp"], "ppk": r["ppk"], "cpm": r["cpm"]}
            )  # fmt: skip
    return pl.DataFrame(rows, schema=CAPABILITY_ROWS)


def pareto_table(figures: PeriodFigures, variant: str | None = None, station: str | None = None) -> pl.DataFrame:
    """Defects of the period's first pass, most frequent first, with cumulative shares.

    Args:
        figures: The period.
        variant: Only this variant's units.
        station: Only defects found at this station.

    Returns:
        :func:`twin.analytics.quality.defect_pareto`: ``defect``, ``count``, ``units``, ``share``,
        ``cumulative_share``.
    """
    p = figures.prepared
    defects = p.data.defects
    if station is not None:
        defects = defects.filter(pl.col("station_id") == station)
    units = p.units if variant is None else p.units.filter(pl.col("variant") == variant)
    return defect_pareto(defects, units)


def setup_intervals(figures: PeriodFigures, station: str | None = None) -> pl.DataFrame:
    """Setup intervals (maintenance) starting in the period, in time order.

    The screwdriver's maintenance resets the tool-wear drift of the screw torque.

    Args:
        figures: The period.
        station: Only this station's setups.

    Returns:
        ``station_id``, ``code``, ``start_at``, ``end_at``.
    """
    period = figures.prepared.data.period
    rows = figures.prepared.data.downtime.filter(
        (pl.col("kind") == "setup") & (pl.col("start_at") >= period.start) & (pl.col("start_at") < period.end)
    )
    if station is not None:
        rows = rows.filter(pl.col("station_id") == station)
    return rows.select("station_id", "code", "start_at", "end_at").sort("start_at")


def first_pass_p_chart(
    figures: PeriodFigures, variant: str | None = None, rules: str | None = "western-electric"
) -> pl.DataFrame:
    """P chart of the units failing first pass, one sample per local day.

    Args:
        figures: The period.
        variant: Only this variant's units.
        rules: Run rules.

    Returns:
        ``date``, ``n``, ``failed``, ``p``, ``center``, ``lcl``, ``ucl``, ``rules``; empty with fewer than 2 days.
    """
    tz = figures.period.timezone
    schema = {
        "date": pl.Date(), "n": pl.Int64(), "failed": pl.Int64(), "p": pl.Float64(), "center": pl.Float64(),
        "lcl": pl.Float64(), "ucl": pl.Float64(), "rules": pl.String(),
    }  # fmt: skip
    daily = (
        completed_units(figures, variant)
        .filter(pl.col("is_inspected"))  # a unit not inspected is no sample of the p chart
        .group_by(pl.col("completed_at").dt.convert_time_zone(tz).dt.date().alias("date"))
        .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("is_first_pass_failed").sum().cast(pl.Int64).alias("failed"))
        .sort("date")
    )
    if daily.height < 2:
        return pl.DataFrame(schema=schema)
    chart = spc.p_chart(daily["failed"].to_numpy(), daily["n"].to_numpy(), rules=rules)[0]
    rows = _chart_frame(chart, daily["date"], daily["n"])
    return daily.with_columns(rows["value"].alias("p"), rows["center"], rows["lcl"], rows["ucl"], rows["rules"]).select(
        list(schema)
    )
