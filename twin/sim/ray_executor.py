"""Replications on a Ray cluster: an existing one (``--address``) or a local one started for the run.

Each distinct run's inputs go into Ray's object store once; every replication is one task of one CPU.
Results come back in task order, so Ray and the local process pool give identical output.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any

from twin.errors import InputError

Result = tuple[int, int, dict[str, float]]


def _replication(work: Callable[[Any], Result], task: Any, inputs: Any) -> Result:
    return work(dataclasses.replace(task, inputs=inputs))


def run_on_ray(
    tasks: Sequence[Any],
    work: Callable[[Any], Result],
    workers: int | None = None,
    address: str | None = None,
    on_done: Callable[[int], Any] | None = None,
) -> list[tuple[int, int, dict[str, float]]]:
    """Run replication tasks on Ray.

    Args:
        tasks: :class:`twin.sim.runner.ReplicationTask` items.
        work: Runs one task (module level, so Ray can pickle it): ``(run, replication, kpis)``.
        workers: CPUs of a local Ray started here (default: the machine's cores); ignored with ``address``.
        address: An existing cluster (``auto``, ``ray://host:10001``); a local Ray is started when None and
            none is running in this process.
        on_done: Called with 1 after each finished task (progress).

    Returns:
        ``(run, replication, kpis)`` per task, in the order given.

    Raises:
        InputError: Ray is not installed or the cluster cannot be reached.
    """
    try:
        import ray
    except ImportError as exc:
        raise InputError("--executor ray needs Ray: pip install 'celltwin[ray]' (or 'ray[default]')") from exc
    started = False
    if not ray.is_initialized():
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise InputError(f"--address {address}: cannot connect to Ray: {exc}") from exc
        started = True
    try:
        remote = ray.remote(num_cpus=1)(_replication)
        refs: dict[int, Any] = {}
        pending = []
        for task in tasks:
            if task.run not in refs:
                refs[task.run] = ray.put(task.inputs)
            # the inputs travel once through the object store; the task itself is small
            pending.append(remote.remote(work, dataclasses.replace(task, inputs=None), refs[task.run]))
        order = {ref: i for i, ref in enumerate(pending)}
        results: list[Any] = [None] * len(pending)
        waiting = list(pending)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            for ref in done:
                results[order[ref]] = ray.get(ref)
                if on_done:
                    on_done(1)
        return results
    finally:
        if started:
            ray.shutdown()
