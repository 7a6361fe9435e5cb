"""Shared parts of the dashboard pages: the warehouse, the sidebar filters, cached reads and messages.

Seams (STYLE.md): this module and the pages read through the API's read functions (:mod:`twin.api.read`) and
the period figures (:func:`twin.api.periods.period`). Every read opens a short-lived read-only connection to
the published snapshot and closes it before returning; results are cached with ``st.cache_data``
(``st.cache_resource`` for the period, which is read-only) under keys that include the snapshot's version
(:func:`twin.api.read.status.snapshot_version`), so a newly published snapshot shows up on the next rerun
while a writer keeps working.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import display
import plotly.graph_objects as go
import polars as pl
import streamlit as st
from plotly.subplots import make_subplots

from twin.api.periods import Period, PeriodFigures, days_period, period
from twin.api.read import energy, kpis, quality, replay, scenarios
from twin.api.read.ideal_times import IdealTimes, load_ideal
from twin.api.read.status import (
    CellSummary,
    MissingData,
    WarehouseStatus,
    missing_message,
    snapshot_version,
)
from twin.api.read.status import cell_summary as read_cell_summary
from twin.api.read.status import warehouse_status as read_warehouse_status
from twin.errors import TwinError
from twin.paths import DEFAULT_CELL, default_warehouse

TTL_S = 600
"""Cache lifetime of a query result (a new snapshot changes the key before that)."""

ENV_WAREHOUSE = "TWIN_WAREHOUSE"
ENV_CELL = "TWIN_CELL"
ALL_VARIANTS = "All variants"
WHOLE_CELL = "Whole cell"
CTX_KEY = "_dashboard_ctx"
SHOWN_KEY = "_dashboard_shown"


# ------------------------------------------------------------------------------------------------
# where things are
# ------------------------------------------------------------------------------------------------


def warehouse_path() -> Path:
    """The warehouse the app reads: ``$TWIN_WAREHOUSE`` or ``data/twin.duckdb``."""
    value = os.environ.get(ENV_WAREHOUSE, "").strip()
    return Path(value) if value else default_warehouse()


def cell_paths() -> list[str]:
    """The cell definitions the pages offer: ``$TWIN_CELL`` (files separated by ``os.pathsep``) or the sample cell."""
    listed = [p.strip() for p in os.environ.get(ENV_CELL, "").split(os.pathsep) if p.strip()]
    return listed or [str(DEFAULT_CELL)]


def _mtime_ns(path: str) -> int:
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return 0


def jobs_dir() -> Path:
    """Where background jobs launched from the pages keep their folders (beside the warehouse)."""
    return warehouse_path().resolve().parent / "dashboard_jobs"


# ------------------------------------------------------------------------------------------------
# cached reads (keys: warehouse, snapshot version, cell, period, filters)
# ------------------------------------------------------------------------------------------------


@st.cache_data(ttl=TTL_S, show_spinner=False)
def cell_summary(cell: str, mtime_ns: int) -> CellSummary:
    return read_cell_summary(cell)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=16)
def warehouse_status(warehouse: str, version: int, cell_id: str, timezone: str) -> WarehouseStatus:
    return read_warehouse_status(warehouse, cell_id, timezone)


@st.cache_resource(ttl=TTL_S, max_entries=6, show_spinner=False)
def period_of(warehouse: str, version: int, cell: str, start: str, end: str) -> PeriodFigures:
    """The period (read-only frames, with the quality detail), shared by every cached figure of the period."""
    return period(warehouse, start, end, cell=cell, detail=True)


@dataclass(frozen=True)
class PeriodKey:
    """What identifies a period's data: the warehouse, its snapshot version, the cell and the days."""

    warehouse: str
    version: int
    cell: str
    start: str
    end: str

    def figures(self) -> PeriodFigures:
        return period_of(self.warehouse, self.version, self.cell, self.start, self.end)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=32)
def stored_ideal_times(
    warehouse: str, cell: str, version: int, cell_mtime: int
) -> tuple[IdealTimes | None, str | None]:
    try:
        return load_ideal(warehouse, cell), None
    except MissingData as exc:
        return None, str(exc)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=32)
