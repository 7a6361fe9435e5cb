"""``generate``, ``ingest`` and ``quarantine`` give what ``twin generate|ingest|quarantine --json`` print."""

from __future__ import annotations

import json
from datetime import date

import pytest

from twin.api import generate, ingest, quarantine
from twin.errors import InputError, WarehouseError


def _events(station: str) -> str:
    """Three events of one unit: one good, one without an offset, one of a station the cell lacks."""
    return (
        "ts,station_id,event,unit_id\n"
        f"2026-11-02T06:00:00Z,{station},cycle_start,U1\n"
        f"2026-11-02T06:00:01,{station},cycle_end,U1\n"
        "2026-11-02T06:00:02Z,no-such-station,cycle_end,U1\n"
    )


@pytest.mark.physics
def test_generate_equals_the_command(tmp_path, printed):
    out = tmp_path / "generated"
    generated = generate(None, out, days=1, seed=3, start=date(2026, 10, 5), fmt="csv")
    assert generated.out_dir == out and all(f.parent == out or out in f.parents for f in generated.files)
    assert generated.units > 0 and set(generated.rows) >= {"events", "energy", "joint_states"}
    code, printed_json = printed(
        "generate", "--days", "1", "--seed", "3", "--start", "2026-10-05", "--format", "csv", "--out", str(out)
    )
    assert code == 0 and json.dumps(generated.to_dict()) == printed_json


def test_generate_rejects_values_out_of_range(tmp_path):
    with pytest.raises(InputError, match=r"speed_after 1.5: must be in \(0, 1\]"):
        generate(None, tmp_path, speed_after=1.5)
    with pytest.raises(InputError, match="file not found"):
        generate(None, tmp_path, grid_intensity=tmp_path / "missing.csv")


def test_ingest_and_quarantine_equal_the_commands(sample_cell, tmp_path, printed):
    events = tmp_path / "events-1.csv"
    events.write_text(_events(next(iter(sample_cell.stations))))
    ours, theirs = tmp_path / "api.duckdb", tmp_path / "cli.duckdb"
    seen: list[str] = []
    summary = ingest([events], ours, on_file=lambda result: seen.append(result.status))
    code, printed_json = printed("ingest", str(events), "--warehouse", str(theirs))
    assert code == summary.exit_code == 0 and json.dumps(summary.to_dict()) == printed_json
    assert seen == ["ingested"] and (summary.accepted, summary.quarantined) == (1, 2)

    listing = quarantine(ours, file="events-1.csv")
    assert listing.rows.height == 2 and listing.rows["line"].to_list() == [3, 4]
    code, printed_json = printed("quarantine", "--warehouse", str(theirs), "--file", "events-1.csv")
    expected = json.loads(printed_json)
    got = listing.to_dict()
    # the two warehouses differ only in their ingest run and load time
    for row in (*expected["quarantined"], *got["quarantined"]):
        del row["run_id"], row["loaded_at"]
    assert code == 0 and got == expected


def test_quarantine_without_a_warehouse_says_so(tmp_path):
    with pytest.raises(WarehouseError, match="no warehouse yet"):
        quarantine(tmp_path / "none.duckdb")
