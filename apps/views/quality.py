"""Quality: control charts with violations highlighted, capability, defect Pareto; drift and maintenance visible."""

from __future__ import annotations

import common
import plotly.graph_objects as go
import polars as pl
import streamlit as st
from plotly.subplots import make_subplots

from twin.api.read.quality import SUBGROUPS

RULE_SETS = {"Western Electric": "western-electric", "Nelson": "nelson", "Limits only": None}


def chart_figure(chart: dict, family: str, limits: tuple, marks: dict[str, list]) -> go.Figure:
    loc, disp = chart["location"], chart["dispersion"]
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.68, 0.32],
        vertical_spacing=0.06,
        subplot_titles=(f"{chart['location_name']} of {family}", f"{chart['dispersion_name']} (spread)"),
    )
    for row, frame in ((1, loc), (2, disp)):
        at = frame["at"].to_list()
        fig.add_trace(
            go.Scatter(
                x=at,
                y=frame["value"].to_list(),
                mode="lines+markers",
                name="subgroup",
                marker={"size": 4},
                line={"width": 1, "color": "#4c78a8"},
                showlegend=row == 1,
            ),
            row,
            1,
        )
        for col, dash, name in (("ucl", "dash", "UCL"), ("center", "solid", "center"), ("lcl", "dash", "LCL")):
            fig.add_trace(
                go.Scatter(
                    x=at,
                    y=frame[col].to_list(),
                    mode="lines",
                    name=name,
                    line={"dash": dash, "width": 1, "color": "#888" if col == "center" else "#e45756"},
                    showlegend=row == 1,
                ),
                row,
                1,
            )
        bad = frame.filter(pl.col("rules") != "")
        if bad.height:
            fig.add_trace(
                go.Scatter(
                    x=bad["at"].to_list(),
                    y=bad["value"].to_list(),
                    mode="markers",
                    name="violation",
                    marker={"color": "#d62728", "size": 6, "symbol": "x", "opacity": 0.8},
                    text=bad["rules"].to_list(),
                    hovertemplate="%{x}<br>%{y:.4f}<br>%{text}<extra>violation</extra>",
                    showlegend=row == 1,
                ),
                row,
                1,
            )
    # reference lines as layout shapes in one update (add_vline/add_hline per line are slow on subplots)
    lsl, usl, _target = limits
    shapes, notes = [], []
    for value, name in ((lsl, "LSL"), (usl, "USL")):
        if value is not None:
            shapes.append(
                {
                    "type": "line",
                    "xref": "x domain",
                    "yref": "y",
                    "x0": 0,
                    "x1": 1,
                    "y0": value,
                    "y1": value,
                    "line": {"color": "#54a24b", "dash": "dot", "width": 1},
                }
            )
            notes.append(
                {
                    "xref": "x domain",
                    "yref": "y",
                    "x": 1.0,
                    "y": value,
                    "text": name,
                    "showarrow": False,
                    "xanchor": "left",
                    "font": {"size": 10, "color": "#54a24b"},
                }
            )
    for kind, line in (
        ("maintenance", {"color": "#72b7b2", "width": 1, "dash": "dot"}),
        ("change", {"color": "#f58518", "width": 2, "dash": "dash"}),
    ):
        shapes += [
            {"type": "line", "xref": "x", "yref": "paper", "x0": at, "x1": at, "y0": 0, "y1": 1, "line": line}
            for at in marks.get(kind, [])
        ]
    fig.update_layout(shapes=shapes, annotations=[*fig.layout.annotations, *notes])
    fig.update_layout(height=560, margin={"t": 40, "b": 10}, legend={"orientation": "h"})
    return fig


