"""A unit's disposition (``mart_unit_disposition``), tested once on hand-built units, one per case of
``docs/analytics.md``: first pass good / failed / not inspected; final good, reworked, scrapped, escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import polars as pl
import pytest
from synthetic_warehouse import build, write_raw

T0 = datetime(2026, 10, 5, 4, tzinfo=UTC)
UTC_US = pl.Datetime("us", "UTC")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def torque(unit: str, minute: float, value: float) -> tuple:
    return (at(minute), unit, "R2", "screw_1_torque_nm", value, 2.2, 2.8, None)


def gap(unit: str, minute: float, value: float, code: str | None = None) -> tuple:
    return (at(minute), unit, "vision", "gap_mm", value, 0.6, 1.4, code)


# B4-PLA units carry screw_1_torque_nm and gap_mm: those two are what each of them should have had measured.
QUALITY = [
    torque("G", 1, 2.5), gap("G", 2, 1.0),  # both conform: good, good
    torque("R", 1, 2.0), gap("R", 2, 1.0), gap("R", 60, 1.1),  # torque fails; re-inspected, conforms: reworked
    torque("S1", 1, 2.5), gap("S1", 2, 1.0, "SCRATCH"),  # inside the limits but a defect code: failed, never reworked
    torque("S2", 1, 2.5), gap("S2", 2, 1.6), gap("S2", 60, 1.5),  # the re-inspection fails too: scrapped
    torque("P", 1, 2.5),  # gap never measured: not inspected in full
    torque("L", 1, 2.5), gap("L", 2, 1.0), gap("L", 300, 1.7),  # passed, then a defect recorded later
    torque("M", 1, 2.0), torque("M", 60, 2.5),  # failed, re-screwed and good again, but its gap never measured
    gap("Q", 2, 1.0),  # a unit the events never name (no variant): judged among units without a variant
]  # fmt: skip
UNITS = ["G", "R", "S1", "S2", "N", "P", "L", "M"]  # N has cycles and no measurement at all


@pytest.fixture(scope="module")
def con():
    events = []
    for i, unit in enumerate(UNITS):
        events += [
            (at(i), "outfeed_belt", "cycle_start", unit, "B4-PLA"),
            (at(i + 0.1), "outfeed_belt", "cycle_end", unit, "B4-PLA"),
        ]
    c = duckdb.connect(":memory:")
    c.execute("set TimeZone = 'UTC'")
    write_raw(c, "events", pl.DataFrame(events, schema={"ts": UTC_US, "station_id": pl.String, "event": pl.String,
              "unit_id": pl.String, "variant": pl.String}, orient="row"))  # fmt: skip
    write_raw(c, "quality", pl.DataFrame(QUALITY, schema={"ts": UTC_US, "unit_id": pl.String, "station_id": pl.String,
              "characteristic": pl.String, "value": pl.Float64, "lsl": pl.Float64, "usl": pl.Float64,
              "defect_code": pl.String}, orient="row"))  # fmt: skip
    build(c)  # the other raw tables stay empty
    yield c
    c.close()


def test_every_case_of_a_unit_s_disposition(con):
    got = con.execute(
        "select unit_id, first_pass_result, final_result, is_reworked, missing_characteristics "
        "from mart_unit_disposition order by unit_id"
    ).fetchall()
    assert got == [
        ("G", "good", "good", False, []),
        ("L", "good", "escaped", False, []),
        ("M", "failed", "escaped", True, ["gap_mm"]),
        ("N", "not_inspected", "escaped", False, ["gap_mm", "screw_1_torque_nm"]),
        ("P", "not_inspected", "escaped", False, ["gap_mm"]),
        ("Q", "good", "good", False, []),
        ("R", "failed", "reworked", True, []),
        ("S1", "failed", "scrapped", False, []),
        ("S2", "failed", "scrapped", True, []),
    ]


def test_flags_and_times_follow_the_results(con):
    rows = con.execute(
        "select unit_id, is_inspected, is_first_pass_good, is_first_pass_failed, is_final_good, is_scrapped, "
        "is_escaped, n_measurements, n_failed_first, reinspected_at, defects from mart_unit_disposition "
        "where unit_id in ('N', 'R', 'S1') order by unit_id"
    ).fetchall()
    assert rows == [
        ("N", False, False, False, False, False, True, 0, 0, None, None),
        ("R", True, False, True, True, False, False, 3, 1, at(60), "SCREW_1_TORQUE_NM_OUT"),
        ("S1", True, False, True, False, True, False, 2, 1, None, "SCRATCH"),
    ]
    # every unit of mart_an_units has its disposition (the mart's declared foreign key)
    orphans = con.execute("select count(*) from mart_an_units anti join mart_unit_disposition using (source, unit_id)")
    assert orphans.fetchone()[0] == 0
