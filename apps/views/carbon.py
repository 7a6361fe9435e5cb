"""Carbon: GHG Protocol scopes per unit and variant, scope 2 location vs market, hourly energy against grid
intensity, the factor table with sources, and downloads of the report and its CSVs."""

from __future__ import annotations

import common
import display
import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from twin.api.read import carbon as read_carbon

SCOPE_NAMES = {
    "scope1": "Scope 1 (fuels)",
    "scope2_location": "Scope 2 location-based",
    "scope2_market": "Scope 2 market-based",
    "scope3_cat1": "Scope 3 cat. 1 (materials)",
}


def body(ctx: common.Context) -> None:
    ideal, _ = ctx.ideal()
    carbon = common.period_figures(ctx.key(), ideal, None)["carbon"]
    common.show("carbon", carbon=carbon)
    scopes = read_carbon.carbon_scopes(carbon, ctx.variant)
    per = {r["scope"]: r["kg_per_unit"] for r in scopes.iter_rows(named=True)}

    def total(basis: str) -> float | None:
        parts = [per.get("scope1"), per.get(f"scope2_{basis}"), per.get("scope3_cat1")]
        return None if any(p is None for p in parts) else sum(parts)

    c = st.columns(5)
    c[0].metric("kgCO2e per unit (market)", display.format_kpi("kgco2e_per_unit", total("market")), border=True)
    c[1].metric("kgCO2e per unit (location)", display.format_kpi("kgco2e_per_unit", total("location")), border=True)
    c[2].metric("Scope 2 location", display.compact(carbon["scope2_location_kg"], "kg"), border=True)
    c[3].metric(
        "Scope 2 market",
        display.compact(carbon["scope2_market_kg"], "kg"),
        border=True,
        help=carbon.get("market_basis"),
    )
    c[4].metric(
        "Energy",
        display.compact(carbon["energy_kwh"], "kWh"),
        border=True,
        help=f"{carbon['energy_kwh_per_unit'] or 0:.4f} kWh per good unit",
    )
    if not carbon["scope2_location_complete"]:
        st.warning(
            f"{carbon['missing_intensity_hours']} hours with energy but no grid intensity "
            f"({carbon['missing_intensity_kwh']:.2f} kWh): location-based scope 2 fills them with the annual factor. "
            "Ingest the missing `grid_intensity` rows to complete it."
        )

    left, right = st.columns(2)
    with left:
        st.markdown(
            "**Scope 2 per good unit: location- vs market-based**" + (f" ({ctx.variant})" if ctx.variant else "")
        )
        loc, mkt = per.get("scope2_location"), per.get("scope2_market")
        fig = go.Figure(
            go.Bar(
                x=["location-based", "market-based"],
                y=[None if loc is None else 1000 * loc, None if mkt is None else 1000 * mkt],
                marker_color=["#4c78a8", "#f58518"],
                text=[None if v is None else f"{1000 * v:.1f} g" for v in (loc, mkt)],
            )
        )
        fig.update_layout(height=340, yaxis_title="g CO2e / good unit (scope 2)", margin={"t": 10, "b": 10})
        st.plotly_chart(fig, key="carbon_basis")
        st.caption(
            f"With scope 1 and scope 3 cat. 1 (materials): {display.format_kpi('kgco2e_per_unit', total('location'))} "
            f"location-based, {display.format_kpi('kgco2e_per_unit', total('market'))} market-based per good unit."
        )
    with right:
        st.markdown("**By variant** (kg CO2e per good unit, market-based)")
        by_variant = read_carbon.carbon_by_variant(carbon)
        if by_variant.is_empty():
            st.caption("No variant completed a good unit in the period.")
        else:
            long = by_variant.unpivot(
                index=["variant", "units"],
                on=["scope1", "scope2_market", "scope3_cat1"],
                variable_name="scope",
                value_name="kg_per_unit",
            )
            fig = px.bar(
                long.to_pandas(),
                x="variant",
                y="kg_per_unit",
                color="scope",
                labels={"kg_per_unit": "kg CO2e / good unit"},
            )
            fig.update_layout(height=340, margin={"t": 10, "b": 10}, legend={"orientation": "h"})
            st.plotly_chart(fig, key="carbon_variants")
    st.dataframe(
        read_carbon.carbon_by_variant(carbon),
        hide_index=True,
        column_config={
            k: st.column_config.NumberColumn(format="%.4f")
            for k in ("scope1", "scope2_location", "scope2_market", "scope3_cat1", "total_location", "total_market")
        },
    )
    st.dataframe(
        scopes.with_columns(pl.col("scope").replace_strict(SCOPE_NAMES, default=pl.col("scope"))),
        hide_index=True,
        column_config={
            "kg": st.column_config.NumberColumn(format="%.2f"),
            "kg_per_unit": st.column_config.NumberColumn(format="%.4f"),
        },
    )

    if ctx.station:
        st.caption(
            f"Station filter ({ctx.station}): carbon figures are the cell's (as `twin carbon` computes them); "
            "the filter applies to OEE on the Overview, the Pareto on Quality and the robot on Cell & replay."
        )
    st.subheader("Hourly energy against the grid's carbon intensity")
    hourly = common.hourly_energy(ctx.key())
    common.hourly_chart(hourly, "gco2e_per_kwh", "gCO2e/kWh", "carbon_hourly")
    st.caption(
        "Location-based scope 2 multiplies each hour's kWh by that hour's grid intensity; market-based uses the "
        f"contractual factor ({carbon.get('market_basis')})."
    )

    st.subheader("Factors and their sources")
    factors = read_carbon.carbon_factor_rows(carbon)
    st.dataframe(factors, hide_index=True, column_config={"source": st.column_config.TextColumn(width="large")})
    st.caption(carbon.get("allocation", ""))

    st.subheader("Downloads")
    common.csv_downloads(
        {
            "carbon_scopes": read_carbon.carbon_scopes(carbon),
            "carbon_by_variant": read_carbon.carbon_by_variant(carbon),
            "factors": factors,
            "energy_hourly": hourly,
        },
        f"carbon_{ctx.start}_{ctx.end}",
    )
    common.report_section(ctx, "carbon")


common.run_page(
    "Carbon",
    body,
    needs=("events", "energy", "grid_intensity"),
    intro="The footprint by GHG Protocol scope, as `twin carbon` computes it: scope 2 location-based on hourly grid "
    "intensity and market-based on contractual instruments; scope 3 category 1 purchased materials.",
)
