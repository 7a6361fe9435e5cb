"""Where the project's assets and data live.

Assets ship inside the repository (and next to the package in an editable install). Data defaults
to ``data/`` under the current working directory so a user's warehouse lives where they run ``twin``.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
ASSETS_DIR = Path(os.environ.get("TWIN_ASSETS_DIR", PROJECT_DIR / "assets"))
CELLS_DIR = ASSETS_DIR / "cells"
URDF_DIR = ASSETS_DIR / "urdf"
FACTORS_DIR = ASSETS_DIR / "factors"
SCENARIOS_DIR = ASSETS_DIR / "scenarios"
DEFAULT_CELL = CELLS_DIR / "microfactory-v2.yaml"


def data_dir() -> Path:
    """The data folder: ``$TWIN_DATA_DIR`` or ``./data``."""
    return Path(os.environ.get("TWIN_DATA_DIR", "data"))


def default_warehouse() -> Path:
    """The embedded default warehouse file, ``data/twin.duckdb``."""
    return data_dir() / "twin.duckdb"


def cache_dir() -> Path:
    """Where physics results are cached by content hash."""
    return Path(os.environ.get("TWIN_CACHE_DIR", data_dir() / "cache"))
