"""``twin.api`` names every public function and result type once, and each resolves to what it names."""

from __future__ import annotations

import importlib
import inspect
import types

import pytest

import twin.api as api


@pytest.mark.parametrize("name", sorted(api._EXPORTS))
def test_every_export_resolves_to_a_function_or_a_type_never_a_module(name):
    value = getattr(api, name)
    assert not isinstance(value, types.ModuleType)
    home = importlib.import_module(f"twin.api.{api._EXPORTS[name]}")
    # defined there, or a domain type that module re-exports (CellPlan is physics data)
    assert value.__name__ == name and getattr(home, name) is value
    assert name in dir(api)


@pytest.mark.parametrize("name", sorted(n for n in api._EXPORTS if n[0].islower()))
def test_functions_take_typed_keywords_and_document_them(name):
    function = getattr(api, name)
    signature = inspect.signature(function)
    assert all(p.annotation is not inspect.Parameter.empty for p in signature.parameters.values())
    doc = inspect.getdoc(function) or ""
    assert "Args:" in doc and "Returns:" in doc and "Raises:" in doc


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'no_such_capability'"):
        api.no_such_capability  # noqa: B018
