"""Plain JSON values from the figures' dicts: the one conversion every ``--json`` output and report file uses.

It sits at the bottom of the package (beside ``errors`` and ``paths``) because the report, the API and
the commands all write JSON.

>>> import math
>>> jsonable({"a": (1, 2.5), "b": math.nan, 3: None})
{'a': [1, 2.5], 'b': None, '3': None}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def jsonable(value: Any) -> Any:
    """Plain JSON values: NaN and infinities to None, dates to ISO strings, tuples to lists, numpy scalars to Python.

    Args:
        value: A tree of mappings, lists, tuples and scalars.

    Returns:
        The same tree, safe for ``json.dumps(..., allow_nan=False)``.

    >>> from datetime import date
    >>> jsonable([date(2026, 10, 5), float("inf"), True])
    ['2026-10-05', None, True]
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return value