def period_figures(key: PeriodKey, times: IdealTimes | None, station: str | None) -> dict[str, Any]:
    """OEE (of the cell or the station), cost, carbon and yield of a period: the commands' objects."""
    p = key.figures()
    out: dict[str, Any] = {
        "cost": p.cost().to_dict(),
        "carbon": p.carbon().to_dict(),
        "fpy": p.quality().to_dict(),
        "oee": None,
        "oee_problem": None,
    }
    if times is None:
        return out
    try:
        out["oee"] = p.oee(station, times.for_station(station)).to_dict()
    except TwinError as exc:
        out["oee_problem"] = str(exc)
    return out


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=32)
def daily_trends(key: PeriodKey, oee: dict[str, Any] | None, variant: str | None) -> Any:
    return kpis.daily_trends(key.figures(), oee, variant)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=32)
def fault_summary(key: PeriodKey) -> Any:
    return kpis.fault_summary(key.figures())


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=32)
def process_change(key: PeriodKey) -> dict[str, Any]:
    return kpis.process_change(key.figures())


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=64)
def measurement_chart(key: PeriodKey, family: str, variant: str | None, subgroup: str, rules: str | None) -> Any:
    return quality.measurement_chart(key.figures(), family, variant, subgroup, rules)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=32)
def capability(key: PeriodKey, limits: dict[str, Any], variant: str | None, split_at: str | None) -> Any:
    return quality.capability_rows(key.figures(), limits, variant, split_at)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=32)
def pareto(key: PeriodKey, variant: str | None, station: str | None) -> Any:
    return quality.pareto_table(key.figures(), variant, station)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=32)
def first_pass_p(key: PeriodKey, variant: str | None) -> Any:
    return quality.first_pass_p_chart(key.figures(), variant)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=32)
def setups(key: PeriodKey) -> Any:
    return quality.setup_intervals(key.figures())


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=32)
def hourly_energy(key: PeriodKey) -> Any:
    return energy.hourly_energy(key.figures())


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=32)
def energy_by_meter(key: PeriodKey) -> Any:
    return energy.energy_by_meter(key.figures())


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=16)
def replay_runs(warehouse: str, version: int, cell_id: str) -> Any:
    return replay.replay_runs(warehouse, cell_id)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=32)
def replay_cycles(warehouse: str, version: int, run_id: str, start: Any, end: Any) -> Any:
    return replay.replay_rows(warehouse, "cycles", run_id, start, end)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=64)
def replay_series(warehouse: str, version: int, run_id: str, cycle: str) -> Any:
    return replay.replay_series(warehouse, run_id, cycle)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=32)
def replay_anomalies(warehouse: str, version: int, run_id: str, start: Any, end: Any) -> Any:
    return replay.replay_rows(warehouse, "anomalies", run_id, start, end)


# ------------------------------------------------------------------------------------------------
# the sidebar and the page context
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What every page of one rerun works with (kept in the session, recomputed on every rerun)."""

    warehouse: str
    version: int
    cell_file: str
    cell: CellSummary
    status: WarehouseStatus
    first: date | None = None
    last: date | None = None
    previous: tuple[date, date] | None = None
    variant: str | None = None
    station: str | None = None

    @property
    def has_period(self) -> bool:
        return self.first is not None and self.last is not None

    @property
    def start(self) -> str:
        """``--from`` of the period (a local date)."""
        assert self.first is not None
        return self.first.isoformat()

    @property
    def end(self) -> str:
        """``--to`` of the period (exclusive: the day after the last)."""
        assert self.last is not None
        return (self.last + timedelta(days=1)).isoformat()

    def key(self) -> PeriodKey:
        return PeriodKey(self.warehouse, self.version, self.cell_file, self.start, self.end)

    def previous_key(self) -> PeriodKey | None:
        if self.previous is None:
            return None
        lo, hi = self.previous
        return PeriodKey(
            self.warehouse, self.version, self.cell_file, lo.isoformat(), (hi + timedelta(days=1)).isoformat()
        )

    def period(self) -> Period:
        assert self.first is not None and self.last is not None
        return days_period(self.first, self.last, self.cell.timezone)

    def ideal(self) -> tuple[IdealTimes | None, str | None]:
        # the stored plan is found by the cell file's content: a changed file asks again
        return stored_ideal_times(self.warehouse, self.cell_file, self.version, _mtime_ns(self.cell_file))

    def describe(self) -> str:
        """The period and filters in words."""
        if not self.has_period:
            return "no data"
        days = self.first.isoformat() if self.first == self.last else f"{self.first} .. {self.last}"
        what = [f"{days} ({self.cell.timezone})"]
        what.append(self.variant or "all variants")
        what.append(f"station {self.station}" if self.station else "whole cell")
        return " · ".join(what)


def _init(key: str, value: Any) -> None:
    if key not in st.session_state:
        st.session_state[key] = value


def _init_choice(key: str, options: list[str]) -> None:
    """Start a select box at its first option, and go back there when its value is no longer offered."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[0]


