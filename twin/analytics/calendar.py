"""The shift calendar laid out on a period: planned busy time (ISO 22400) and paid shift time.

Shifts and breaks are local wall-clock times in the cell's time zone; each is turned into a UTC
interval on its own local day, so a DST change shortens or lengthens the shift that spans it (a
22:00-06:00 night shift across the autumn change is 9 hours long). A break counts when it starts
inside a shift (as ``twin generate`` lays the day out). Every interval is clipped to the period.

Planned busy time = shift time minus planned breaks (ISO 22400-2 "planned busy time", PBT).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from twin.analytics.period import Period
from twin.cell.spec import WEEKDAYS, CalendarSpec

WINDOW_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "shift": pl.String(),
    "start_at": pl.Datetime("us", "UTC"),
    "end_at": pl.Datetime("us", "UTC"),
}


def _at(day: date, minutes: float, zone: ZoneInfo) -> datetime:
    """Local wall-clock minutes after the local midnight of ``day`` -> aware UTC datetime."""
    local = datetime.combine(day, time(0)) + timedelta(minutes=minutes)
    return local.replace(tzinfo=zone).astimezone(UTC)


def _subtract(
    span: tuple[datetime, datetime], cuts: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """``span`` minus the union of ``cuts``."""
    pieces = [span]
    for c0, c1 in sorted(cuts):
        nxt = []
        for s0, s1 in pieces:
            if c1 <= s0 or c0 >= s1:
                nxt.append((s0, s1))
                continue
            if s0 < c0:
                nxt.append((s0, c0))
            if c1 < s1:
                nxt.append((c1, s1))
        pieces = nxt
    return pieces


def _layout(calendar: CalendarSpec, period: Period, minus_breaks: bool) -> pl.DataFrame:
    zone = period.zone
    rows: list[dict[str, object]] = []
    # a shift that starts the local day before the period may reach into it
    days = [period.local_dates()[0] - timedelta(days=1), *period.local_dates()]
    breaks = calendar.break_minutes()
    for day in days:
        if WEEKDAYS[day.weekday()] not in calendar.days:
            continue
        for shift, (s_min, e_min) in zip(calendar.shifts, calendar.shift_minutes(), strict=True):
            span = (_at(day, s_min, zone), _at(day, e_min, zone))
            cuts = []
            if minus_breaks:
                for b0, b1 in breaks:
                    for offset in (0, 1440):  # a break after midnight of an overnight shift
                        if s_min <= b0 + offset < e_min:
                            cuts.append((_at(day, b0 + offset, zone), _at(day, b1 + offset, zone)))
            for w0, w1 in _subtract(span, cuts):
                c0, c1 = max(w0, period.start), min(w1, period.end)
                if c1 > c0:
                    rows.append({"date": day, "shift": shift.name, "start_at": c0, "end_at": c1})
    if not rows:
        return pl.DataFrame(schema=WINDOW_SCHEMA)
    return pl.DataFrame(rows, schema=WINDOW_SCHEMA).sort("start_at")


def planned_windows(calendar: CalendarSpec, period: Period) -> pl.DataFrame:
    """Planned busy time of a period: shifts minus planned breaks, one row per uninterrupted window.

    Args:
        calendar: The cell's shift calendar.
        period: The reporting period (its time zone is the calendar's).

    Returns:
        Columns ``date`` (local day the shift belongs to), ``shift``, ``start_at``, ``end_at`` (UTC),
        sorted by ``start_at``, clipped to the period.

    >>> from twin.analytics.period import parse_period
    >>> cal = CalendarSpec(days=["mon"], shifts=[{"name": "early", "start": "06:00", "end": "14:00"}],
    ...                    breaks=[{"start": "09:30", "duration_min": 15}, {"start": "12:00", "duration_min": 30}])
    >>> w = planned_windows(cal, parse_period("2026-10-05", "2026-10-06", "Europe/Berlin"))
    >>> w.height, round((w["end_at"] - w["start_at"]).dt.total_seconds().sum() / 60)
    (3, 435)
    """
    return _layout(calendar, period, minus_breaks=True)


def shift_windows(calendar: CalendarSpec, period: Period) -> pl.DataFrame:
    """Shift time of a period with breaks included (the time operators are paid for).

    Args:
        calendar: The cell's shift calendar.
        period: The reporting period.

    Returns:
        Same columns as :func:`planned_windows`, one row per shift.
    """
    return _layout(calendar, period, minus_breaks=False)


def window_seconds(windows: pl.DataFrame) -> float:
    """Total length of a window frame in seconds."""
    if windows.is_empty():
        return 0.0
    return float((windows["end_at"] - windows["start_at"]).dt.total_microseconds().sum()) / 1e6
