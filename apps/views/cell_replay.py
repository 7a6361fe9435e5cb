"""Cell & replay: the cell's picture, a cycle picker, predicted vs measured power and joint torques over the
cycle (from the replay results the warehouse holds), anomalies on the timeline. No physics runs here."""

from __future__ import annotations

import os
from pathlib import Path

import common
import plotly.graph_objects as go
import polars as pl
import streamlit as st
from plotly.subplots import make_subplots

from twin.api.read.replay import joints_of
from twin.api.read.status import missing_message

KIND_COLORS = {
    "robot": "#e45756",
    "machine": "#4c78a8",
    "conveyor": "#72b7b2",
    "inspection": "#54a24b",
    "manual": "#b279a2",
}


def cell_image(ctx: common.Context) -> Path | None:
    """The picture the twin rendered (``twin cell render``; the demo writes it beside the warehouse)."""
    candidates = []
    if os.environ.get("TWIN_CELL_IMAGE"):
        candidates.append(Path(os.environ["TWIN_CELL_IMAGE"]))
    base = Path(ctx.warehouse).resolve().parent
    candidates += [base / "cell.png", base / "cell" / "cell.png"]
    return next((p for p in candidates if p.is_file()), None)


def layout_figure(ctx: common.Context) -> go.Figure:
    fig = go.Figure()
    for name, kind, x, y, _yaw in ctx.cell.layout:
        color = KIND_COLORS.get(kind.split(" ")[0], "#9d755d")
        fig.add_trace(
            go.Scatter(
                x=[x],
                y=[y],
                mode="markers+text",
                text=[name],
                textposition="top center",
                marker={
                    "size": 22 if kind.startswith("robot") else 16,
                    "color": color,
                    "symbol": "circle" if kind.startswith("robot") else "square",
                },
                name=f"{name} ({kind})",
                hovertemplate=f"{name}<br>{kind}<br>x %{{x:.2f}} m, y %{{y:.2f}} m<extra></extra>",
            )
        )
    fig.update_layout(
        height=360,
        showlegend=False,
        margin={"t": 10, "b": 10},
        xaxis_title="x (m)",
        yaxis={"title": "y (m)", "scaleanchor": "x"},
    )
    return fig


def picture(ctx: common.Context) -> None:
    left, right = st.columns([3, 2])
    with left:
        image = cell_image(ctx)
        if image is not None:
            st.image(str(image), caption=f"The cell as the twin renders it ({image.name})")
        else:
            st.info(
                "No picture of the cell yet. Render one with `twin cell render --out "
                f"{Path(ctx.warehouse).resolve().parent / 'cell.png'}` (`twin demo` does), then reload.",
                icon=":material/image:",
            )
    with right:
        st.markdown("**Layout** (top view, from the cell definition)")
        st.plotly_chart(layout_figure(ctx), key="cell_layout")


def cycle_charts(series: pl.DataFrame, joints: list[int], title: str) -> None:
    if series.is_empty():
        st.caption("No stored samples of this cycle.")
        return
    fig = make_subplots(
        rows=1 + len(joints),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.03,
        subplot_titles=["Electrical power (W)"] + [f"Joint {j} torque (N·m)" for j in joints],
    )
    t = series["t_s"].to_list()
    for name, col, dash in (("measured", "power_measured_w", "solid"), ("predicted", "power_predicted_w", "dash")):
        if col in series.columns:
            fig.add_trace(
                go.Scatter(x=t, y=series[col].to_list(), name=f"power {name}", mode="lines", line={"dash": dash}), 1, 1
            )
    for row, j in enumerate(joints, start=2):
        for name, col, dash, color in (
            ("measured", f"tau_measured_{j}", "solid", "#4c78a8"),
            ("predicted", f"tau_predicted_{j}", "dash", "#f58518"),
        ):
            if col in series.columns:
                fig.add_trace(
                    go.Scatter(
                        x=t,
                        y=series[col].to_list(),
                        name=name,
                        mode="lines",
                        line={"dash": dash, "color": color},
                        showlegend=False,
                    ),
                    row,
                    1,
                )
    fig.update_xaxes(title_text="time in the cycle (s)", row=1 + len(joints), col=1)
    fig.update_layout(
        height=220 + 150 * len(joints), margin={"t": 30, "b": 10}, title=title, legend={"orientation": "h"}
    )
    st.plotly_chart(fig, key="replay_cycle")


