"""Scenarios: the what-if results the warehouse holds against the baseline (KPI, mean, 95 % CI, delta), with the
twin's measured error beside them; launch a `twin scenario run` in the background and follow its progress."""

from __future__ import annotations

import common
import jobs
import plotly.graph_objects as go
import polars as pl
import streamlit as st
from plotly.subplots import make_subplots

from twin.api.read import scenarios as read_scenarios

BASELINE = "baseline-v1"


def job_results() -> pl.DataFrame:
    """KPI rows of the scenario runs launched from this page (their result files)."""
    parts = []
    for job in jobs.list_jobs(common.jobs_dir(), "scenario"):
        if job.state != jobs.SUCCEEDED:
            continue
        doc = job.result()
        if isinstance(doc, dict) and isinstance(doc.get("kpis"), dict):
            parts.append(read_scenarios.scenario_rows(doc, job.job_id, "dashboard job"))
    return pl.concat(parts[::-1]) if parts else pl.DataFrame(schema=read_scenarios.SCENARIO_ROWS)


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.1f} %"


def results(ctx: common.Context) -> None:
    stored = common.scenario_results(ctx.warehouse, ctx.version, ctx.cell.cell_id)
    rows = pl.concat([stored, job_results()])
    if rows.is_empty():
        st.info(
            "**The warehouse holds no scenario results yet.** Run `twin demo` (it runs the baseline and the example "
            "what-ifs), or `twin scenario run FILE`, or launch a run below.",
            icon=":material/info:",
        )
        return
    scenarios = list(dict.fromkeys(rows["scenario"].to_list()))
    if st.session_state.get("sc_baseline") not in scenarios:
        st.session_state["sc_baseline"] = BASELINE if BASELINE in scenarios else scenarios[0]
    c1, c2 = st.columns(2)
    baseline = c1.selectbox("Baseline", scenarios, key="sc_baseline")
    table = read_scenarios.compare_rows(rows, baseline)
    kpis = [k for k in read_scenarios.SCENARIO_KPIS if k in set(table["kpi"])] or table["kpi"].unique().to_list()
    kpi = c2.selectbox("KPI", kpis, key="sc_kpi")
    common.show("scenarios", scenarios=scenarios, baseline=baseline, rows=table.height)

    base = table.filter(pl.col("scenario") == baseline).head(1)
    err_ct = base["twin_error_cycle_time_rel"][0] if base.height else None
    err_e = base["twin_error_energy_per_unit_rel"][0] if base.height else None
    m = st.columns(3)
    m[0].metric("Scenarios", f"{len(scenarios)}", border=True)
    m[1].metric(
        "Twin error: cycle time",
        pct(err_ct),
        border=True,
        help="the baseline simulated over the measured period against the measured cycle time per unit",
    )
    m[2].metric(
        "Twin error: energy per unit",
        pct(err_e),
        border=True,
        help="the baseline's energy per completed unit against the measured one",
    )
    if err_ct is None and err_e is None:
        st.caption("No twin error: the baseline was run without measured data in the warehouse.")

    one = table.filter(pl.col("kpi") == kpi)
    names = one["scenario"].to_list()
    fig = make_subplots(rows=1, cols=2, subplot_titles=(f"{kpi}: mean with 95 % CI", f"delta against {baseline}"))
    fig.add_trace(
        go.Bar(
            x=names,
            y=one["mean"].to_list(),
            name="mean",
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (one["ci_high"] - one["mean"]).to_list(),
                "arrayminus": (one["mean"] - one["ci_low"]).to_list(),
            },
        ),
        1,
        1,
    )
    others = one.filter(pl.col("scenario") != baseline)
    fig.add_trace(
        go.Bar(
            x=others["scenario"].to_list(),
            y=others["delta"].to_list(),
            name="delta",
            marker_color=["#54a24b" if (d or 0) >= 0 else "#e45756" for d in others["delta"].to_list()],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (others["delta_ci_high"] - others["delta"]).to_list(),
                "arrayminus": (others["delta"] - others["delta_ci_low"]).to_list(),
            },
        ),
        1,
        2,
    )
    fig.update_layout(height=360, showlegend=False, margin={"t": 40, "b": 10})
    st.plotly_chart(fig, key="scenario_kpi")
    shown = table.filter(pl.col("kpi").is_in(list(read_scenarios.SCENARIO_KPIS))) if kpis else table
    st.dataframe(
        shown.sort("kpi", "scenario"),
        hide_index=True,
        column_config={
            **{
                c: st.column_config.NumberColumn(format="%.4g")
                for c in ("mean", "ci_low", "ci_high", "baseline_mean", "delta", "delta_ci_low", "delta_ci_high")
            },
            "twin_error_cycle_time_rel": st.column_config.NumberColumn("twin error cycle time", format="percent"),
            "twin_error_energy_per_unit_rel": st.column_config.NumberColumn("twin error energy/unit", format="percent"),
        },
    )
    st.caption(
        "Deltas of `twin scenario compare` are paired (common random numbers); deltas of separate runs combine the "
        "two intervals' half-widths (conservative). The twin error is the baseline's prediction against the "
        "measured telemetry; it applies to every result beside it."
    )
    with st.expander("Every KPI (utilization per resource, cycle time per variant, ...)"):
        st.dataframe(table, hide_index=True)
    common.csv_downloads({"scenario_comparison": table}, f"scenarios_{baseline}")


