"""Build the period report: ``report.html``, ``report.json`` and ``<table>.csv`` / ``<table>.json`` per table.

:func:`build_report` writes the files of an already read period; :func:`twin.api.reports.report` reads the
period from a warehouse and calls it (``twin report`` and ``twin demo`` go through that).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from twin.analytics.figures import Prepared
from twin.cell.spec import CellSpec
from twin.jsonable import jsonable
from twin.report import html as h
from twin.report.tables import ReportData, collect

STAGES: tuple[str, ...] = ("load", "oee", "cost", "carbon", "quality", "control charts", "html", "files")
"""The stages :func:`build_report` reports to its ``step`` callback, in order."""


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`build_report` wrote.

    Attributes:
        out_dir: The output folder.
        html: ``report.html``.
        json: ``report.json`` (every summary object).
        tables: Table name -> CSV path (a JSON file sits beside each).
        summary: The summary objects (as in ``report.json``).
    """

    out_dir: Path
    html: Path
    json: Path
    tables: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The object ``twin report --json`` prints."""
        return {
            "out": str(self.out_dir),
            "html": str(self.html),
            "json": str(self.json),
            "tables": {k: str(v) for k, v in self.tables.items()},
            "period": self.summary.get("period"),
        }


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def write_tables(tables: Mapping[str, pl.DataFrame], out_dir: Path) -> dict[str, Path]:
    """Write each table as ``<name>.csv`` and ``<name>.json`` (a list of row objects).

    Args:
        tables: Name -> frame.
        out_dir: Folder (must exist).

    Returns:
        Name -> CSV path.
    """
    paths = {}
    for name, frame in tables.items():
        csv_path = out_dir / f"{name}.csv"
        flat = frame.with_columns(
            [pl.col(c).cast(pl.String) for c, t in frame.schema.items() if isinstance(t, pl.List | pl.Struct)]
        )
        flat.write_csv(csv_path)
        (out_dir / f"{name}.json").write_text(
            json.dumps(jsonable(frame.to_dicts()), default=_json_default, allow_nan=False, indent=1) + "\n",
            encoding="utf-8",
        )
        paths[name] = csv_path
    return paths


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None, digits: int = 3, unit: str = "") -> str:
    return "–" if value is None else f"{value:,.{digits}f}{unit}"


def render(report: ReportData, cell: CellSpec) -> str:
    """The self-contained HTML of a report.

    Args:
        report: The collected figures.
        cell: The cell (name, id).

    Returns:
        The HTML document.
    """
    s, t = report.summary, report.tables
    oee, cost, carbon, q = s["oee"], s["cost"], s["carbon"], s["quality"]
    figure = h.FigureWriter()
    period = s["period"]
    parts: list[str] = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Period report {h.esc(cell.cell.id)} {h.esc(period['from'])} – {h.esc(period['to'])}</title>",
        f"<style>{h.CSS}</style></head><body>",
        f"<h1>Period report: {h.esc(cell.cell.name)}</h1>",
        f"<p class='meta'>Cell <code>{h.esc(cell.cell.id)}</code>; period {h.esc(period['from'])} (inclusive) to "
        f"{h.esc(period['to'])} (exclusive), days counted in {h.esc(period['timezone'])}; source "
        f"<code>{h.esc(s['source'])}</code>; generated {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}.</p>",
        h.kpi_cards(
            [
                ("good units", f"{cost['units']:,}"),
                ("OEE", _pct(oee["oee"])),
                ("first-pass yield", _pct(q["first_pass_yield"])),
                ("cost per good unit", _num(cost["cost_per_unit"]["total"], 2, f" {cost['currency']}")),
                ("kg CO2e / unit (location)", _num(carbon["per_unit_kg"]["total_location"], 3)),
                ("kg CO2e / unit (market)", _num(carbon["per_unit_kg"]["total_market"], 3)),
                ("kWh / good unit", _num(carbon["energy_kwh_per_unit"], 4)),
            ]
        ),
        "<h2>Carbon footprint (GHG Protocol)</h2>",
    ]
    if not carbon["scope2_location_complete"]:
        parts.append(
            f"<p class='warn'><b>Scope 2 location-based is incomplete:</b> {carbon['missing_intensity_hours']} hour(s) "
            f"with energy ({carbon['missing_intensity_kwh']:.3f} kWh) had no grid intensity. They are not counted as "
            f"zero: their {carbon['scope2_location_filled_kg']:.3f} kg CO2e use the annual location factor instead "
            "(see the factors below).</p>"
        )
    parts += [
        figure(h.fig_scopes(carbon)),
        h.table(t["carbon_scopes"]),
        figure(h.fig_unit_footprint(carbon)),
        h.table(t["carbon_by_variant"]),
        f"<p class='note'>Market-based basis: <code>{h.esc(carbon['market_basis'])}</code>. "
        f"{h.esc(carbon['allocation'])}</p>",
        figure(h.fig_energy(t["energy_hourly"])),
        h.table(t["energy_by_meter"]),
        *(
            [
                "<h3>Robot energy by program step (joint-state power, logged windows only)</h3>",
                h.table(t["robot_energy_by_step"]),
            ]
            if "robot_energy_by_step" in t
            else []
        ),
        "<h2>Cost per unit</h2>",
        figure(h.fig_cost(cost)),
        h.table(t["cost_per_unit"]),
        h.table(t["cost_by_variant"]),
        f"<p class='note'>{cost['units_completed']:,} units completed: {cost['units']:,} good, "
        f"{cost['units_reworked']:,} reworked, {cost['units_scrapped']:,} scrapped. Cost of poor quality = rework "
        "+ the bill of materials of scrapped units; the material line is the bill of materials of the units "
        "delivered (not scrapped).</p>",
        "<h2>OEE</h2>",
        h.kpi_cards(
            [
                ("availability", _pct(oee["availability"])),
                ("performance", _pct(oee["performance"])),
                ("quality", _pct(oee["quality"])),
                ("OEE", _pct(oee["oee"])),
                ("planned busy time", _num(oee["planned_time_s"] / 3600, 1, " h")),
                ("run time", _num(oee["run_time_s"] / 3600, 1, " h")),
            ]
        ),
        figure(h.fig_oee(oee["by_day"])),
        h.table(t["oee_daily"], file_name="oee_daily.csv"),
        "<h2>Quality</h2>",
        h.table(t["first_pass_yield"]),
    ]
    if t["defect_pareto"].height:
        parts.append(figure(h.fig_pareto(t["defect_pareto"])))
    parts.append(h.table(t["defect_pareto"]))
    if t["weekly_trends"].height:
        parts.append(figure(h.fig_weekly(t["weekly_trends"])))
    parts.append(h.table(t["weekly_trends"]))
    settings = s["settings_change"]
    parts.append("<h3>Quality against process settings</h3>")
    if settings["detected"]:
        ratio = settings["cycle_time_ratio"]
        when = datetime.fromisoformat(settings["change_at"]).astimezone(ZoneInfo(period["timezone"]))
        parts.append(
            f"<p>A setting change was detected from the robots' cycle times at <b>{when:%Y-%m-%d %H:%M %Z}</b>: "
            f"cycle times ×{ratio:.3f} after it ({settings['units_before']:,} units before, "
            f"{settings['units_after']:,} after; Welch p = {settings['p_value']:.2g}).</p>"
        )
        parts.append(figure(h.fig_settings(settings)))
        parts.append(h.table(t["settings_change"]))
        parts.append(h.table(t["settings_change_cycle_times"]))
    else:
        parts.append("<p>No setting change was detected in the robots' cycle times over the period.</p>")
    parts.append(f"<p class='note'>Method: {h.esc(settings['method'])}.</p>")
    parts.append("<h3>Control charts</h3>")
    if not report.charts:
        parts.append("<p class='note'>Not enough quality data in the period for control charts.</p>")
    for name, chart in report.charts.items():
        for c in chart["charts"]:
            parts.append(figure(h.fig_control(c, chart["labels"], f"{chart['title']}: {c['name']} chart")))
        n_viol = sum(len(c["violations"]) for c in chart["charts"])
        parts.append(
            f"<p class='note'>{n_viol} violation(s) ({'western-electric rules on the location chart'}); every point in "
            f"<code>spc_{h.esc(name)}.csv</code>.</p>"
        )
    parts.append("<h3>Capability (first pass)</h3>")
    parts.append(h.table(t["capability"]))
    parts += [
        "<h2>Methodology</h2>",
        METHODOLOGY_HTML,
        "<h3>Factors and parameters, with sources</h3>",
        h.table(t["factors"], max_rows=500),
        "<h3>Files</h3>",
        "<p>Every table of this report is written beside it as CSV and JSON: "
        + ", ".join(f"<code>{h.esc(n)}.csv</code>" for n in t)
        + "; all figures together in <code>report.json</code>.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


METHODOLOGY_HTML = """
<ul>
<li><b>Period.</b> <code>--from</code> is inclusive and <code>--to</code> exclusive; dates are local midnight in the
cell's time zone. Only rows of the chosen source are used (<code>measured</code> unless asked).</li>
<li><b>OEE (ISO 22400-2).</b> Planned busy time = the shift calendar minus planned breaks (local time, DST-aware).
Run time = planned busy time minus the union of every fault and setup interval inside it (a stop anywhere stops the
cell). Availability = run time / planned busy time; performance = ideal cycle time × total count / run time, with
the ideal cycle time per variant = the takt of the physics twin's plan (the bottleneck's work per unit); quality =
good / total, good = conforming at first pass (reworked units are not good; a unit not inspected is never good).
OEE = A × P × Q; period values are ratios of period sums.</li>
<li><b>Energy.</b> Each meter's register deltas are spread over the UTC hours they span in proportion to time; a
reading that falls below 1 % of the previous one is a reset or rollover (the new reading is the delta); any other
fall is a bad reading (quarantined by the ingest). Energy a machine used while running unit cycles goes to those
units by cycle time within the hour. <b>Energy that no unit consumed alone (cell_aux, idle, standby and every hour
without a unit cycle) is allocated to the units completed in the period in proportion to their run time.</b></li>
<li><b>Scope 2 location-based.</b> Each UTC hour's kWh × that hour's grid intensity of the cell's region, matched in
UTC. An hour with energy but no intensity is counted in <code>missing_intensity_hours</code>, never as zero: it is
filled with the annual location factor and the total is flagged incomplete.</li>
<li><b>Scope 2 market-based.</b> The renewable share (certificates / PPA) at zero; the rest at the supplier-specific
factor when the cell has one, else the region's residual mix (AIB), else the annual grid factor (flagged).</li>
<li><b>Scope 1.</b> Fuels of the cell (<code>carbon.scope1_fuels</code>, yearly use in the factor's activity unit)
prorated to the period, allocated by run time.</li>
<li><b>Scope 3 category 1.</b> Bill of materials (filament, insert, base panel, screws) of every unit completed,
scrapped ones included, × the embodied factor of its material.</li>
<li><b>Per unit.</b> Totals divided by the good units delivered (first-pass good or reworked to good; a unit not
inspected is not good).</li>
<li><b>Cost.</b> Energy = hourly kWh × the time-of-use price of the local hour; labour = shift hours (breaks paid) ×
operators × rate; material = bill of materials of the units delivered (not scrapped); equipment = depreciation ×
machine hours running unit cycles; maintenance = rate × run time; cost of poor quality = rework per reworked unit +
bill of materials of scrapped units.</li>
<li><b>Quality.</b> First-pass yield = units conforming at first pass / units completed (a unit not inspected is
never good). Control charts use 3-sigma limits (X̄-S: S̄/c₄; p chart: binomial) with Western Electric rules;
capability uses within-subgroup sigma (R̄/d₂ per unit, or MR̄/d₂) for Cp/Cpk and the overall standard deviation for
Pp/Ppk.</li>
</ul>
"""


def build_report(
    cell: CellSpec,
    prepared: Prepared,
    ideal_cycle_s: Mapping[str, float],
    out_dir: str | Path,
    step: Callable[[str], None] | None = None,
    robot_energy: pl.DataFrame | None = None,
) -> ReportFiles:
    """Compute the report's figures and write every file.

    Args:
        cell: The validated cell.
        prepared: The prepared period (:func:`twin.analytics.figures.prepare`), with the measurements of every
            quality characteristic family loaded.
        ideal_cycle_s: Ideal cycle time per variant for OEE.
        out_dir: Output folder (created).
        step: Called with the name of each of :data:`STAGES` as it ends (a progress bar, a job's progress file).
        robot_energy: Optional :func:`twin.analytics.store.robot_energy_by_step` table.

    Returns:
        What was written.
    """
    tick = step or (lambda _stage: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tick("load")
    report = collect(prepared, ideal_cycle_s, step=tick)
    if robot_energy is not None:
        report.tables["robot_energy_by_step"] = robot_energy
    html_text = render(report, cell)
    tick("html")
    html_path = out / "report.html"
    html_path.write_text(html_text, encoding="utf-8")
    tables = write_tables(report.tables, out)
    json_path = out / "report.json"
    json_path.write_text(
        json.dumps(jsonable(report.summary), default=_json_default, allow_nan=False, indent=1) + "\n",
        encoding="utf-8",
    )
    tick("files")
    return ReportFiles(out, html_path, json_path, tables, report.summary)
