"""Capability indices against published answers.

- [qcc-tests] qcc's tests/testthat/test-capability.R (github.com/luca-scr/qcc): the 3 x 4 data set of
  capability_small.csv with specification limits 9.9 / 10.1, expected indices to 6 decimals.
- [qcc-R] qcc's processCapability on the piston rings (phase I, samples 1-25), R output as transcribed
  into mistat's unit tests (mistat/qcc/tests/test_processCapability.py), to 4 significant digits.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from twin.analytics.capability import capability, capability_from_frame, sigma_within
from twin.cli.quality import register
from twin.errors import InputError

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"
QCC_DIR = REALDATA / "qcc_spc_examples"
INDICES = ("cp", "cpk", "cpl", "cpu", "cpm", "pp", "ppk", "ppl", "ppu")


@pytest.fixture(scope="module")
def qcc_dir() -> Path:
    if not QCC_DIR.is_dir():
        pytest.skip(f"real data set not available: {QCC_DIR} is missing (../shared/realdata is not laid out)")
    return QCC_DIR


@pytest.fixture(scope="module")
def small(qcc_dir: Path) -> pl.DataFrame:
    return pl.read_csv(qcc_dir / "capability_small.csv")


def check(result: dict, expected: dict[str, float | None], rel: float) -> None:
    for key, value in expected.items():
        if value is None:
            assert result[key] is None, key
        else:
            assert result[key] == pytest.approx(value, rel=rel), key


@pytest.mark.realdata
def test_capability_small_two_sided_on_target(small: pl.DataFrame) -> None:
    result = capability_from_frame(small, "value", "subgroup", lsl=9.9, usl=10.1)
    # [qcc-tests] "Two-sided on-target case" (target defaults to the midpoint 10.0).
    expected = {
        "cp": 1.372667, "cpl": 1.441300, "cpu": 1.304033, "cpk": 1.304033, "cpm": 1.344463,
        "pp": 1.612598, "ppl": 1.693228, "ppu": 1.531968, "ppk": 1.531968,
    }  # fmt: skip
    check(result, expected, rel=1e-6)
    assert result["target"] == 10.0
    # Cross-check of the within sigma: R̄/d2 with the ranges 0.04, 0.04, 0.07 and d2(4) = 2.059.
    assert result["sigma_within"] == pytest.approx(0.05 / 2.059, rel=1e-12)
    values = small["value"].to_numpy()
    assert result["sigma_overall"] == pytest.approx(np.std(values, ddof=1), rel=1e-12)


@pytest.mark.realdata
def test_capability_small_off_target(small: pl.DataFrame) -> None:
    result = capability_from_frame(small, "value", "subgroup", lsl=9.9, usl=10.1, target=10.02)
    # [qcc-tests] "Two-sided off-target case": only Cpm changes.
    check(result, {"cp": 1.372667, "cpk": 1.304033, "cpm": 1.167834, "pp": 1.612598, "ppk": 1.531968}, rel=1e-6)


@pytest.mark.realdata
def test_capability_small_upper_only(small: pl.DataFrame) -> None:
    result = capability_from_frame(small, "value", "subgroup", usl=10.1, target=10.02)
    # [qcc-tests] "Upper spec only case": Cp, Cp_l, Cpm, Pp, Pp_l are NA.
    expected = {
        "cp": None, "cpl": None, "cpu": 1.304033, "cpk": 1.304033, "cpm": None,
        "pp": None, "ppl": None, "ppu": 1.531968, "ppk": 1.531968,
    }  # fmt: skip
    check(result, expected, rel=1e-6)


@pytest.mark.realdata
def test_capability_small_lower_only(small: pl.DataFrame) -> None:
    result = capability_from_frame(small, "value", "subgroup", lsl=9.9, target=10.02)
    # [qcc-tests] "Lower spec only case".
    expected = {
        "cp": None, "cpl": 1.441300, "cpu": None, "cpk": 1.441300, "cpm": None,
        "pp": None, "ppl": 1.693228, "ppu": None, "ppk": 1.693228,
    }  # fmt: skip
    check(result, expected, rel=1e-6)


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("lsl", "usl", "target", "expected"),
    [
        # [qcc-R] processCapability(q, spec.limits = c(73.95, 74.05)), the qcc vignette's example.
        (73.95, 74.05, None, {"cp": 1.703, "cpl": 1.743, "cpu": 1.663, "cpk": 1.663, "cpm": 1.691}),
        (73.95, 74.05, 74.02, {"cp": 1.703, "cpk": 1.663, "cpm": 0.7856}),
        (73.99, 74.01, None, {"cp": 0.3407, "cpl": 0.3807, "cpu": 0.3006, "cpk": 0.3006, "cpm": 0.3382}),
        (73.99, 74.1, None, {"cp": 1.8736, "cpl": 0.3807, "cpu": 3.3665, "cpk": 0.3807, "cpm": 0.4083}),
    ],
)
def test_pistonrings_capability(
    qcc_dir: Path, lsl: float, usl: float, target: float | None, expected: dict[str, float]
) -> None:
    frame = pl.read_csv(qcc_dir / "pistonrings.csv").filter(pl.col("phase") == "I")
    result = capability_from_frame(frame, "diameter_mm", "sample", lsl=lsl, usl=usl, target=target)
    assert result["n"] == 125
    assert result["mean"] == pytest.approx(74.00118, abs=1e-5)
    assert result["sigma_within"] == pytest.approx(0.009785039, rel=1e-6)
    check(result, expected, rel=5e-4)


def test_individuals_use_the_moving_range() -> None:
    # [qcc-R] viscosity (Montgomery p. 242): qcc(x, type = "xbar.one") std.dev 0.4261651 = MR̄/1.128.
    x = [33.75, 33.05, 34, 33.81, 33.46, 34.02, 33.68, 33.27, 33.49, 33.20, 33.62, 33.00, 33.54, 33.12, 33.84]
    assert sigma_within(x) == pytest.approx(0.4261651, rel=1e-6)
    result = capability(x, lsl=32.0, usl=35.0)
    assert result["sigma_within"] == pytest.approx(0.4261651, rel=1e-6)
    assert result["cp"] == pytest.approx(3.0 / (6 * 0.4261651), rel=1e-6)
    assert result["pp"] == pytest.approx(3.0 / (6 * np.std(x, ddof=1)), rel=1e-12)


def test_one_sided_specs_leave_indices_undefined() -> None:
    values = [10.1, 9.9, 10.0, 10.2, 9.8, 10.05, 9.95]
    upper = capability(values, usl=10.6)
    assert all(upper[k] is None for k in ("cp", "cpl", "cpm", "pp", "ppl"))
    assert upper["cpk"] == upper["cpu"] and upper["ppk"] == upper["ppu"]
    lower = capability(values, lsl=9.4, target=10.0)
    assert all(lower[k] is None for k in ("cp", "cpu", "cpm", "pp", "ppu"))
    assert lower["cpk"] == lower["cpl"] and lower["ppk"] == lower["ppl"]
    assert lower["target"] == 10.0


def test_subgroup_labels_may_be_any_order_or_type() -> None:
    values = [1.0, 5.0, 2.0, 7.0, 3.0, 4.0]
    labels = ["a", "b", "a", "b", "c", "c"]
    # ranges: a 1, b 2, c 1 -> R̄ = 4/3, d2(2) = 1.128
    assert sigma_within(values, labels) == pytest.approx((4 / 3) / 1.128)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({}, "give --lsl and/or --usl"),
        ({"lsl": 2.0, "usl": 1.0}, r"lsl \(2\) must be below usl \(1\)"),
        ({"lsl": float("nan")}, "lsl must be a finite number"),
    ],
)
def test_bad_specs_are_input_errors(kwargs: dict, pattern: str) -> None:
    with pytest.raises(InputError, match=pattern):
        capability([1.0, 2.0, 3.0], **kwargs)


def test_bad_frames_are_input_errors() -> None:
    frame = pl.DataFrame({"g": [1, 1, 2], "v": [1.0, float("nan"), 3.0]})
    with pytest.raises(InputError, match=r"'width' not found in parts.csv; available: g, v"):
        capability_from_frame(frame, "width", lsl=0.0, source="parts.csv")
    with pytest.raises(InputError, match=r"'v'.*row 2"):
        capability_from_frame(frame, "v", lsl=0.0)
    frame = pl.DataFrame({"g": [1, 1, 2], "v": [1.0, 2.0, 3.0]})
    with pytest.raises(InputError, match=r"g=2.*1 value"):
        capability_from_frame(frame, "v", "g", lsl=0.0)


def test_constant_values_give_none_with_a_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = capability([5.0, 5.0, 5.0], lsl=4.0, usl=6.0)
    assert caught and "sigma is 0" in str(caught[0].message)
    assert all(result[k] is None for k in INDICES)


def test_cli_capability_json_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "parts.csv"
    pl.DataFrame({"g": [1, 1, 2, 2, 3, 3], "v": [1.0, 1.2, 0.9, 1.1, 1.0, 1.05]}).write_csv(path)
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--warehouse", default=None)
    parent.add_argument("--json", action="store_true")
    parent.add_argument("--debug", action="store_true")
    parser = argparse.ArgumentParser(prog="twin")
    register(parser.add_subparsers(dest="command"), parent)

    args = parser.parse_args(
        ["quality", "capability", str(path), "--value", "v", "--subgroup", "g", "--usl", "2", "--json"]
    )
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["cp"] is None and out["cpm"] is None and isinstance(out["cpk"], float)
    assert set(INDICES) | {"sigma_within", "sigma_overall"} <= set(out)

    args = parser.parse_args(["quality", "capability", str(path), "--value", "v", "--lsl", "0", "--usl", "2"])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "Cpk" in text and "sigma within" in text
