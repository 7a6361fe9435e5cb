"""`twin report`: a self-contained HTML report, CSV and JSON of every table, the methodology with sources."""

from __future__ import annotations

import json
import re
from datetime import date

import duckdb
import polars as pl
import pytest
from synthetic_warehouse import build, write_synthetic

IDEAL = {"B4-PLA": 25.512, "B6-RPLA": 32.536, "B8-ALU": 39.648}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, sample_cell):
    path = tmp_path_factory.mktemp("report") / "twin.duckdb"
    con = duckdb.connect(str(path))
    write_synthetic(con, sample_cell, date(2026, 10, 5), 3, joint_state_rows=5000)  # Monday to Wednesday
    build(con)
    con.close()
    return path


@pytest.fixture(scope="module")
def report(warehouse, tmp_path_factory):
    from twin.analytics import ideal
    from twin.api import report as make_report

    mp = pytest.MonkeyPatch()
    mp.setattr(ideal, "ideal_cycle_times", lambda cell, station=None, **_: IDEAL)  # no physics in this test
    try:
        out = tmp_path_factory.mktemp("out") / "report"
        return make_report(warehouse, out, start="2026-10-05", end="2026-10-08")
    finally:
        mp.undo()


def test_html_is_self_contained_with_every_plot(report):
    text = report.html.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]+src=", text), "no external scripts: the report must open offline"
    assert not re.search(r"<link[^>]+href=\"http", text)
    assert text.count("Plotly.newPlot") >= 8
    assert text.count("plotly.js v") <= 2  # the library is embedded once (its banner)
    for title in ("Scope totals", "Footprint per good unit by variant", "Cost per good unit by variant",
                  "OEE trend by day", "X̄-S chart", "p chart", "Defect Pareto"):  # fmt: skip
        # plotly writes titles into its JSON; with or without orjson installed non-ASCII may be escaped
        assert title in text or json.dumps(title)[1:-1] in text, title
    assert "allocated to the units completed in the period in proportion to their run time" in " ".join(text.split())
    assert "Umweltbundesamt" in text and "Association of Issuing Bodies" in text and "ICE" in text


def test_every_table_is_written_as_csv_and_json(report):
    out = report.out_dir
    expected = {
        "kpi_summary", "oee_daily", "cost_per_unit", "cost_by_variant", "carbon_scopes", "carbon_by_variant",
        "energy_hourly", "energy_by_meter", "factors", "first_pass_yield", "defect_pareto", "weekly_trends",
        "settings_change", "settings_change_cycle_times", "capability", "spc_torque_xbar_s", "spc_first_pass_p",
        "robot_energy_by_step",
    }  # fmt: skip
    assert expected <= set(report.tables)
    for name in report.tables:
        frame = pl.read_csv(out / f"{name}.csv") if (out / f"{name}.csv").stat().st_size else None
        rows = json.loads((out / f"{name}.json").read_text())
        assert isinstance(rows, list)
        if frame is not None:
            assert frame.height == len(rows), name
    assert pl.read_csv(out / "oee_daily.csv").height == 3
    factors = pl.read_csv(out / "factors.csv")
    assert set(factors.columns) >= {"name", "value", "unit", "source", "year", "region"}
    assert factors.filter(pl.col("source").is_null() | (pl.col("source") == "")).is_empty()
    summary = json.loads((out / "report.json").read_text())
    assert {"oee", "cost", "carbon", "quality", "settings_change", "control_charts", "capability"} <= set(summary)
    assert summary["period"]["from"] == "2026-10-05T00:00:00+02:00"


def test_report_figures_agree_with_the_commands(report, warehouse, monkeypatch, capsys):
    from twin.analytics import ideal
    from twin.cli import main

    monkeypatch.setattr(ideal, "ideal_cycle_times", lambda cell, station=None, **_: IDEAL)
    for command, key in (("oee", "oee"), ("cost", "cost"), ("carbon", "carbon")):
        code = main([command, "--warehouse", str(warehouse), "--from", "2026-10-05", "--to", "2026-10-08", "--json"])
        assert code == 0
        out = json.loads(capsys.readouterr().out)
        saved = json.loads((report.out_dir / "report.json").read_text())[key]
        if command == "oee":
            assert out["oee"] == pytest.approx(saved["oee"])
        elif command == "cost":
            assert out["cost_per_unit"] == pytest.approx(saved["cost_per_unit"])
        else:
            assert out["per_unit_kg"] == pytest.approx(saved["per_unit_kg"])
            assert set(out) >= {"energy_kwh", "scope1_kg", "scope2_location_kg", "scope2_market_kg",
                                "scope3_cat1_kg", "missing_intensity_hours", "units", "per_unit_kg",
                                "by_variant", "factors"}  # fmt: skip


def test_twin_report_cli(warehouse, tmp_path, monkeypatch, capsys):
    from twin.analytics import ideal
    from twin.cli import main

    monkeypatch.setattr(ideal, "ideal_cycle_times", lambda cell, station=None, **_: IDEAL)
    out = tmp_path / "r"
    code = main(["report", "--warehouse", str(warehouse), "--from", "2026-10-06", "--out", str(out), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["html"] == str(out / "report.html") and (out / "report.html").is_file()
    assert result["period"]["from"] == "2026-10-06T00:00:00+02:00"
    code = main(["report", "--warehouse", str(warehouse), "--to", "2026-10-06T06:00", "--out", str(out)])
    assert code == 2 and "offset" in capsys.readouterr().err
