"""A sweep file -> runs: the parameter grid (or a seeded random sample) over a base scenario.

A parameter's name is a dotted path inside the scenario's ``changes`` (``speed_override``,
``speed_override.R2``, ``buffers.brackets``, ``stations.printers.count``, ``inspection_sampling``), or
``cell.<path>`` for any cell value in ``--set`` form.

>>> from twin.scenarios.spec import SweepSpec
>>> spec = SweepSpec.model_validate({"scenario": "baseline-v2", "parameters": {
...     "speed_override": {"values": [0.5, 0.8]}, "buffers.brackets": {"values": [2, 6]}}})
>>> expand(spec, seed=0)[1]
{'speed_override': 0.5, 'buffers.brackets': 6}
>>> parameter_changes({"speed_override.R2": 0.7, "cell.robots.R1.mtbf_h": 90})
{'speed_override': {'R2': 0.7}, 'set': ['robots.R1.mtbf_h=90']}
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import yaml

from twin.scenarios.spec import SweepSpec

CELL_PREFIX = "cell."


def expand(spec: SweepSpec, seed: int) -> list[dict[str, Any]]:
    """Every run's parameter values: the full grid in file order, or ``samples`` seeded random draws."""
    names = list(spec.parameters)
    if spec.method == "grid":
        grid = itertools.product(*(spec.parameters[n].values or [] for n in names))
        return [dict(zip(names, combo, strict=True)) for combo in grid]
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(spec.samples or 0):
        run: dict[str, Any] = {}
        for name in names:
            p = spec.parameters[name]
            if p.values is not None:
                run[name] = p.values[int(rng.integers(len(p.values)))]
            elif p.integer:
                run[name] = int(rng.integers(int(p.low or 0), int(p.high or 0) + 1))
            else:
                run[name] = float(f"{rng.uniform(p.low, p.high):.6g}")
        runs.append(run)
    return runs


def parameter_changes(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """One run's parameters as a ``changes`` mapping to merge over the base scenario's."""
    changes: dict[str, Any] = {}
    for name, value in parameters.items():
        if name.startswith(CELL_PREFIX):
            text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
            changes.setdefault("set", []).append(f"{name[len(CELL_PREFIX) :]}={text}")
            continue
        node = changes
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return changes
