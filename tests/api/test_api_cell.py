"""``check_cell`` and ``render_cell`` give what ``twin cell check|render --json`` print."""

from __future__ import annotations

import json

import pytest

from twin.api import check_cell, plan_cell, render_cell
from twin.errors import InputError

pytestmark = pytest.mark.physics


def test_check_cell_equals_the_command(sample_cell, printed):
    check = check_cell(sample_cell)
    code, out = printed("cell", "check")
    assert json.dumps(check.to_dict()) == out
    assert code == (0 if check.feasible else 3)
    assert check.cell_id == sample_cell.cell.id
    operations = check.operations
    assert operations.height == sum(len(v.operations) for v in check.variants)
    first = check.to_dict()["variants"][0]
    assert operations.filter(variant=first["variant"])["duration_s"].sum() == pytest.approx(first["cycle_time_s"])


def test_render_cell_equals_the_command(tmp_path, printed):
    out = tmp_path / "cell.png"
    picture = render_cell(None, out, width=160, height=100)
    assert picture.path == out and out.stat().st_size > 0
    code, printed_json = printed("cell", "render", "--out", str(out), "--width", "160", "--height", "100")
    assert code == 0 and json.dumps(picture.to_dict()) == printed_json


def test_render_cell_wants_a_png_and_overrides_want_a_file(sample_cell, tmp_path):
    with pytest.raises(InputError, match=r"\.png"):
        render_cell(None, tmp_path / "cell.jpg")
    with pytest.raises(InputError, match="overrides apply when a cell file is loaded"):
        check_cell(sample_cell, overrides=["cell.takt_s=10"])
    with pytest.raises(InputError, match="overrides apply when a cell file is loaded"):
        plan_cell(sample_cell, overrides=["cell.takt_s=10"])  # refused, not silently ignored
