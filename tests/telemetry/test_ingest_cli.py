"""``twin ingest`` and ``twin quarantine`` on the command line: text, JSON, filters and errors."""

from __future__ import annotations

import json

import pytest

from twin.cli import main

EVENTS = (
    "ts,station_id,event,unit_id\n"
    "2026-11-02T06:00:00Z,printers,cycle_start,U1\n"
    "2026-11-02T06:00:01,printers,cycle_end,U1\n"
    "2026-11-02T06:00:02Z,welder,cycle_end,U1\n"
)


def test_text_summary_and_quarantine_listing(tmp_path, capsys):
    warehouse = str(tmp_path / "twin.duckdb")
    (tmp_path / "a").mkdir()
    good = tmp_path / "a" / "events-1.csv"
    good.write_text(EVENTS)
    other = tmp_path / "a" / "unnamed.csv"  # stream forced below
    other.write_text("ts,meter_id,energy_kwh\n2026-11-02T06:00:00Z,R1,abc\n")
    assert main(["ingest", str(good), "--warehouse", warehouse]) == 0
    out = capsys.readouterr().out
    assert "ingested   " in out and "(events): 3 rows, 1 accepted, 2 quarantined" in out
    assert out.strip().endswith("see `twin quarantine`")
    assert main(["ingest", str(other), "--stream", "energy", "--warehouse", warehouse, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"][0]["stream"] == "energy"

    assert main(["quarantine", "--warehouse", warehouse]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("events-1.csv:3 [ts]: naive timestamp '2026-11-02T06:00:01' (an offset such as "
                           "+01:00 or Z is required)")  # fmt: skip
    assert out[-1] == "3 quarantined"
    assert main(["quarantine", "--warehouse", warehouse, "--json", "--file", "events-1.csv"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["count"] == 2
    first = listed["quarantined"][0]
    assert set(first) == {"file", "line", "column", "reason", "stream", "record", "run_id", "loaded_at"}
    assert (first["line"], first["column"], first["stream"]) == (3, "ts", "events")
    assert json.loads(first["record"]) == {
        "ts": "2026-11-02T06:00:01",
        "station_id": "printers",
        "event": "cycle_end",
        "unit_id": "U1",
    }
    assert main(["quarantine", "--warehouse", warehouse, "--json", "--file", str(other)]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 1


def test_missing_paths_and_empty_folders(tmp_path, capsys):
    warehouse = str(tmp_path / "twin.duckdb")
    assert main(["ingest", str(tmp_path / "nope.csv"), "--warehouse", warehouse, "--json"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["files"][0]["error"] == "file not found"
    assert captured.err.strip() == f"twin ingest: rejected {tmp_path / 'nope.csv'}: file not found"
    (tmp_path / "empty").mkdir()
    assert main(["ingest", str(tmp_path / "empty"), "--warehouse", warehouse]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("twin ingest: error: ") and "no telemetry files" in err and "\n" not in err


def test_quarantine_without_a_warehouse_is_one_clear_error(tmp_path, capsys):
    assert main(["quarantine", "--warehouse", str(tmp_path / "none.duckdb")]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == f"twin quarantine: error: {tmp_path / 'none.duckdb'}: no warehouse yet; "
        "run `twin ingest` or `twin demo` first"
    )


@pytest.mark.parametrize("command", ["ingest", "quarantine"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--warehouse" in out and "--json" in out and "--debug" in out


def test_docs_cover_every_stream_and_column():
    from pathlib import Path

    from twin.telemetry.schema import STREAMS

    text = (Path(__file__).resolve().parents[2] / "docs" / "telemetry.md").read_text()
    for name, stream in STREAMS.items():
        assert f"### `{name}`" in text
        for column in stream.columns:
            assert f"`{column.name}`" in text, (name, column.name)
