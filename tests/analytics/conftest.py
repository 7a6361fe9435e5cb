"""Fixtures of the analytics tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from twin.analytics.frames import UNITS


@pytest.fixture
def units_frame() -> Callable[..., pl.DataFrame]:
    """Build :data:`twin.analytics.frames.UNITS` rows by hand: the columns given, plus each unit's disposition.

    ``dispositions`` lists ``(first_pass_result, final_result, is_reworked)`` per unit; the flags follow from
    them as ``mart_unit_disposition`` sets them (``tests/warehouse/test_unit_disposition.py`` checks the mart).
    """

    def build(dispositions: list[tuple[str, str, bool]], **columns: Any) -> pl.DataFrame:
        first, final, reworked = (list(c) for c in zip(*dispositions, strict=True))
        flags = {
            "first_pass_result": first,
            "final_result": final,
            "is_inspected": [f != "not_inspected" for f in first],
            "is_first_pass_good": [f == "good" for f in first],
            "is_first_pass_failed": [f == "failed" for f in first],
            "is_reworked": reworked,
            "is_final_good": [f in ("good", "reworked") for f in final],
            "is_scrapped": [f == "scrapped" for f in final],
            "is_escaped": [f == "escaped" for f in final],
            "is_fully_measured": [f != "not_inspected" for f in first],
        }
        return pl.DataFrame({**columns, **flags}, schema={k: UNITS[k] for k in (*columns, *flags)})

    return build
