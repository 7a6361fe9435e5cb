"""Background jobs of the pages (apps/jobs.py) and the ``twin dashboard`` command."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from dashtest import APP, REPO

from twin.errors import ConfigError
from twin.paths import CELLS_DIR

sys.path.insert(0, str(REPO / "apps"))
import jobs  # noqa: E402


def wait_done(folder: Path, job_id: str, timeout: float = 60) -> jobs.JobStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = jobs.job_status(folder, job_id)
        if status is not None and status.done:
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still running after {timeout} s")


def job_code(body: str) -> list[str]:
    """A stand-in for the API's runner: Python code with the job-file functions and its folder at hand."""
    prelude = (
        "import os, sys, time\n"
        "from twin.api.jobfiles import write_error, write_progress, write_result\n"
        "from twin.errors import InputError\n"
        "folder = os.environ['TWIN_JOB_DIR']\n"
    )
    return [sys.executable, "-c", prelude + body]


def test_a_job_reports_through_its_files_not_its_output(tmp_path):
    body = (
        "write_progress(folder, 'working', 0.5)\n"
        "time.sleep(0.5)\n"
        'print(\'{"not": "the result"}\')\n'
        "write_result(folder, {'ok': 1})\n"
    )
    job_id = jobs.start_job(tmp_path, "report", {}, label="a test", command=job_code(body))
    first = jobs.job_status(tmp_path, job_id)
    assert first.state == jobs.RUNNING and not first.done and first.label == "a test"
    seen = set()
    deadline = time.monotonic() + 60
    while not (status := jobs.job_status(tmp_path, job_id)).done:
        assert time.monotonic() < deadline
        seen.add((status.progress, status.message))
        time.sleep(0.05)
    assert (0.5, "working") in seen
    assert status.state == jobs.SUCCEEDED and status.returncode == 0 and status.progress == 1.0
    assert status.result() == {"ok": 1} and status.message == "working"
    assert [j.job_id for j in jobs.list_jobs(tmp_path, "report")] == [job_id]
    assert jobs.list_jobs(tmp_path, "scenario") == []


def test_failing_crashing_and_cancelled_jobs(tmp_path):
    body = "write_error(folder, InputError('bad input'))\nsys.exit(2)\n"
    failing = jobs.start_job(tmp_path, "report", {}, command=job_code(body))
    status = wait_done(tmp_path, failing)
    assert status.state == jobs.FAILED and status.returncode == 2 and status.message == "bad input"
    assert status.result() is None
    crashing = jobs.start_job(tmp_path, "report", {}, command=job_code("sys.exit('no error file')\n"))
    status = wait_done(tmp_path, crashing)
    assert status.state == jobs.FAILED and status.message == "no error file"  # the last line of its stderr
    slow = jobs.start_job(tmp_path, "report", {}, command=job_code("time.sleep(60)\n"))
    time.sleep(0.3)
    assert jobs.cancel_job(tmp_path, slow)
    status = wait_done(tmp_path, slow, timeout=20)
    assert status.state in (jobs.FAILED, jobs.DIED) and status.returncode != 0
    assert not jobs.cancel_job(tmp_path, slow)


def test_a_job_of_an_unknown_kind_is_refused(tmp_path):
    from twin.errors import InputError

    with pytest.raises(InputError, match="valid: report, scenario"):
        jobs.start_job(tmp_path, "sweep", {})


