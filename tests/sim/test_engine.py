"""The compiled build of the production model against its source, and which build runs."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from twin.sim import engine, model


def _compiled():
    try:
        return importlib.import_module(engine.COMPILED_MODULE)
    except ImportError:
        return None


@pytest.mark.skipif(_compiled() is None, reason="no compiled build here (pip install found no C compiler)")
@pytest.mark.parametrize("scenario_id", ["baseline-v2", "second-screwdriver-v2", "inspection-sampling-v2"])
def test_compiled_build_gives_the_interpreted_record_to_the_bit(prepared, scenario_id):
    inputs = prepared(scenario_id, 7.0)
    compiled = _compiled()
    ours = dataclasses.asdict(compiled.ProductionModel(inputs, 11, 2).run())
    source = dataclasses.asdict(model.ProductionModel(inputs, 11, 2).run())
    assert ours["unit_status"], "the run produced no units"
    assert ours == source


def test_a_stale_compiled_build_is_not_run(monkeypatch):
    monkeypatch.setattr(engine, "source_sha256", lambda: "0" * 64)
    module, build = engine.select_build()
    assert module is model
    assert build.startswith("interpreted (")


def test_the_environment_can_force_the_source(monkeypatch):
    monkeypatch.setenv("CELLTWIN_INTERPRETED", "1")
    module, build = engine.select_build()
    assert module is model and "CELLTWIN_INTERPRETED" in build


@pytest.mark.skipif(_compiled() is None, reason="no compiled build here (pip install found no C compiler)")
def test_a_current_compiled_build_is_run():
    module, build = engine.select_build()
    assert build == "compiled" and module.SOURCE_SHA256 == engine.source_sha256()
