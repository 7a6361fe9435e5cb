"""The shift calendar's rules, each once, against intervals worked out by hand (UTC times written out).

Europe/Berlin is UTC+2 in summer time (until 2026-03-29 02:00 -> 03:00, and again until 2026-10-25
03:00 -> 02:00) and UTC+1 in winter time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from twin.analytics.period import Period
from twin.cell.calendar import (
    ShiftCalendar,
    lay_out,
    planned_windows,
    shift_windows,
    window_seconds,
)
from twin.cell.spec import CalendarSpec
from twin.errors import ConfigError, InputError

H = 3600.0


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text + "+00:00")


def calendar(days: list[str], shifts: list[tuple[str, str, str]], breaks: list[tuple[str, float]]) -> CalendarSpec:
    return CalendarSpec(
        days=days,
        shifts=[{"name": n, "start": s, "end": e} for n, s, e in shifts],
        breaks=[{"start": s, "duration_min": d} for s, d in breaks],
    )


def spans(intervals) -> list[tuple[str, str, str, str]]:
    """(start, end, shift, day) with UTC times as ``MM-DDTHH:MM``."""

    def hm(t: float) -> str:
        return datetime.fromtimestamp(t, tz=UTC).strftime("%m-%dT%H:%M")

    return [(hm(i.start_s), hm(i.end_s), i.shift, i.day.isoformat()) for i in intervals]


EARLY_WITH_BREAKS = calendar(["mon"], [("early", "06:00", "14:00")], [("09:30", 15), ("12:00", 30)])


def test_day_shift_with_breaks():
    # Monday 2026-10-05 in Berlin (UTC+2): 06:00-14:00 local is 04:00-12:00 UTC
    day = lay_out(EARLY_WITH_BREAKS, "Europe/Berlin", utc("2026-10-04T22:00"), utc("2026-10-05T22:00"))
    assert spans(day.shifts) == [("10-05T04:00", "10-05T12:00", "early", "2026-10-05")]
    assert spans(day.breaks) == [
        ("10-05T07:30", "10-05T07:45", "early", "2026-10-05"),
        ("10-05T10:00", "10-05T10:30", "early", "2026-10-05"),
    ]
    assert spans(day.windows) == [
        ("10-05T04:00", "10-05T07:30", "early", "2026-10-05"),
        ("10-05T07:45", "10-05T10:00", "early", "2026-10-05"),
        ("10-05T10:30", "10-05T12:00", "early", "2026-10-05"),
    ]
    assert day.shift_s == 8 * H  # breaks are paid shift time
    assert day.working_s == 3.5 * H + 2.25 * H + 1.5 * H


def test_overnight_shift_with_a_break_after_midnight():
    cal = calendar(["mon"], [("night", "22:00", "06:00")], [("23:00", 15), ("02:00", 30), ("10:00", 60)])
    night = lay_out(cal, "UTC", utc("2026-10-05T00:00"), utc("2026-10-07T00:00"))
    assert spans(night.shifts) == [("10-05T22:00", "10-06T06:00", "night", "2026-10-05")]
    # 02:00 is on Tuesday, inside Monday's night; 10:00 starts in no shift and does not count
    assert spans(night.breaks) == [
        ("10-05T23:00", "10-05T23:15", "night", "2026-10-05"),
        ("10-06T02:00", "10-06T02:30", "night", "2026-10-05"),
    ]
    assert spans(night.windows) == [
        ("10-05T22:00", "10-05T23:00", "night", "2026-10-05"),
        ("10-05T23:15", "10-06T02:00", "night", "2026-10-05"),
        ("10-06T02:30", "10-06T06:00", "night", "2026-10-05"),
    ]


def test_spring_forward_night_is_seven_hours():
    # Sat 2026-03-28 22:00 CET (21:00 UTC) -> Sun 06:00 CEST (04:00 UTC). The break at 02:30 falls in
    # the skipped hour: read with the offset before the change (01:30 UTC, 03:30 CEST), 30 min long.
    cal = calendar(["sat"], [("night", "22:00", "06:00")], [("02:30", 30)])
    night = lay_out(cal, "Europe/Berlin", utc("2026-03-27T23:00"), utc("2026-03-29T22:00"))
    assert spans(night.shifts) == [("03-28T21:00", "03-29T04:00", "night", "2026-03-28")]
    assert spans(night.windows) == [
        ("03-28T21:00", "03-29T01:30", "night", "2026-03-28"),
        ("03-29T02:00", "03-29T04:00", "night", "2026-03-28"),
    ]
    assert (night.shift_s, night.working_s) == (7 * H, 6.5 * H)


def test_fall_back_night_is_nine_hours():
    # Sat 2026-10-24 22:00 CEST (20:00 UTC) -> Sun 06:00 CET (05:00 UTC). The break at 02:30 occurs twice
    # that night: the first one (CEST, 00:30 UTC) counts, and it lasts its 30 minutes, not until 03:00 CET.
    cal = calendar(["sat"], [("night", "22:00", "06:00")], [("02:30", 30)])
    night = lay_out(cal, "Europe/Berlin", utc("2026-10-23T22:00"), utc("2026-10-25T23:00"))
    assert spans(night.shifts) == [("10-24T20:00", "10-25T05:00", "night", "2026-10-24")]
    assert spans(night.breaks) == [("10-25T00:30", "10-25T01:00", "night", "2026-10-24")]
    assert (night.shift_s, night.working_s) == (9 * H, 8.5 * H)


def test_overlapping_shifts_work_once_and_are_paid_per_shift():
    # early 06-14 and mid 12-20 share 12:00-14:00. The 11:45 break starts in early only: mid works
    # 12:00-12:15, so the cell does too. The 16:00 break starts in mid only.
    cal = calendar(["mon"], [("early", "06:00", "14:00"), ("mid", "12:00", "20:00")], [("11:45", 30), ("16:00", 15)])
    period = Period(utc("2026-10-05T00:00"), utc("2026-10-06T00:00"), "UTC")
    day = lay_out(cal, "UTC", period.start, period.end)
    assert spans(day.windows) == [
        ("10-05T06:00", "10-05T11:45", "early", "2026-10-05"),
        ("10-05T12:00", "10-05T12:15", "mid", "2026-10-05"),
        ("10-05T12:15", "10-05T14:00", "early", "2026-10-05"),  # shared: the shift that started first
        ("10-05T14:00", "10-05T16:00", "mid", "2026-10-05"),
        ("10-05T16:15", "10-05T20:00", "mid", "2026-10-05"),
    ]
    working = 5.75 * H + 0.25 * H + 1.75 * H + 2 * H + 3.75 * H  # 06:00-20:00 less 11:45-12:00, 16:00-16:15
    assert day.working_s == working == 13.5 * H
    assert day.shift_s == 16 * H  # each crew is paid its whole 8 h shift
    assert day.in_shift(utc("2026-10-05T13:00").timestamp()) and not day.in_shift(utc("2026-10-05T20:00").timestamp())
    # every view counts the same: analytics frames, the simulation clock
    assert window_seconds(planned_windows(cal, period)) == working
    assert window_seconds(shift_windows(cal, period)) == 16 * H
    sim = ShiftCalendar.build(cal, "UTC", date(2026, 10, 5), 1.0)
    assert sim.windows == ((6 * H, 11.75 * H), (12 * H, 16 * H), (16.25 * H, 20 * H))  # touching windows join
    assert (sim.planned_s, sim.shift_s) == (working, 16 * H)
    # a shift listed twice by mistake: worked once, paid twice
    twice = calendar(["mon"], [("early", "06:00", "14:00")] * 2, [])
    doubled = lay_out(twice, "UTC", period.start, period.end)
    assert (doubled.working_s, doubled.shift_s) == (8 * H, 16 * H)


def test_clipped_to_a_period_starting_mid_shift():
    # from 09:40 to 13:00 local (07:40-11:00 UTC): the 09:30 break keeps its last 5 minutes
    day = lay_out(EARLY_WITH_BREAKS, "Europe/Berlin", utc("2026-10-05T07:40"), utc("2026-10-05T11:00"))
    assert spans(day.shifts) == [("10-05T07:40", "10-05T11:00", "early", "2026-10-05")]
    assert spans(day.breaks) == [
        ("10-05T07:40", "10-05T07:45", "early", "2026-10-05"),
        ("10-05T10:00", "10-05T10:30", "early", "2026-10-05"),
    ]
    assert spans(day.windows) == [
        ("10-05T07:45", "10-05T10:00", "early", "2026-10-05"),
        ("10-05T10:30", "10-05T11:00", "early", "2026-10-05"),
    ]
    # a period starting at midnight gets the rest of the night shift that began the day before
    night = lay_out(
        calendar(["mon"], [("night", "22:00", "06:00")], []), "UTC", utc("2026-10-06T00:00"), utc("2026-10-07T00:00")
    )
    assert spans(night.shifts) == [("10-06T00:00", "10-06T06:00", "night", "2026-10-05")]


def test_weekday_filter_and_a_night_ending_on_a_day_off():
    cal = calendar(["fri"], [("night", "22:00", "06:00")], [])
    week = lay_out(cal, "UTC", utc("2026-10-08T00:00"), utc("2026-10-12T00:00"))  # Thursday to Sunday
    assert spans(week.shifts) == [("10-09T22:00", "10-10T06:00", "night", "2026-10-09")]


def test_break_reaching_past_the_shift_end_is_clipped():
    # 13:45 + 30 min starts in early and is cut at 14:00; it does not start in late, so late works from 14:00
    cal = calendar(["mon"], [("early", "06:00", "14:00"), ("late", "14:00", "22:00")], [("13:45", 30)])
    day = lay_out(cal, "UTC", utc("2026-10-05T00:00"), utc("2026-10-06T00:00"))
    assert spans(day.breaks) == [("10-05T13:45", "10-05T14:00", "early", "2026-10-05")]
    assert spans(day.windows) == [
        ("10-05T06:00", "10-05T13:45", "early", "2026-10-05"),
        ("10-05T14:00", "10-05T22:00", "late", "2026-10-05"),
    ]


def test_bad_zone_or_naive_span_is_a_clear_error():
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        lay_out(EARLY_WITH_BREAKS, "Mars/Olympus", utc("2026-10-05T00:00"), utc("2026-10-06T00:00"))
    with pytest.raises(InputError, match="no time zone"):
        lay_out(EARLY_WITH_BREAKS, "UTC", datetime(2026, 10, 5), utc("2026-10-06T00:00"))
