"""The shift calendar laid out in time: one set of rules for the generator, the simulation and the analytics.

:func:`lay_out` turns a :class:`~twin.cell.spec.CalendarSpec` (local wall-clock times in the cell's time
zone) into UTC intervals over a span: every shift (breaks included), every planned break, and the working
windows (shifts minus breaks). The rules:

1. **A shift belongs to the local day it starts on**, and only on the calendar's weekdays. An overnight
   shift (end at or before start: ``22:00``-``06:00``) ends on the next local day; a Friday night shift
   ends on Saturday morning even when Saturday is not a working day.
2. **Wall-clock times are converted on their own local day**, so a DST change shortens or lengthens the
   shift that spans it: in Europe/Berlin the 22:00-06:00 night of 2026-03-28 lasts 7 h, that of
   2026-10-24 lasts 9 h. A time in the spring-forward gap is read with the offset before the change
   (``02:30`` is 03:30 summer time); a time that occurs twice in the autumn is its first occurrence
   (PEP 495 ``fold=0``).
3. **A break counts when it starts inside a shift**, also after midnight of an overnight shift (``02:00``
   in 22:00-06:00 is 02:00 of the next local day), and it is **clipped to the shift's end**. A break that
   starts outside every shift does not count. A break lasts its ``duration_min`` of elapsed time from its
   wall-clock start (30 minutes at 02:30 on the autumn night, not until 03:00 of the second hour).
   Overlapping breaks of one shift count once.
4. **Overlapping shifts never count working time twice.** The working windows are the union of every
   shift's own working time (shift minus its breaks): the cell works while any shift works. A stretch that
   two shifts share belongs to the one that started first (the first listed when both start together),
   so each window names one shift and one day. **Paid shift time counts every shift in full**: each
   shift's crew is paid for its whole shift, so the hour two shifts share is paid twice (a 06:00-14:00
   and a 13:00-21:00 shift are 15 h of working time and 16 h of shift time). The time the cell is *in
   shift* (for idle power) is the union of the shifts.
5. **Everything is clipped to the span** ``[start, end)``; a shift that started before the span (an
   overnight shift of the previous day) contributes the part inside it and keeps its own day.

The users are thin views: :func:`planned_windows`, :func:`shift_windows` and :func:`window_seconds`
(polars frames of a reporting period, for the analytics), :class:`ShiftCalendar` (seconds on the
simulation clock, for the production simulation), and :class:`CalendarLayout` itself (UTC epoch seconds
and :meth:`CalendarLayout.in_shift`, for the telemetry generator).

>>> from datetime import UTC, datetime
>>> spec = CalendarSpec(days=["mon"], shifts=[{"name": "night", "start": "22:00", "end": "06:00"}],
...                     breaks=[{"start": "02:00", "duration_min": 30}])
>>> day = lay_out(spec, "UTC", datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 7, tzinfo=UTC))
>>> [(w.shift, w.day.isoformat(), (w.end_s - w.start_s) / 3600) for w in day.windows]
[('night', '2026-10-05', 4.0), ('night', '2026-10-05', 3.5)]
>>> day.shift_s / 3600, day.working_s / 3600
(8.0, 7.5)
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from twin.cell.spec import WEEKDAYS, CalendarSpec
from twin.errors import ConfigError, InputError

WINDOW_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "shift": pl.String(),
    "start_at": pl.Datetime("us", "UTC"),
    "end_at": pl.Datetime("us", "UTC"),
}
"""Columns of a window frame: the local day the shift belongs to, the shift's name, the UTC interval."""


class ShiftInterval(NamedTuple):
    """One interval of a laid-out calendar: ``[start_s, end_s)`` in UTC epoch seconds."""

    start_s: float
    end_s: float
    shift: str
    day: date
    """The local day the shift belongs to (the day it starts on)."""


@dataclass(frozen=True)
class CalendarLayout:
    """A calendar laid out over a span (the result of :func:`lay_out`); every interval inside the span.

    Attributes:
        timezone: The IANA zone the calendar's wall-clock times are in.
        start_s: Start of the span, UTC epoch seconds (inclusive).
        end_s: End of the span, UTC epoch seconds (exclusive).
        shifts: One interval per shift occurrence, breaks included, sorted by start. Overlapping shifts
            overlap here too (paid time counts every shift in full).
        breaks: The planned breaks of each shift occurrence, clipped to the shift's end, sorted by start.
        windows: Working windows (shifts minus breaks), disjoint and sorted; time that overlapping shifts
            share belongs to the shift that started first.
        in_shift_spans: The union of the shifts as disjoint ``(start_s, end_s)`` pairs (touching ones merged).
    """

    timezone: str
    start_s: float
    end_s: float
    shifts: tuple[ShiftInterval, ...]
    breaks: tuple[ShiftInterval, ...]
    windows: tuple[ShiftInterval, ...]
    in_shift_spans: tuple[tuple[float, float], ...]

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def shift_s(self) -> float:
        """Paid shift time in seconds: every shift in full, breaks included."""
        return sum(s.end_s - s.start_s for s in self.shifts)

    @property
    def working_s(self) -> float:
        """Working time in seconds (planned busy time): the union of the shifts' working time."""
        return sum(w.end_s - w.start_s for w in self.windows)

    def in_shift(self, t: float) -> bool:
        """Whether the UTC epoch second ``t`` lies inside some shift (breaks included)."""
        index = bisect_right(self.in_shift_spans, (t, math.inf)) - 1
        return index >= 0 and t < self.in_shift_spans[index][1]