def launch(ctx: common.Context) -> None:
    st.subheader("Launch a what-if")
    files = read_scenarios.scenario_files()
    if not files:
        st.caption("No scenario files in assets/scenarios.")
        return
    with st.form("sc_launch"):
        c = st.columns(4)
        name = c[0].selectbox("Scenario", [f.stem for f in files], key="sc_file")
        replications = c[1].number_input("Replications", min_value=1, max_value=100, value=3, key="sc_reps")
        horizon = c[2].number_input(
            "Horizon (days)", min_value=0.25, max_value=365.0, value=2.0, step=0.25, key="sc_horizon"
        )
        seed = c[3].number_input("Seed (0: the file's)", min_value=0, value=0, key="sc_seed")
        to_warehouse = st.checkbox(
            "Also ingest its simulated telemetry into the warehouse (--to-warehouse)", key="sc_to_wh"
        )
        submitted = st.form_submit_button("Run in the background", icon=":material/play_arrow:")
    if submitted:
        path = next(f for f in files if f.stem == name)
        arguments = {
            "scenario": str(path),
            "replications": int(replications),
            "horizon_days": float(horizon),
            "warehouse": ctx.warehouse,
            "seed": int(seed) if seed else None,
            "to_warehouse": bool(to_warehouse),
        }
        jobs.start_job(common.jobs_dir(), "scenario", arguments, label=name)
    recent = jobs.list_jobs(common.jobs_dir(), "scenario")
    for job in [j for j in recent if not j.done]:
        st.markdown(f"**{job.label}** (job `{job.job_id}`)")
        common.job_panel(job.job_id)
    if recent:
        st.dataframe(
            pl.DataFrame(
                [
                    {
                        "job": j.job_id,
                        "scenario": j.label,
                        "state": j.state,
                        "seconds": round(j.elapsed_s, 1),
                        "last message": j.message[-100:],
                    }
                    for j in recent[:10]
                ]
            ),
            hide_index=True,
        )
    st.caption(
        "The run does what `twin scenario run` does, in its own process (physics and simulation happen there, never in "
        "this page); it reports its stage and its results through files, and the results appear above when it ends."
    )


def simulated_telemetry(ctx: common.Context) -> None:
    """What-ifs whose simulated telemetry is in the warehouse, analysed like the measured data."""
    sources = common.simulated_sources(ctx.warehouse, ctx.version, ctx.cell.cell_id)
    if not sources:
        return
    st.subheader("What-if telemetry in the warehouse")
    rows = [common.telemetry_figures(ctx.warehouse, ctx.version, ctx.cell_file, s) for s in ["measured", *sources]]
    table = pl.DataFrame(rows)
    measured = rows[0]
    for key in ("units_per_day", "energy_kwh_per_unit", "cost_per_unit", "kgco2e_per_unit"):
        ref = measured.get(key)
        table = table.with_columns(
            (pl.col(key) / ref - 1.0 if ref else pl.lit(None, pl.Float64)).alias(f"{key}_vs_measured")
        )
    common.show("scenario_telemetry", sources=sources)
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            c: st.column_config.NumberColumn(format="percent") for c in table.columns if c.endswith("_vs_measured")
        },
    )
    st.caption(
        "Replication 0 of a `twin scenario run --to-warehouse` (it writes every replication as `simulated:<scenario>` "
        "telemetry, with the scenario's own cell), run through the same analytics as the measured data, each over its "
        "own period (no interval: one replication; `twin cost --source simulated:<scenario> --replication R` reads "
        "another)."
    )


def body(ctx: common.Context) -> None:
    results(ctx)
    simulated_telemetry(ctx)
    launch(ctx)


common.run_page(
    "Scenarios",
    body,
    needs=(),
    intro="What-if results against the baseline: each KPI's mean and 95 % confidence interval over replications, "
    "the delta, and the twin's measured error beside them.",
)
