from __future__ import annotations

import pytest

from twin.scenarios.load import load_scenario
from twin.sim.runner import prepare

_PREPARED: dict = {}


@pytest.fixture(scope="session")
def prepared():
    """Prepared inputs by (scenario id, horizon days, changes): physics planned once per session."""

    def get(scenario_id: str, days: float, **changes):
        key = (scenario_id, days, repr(sorted(changes.items())))
        if key not in _PREPARED:
            _PREPARED[key] = prepare(load_scenario(scenario_id, changes or None), days)
        return _PREPARED[key]

    return get
