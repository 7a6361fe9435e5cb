"""Background CLI jobs launched from the dashboard (``twin scenario run``, ``twin report``).

A page never computes physics or writes the warehouse itself: it starts the ``twin`` command as a
detached subprocess and polls it. Each job is a folder ``<jobs_dir>/<job_id>/`` holding

- ``job.json``: id, kind, label, argv, pid, start time;
- ``stdout.log`` / ``stderr.log``: the command's output (``--json`` results on stdout, progress on stderr);
- ``rc``: the exit code, written by a small wrapper process when the command ends.

So a job survives page reruns and browser reloads, and its state is read from files only: ``rc`` present
means finished; no ``rc`` and a live pid means running; no ``rc`` and no process means it died.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RUNNING, SUCCEEDED, FAILED, DIED = "running", "succeeded", "failed", "died"

_WRAPPER = (
    "import os, pathlib, subprocess, sys\n"
    "d, tty, argv = pathlib.Path(sys.argv[1]), sys.argv[2] == '1', sys.argv[3:]\n"
    "with open(d / 'stdout.log', 'wb') as out, open(d / 'stderr.log', 'wb') as err:\n"
    "    try:\n"
    "        if tty:  # a terminal on stderr: commands show their progress bar only on a TTY\n"
    "            import pty\n"
    "            import fcntl, struct, termios\n"
    "            master, slave = pty.openpty()\n"
    "            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 100, 0, 0))\n"
    "            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=slave)\n"
    "            os.close(slave)\n"
    "            while True:\n"
    "                try:\n"
    "                    chunk = os.read(master, 4096)\n"
    "                except OSError:\n"
    "                    break\n"
    "                if not chunk:\n"
    "                    break\n"
    "                err.write(chunk)\n"
    "                err.flush()\n"
    "            rc = proc.wait()\n"
    "        else:\n"
    "            rc = subprocess.call(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)\n"
    "    except OSError as exc:\n"
    "        err.write(str(exc).encode())\n"
    "        rc = 127\n"
    "tmp = d / 'rc.tmp'\n"
    "tmp.write_text(str(rc))\n"
    "tmp.replace(d / 'rc')\n"
)

# children of this process, kept so finished ones are reaped (no zombies while the app runs)
_CHILDREN: dict[str, subprocess.Popen[bytes]] = {}

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_PERCENT = re.compile(r"(\d{1,3})%\|")
_FRACTION = re.compile(r"(\d+)\s*/\s*(\d+)")


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
    last_line: str
    folder: Path

    @property
    def done(self) -> bool:
        """Finished, one way or another."""
        return self.state != RUNNING

    def stdout(self) -> str:
        """The command's stdout so far."""
        return _read(self.folder / "stdout.log")

    def stderr(self) -> str:
        """The command's stderr so far."""
        return _read(self.folder / "stderr.log")

    def result_json(self) -> Any:
        """The last JSON document the command printed on stdout (``--json``), or None."""
        for line in reversed(self.stdout().splitlines()):
            line = line.strip()
            if line.startswith(("{", "[")):
                try:
                    return json.loads(line)
                except json.JSONDecodeError:
                    continue
        return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def start_job(
    jobs_dir: str | Path,
    kind: str,
    argv: list[str],
    label: str = "",
    env: dict[str, str] | None = None,
    tty: bool = False,
) -> str:
    """Start ``argv`` in the background, detached from the app's process group.

    Args:
        jobs_dir: Folder of the job folders (created).
        kind: What the job is (``scenario``, ``report``).
        label: A short human description.
        argv: The command line.
        env: Extra environment variables.
        tty: Give the command a pseudo-terminal as stderr, so it draws its progress bar (``tqdm`` draws
            only on a TTY); the bar is copied to ``stderr.log``.

    Returns:
        The job id.
    """
    job_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{kind}-{uuid.uuid4().hex[:6]}"
    folder = Path(jobs_dir) / job_id
    folder.mkdir(parents=True, exist_ok=False)
    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1", "COLUMNS": "100"}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRAPPER, str(folder), "1" if tty else "0", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=full_env,
        start_new_session=True,
    )
    _CHILDREN[job_id] = proc
    meta = {
        "id": job_id,
        "kind": kind,
        "label": label or " ".join(argv[-3:]),
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


def parse_progress(text: str) -> float | None:
    """The latest progress fraction in a command's stderr (a tqdm bar ``42%|`` or a ``k/N`` count).

    Args:
        text: The stderr so far.

    Returns:
        A fraction in [0, 1], or None when nothing says.

    >>> parse_progress("replications:  40%|####      | 2/5")
    0.4
    >>> parse_progress("replication 3/4 done"), parse_progress("starting") is None
    (0.75, True)
    """
    tail = text[-4000:].replace("\r", "\n")
    for line in reversed(tail.splitlines()):
        pct = _PERCENT.findall(line)
        if pct:
            return min(1.0, int(pct[-1]) / 100.0)
        frac = _FRACTION.findall(line)
        if frac:
            k, n = (int(x) for x in frac[-1])
            if 0 < n and k <= n:
                return k / n
    return None


def job_status(jobs_dir: str | Path, job_id: str) -> JobStatus | None:
    """The status of one job, or None when its folder is gone.

    Args:
        jobs_dir: Folder of the job folders.
        job_id: The job's id.

    Returns:
        The status.
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
    err = _ANSI.sub("", _read(folder / "stderr.log"))
    lines = [ln.strip() for ln in err.replace("\r", "\n").splitlines() if ln.strip()]
    progress = 1.0 if state == SUCCEEDED else parse_progress(err)
    end = (folder / "rc").stat().st_mtime if returncode is not None else time.time()
    return JobStatus(
        job_id=job_id,
        kind=str(meta.get("kind", "")),
        label=str(meta.get("label", "")),
        state=state,
        started_at=str(meta.get("started_at", "")),
        elapsed_s=max(0.0, end - float(meta.get("started_monotonic", end))),
        returncode=returncode,
        progress=progress,
        last_line=lines[-1] if lines else "",
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
