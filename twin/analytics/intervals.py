"""Small interval algebra on UTC time spans: union and overlap with windows.

Intervals are half-open ``[start, end)``; times are aware datetimes or epoch microseconds.

>>> union([(0, 10), (5, 20), (30, 40)])
[(0, 20), (30, 40)]
>>> overlap_by_window([(5, 25)], [(0, 10), (20, 30)])
[5, 5]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

Span = tuple[int, int]


def union(spans: Iterable[Span]) -> list[Span]:
    """Merge overlapping or touching spans.

    Args:
        spans: ``(start, end)`` pairs; empty or reversed spans are dropped.

    Returns:
        Disjoint spans sorted by start.
    """
    merged: list[list[int]] = []
    for s, e in sorted((s, e) for s, e in spans if e > s):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def overlap_by_window(spans: Sequence[Span], windows: Sequence[Span]) -> list[int]:
    """Length of the union of ``spans`` inside each window.

    Args:
        spans: Any spans (they are merged first, so overlaps are not counted twice).
        windows: Disjoint windows sorted by start.

    Returns:
        One overlap length per window, in the windows' order and units.
    """
    merged = union(spans)
    out = []
    j = 0
    for w0, w1 in windows:
        while j < len(merged) and merged[j][1] <= w0:
            j += 1
        total = 0
        k = j
        while k < len(merged) and merged[k][0] < w1:
            total += max(0, min(w1, merged[k][1]) - max(w0, merged[k][0]))
            k += 1
        out.append(total)
    return out


def to_us(frame: pl.DataFrame, column: str) -> list[int]:
    """A datetime column as epoch microseconds (UTC)."""
    return frame[column].dt.epoch("us").to_list()


def spans_of(frame: pl.DataFrame, start: str = "start_at", end: str = "end_at") -> list[Span]:
    """The ``(start, end)`` epoch-microsecond spans of a frame's two datetime columns."""
    return list(zip(to_us(frame, start), to_us(frame, end), strict=True))