def _pick_cell(warehouse: str, version: int) -> tuple[str, CellSummary, WarehouseStatus]:
    """The cell picker (when there are several cells): its file, summary and the warehouse's status of it.

    The first cell with measured events is picked until the user picks another; a cell whose file does not
    load is left out with a warning (the others still work).
    """
    offered: dict[str, tuple[CellSummary, WarehouseStatus]] = {}
    for path in cell_paths():
        try:
            summary = cell_summary(path, _mtime_ns(path))
        except TwinError as exc:
            st.sidebar.warning(f"Cell `{path}` is left out: {exc}")
            continue
        offered[path] = (summary, warehouse_status(warehouse, version, summary.cell_id, summary.timezone))
    if not offered:
        raise TwinError(f"no cell loads; {ENV_CELL} lists: {', '.join(cell_paths())}")
    files = list(offered)
    if len(files) > 1:
        with_data = [f for f in files if not offered[f][1].is_empty]
        _init("flt_cell", (with_data or files)[0])
        if st.session_state["flt_cell"] not in offered:
            st.session_state["flt_cell"] = files[0]
        st.sidebar.selectbox(
            "Cell",
            files,
            key="flt_cell",
            format_func=lambda f: f"{offered[f][0].name} ({offered[f][0].cell_id})",
            help="the cells this dashboard was started with; the warehouse keeps each cell's rows apart",
        )
        chosen = st.session_state["flt_cell"]
    else:
        chosen = files[0]
    return chosen, *offered[chosen]


def sidebar() -> Context:
    """Draw the shared sidebar (cell, period, variant, station) and store this rerun's :class:`Context`.

    The widgets live in the router, drawn on every rerun, so their values persist across pages.
    """
    warehouse = str(warehouse_path())
    version = snapshot_version(warehouse)
    cell_file, cell, status = _pick_cell(warehouse, version)
    variant = station = None
    first = last = None
    previous = None
    with st.sidebar:
        st.markdown(f"**{cell.name}**  \n`{cell.cell_id}`")
        if status.first_day is not None and status.last_day is not None:
            _init("flt_period", display.PERIOD_CHOICES[0])
            choice = st.selectbox("Period", display.PERIOD_CHOICES, key="flt_period")
            custom = None
            if choice == "Custom":
                lo, hi = status.first_day, status.last_day
                current = st.session_state.get("flt_days")
                if not isinstance(current, tuple | list) or not current or any(d < lo or d > hi for d in current):
                    st.session_state["flt_days"] = (lo, hi)
                custom = st.date_input("Days", min_value=lo, max_value=hi, key="flt_days", format="YYYY-MM-DD")
                if isinstance(custom, date):
                    custom = (custom,)
            first, last = display.period_days(choice, status.first_day, status.last_day, custom)
            previous = kpis.previous_days(first, last, status.first_day)
            _init_choice("flt_variant", [ALL_VARIANTS, *cell.variants])  # another cell has other variants
            chosen = st.selectbox("Variant", [ALL_VARIANTS, *cell.variants], key="flt_variant")
            variant = None if chosen == ALL_VARIANTS else chosen
            _init_choice("flt_station", [WHOLE_CELL, *cell.robots, *cell.stations])
            chosen = st.selectbox("Station", [WHOLE_CELL, *cell.robots, *cell.stations], key="flt_station")
            station = None if chosen == WHOLE_CELL else chosen
            days = first.isoformat() if first == last else f"{first} .. {last}"
            st.caption(f"Period: {days}, local days in {cell.timezone}")
            if previous is not None:
                p_days = previous[0].isoformat() if previous[0] == previous[1] else f"{previous[0]} .. {previous[1]}"
                st.caption(f"Compared with: {p_days}")
            else:
                st.caption("Compared with: no earlier data of the same length")
        else:
            st.caption("Filters appear once the warehouse holds data.")
        st.divider()
        if status.exists and status.published_at is not None:
            st.caption(f"Warehouse `{warehouse}`  \nsnapshot of {status.published_at:%Y-%m-%d %H:%M:%S}")
        else:
            st.caption(f"Warehouse `{warehouse}` (not found)")
        if st.button("Reload data", key="reload", help="read the latest published snapshot"):
            st.cache_data.clear()
            st.cache_resource.clear()
    ctx = Context(warehouse, version, cell_file, cell, status, first, last, previous, variant, station)
    st.session_state[CTX_KEY] = ctx
    return ctx


