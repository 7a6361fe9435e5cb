"""No warehouse, an empty one, or one missing a stream: every page says what is missing and how to get it."""

from __future__ import annotations

import pytest
from dashtest import PAGES, assert_clean, texts


@pytest.mark.parametrize("page", list(PAGES))
def test_no_warehouse(app, tmp_path, page):
    at = app(tmp_path / "nowhere" / "twin.duckdb")
    at.switch_page(PAGES[page]).run()
    assert_clean(at, page)
    text = texts(at)
    assert "No warehouse at" in text and "twin demo" in text, text


@pytest.mark.parametrize("page", list(PAGES))
def test_empty_warehouse(app, empty_warehouse, page):
    at = app(empty_warehouse)
    at.switch_page(PAGES[page]).run()
    assert_clean(at, page)
    text = texts(at)
    assert "holds no telemetry yet" in text and "twin ingest" in text, text


@pytest.mark.parametrize(
    ("page", "missing"),
    [("cell", "joint_states"), ("quality", "quality"), ("cost", "energy"), ("carbon", "energy")],
)
def test_events_only(app, events_only_warehouse, page, missing):
    at = app(events_only_warehouse)
    assert_clean(at, "overview")
    assert [m.label for m in at.metric][:2] == ["Units completed", "OEE"]
    assert "Not shown for lack of telemetry" in texts(at)
    at.switch_page(PAGES[page]).run()
    assert_clean(at, page)
    text = texts(at)
    assert f"no measured `{missing}` telemetry" in text and "twin ingest" in text, text


def test_no_grid_intensity(app, no_grid_warehouse):
    at = app(no_grid_warehouse)
    at.switch_page(PAGES["cost"]).run()
    assert_clean(at, "cost")
    assert at.metric, "the cost page works without grid intensity"
    at.switch_page(PAGES["carbon"]).run()
    assert_clean(at, "carbon")
    assert "no measured `grid_intensity` telemetry" in texts(at)
