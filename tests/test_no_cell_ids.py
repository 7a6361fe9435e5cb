"""No id of a shipped cell in the code: robots, stations, parts, buffers and characteristics are the user's.

Every string literal of ``twin/`` and ``apps/`` outside docstrings is checked against the ids of every cell
in ``assets/cells/``. ``twin/cell/migrate.py`` is exempt: it reads format 1, whose keys fixed those names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from twin.cell.load import load_cell
from twin.paths import ASSETS_DIR

ROOT = Path(__file__).resolve().parents[1]
EXEMPT = {ROOT / "twin" / "cell" / "migrate.py"}


def shipped_ids() -> dict[str, str]:
    """Id -> where it is declared, over every shipped cell."""
    ids: dict[str, str] = {}
    for path in sorted((ASSETS_DIR / "cells").glob("*.yaml")):
        cell = load_cell(path)
        for group in ("robots", "stations", "parts", "buffers"):
            for name in getattr(cell, group):
                ids[name] = f"{path.name}: {group}.{name}"
        for name in cell.quality.characteristics:
            ids[name] = f"{path.name}: quality.characteristics.{name}"
    return ids


def literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string constant of a module that is not a docstring."""
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
        # an attribute docstring: a bare string right after an assignment
        body = getattr(node, "body", None)
        if isinstance(body, list):
            for before, after in zip(body, body[1:], strict=False):
                if isinstance(before, ast.Assign | ast.AnnAssign) and isinstance(after, ast.Expr):
                    if isinstance(after.value, ast.Constant):
                        docstrings.add(id(after.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def offending(source: str, ids: dict[str, str]) -> list[tuple[int, str]]:
    """The literals of a module that are a shipped cell's id."""
    return [(line, text) for line, text in literals(source) if text in ids]


def test_the_check_finds_a_planted_id():
    ids = {"printers": "sample: stations.printers"}
    planted = 'def f(cell):\n    """Uses printers."""\n    return cell.stations["printers"]\n'
    assert offending(planted, ids) == [(3, "printers")]
    assert offending('X = 1\n"""printers"""\n', ids) == []


def test_no_shipped_cell_id_in_the_code():
    ids = shipped_ids()
    assert len(ids) >= 10
    found = []
    for path in sorted([*(ROOT / "twin").rglob("*.py"), *(ROOT / "apps").rglob("*.py")]):
        if path in EXEMPT:
            continue
        for line, text in offending(path.read_text(encoding="utf-8"), ids):
            found.append(f"{path.relative_to(ROOT)}:{line}: {text!r} ({ids[text]})")
    if found:
        pytest.fail("ids of a shipped cell in the code:\n" + "\n".join(found))
