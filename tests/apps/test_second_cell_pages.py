"""Every dashboard page renders on the second shipped cell (a UR10 tending a press, in PLN), from its own demo."""

from __future__ import annotations

from pathlib import Path

import pytest
from dashtest import APP, PAGES, assert_clean

from twin.api import demo
from twin.api.dashboard import ENV_CELL, ENV_WAREHOUSE
from twin.paths import CELLS_DIR

HINGE = CELLS_DIR / "hinge-press-v1.yaml"

pytestmark = pytest.mark.physics


@pytest.fixture(scope="module")
def hinge_warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hinge")
    made = demo(root / "twin.duckdb", cell=HINGE, days=2, replications=2, horizon_days=0.5, out=root)
    assert made.figures["ingest"]["quarantined"] == 0
    return made.warehouse


def test_every_page_renders_on_the_second_cell(hinge_warehouse, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(ENV_WAREHOUSE, str(hinge_warehouse))
    monkeypatch.setenv(ENV_CELL, str(HINGE))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    assert_clean(at, "overview")
    for page in PAGES:
        at.switch_page(PAGES[page]).run()
        assert_clean(at, page)
    cost = at.switch_page(PAGES["cost"]).run()
    assert any("PLN" in str(m.value) for m in cost.metric)  # the cell's currency, never EUR
    assert not any("EUR" in str(m.value) for m in cost.metric)
