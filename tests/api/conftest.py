"""Helpers of the api tests: run a command in-process and keep what it printed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from twin.cli import main


@pytest.fixture
def printed(capsys) -> Callable[..., tuple[int, str]]:
    """Run ``twin ARGS...`` in-process; its exit code and the JSON line it printed on stdout."""

    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main([*argv, "--json"])
        return code, capsys.readouterr().out.strip()

    return run
