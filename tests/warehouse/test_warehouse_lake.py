"""Hive-partitioned Parquet: export by cell and day, query in place, ingest a partition folder back."""

from __future__ import annotations

import duckdb

from twin.cli import main
from twin.warehouse.connection import read_connection
from twin.warehouse.lake import attach_partitioned, export_partitioned, partitioned_scan
from twin.warehouse.load import ingest_paths

EVENTS = (
    "ts,station_id,event,unit_id,operator\n"
    "2026-11-01T23:30:00+01:00,assembly_fixture,cycle_start,U1,Ana\n"  # 22:30Z on the 1st
    "2026-11-02T00:30:00+01:00,assembly_fixture,cycle_end,U1,Ana\n"  # 23:30Z on the 1st
    "2026-11-02T06:00:00Z,assembly_fixture,cycle_start,U2,Ben\n"
    "2026-11-03T06:00:00Z,assembly_fixture,cycle_start,U3,Ben\n"
)


def test_export_partitioned_and_query_in_place(tmp_path, capsys):
    source = tmp_path / "events-week.csv"
    source.write_text(EVENTS)
    warehouse = tmp_path / "twin.duckdb"
    lake = tmp_path / "lake"
    code = main(["ingest", str(source), "--warehouse", str(warehouse), "--export-parquet", str(lake), "--json"])
    assert code == 0
    capsys.readouterr()
    days = sorted(p.name for p in (lake / "events" / "cell=microfactory").iterdir())
    assert days == ["day=2026-11-01", "day=2026-11-02", "day=2026-11-03"]  # UTC days
    con = duckdb.connect(":memory:")
    con.execute("set TimeZone = 'UTC'")
    scan = partitioned_scan(lake, "events")
    assert con.execute(f"select count(*) from {scan}").fetchall()[0][0] == 4
    got = con.execute(f"select unit_id, operator, cell, day from {scan} where day = '2026-11-02'").fetchall()
    assert [(u, o, c, str(d)) for u, o, c, d in got] == [("U2", "Ben", "microfactory", "2026-11-02")]
    explained = con.execute(f"explain analyze select count(*) from {scan} where day = '2026-11-03'").fetchall()
    plan = "\n".join(row[1] for row in explained)
    assert "Scanning Files: 1/3" in plan  # the day filter prunes partitions: one file of three is read
    assert attach_partitioned(con, lake) == ["lake_events"]
    assert con.execute("select count(distinct unit_id) from lake_events").fetchall()[0][0] == 3


def test_export_from_the_snapshot_and_ingest_the_lake_back(tmp_path):
    source = tmp_path / "events-week.csv"
    source.write_text(EVENTS)
    warehouse = tmp_path / "twin.duckdb"
    ingest_paths([source], warehouse)
    written = export_partitioned(warehouse, tmp_path / "lake")
    assert written == {"events": 4}
    other = tmp_path / "other.duckdb"
    report = ingest_paths([tmp_path / "lake" / "events"], other)  # stream from the folder name
    assert {f.stream for f in report.files} == {"events"} and report.accepted == 4 and report.quarantined == 0
    with read_connection(other) as con:
        assert con.execute("select count(*) from raw_events where operator is not null").fetchall()[0][0] == 4
    again = ingest_paths([source], other)  # the same rows from the original file: key duplicates
    assert again.files[0].quarantined == 4 and again.files[0].accepted == 0
