"""The corpus of bad files and valid oddities (tests/data/bad): status, exit code, reasons, row conservation."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from twin.cli import main
from twin.telemetry.validate import ValidationContext
from twin.warehouse.connection import read_connection
from twin.warehouse.load import Ingestor

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad"

# file -> (status, rows, accepted, [(line, column, reason fragment), ...]) for ingested files
QUARANTINED: dict[str, tuple[int, int, list[tuple[int, str | None, str]]]] = {
    "quarantined/energy-wrong-types.csv": (
        4,
        2,
        [(3, "energy_kwh", "not a number: 'abc'"), (4, "ts", "not a timestamp: '06:30'")],
    ),
    "quarantined/joint_states-nan-inf.csv": (
        5,
        2,
        [(3, "q_1", "not finite: nan"), (4, "q_2", "not finite: inf"), (5, "power_w", "not finite: -inf")],
    ),
    "quarantined/events-duplicates.csv": (
        5,
        3,
        [
            (4, "station_id, ts, event, unit_id", "duplicate of line 2"),
            (5, "station_id, ts, event, unit_id", "duplicate key (station_id, ts, event, unit_id) of line 3"),
        ],
    ),
    "quarantined/quality-naive-timestamps.csv": (
        4,
        1,
        [(3, "ts", "naive timestamp"), (4, "ts", "naive timestamp"), (5, "ts", "naive timestamp '2026-11-02'")],
    ),
    "quarantined/events-unknown-station.csv": (
        3,
        1,
        [(3, "station_id", "unknown station 'welder'; valid: printers"), (4, "event", "unknown event 'teleport'")],
    ),
    "quarantined/energy-register-fall.csv": (
        4,
        3,
        [(4, "energy_kwh", "register fell from 1500.4 to 900.0 kWh: not a reset")],
    ),
    "quarantined/joint_states-huge-values.csv": (
        6,
        1,
        [
            (3, "q_1", "absurd value"),
            (4, "power_w", "above 1e+06 W"),
            (5, "q_1", "outside the URDF limits of R1 joint 1"),
            (6, "q_8", "R2 has 7 movable joints; q_8 must be empty"),
            (7, "ts", "epoch microseconds '1793516400' outside 2000..2099"),
        ],
    ),
    "quarantined/events-bad-lines.jsonl": (
        4,
        2,
        [(2, None, "line is not a JSON object"), (4, None, "line is not a JSON object")],
    ),
    "quarantined/joint_states-wrong-field-count.csv": (
        3,
        2,
        [(3, None, "line has 3 fields, the header has 13")],
    ),
}
ACCEPTED = {
    "accepted/joint_states-out-of-order.csv": 5,
    "accepted/energy-dst-change.csv": 6,
    "accepted/energy-register-reset.csv": 4,
    "accepted/grid_intensity-epoch-us.csv": 3,
    "accepted/joint_states-r1.parquet": 400,
}
# file -> (fragment of the error, column at fault or None)
REJECTED = {
    "rejected/joint_states-truncated.parquet": ("unreadable Parquet file", None),
    "rejected/joint_states-cut-mid-line.csv": ("truncated: the last line (6) has 1 of 13 fields", None),
    "rejected/events-semicolon.csv": ("wrong delimiter", "ts"),
    "rejected/telemetry-semicolon.csv": ("no recognisable stream", None),
    "rejected/quality-missing-value-column.csv": ("missing required column 'value'", "value"),
    "rejected/energy-empty.csv": ("empty file", None),
    "rejected/notes-unknown-stream.csv": ("no recognisable stream", None),
    "rejected/events-readme.txt": ("unsupported file type '.txt'", None),
}


@pytest.fixture(scope="module")
def ctx(sample_cell) -> ValidationContext:
    return ValidationContext.from_cell(sample_cell)


@pytest.fixture
def con():
    connection = duckdb.connect(":memory:")
    connection.execute("set TimeZone = 'UTC'")
    yield connection
    connection.close()


def quarantine_rows(con, path: Path) -> list[tuple]:
    return con.execute(
        "select line, column_name, reason from quarantine where file = ? order by line nulls first",
        [str(path.resolve())],
    ).fetchall()


def test_the_corpus_is_complete():
    on_disk = {p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".py"}
    assert on_disk == set(QUARANTINED) | set(ACCEPTED) | set(REJECTED)


@pytest.mark.parametrize("name", sorted(QUARANTINED))
def test_bad_rows_are_quarantined_with_line_column_and_reason(name, ctx, con):
    rows, accepted, reasons = QUARANTINED[name]
    path = CORPUS / name
    result = Ingestor(con, ctx).ingest(path)
    assert (result.status, result.rows, result.accepted) == ("ingested", rows, accepted)
    assert result.accepted + result.quarantined == result.rows
    got = quarantine_rows(con, path)
    assert len(got) == result.quarantined == rows - accepted
    by_line = {line: (column, reason) for line, column, reason in got}
    for line, column, fragment in reasons:
        assert line in by_line, (line, got)
        assert by_line[line][0] == column
        assert fragment in by_line[line][1], by_line[line][1]
    stream = name.split("/")[1].split("-")[0]
    assert con.execute(f"select count(*) from raw_{stream}").fetchall()[0][0] == accepted


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_valid_oddities_are_accepted(name, ctx, con):
    result = Ingestor(con, ctx).ingest(CORPUS / name)
    assert (result.status, result.rows, result.accepted, result.quarantined) == ("ingested", ACCEPTED[name],
                                                                                 ACCEPTED[name], 0)  # fmt: skip


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_unusable_files_are_rejected_whole(name, ctx, con):
    fragment, column = REJECTED[name]
    path = CORPUS / name
    result = Ingestor(con, ctx).ingest(path)
    assert result.status == "rejected"
    assert (result.accepted, result.quarantined) == (0, 0)
    assert fragment in result.error
    (row,) = quarantine_rows(con, path)  # one whole-file entry, without a line
    assert row[0] is None and row[1] == column and fragment in row[2]
    for table in ("raw_joint_states", "raw_events", "raw_quality", "raw_energy", "ingest_files"):
        assert con.execute(f"select count(*) from {table}").fetchall()[0][0] == 0


def test_dst_offsets_are_distinct_utc_instants(ctx, con):
    Ingestor(con, ctx).ingest(CORPUS / "accepted/energy-dst-change.csv")
    stamps = [r[0].isoformat() for r in con.execute("select ts from raw_energy order by ts").fetchall()]
    assert stamps == [
        "2026-10-24T23:30:00+00:00",
        "2026-10-25T00:00:00+00:00",
        "2026-10-25T00:30:00+00:00",
        "2026-10-25T01:00:00+00:00",
        "2026-10-25T01:30:00+00:00",
        "2026-10-25T02:00:00+00:00",
    ]


def run_cli(args: list[str], capsys) -> tuple[int, dict, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def test_cli_exit_codes_and_stderr_per_category(tmp_path, capsys):
    warehouse = str(tmp_path / "twin.duckdb")
    files = [str(CORPUS / name) for name in sorted(REJECTED)]  # a folder walk skips the .txt file
    code, report, err = run_cli(["ingest", *files, "--warehouse", warehouse, "--json"], capsys)
    assert code == 2
    assert {f["status"] for f in report["files"]} == {"rejected"}
    lines = err.strip().splitlines()
    assert len(lines) == len(REJECTED)
    for name, (fragment, column) in REJECTED.items():
        (line,) = [x for x in lines if f"/{Path(name).name}: " in x]
        assert fragment in line
        if column:
            assert f"'{column}'" in line
    code, report, err = run_cli(["ingest", str(CORPUS / "quarantined"), "--warehouse", warehouse, "--json"], capsys)
    assert code == 0 and err == ""
    assert report["accepted"] + report["quarantined"] == sum(f["rows"] for f in report["files"])
    # files of one stream share timestamps: in one warehouse a later file's repeats are key duplicates
    extra = report["quarantined"] - sum(rows - accepted for rows, accepted, _ in QUARANTINED.values())
    with read_connection(warehouse) as con:
        n_cross = con.execute("select count(*) from quarantine where reason like '%already in the warehouse%'")
        assert extra == n_cross.fetchall()[0][0] > 0
    other = str(tmp_path / "other.duckdb")
    code, report, err = run_cli(["ingest", str(CORPUS / "accepted"), "--warehouse", other, "--json"], capsys)
    assert code == 0 and report["quarantined"] == 0 and report["accepted"] == sum(ACCEPTED.values())
    with read_connection(warehouse) as con:
        n_rejections = con.execute("select count(*) from quarantine where line is null").fetchall()[0][0]
    assert n_rejections == len(REJECTED)


def test_a_folder_walk_takes_only_telemetry_files(tmp_path, capsys):
    args = ["ingest", str(CORPUS / "rejected"), "--warehouse", str(tmp_path / "w.duckdb"), "--json"]
    code, report, err = run_cli(args, capsys)
    assert code == 2
    assert len(report["files"]) == len(REJECTED) - 1
    assert not any(f["path"].endswith(".txt") for f in report["files"])


def test_json_output_has_exactly_the_documented_keys(tmp_path, capsys):
    path = CORPUS / "quarantined/events-duplicates.csv"
    code, report, _ = run_cli(["ingest", str(path), "--warehouse", str(tmp_path / "w.duckdb"), "--json"], capsys)
    assert code == 0
    assert set(report) == {"files", "accepted", "quarantined"}
    (entry,) = report["files"]
    assert entry == {
        "path": str(path),
        "stream": "events",
        "rows": 5,
        "accepted": 3,
        "quarantined": 2,
        "status": "ingested",
        "error": None,
    }
