"""apps/display.py: the sidebar's period presets and the pages' number formats."""

from __future__ import annotations

import sys
from datetime import date

import polars as pl
import pytest
from dashtest import REPO

sys.path.insert(0, str(REPO / "apps"))
import display  # noqa: E402

from twin.api.read.kpis import HEADLINE_KPIS  # noqa: E402
from twin.errors import InputError  # noqa: E402


def test_period_choices():
    first, last = date(2026, 10, 5), date(2026, 11, 3)
    assert display.period_days("All data", first, last) == (first, last)
    assert display.period_days("Last day", first, last) == (last, last)
    assert display.period_days("Last 7 days", first, last) == (date(2026, 10, 28), last)
    assert display.period_days("Last 7 days", first, date(2026, 10, 7)) == (first, date(2026, 10, 7))
    custom = (date(2026, 10, 1), date(2026, 10, 9))
    assert display.period_days("Custom", first, last, custom) == (first, date(2026, 10, 9))
    assert display.period_days("Custom", first, last, (date(2026, 10, 9),)) == (date(2026, 10, 9),) * 2
    with pytest.raises(InputError, match="valid"):
        display.period_days("Yesterday", first, last)


def test_formats_and_csv():
    assert display.format_kpi("oee", 0.74805) == "74.8 %" and display.format_kpi("units", float("nan")) == "n/a"
    assert display.format_delta("oee", -0.0123) == "-1.2 pp" and display.format_delta("units", None) is None
    assert tuple(display.KPI_LABELS) == HEADLINE_KPIS  # a label for every headline KPI, in order
    csv = display.to_csv(pl.DataFrame({"a": [1], "b": [[1, 2]]})).decode()
    assert csv.splitlines() == ["a,b", '1,"[1, 2]"']
