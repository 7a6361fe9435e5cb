"""Re-ingesting changes nothing: by content hash (status duplicate) and by natural key (quarantined)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from twin.cli import main
from twin.warehouse.connection import read_connection
from twin.warehouse.load import ingest_paths
from twin.warehouse.snapshot import snapshot_path

TABLES = ("raw_joint_states", "raw_events", "raw_quality", "raw_energy", "raw_grid_intensity", "quarantine",
          "ingest_files", "mart_energy_hourly", "mart_cycles")  # fmt: skip
EVENTS = (
    "ts,station_id,event,unit_id,variant\n"
    "2026-11-02T06:00:00+01:00,assembly_fixture,cycle_start,U1,B4-PLA\n"
    "2026-11-02T06:00:40+01:00,assembly_fixture,cycle_end,U1,B4-PLA\n"
    "2026-11-02T06:01:00+01:00,assembly_fixture,cycle_start,U2,B4-PLA\n"
    "2026-11-02T06:01:00+01:00,assembly_fixture,cycle_start,U2,B4-PLA\n"
    "2026-11-02T06:01:30+01:00,nowhere,cycle_end,U2,B4-PLA\n"
)


def counts(warehouse: Path) -> dict[str, int]:
    with read_connection(warehouse) as con:
        return {t: con.execute(f"select count(*) from {t}").fetchall()[0][0] for t in TABLES}


def test_same_content_twice_is_a_duplicate_and_changes_nothing(tmp_path, capsys):
    src = tmp_path / "events-day1.csv"
    src.write_text(EVENTS)
    warehouse = tmp_path / "twin.duckdb"
    first = ingest_paths([src], warehouse)
    assert [(f.status, f.rows, f.accepted, f.quarantined) for f in first.files] == [("ingested", 5, 3, 2)]
    before = counts(warehouse)
    stamp = snapshot_path(warehouse).stat().st_mtime_ns
    copy = tmp_path / "elsewhere" / "renamed.csv"  # same bytes under another name: still the same content
    copy.parent.mkdir()
    shutil.copy(src, copy)
    code = main(["ingest", str(src), str(copy), "--warehouse", str(warehouse), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [(f["status"], f["rows"], f["accepted"], f["quarantined"]) for f in report["files"]] == [
        ("duplicate", 5, 0, 0),
        ("duplicate", 5, 0, 0),
    ]
    assert (report["accepted"], report["quarantined"]) == (0, 0)
    assert counts(warehouse) == before
    assert snapshot_path(warehouse).stat().st_mtime_ns == stamp  # nothing changed: nothing republished


def test_overlapping_content_is_quarantined_as_key_duplicates(tmp_path):
    warehouse = tmp_path / "twin.duckdb"
    day = tmp_path / "events-a.csv"
    day.write_text(EVENTS)
    ingest_paths([day], warehouse)
    more = tmp_path / "events-b.csv"  # two rows already loaded, one new, one new source
    more.write_text(
        "ts,station_id,event,unit_id,variant,source\n"
        "2026-11-02T06:00:00+01:00,assembly_fixture,cycle_start,U1,B4-PLA,\n"
        "2026-11-02T05:00:40Z,assembly_fixture,cycle_end,U1,B4-PLA,measured\n"
        "2026-11-02T06:02:00+01:00,assembly_fixture,cycle_start,U3,B4-PLA,\n"
        "2026-11-02T06:00:00+01:00,assembly_fixture,cycle_start,U1,B4-PLA,simulated:baseline\n"
    )
    report = ingest_paths([more], warehouse)
    (result,) = report.files
    assert (result.rows, result.accepted, result.quarantined) == (4, 2, 2)
    with read_connection(warehouse) as con:
        reasons = con.execute(
            "select line, reason from quarantine where file like '%events-b.csv' order by line"
        ).fetchall()
        assert [line for line, _ in reasons] == [2, 3]
        assert all("already in the warehouse (from " in r and "events-a.csv" in r for _, r in reasons)
        assert con.execute("select count(*) from raw_events").fetchall()[0][0] == 5
