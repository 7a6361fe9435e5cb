"""Comparing JSON trees in tests: the commands' ``--json`` objects against the API's and the pages' figures."""

from __future__ import annotations

import math
from typing import Any


def same(a: Any, b: Any, path: str = "") -> None:
    """Assert equal JSON trees: same keys, same lengths, floats to 1e-9 relative.

    A group-by's float sums may differ in the last bits from run to run, so floats are compared closely,
    not exactly; everything else must be equal.
    """
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{path}: {len(a)} != {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"
