"""Two cells in one warehouse on the dashboard: the sample and the second shipped cell (a UR10 tending a press,
in PLN), each from its own demo, picked in the sidebar; every page renders on each, with that cell's figures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dashtest import APP, PAGES, assert_clean, twin_json

from twin.api import demo
from twin.api.dashboard import ENV_CELL, ENV_WAREHOUSE
from twin.paths import CELLS_DIR

SAMPLE = CELLS_DIR / "microfactory-v2.yaml"
HINGE = CELLS_DIR / "hinge-press-v1.yaml"
SHOWN = "_dashboard_shown"

pytestmark = pytest.mark.physics


@pytest.fixture(scope="module")
def shared_warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("two-cells")
    warehouse = root / "twin.duckdb"
    for cell in (SAMPLE, HINGE):
        made = demo(warehouse, cell=cell, days=2, replications=2, horizon_days=0.5, out=root / cell.stem)
        assert made.figures["ingest"]["quarantined"] == 0
    return warehouse


def test_every_page_renders_on_each_cell_of_one_warehouse(shared_warehouse, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(ENV_WAREHOUSE, str(shared_warehouse))
    monkeypatch.setenv(ENV_CELL, os.pathsep.join(str(c) for c in (SAMPLE, HINGE)))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    assert_clean(at, "overview")
    picker = at.sidebar.selectbox(key="flt_cell")
    assert picker.value == str(SAMPLE)  # the first cell with data
    currency = {}
    for cell in (SAMPLE, HINGE):
        at = picker.set_value(str(cell)).run()
        assert_clean(at, f"overview of {cell.stem}")
        at.switch_page(PAGES["overview"]).run()
        shown = at.session_state[SHOWN]["overview"]
        on = ("--cell", str(cell), "--warehouse", str(shared_warehouse))
        cost = twin_json("cost", *on)
        # the page shows this cell's figures: the command on the same warehouse with this cell
        assert shown["cost"]["units"] == cost["units"] > 0
        assert shown["cost"]["cost_per_unit"]["total"] == pytest.approx(cost["cost_per_unit"]["total"], rel=1e-9)
        currency[cell] = cost["currency"]
        for page in PAGES:
            at.switch_page(PAGES[page]).run()
            assert_clean(at, f"{page} of {cell.stem}")
        cost_page = at.switch_page(PAGES["cost"]).run()
        assert any(currency[cell] in str(m.value) for m in cost_page.metric)  # the cell's currency
        assert not any(c in str(m.value) for c in {"EUR", "PLN"} - {currency[cell]} for m in cost_page.metric)
        picker = at.sidebar.selectbox(key="flt_cell")
    assert currency == {SAMPLE: "EUR", HINGE: "PLN"}
