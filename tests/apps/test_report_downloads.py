"""Cost and Carbon pages: the period report is built by a background job of the API, then downloaded."""

from __future__ import annotations

import sys
import time

from dashtest import PAGES, REPO, assert_clean, copy_warehouse

sys.path.insert(0, str(REPO / "apps"))
import jobs  # noqa: E402


def test_build_then_download_the_period_report(app, demo_warehouse, tmp_path):
    warehouse = copy_warehouse(demo_warehouse, tmp_path / "wh")
    at = app(warehouse)
    at.sidebar.selectbox(key="flt_period").set_value("Last day").run()
    at.switch_page(PAGES["carbon"]).run()
    assert_clean(at, "carbon")
    labels = [b.label for b in at.get("download_button")]
    assert "carbon_scopes.csv" in labels and "report.html" not in labels
    at.button(key="rep_build_carbon").click().run()
    assert_clean(at, "carbon building")
    (job,) = jobs.list_jobs(warehouse.parent / "dashboard_jobs", "report")
    deadline = time.monotonic() + 300
    while not (status := jobs.job_status(warehouse.parent / "dashboard_jobs", job.job_id)).done:
        assert time.monotonic() < deadline, "the report job did not finish in 300 s"
        time.sleep(0.5)
    assert status.state == jobs.SUCCEEDED, status.stderr()[-2000:]
    folder = warehouse.parent / "dashboard_reports" / "2026-10-06_2026-10-07"
    result = status.result()  # the job's result file
    assert result["html"] == str(folder / "report.html") and status.progress == 1.0
    assert result["period"]["from"].startswith("2026-10-06") and "carbon_scopes" in result["tables"]
    at.run()
    assert_clean(at, "carbon report ready")
    labels = [b.label for b in at.get("download_button")]
    assert "report.html" in labels and "report.json" in labels
    assert any(label.startswith("all ") and "CSV" in label for label in labels)
    assert (folder / "report.html").is_file() and list(folder.glob("*.csv"))
    # the same report serves the Cost page of the same period
    at.switch_page(PAGES["cost"]).run()
    assert_clean(at, "cost")
    assert "report.html" in [b.label for b in at.get("download_button")]
