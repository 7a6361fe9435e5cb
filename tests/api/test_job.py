"""twin.api.job: a background job calls the API and reports through its files (request, progress, result, error)."""

from __future__ import annotations

import pytest

from twin.api import job
from twin.api.jobfiles import JOB_KINDS, read_error, read_progress, read_result, write_request
from twin.errors import InputError


def test_every_kind_has_a_runner():
    assert set(job.KINDS) == set(JOB_KINDS)


def test_a_job_writes_its_progress_and_result(tmp_path, monkeypatch):
    seen = []

    def fake_report(arguments, progress):
        progress("half way", 0.5)
        seen.append((dict(arguments), read_progress(tmp_path)))
        return {"html": f"{arguments['out_dir']}/report.html", "at": arguments.get("start")}

    monkeypatch.setitem(job.KINDS, "report", (fake_report, ("warehouse", "out_dir")))
    write_request(tmp_path, "report", {"warehouse": "w.duckdb", "out_dir": "out", "start": "2026-10-05"})
    assert job.main([str(tmp_path)]) == 0
    ((arguments, midway),) = seen
    assert arguments["start"] == "2026-10-05" and (midway.stage, midway.fraction) == ("half way", 0.5)
    assert read_result(tmp_path) == {"html": "out/report.html", "at": "2026-10-05"}
    done = read_progress(tmp_path)
    assert (done.stage, done.fraction) == ("done", 1.0) and read_error(tmp_path) is None


def test_a_failing_job_writes_its_error_and_exit_code(tmp_path, monkeypatch):
    def failing(arguments, progress):
        raise InputError("--from 'x': expected a date")

    monkeypatch.setitem(job.KINDS, "report", (failing, ("warehouse", "out_dir")))
    write_request(tmp_path, "report", {"warehouse": "w", "out_dir": "o"})
    assert job.run(tmp_path) == 2
    assert read_error(tmp_path) == "--from 'x': expected a date" and read_result(tmp_path) is None

    other = tmp_path / "missing-arguments"
    write_request(other, "scenario", {"warehouse": "w"})
    assert job.run(other) == 2 and read_error(other) == "job scenario: missing argument(s) scenario"

    unexpected = tmp_path / "crash"
    monkeypatch.setitem(job.KINDS, "report", (lambda a, p: 1 / 0, ("warehouse", "out_dir")))
    write_request(unexpected, "report", {"warehouse": "w", "out_dir": "o"})
    with pytest.raises(ZeroDivisionError):
        job.run(unexpected)
    assert "division by zero" in read_error(unexpected)


def test_no_request_and_usage(tmp_path, capsys):
    assert job.run(tmp_path) == 2 and "not a job request" in read_error(tmp_path)
    assert job.main([]) == 2 and "usage" in capsys.readouterr().err
    with pytest.raises(InputError, match="valid: report, scenario"):
        write_request(tmp_path, "sweep", {})