def body(ctx: common.Context) -> None:
    key = ctx.key()
    tz = ctx.cell.timezone
    families = list(ctx.cell.spec_limits)
    c1, c2, c3 = st.columns(3)
    family = c1.selectbox("Characteristic", families, key="q_family")
    subgroup = c2.selectbox(
        "Subgroup", list(SUBGROUPS), key="q_subgroup", help="first-pass values grouped by local time"
    )
    rules_label = c3.selectbox("Run rules", list(RULE_SETS), key="q_rules")
    rules = RULE_SETS[rules_label]

    change = common.process_change(key)
    setups = common.setups(key)
    local = pl.col("start_at").dt.convert_time_zone(tz).dt.replace_time_zone(None)
    marks = {"maintenance": setups.select(local)["start_at"].to_list(), "change": []}
    if change.get("detected") and change.get("change_at"):
        at = pl.Series([change["change_at"]]).str.to_datetime(time_zone="UTC", time_unit="us")
        marks["change"] = at.dt.convert_time_zone(tz).dt.replace_time_zone(None).to_list()

    chart = common.measurement_chart(key, family, ctx.variant, subgroup, rules)
    if chart is None:
        st.info(
            f"Not enough first-pass `{family}` measurements in this period for a control chart "
            "(it needs two subgroups of at least two values).",
            icon=":material/info:",
        )
    else:
        loc = chart["location"].with_columns(pl.col("at").dt.replace_time_zone(None))
        disp = chart["dispersion"].with_columns(pl.col("at").dt.replace_time_zone(None))
        st.plotly_chart(
            chart_figure({**chart, "location": loc, "dispersion": disp}, family, ctx.cell.spec_limits[family], marks),
            key="quality_chart",
        )
        n_loc = int((loc["rules"] != "").sum())
        st.caption(
            f"{chart['chart'].upper()} chart, {loc.height} subgroups ({subgroup}, local time), {n_loc} flagged "
            f"location points ({rules_label}). Red x: violations; dotted teal: maintenance (tool-wear reset); "
            "dashed orange: the process change; dotted green: specification limits."
        )
        common.show("quality", violations=chart["violations"], subgroups=loc.height)

    left, right = st.columns(2)
    with left:
        st.subheader("Capability")
        split_at = None
        if change.get("detected"):
            if st.toggle("Before / after the process change", key="q_split"):
                split_at = change.get("change_at")
        cap = common.capability(key, dict(ctx.cell.spec_limits), ctx.variant, split_at)
        if cap.is_empty():
            st.caption("Not enough measurements for capability indices.")
        else:
            st.dataframe(
                cap.select("characteristic", "phase", "n", "mean", "cpk", "cp", "ppk", "pp", "cpm"),
                hide_index=True,
                column_config={
                    c: st.column_config.NumberColumn(format="%.3f") for c in ("mean", "cp", "cpk", "pp", "ppk", "cpm")
                },
            )
            st.caption(
                "Cp/Cpk from within-subgroup sigma (units with several screws: R̄/d2; else moving ranges); "
                "Pp/Ppk from the overall sigma; before/after split at the process change when one is found."
            )
    with right:
        st.subheader("Defect Pareto")
        pareto = common.pareto(key, ctx.variant, ctx.station)
        if pareto.is_empty():
            st.caption("No first-pass defects in the period" + (f" at {ctx.station}." if ctx.station else "."))
        else:
            fig = make_subplots(specs=[[{"secondary_y": True}]])
            fig.add_trace(go.Bar(x=pareto["defect"].to_list(), y=pareto["count"].to_list(), name="defects"))
            fig.add_trace(
                go.Scatter(
                    x=pareto["defect"].to_list(),
                    y=pareto["cumulative_share"].to_list(),
                    name="cumulative",
                    mode="lines+markers",
                ),
                secondary_y=True,
            )
            fig.update_yaxes(tickformat=".0%", range=[0, 1.05], dtick=0.2, secondary_y=True)
            fig.update_layout(height=360, margin={"t": 10, "b": 10}, legend={"orientation": "h"})
            st.plotly_chart(fig, key="quality_pareto")
            common.show("quality_pareto", total=int(pareto["count"].sum()))

    st.subheader("Units failing first pass per day (p chart)")
    p = common.first_pass_p(key, ctx.variant)
    if p.is_empty():
        st.caption("The p chart needs at least two days.")
    else:
        fig = go.Figure()
        days = p["date"].to_list()
        fig.add_trace(go.Scatter(x=days, y=p["p"].to_list(), mode="lines+markers", name="share failing"))
        for col, dash in (("ucl", "dash"), ("center", "solid"), ("lcl", "dash")):
            fig.add_trace(go.Scatter(x=days, y=p[col].to_list(), mode="lines", name=col.upper(), line={"dash": dash}))
        bad = p.filter(pl.col("rules") != "")
        if bad.height:
            fig.add_trace(
                go.Scatter(
                    x=bad["date"].to_list(),
                    y=bad["p"].to_list(),
                    mode="markers",
                    name="violation",
                    marker={"color": "#d62728", "size": 10, "symbol": "x"},
                )
            )
        fig.update_layout(height=300, yaxis_tickformat=".1%", margin={"t": 10, "b": 10})
        st.plotly_chart(fig, key="quality_p")
    if ctx.station:
        st.caption(f"Station filter: the Pareto shows defects found at {ctx.station}; charts show every station.")


common.run_page(
    "Quality",
    body,
    needs=("events", "quality"),
    intro="Control charts of first-pass measurements (violations in red), capability, the defect Pareto, "
    "with the tool-wear drift, its maintenance resets and the process change marked.",
)
