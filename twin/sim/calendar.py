"""The shift calendar laid out on the simulation clock (seconds after local midnight of the first day).

Shifts and breaks are local wall-clock times in the cell's time zone. Each shift belongs to the local day
it starts on (a 22:00-06:00 night shift on Friday ends on Saturday morning), so a DST change shortens or
lengthens the shift that spans it. A break counts when it starts inside its shift; a break after midnight
(``02:00`` in a 22:00-06:00 shift) belongs to the shift that started the evening before.

>>> from twin.cell.spec import CalendarSpec
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

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from twin.cell.spec import WEEKDAYS, CalendarSpec


def _hhmm(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class ShiftCalendar:
    """Working windows (shifts minus breaks) and shifts on the simulation clock.

    Attributes:
        t0_epoch_s: UTC epoch seconds of simulation time 0 (local midnight of the first day).
        horizon_s: Length of the simulated period.
        timezone: The cell's IANA time zone.
        windows: Sorted, disjoint (start, end) working windows, clipped to the horizon.
        shifts: (start, end, name) of every shift, breaks included, clipped to the horizon.
        breaks: (start, end) of every planned break inside a shift.
        window_starts: The window starts, for bisection.
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
        """Lay the calendar out on ``horizon_days`` days from local midnight of ``start``.

        Args:
            spec: The cell's (or scenario's) shift calendar.
            timezone: IANA zone the wall-clock times are in.
            start: The first local day.
            horizon_days: Length of the period in days (may be fractional).

        Returns:
            The calendar on the simulation clock.
        """
        zone = ZoneInfo(timezone)
        t0 = datetime.combine(start, time(0), tzinfo=zone).timestamp()
        horizon_s = horizon_days * 86400.0
        windows: list[tuple[float, float]] = []
        shifts: list[tuple[float, float, str]] = []
        breaks: list[tuple[float, float]] = []

        def at(day: date, minutes: float) -> float:
            local = datetime.combine(day, time(0)) + timedelta(minutes=minutes)
            return local.replace(tzinfo=zone).timestamp() - t0

        for offset in range(-1, int(math.ceil(horizon_days)) + 1):
            day = start + timedelta(days=offset)
            if WEEKDAYS[day.weekday()] not in spec.days:
                continue
            for shift in spec.shifts:
                s_min, e_min = _hhmm(shift.start), _hhmm(shift.end)
                if e_min <= s_min:
                    e_min += 1440
                s_at, e_at = at(day, s_min), at(day, e_min)
                cuts = []
                for brk in spec.breaks:
                    b0 = _hhmm(brk.start)
                    if b0 < s_min:
                        b0 += 1440
                    if s_min <= b0 < e_min:
                        cuts.append((at(day, b0), min(at(day, b0 + brk.duration_min), e_at)))
                cuts.sort()
                cursor = s_at
                pieces = []
                for b0, b1 in cuts:
                    if b0 > cursor:
                        pieces.append((cursor, b0))
                    cursor = max(cursor, b1)
                if e_at > cursor:
                    pieces.append((cursor, e_at))
                if e_at > 0.0 and s_at < horizon_s:
                    shifts.append((max(s_at, 0.0), min(e_at, horizon_s), shift.name))
                windows += [(max(a, 0.0), min(b, horizon_s)) for a, b in pieces if b > 0.0 and a < horizon_s]
                breaks += [(b0, b1) for b0, b1 in cuts if b1 > 0.0 and b0 < horizon_s]
        windows.sort()
        merged: list[tuple[float, float]] = []
        for a, b in windows:  # overlapping shifts (a calendar mistake) must not count twice
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return cls(
            t0,
            horizon_s,
            timezone,
            tuple(merged),
            tuple(sorted(shifts)),
            tuple(sorted(breaks)),
            tuple(a for a, _ in merged),
        )

    @property
    def planned_s(self) -> float:
        """Planned busy time: the length of every working window."""
        return sum(b - a for a, b in self.windows)

    @property
    def shift_s(self) -> float:
        """Paid shift time (breaks included)."""
        return sum(b - a for a, b, _ in self.shifts)

    def wait_s(self, now: float, expected_s: float) -> float:
        """Seconds to wait before a cycle of ``expected_s`` may start at ``now``.

        A cycle starts when a window is open and at least half of it fits before the window closes (the
        rest runs over, as a real cell finishes the unit in hand); otherwise it waits for the next window.
        Returns ``inf`` when no window is left.
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
        """Whether the middle of each ``bin_s`` bin lies inside a shift (breaks included)."""
        mask = [False] * n_bins
        for a, b, _ in self.shifts:
            first = max(0, int(math.ceil(a / bin_s - 0.5)))
            last = min(n_bins - 1, int(math.ceil(b / bin_s - 0.5)) - 1)
            for i in range(first, last + 1):
                mask[i] = True
        return mask
