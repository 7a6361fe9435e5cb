"""OEE (ISO 22400-2) against published worked examples, the calendar's planned time, and `twin oee`.

Worked examples: Vorne Industries, "Calculating OEE" worksheet (oee.com / vorne.com, (c) 2002-2005),
both filled-in shifts:

1. shift 480 min, short breaks 2 x 15 min, meal 30 min, down time 47 min, ideal run rate 60 ppm (ideal
   cycle 1 s), total 19,271, reject 423 -> planned 420 min, operating 373 min, good 18,848;
   availability 88.81 %, performance 86.11 %, quality 97.80 %, OEE 74.79 % (the worksheet multiplies
   the rounded factors; 74.80 % unrounded, as oee.com states it).
2. shift 480 min, breaks 15 + 30 min, down time 30 min, ideal run rate 2 ppm (30 s), total 700,
   reject 25 -> availability 93.10 %, performance 86.42 %, quality 96.43 %, OEE 77.59 %.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from twin.analytics.kpis import completions, oee, oee_figures, unit_table
from twin.analytics.period import parse_period
from twin.cell.calendar import planned_windows, window_seconds
from twin.cell.spec import CalendarSpec
from twin.errors import InputError

BERLIN = ZoneInfo("Europe/Berlin")
UTC_US = pl.Datetime("us", "UTC")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).astimezone(UTC)


def one_shift(breaks: list[tuple[str, float]]) -> CalendarSpec:
    return CalendarSpec(
        days=["mon"],
        shifts=[{"name": "day", "start": "06:00", "end": "14:00"}],
        breaks=[{"start": s, "duration_min": d} for s, d in breaks],
    )


MONDAY = parse_period("2026-10-05", "2026-10-06", "Europe/Berlin")


def downtime(rows: list[tuple[str, str, str]], kind: str = "fault") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "station_id": [r[0] for r in rows],
            "kind": [kind] * len(rows),
            "code": [None] * len(rows),
            "start_at": [local(r[1]) for r in rows],
            "end_at": [local(r[2]) for r in rows],
        },
        schema={"station_id": pl.String, "kind": pl.String, "code": pl.String, "start_at": UTC_US, "end_at": UTC_US},
    )


def spread_completions(windows: pl.DataFrame, total: int, rejects: int, variant: str = "V") -> pl.DataFrame:
    """``total`` completions spread evenly over the planned windows, the first ``rejects`` failing first pass."""
    spans = [(a, b) for a, b in windows.select("start_at", "end_at").iter_rows()]
    seconds = sum((b - a).total_seconds() for a, b in spans)
    times = []
    for i in range(total):
        t = (i + 0.5) * seconds / total
        for a, b in spans:
            length = (b - a).total_seconds()
            if t < length:
                times.append(a + timedelta(seconds=t))
                break
            t -= length
    return pl.DataFrame(
        {
            "unit_id": [f"U{i:06d}" for i in range(total)],
            "variant": [variant] * total,
            "end_at": times,
            "is_first_pass_good": [i >= rejects for i in range(total)],
        },
        schema={"unit_id": pl.String, "variant": pl.String, "end_at": UTC_US, "is_first_pass_good": pl.Boolean},
    )


def test_vorne_worked_example_one():
    cal = one_shift([("09:00", 15), ("11:30", 30), ("13:00", 15)])  # 2 x 15 min short breaks, 30 min meal
    windows = planned_windows(cal, MONDAY)
    assert window_seconds(windows) == 420 * 60
    down = downtime([("R2", "2026-10-05T07:00", "2026-10-05T07:47")])
    done = spread_completions(windows, 19_271, 423)
    r = oee(windows, down, done, {"V": 1.0}, MONDAY)
    assert r["planned_time_s"] == 420 * 60
    assert r["run_time_s"] == pytest.approx(373 * 60)
    assert (r["total_count"], r["good_count"]) == (19_271, 18_848)
    assert round(r["availability"], 4) == 0.8881
    assert round(r["performance"], 4) == 0.8611
    assert round(r["quality"], 4) == 0.9780
    assert abs(r["oee"] - 0.7479) < 0.0002  # 74.79 % (rounded factors) / 74.80 % (unrounded)
    assert len(r["by_day"]) == 1 and r["by_day"][0]["date"] == "2026-10-05"
    assert r["by_day"][0]["oee"] == pytest.approx(r["oee"])


def test_vorne_worked_example_two():
    cal = one_shift([("09:00", 15), ("11:30", 30)])
    windows = planned_windows(cal, MONDAY)
    down = downtime([("R1", "2026-10-05T12:10", "2026-10-05T12:40")])
    done = spread_completions(windows, 700, 25)
    r = oee(windows, down, done, {"V": 30.0}, MONDAY)
    assert r["planned_time_s"] == 435 * 60 and r["run_time_s"] == pytest.approx(405 * 60)
    assert round(r["availability"], 4) == 0.9310
    assert round(r["performance"], 4) == 0.8642
    assert round(r["quality"], 4) == 0.9643
    assert round(r["oee"], 4) == 0.7759


def test_oee_figures_undefined_without_denominator():
    r = oee_figures(planned_s=0.0, run_s=0.0, ideal_time_s=0.0, total=0, good=0)
    assert r == {"availability": None, "performance": None, "quality": None, "oee": None}


def test_down_time_counts_once_and_only_inside_planned_time():
    cal = one_shift([("09:00", 15)])
    windows = planned_windows(cal, MONDAY)
    down = pl.concat(
        [
            downtime([("R2", "2026-10-05T07:00", "2026-10-05T07:47")]),
            downtime([("R1", "2026-10-05T07:30", "2026-10-05T07:50")]),  # overlaps R2's: the cell stops once
            downtime([("R1", "2026-10-05T08:50", "2026-10-05T09:20")]),  # spans the break: 15 min count
            downtime([("R2", "2026-10-05T05:40", "2026-10-05T06:05")], kind="setup"),  # 5 min inside the shift
            downtime([("R2", "2026-10-05T14:30", "2026-10-05T15:00")]),  # after the shift: not planned time
        ]
    )
    none = spread_completions(windows, 0, 0)
    cell = oee(windows, down, none, {}, MONDAY)
    assert cell["down_time_s"] == pytest.approx((50 + 15 + 5) * 60)
    r1 = oee(windows, down, none, {}, MONDAY, stations=["R1"])
    assert r1["down_time_s"] == pytest.approx((20 + 15) * 60)


def test_open_fault_runs_to_the_end_of_the_period_and_an_unmatched_end_is_reported_not_counted():
    windows = planned_windows(one_shift([]), MONDAY)
    down = downtime([("R2", "2026-10-05T13:00", "2026-10-05T13:00")]).with_columns(pl.lit(None, UTC_US).alias("end_at"))
    unmatched = downtime([("R1", "2026-10-05T08:00", "2026-10-05T09:00")]).with_columns(
        pl.lit(None, UTC_US).alias("start_at")
    )
    r = oee(windows, pl.concat([down, unmatched]), spread_completions(windows, 0, 0), {}, MONDAY)
    assert r["down_time_s"] == pytest.approx(3600)  # 13:00 to the shift's end at 14:00; R1's lone end adds nothing
    assert (r["stops_open"], r["stop_ends_unmatched"]) == (1, 1)


def test_unknown_variant_is_a_clear_error():
    windows = planned_windows(one_shift([]), MONDAY)
    done = spread_completions(windows, 3, 0, variant="B9-XYZ")
    with pytest.raises(InputError, match="B9-XYZ.*known: B4-PLA"):
        oee(windows, downtime([]), done, {"B4-PLA": 25.0}, MONDAY)


def test_units_and_completions_count_the_output_station(units_frame):
    units = units_frame(
        [("good", "good", False), ("failed", "reworked", True), ("not_inspected", "escaped", False),
         ("failed", "scrapped", False)],
        unit_id=["A", "B", "C", "D"], variant=["V"] * 4, first_start_at=[local("2026-10-05T06:00")] * 4,
        last_end_at=[local("2026-10-05T07:00")] * 4,
        completed_at=[local("2026-10-05T07:00"), local("2026-10-05T08:00"), None, local("2026-10-06T07:00")],
        station_end_at=[local("2026-10-05T06:30")] * 4, run_s=[60.0, 60.0, 30.0, None],
    )  # fmt: skip
    table = unit_table(units, MONDAY)
    assert table["in_period"].to_list() == [True, True, False, False]
    assert table["run_s"].to_list() == [60.0, 60.0, 30.0, 0.0]
    assert completions(table)["unit_id"].to_list() == ["A", "B", "D"]
    assert completions(table, "R2")["end_at"].to_list() == [local("2026-10-05T06:30")] * 4


def test_period_of_a_dst_day_is_23_or_25_hours():
    assert parse_period("2026-10-25", "2026-10-26", "Europe/Berlin").hours == 25.0
    assert parse_period("2026-03-29", "2026-03-30", "Europe/Berlin").hours == 23.0


def test_day_assignment_follows_the_shift_of_an_overnight_completion():
    cal = CalendarSpec(days=["mon"], shifts=[{"name": "night", "start": "22:00", "end": "06:00"}])
    period = parse_period("2026-10-05", "2026-10-07", "Europe/Berlin")
    windows = planned_windows(cal, period)
    done = pl.DataFrame(
        {"unit_id": ["A"], "variant": ["V"], "end_at": [local("2026-10-06T02:00")], "is_first_pass_good": [True]},
        schema={"unit_id": pl.String, "variant": pl.String, "end_at": UTC_US, "is_first_pass_good": pl.Boolean},
    )
    r = oee(windows, downtime([]), done, {"V": 60.0}, period)
    assert [(d["date"], d["total_count"]) for d in r["by_day"]] == [("2026-10-05", 1)]


# ---------------------------------------------------------------------------------------------- period


def test_period_dates_are_local_midnight_and_datetimes_need_an_offset():
    p = parse_period("2026-10-05", "2026-10-05T12:00:00Z", "Europe/Berlin")
    assert p.start == datetime(2026, 10, 4, 22, tzinfo=UTC) and p.end == datetime(2026, 10, 5, 12, tzinfo=UTC)
    with pytest.raises(InputError, match="must carry an offset"):
        parse_period("2026-10-05T06:00:00", None, "Europe/Berlin", default_end=p.end)
    with pytest.raises(InputError, match="not before"):
        parse_period("2026-10-06", "2026-10-05", "Europe/Berlin")


@pytest.mark.parametrize(
    "value", ["2026-01-01'; drop table x; --", "2026-13-01", "yesterday", "2026-01-01 00:00:00 UTC", ""]
)
def test_malformed_period_values_are_input_errors(value):
    with pytest.raises(InputError, match="--from"):
        parse_period(value, "2027-01-01", "Europe/Berlin")


# ------------------------------------------------------------------------------------------- twin oee


@pytest.fixture
def tiny_warehouse(tmp_path, sample_cell):
    """Two units through every station on Monday 2026-10-05, one fault, and a table x to attack."""
    import duckdb
    from synthetic_warehouse import build, write_raw

    path = tmp_path / "twin.duckdb"
    con = duckdb.connect(str(path))
    rows = []
    for i, (variant, t0) in enumerate((("B4-PLA", "2026-10-05T06:10"), ("B6-RPLA", "2026-10-05T06:20"))):
        start = local(t0)
        for station, offset, length in (
            ("printers", -600, 480),
            ("R1", 0, 12),
            ("R2", 12, 30),
            ("outfeed_belt", 42, 4),
        ):
            a = start + timedelta(seconds=offset)
            rows.append((a, station, "cycle_start", f"U{i}", variant))
            rows.append((a + timedelta(seconds=length), station, "cycle_end", f"U{i}", variant))
    rows += [
        (local("2026-10-05T07:00"), "R2", "fault_start", None, None),
        (local("2026-10-05T07:10"), "R2", "fault_end", None, None),
    ]
    events = pl.DataFrame(rows, schema={"ts": UTC_US, "station_id": pl.String, "event": pl.String,
                                        "unit_id": pl.String, "variant": pl.String}, orient="row")  # fmt: skip
    write_raw(con, "events", events)
    write_raw(con, "quality", pl.DataFrame(schema={"ts": UTC_US, "unit_id": pl.String, "station_id": pl.String,
              "characteristic": pl.String, "value": pl.Float64, "lsl": pl.Float64, "usl": pl.Float64}))  # fmt: skip
    write_raw(con, "energy", pl.DataFrame(schema={"ts": UTC_US, "meter_id": pl.String, "energy_kwh": pl.Float64}))
    write_raw(
        con, "grid_intensity", pl.DataFrame(schema={"ts": UTC_US, "region": pl.String, "gco2e_per_kwh": pl.Float64})
    )
    write_raw(con, "joint_states", pl.DataFrame(schema={"ts": UTC_US, "robot_id": pl.String, "q_1": pl.Float64}))
    build(con)
    con.execute("create table x as select 42 as answer").fetchall()
    con.close()
    return path


def test_twin_oee_json_and_injection_attempt(tiny_warehouse, monkeypatch, capsys):
    from twin.analytics import ideal
    from twin.cli import main

    monkeypatch.setattr(
        ideal, "ideal_cycle_times", lambda cell, station=None, **_: {"B4-PLA": 30.0, "B6-RPLA": 40.0, "B8-ALU": 50.0}
    )
    code = main(["oee", "--warehouse", str(tiny_warehouse), "--from", "2026-10-05", "--to", "2026-10-06", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    for key in ("planned_time_s", "run_time_s", "total_count", "good_count", "availability", "performance",
                "quality", "oee", "by_day"):  # fmt: skip
        assert key in out
    assert out["total_count"] == 2 and out["good_count"] == 0  # no unit was inspected: none is known good
    assert out["quality"] == 0.0
    assert out["planned_time_s"] == 14.5 * 3600  # sample cell: 06:00-22:00 minus 90 min of breaks
    assert out["run_time_s"] == 14.5 * 3600 - 600
    assert out["performance"] == pytest.approx(70.0 / out["run_time_s"])
    assert set(out["by_day"][0]) >= {"date", "availability", "performance", "quality", "oee"}

    code = main(["oee", "--warehouse", str(tiny_warehouse), "--from", "2026-01-01'; drop table x; --", "--json"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and "--from" in captured.err
    import duckdb

    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        assert con.execute("select answer from x").fetchall() == [(42,)]

    code = main(["oee", "--warehouse", str(tiny_warehouse), "--station", "R7"])
    assert code == 2 and "valid: R1, R2" in capsys.readouterr().err
