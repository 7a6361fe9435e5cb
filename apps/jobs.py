"""Background jobs launched from the dashboard (a what-if run, a period report).

A page never computes physics or writes the warehouse itself: it starts the API's job runner
(``python -m twin.api.job FOLDER``, :mod:`twin.api.job`) as a detached subprocess and polls its files. Each
job is a folder ``<jobs_dir>/<job_id>/`` holding

- ``job.json``: id, kind, label, command, pid, start time (written here);
- ``request.json``, ``progress.json``, ``result.json``, ``error.json``: the runner's files (:mod:`twin.api.jobfiles`);
- ``stdout.log`` / ``stderr.log``: the process's output, kept for a crash's traceback only (never parsed);
- ``rc``: the exit code, written by a small wrapper process when the job ends.

So a job survives page reruns and browser reloads, and its state is read from files only: ``rc`` present
means finished; no ``rc`` and a live pid means running; no ``rc`` and no process means it died.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twin.api.jobfiles import read_error, read_progress, read_result, write_request

RUNNING, SUCCEEDED, FAILED, DIED = "running", "succeeded", "failed", "died"

ENV_JOB_DIR = "TWIN_JOB_DIR"
"""The job's folder, in the environment of its process."""

_WRAPPER = (
    "import pathlib, subprocess, sys\n"
    "d, argv = pathlib.Path(sys.argv[1]), sys.argv[2:]\n"
    "with open(d / 'stdout.log', 'wb') as out, open(d / 'stderr.log', 'wb') as err:\n"
    "    try:\n"
    "        rc = subprocess.call(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)\n"
    "    except OSError as exc:\n"
    "        err.write(str(exc).encode())\n"
    "        rc = 127\n"
    "tmp = d / 'rc.tmp'\n"
    "tmp.write_text(str(rc))\n"
    "tmp.replace(d / 'rc')\n"
)

# children of this process, kept so finished ones are reaped (no zombies while the app runs)
_CHILDREN: dict[str, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class JobStatus:
    """What a job folder says about its job."""

    job_id: str
    kind: str
    label: str
    state: str
    started_at: str
    elapsed_s: float
    returncode: int | None
    progress: float | None
    message: str
    folder: Path

    @property
    def done(self) -> bool:
        """Finished, one way or another."""
        return self.state != RUNNING

    def result(self) -> Any:
        """The job's result (the API call's JSON object), or None before it succeeded."""
        return read_result(self.folder)

    def stderr(self) -> str:
        """The process's stderr so far (a crash's traceback)."""
        return _read(self.folder / "stderr.log")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def start_job(
    jobs_dir: str | Path,
    kind: str,
    arguments: Mapping[str, Any],
    label: str = "",
    command: list[str] | None = None,
) -> str:
    """Start a job of the API's runner in the background, detached from the app's process group.

    Args:
        jobs_dir: Folder of the job folders (created).
        kind: A kind of :data:`twin.api.job.KINDS` (``scenario``, ``report``).
        arguments: The kind's arguments.
        label: A short human description.
        command: Run this instead of the API's runner (tests); it finds its folder in ``$TWIN_JOB_DIR``.

    Returns:
        The job id.
    """
    job_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{kind}-{uuid.uuid4().hex[:6]}"
    folder = Path(jobs_dir) / job_id
    folder.mkdir(parents=True, exist_ok=False)
    write_request(folder, kind, arguments)
    argv = command or [sys.executable, "-m", "twin.api.job", str(folder)]
    env = {**os.environ, ENV_JOB_DIR: str(folder), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRAPPER, str(folder), *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    _CHILDREN[job_id] = proc
    meta = {
        "id": job_id,
        "kind": kind,
        "label": label or kind,
        "argv": argv,
        "pid": proc.pid,
        "started_at": datetime.now(UTC).isoformat(),
        "started_monotonic": time.time(),
    }
    (folder / "job.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return job_id


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def job_status(jobs_dir: str | Path, job_id: str) -> JobStatus | None:
    """The status of one job, or None when its folder is gone.

    Args:
        jobs_dir: Folder of the job folders.
        job_id: The job's id.

    Returns:
        The status: ``progress`` and ``message`` from the job's progress file while it runs, the error's
        message when it failed (or the last line of its stderr when it died without one).
    """
    folder = Path(jobs_dir) / job_id
    try:
        meta = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    child = _CHILDREN.get(job_id)
    if child is not None and child.poll() is not None:
        _CHILDREN.pop(job_id, None)
    rc_text = _read(folder / "rc").strip()
    returncode: int | None = int(rc_text) if rc_text.lstrip("-").isdigit() else None
    if returncode is not None:
        state = SUCCEEDED if returncode == 0 else FAILED
    elif _alive(int(meta["pid"])) and (child is None or child.poll() is None):
        state = RUNNING
    else:
        state = DIED
    progress = read_progress(folder)
    message = progress.stage if progress is not None else ""
    if state in (FAILED, DIED):
        message = read_error(folder) or _last_line(_read(folder / "stderr.log")) or message
    fraction = 1.0 if state == SUCCEEDED else (progress.fraction if progress is not None else None)
    end = (folder / "rc").stat().st_mtime if returncode is not None else time.time()
    return JobStatus(
        job_id=job_id,
        kind=str(meta.get("kind", "")),
        label=str(meta.get("label", "")),
        state=state,
        started_at=str(meta.get("started_at", "")),
        elapsed_s=max(0.0, end - float(meta.get("started_monotonic", end))),
        returncode=returncode,
        progress=fraction,
        message=message,
        folder=folder,
    )


def list_jobs(jobs_dir: str | Path, kind: str | None = None) -> list[JobStatus]:
    """Every job in the folder, newest first.

    Args:
        jobs_dir: Folder of the job folders.
        kind: Only jobs of this kind.

    Returns:
        Their statuses.
    """
    root = Path(jobs_dir)
    if not root.is_dir():
        return []
    out = []
    for folder in sorted(root.iterdir(), reverse=True):
        status = job_status(root, folder.name) if folder.is_dir() else None
        if status is not None and (kind is None or status.kind == kind):
            out.append(status)
    return out


def cancel_job(jobs_dir: str | Path, job_id: str) -> bool:
    """Stop a running job (SIGTERM to its process group).

    Args:
        jobs_dir: Folder of the job folders.
        job_id: The job's id.

    Returns:
        True when a signal was sent.
    """
    status = job_status(jobs_dir, job_id)
    if status is None or status.done:
        return False
    meta = json.loads((status.folder / "job.json").read_text(encoding="utf-8"))
    try:
        os.killpg(int(meta["pid"]), 15)
    except (ProcessLookupError, PermissionError):
        return False
    return True
