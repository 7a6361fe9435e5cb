"""Shared fixtures: the sample cell, a planner with an in-memory cache, paths to shared real data."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from twin.cell.load import load_cell

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"


@pytest.fixture(scope="session", autouse=True)
def isolated_data_dir(tmp_path_factory):
    """Tests never read or write the user's ``data/``.

    A warehouse or calibrations left there by ``twin demo`` would change what the commands under test
    compute (a scenario's twin error, a replay's parameter set). The physics cache is keyed by content
    hash, so it stays shared to keep the suite fast.
    """
    from twin.paths import cache_dir

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TWIN_CACHE_DIR", str(cache_dir().resolve()))
        mp.setenv("TWIN_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        yield


@pytest.fixture(scope="session")
def sample_cell():
    return load_cell()


@pytest.fixture
def planner(sample_cell):
    from twin.physics.cache import PhysicsCache
    from twin.physics.evaluate import CellPlanner

    with CellPlanner(sample_cell, cache=PhysicsCache(persist=False)) as p:
        yield p


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real data not present at {REALDATA} (a fresh clone has no ../shared)")
    return REALDATA


REQUIRE_SYSTEM = "CELLTWIN_REQUIRE_SYSTEM"
"""Set to 1 (as ``.ci/run`` does after installing them) to turn a missing system program into a failure."""


@pytest.fixture
def system_program() -> Callable[[str, str], Path]:
    """Find a system program (``/usr/bin/chromium``, ``mosquitto``) or skip the test with the reason.

    Under ``CELLTWIN_REQUIRE_SYSTEM=1`` a missing program fails the test instead: CI installs every
    program the tests need, so there a skip would hide a broken install step.
    """

    def find(program: str, install_hint: str) -> Path:
        found = Path(program) if os.path.isabs(program) and Path(program).exists() else None
        if found is None and not os.path.isabs(program):
            where = shutil.which(program)
            found = Path(where) if where else None
        if found is not None:
            return found
        message = f"{program} is not installed ({install_hint}); this test needs it"
        if os.environ.get(REQUIRE_SYSTEM) == "1":
            pytest.fail(f"{message}, and {REQUIRE_SYSTEM}=1 forbids skipping it")
        pytest.skip(message)

    return find
