"""twin.api.quality: charts and capability of a file, the objects ``twin quality spc|capability --json`` print."""

from __future__ import annotations

import contextlib
import io
import json

import polars as pl
import pytest

from twin.api import capability, read_table, spc
from twin.errors import InputError


def command_json(*argv: str) -> dict:
    from twin.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*argv, "--json"]) == 0
    return json.loads(out.getvalue())


@pytest.fixture
def parts(tmp_path):
    path = tmp_path / "parts.parquet"
    values = [1.0, 1.2, 0.9, 1.1, 1.0, 1.05, 1.3, 0.95, 1.02, 1.4]
    pl.DataFrame({"g": [i // 2 for i in range(10)], "v": values}).write_parquet(path)
    return path


def test_spc_and_capability_equal_the_commands(parts):
    charts = spc(parts, "xbar-r", "v", subgroup="g", rules="nelson")
    assert charts.to_dict() == command_json("quality", "spc", str(parts), "--chart", "xbar-r", "--value", "v",
                                            "--subgroup", "g", "--rules", "nelson")  # fmt: skip
    assert [c["name"] for c in charts.charts][:1] == ["xbar"] and len(charts.charts[0]["points"]) == 5
    cap = capability(parts, "v", subgroup="g", lsl=0.5, usl=1.5)
    expected = command_json("quality", "capability", str(parts), "--value", "v", "--subgroup", "g",
                            "--lsl", "0.5", "--usl", "1.5")  # fmt: skip
    assert cap.to_dict() == expected and 0 < expected["cpk"] < expected["cp"]


def test_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_table(tmp_path / "none.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1\n1,2,3\n")
    with pytest.raises(InputError, match="cannot read"):
        spc(bad, "imr", "a")
