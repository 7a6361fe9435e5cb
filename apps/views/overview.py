"""Overview: the period's KPIs with trends and deltas against the previous period, and what changed."""

from __future__ import annotations

import common
import display
import plotly.graph_objects as go
import polars as pl
import streamlit as st
from plotly.subplots import make_subplots

from twin.api.read import kpis as read_kpis


def headline(ctx: common.Context, figures: dict) -> dict:
    """The five KPIs; per-unit cost and carbon need energy telemetry, first-pass yield quality telemetry."""
    kpis = read_kpis.headline_kpis(figures["oee"], figures["cost"], figures["carbon"], figures["fpy"], ctx.variant)
    if ctx.status.missing(("energy",)):
        kpis["cost_per_unit"] = kpis["kgco2e_per_unit"] = None
    if ctx.status.missing(("quality",)):
        kpis["first_pass_yield"] = None
    return kpis


def kpi_row(ctx: common.Context, figures: dict, previous: dict | None) -> dict:
    kpis = headline(ctx, figures)
    prev = headline(ctx, previous) if previous is not None else None
    deltas = read_kpis.kpi_deltas(kpis, prev)
    columns = st.columns(len(display.KPI_LABELS))
    currency = figures["cost"]["currency"]
    for col, row in zip(columns, deltas.iter_rows(named=True), strict=True):
        key = row["kpi"]
        label = display.KPI_LABELS[key][0]
        if key == "oee" and ctx.station:
            label = f"OEE ({ctx.station})"
        col.metric(
            label,
            display.format_kpi(key, row["value"], currency),
            delta=display.format_delta(key, row["delta"], currency),
            delta_color="normal" if read_kpis.HIGHER_IS_BETTER[key] else "inverse",
            help=HELP[key],
            border=True,
        )
    return kpis


HELP = {
    "units": "Units completed at the output station in the period (twin oee: total_count).",
    "oee": "OEE = availability x performance x quality (ISO 22400), as `twin oee` computes it.",
    "cost_per_unit": "Cost per good unit: energy, labour, material, equipment, maintenance, poor quality "
    "(`twin cost`).",
    "kgco2e_per_unit": "kg CO2e per good unit, market-based: scope 1 + scope 2 market + scope 3 cat. 1 "
    "(`twin carbon`).",
    "first_pass_yield": "Units conforming at first pass / units completed.",
}


def trends(ctx: common.Context, oee: dict | None) -> None:
    daily = common.daily_trends(ctx.key(), oee, ctx.variant)
    if daily.height < 2:
        st.caption("Daily trends need a period of at least two days (choose one in the sidebar).")
        return
    fig = make_subplots(
        rows=2,
        cols=2,
        shared_xaxes=True,
        subplot_titles=("Units completed per day", "OEE and first-pass yield", "Energy per good unit (kWh)", ""),
        specs=[[{}, {}], [{}, None]],
        vertical_spacing=0.12,
    )
    days = [d.isoformat() for d in daily["date"].to_list()]
    fig.add_trace(go.Bar(x=days, y=daily["units_completed"].to_list(), name="units", marker_color="#4c78a8"), 1, 1)
    if daily["oee"].null_count() < daily.height:
        fig.add_trace(go.Scatter(x=days, y=daily["oee"].to_list(), name="OEE", mode="lines+markers"), 1, 2)
    fig.add_trace(
        go.Scatter(x=days, y=daily["first_pass_yield"].to_list(), name="first-pass yield", mode="lines+markers"), 1, 2
    )
    fig.add_trace(go.Scatter(x=days, y=daily["kwh_per_unit"].to_list(), name="kWh / unit", mode="lines+markers"), 2, 1)
    fig.update_yaxes(tickformat=".0%", row=1, col=2)
    ticks = {"dtick": 86_400_000} if daily.height <= 14 else {}
    fig.update_xaxes(type="date", tickformat="%b %d", **ticks)
    fig.update_layout(height=520, margin={"t": 40, "b": 10}, legend={"orientation": "h"})
    st.plotly_chart(fig, key="overview_trends")


