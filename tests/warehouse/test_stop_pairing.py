"""The one pairing of stops (``mart_an_downtime``), tested once on hand-built events: closed, overlapping, open,
an end that closed nothing, a start and an end at the same instant; and what OEE makes of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import polars as pl
import pytest
from synthetic_warehouse import build, write_raw

from twin.analytics import store
from twin.analytics.frames import roles
from twin.analytics.kpis import downtime_spans, stop_pairing
from twin.analytics.period import Period

T0 = datetime(2026, 10, 5, 4, tzinfo=UTC)  # Monday 06:00 Berlin
PERIOD = Period(T0 - timedelta(hours=1), T0 + timedelta(hours=4), "Europe/Berlin")
UTC_US = pl.Datetime("us", "UTC")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def con():
    events = [
        (at(-10), "R1", "fault_end", None, "OLD"),  # the data began mid-fault: an end that closes nothing
        (at(60), "R1", "fault_start", None, "BLIP"),  # a start and its end at the same instant: closed, 0 s
        (at(60), "R1", "fault_end", None, None),
        (at(0), "R2", "fault_start", "U1", "E1"),
        (at(5), "R2", "fault_start", None, "E2"),  # a second fault while E1 is open: both end at 06:10
        (at(10), "R2", "fault_end", None, None),
        (at(20), "R2", "fault_end", None, "LATE"),  # nothing open: unmatched
        (at(40), "R2", "fault_start", None, "E3"),  # never ended: open
        (at(0), "R2", "setup_start", None, "MAINT"),  # setups pair apart from faults
        (at(15), "R2", "setup_end", None, None),
    ]
    frame = pl.DataFrame(
        events,
        schema={"ts": UTC_US, "station_id": pl.String, "event": pl.String, "unit_id": pl.String, "code": pl.String},
        orient="row",
    )
    c = duckdb.connect(":memory:")
    c.execute("set TimeZone = 'UTC'")
    write_raw(c, "events", frame)  # the other raw tables stay empty
    build(c)
    yield c
    c.close()


def test_starts_close_at_the_first_end_and_nothing_is_dropped(con):
    got = con.execute(
        "select station_id, kind, code, unit_id, strftime(start_at, '%H:%M'), strftime(end_at, '%H:%M'), "
        "pairing, duration_s from mart_an_downtime order by station_id, kind, coalesce(start_at, end_at), code"
    ).fetchall()
    assert got == [
        ("R1", "fault", "OLD", None, None, "03:50", "unmatched_end", None),
        ("R1", "fault", "BLIP", None, "05:00", "05:00", "closed", 0.0),
        ("R2", "fault", "E1", "U1", "04:00", "04:10", "closed", 600.0),
        ("R2", "fault", "E2", None, "04:05", "04:10", "closed", 300.0),
        ("R2", "fault", "LATE", None, None, "04:20", "unmatched_end", None),
        ("R2", "fault", "E3", None, "04:40", None, "open", None),
        ("R2", "setup", "MAINT", None, "04:00", "04:15", "closed", 900.0),
    ]


def test_oee_counts_open_stops_to_the_period_end_and_reports_the_unmatched_ends(con, sample_cell):
    data = store.load_period(con, PERIOD, roles(sample_cell), store.Rows(sample_cell.cell.id))
    assert data.downtime.height == 7  # unmatched ends are read too
    assert stop_pairing(data.downtime, PERIOD) == {"stops_open": 1, "stop_ends_unmatched": 2}
    spans = sorted(downtime_spans(data.downtime, PERIOD, ["R2"]))
    us = 1_000_000
    start = int(T0.timestamp()) * us
    # E1, E2 and the setup (overlapping, merged later), and E3 running to the period's end (08:00 UTC)
    assert spans == [
        (start, start + 600 * us),
        (start, start + 900 * us),
        (start + 300 * us, start + 600 * us),
        (start + 2400 * us, int(PERIOD.end.timestamp()) * us),
    ]
