"""How a command prints its result: one JSON object under ``--json``, else readable text."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from typing import Any

from twin.jsonable import jsonable


def emit(as_json: bool, result: Mapping[str, Any], text: Callable[[Mapping[str, Any]], str]) -> int:
    """Print a result on stdout: exactly one JSON object (``--json``), else ``text(result)``.

    Args:
        as_json: The ``--json`` flag.
        result: The result's JSON object (``to_dict()``).
        text: Its readable form.

    Returns:
        Exit code 0.
    """
    if as_json:
        sys.stdout.write(json.dumps(jsonable(result), allow_nan=False) + "\n")
    else:
        sys.stdout.write(text(result))
    return 0
