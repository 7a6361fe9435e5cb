"""Run one API call as a background job that reports through files: what the dashboard's jobs run.

``python -m twin.api.job FOLDER`` reads ``FOLDER/request.json``, calls the API and writes its progress, its
result or its error in the folder (:mod:`twin.api.jobfiles`); nothing reads its printed output.

Kinds and their arguments:

- ``report``: ``warehouse``, ``out_dir``, and optionally ``start``, ``end``, ``cell``, ``overrides``, ``source``,
  ``replication`` (:func:`twin.api.reports.report`); the result is :meth:`~twin.report.build.ReportFiles.to_dict`;
- ``scenario``: ``scenario`` (a file or a registered id), ``warehouse``, and optionally ``replications``,
  ``horizon_days``, ``seed``, ``to_warehouse``: what ``twin scenario run`` does, the results stored in the
  warehouse; the result is the ``twin scenario run --json`` object.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from twin.api.jobfiles import read_request, write_error, write_progress, write_result
from twin.api.reports import STAGES, report
from twin.errors import InputError, TwinError
from twin.scenarios.service import run_scenario
from twin.scenarios.store import store_results

Progress = Callable[[str, float | None], None]
"""Called by a job with its current stage and the fraction done (None when unknown)."""


def _report(arguments: Mapping[str, Any], progress: Progress) -> dict[str, Any]:
    def on_stage(stage: str) -> None:
        progress(stage, (STAGES.index(stage) + 1) / len(STAGES))

    files = report(
        arguments["warehouse"],
        arguments["out_dir"],
        start=arguments.get("start"),
        end=arguments.get("end"),
        cell=arguments.get("cell"),
        overrides=arguments.get("overrides", ()),
        source=arguments.get("source", "measured"),
        replication=arguments.get("replication"),
        on_stage=on_stage,
    )
    return files.to_dict()


def _scenario(arguments: Mapping[str, Any], progress: Progress) -> dict[str, Any]:
    warehouse = arguments["warehouse"]
    progress("simulating", None)
    result = run_scenario(
        arguments["scenario"],
        replications=arguments.get("replications"),
        horizon_days=arguments.get("horizon_days"),
        seed=arguments.get("seed"),
        warehouse=warehouse,
        write=bool(arguments.get("to_warehouse", False)),
    )
    doc = result.to_json()
    progress("storing the results", None)
    store_results(warehouse, "run", doc)
    return doc


KINDS: dict[str, tuple[Callable[[Mapping[str, Any], Progress], dict[str, Any]], tuple[str, ...]]] = {
    "report": (_report, ("warehouse", "out_dir")),
    "scenario": (_scenario, ("scenario", "warehouse")),
}
"""Job kind (:data:`twin.api.jobfiles.JOB_KINDS`) -> the call it makes with the request's arguments and a progress
callback, and the arguments it requires."""


def run(folder: str | Path) -> int:
    """Run the job a folder's request describes, writing its progress, result or error there.

    Args:
        folder: The job's folder (with ``request.json``).

    Returns:
        The exit code: 0, or the :class:`~twin.errors.TwinError`'s.

    Raises:
        Exception: An unexpected failure, after ``error.json`` records it.
    """
    root = Path(folder)
    try:
        kind, arguments = read_request(root)
        call, required = KINDS[kind]
        missing = [name for name in required if name not in arguments]
        if missing:
            raise InputError(f"job {kind}: missing argument(s) {', '.join(missing)}")
        write_progress(root, "starting", 0.0)
        result = call(arguments, lambda stage, fraction: write_progress(root, stage, fraction))
    except TwinError as exc:
        write_error(root, exc)
        return exc.exit_code
    except Exception as exc:
        write_error(root, exc)  # the traceback goes to stderr as usual
        raise
    write_result(root, result)
    write_progress(root, "done", 1.0)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m twin.api.job FOLDER``.

    Args:
        argv: The arguments (default ``sys.argv[1:]``).

    Returns:
        The exit code (2 without exactly one folder).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m twin.api.job FOLDER", file=sys.stderr)
        return 2
    return run(args[0])


if __name__ == "__main__":
    sys.exit(main())