def timeline(cycles: pl.DataFrame, anomalies: pl.DataFrame, tz: str) -> None:
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.6, 0.4],
        vertical_spacing=0.08,
        subplot_titles=("Energy error per cycle (predicted vs measured, %)", "Anomalies"),
    )
    if "start_at" in cycles.columns and cycles.height:
        at = cycles["start_at"].dt.convert_time_zone(tz).dt.replace_time_zone(None).to_list()
        fig.add_trace(
            go.Scatter(
                x=at,
                y=cycles["energy_error_pct"].to_list(),
                mode="markers",
                name="cycle",
                text=cycles["cycle"].to_list(),
                marker={"size": 6, "color": "#4c78a8"},
                hovertemplate="%{text}<br>%{x}<br>error %{y:.1f} %<extra></extra>",
            ),
            1,
            1,
        )
    if "start_at" in anomalies.columns and anomalies.height:
        at = anomalies["start_at"].dt.convert_time_zone(tz).dt.replace_time_zone(None).to_list()
        fig.add_trace(
            go.Scatter(
                x=at,
                y=anomalies["kind"].to_list(),
                mode="markers",
                name="anomaly",
                text=anomalies["detail"].to_list() if "detail" in anomalies.columns else None,
                marker={"size": 9, "color": "#d62728", "symbol": "diamond"},
                hovertemplate="%{y}<br>%{x}<br>%{text}<extra></extra>",
            ),
            2,
            1,
        )
    fig.update_layout(height=420, margin={"t": 30, "b": 10}, showlegend=False)
    st.plotly_chart(fig, key="replay_timeline")


