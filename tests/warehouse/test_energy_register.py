"""The energy-register rule (SPEC.md "Energy registers"), tested once: the ingest quarantines what it calls a
bad fall, ``mart_energy_intervals`` carries every interval's energy, ``mart_energy_hourly`` spreads it over UTC
hours. Every expected number is worked out by hand in the comments."""

from __future__ import annotations

import duckdb
import pytest

from twin.telemetry.validate import ValidationContext
from twin.warehouse.build import build
from twin.warehouse.load import Ingestor

# The printer's register (declared maximum 1000 kWh) across the autumn DST change in Berlin: 02:30 local comes
# twice (+02:00, then +01:00), an hour apart in UTC.
PRINTER = (
    "ts,meter_id,energy_kwh,register_max_kwh\n"
    "2026-10-25T01:30:00+02:00,printers,990.0,1000\n"  # 23:30Z
    "2026-10-25T02:30:00+02:00,printers,996.0,1000\n"  # 00:30Z: +6 over 23:30..00:30
    "2026-10-25T02:30:00+01:00,printers,2.0,1000\n"  # 01:30Z: rollover, 1000 - 996 + 2 = 6 (<= 10 % of 1000)
    "2026-10-25T03:30:00+01:00,printers,1.0,1000\n"  # 02:30Z: falls 2 -> 1, not below 1 % of 2, no wrap: bad
    "2026-10-25T04:30:00+01:00,printers,5.0,1000\n"  # 03:30Z: +3 against the last good reading (2.0), 01:30..03:30
    "2026-10-25T05:30:00+01:00,printers,0.01,1000\n"  # 04:30Z: reset (0.01 < 1 % of 5): the new reading, 0.01
    "2026-10-25T06:30:00+01:00,printers,2.01,1000\n"  # 05:30Z: +2
)
# R1's files come out of time order, so the ingest of the earlier one cannot judge the later one's first reading.
R1_LATER = "ts,meter_id,energy_kwh\n2026-10-26T10:00:00Z,R1,50.0\n2026-10-26T11:00:00Z,R1,62.0\n"
R1_EARLIER = "ts,meter_id,energy_kwh\n2026-10-26T08:00:00Z,R1,60.0\n2026-10-26T09:00:00Z,R1,61.0\n"


@pytest.fixture(scope="module")
def warehouse(sample_cell, tmp_path_factory):
    folder = tmp_path_factory.mktemp("registers")
    con = duckdb.connect(":memory:")
    con.execute("set TimeZone = 'UTC'")
    ingestor = Ingestor(con, ValidationContext.from_cell(sample_cell))
    results = {}
    for name, text in (("energy-printer.csv", PRINTER), ("energy-r1b.csv", R1_LATER), ("energy-r1a.csv", R1_EARLIER)):
        (folder / name).write_text(text)
        results[name] = ingestor.ingest(folder / name)
    build(con)
    yield con, results
    con.close()


def test_a_bad_fall_is_quarantined_at_ingest(warehouse):
    con, results = warehouse
    assert (results["energy-printer.csv"].accepted, results["energy-printer.csv"].quarantined) == (6, 1)
    assert results["energy-r1a.csv"].quarantined == 0  # its readings are fine among themselves
    reasons = con.execute("select line, column_name, reason from quarantine").fetchall()
    why = "register fell from 2.0 to 1.0 kWh: not a reset (a reset falls below 1 % of the previous reading)"
    assert reasons == [(5, "energy_kwh", why)]


def test_every_interval_carries_the_rule_s_energy(warehouse):
    con, _ = warehouse
    intervals = "meter_id, strftime(start_at, '%d %H:%M'), strftime(end_at, '%d %H:%M'), round(energy_kwh, 6)"
    got = con.sql(f"select {intervals}, reading_kind from mart_energy_intervals order by meter_id, end_at")
    assert got.fetchall() == [
        ("R1", "26 08:00", "26 09:00", 1.0, "increase"),
        ("R1", "26 09:00", "26 10:00", 0.0, "bad_fall"),  # 61 -> 50, loaded late: flagged here, no energy
        ("R1", "26 09:00", "26 11:00", 1.0, "increase"),  # 62 against the last good reading, 61 at 09:00
        ("printers", "24 23:30", "25 00:30", 6.0, "increase"),
        ("printers", "25 00:30", "25 01:30", 6.0, "rollover"),  # one hour in UTC, though the local clock repeats
        ("printers", "25 01:30", "25 03:30", 3.0, "increase"),
        ("printers", "25 03:30", "25 04:30", 0.01, "reset"),
        ("printers", "25 04:30", "25 05:30", 2.0, "increase"),
    ]


def test_intervals_are_spread_over_utc_hours_in_proportion_to_time(warehouse):
    con, _ = warehouse
    hours = con.sql("select strftime(hour_at, '%H'), round(energy_kwh, 6), n_resets from mart_energy_hourly "
                    "where meter_id = 'printers' order by hour_at")  # fmt: skip
    assert hours.fetchall() == [
        ("23", 3.0, 0),  # half of 23:30..00:30
        ("00", 6.0, 0),  # the other half, and half of the rollover's hour
        ("01", 3.75, 1),  # the rollover's other half, and a quarter of 01:30..03:30's 3 kWh
        ("02", 1.5, 0),
        ("03", 0.755, 0),  # 0.75 + half of the reset's 0.01
        ("04", 1.005, 1),
        ("05", 1.0, 0),
    ]
    total = con.execute("select sum(energy_kwh) from mart_energy_hourly where meter_id = 'printers'").fetchone()[0]
    assert total == pytest.approx(6 + 6 + 3 + 0.01 + 2)
