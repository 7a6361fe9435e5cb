"""The pages keep rendering the last published snapshot while `twin ingest` holds the warehouse mid-file."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from dashtest import PAGES, REPO, assert_clean, copy_warehouse, extra_files


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_pages_render_while_an_ingest_writes(app, demo_warehouse, telemetry_dir, tmp_path):
    warehouse = copy_warehouse(demo_warehouse, tmp_path / "wh")
    extra = extra_files(telemetry_dir)
    assert extra

    at = app(warehouse)
    assert_clean(at, "overview")
    before = at.session_state["_dashboard_shown"]["overview"]["kpis"]

    pause = tmp_path / "paused"
    env = {
        **os.environ,
        "TWIN_TEST_PAUSE_AFTER_ROWS": "100",
        "TWIN_TEST_PAUSE_FILE": str(pause),
        "TWIN_TEST_PAUSE_SECONDS": "120",
    }
    cmd = [sys.executable, "-m", "twin.cli", "ingest", *map(str, extra), "--warehouse", str(warehouse), "--json"]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: pause.exists() or proc.poll() is not None, 120, "the ingest to pause mid-file")
        assert proc.poll() is None, f"the ingest ended before pausing: {proc.communicate()}"
        # the writer holds the warehouse now; every page still renders the last published snapshot
        for page, path in PAGES.items():
            at.switch_page(path).run()
            assert_clean(at, page)
        at.switch_page(PAGES["overview"]).run()
        assert at.session_state["_dashboard_shown"]["overview"]["kpis"] == before
        # release it (the hook pauses in every file: release each one) and let it publish
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            pause.unlink(missing_ok=True)
            time.sleep(0.1)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # the newly published snapshot shows up on the next rerun (its version is part of every cache key)
    at.run()
    assert_clean(at, "overview")
    assert at.sidebar.selectbox(key="flt_period").value == "All data"
    after = at.session_state["_dashboard_shown"]["overview"]["kpis"]
    assert after["units"] > before["units"]
