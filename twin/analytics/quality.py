"""Quality figures of a period: first-pass yield, defect Pareto, weekly trends, quality against settings.

- **First-pass yield** (FPY) = units whose first-pass result is good / units completed; **final yield**
  counts reworked-to-good units too; rework, scrap, not-inspected and escape rates are shares of the units
  completed. The disposition is ``mart_unit_disposition``'s: a unit not inspected is never good.
- **Defect Pareto**: nonconforming measurements (the first pass by default) by defect code (a missing
  code reads ``<characteristic>_OUT``), most frequent first, with cumulative shares.
- **Weekly trends**: per local ISO week (Monday start): units, FPY, rework and scrap rates, energy per
  unit, and OEE from the daily sums.
- **Quality against process settings**: the cell's telemetry carries no settings history, so a
  setting change is detected from the data: every robot cycle time is divided by the median of its
  robot and variant, each unit gets the mean of its robots' ratios, and the single change point that
  minimises the squared error of a two-mean model over the units in time order is kept when the
  step is clear (Welch's t-test p < 1e-6 and at least a 1 % shift). The spread of each quality
  characteristic family (``screw_3_torque_nm`` -> ``screw_torque_nm``) is then compared before and
  after (standard deviations, ratio, Levene's test).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

_INDEX_RE = re.compile(r"_\d+_")


def family(characteristic: str) -> str:
    """A characteristic's family: the per-item index removed.

    Args:
        characteristic: E.g. ``screw_3_torque_nm``.

    Returns:
        E.g. ``screw_torque_nm``; names without an index are returned unchanged.

    >>> family("screw_3_torque_nm"), family("gap_mm")
    ('screw_torque_nm', 'gap_mm')
    """
    return _INDEX_RE.sub("_", characteristic, count=1)


IS_DELIVERED = ~pl.col("is_scrapped")
"""A completed unit is delivered unless scrapped (good, reworked to good or escaped): cost, energy and carbon
are per delivered unit."""


def _rate(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num / den).otherwise(None)


def in_sample(sampling: float = 1.0) -> pl.Expr:
    """Whether a completed unit counts in the yields: every unit, or the units measured in full when inspection samples.

    With full inspection (``sampling`` 1) a unit inspection missed counts and is never good. When the cell
    inspects a sample (``sampling`` of the inspection stations below 1) the yields are the sample's, which estimates
    the whole: the units whose every expected characteristic was measured. (Not "any measurement": a screw
    torque is measured on every unit, so an unsampled unit would enter the sample exactly when it failed.)

    Args:
        sampling: The cell's ``sampling`` of the inspection stations.

    Returns:
        A boolean expression over unit rows.
    """
    return pl.lit(True) if sampling >= 1.0 else pl.col("is_fully_measured")


def judged_count(sampling: float = 1.0) -> pl.Expr:
    """The yields' and the OEE quality ratio's denominator: the completed units :func:`in_sample`.

    Args:
        sampling: The cell's ``sampling`` of the inspection stations.

    Returns:
        An aggregation (Int64).
    """
    return (pl.len() if sampling >= 1.0 else in_sample(sampling).sum()).cast(pl.Int64)


def unit_figures(sampling: float = 1.0) -> list[pl.Expr]:
    """Aggregations over completed units: the counts, the yields and the units delivered.

    The yields are the units :func:`in_sample`'s; the not-inspected and escape rates are over every
    completed unit; the units delivered are :data:`IS_DELIVERED`.

    Args:
        sampling: The cell's ``sampling`` of the inspection stations.

    Returns:
        Expressions for ``units_completed``, ``first_pass_good``, ``reworked``, ``scrapped``,
        ``not_inspected``, ``escaped``, ``good_units``, ``units_delivered``, ``first_pass_yield``,
        ``final_yield``, ``rework_rate``, ``scrap_rate``, ``not_inspected_rate``, ``escape_rate`` (rates null
        without units).
    """
    n = pl.len().cast(pl.Int64)

    def count(column: str) -> pl.Expr:
        return pl.col(column).sum().cast(pl.Int64)

    judged = judged_count(sampling)
    sample = in_sample(sampling)

    def sampled(column: str) -> pl.Expr:
        return (pl.col(column) & sample).sum().cast(pl.Int64)

    unseen = n - count("is_inspected")
    return [
        n.alias("units_completed"),
        count("is_first_pass_good").alias("first_pass_good"),
        count("is_reworked").alias("reworked"),
        count("is_scrapped").alias("scrapped"),
        unseen.alias("not_inspected"),
        count("is_escaped").alias("escaped"),
        count("is_final_good").alias("good_units"),
        IS_DELIVERED.sum().cast(pl.Int64).alias("units_delivered"),
        _rate(sampled("is_first_pass_good"), judged).alias("first_pass_yield"),
        _rate(sampled("is_final_good"), judged).alias("final_yield"),
        _rate(sampled("is_reworked"), judged).alias("rework_rate"),
        _rate(sampled("is_scrapped"), judged).alias("scrap_rate"),
        _rate(unseen, n).alias("not_inspected_rate"),
        _rate(count("is_escaped"), n).alias("escape_rate"),
    ]


def first_pass_yield(units: pl.DataFrame, sampling: float = 1.0) -> dict[str, Any]:
    """First-pass yield, final yield, rework and scrap rates of the units completed in the period.

    Args:
        units: :func:`twin.analytics.kpis.unit_table` rows.
        sampling: The cell's ``sampling`` of the inspection stations (:func:`unit_figures`: the yields' denominator).

    Returns:
        The figures of :func:`unit_figures` and ``by_variant``: ``[{"variant", ...same keys}]``. ``reworked``
        counts the units reworked whatever the outcome, ``escaped`` those whose final result is escaped.
    """
    done = units.filter(pl.col("in_period"))
    out: dict[str, Any] = done.select(unit_figures(sampling)).row(0, named=True)
    by_variant = done.filter(pl.col("variant").is_not_null()).group_by("variant").agg(unit_figures(sampling))
    out["by_variant"] = by_variant.sort("variant").to_dicts()
    return out


def defect_pareto(defects: pl.DataFrame, units: pl.DataFrame, first_pass_only: bool = True) -> pl.DataFrame:
    """Defects of the units completed in the period, most frequent first.

    Args:
        defects: :data:`twin.analytics.frames.DEFECTS` rows.
        units: :func:`twin.analytics.kpis.unit_table` rows (selects the period's units).
        first_pass_only: Count only first-pass measurements (rework re-inspections excluded).

    Returns:
        ``defect``, ``count``, ``units`` (distinct units with it), ``share``, ``cumulative_share``.
    """
    schema = {
        "defect": pl.String(),
        "count": pl.Int64(),
        "units": pl.Int64(),
        "share": pl.Float64(),
        "cumulative_share": pl.Float64(),
    }
    ids = units.filter(pl.col("in_period")).select("unit_id")
    rows = defects.join(ids, on="unit_id", how="semi")
    if first_pass_only:
        rows = rows.filter(pl.col("is_first_pass"))
    if rows.is_empty():
        return pl.DataFrame(schema=schema)
    counted = (
        rows.group_by("defect")
        .agg(pl.len().cast(pl.Int64).alias("count"), pl.col("unit_id").n_unique().cast(pl.Int64).alias("units"))
        .sort(["count", "defect"], descending=[True, False])
    )
    total = float(counted["count"].sum())
    return counted.with_columns(
        (pl.col("count") / total).alias("share"), (pl.col("count").cum_sum() / total).alias("cumulative_share")
    ).cast(schema)  # type: ignore[arg-type]


def weekly_trends(
    units: pl.DataFrame,
    timezone: str,
    energy_hourly: pl.DataFrame | None = None,
    oee_by_day: Sequence[dict[str, Any]] | None = None,
    sampling: float = 1.0,
) -> pl.DataFrame:
    """Weekly KPIs of the units completed in the period, by local ISO week.

    Args:
        units: :func:`twin.analytics.kpis.unit_table` rows.
        timezone: The cell's zone (weeks are local, Monday to Sunday).
        energy_hourly: Optional ``hour_at``, ``kwh`` (e.g. :attr:`EnergySplit.hourly`) for kWh per unit.
        oee_by_day: Optional ``by_day`` list of :func:`twin.analytics.kpis.oee` for weekly OEE.
        sampling: The cell's ``sampling`` of the inspection stations (:func:`unit_figures`).

    Returns:
        ``week`` (Monday's date), the figures of :func:`unit_figures`, and when given ``energy_kwh``,
        ``kwh_per_unit`` (per delivered unit), ``availability``, ``performance``, ``quality``, ``oee``.
    """
    week = pl.col("_local").dt.truncate("1w").dt.date().alias("week")
    done = units.filter(pl.col("in_period")).with_columns(
        pl.col("completed_at").dt.convert_time_zone(timezone).alias("_local")
    )
    weekly = done.group_by(week).agg(unit_figures(sampling)).sort("week")
    if energy_hourly is not None and energy_hourly.height:
        energy = (
            energy_hourly.with_columns(pl.col("hour_at").dt.convert_time_zone(timezone).alias("_local"))
            .group_by(week)
            .agg(pl.col("kwh").sum().alias("energy_kwh"))
        )
        weekly = (
            weekly.join(energy, on="week", how="full", coalesce=True)
            .with_columns(pl.col("units_completed", "good_units", "units_delivered").fill_null(0))
            .with_columns(_rate(pl.col("energy_kwh"), pl.col("units_delivered")).alias("kwh_per_unit"))
            .sort("week")
        )
    if oee_by_day:
        days = pl.DataFrame(
            [
                {
                    "date": d["date"],
                    "planned_s": d["planned_time_s"],
                    "run_s": d["run_time_s"],
                    "ideal_s": d.get("ideal_time_s", 0.0),
                    "total": d["total_count"],
                    "good": d["good_count"],
                    "judged": d["judged_count"],
                }
                for d in oee_by_day
            ]
        ).with_columns(pl.col("date").str.to_date().dt.truncate("1w").alias("week"))
        w = days.group_by("week").agg(pl.col("planned_s", "run_s", "ideal_s", "good", "judged").sum())
        w = w.with_columns(
            pl.when(pl.col("planned_s") > 0).then(pl.col("run_s") / pl.col("planned_s")).alias("availability"),
            pl.when(pl.col("run_s") > 0).then(pl.col("ideal_s") / pl.col("run_s")).alias("performance"),
            pl.when(pl.col("judged") > 0).then(pl.col("good") / pl.col("judged")).alias("quality"),
        ).with_columns((pl.col("availability") * pl.col("performance") * pl.col("quality")).alias("oee"))
        weekly = weekly.join(
            w.select("week", "availability", "performance", "quality", "oee"), on="week", how="full", coalesce=True
        ).sort("week")
    return weekly


def _change_point(x: np.ndarray, min_size: int) -> tuple[int, float] | None:
    """Index splitting ``x`` into two segments with the least total squared error, and its p-value."""
    n = x.size
    if n < 2 * min_size:
        return None
    csum = np.cumsum(x)
    csq = np.cumsum(x * x)
    k = np.arange(min_size, n - min_size + 1)
    left_sse = csq[k - 1] - csum[k - 1] ** 2 / k
    right_n = n - k
    right_sum = csum[-1] - csum[k - 1]
    right_sse = (csq[-1] - csq[k - 1]) - right_sum**2 / right_n
    best = int(k[np.argmin(left_sse + right_sse)])
    a, b = x[:best], x[best:]
    if a.std() == 0 and b.std() == 0:
        p = 0.0 if a.mean() != b.mean() else 1.0
    else:
        p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return best, p


def _summary(values: np.ndarray) -> dict[str, Any]:
    return {
        "n": int(values.size),
        "mean": float(values.mean()) if values.size else None,
        "std": float(values.std(ddof=1)) if values.size > 1 else None,
    }


def settings_change(
    robot_cycles: pl.DataFrame,
    measurements: pl.DataFrame,
    units: pl.DataFrame | None = None,
    min_step: float = 0.01,
    alpha: float = 1e-6,
) -> dict[str, Any]:
    """Detect a process-setting change from robot cycle times and compare quality before and after it.

    Args:
        robot_cycles: :data:`twin.analytics.frames.ROBOT_CYCLES` rows (one per unit per robot).
        measurements: :data:`twin.analytics.frames.MEASUREMENTS` rows (first-pass rows are compared).
        units: Optional unit table; when given only units completed in the period are used.
        min_step: Smallest relative change of the cycle-time ratio that counts as a change.
        alpha: Significance level of Welch's t-test on the step.

    Returns:
        ``{"detected", "change_at", "units_before", "units_after", "cycle_time_ratio", "p_value", "method",
        "robots": [{"robot", "variant", "before_s", "after_s"}], "characteristics": [{"characteristic",
        "before": {"n","mean","std"}, "after": {...}, "std_ratio", "levene_p"}]}``.
    """
    method = (
        "robot cycle time / median of its robot and variant, averaged per unit; single least-squares change "
        f"point, kept when Welch p < {alpha:g} and the step is at least {min_step:.0%}"
    )
    result: dict[str, Any] = {
        "detected": False,
        "change_at": None,
        "units_before": 0,
        "units_after": 0,
        "cycle_time_ratio": None,
        "p_value": None,
        "method": method,
        "robots": [],
        "characteristics": [],
    }
    robot_cycles = robot_cycles.filter(pl.col("duration_s").is_not_null() & (pl.col("duration_s") > 0))
    if units is not None:
        robot_cycles = robot_cycles.join(units.filter(pl.col("in_period")).select("unit_id"), on="unit_id", how="semi")
    if robot_cycles.is_empty():
        return result
    robot_cycles = robot_cycles.with_columns(
        (pl.col("duration_s") / pl.col("duration_s").median().over("station_id", "variant")).alias("ratio")
    )
    per_unit = robot_cycles.group_by("unit_id").agg(pl.col("ratio").mean(), pl.col("at").min()).sort("at", "unit_id")
    x = per_unit["ratio"].to_numpy()
    found = _change_point(x, max(30, x.size // 20))
    if found is None:
        return result
    k, p = found
    before, after = x[:k].mean(), x[k:].mean()
    step = after / before if before > 0 else None
    result.update({"p_value": p, "cycle_time_ratio": step})
    if step is None or abs(step - 1.0) < min_step or p >= alpha:
        return result
    change_at = per_unit["at"][k]
    result.update(
        {"detected": True, "change_at": change_at.isoformat(), "units_before": int(k), "units_after": int(x.size - k)}
    )
    phase = pl.when(pl.col("at") < change_at).then(pl.lit("before")).otherwise(pl.lit("after"))
    by_robot = (
        robot_cycles.with_columns(phase.alias("phase"))
        .group_by("station_id", "variant", "phase")
        .agg(pl.col("duration_s").mean())
        .pivot(on="phase", index=["station_id", "variant"], values="duration_s")
        .sort("station_id", "variant")
    )
    result["robots"] = [
        {"robot": r["station_id"], "variant": r["variant"], "before_s": r.get("before"), "after_s": r.get("after")}
        for r in by_robot.iter_rows(named=True)
    ]
    unit_at = per_unit.select("unit_id", "at")
    rows = measurements.join(unit_at, on="unit_id", how="inner").with_columns(
        (pl.col("at") < change_at).alias("is_before")
    )
    for name in sorted(rows["family"].unique().to_list()):
        sub = rows.filter(pl.col("family") == name)
        a = sub.filter(pl.col("is_before"))["value"].to_numpy()
        b = sub.filter(~pl.col("is_before"))["value"].to_numpy()
        sa, sb = _summary(a), _summary(b)
        ratio = sb["std"] / sa["std"] if sa["std"] and sb["std"] is not None else None
        levene = float(stats.levene(a, b).pvalue) if a.size > 2 and b.size > 2 else None
        result["characteristics"].append(
            {"characteristic": name, "before": sa, "after": sb, "std_ratio": ratio, "levene_p": levene}
        )
    return result