def context() -> Context:
    """This rerun's context (drawn by :func:`sidebar` in the router)."""
    ctx = st.session_state.get(CTX_KEY)
    if ctx is None:  # a page run on its own (not through the router)
        ctx = sidebar()
    return ctx


def show(page: str, **figures: Any) -> None:
    """Record the raw figures a page shows (the tests compare them with the commands' output)."""
    shown = st.session_state.setdefault(SHOWN_KEY, {})
    shown[page] = figures


def run_page(
    title: str, body: Callable[[Context], None], needs: tuple[str, ...] = ("events",), intro: str = ""
) -> None:
    """Draw a page: its title, a clear message when the warehouse lacks what it needs, else its body.

    A :class:`twin.errors.TwinError` raised while drawing (a mart missing, the warehouse unreadable) becomes
    one error line, never a traceback.
    """
    st.title(title)
    if intro:
        st.caption(intro)
    ctx = context()
    message = missing_message(ctx.status, needs)
    if message:
        st.info(message, icon=":material/info:")
        return
    if ctx.has_period:
        st.caption(f"Period and filters: {ctx.describe()}")
    try:
        body(ctx)
    except TwinError as exc:
        st.error(f"{exc}", icon=":material/error:")


def no_data(what: str) -> None:
    st.info(what, icon=":material/info:")


# ------------------------------------------------------------------------------------------------
# downloads: the page's tables and the period report (`twin report`, a background job)
# ------------------------------------------------------------------------------------------------


def csv_downloads(tables: dict[str, Any], prefix: str) -> None:
    """One download button per table (CSV)."""
    columns = st.columns(min(4, max(1, len(tables))))
    for i, (name, frame) in enumerate(tables.items()):
        columns[i % len(columns)].download_button(
            f"{name}.csv",
            data=display.to_csv(frame),
            file_name=f"{prefix}_{name}.csv",
            mime="text/csv",
            key=f"dl_{prefix}_{name}",
            icon=":material/download:",
        )


def _report_matches(folder: Path, period: Any) -> bool:
    import json

    try:
        doc = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return doc.get("period") == period.to_json()


def report_folder(ctx: Context) -> Path | None:
    """A report of exactly this period: built from the dashboard, or the one ``twin demo`` wrote."""
    period = ctx.period()
    base = Path(ctx.warehouse).resolve().parent
    candidates = [base / "dashboard_reports" / f"{ctx.start}_{ctx.end}"]
    if os.environ.get("TWIN_REPORT_DIR"):
        candidates.append(Path(os.environ["TWIN_REPORT_DIR"]))
    candidates += [base / "report", base / "reports"]
    for folder in candidates:
        if (folder / "report.html").is_file() and _report_matches(folder, period):
            return folder
    return None


def _zip_csvs(folder: Path) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.glob("*.csv")):
            z.write(path, path.name)
    return buffer.getvalue()


