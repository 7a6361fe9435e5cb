"""The files through which a background job of the API reports: its request, progress, result and error.

The job runner (:mod:`twin.api.job`) writes them; the dashboard reads them (never a job's printed output).
Each file is written atomically (a temporary file renamed) in the job's folder:

- ``request.json``: ``{"kind", "arguments"}`` (:func:`write_request`);
- ``progress.json``: ``{"stage", "fraction", "at"}``, rewritten as the job advances (:func:`read_progress`);
- ``result.json``: the result's JSON object when the call succeeds (:func:`read_result`);
- ``error.json``: ``{"error", "type"}`` when it fails (:func:`read_error`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twin.errors import InputError
from twin.jsonable import jsonable

JOB_KINDS: tuple[str, ...] = ("report", "scenario")
"""What a job can be (:data:`twin.api.job.KINDS` runs each)."""

REQUEST, PROGRESS, RESULT, ERROR = "request.json", "progress.json", "result.json", "error.json"


@dataclass(frozen=True)
class JobProgress:
    """What a job last said about its progress.

    Attributes:
        stage: What it is doing (or has just done).
        fraction: The share done in [0, 1], or None when unknown.
        at: When it said so (ISO-8601, UTC).
    """

    stage: str
    fraction: float | None
    at: str


def _write_json(path: Path, doc: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(jsonable(doc), allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_request(folder: str | Path, kind: str, arguments: Mapping[str, Any]) -> Path:
    """Write what a job is to do.

    Args:
        folder: The job's folder (created).
        kind: One of :data:`JOB_KINDS`.
        arguments: The kind's arguments (plain JSON values).

    Returns:
        The request file.

    Raises:
        InputError: An unknown kind.
    """
    if kind not in JOB_KINDS:
        raise InputError(f"unknown job kind {kind!r}; valid: {', '.join(JOB_KINDS)}")
    path = Path(folder) / REQUEST
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_json(path, {"kind": kind, "arguments": dict(arguments)})
    return path


def read_request(folder: str | Path) -> tuple[str, dict[str, Any]]:
    """What a job is to do.

    Args:
        folder: The job's folder.

    Returns:
        ``(kind, arguments)``.

    Raises:
        InputError: No request there, or one of an unknown kind.
    """
    path = Path(folder) / REQUEST
    doc = _read_json(path)
    if not isinstance(doc, dict) or doc.get("kind") not in JOB_KINDS:
        raise InputError(f"{path}: not a job request; valid kinds: {', '.join(JOB_KINDS)}")
    return str(doc["kind"]), dict(doc.get("arguments") or {})


def write_progress(folder: str | Path, stage: str, fraction: float | None = None) -> None:
    """Record a job's progress.

    Args:
        folder: The job's folder.
        stage: What it is doing.
        fraction: The share done in [0, 1], or None when unknown.
    """
    doc = {"stage": stage, "fraction": fraction, "at": datetime.now(UTC).isoformat()}
    _write_json(Path(folder) / PROGRESS, doc)


def read_progress(folder: str | Path) -> JobProgress | None:
    """A job's last progress, or None before it said anything.

    Args:
        folder: The job's folder.

    Returns:
        The progress.
    """
    doc = _read_json(Path(folder) / PROGRESS)
    if not isinstance(doc, dict):
        return None
    fraction = doc.get("fraction")
    return JobProgress(str(doc.get("stage", "")), None if fraction is None else float(fraction), str(doc.get("at", "")))


def read_result(folder: str | Path) -> Any:
    """A finished job's result (its JSON object), or None.

    Args:
        folder: The job's folder.

    Returns:
        The result.
    """
    return _read_json(Path(folder) / RESULT)


def read_error(folder: str | Path) -> str | None:
    """Why a job failed (one line), or None.

    Args:
        folder: The job's folder.

    Returns:
        The message.
    """
    doc = _read_json(Path(folder) / ERROR)
    return str(doc.get("error", "")) if isinstance(doc, dict) else None


def write_result(folder: str | Path, result: Mapping[str, Any]) -> None:
    """Record a job's result.

    Args:
        folder: The job's folder.
        result: The API call's JSON object.
    """
    _write_json(Path(folder) / RESULT, dict(result))


def write_error(folder: str | Path, exc: BaseException) -> None:
    """Record why a job failed.

    Args:
        folder: The job's folder.
        exc: The error.
    """
    _write_json(Path(folder) / ERROR, {"error": str(exc), "type": type(exc).__name__})
