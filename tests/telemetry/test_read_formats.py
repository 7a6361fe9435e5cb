"""Reading CSV, JSON Lines and Parquet: physical line numbers, shapes, stream detection, whole-file errors."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from twin.telemetry.read import LINE, ROW_ERROR, FileRejected, detect, discover, open_source, scan_file

HEADER = "ts,station_id,event,unit_id"


@pytest.fixture
def con():
    connection = duckdb.connect(":memory:")
    yield connection
    connection.close()


def rows(con, source) -> list[tuple]:
    return con.execute(f"select {LINE}, {ROW_ERROR}, unit_id from {source.relation} order by {LINE}").fetchall()


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_csv_lines_are_physical_lines_whatever_the_line_break(tmp_path, con, newline):
    text = newline.join([HEADER, "t,printers,cycle_start,U1", "", "t,printers,cycle_end,U1", "t,x", "t,a,b,U3"])
    source = open_source(con, write(tmp_path, "events-a.csv", text + newline))
    assert source.n_rows == 4  # the empty line 3 is not a row
    assert rows(con, source) == [
        (2, None, "U1"),
        (4, None, "U1"),
        (5, "line has 2 fields, the header has 4", None),
        (6, None, "U3"),
    ]


def test_csv_quotes_bom_case_and_spaces_in_the_header(tmp_path, con):
    text = '\ufeffTS , Station_ID,event,unit_id\n"2026-11-02T06:00:00Z",printers,"cycle_start","U,1"\n'
    source = open_source(con, write(tmp_path, "events-q.csv", text))
    assert list(source.columns) == ["ts", "station_id", "event", "unit_id"]
    assert rows(con, source) == [(2, None, "U,1")]


def test_csv_header_only_is_zero_rows_and_duplicate_headers_are_rejected(tmp_path, con):
    assert open_source(con, write(tmp_path, "events-h.csv", HEADER + "\n")).n_rows == 0
    with pytest.raises(FileRejected, match="duplicate column 'ts'"):
        open_source(con, write(tmp_path, "events-d.csv", "ts,TS,event\n1,2,3\n"))


def test_csv_without_final_line_break_is_fine_when_complete(tmp_path, con):
    source = open_source(con, write(tmp_path, "events-n.csv", HEADER + "\nt,printers,cycle_start,U1"))
    assert rows(con, source) == [(2, None, "U1")]


def test_csv_not_utf8_is_rejected(tmp_path, con):
    with pytest.raises(FileRejected, match="UTF-8"):
        open_source(
            con, write(tmp_path, "events-l.csv", (HEADER + "\nt,pr\xefnter,cycle_start,U1\n").encode("latin-1"))
        )


def test_jsonl_lines_blank_lines_and_non_objects(tmp_path, con):
    lines = [
        json.dumps({"ts": "2026-11-02T06:00:00Z", "station_id": "printers", "event": "cycle_start", "unit_id": "U1"}),
        "",
        "   ",
        "[1, 2]",
        json.dumps({"TS": 1793516400000000, "Station_ID": "R1", "event": "fault_start", "extra": {"a": 1}}),
        "{broken",
    ]
    source = open_source(con, write(tmp_path, "events-j.jsonl", "\r\n".join(lines) + "\r\n"))
    assert source.n_rows == 4
    assert set(source.columns) == {"ts", "station_id", "event", "unit_id", "extra"}
    got = con.execute(f"select {LINE}, {ROW_ERROR}, ts, extra from {source.relation} order by {LINE}").fetchall()
    assert got == [
        (1, None, "2026-11-02T06:00:00Z", None),
        (4, "line is not a JSON object", None, None),
        (5, None, "1793516400000000", '{"a":1}'),
        (6, "line is not a JSON object", None, None),
    ]


def test_empty_and_missing_files(tmp_path, con):
    for name in ("events-e.csv", "events-e.jsonl", "events-e.parquet"):
        with pytest.raises(FileRejected, match="empty file"):
            open_source(con, write(tmp_path, name, "  \n" if not name.endswith("parquet") else b""))
    with pytest.raises(FileRejected, match="file not found"):
        open_source(con, tmp_path / "events-missing.csv")


def test_parquet_lines_are_row_numbers(tmp_path, con):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"ts": [1, 2, 3], "station_id": ["a", "b", "c"], "event": ["x", "y", "z"]}), path)
    source = open_source(con, path)
    assert (source.n_rows, source.text) == (3, False)
    lines = con.execute(f"select {source.line_sql} from {source.relation} order by 1").fetchall()
    assert [r[0] for r in lines] == [1, 2, 3]
    assert detect(source) == "events"  # by columns


def test_stream_detection_by_name_folder_columns_and_force(tmp_path, con):
    hive = tmp_path / "quality" / "cell=c1" / "day=2026-11-02"
    hive.mkdir(parents=True)
    path = write(hive, "part_0.csv", "ts,unit_id,characteristic,value\n")
    source = open_source(con, path)
    assert detect(source) == "quality"
    assert detect(source, "energy") == "energy"
    with pytest.raises(FileRejected, match="unknown stream 'power'"):
        detect(source, "power")


def test_discover_walks_folders_once_and_rejects_empty_ones(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "events-1.csv").write_text(HEADER)
    (tmp_path / "a" / ".hidden.csv").write_text(HEADER)
    (tmp_path / "a" / "notes.md").write_text("x")
    found = discover([tmp_path / "a", tmp_path / "a" / "events-1.csv"])
    assert found == [tmp_path / "a" / "events-1.csv"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(Exception, match="no telemetry files"):
        discover([tmp_path / "empty"])


def test_scan_file_gives_a_lazy_frame(tmp_path):
    path = write(tmp_path, "events-s.csv", HEADER + "\nt,printers,cycle_start,U1\n")
    assert scan_file(path).collect().to_dicts() == [
        {"ts": "t", "station_id": "printers", "event": "cycle_start", "unit_id": "U1"}
    ]
