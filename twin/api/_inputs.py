"""Inputs several api modules take in the same form: a cell given as a spec or as a file plus overrides."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from twin.cell.load import load_cell
from twin.cell.spec import CellSpec
from twin.errors import InputError
from twin.paths import default_warehouse

CellInput = CellSpec | str | Path | None
"""A loaded cell, a cell YAML file, or None for the sample cell."""


def resolve_cell(cell: CellInput = None, overrides: Iterable[str] = ()) -> CellSpec:
    """The cell a function works on.

    Args:
        cell: A loaded :class:`CellSpec`, a cell YAML file, or None for the sample cell.
        overrides: ``path.to.key=value`` strings applied to the file before validation (``--set``).

    Returns:
        The validated cell.

    Raises:
        InputError: Overrides were given with an already loaded cell.
        ConfigError: The file is malformed or an override names an unknown key.
        AssetError: A referenced URDF is missing.
    """
    overrides = list(overrides)
    if isinstance(cell, CellSpec):
        if overrides:
            raise InputError("overrides apply when a cell file is loaded; pass the cell's file, not a loaded CellSpec")
        return cell
    return load_cell(cell, overrides)


def resolve_warehouse(warehouse: str | Path | None) -> str | Path:
    """The warehouse file: the given one as given (its text names a replay's origin), else the default."""
    return default_warehouse() if warehouse is None else warehouse
