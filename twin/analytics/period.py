"""Reporting periods: ``--from`` (inclusive) and ``--to`` (exclusive), counted in the cell's time zone.

A date (``2026-10-05``) means local midnight in the cell's time zone; a date-time must carry an offset
or ``Z`` (``2026-10-05T06:00:00+02:00``). Anything else is an :class:`~twin.errors.InputError`, so a
value like ``2026-01-01'; drop table x; --`` never reaches a query (and every query is parameterized
anyway).

>>> p = parse_period("2026-10-05", "2026-10-06", "Europe/Berlin")
>>> p.start.isoformat(), p.end.isoformat()
('2026-10-04T22:00:00+00:00', '2026-10-05T22:00:00+00:00')
>>> p.hours
24.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from twin.errors import InputError

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$")


@dataclass(frozen=True)
class Period:
    """A half-open UTC interval ``[start, end)`` and the time zone its days are counted in.

    Attributes:
        start: Inclusive start, timezone-aware UTC.
        end: Exclusive end, timezone-aware UTC.
        timezone: IANA zone of the cell (days, weeks, shifts and tariffs are local).
    """

    start: datetime
    end: datetime
    timezone: str

    @property
    def hours(self) -> float:
        """Length of the period in hours."""
        return (self.end - self.start).total_seconds() / 3600.0

    @property
    def zone(self) -> ZoneInfo:
        """The cell's time zone."""
        return ZoneInfo(self.timezone)

    def local_dates(self) -> list[date]:
        """Every local calendar date the period touches, in order."""
        first = self.start.astimezone(self.zone).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(self.zone).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def to_json(self) -> dict[str, str]:
        """``{"from", "to", "timezone"}`` with local ISO-8601 times."""
        return {
            "from": self.start.astimezone(self.zone).isoformat(),
            "to": self.end.astimezone(self.zone).isoformat(),
            "timezone": self.timezone,
        }


def local_midnight(day: date, timezone: str) -> datetime:
    """Midnight of a local date in a time zone, as an aware UTC datetime.

    Args:
        day: The local date.
        timezone: IANA zone name.

    Returns:
        The UTC instant of local midnight (DST-aware).
    """
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def parse_instant(text: str, timezone: str, option: str = "--from") -> datetime:
    """Parse one period bound.

    Args:
        text: ``YYYY-MM-DD`` (local midnight) or an ISO-8601 date-time with an offset or ``Z``.
        timezone: The cell's IANA zone, for dates.
        option: The option name, used in error messages.

    Returns:
        The instant, timezone-aware in UTC.

    Raises:
        InputError: The value is neither form, or a date-time lacks its offset.
    """
    value = text.strip() if isinstance(text, str) else ""
    shown = text if isinstance(text, str) and len(text) <= 60 else f"{str(text)[:57]}..."
    if _DATE_RE.match(value):
        try:
            return local_midnight(date.fromisoformat(value), timezone)
        except ValueError as exc:
            raise InputError(f"{option} {shown!r}: not a calendar date ({exc})") from exc
    if _DATETIME_RE.match(value):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InputError(f"{option} {shown!r}: not a valid date-time ({exc})") from exc
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise InputError(
                f"{option} {shown!r}: a date-time must carry an offset or Z, e.g. {value}+01:00; "
                "a plain date means local midnight"
            )
        return parsed.astimezone(UTC)
    raise InputError(f"{option} {shown!r}: expected a date YYYY-MM-DD or an ISO-8601 date-time with an offset")


def parse_period(
    start: str | None,
    end: str | None,
    timezone: str,
    *,
    default_start: datetime | None = None,
    default_end: datetime | None = None,
) -> Period:
    """Build a :class:`Period` from ``--from`` / ``--to`` values.

    Args:
        start: ``--from`` value or None.
        end: ``--to`` value or None.
        timezone: The cell's IANA zone.
        default_start: Used when ``start`` is None (e.g. local midnight before the first data).
        default_end: Used when ``end`` is None (e.g. local midnight after the last data).

    Returns:
        The period.

    Raises:
        InputError: A bound is malformed or missing without a default, or ``--from`` is not before ``--to``.
    """
    lo = parse_instant(start, timezone, "--from") if start is not None else default_start
    hi = parse_instant(end, timezone, "--to") if end is not None else default_end
    if lo is None or hi is None:
        missing = "--from" if lo is None else "--to"
        raise InputError(f"{missing} is required: the warehouse has no data to default the period to")
    lo, hi = lo.astimezone(UTC), hi.astimezone(UTC)
    if lo >= hi:
        raise InputError(
            f"--from {lo.astimezone(ZoneInfo(timezone)).isoformat()} is not before --to "
            f"{hi.astimezone(ZoneInfo(timezone)).isoformat()} (--from is inclusive, --to exclusive)"
        )
    return Period(lo, hi, timezone)


def data_period(first: datetime | None, last: datetime | None, timezone: str) -> tuple[datetime, datetime] | None:
    """Default bounds around the data: local midnight before ``first`` and after ``last``.

    Args:
        first: Earliest data timestamp (aware).
        last: Latest data timestamp (aware).
        timezone: The cell's IANA zone.

    Returns:
        ``(start, end)`` in UTC, or None without data.
    """
    if first is None or last is None:
        return None
    zone = ZoneInfo(timezone)
    lo = local_midnight(first.astimezone(zone).date(), timezone)
    hi = local_midnight(last.astimezone(zone).date() + timedelta(days=1), timezone)
    return lo, hi
