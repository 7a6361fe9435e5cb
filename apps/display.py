"""How the pages show things: KPI labels and number formats, the sidebar's period presets, CSV downloads.

Plain Python (no Streamlit), so the tests can compare a page's text with the commands' numbers.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from twin.errors import InputError

KPI_LABELS: dict[str, tuple[str, str]] = {
    "units": ("Units completed", "units"),
    "oee": ("OEE", "ratio"),
    "cost_per_unit": ("Cost per unit", "currency/unit"),
    "kgco2e_per_unit": ("kgCO2e per unit", "kg CO2e/unit"),
    "first_pass_yield": ("First-pass yield", "ratio"),
}
"""The Overview's headline KPIs: key -> (label, unit)."""

PERIOD_CHOICES: tuple[str, ...] = ("All data", "Last day", "Last 7 days", "Custom")
"""The sidebar's period presets."""


def period_days(
    choice: str, first_day: date, last_day: date, custom: Sequence[date] | None = None
) -> tuple[date, date]:
    """The first and last local day (inclusive) of a period choice of the sidebar.

    Args:
        choice: One of :data:`PERIOD_CHOICES`.
        first_day: The data's first local day.
        last_day: The data's last local day.
        custom: The chosen days for ``Custom`` (one or two dates).

    Returns:
        ``(first, last)``, clipped to the data.

    Raises:
        InputError: An unknown choice.

    >>> period_days("Last 7 days", date(2026, 10, 5), date(2026, 11, 3))
    (datetime.date(2026, 10, 28), datetime.date(2026, 11, 3))
    """
    if choice == "All data":
        return first_day, last_day
    if choice == "Last day":
        return last_day, last_day
    if choice == "Last 7 days":
        return max(first_day, last_day - timedelta(days=6)), last_day
    if choice == "Custom":
        days = [d for d in (custom or ()) if d is not None]
        if not days:
            return first_day, last_day
        lo, hi = min(days), max(days)
        return max(lo, first_day), max(min(hi, last_day), max(lo, first_day))
    raise InputError(f"unknown period {choice!r}; valid: {', '.join(PERIOD_CHOICES)}")


def format_kpi(key: str, value: float | None, currency: str = "") -> str:
    """A KPI as the pages print it (the tests compare these strings with the commands' numbers).

    Money is written with the cell's ``currency`` code.

    >>> format_kpi("oee", 0.74805), format_kpi("units", 3061.0), format_kpi("cost_per_unit", 12.3456, "PLN")
    ('74.8 %', '3,061', '12.35 PLN')
    >>> format_kpi("kgco2e_per_unit", 1.23456), format_kpi("first_pass_yield", None)
    ('1.235 kg', 'n/a')
    """
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return _in_unit(key, value, "", currency)


def compact(value: float | None, unit: str) -> str:
    """A total in a unit that fits a metric tile (``kg`` becomes ``t`` from 1,000 kg, ``kWh`` ``MWh``).

    Four significant figures at most, so "1,116.1 kg" no longer runs out of its tile as "1,116.1…".

    >>> compact(553.53, "kg"), compact(1116.1, "kg"), compact(1549.6, "kWh"), compact(None, "kg")
    ('553.5 kg', '1.116 t', '1.550 MWh', 'n/a')
    """
    if value is None or not np.isfinite(value):
        return "n/a"
    bigger = {"kg": "t", "kWh": "MWh", "Wh": "kWh"}
    if abs(value) >= 1000.0 and unit in bigger:
        return f"{value / 1000.0:.3f} {bigger[unit]}"
    return f"{value:.1f} {unit}" if abs(value) >= 100.0 else f"{value:.3g} {unit}"


def format_delta(key: str, delta: float | None, currency: str = "") -> str | None:
    """A KPI change as the pages print it (None without a previous period).

    >>> format_delta("oee", -0.0123), format_delta("units", 12.0), format_delta("cost_per_unit", None)
    ('-1.2 pp', '+12', None)
    """
    if delta is None:
        return None
    return _in_unit(key, delta, "+", currency)


def _in_unit(key: str, value: float, sign: str, currency: str = "") -> str:
    """``value`` in ``key``'s unit; ``sign="+"`` writes a change (of a ratio in percentage points)."""
    if key in ("oee", "first_pass_yield") or key.endswith(("_yield", "_rate", "availability", "performance")):
        return f"{100 * value:{sign}.1f} {'pp' if sign else '%'}"
    if key == "units":
        return f"{value:{sign},.0f}"
    if key == "cost_per_unit":
        return f"{value:{sign},.2f} {currency}".rstrip()
    if key == "kgco2e_per_unit":
        return f"{value:{sign},.3f} kg"
    return f"{value:{sign},.4g}"


def to_csv(frame: pl.DataFrame) -> bytes:
    """A frame as CSV bytes (for a download button); nested columns are written as JSON text.

    >>> to_csv(pl.DataFrame({"a": [1], "b": [[1, 2]]})).decode().splitlines()
    ['a,b', '1,"[1, 2]"']
    """

    def as_json(value: Any) -> str:
        return json.dumps(value.to_list() if isinstance(value, pl.Series) else value, default=str)

    flat = frame.with_columns(
        [pl.col(c).map_elements(as_json, return_dtype=pl.String) for c, t in frame.schema.items() if t.is_nested()]
    )
    buffer = io.BytesIO()
    flat.write_csv(buffer)
    return buffer.getvalue()