def test_dashboard_command_builds_the_demo_then_serves_the_app(tmp_path, monkeypatch):
    import twin.api.dashboard as setup
    import twin.cli.dashboard as dash
    from twin.cli import build_parser

    warehouse = tmp_path / "data" / "twin.duckdb"
    calls: dict = {}

    def fake_demo(path, cell, out, **_):
        calls.setdefault("demos", []).append((cell.cell.id, out))
        calls["demo"] = Path(path)
        from twin.warehouse.connection import write_job

        with write_job(path):
            pass

    def fake_store_plan(path, cell):
        calls["plan"] = (Path(path), cell.cell.id)
        calls.setdefault("plans", []).append(cell.cell.id)
        return SimpleNamespace(content_hash="0" * 64, cell_id="cell")

    class FakePopen:
        def __init__(self, cmd, env, stdout):
            calls["cmd"], calls["env"] = cmd, env

        def wait(self):
            return 0

        def poll(self):
            return 0

    monkeypatch.setattr(setup, "demo", fake_demo)
    monkeypatch.setattr(setup, "store_cell_plan", fake_store_plan)
    monkeypatch.setattr(dash.subprocess, "Popen", FakePopen)
    args = build_parser().parse_args(["dashboard", "--port", "8600", "--warehouse", str(warehouse), "--json"])
    assert dash.run_dashboard(args) == 0
    assert calls["demo"] == warehouse and calls["plan"][0] == warehouse
    assert calls["cmd"][1:4] == ["-m", "streamlit", "run"] and calls["cmd"][4] == str(APP)
    assert calls["cmd"][calls["cmd"].index("--server.port") + 1] == "8600"
    assert calls["cmd"][calls["cmd"].index("--server.address") + 1] == "127.0.0.1"  # loopback unless told
    assert calls["cmd"][calls["cmd"].index("--server.headless") + 1] == "true"
    assert calls["cmd"][calls["cmd"].index("--client.toolbarMode") + 1] == "viewer"  # no "Deploy" button
    assert calls["env"]["TWIN_WAREHOUSE"] == str(warehouse.resolve())
    calls.clear()
    assert dash.run_dashboard(args) == 0 and "demo" not in calls  # the warehouse exists now
    for flag in ("--host", "--address"):  # another address only when told
        told = build_parser().parse_args(["dashboard", "--warehouse", str(warehouse), flag, "0.0.0.0"])
        assert dash.run_dashboard(told) == 0
        assert calls["cmd"][calls["cmd"].index("--server.address") + 1] == "0.0.0.0"
    # several cells: the demo of each into the one warehouse, each in its own folder; a plan each; all to the app
    cells = [CELLS_DIR / "microfactory-v2.yaml", CELLS_DIR / "hinge-press-v1.yaml"]
    other = tmp_path / "both.duckdb"
    calls.clear()
    on = [a for c in cells for a in ("--cell", str(c))]
    assert dash.run_dashboard(build_parser().parse_args(["dashboard", "--warehouse", str(other), *on])) == 0
    assert [cell for cell, _ in calls["demos"]] == calls["plans"] == ["microfactory", "hinge-press"]
    assert calls["demos"][0][1] is None and calls["demos"][1][1].name == "hinge-press"
    assert calls["env"]["TWIN_CELL"].split(os.pathsep) == [str(c.resolve()) for c in cells]
    with pytest.raises(ConfigError, match="more than once"):
        dash.run_dashboard(build_parser().parse_args(["dashboard", "--warehouse", str(other), *on, *on[:2]]))


def test_dashboard_help_and_bad_port(capsys):
    from twin.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["dashboard", "--help"])
    assert exit_info.value.code == 0
    assert "--port" in capsys.readouterr().out
    assert main(["dashboard", "--port", "0", "--no-demo"]) == 2
    assert "--port 0" in capsys.readouterr().err


def test_stored_plan_gives_the_dashboard_its_ideal_cycle_times(tmp_path):
    from twin.analytics.ideal import ideal_cycle_times
    from twin.api import store_cell_plan
    from twin.api.read.ideal_times import load_ideal
    from twin.cell.load import load_cell
    from twin.errors import WarehouseError
    from twin.paths import DEFAULT_CELL
    from twin.warehouse.connection import read_connection, write_job
    from twin.warehouse.plans import stored_plans

    warehouse = tmp_path / "twin.duckdb"
    with pytest.raises(WarehouseError, match="no warehouse yet"):  # never a warehouse holding only a plan
        store_cell_plan(warehouse, DEFAULT_CELL)
    assert not warehouse.exists()
    with write_job(warehouse):
        pass
    plan = store_cell_plan(warehouse, DEFAULT_CELL)
    with read_connection(warehouse) as con:  # what the pages read: the published snapshot
        assert [row[:2] for row in stored_plans(con)] == [(plan.content_hash, plan.cell_id)]
    store_cell_plan(warehouse, DEFAULT_CELL)  # stored already: nothing is added
    with read_connection(warehouse) as con:
        assert len(stored_plans(con)) == 1
    cell = load_cell()
    assert load_ideal(warehouse).cell == ideal_cycle_times(cell, warehouse=warehouse)
    assert load_ideal(warehouse).cell == dict(zip(plan.variants["variant"], plan.variants["takt_s"], strict=True))


def test_twin_dashboard_serves_and_stops_with_its_app(demo_warehouse, tmp_path):
    import os
    import signal
    import socket
    import subprocess
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "twin.cli",
        "dashboard",
        "--port",
        str(port),
        "--warehouse",
        str(demo_warehouse),
        "--json",
    ]
    err = open(tmp_path / "stderr.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True)
    try:
        line = json.loads(proc.stdout.readline())
        assert line["url"] == f"http://127.0.0.1:{port}" and line["warehouse"] == str(demo_warehouse.resolve())
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "stderr.log").read_text()[-2000:]
                time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)  # to `twin dashboard` only: it stops streamlit itself
        assert proc.wait(timeout=30) != 0
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
    finally:
        err.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