def what_changed(ctx: common.Context) -> None:
    st.subheader("What changed")
    left, right = st.columns(2)
    faults = common.fault_summary(ctx.key())
    prev_key = ctx.previous_key()
    prev_faults = common.fault_summary(prev_key) if prev_key is not None else None
    changes = read_kpis.fault_changes(faults, prev_faults)
    with left:
        st.markdown("**Faults by station** (hours down inside the period)")
        if changes.is_empty():
            st.caption("No faults in the period.")
        else:
            fig = go.Figure()
            fig.add_trace(go.Bar(x=changes["station_id"].to_list(), y=changes["down_h"].to_list(), name="this period"))
            if prev_faults is not None:
                fig.add_trace(
                    go.Bar(x=changes["station_id"].to_list(), y=changes["down_h_previous"].to_list(), name="previous")
                )
            fig.update_layout(height=300, barmode="group", yaxis_title="hours down", margin={"t": 10, "b": 10})
            st.plotly_chart(fig, key="overview_faults")
            st.dataframe(
                changes if prev_faults is not None else changes.select("station_id", "n", "down_h", "top_code"),
                hide_index=True,
            )
        n_setups = faults.filter(pl.col("kind") == "setup")
        if n_setups.height:
            total = int(n_setups["n"].sum())
            st.caption(f"Planned setups / maintenance in the period: {total} ({n_setups['down_h'].sum():.1f} h).")
    with right:
        st.markdown("**Process change** (found in the robots' cycle times)")
        change = common.process_change(ctx.key())
        if change.get("detected"):
            ratio = change.get("cycle_time_ratio")
            at = pl.Series([change["change_at"]]).str.to_datetime(time_zone="UTC", time_unit="us")
            local = at.dt.convert_time_zone(ctx.cell.timezone).dt.strftime("%Y-%m-%d %H:%M")[0]
            st.markdown(
                f"A process setting changed at **{local}** ({ctx.cell.timezone}): robot cycle times x{ratio:.3f} "
                f"({change['units_before']:,} units before, {change['units_after']:,} after)."
            )
            rows = [
                {
                    "characteristic": c["characteristic"],
                    "std before": c["before"]["std"],
                    "std after": c["after"]["std"],
                    "std ratio": c["std_ratio"],
                    "Levene p": c["levene_p"],
                }
                for c in change.get("characteristics", [])
            ]
            if rows:
                fmt = st.column_config.NumberColumn
                st.dataframe(
                    pl.DataFrame(rows),
                    hide_index=True,
                    column_config={
                        "std before": fmt(format="%.4f"),
                        "std after": fmt(format="%.4f"),
                        "std ratio": fmt(format="%.3f"),
                        "Levene p": fmt(format="%.2e"),
                    },
                )
            if change.get("robots"):
                st.dataframe(
                    pl.DataFrame(change["robots"]),
                    hide_index=True,
                    column_config={
                        "before_s": st.column_config.NumberColumn("mean cycle before (s)", format="%.2f"),
                        "after_s": st.column_config.NumberColumn("mean cycle after (s)", format="%.2f"),
                    },
                )
        else:
            st.caption("No process change in this period's cycle times.")
        st.caption(change.get("method", ""))


def body(ctx: common.Context) -> None:
    ideal, ideal_problem = ctx.ideal()
    figures = common.period_figures(ctx.key(), ideal, ctx.station)
    prev_key = ctx.previous_key()
    previous = common.period_figures(prev_key, ideal, ctx.station) if prev_key is not None else None
    kpis = kpi_row(ctx, figures, previous)
    common.show("overview", kpis=kpis, oee=figures["oee"], cost=figures["cost"], carbon=figures["carbon"])
    notes = []
    if figures["oee"] is None:
        notes.append(f"OEE unavailable: {figures['oee_problem'] or ideal_problem}")
    else:
        o = figures["oee"]
        notes.append(
            f"OEE = availability {display.format_kpi('availability', o['availability'])} x performance "
            f"{display.format_kpi('performance', o['performance'])} x quality {display.format_kpi('oee', o['quality'])}"
            + (" (OEE is not split by variant)" if ctx.variant else "")
        )
    missing = ctx.status.missing(("energy", "quality"))
    if missing:
        notes.append(
            "Not shown for lack of telemetry: "
            + ", ".join(
                {"energy": "cost and kgCO2e per unit (no `energy`)", "quality": "first-pass yield (no `quality`)"}[m]
                for m in missing
            )
            + ". Ingest those streams with `twin ingest FILE...`."
        )
    if previous is None:
        notes.append("No deltas: there is no earlier data of the same length (pick a shorter period in the sidebar).")
    for note in notes:
        st.caption(note)
    trends(ctx, figures["oee"])
    what_changed(ctx)


common.run_page(
    "Overview",
    body,
    needs=("events",),
    intro="The period's KPIs against the previous period of the same length, daily trends and what changed.",
)
