"""Every dashboard page on a small demo warehouse (Streamlit AppTest): no exception, and the figures the
pages show are the ones ``twin oee|cost|carbon --json`` print for the same period and filters."""

from __future__ import annotations

import math
import sys

import pytest
from dashtest import DAYS, FIRST_DAY, PAGES, REPO, assert_clean, texts, twin_json
from jsontree import same

sys.path.insert(0, str(REPO / "apps"))
import display  # noqa: E402

SHOWN = "_dashboard_shown"


def shown(at, page: str) -> dict:
    return at.session_state[SHOWN][page]


def metric(at, label: str):
    found = [m for m in at.metric if m.label == label]
    assert found, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return found[0]


def close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_on_the_demo_warehouse(app, demo_warehouse, page):
    at = app(demo_warehouse)
    assert_clean(at, "overview")
    at.switch_page(PAGES[page]).run()
    assert_clean(at, page)
    assert at.title and at.title[0].value, page
    assert not at.info or page in ("cell", "scenarios"), texts(at)


def test_overview_kpis_equal_the_commands_for_all_data(app, demo_warehouse):
    at = app(demo_warehouse)
    assert_clean(at, "overview")
    w = ("--warehouse", str(demo_warehouse))
    oee, cost, carbon = twin_json("oee", *w), twin_json("cost", *w), twin_json("carbon", *w)
    figures = shown(at, "overview")
    same(figures["oee"], oee)
    same(figures["cost"], cost)
    same(figures["carbon"], carbon)
    kpis = figures["kpis"]
    assert kpis["units"] == oee["total_count"]
    same(kpis["oee"], oee["oee"])
    same(kpis["cost_per_unit"], cost["cost_per_unit"]["total"])
    same(kpis["kgco2e_per_unit"], carbon["per_unit_kg"]["total_market"])
    assert close(kpis["first_pass_yield"], oee["good_count"] / oee["total_count"])
    assert metric(at, "Units completed").value == display.format_kpi("units", oee["total_count"])
    assert metric(at, "OEE").value == display.format_kpi("oee", oee["oee"])
    assert metric(at, "Cost per unit").value == display.format_kpi(
        "cost_per_unit", cost["cost_per_unit"]["total"], cost["currency"]
    )
    assert metric(at, "kgCO2e per unit").value == display.format_kpi(
        "kgco2e_per_unit", carbon["per_unit_kg"]["total_market"]
    )
    assert oee["period"]["from"].startswith(DAYS[0]) and oee["period"]["to"].startswith("2026-10-07")


def test_last_day_with_deltas_against_the_day_before(app, demo_warehouse):
    at = app(demo_warehouse)
    at.sidebar.selectbox(key="flt_period").set_value("Last day").run()
    assert_clean(at, "overview")
    w = ("--warehouse", str(demo_warehouse))
    day = ("--from", DAYS[1], "--to", "2026-10-07")
    before = ("--from", DAYS[0], "--to", DAYS[1])
    oee, cost = twin_json("oee", *w, *day), twin_json("cost", *w, *day)
    prev_oee, prev_cost = twin_json("oee", *w, *before), twin_json("cost", *w, *before)
    figures = shown(at, "overview")
    same(figures["oee"], oee)
    same(figures["cost"], cost)
    assert metric(at, "OEE").value == display.format_kpi("oee", oee["oee"])
    assert metric(at, "OEE").delta == display.format_delta("oee", oee["oee"] - prev_oee["oee"])
    assert metric(at, "Units completed").delta == display.format_delta(
        "units", float(oee["total_count"] - prev_oee["total_count"])
    )
    assert metric(at, "Cost per unit").delta == display.format_delta(
        "cost_per_unit", cost["cost_per_unit"]["total"] - prev_cost["cost_per_unit"]["total"], cost["currency"]
    )


