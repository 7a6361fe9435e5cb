"""Cost: cost per good unit by line and variant, hourly energy against price and grid intensity, downloads."""

from __future__ import annotations

import common
import display
import plotly.express as px
import polars as pl
import streamlit as st

from twin.api.read import cost as read_cost


def money(value: float | None, currency: str) -> str:
    return "n/a" if value is None else f"{value:,.3f} {currency}"


def body(ctx: common.Context) -> None:
    ideal, _ = ctx.ideal()
    figures = common.period_figures(ctx.key(), ideal, None)
    cost = figures["cost"]
    currency = cost["currency"]
    common.show("cost", cost=cost)
    lines = read_cost.cost_lines(cost, ctx.variant)
    per = {r["line"]: r["per_unit"] for r in lines.iter_rows(named=True)}
    if ctx.variant is None:
        units = cost["units"]
    else:
        units = next((v["units"] for v in cost["by_variant"] if v["variant"] == ctx.variant), 0)
    c = st.columns(5)
    c[0].metric("Cost per good unit", display.format_kpi("cost_per_unit", per.get("total"), currency), border=True)
    c[1].metric(
        "Good units",
        f"{units:,}",
        border=True,
        help=f"{cost['units_completed']} completed, {cost['units_reworked']} reworked, "
        f"{cost['units_scrapped']} scrapped (all variants)",
    )
    c[2].metric("Energy per unit", money(per.get("energy"), currency), border=True)
    c[3].metric("Material per unit", money(per.get("material"), currency), border=True)
    c[4].metric("Poor quality per unit", money(per.get("poor_quality"), currency), border=True)
    if ctx.variant is None:
        st.caption(f"Period total {cost['total_cost']['total']:,.2f} {currency} over {cost['units']:,} good units.")

    left, right = st.columns(2)
    with left:
        st.markdown("**Cost per good unit by line**" + (f" ({ctx.variant})" if ctx.variant else ""))
        shown = lines.filter(pl.col("line") != "total")
        fig = px.bar(
            shown.to_pandas(), x="line", y="per_unit", text_auto=".3f", labels={"per_unit": f"{currency}/unit"}
        )
        fig.update_layout(height=320, margin={"t": 10, "b": 10})
        st.plotly_chart(fig, key="cost_lines")
    with right:
        st.markdown(f"**By variant** ({currency} per good unit, stacked by line)")
        by_variant = read_cost.cost_by_variant(cost)
        if by_variant.is_empty():
            st.caption("No variant completed a good unit in the period.")
        else:
            fig = px.bar(
                by_variant.to_pandas(), x="variant", y="per_unit", color="line", labels={"per_unit": f"{currency}/unit"}
            )
            fig.update_layout(height=320, margin={"t": 10, "b": 10}, legend={"orientation": "h"})
            st.plotly_chart(fig, key="cost_variants")
    table = (
        pl.DataFrame(
            [
                {
                    "variant": v["variant"],
                    "good units": v["units"],
                    **{k: v["cost_per_unit"].get(k) for k in (*read_cost.LINES, "total")},
                }
                for v in cost["by_variant"]
            ]
        )
        if cost["by_variant"]
        else pl.DataFrame()
    )
    if table.height:
        st.dataframe(
            table,
            hide_index=True,
            column_config={c: st.column_config.NumberColumn(format="%.4f") for c in (*read_cost.LINES, "total")},
        )

    if ctx.station:
        st.caption(
            f"Station filter ({ctx.station}): cost figures are the cell's (as `twin cost` computes them); "
            "the filter applies to OEE on the Overview, the Pareto on Quality and the robot on Cell & replay."
        )
    st.subheader("Hourly energy against price and grid intensity")
    hourly = common.hourly_energy(ctx.key())
    tab1, tab2 = st.tabs(["Energy price (time of use)", "Grid carbon intensity"])
    with tab1:
        common.hourly_chart(hourly, "price_per_kwh", f"{cost['currency']}/kWh", "cost_hourly_price")
    with tab2:
        common.hourly_chart(hourly, "gco2e_per_kwh", "gCO2e/kWh", "cost_hourly_grid")
    meters = common.energy_by_meter(ctx.key())
    with st.expander("Energy by meter"):
        st.dataframe(meters, hide_index=True)

    st.subheader("Downloads")
    common.csv_downloads(
        {
            "cost_per_unit": read_cost.cost_lines(cost),
            "cost_by_variant": read_cost.cost_by_variant(cost),
            "energy_hourly": hourly,
            "energy_by_meter": meters,
        },
        f"cost_{ctx.start}_{ctx.end}",
    )
    common.report_section(ctx, "cost")


common.run_page(
    "Cost",
    body,
    needs=("events", "energy"),
    intro="Cost per good unit (in the cell's currency) by line and variant, as `twin cost` computes it; energy at "
    "the time-of-use tariff hour by hour.",
)