class PeriodLike(Protocol):
    """A half-open UTC interval and the time zone its days are counted in (``twin.analytics.period.Period``)."""

    @property
    def start(self) -> datetime:  # noqa: D102
        ...

    @property
    def end(self) -> datetime:  # noqa: D102
        ...

    @property
    def timezone(self) -> str:  # noqa: D102
        ...


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"time zone {timezone!r} is not an IANA zone known to zoneinfo (e.g. Europe/Berlin)") from exc


def _epoch(instant: datetime, name: str) -> float:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InputError(f"calendar span {name} {instant.isoformat()} has no time zone; pass an aware datetime")
    return instant.timestamp()


def _union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sorted, disjoint union of ``spans``; touching spans are merged."""
    merged: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _subtract(spans: list[tuple[float, float]], cuts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """``spans`` minus the union of ``cuts`` (both lists of ``(start, end)``); empty pieces dropped."""
    pieces = spans
    for c0, c1 in cuts:
        rest = []
        for s0, s1 in pieces:
            if c1 <= s0 or c0 >= s1:
                rest.append((s0, s1))
                continue
            if s0 < c0:
                rest.append((s0, c0))
            if c1 < s1:
                rest.append((c1, s1))
        pieces = rest
    return pieces


def lay_out(calendar: CalendarSpec, timezone: str, start: datetime, end: datetime) -> CalendarLayout:
    """Lay a shift calendar out over ``[start, end)`` as UTC intervals, by the rules of the module docstring.

    Every local day the span touches is laid out, and the day before it (its overnight shift may reach
    into the span).

    Args:
        calendar: The shift calendar (days, shifts, breaks in local wall-clock time).
        timezone: IANA zone the wall-clock times are in (the cell's ``cell.timezone``).
        start: Start of the span (inclusive), timezone-aware.
        end: End of the span (exclusive), timezone-aware.

    Returns:
        The shifts, breaks and working windows inside the span.

    Raises:
        ConfigError: ``timezone`` is not a known IANA zone.
        InputError: ``start`` or ``end`` is naive.
    """
    zone = _zone(timezone)
    start_s, end_s = _epoch(start, "start"), _epoch(end, "end")
    end_s = max(end_s, start_s)

    def at(day: date, minutes: float) -> float:
        # wall-clock minutes after the local midnight of ``day``, converted on the local day they fall on
        local = datetime.combine(day, time(0)) + timedelta(minutes=minutes)
        return local.replace(tzinfo=zone).timestamp()

    first = datetime.fromtimestamp(start_s, tz=zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end_s, tz=zone).date()
    spans = calendar.shift_minutes()
    breaks_min = calendar.break_minutes()
    # (start, listed order, end, name, day, working pieces, breaks) of every shift occurrence
    occurrences: list[tuple[float, int, float, str, date, list[tuple[float, float]], list[tuple[float, float]]]] = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        if WEEKDAYS[day.weekday()] not in calendar.days:
            continue
        for order, (shift, (s_min, e_min)) in enumerate(zip(calendar.shifts, spans, strict=True)):
            s_at, e_at = at(day, s_min), at(day, e_min)
            if e_at <= s_at:  # a shift inside the spring-forward gap has no time
                continue
            cuts = []
            for b0, b1 in breaks_min:
                for past_midnight in (0, 1440):  # on the shift's own day, or after its midnight
                    if s_min <= b0 + past_midnight < e_min:
                        b_at = at(day, b0 + past_midnight)  # a break lasts its minutes, even across a DST change
                        c0, c1 = max(b_at, s_at), min(b_at + (b1 - b0) * 60.0, e_at)
                        if c1 > c0:
                            cuts.append((c0, c1))
            cuts = _union(cuts)
            pieces = _subtract([(s_at, e_at)], cuts)
            occurrences.append((s_at, order, e_at, shift.name, day, pieces, cuts))
    occurrences.sort(key=lambda o: (o[0], o[1]))

    def clip(a: float, b: float, name: str, day: date) -> list[ShiftInterval]:
        a, b = max(a, start_s), min(b, end_s)
        return [ShiftInterval(a, b, name, day)] if b > a else []

    shifts: list[ShiftInterval] = []
    breaks: list[ShiftInterval] = []
    windows: list[ShiftInterval] = []
    claimed: list[tuple[float, float]] = []  # working time of earlier-starting shifts that may still overlap
    for s_at, _, e_at, name, day, pieces, cuts in occurrences:
        shifts += clip(s_at, e_at, name, day)
        for c0, c1 in cuts:
            breaks += clip(c0, c1, name, day)
        claimed = [c for c in claimed if c[1] > s_at]  # occurrences come by start: older ones cannot overlap
        own = _subtract(pieces, claimed)
        claimed += own
        for a, b in own:
            windows += clip(a, b, name, day)
    return CalendarLayout(
        timezone=timezone,
        start_s=start_s,
        end_s=end_s,
        shifts=tuple(shifts),
        breaks=tuple(sorted(breaks)),
        windows=tuple(sorted(windows)),
        in_shift_spans=tuple(_union([(s.start_s, s.end_s) for s in shifts])),
    )


# the analytics' view: polars frames of a reporting period ---------------------------------------------------
def intervals_frame(intervals: tuple[ShiftInterval, ...] | list[ShiftInterval]) -> pl.DataFrame:
    """Intervals of a layout as a frame of :data:`WINDOW_SCHEMA`, sorted by ``start_at``.

    Args:
        intervals: ``CalendarLayout.windows``, ``.shifts`` or ``.breaks``.

    Returns:
        Columns ``date``, ``shift``, ``start_at``, ``end_at`` (UTC, microseconds).
    """
    if not intervals:
        return pl.DataFrame(schema=WINDOW_SCHEMA)
    frame = pl.DataFrame(
        {
            "date": [i.day for i in intervals],
            "shift": [i.shift for i in intervals],
            "start_at": [round(i.start_s * 1e6) for i in intervals],
            "end_at": [round(i.end_s * 1e6) for i in intervals],
        },
        schema={"date": pl.Date(), "shift": pl.String(), "start_at": pl.Int64(), "end_at": pl.Int64()},
    )
    return frame.with_columns(pl.from_epoch(c, "us").dt.replace_time_zone("UTC") for c in ("start_at", "end_at")).sort(
        "start_at"
    )


def _period_layout(calendar: CalendarSpec, period: PeriodLike) -> CalendarLayout:
    return lay_out(calendar, period.timezone, period.start, period.end)


def planned_windows(calendar: CalendarSpec, period: PeriodLike) -> pl.DataFrame:
    """Planned busy time of a period (ISO 22400-2 PBT): the working windows, one row per uninterrupted window.

    Args:
        calendar: The cell's shift calendar.
        period: The reporting period (a ``Period``; its time zone is the calendar's).

    Returns:
        :data:`WINDOW_SCHEMA` frame clipped to the period, sorted by ``start_at``.

    >>> from types import SimpleNamespace
    >>> cal = CalendarSpec(days=["mon"], shifts=[{"name": "early", "start": "06:00", "end": "14:00"}],
    ...                    breaks=[{"start": "09:30", "duration_min": 15}, {"start": "12:00", "duration_min": 30}])
    >>> monday = SimpleNamespace(start=datetime(2026, 10, 4, 22, tzinfo=UTC), end=datetime(2026, 10, 5, 22, tzinfo=UTC),
    ...                          timezone="Europe/Berlin")
    >>> w = planned_windows(cal, monday)
    >>> w.height, window_seconds(w) / 60
    (3, 435.0)
    """
    return intervals_frame(_period_layout(calendar, period).windows)


def shift_windows(calendar: CalendarSpec, period: PeriodLike) -> pl.DataFrame:
    """Paid shift time of a period: one row per shift, breaks included, every shift in full.

    Args:
        calendar: The cell's shift calendar.
        period: The reporting period.

    Returns:
        :data:`WINDOW_SCHEMA` frame clipped to the period (overlapping shifts overlap here too).
    """
    return intervals_frame(_period_layout(calendar, period).shifts)


def window_seconds(windows: pl.DataFrame) -> float:
    """Total length of a window frame in seconds.

    Args:
        windows: A :data:`WINDOW_SCHEMA` frame.

    Returns:
        The sum of ``end_at - start_at``.
    """
    if windows.is_empty():
        return 0.0
    return float((windows["end_at"] - windows["start_at"]).dt.total_microseconds().sum()) / 1e6


# the simulation's view: seconds on the simulation clock -----------------------------------------------------
@dataclass(frozen=True)
class ShiftCalendar:
    """The calendar on the simulation clock: seconds since local midnight of the first simulated day.

    Attributes:
        t0_epoch_s: UTC epoch seconds of simulation time 0.
        horizon_s: Length of the simulated period.
        timezone: The cell's IANA time zone.
        windows: Sorted, disjoint (start, end) working windows; windows that touch (two shifts handing
            over without a break) are one window, as the cell keeps working.
        shifts: (start, end, name) of every shift, breaks included.
        breaks: (start, end) of every planned break.
        window_starts: The window starts, for bisection.

    >>> spec = CalendarSpec(days=["mon"], shifts=[{"name": "early", "start": "06:00", "end": "14:00"}],
    ...                     breaks=[{"start": "09:30", "duration_min": 30}])
    >>> cal = ShiftCalendar.build(spec, "UTC", date(2026, 10, 5), 1.0)
    >>> [(s / 3600, e / 3600) for s, e in cal.windows]
    [(6.0, 9.5), (10.0, 14.0)]
    >>> cal.planned_s / 3600
    7.5
    >>> cal.wait_s(34020.0, 600.0), cal.wait_s(32400.0, 600.0)
    (1980.0, 0.0)
    """

    t0_epoch_s: float
    horizon_s: float
    timezone: str
    windows: tuple[tuple[float, float], ...]
    shifts: tuple[tuple[float, float, str], ...]
    breaks: tuple[tuple[float, float], ...]
    window_starts: tuple[float, ...] = ()

    @classmethod
    def build(cls, spec: CalendarSpec, timezone: str, start: date, horizon_days: float) -> ShiftCalendar:
        """Lay the calendar out on ``horizon_days`` days (of 86,400 s) from local midnight of ``start``.

        Args:
            spec: The cell's (or scenario's) shift calendar.
            timezone: IANA zone the wall-clock times are in.
            start: The first local day.
            horizon_days: Length of the period in days (may be fractional).

        Returns:
            The calendar on the simulation clock.
        """
        t0_at = datetime.combine(start, time(0), tzinfo=_zone(timezone)).astimezone(UTC)
        t0, horizon_s = t0_at.timestamp(), horizon_days * 86400.0
        layout = lay_out(spec, timezone, t0_at, t0_at + timedelta(seconds=horizon_s))  # UTC: 86,400 s a day

        def rel(a: float, b: float) -> tuple[float, float]:
            return max(a - t0, 0.0), min(b - t0, horizon_s)

        windows = tuple(_union([rel(w.start_s, w.end_s) for w in layout.windows]))
        return cls(
            t0,
            horizon_s,
            timezone,
            windows,
            tuple((*rel(s.start_s, s.end_s), s.shift) for s in layout.shifts),
            tuple(rel(b.start_s, b.end_s) for b in layout.breaks),
            tuple(a for a, _ in windows),
        )

    @property
    def planned_s(self) -> float:
        """Planned busy time: the length of every working window."""
        return sum(b - a for a, b in self.windows)

    @property
    def shift_s(self) -> float:
        """Paid shift time (breaks included, every shift in full)."""
        return sum(b - a for a, b, _ in self.shifts)

    def wait_s(self, now: float, expected_s: float) -> float:
        """Seconds to wait before a cycle of ``expected_s`` may start at ``now``.

        A cycle starts when a window is open and at least half of it fits before the window closes (the
        rest runs over, as a real cell finishes the unit in hand); otherwise it waits for the next window.

        Args:
            now: Simulation time.
            expected_s: Expected length of the cycle.

        Returns:
            The wait in seconds, ``inf`` when no window is left.
        """
        index = bisect_right(self.window_starts, now) - 1
        if index >= 0:
            _, end = self.windows[index]
            if now + 0.5 * expected_s <= end:
                return 0.0
        if index + 1 < len(self.windows):
            return self.windows[index + 1][0] - now
        return math.inf

    def window_index(self, now: float) -> int:
        """Index of the last window that started at or before ``now`` (-1 before the first)."""
        return bisect_right(self.window_starts, now) - 1

    def in_shift_mask(self, bin_s: float, n_bins: int) -> list[bool]:
        """Whether the middle of each ``bin_s`` bin lies inside a shift (breaks included).

        Args:
            bin_s: Bin length in seconds.
            n_bins: Number of bins from time 0.

        Returns:
            One flag per bin.
        """
        mask = [False] * n_bins
        for a, b, _ in self.shifts:
            first = max(0, int(math.ceil(a / bin_s - 0.5)))
            last = min(n_bins - 1, int(math.ceil(b / bin_s - 0.5)) - 1)
            for i in range(first, last + 1):
                mask[i] = True
        return mask
