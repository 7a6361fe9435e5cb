"""Doctests run with the tests: every ``>>>`` example in ``twin/`` (STYLE 15) and in ``docs/*.md``.

pytest's ``--doctest-modules`` would also import the test modules a second time as doctest modules
(``tests/conftest.py`` then clashes with itself), so the modules' examples are collected here, for the
package only; ``--doctest-glob=*.md`` (pyproject) collects the docs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _pytest.doctest import DoctestModule

PACKAGE = Path(__file__).resolve().parent / "twin"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect a package module's ``>>>`` examples (what ``--doctest-modules`` does, for ``twin/`` only)."""
    if file_path.suffix == ".py" and file_path.name != "__main__.py" and PACKAGE in file_path.parents:
        return DoctestModule.from_parent(parent, path=file_path)
    return None