def test_station_and_variant_filters_follow_the_commands(app, demo_warehouse):
    at = app(demo_warehouse)
    at.sidebar.selectbox(key="flt_station").set_value("R2").run()
    assert_clean(at, "overview")
    w = ("--warehouse", str(demo_warehouse))
    oee_r2 = twin_json("oee", *w, "--station", "R2")
    same(shown(at, "overview")["oee"], oee_r2)
    assert metric(at, "OEE (R2)").value == display.format_kpi("oee", oee_r2["oee"])

    at.sidebar.selectbox(key="flt_variant").set_value("B6-RPLA").run()
    assert_clean(at, "overview")
    cost, carbon = twin_json("cost", *w), twin_json("carbon", *w)
    row = next(v for v in cost["by_variant"] if v["variant"] == "B6-RPLA")
    krow = next(v for v in carbon["by_variant"] if v["variant"] == "B6-RPLA")
    kpis = shown(at, "overview")["kpis"]
    same(kpis["cost_per_unit"], row["cost_per_unit"]["total"])
    same(kpis["kgco2e_per_unit"], krow["per_unit_kg"]["total_market"])

    # the filters persist across pages
    for page in ("quality", "cost", "carbon", "overview"):
        at.switch_page(PAGES[page]).run()
        assert_clean(at, page)
        assert at.sidebar.selectbox(key="flt_variant").value == "B6-RPLA"
        assert at.sidebar.selectbox(key="flt_station").value == "R2"
    cost_at = at.switch_page(PAGES["cost"]).run()
    assert metric(cost_at, "Cost per good unit").value == display.format_kpi(
        "cost_per_unit", row["cost_per_unit"]["total"], "EUR"
    )


def test_cost_and_carbon_pages_equal_the_commands(app, demo_warehouse):
    at = app(demo_warehouse)
    at.sidebar.selectbox(key="flt_period").set_value("Custom").run()
    at.sidebar.date_input(key="flt_days").set_value((FIRST_DAY, FIRST_DAY)).run()
    w = ("--warehouse", str(demo_warehouse))
    day = ("--from", DAYS[0], "--to", DAYS[1])
    cost, carbon = twin_json("cost", *w, *day), twin_json("carbon", *w, *day)
    at.switch_page(PAGES["cost"]).run()
    assert_clean(at, "cost")
    same(shown(at, "cost")["cost"], cost)
    assert metric(at, "Cost per good unit").value == display.format_kpi(
        "cost_per_unit", cost["cost_per_unit"]["total"], cost["currency"]
    )
    assert metric(at, "Good units").value == f"{cost['units']:,}"
    assert [b.label for b in at.get("download_button")][:4] == [
        "cost_per_unit.csv",
        "cost_by_variant.csv",
        "energy_hourly.csv",
        "energy_by_meter.csv",
    ]
    at.switch_page(PAGES["carbon"]).run()
    assert_clean(at, "carbon")
    same(shown(at, "carbon")["carbon"], carbon)
    assert metric(at, "kgCO2e per unit (market)").value == display.format_kpi(
        "kgco2e_per_unit", carbon["per_unit_kg"]["total_market"]
    )
    assert metric(at, "kgCO2e per unit (location)").value == display.format_kpi(
        "kgco2e_per_unit", carbon["per_unit_kg"]["total_location"]
    )
    assert metric(at, "Scope 2 location").value == f"{carbon['scope2_location_kg']:,.1f} kg"
    sources = [df.value for df in at.dataframe if "source" in df.value.columns]
    assert sources and all(s for s in sources[0]["source"]), "every factor carries its source"


def test_quality_page_charts_and_pareto(app, demo_warehouse):
    at = app(demo_warehouse)
    at.switch_page(PAGES["quality"]).run()
    assert_clean(at, "quality")
    assert shown(at, "quality")["subgroups"] >= 2
    for family in ("gap_mm", "flush_mm"):
        at.selectbox(key="q_family").set_value(family).run()
        assert_clean(at, f"quality {family}")
    at.selectbox(key="q_subgroup").set_value("shift (8 h)").run()
    at.selectbox(key="q_rules").set_value("Nelson").run()
    assert_clean(at, "quality nelson")


def test_cell_and_replay_page_shows_the_replay(app, demo_warehouse):
    at = app(demo_warehouse)
    at.switch_page(PAGES["cell"]).run()
    assert_clean(at, "cell")
    assert at.get("imgs") or at.get("image"), "the rendered cell picture is shown"
    figures = shown(at, "cell_replay")
    assert figures["robot"] == "R2" and figures["cycles"] > 0
    options = at.selectbox(key="cr_cycle").options
    at.selectbox(key="cr_cycle").set_value(options[-1]).run()
    assert_clean(at, "cell other cycle")
