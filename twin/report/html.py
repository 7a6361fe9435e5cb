"""The report's HTML: plotly figures with plotly.js embedded once (no CDN: the report opens offline)."""

from __future__ import annotations

import html
import math
from typing import Any

import polars as pl

SCOPE_COLORS = {"scope1": "#8c564b", "scope2": "#1f77b4", "scope3": "#2ca02c"}
LINE_COLORS = {
    "energy": "#1f77b4",
    "labour": "#ff7f0e",
    "material": "#2ca02c",
    "equipment": "#9467bd",
    "maintenance": "#8c564b",
    "poor_quality": "#d62728",
}

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 1200px; color: #222; line-height: 1.45; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2rem; margin-top: 2.5rem; }
.meta { color: #666; }
.kpis { display: flex; flex-wrap: wrap; gap: 0.8rem; margin: 1rem 0; }
.kpi { border: 1px solid #ddd; border-radius: 6px; padding: 0.6rem 0.9rem; min-width: 150px; }
.kpi .v { font-size: 1.4rem; font-weight: 600; } .kpi .l { color: #666; font-size: 0.85rem; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: right; vertical-align: top; }
th { background: #f5f5f5; } td.t, th.t { text-align: left; }
.warn { background: #fff4e5; border-left: 4px solid #f0a020; padding: 0.5rem 0.8rem; }
.note { color: #555; font-size: 0.9rem; }
code { background: #f3f3f3; padding: 0 0.2rem; }
"""


def esc(value: Any) -> str:
    """HTML-escaped text of a value."""
    return html.escape(str(value), quote=True)


def fmt(value: Any, column: str = "") -> str:
    """A cell value for a table: floats to 4 significant digits (big ones with separators), None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
            return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.1f}"
        return f"{value:.4g}"
    if isinstance(value, int):
        return str(value) if column == "year" else f"{value:,}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def table(frame: pl.DataFrame, max_rows: int = 40, file_name: str | None = None) -> str:
    """An HTML table of a frame (the first ``max_rows`` rows, with a note pointing to the CSV)."""
    if frame.is_empty():
        return '<p class="note">(no rows)</p>'
    head = "".join(f'<th class="{"t" if frame.schema[c] == pl.String else ""}">{esc(c)}</th>' for c in frame.columns)
    body = []
    for row in frame.head(max_rows).iter_rows():
        cells = "".join(f'<td class="{"t" if isinstance(v, str) else ""}">{esc(fmt(v))}</td>' for v in row)
        body.append(f"<tr>{cells}</tr>")
    note = ""
    if frame.height > max_rows:
        where = f" in <code>{esc(file_name)}</code>" if file_name else ""
        note = f'<p class="note">First {max_rows} of {frame.height:,} rows; every row{where}.</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"


class FigureWriter:
    """Turns plotly figures into HTML divs, embedding plotly.js with the first one only."""

    def __init__(self) -> None:
        """Start with plotly.js not yet embedded."""
        self._embedded = False

    def __call__(self, fig: Any) -> str:
        """The figure as an HTML ``<div>`` (plus plotly.js inline the first time)."""
        include: bool = not self._embedded
        self._embedded = True
        return fig.to_html(
            full_html=False,
            include_plotlyjs=include,
            config={"displaylogo": False, "responsive": True},
            default_height="420px",
        )


def _layout(fig: Any, title: str, **kwargs: Any) -> Any:
    fig.update_layout(
        title=title, template="plotly_white", margin={"l": 60, "r": 30, "t": 60, "b": 50}, legend={"orientation": "h"},
        **kwargs,
    )  # fmt: skip
    return fig


def fig_scopes(carbon: dict[str, Any]) -> Any:
    """Scope totals of the period (kg CO2e, log axis so scope 2 stays visible next to scope 3)."""
    import plotly.graph_objects as go

    names = ["Scope 1", "Scope 2 location-based", "Scope 2 market-based", "Scope 3 cat. 1"]
    values = [carbon["scope1_kg"], carbon["scope2_location_kg"], carbon["scope2_market_kg"], carbon["scope3_cat1_kg"]]
    colors = [SCOPE_COLORS["scope1"], SCOPE_COLORS["scope2"], "#6baed6", SCOPE_COLORS["scope3"]]
    fig = go.Figure(
        go.Bar(x=names, y=[max(v, 1e-9) for v in values], marker_color=colors, text=[f"{v:,.1f} kg" for v in values])
    )
    return _layout(fig, "Scope totals of the period (kg CO2e)", yaxis={"type": "log", "title": "kg CO2e (log)"})


def fig_unit_footprint(carbon: dict[str, Any]) -> Any:
    """Per-unit footprint by variant, stacked by scope; location- and market-based side by side."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = [{"variant": "all", "per_unit_kg": carbon["per_unit_kg"]}, *carbon["by_variant"]]
    variants = [r["variant"] for r in rows]
    fig = make_subplots(1, 2, shared_yaxes=True, subplot_titles=("location-based", "market-based"))
    for col, s2 in ((1, "scope2_location"), (2, "scope2_market")):
        for key, label, color in (
            ("scope1", "scope 1", SCOPE_COLORS["scope1"]),
            (s2, "scope 2", SCOPE_COLORS["scope2"]),
            ("scope3_cat1", "scope 3 cat. 1", SCOPE_COLORS["scope3"]),
        ):
            fig.add_trace(
                go.Bar(
                    x=variants,
                    y=[r["per_unit_kg"][key] or 0.0 for r in rows],
                    name=label,
                    marker_color=color,
                    showlegend=col == 1,
                    legendgroup=label,
                ),
                row=1,
                col=col,
            )
    fig.update_layout(barmode="stack")
    return _layout(fig, "Footprint per good unit by variant (kg CO2e)", yaxis={"title": "kg CO2e / unit"})


def fig_cost(cost: dict[str, Any]) -> Any:
    """Cost per good unit by variant, stacked by line."""
    import plotly.graph_objects as go

    from twin.analytics.cost import LINES

    rows = [{"variant": "all", "cost_per_unit": cost["cost_per_unit"]}, *cost["by_variant"]]
    fig = go.Figure()
    for line in LINES:
        fig.add_trace(
            go.Bar(
                x=[r["variant"] for r in rows],
                y=[r["cost_per_unit"][line] or 0.0 for r in rows],
                name=line.replace("_", " "),
                marker_color=LINE_COLORS[line],
            )
        )
    fig.update_layout(barmode="stack")
    currency = cost["currency"]
    return _layout(fig, f"Cost per good unit by variant ({currency})", yaxis={"title": f"{currency} / unit"})


def fig_oee(by_day: list[dict[str, Any]]) -> Any:
    """Daily availability, performance, quality and OEE."""
    import plotly.graph_objects as go

    days = [d["date"] for d in by_day]
    fig = go.Figure()
    for key, width in (("availability", 1.5), ("performance", 1.5), ("quality", 1.5), ("oee", 3.0)):
        fig.add_trace(
            go.Scatter(
                x=days, y=[d[key] for d in by_day], mode="lines+markers", name="OEE" if key == "oee" else key,
                line={"width": width},
            )
        )  # fmt: skip
    return _layout(fig, "OEE trend by day (ISO 22400)", yaxis={"title": "ratio", "tickformat": ".0%"})


def fig_pareto(pareto: pl.DataFrame) -> Any:
    """Defect Pareto: counts and cumulative share."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(
        go.Bar(x=pareto["defect"].to_list(), y=pareto["count"].to_list(), name="defects", marker_color="#d62728")
    )
    fig.add_trace(
        go.Scatter(
            x=pareto["defect"].to_list(), y=pareto["cumulative_share"].to_list(), name="cumulative share",
            yaxis="y2", mode="lines+markers", line={"color": "#333"},
        )
    )  # fmt: skip
    return _layout(
        fig,
        "Defect Pareto (first pass)",
        yaxis={"title": "defects"},
        yaxis2={
            "overlaying": "y", "side": "right", "range": [0, 1.05], "tickformat": ".0%",
            "tickvals": [0, 0.2, 0.4, 0.6, 0.8, 1.0],
        },
    )  # fmt: skip


def fig_weekly(weekly: pl.DataFrame) -> Any:
    """Weekly first-pass yield and OEE, and kWh per good unit."""
    import plotly.graph_objects as go

    weeks = [w.isoformat() for w in weekly["week"].to_list()]
    fig = go.Figure()
    for col in ("first_pass_yield", "oee"):
        if col in weekly.columns:
            fig.add_trace(
                go.Scatter(x=weeks, y=weekly[col].to_list(), mode="lines+markers", name=col.replace("_", " "))
            )
    if "kwh_per_unit" in weekly.columns:
        fig.add_trace(go.Bar(x=weeks, y=weekly["kwh_per_unit"].to_list(), name="kWh / unit", yaxis="y2", opacity=0.35))
    return _layout(
        fig,
        "Weekly trends (weeks start on Monday, local time)",
        yaxis={"title": "ratio", "tickformat": ".0%"},
        yaxis2={"overlaying": "y", "side": "right", "title": "kWh / good unit"},
    )


def fig_energy(energy: pl.DataFrame) -> Any:
    """Hourly energy and grid intensity; hours without intensity marked."""
    import plotly.graph_objects as go

    x = energy["hour_at"].to_list()
    fig = go.Figure()
    fig.add_trace(go.Bar(x=x, y=energy["kwh"].to_list(), name="kWh (all meters)", marker_color="#1f77b4", opacity=0.6))
    if "gco2e_per_kwh" in energy.columns:
        fig.add_trace(
            go.Scatter(x=x, y=energy["gco2e_per_kwh"].to_list(), name="grid gCO2e/kWh", yaxis="y2", mode="lines",
                       line={"color": "#2ca02c"})
        )  # fmt: skip
        missing = energy.filter(pl.col("is_missing_intensity"))
        if missing.height:
            fig.add_trace(
                go.Scatter(
                    x=missing["hour_at"].to_list(), y=missing["kwh"].to_list(), mode="markers", name="no intensity",
                    marker={"color": "#d62728", "symbol": "x", "size": 9},
                )
            )  # fmt: skip
    return _layout(
        fig,
        "Energy per UTC hour and grid intensity",
        yaxis={"title": "kWh"},
        yaxis2={"overlaying": "y", "side": "right", "title": "gCO2e/kWh"},
    )


def fig_control(chart: dict[str, Any], labels: list[str], title: str) -> Any:
    """One control chart: points, centre line, limits, and violations marked."""
    import plotly.graph_objects as go

    n = len(chart["points"])
    x = labels[:n] if len(labels) >= n else list(range(1, n + 1))
    lcl = chart["lcl"] if isinstance(chart["lcl"], list) else [chart["lcl"]] * n
    ucl = chart["ucl"] if isinstance(chart["ucl"], list) else [chart["ucl"]] * n
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=chart["points"], mode="lines+markers", name=chart["name"], marker={"size": 4}))
    fig.add_trace(go.Scatter(x=x, y=[chart["center"]] * n, mode="lines", name="centre", line={"color": "#2ca02c"}))
    for name, values in (("LCL", lcl), ("UCL", ucl)):
        fig.add_trace(go.Scatter(x=x, y=values, mode="lines", name=name, line={"color": "#d62728", "dash": "dash"}))
    flagged: dict[int, list[str]] = {}
    for v in chart["violations"]:
        flagged.setdefault(v["index"], []).append(v["rule"])
    if flagged:
        idx = sorted(flagged)
        fig.add_trace(
            go.Scatter(
                x=[x[i - 1] for i in idx], y=[chart["points"][i - 1] for i in idx], mode="markers", name="violation",
                marker={"color": "#d62728", "size": 8, "symbol": "circle-open", "line": {"width": 2}},
                text=[", ".join(flagged[i]) for i in idx], hoverinfo="text+y",
            )
        )  # fmt: skip
    fig.update_xaxes(type="category", nticks=12)  # subgroups side by side: nights and weekends leave no gaps
    return _layout(fig, title, yaxis={"title": chart["name"]})


def fig_settings(settings: dict[str, Any]) -> Any:
    """Standard deviation of each characteristic family before and after the detected change."""
    import plotly.graph_objects as go

    chars = settings["characteristics"]
    fig = go.Figure()
    for phase, color in (("before", "#1f77b4"), ("after", "#ff7f0e")):
        fig.add_trace(
            go.Bar(
                x=[c["characteristic"] for c in chars], y=[c[phase]["std"] for c in chars], name=phase,
                marker_color=color,
            )
        )  # fmt: skip
    return _layout(fig, "Spread (standard deviation) before and after the detected setting change")


def kpi_cards(items: list[tuple[str, str]]) -> str:
    """A row of KPI cards."""
    cards = "".join(f'<div class="kpi"><div class="v">{esc(v)}</div><div class="l">{esc(label)}</div></div>'
                    for label, v in items)  # fmt: skip
    return f'<div class="kpis">{cards}</div>'
