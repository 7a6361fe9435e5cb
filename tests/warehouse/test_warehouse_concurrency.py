"""A writer paused mid-file (test hook): readers see the last published data; SIGKILL loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from twin.cli import main
from twin.errors import WarehouseError
from twin.warehouse.connection import connect, read_connection, read_query
from twin.warehouse.load import ENV_PAUSE_AFTER_ROWS, ENV_PAUSE_FILE, ENV_PAUSE_SECONDS, ingest_paths

TABLES = ("raw_joint_states", "raw_events", "quarantine", "ingest_files")
Q = "0.0,-0.785,0.0,-2.356,0.0,1.571,0.785,0.04,0.04"


def joint_states_file(path: Path, n: int = 300) -> Path:
    lines = ["ts,robot_id," + ",".join(f"q_{k}" for k in range(1, 10)) + ",power_w"]
    for i in range(n):
        power = "-3" if i % 50 == 7 else f"{100 + i % 40}"  # a few bad rows, so the quarantine grows too
        lines.append(f"{1_793_516_400_000_000 + i * 8000},R1,{Q},{power}")
    path.write_text("\n".join(lines) + "\n")
    return path


def events_file(path: Path) -> Path:
    path.write_text(
        "ts,station_id,event,unit_id\n"
        "2026-11-02T06:00:00Z,printers,cycle_start,U1\n"
        "2026-11-02T06:10:00Z,printers,cycle_end,U1\n"
        "2026-11-02T06:10:00Z,printers,cycle_end,U9x\n"
        "2026-11-02T06:11:00Z,mars,cycle_end,U1\n"
    )
    return path


def counts_of(con) -> dict[str, int]:
    return {t: con.execute(f"select count(*) from {t}").fetchall()[0][0] for t in TABLES}


def start_paused_ingest(path: Path, warehouse: Path, marker: Path, after: int = 100) -> subprocess.Popen:
    env = dict(os.environ)
    env.update({ENV_PAUSE_AFTER_ROWS: str(after), ENV_PAUSE_FILE: str(marker), ENV_PAUSE_SECONDS: "120"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "ingest", str(path), "--warehouse", str(warehouse), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"ingest ended before pausing: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("ingest did not reach the pause")
        time.sleep(0.05)
    return proc


def test_readers_see_the_last_published_data_while_an_ingest_runs(tmp_path, capsys):
    warehouse = tmp_path / "twin.duckdb"
    ingest_paths([events_file(tmp_path / "events-1.csv")], warehouse)
    with read_connection(warehouse) as con:
        before = counts_of(con)
    marker = tmp_path / "paused"
    proc = start_paused_ingest(joint_states_file(tmp_path / "joint_states-1.csv"), warehouse, marker)
    try:
        # the writer holds the warehouse file (half of its file staged, uncommitted) ...
        with pytest.raises(WarehouseError, match="in use by another writer"):
            connect(warehouse)
        # ... and every reader keeps working on the last published snapshot, repeatedly
        for _ in range(3):
            with read_connection(warehouse) as con:
                assert counts_of(con) == before
            assert read_query("select count(*) as n from mart_cycles", path=warehouse)["n"][0] == 1
        assert main(["quarantine", "--warehouse", str(warehouse), "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert listed["count"] == before["quarantine"] == 1
    finally:
        marker.unlink(missing_ok=True)  # let the ingest go on
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert report["accepted"] == 294 and report["quarantined"] == 6
    with read_connection(warehouse) as con:
        after = counts_of(con)
    assert after["raw_joint_states"] == 294 and after["quarantine"] == before["quarantine"] + 6
    assert after["raw_events"] == before["raw_events"]


def test_sigkill_mid_file_leaves_the_warehouse_as_before_that_file(tmp_path):
    warehouse = tmp_path / "twin.duckdb"
    ingest_paths([events_file(tmp_path / "events-1.csv")], warehouse)
    with read_connection(warehouse) as con:
        published = counts_of(con)
    data = joint_states_file(tmp_path / "joint_states-1.csv")
    marker = tmp_path / "paused"
    proc = start_paused_ingest(data, warehouse, marker, after=150)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    con = connect(warehouse)  # the file itself, after recovery
    try:
        assert counts_of(con) == published
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
        assert not {t for t in tables if t.startswith("twin_")}  # no temporary leftovers
    finally:
        con.close()
    with read_connection(warehouse) as con:
        assert counts_of(con) == published
    report = ingest_paths([data], warehouse)  # the next ingest of that file succeeds, once
    (result,) = report.files
    assert (result.status, result.accepted, result.quarantined) == ("ingested", 294, 6)
    with read_connection(warehouse) as con:
        final = counts_of(con)
    assert final["raw_joint_states"] == 294 and final["ingest_files"] == published["ingest_files"] + 1
    assert final["quarantine"] == published["quarantine"] + 6