def replay(ctx: common.Context) -> None:
    st.subheader("Replay: the twin against the recorded cycles")
    missing = missing_message(ctx.status, ("joint_states",))
    if missing:
        st.info(missing, icon=":material/info:")
        return
    runs = common.replay_runs(ctx.warehouse, ctx.version, ctx.cell.cell_id)
    if runs.is_empty():
        st.info(
            "**No replay results in the warehouse yet.** Replay the recorded joint states with "
            "`twin replay --robot R2` (and `--robot R1`), or run `twin demo`; the results are stored in the "
            "warehouse and show up here.",
            icon=":material/info:",
        )
        return
    robots = runs["robot_id"].to_list()
    if ctx.station in robots:
        robot = ctx.station
        st.caption(f"Robot {robot} (the station filter).")
    else:
        robot = st.selectbox("Robot", robots, key="cr_robot")
    run = runs.filter(pl.col("robot_id") == robot).row(0, named=True)
    c = st.columns(5)
    c[0].metric("Power R²", "n/a" if run["power_r2"] is None else f"{run['power_r2']:.3f}", border=True)
    c[1].metric("Power RMSE", "n/a" if run["power_rmse_w"] is None else f"{run['power_rmse_w']:.1f} W", border=True)
    em, ep = run["energy_measured_j"], run["energy_predicted_j"]
    err = (ep - em) / em if em and ep is not None else None
    c[2].metric("Energy measured", "n/a" if em is None else f"{em / 3600:,.1f} Wh", border=True)
    c[3].metric(
        "Energy predicted",
        "n/a" if ep is None else f"{ep / 3600:,.1f} Wh",
        delta=None if err is None else f"{100 * err:+.2f} %",
        delta_color="off",
        border=True,
    )
    c[4].metric("Anomalies", f"{run['n_anomalies'] or 0:,}", border=True)
    st.caption(
        f"Replay run `{run['run_id']}`, parameter set `{run['parameter_set']}`, {run['samples'] or 0:,} samples "
        "(all recorded windows, not only this period)."
    )
    period = ctx.period()
    cycles = common.replay_cycles(ctx.warehouse, ctx.version, run["run_id"], period.start, period.end)
    anomalies = common.replay_anomalies(ctx.warehouse, ctx.version, run["run_id"], period.start, period.end)
    common.show("cell_replay", robot=robot, cycles=cycles.height, anomalies=anomalies.height)
    if cycles.is_empty():
        st.info(f"No replayed cycles of {robot} in this period; choose another period in the sidebar.")
        return
    tz = ctx.cell.timezone
    labels = cycles.with_columns(
        (
            pl.col("start_at").dt.convert_time_zone(tz).dt.strftime("%Y-%m-%d %H:%M:%S")
            + pl.lit(" · ")
            + pl.col("cycle")
            + pl.when(pl.col("n_anomalies") > 0)
            .then(pl.lit(" · ") + pl.col("n_anomalies").cast(pl.String) + pl.lit(" anomalies"))
            .otherwise(pl.lit(""))
        ).alias("label")
        if "start_at" in cycles.columns
        else pl.col("cycle").alias("label")
    )
    options = labels["label"].to_list()
    with_anomalies = labels.filter(pl.col("n_anomalies") > 0)
    if st.session_state.get("cr_cycle") not in options:
        st.session_state["cr_cycle"] = with_anomalies["label"][0] if with_anomalies.height else options[0]
    chosen = st.selectbox(f"Cycle ({len(options)} replayed in the period)", options, key="cr_cycle")
    row = labels.filter(pl.col("label") == chosen).row(0, named=True)
    series = common.replay_series(ctx.warehouse, ctx.version, run["run_id"], row["cycle"])
    joints = joints_of(series)
    picked = st.multiselect("Joints", joints, default=joints, key=f"cr_joints_{robot}")
    m = st.columns(4)
    m[0].metric("Cycle energy measured", f"{(row['energy_measured_j'] or 0):,.0f} J")
    m[1].metric(
        "Cycle energy predicted",
        f"{(row['energy_predicted_j'] or 0):,.0f} J",
        delta=None if row["energy_error_pct"] is None else f"{row['energy_error_pct']:+.1f} %",
        delta_color="off",
    )
    m[2].metric("Power RMSE", "n/a" if row["power_rmse_w"] is None else f"{row['power_rmse_w']:.1f} W")
    m[3].metric(
        "Min clearance", "n/a" if row.get("min_clearance_m") is None else f"{1000 * row['min_clearance_m']:.0f} mm"
    )
    cycle_charts(series, sorted(picked), f"{robot}, cycle {row['cycle']}")
    st.caption(
        "Solid: measured; dashed: the twin's prediction (inverse dynamics and the power model of the run's "
        "parameter set)."
    )
    here = anomalies.filter(pl.col("cycle") == row["cycle"]) if "cycle" in anomalies.columns else anomalies.head(0)
    if here.height:
        st.markdown(f"**Anomalies in this cycle** ({here.height})")
        st.dataframe(here, hide_index=True)
    st.markdown("**Timeline of the period**" + ("" if anomalies.height else " (no anomalies found in it)"))
    timeline(cycles, anomalies, tz)
    with st.expander(f"All {cycles.height} replayed cycles of the period"):
        st.dataframe(cycles, hide_index=True)


def body(ctx: common.Context) -> None:
    picture(ctx)
    replay(ctx)


common.run_page(
    "Cell & replay",
    body,
    needs=("events",),
    intro="The cell as the twin sees it, and the twin's replay of recorded cycles: predicted against measured "
    "power and joint torques, and the anomalies it found. Replays are computed by `twin replay`, never here.",
)