def report_section(ctx: Context, prefix: str) -> None:
    """Download the period report (HTML, JSON, every table as CSV); build it first with a background job."""
    import jobs

    st.subheader("The period report")
    folder = report_folder(ctx)
    if folder is not None:
        c1, c2, c3 = st.columns(3)
        c1.download_button(
            "report.html",
            data=(folder / "report.html").read_bytes(),
            file_name="report.html",
            mime="text/html",
            key=f"rep_html_{prefix}",
            icon=":material/download:",
        )
        if (folder / "report.json").is_file():
            c2.download_button(
                "report.json",
                data=(folder / "report.json").read_bytes(),
                file_name="report.json",
                mime="application/json",
                key=f"rep_json_{prefix}",
                icon=":material/download:",
            )
        csvs = sorted(folder.glob("*.csv"))
        if csvs:
            c3.download_button(
                f"all {len(csvs)} tables (CSV, zip)",
                data=_zip_csvs(folder),
                file_name=f"report_{ctx.start}_{ctx.end}_csv.zip",
                mime="application/zip",
                key=f"rep_zip_{prefix}",
                icon=":material/download:",
            )
            name = st.selectbox("One table", [p.stem for p in csvs], key=f"rep_pick_{prefix}")
            st.download_button(
                f"{name}.csv",
                data=(folder / f"{name}.csv").read_bytes(),
                file_name=f"{name}.csv",
                mime="text/csv",
                key=f"rep_csv_{prefix}",
                icon=":material/download:",
            )
        st.caption(f"Report of {ctx.start} .. {ctx.last} in `{folder}`.")
        return
    out = Path(ctx.warehouse).resolve().parent / "dashboard_reports" / f"{ctx.start}_{ctx.end}"
    running = [j for j in jobs.list_jobs(jobs_dir(), "report") if j.label == str(out)]
    if running and not running[0].done:
        job_panel(running[0].job_id)
        return
    if running and running[0].state != jobs.SUCCEEDED:
        st.warning(f"The last report build failed: {running[0].message or running[0].state}")
    st.caption(
        "No report of this period yet. Building it runs `twin report`'s work in the background (the page stays usable)."
    )
    if st.button("Build the report of this period", key=f"rep_build_{prefix}", icon=":material/description:"):
        arguments = {
            "warehouse": ctx.warehouse,
            "out_dir": str(out),
            "cell": ctx.cell_file,
            "start": ctx.start,
            "end": ctx.end,
        }
        job_id = jobs.start_job(jobs_dir(), "report", arguments, label=str(out))
        job_panel(job_id)


def job_panel(job_id: str) -> None:
    """A job's progress, polled every 2 s while it runs; the whole page reruns when it ends."""
    import jobs

    status = jobs.job_status(jobs_dir(), job_id)
    if status is None:
        return

    def panel() -> None:
        now = jobs.job_status(jobs_dir(), job_id)
        if now is None:
            return
        if not now.done:
            text = f"{now.kind} running for {now.elapsed_s:.0f} s" + (f": {now.message[-120:]}" if now.message else "")
            st.progress(now.progress if now.progress is not None else 0.0, text=text)
            if st.button("Cancel", key=f"cancel_{job_id}"):
                jobs.cancel_job(jobs_dir(), job_id)
        else:
            if now.state == jobs.SUCCEEDED:
                st.success(f"{now.kind} finished in {now.elapsed_s:.0f} s.")
            else:
                st.error(f"{now.kind} {now.state} (exit code {now.returncode}): {now.message}")
            if status is not None and not status.done:
                st.rerun(scope="app")

    st.fragment(panel, run_every=2.0 if not status.done else None)()


def hourly_chart(hourly: pl.DataFrame, second: str, title: str, key: str) -> None:
    """Energy per hour (bars) against a second hourly series (line, right axis)."""
    if hourly.is_empty():
        st.caption("No hourly energy in the period.")
        return
    local = hourly["local_hour"].to_list()
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=local, y=hourly["kwh"].to_list(), name="energy (kWh)", marker_color="#4c78a8"))
    fig.add_trace(
        go.Scatter(x=local, y=hourly[second].to_list(), name=title, mode="lines", line={"color": "#f58518"}),
        secondary_y=True,
    )
    fig.update_yaxes(title_text="kWh per hour", secondary_y=False)
    fig.update_yaxes(title_text=title, secondary_y=True)
    fig.update_layout(height=340, margin={"t": 10, "b": 10}, legend={"orientation": "h"}, bargap=0.05)
    st.plotly_chart(fig, key=key)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=16)
def scenario_results(warehouse: str, version: int, cell_id: str) -> Any:
    return scenarios.stored_scenario_results(warehouse, cell_id)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=16)
def simulated_sources(warehouse: str, version: int, cell_id: str) -> list[str]:
    return scenarios.simulated_sources(warehouse, cell_id)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=32)
def telemetry_figures(warehouse: str, version: int, cell: str, source: str) -> dict[str, Any]:
    return scenarios.telemetry_figures(warehouse, source, cell)
