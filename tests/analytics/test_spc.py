"""Control charts and run rules against published answers.

Sources of the expected numbers (each test names its own):

- [qcc-R] R package qcc's printed output for its Montgomery data sets, as transcribed into the
  unit tests of ``mistat`` (Kenett, Zacks & Gedeck, ``mistat/qcc/tests/test_comparison_with_R.py``,
  "TestComparisonWithR"), with the R calls in their docstrings.
- [qcc-tests] qcc's own unit tests, ``tests/testthat/test-rules.R`` and ``test-qcc.R``
  (github.com/luca-scr/qcc).
- [Montgomery] D.C. Montgomery, *Introduction to Statistical Quality Control*: Example 7.1 (orange
  juice p chart), Example 7.3 (circuit boards c chart), the personal-computer u chart example, and
  Appendix VI (constants).

The data under ../shared/realdata are read in place (never copied); those tests skip when absent.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats
from scipy.integrate import trapezoid

from twin.analytics import spc
from twin.analytics.spc import (
    CONSTANTS,
    c4,
    control_chart,
    detect_violations,
    imr,
    xbar_r,
)
from twin.cli.quality import register
from twin.errors import InputError

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"
QCC_DIR = REALDATA / "qcc_spc_examples"


@pytest.fixture(scope="module")
def qcc_dir() -> Path:
    if not QCC_DIR.is_dir():
        pytest.skip(f"real data set not available: {QCC_DIR} is missing (../shared/realdata is not laid out)")
    return QCC_DIR


def by_name(charts: list[dict], name: str) -> dict:
    return next(chart for chart in charts if chart["name"] == name)


def indices(chart: dict, rules: set[str] | None = None) -> list[int]:
    return [v["index"] for v in chart["violations"] if rules is None or v["rule"] in rules]


# --------------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------------


# Montgomery, Introduction to SQC, Appendix VI "Factors for constructing variables control charts".
MONTGOMERY_APPENDIX_VI = {
    2: {"A2": 1.880, "A3": 2.659, "c4": 0.7979, "B3": 0.0, "B4": 3.267, "D3": 0.0, "D4": 3.267},
    5: {"A2": 0.577, "A3": 1.427, "c4": 0.9400, "B3": 0.0, "B4": 2.089, "D3": 0.0, "D4": 2.114},
    7: {"A2": 0.419, "A3": 1.182, "c4": 0.9594, "B3": 0.118, "B4": 1.882, "D3": 0.076, "D4": 1.924},
    10: {"A2": 0.308, "A3": 0.975, "c4": 0.9727, "B3": 0.284, "B4": 1.716, "D3": 0.223, "D4": 1.777},
    25: {"A2": 0.153, "A3": 0.606, "c4": 0.9896, "B3": 0.565, "B4": 1.435, "D3": 0.459, "D4": 1.541},
}


@pytest.mark.parametrize("n", sorted(MONTGOMERY_APPENDIX_VI))
def test_constants_match_montgomery_appendix(n: int) -> None:
    for key, published in MONTGOMERY_APPENDIX_VI[n].items():
        # The table is rounded to its last digit; factors derived from rounded d2/d3 may differ by one unit.
        assert CONSTANTS[n][key] == pytest.approx(published, abs=1.5e-3), (n, key)


def test_c4_is_exact() -> None:
    assert c4(2) == pytest.approx(math.sqrt(2 / math.pi), rel=1e-12)
    assert c4(3) == pytest.approx(math.sqrt(math.pi) / 2, rel=1e-12)
    assert c4(200) == pytest.approx(1 - 1 / (4 * 200), abs=1e-5)  # no overflow for large n


def test_d2_d3_tables_agree_with_the_range_distribution() -> None:
    """Independent check of the typed tables: integrate the range distribution numerically."""
    x = np.linspace(-8.0, 8.0, 1601)
    w = np.linspace(0.0, 12.0, 1201)
    phi = stats.norm.pdf(x)
    gap = np.clip(stats.norm.cdf(x[None, :] + w[:, None]) - stats.norm.cdf(x)[None, :], 0.0, 1.0)
    for n in range(2, 26):
        cdf = n * trapezoid(phi[None, :] * gap ** (n - 1), x, axis=1)
        mean = trapezoid(1.0 - cdf, w)
        sd = math.sqrt(2.0 * trapezoid(w * (1.0 - cdf), w) - mean**2)
        assert spc.d2(n) == pytest.approx(mean, abs=6e-4), n  # table has 3 decimals
        assert spc.d3(n) == pytest.approx(sd, abs=6e-5), n  # table has 4 decimals


def test_table_bounds_are_input_errors() -> None:
    with pytest.raises(InputError, match="2..25"):
        spc.d2(26)
    with pytest.raises(InputError, match="at least 2"):
        c4(1)


# --------------------------------------------------------------------------------------------------
# Variables charts on the qcc data
# --------------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_pistonrings_xbar_r_phase_one_and_two(qcc_dir: Path) -> None:
    frame = pl.read_csv(qcc_dir / "pistonrings.csv")
    charts = control_chart(frame, "xbar-r", "diameter_mm", "sample", phase_col="phase", phase_value="I")
    xbar, r = by_name(charts, "xbar"), by_name(charts, "r")
    # [qcc-R] qcc(diameter[1:25,], type="xbar"): center 74.00118, std.dev 0.009785039, limits 73.98805/74.0143
    assert xbar["center"] == pytest.approx(74.00118, abs=1e-5)
    assert xbar["lcl"] == pytest.approx(73.98805, abs=1e-5)
    assert xbar["ucl"] == pytest.approx(74.0143, abs=1e-5)
    assert (xbar["ucl"] - xbar["center"]) / 3 * math.sqrt(5) == pytest.approx(0.009785039, rel=1e-6)
    # [qcc-R] qcc(diameter[1:25,], type="R"): center 0.02276, limits 0 / 0.04812533
    assert r["center"] == pytest.approx(0.02276, rel=1e-9)
    assert r["lcl"] == 0.0
    assert r["ucl"] == pytest.approx(0.04812533, rel=2e-5)
    assert len(xbar["points"]) == len(r["points"]) == 40
    # Phase II, samples 26-40 against the phase I limits: samples 37, 38 and 39 plot above the UCL
    # (qcc vignette, qcc(diameter[1:25,], type="xbar", newdata=diameter[26:40,]); Montgomery's
    # piston-ring phase II chart).
    assert indices(xbar) == [37, 38, 39]
    assert {v["rule"] for v in xbar["violations"]} == {"beyond-limits"}
    assert indices(r) == []


@pytest.mark.realdata
def test_pistonrings_xbar_s(qcc_dir: Path) -> None:
    frame = pl.read_csv(qcc_dir / "pistonrings.csv").filter(pl.col("phase") == "I")
    charts = control_chart(frame, "xbar-s", "diameter_mm", "sample")
    xbar, s = by_name(charts, "xbar"), by_name(charts, "s")
    # [qcc-R] qcc(diameter[1:25,], type="S"): center 0.009240037, std.dev 0.009829977, limits 0 / 0.019302416
    assert s["center"] == pytest.approx(0.009240037, rel=1e-6)
    assert s["lcl"] == 0.0
    assert s["ucl"] == pytest.approx(0.019302416, rel=1e-6)
    # [Montgomery] X̄-S limits x̿ ± A3·S̄ and B4·S̄ with the Appendix VI factors for n = 5.
    assert xbar["ucl"] == pytest.approx(74.00118 + 1.427 * 0.009240037, abs=1e-5)
    assert xbar["lcl"] == pytest.approx(74.00118 - 1.427 * 0.009240037, abs=1e-5)
    assert s["ucl"] == pytest.approx(2.089 * 0.009240037, rel=5e-4)


@pytest.mark.realdata
def test_pistonrings_variable_subgroup_sizes(qcc_dir: Path) -> None:
    # [qcc-R] "variable control limits": out <- c(9, 10, 30, 35, 45, 64, 65, 74, 75, 85, 99, 100)
    # (rows of pistonrings), then qcc(diameter[1:25,], type = "xbar" / "R" / "S").
    out = [9, 10, 30, 35, 45, 64, 65, 74, 75, 85, 99, 100]
    frame = (
        pl.read_csv(qcc_dir / "pistonrings.csv")
        .with_row_index("row", offset=1)
        .filter(~pl.col("row").is_in(out) & (pl.col("sample") <= 25))
    )
    xbar = by_name(control_chart(frame, "xbar-r", "diameter_mm", "sample"), "xbar")
    r = by_name(control_chart(frame, "xbar-r", "diameter_mm", "sample"), "r")
    s = by_name(control_chart(frame, "xbar-s", "diameter_mm", "sample"), "s")
    assert xbar["center"] == pytest.approx(74.00075, abs=1e-5)
    assert isinstance(xbar["lcl"], list) and len(xbar["lcl"]) == 25
    for i, (lcl, ucl) in enumerate([(73.98753, 74.01398), (73.98368, 74.01782), (73.98753, 74.01398)]):
        assert xbar["lcl"][i] == pytest.approx(lcl, abs=1e-5)
        assert xbar["ucl"][i] == pytest.approx(ucl, abs=1e-5)
    assert (xbar["ucl"][0] - xbar["center"]) / 3 * math.sqrt(5) == pytest.approx(0.009856701, rel=1e-6)
    assert r["center"] == pytest.approx(0.02230088, rel=1e-6)
    assert r["lcl"] == 0.0
    for i, ucl in enumerate([0.04785198, 0.04857007, 0.04785198]):
        assert r["ucl"][i] == pytest.approx(ucl, rel=5e-5)
    assert s["center"] == pytest.approx(0.00938731, rel=1e-6)
    for i, ucl in enumerate([0.01955302, 0.02318885, 0.01955302]):
        assert s["ucl"][i] == pytest.approx(ucl, rel=1e-6)


@pytest.mark.realdata
def test_viscosity_individuals_phase_one(qcc_dir: Path) -> None:
    frame = pl.read_csv(qcc_dir / "viscosity.csv")
    charts = control_chart(frame, "imr", "viscosity", rules="western-electric", phase_col="phase")
    i_chart = by_name(charts, "i")
    phase_one = i_chart["points"][:20]
    assert len(phase_one) == 20
    # [qcc-tests] test-qcc.R "xbar.one charts produce the correct number of violations": one
    # violation (default rules = Western Electric 1 and 4) on viscosity[trial]; qcc's example says
    # batch 4 is out of control (a process temperature controller failure).
    in_phase_one = [v for v in i_chart["violations"] if v["index"] <= 20]
    assert [v for v in in_phase_one if v["rule"] in {"western-electric-1", "western-electric-4"}] == [
        {"index": 4, "rule": "western-electric-1"}
    ]
    mr = by_name(charts, "mr")
    assert mr["points"][0] is None and len(mr["points"]) == 35


def test_imr_montgomery_viscosity_and_antifreeze() -> None:
    # [qcc-R] viscosity data (Montgomery, p. 242), qcc(x, type="xbar.one"):
    # center 33.52333, std.dev 0.4261651, limits 32.24484 / 34.80183.
    x = [33.75, 33.05, 34, 33.81, 33.46, 34.02, 33.68, 33.27, 33.49, 33.20, 33.62, 33.00, 33.54, 33.12, 33.84]
    i_chart, mr = imr(x)
    assert i_chart["center"] == pytest.approx(33.52333, abs=1e-5)
    assert i_chart["lcl"] == pytest.approx(32.24484, abs=1e-5)
    assert i_chart["ucl"] == pytest.approx(34.80183, abs=1e-5)
    assert mr["center"] == pytest.approx(0.4261651 * 1.128, rel=1e-6)  # MR̄ = sigma · d2(2)
    assert mr["lcl"] == 0.0
    # [qcc-R] antifreeze water content (Wetherill and Brown, 1991, p. 120):
    # center 2.569706, std.dev 0.1794541, limits 2.031344 / 3.108068, no violations.
    water = [2.23, 2.53, 2.62, 2.63, 2.58, 2.44, 2.49, 2.34, 2.95, 2.54, 2.60, 2.45, 2.17, 2.58, 2.57, 2.44, 2.38]
    water += [2.23, 2.23, 2.54, 2.66, 2.84, 2.81, 2.39, 2.56, 2.70, 3.00, 2.81, 2.77, 2.89, 2.54, 2.98, 2.35, 2.53]
    i_chart, _ = imr(water)
    assert i_chart["center"] == pytest.approx(2.569706, abs=1e-6)
    assert i_chart["lcl"] == pytest.approx(2.031344, abs=1e-6)
    assert i_chart["ucl"] == pytest.approx(3.108068, abs=1e-6)
    assert i_chart["violations"] == []


# --------------------------------------------------------------------------------------------------
# Attribute charts on the qcc data
# --------------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_orangejuice_p_chart(qcc_dir: Path) -> None:
    frame = pl.read_csv(qcc_dir / "orangejuice.csv")
    phase_one = frame.filter(pl.col("phase") == "I")
    p = control_chart(phase_one, "p", "defectives", size="size")[0]
    # [Montgomery] Example 7.1 / [qcc-R] qcc(D[trial], sizes=size[trial], type="p"):
    # p̄ = 0.2313333, limits 0.05242755 / 0.4102391, samples 15 and 23 above the UCL.
    assert p["center"] == pytest.approx(0.2313333, rel=1e-6)
    assert p["lcl"] == pytest.approx(0.05242755, rel=1e-6)
    assert p["ucl"] == pytest.approx(0.4102391, rel=1e-6)
    assert indices(p) == [15, 23]
    # Revised limits without samples 15 and 23: p̄ = 0.215, limits 0.04070284 / 0.3892972, and
    # sample 21 (point 20 of the reduced series) now exceeds the UCL ([Montgomery], [qcc-R]).
    revised = control_chart(phase_one.filter(~pl.col("sample").is_in([15, 23])), "p", "defectives", size="size")[0]
    assert revised["center"] == pytest.approx(0.215, rel=1e-9)
    assert revised["lcl"] == pytest.approx(0.04070284, rel=1e-6)
    assert revised["ucl"] == pytest.approx(0.3892972, rel=1e-6)
    assert indices(revised) == [20]
    # The phase column gives the same limits, applied to all 54 samples.
    both = control_chart(frame, "p", "defectives", size="size", phase_col="phase")[0]
    assert both["ucl"] == p["ucl"] and len(both["points"]) == 54
    # np chart: the p chart's limits times n ([qcc-tests] "p and np helpers remain internally consistent").
    npc = control_chart(phase_one, "np", "defectives", size="size")[0]
    assert npc["center"] == pytest.approx(50 * 0.2313333, rel=1e-6)
    assert npc["ucl"] == pytest.approx(50 * 0.4102391, rel=1e-6)
    assert npc["lcl"] == pytest.approx(50 * 0.05242755, rel=1e-6)
    assert indices(npc) == [15, 23]


@pytest.mark.realdata
def test_orangejuice2_p_chart(qcc_dir: Path) -> None:
    frame = pl.read_csv(qcc_dir / "orangejuice2.csv")
    p = control_chart(frame.filter(pl.col("phase") == "I"), "p", "defectives", size="size")[0]
    # [qcc-R] qcc(D[trial], sizes=size[trial], type="p") on orangejuice2: 0.1108333, limits 0 / 0.2440207
    assert p["center"] == pytest.approx(0.1108333, rel=1e-6)
    assert p["lcl"] == 0.0
    assert p["ucl"] == pytest.approx(0.2440207, rel=1e-6)
    assert p["violations"] == []


@pytest.mark.realdata
def test_circuit_c_chart(qcc_dir: Path) -> None:
    frame = pl.read_csv(qcc_dir / "circuit.csv")
    c = control_chart(frame.filter(pl.col("phase") == "I"), "c", "nonconformities", size="size")[0]
    # [Montgomery] Example 7.3: c̄ = 516/26 = 19.85, UCL = 33.22, LCL = 6.48; sample 6 (5 nonconformities)
    # below the LCL and sample 20 (39) above the UCL.
    assert c["center"] == pytest.approx(516 / 26, rel=1e-12)
    assert c["center"] == pytest.approx(19.85, abs=0.005)
    assert c["ucl"] == pytest.approx(33.22, abs=0.01)
    assert c["lcl"] == pytest.approx(6.48, abs=0.01)
    assert indices(c) == [6, 20]
    assert c["points"][5] == 5 and c["points"][19] == 39


@pytest.mark.realdata
def test_circuit_u_chart_phase_two(qcc_dir: Path) -> None:
    # [qcc-tests] test-qcc.R "u charts with newdata detect expected violations": circuit without samples
    # 6 and 20, limits from the trial samples, newdata the rest, default rules (Western Electric 1 and 4):
    # exactly one violation.
    frame = pl.read_csv(qcc_dir / "circuit.csv").filter(~pl.col("sample").is_in([6, 20]))
    u = control_chart(
        frame, "u", "nonconformities", size="size", rules="western-electric", phase_col="phase", phase_value="I"
    )[0]
    assert len(u["points"]) == 44
    flagged = {v["index"] for v in u["violations"] if v["rule"] in {"western-electric-1", "western-electric-4"}}
    assert len(flagged) == 1


@pytest.mark.realdata
def test_pcmanufact_u_chart(qcc_dir: Path) -> None:
    frame = pl.read_csv(qcc_dir / "pcmanufact.csv")
    u = control_chart(frame, "u", "nonconformities", size="size")[0]
    # [Montgomery] personal computers, n = 5: ū = 1.93, UCL = 3.79, LCL = 0.07; no point out of control.
    assert u["center"] == pytest.approx(1.93, abs=1e-9)
    assert u["ucl"] == pytest.approx(3.79, abs=0.005)
    assert u["lcl"] == pytest.approx(0.07, abs=0.005)
    assert u["violations"] == []


# --------------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------------

# Expected violating indices per case of rules_sequences.csv (centre 0, sigma 1), from [qcc-tests]
# tests/testthat/test-rules.R (WER1..4, PREC_*, NEL1..8) and test-qcc.R ("qcc uses Western Electric
# rules by default": WER4_b). The two ALT_* cases are not in those tests; their answers follow from
# the rule definitions in qcc's R/rules.R: a point ON the centre line is on neither side, so 0/1
# alternation never makes an 8-point one-sided run (ALT_WER4: none), while 15 alternating points
# complete Nelson 4 at points 14 and 15. NEL8_b (eight points at +1.2 sigma, all one side) is not a
# Nelson 8 "mixture" (qcc expects numeric()).
RULE_CASES: dict[str, list[int]] = {
    "WER1_a": [2, 3],
    "WER2_a": [4],
    "WER3_a": [6],
    "WER4_a": [8],
    "PREC_WER4": [8],
    "PREC_WER3": [5, 6, 7, 8],
    "PREC_WER2": [3, 4, 5, 6, 7, 8],
    "PREC_WER1": [8],
    "WER4_b": [8],
    "ALT_WER4": [],
    "ALT_NEL4": [14, 15],
    "NEL1": [2, 3],
    "NEL2": [9, 10, 19, 20],
    "NEL3": [6, 7, 13, 14],
    "NEL4": [14, 15],
    "NEL5": [4, 7],
    "NEL6": [5, 10],
    "NEL7": [15, 16],
    "NEL8_a": [8],
    "NEL8_b": [],
}


@pytest.fixture(scope="module")
def rule_sequences(qcc_dir: Path) -> pl.DataFrame:
    return pl.read_csv(qcc_dir / "rules_sequences.csv")


@pytest.mark.realdata
def test_rules_file_cases_are_all_checked(rule_sequences: pl.DataFrame) -> None:
    assert set(rule_sequences["case_id"].unique()) == set(RULE_CASES)


@pytest.mark.realdata
@pytest.mark.parametrize("case_id", sorted(RULE_CASES))
def test_rules_sequences(rule_sequences: pl.DataFrame, case_id: str) -> None:
    case = rule_sequences.filter(pl.col("case_id") == case_id).sort("index_1based")
    assert case["index_1based"].to_list() == list(range(1, case.height + 1))
    rule_set = case["rule_set"][0]
    rule = f"{rule_set}-{case['rule'][0]}"
    found = detect_violations(case["value"].to_numpy(), 0.0, 1.0, rules=rule_set)
    assert [v["index"] for v in found if v["rule"] == rule] == RULE_CASES[case_id]


def test_nine_above_center_is_nelson_two_at_the_ninth() -> None:
    assert detect_violations([0.5] * 9, 0.0, 1.0, rules="nelson") == [{"index": 9, "rule": "nelson-2"}]
    assert detect_violations([0.5] * 8, 0.0, 1.0, rules="nelson") == []
    assert detect_violations([-0.5] * 8, 0.0, 1.0, rules="western-electric") == [
        {"index": 8, "rule": "western-electric-4"}
    ]
    assert detect_violations([-0.5] * 8, 0.0, 1.0) == []  # no rule set: beyond limits only


def test_every_nelson_rule_fires_on_its_pattern() -> None:
    patterns = {
        "nelson-1": ([0, 0, 3.5], [3]),
        "nelson-3": ([-0.5, -0.4, -0.3, -0.2, -0.1, 0.0], [6]),
        "nelson-4": ([0.1 * (-1) ** i for i in range(14)], [14]),
        "nelson-5": ([2.5, 0.0, -0.1, -2.2, -2.6], [5]),
        "nelson-6": ([-1.1, -1.2, 0.5, -1.3, -1.4], [5]),
        "nelson-7": ([0.2 * (-1) ** i for i in range(15)], [15]),
        "nelson-8": ([1.5, -1.5] * 4, [8]),
    }
    for rule, (points, expected) in patterns.items():
        found = detect_violations(points, 0.0, 1.0, rules="nelson")
        assert [v["index"] for v in found if v["rule"] == rule] == expected, rule


def test_zones_are_per_point_with_varying_sigma() -> None:
    points = [0.0, 2.5, 0.0, 1.2]
    # Point 4 is beyond 2 sigma only for its own, smaller sigma.
    assert detect_violations(points, 0.0, [1.0, 1.0, 1.0, 0.5], rules="western-electric") == [
        {"index": 4, "rule": "western-electric-2"}
    ]
    assert detect_violations(points, 0.0, 1.0, rules="western-electric") == []


def test_rule_one_uses_the_clipped_limits_and_is_strict() -> None:
    found = detect_violations([0.0, 3.0, -3.0, 3.01], 0.0, 1.0, lcl=0.0, ucl=3.0)
    assert found == [{"index": 3, "rule": "beyond-limits"}, {"index": 4, "rule": "beyond-limits"}]


def test_dispersion_chart_gets_beyond_limits_only() -> None:
    # Nine large ranges then small ones: nelson-2 would fire on the R chart, but it gets beyond-limits only.
    groups = [[0.0, 2.0]] * 9 + [[0.0, 0.5]] * 16
    xbar, r = xbar_r(groups, rules="nelson")
    assert r["violations"] == []
    assert detect_violations(r["points"], r["center"], 1.0, ucl=99, lcl=-99, rules="nelson")[0]["rule"] == "nelson-2"
    assert all(v["rule"].startswith("nelson-") for v in xbar["violations"])


def test_phase_one_mask_sets_the_limits() -> None:
    x = [10.0, 10.2, 9.8, 10.1, 9.9, 10.0, 13.0, 13.5]
    i_all, _ = imr(x)
    i_base, _ = imr(x, base=[True] * 6 + [False] * 2)
    assert i_base["center"] == pytest.approx(np.mean(x[:6]))
    assert i_base["ucl"] == pytest.approx(np.mean(x[:6]) + 3 * np.mean(np.abs(np.diff(x[:6]))) / 1.128)
    assert [v["index"] for v in i_base["violations"]] == [7, 8]
    assert i_all["center"] != i_base["center"]


# --------------------------------------------------------------------------------------------------
# Limits shape, clipping, JSON safety
# --------------------------------------------------------------------------------------------------


def test_limits_are_scalars_for_equal_sizes_and_lists_otherwise() -> None:
    frame = pl.DataFrame({"d": [3, 5, 4, 6], "n": [50, 50, 50, 50]})
    p = control_chart(frame, "p", "d", size="n")[0]
    assert isinstance(p["lcl"], float) and isinstance(p["ucl"], float)
    p = control_chart(frame.with_columns(pl.Series("n", [50, 60, 40, 50])), "p", "d", size="n")[0]
    assert isinstance(p["ucl"], list) and len(p["ucl"]) == 4
    assert p["ucl"][1] < p["ucl"][0] < p["ucl"][2]


def test_lower_limits_are_clipped_at_zero() -> None:
    c = control_chart(pl.DataFrame({"k": [1, 0, 2, 1]}), "c", "k")[0]
    assert c["center"] == 1.0 and c["lcl"] == 0.0 and c["ucl"] == pytest.approx(4.0)
    u = control_chart(pl.DataFrame({"k": [1, 0, 2, 1], "n": [2, 2, 2, 2]}), "u", "k", size="n")[0]
    assert u["lcl"] == 0.0


def test_attribute_rows_are_summed_per_subgroup() -> None:
    frame = pl.DataFrame({"day": ["a", "a", "a", "a", "b", "b", "b", "b"], "bad": [True, False, False, False] * 2})
    p = control_chart(frame, "p", "bad", subgroup="day")[0]
    assert p["points"] == [0.25, 0.25] and p["center"] == 0.25


def test_chart_output_is_json_safe() -> None:
    charts = imr([1.0, 2.0, 1.5, 1.7])
    text = json.dumps({"charts": charts}, allow_nan=False)
    assert json.loads(text)["charts"][1]["points"][0] is None
    for chart in charts:
        assert type(chart["center"]) is float
        assert all(p is None or type(p) is float for p in chart["points"])


# --------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------


def test_missing_column_names_file_column_and_options() -> None:
    frame = pl.DataFrame({"sample": [1, 1], "diameter_mm": [1.0, 2.0]})
    with pytest.raises(InputError) as err:
        control_chart(frame, "xbar-r", "diameter", "sample", source="rings.csv")
    message = str(err.value)
    assert "'diameter'" in message and "rings.csv" in message and "sample, diameter_mm" in message


def test_non_numeric_and_missing_values_name_the_row() -> None:
    frame = pl.DataFrame({"v": ["1.0", "2.0", "oops", "3"]})
    with pytest.raises(InputError, match=r"'v'.*not numeric.*row 3.*oops"):
        control_chart(frame, "imr", "v", source="x.csv")
    frame = pl.DataFrame({"v": [1.0, None, 2.0]})
    with pytest.raises(InputError, match=r"row 2"):
        control_chart(frame, "imr", "v")
    frame = pl.DataFrame({"v": [1.0, 2.0, float("nan")]})
    with pytest.raises(InputError, match=r"row 3"):
        control_chart(frame, "imr", "v")


def test_subgroup_of_one_is_rejected_for_xbar_r() -> None:
    frame = pl.DataFrame({"g": [1, 1, 2], "v": [1.0, 2.0, 3.0]})
    with pytest.raises(InputError, match=r"g=2.*only one value"):
        control_chart(frame, "xbar-r", "v", "g")
    with pytest.raises(InputError, match="needs --subgroup"):
        control_chart(frame, "xbar-s", "v")


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"chart": "xbar"}, r"unknown chart 'xbar'; valid: xbar-r, xbar-s, imr, p, np, c, u"),
        ({"chart": "imr", "rules": "westinghouse"}, r"unknown rule set.*western-electric, nelson"),
        ({"chart": "np", "size": "n"}, r"constant sample size.*p chart"),
        ({"chart": "p"}, r"needs --size"),
        ({"chart": "imr", "phase_col": "phase", "phase_value": "X"}, r"no row has 'phase' == 'X'.*I, II"),
        ({"chart": "imr", "phase_value": "I"}, r"needs --phase-col"),
    ],
)
def test_bad_options_are_input_errors(kwargs: dict, pattern: str) -> None:
    frame = pl.DataFrame({"v": [1, 2, 3, 4], "n": [10, 12, 10, 10], "phase": ["I", "I", "II", "II"]})
    with pytest.raises(InputError, match=pattern):
        control_chart(frame, value="v", **kwargs)


def test_p_count_above_size_is_an_input_error() -> None:
    with pytest.raises(InputError, match="sample 2 has 12 nonconforming of only 10"):
        control_chart(pl.DataFrame({"d": [1, 12], "n": [10, 10]}), "p", "d", size="n")


def test_phase_must_be_constant_within_a_subgroup() -> None:
    frame = pl.DataFrame({"g": [1, 1, 2, 2], "v": [1.0, 2.0, 3.0, 4.0], "ph": ["I", "II", "I", "I"]})
    with pytest.raises(InputError, match="g=1.*mixes phase"):
        control_chart(frame, "xbar-r", "v", "g", phase_col="ph")


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def make_parser() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--warehouse", default=None)
    parent.add_argument("--json", action="store_true")
    parent.add_argument("--debug", action="store_true")
    parser = argparse.ArgumentParser(prog="twin")
    register(parser.add_subparsers(dest="command"), parent)
    return parser


def run_cli(argv: list[str]) -> int:
    args = make_parser().parse_args(argv)
    return args.func(args)


def test_cli_spc_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rings.csv"
    rng = np.random.default_rng(7)
    pl.DataFrame(
        {"sample": np.repeat(np.arange(1, 11), 4), "d": 74 + rng.normal(0, 0.01, 40), "phase": ["I"] * 28 + ["II"] * 12}
    ).write_csv(path)
    argv = ["quality", "spc", str(path), "--chart", "xbar-r", "--value", "d", "--subgroup", "sample"]
    assert run_cli([*argv, "--rules", "nelson", "--phase-col", "phase", "--phase-value", "I", "--json"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert list(out) == ["charts"]
    assert [c["name"] for c in out["charts"]] == ["xbar", "r"]
    assert set(out["charts"][0]) == {"name", "center", "lcl", "ucl", "points", "violations"}
    assert run_cli(argv) == 0
    text = capsys.readouterr().out
    assert "xbar chart: center" in text and "r chart: center" in text


def test_cli_spc_parquet_and_missing_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "counts.parquet"
    pl.DataFrame({"k": [3, 5, 4, 6, 2]}).write_parquet(path)
    assert run_cli(["quality", "spc", str(path), "--chart", "c", "--value", "k", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["charts"][0]["center"] == 4.0
    with pytest.raises(InputError, match=r"'count' not found in .*counts.parquet; available: k"):
        run_cli(["quality", "spc", str(path), "--chart", "c", "--value", "count"])


def test_cli_bad_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        run_cli(["quality", "spc", str(tmp_path / "none.csv"), "--chart", "c", "--value", "k"])
    with pytest.raises(InputError, match=r"unknown file type '.txt'; valid: .csv, .parquet"):
        run_cli(["quality", "spc", str(tmp_path / "x.txt"), "--chart", "c", "--value", "k"])


@pytest.mark.realdata
def test_cli_on_the_orange_juice_file(qcc_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["quality", "spc", str(qcc_dir / "orangejuice.csv"), "--chart", "p", "--value", "defectives"]
    assert run_cli([*argv, "--size", "size", "--phase-col", "phase", "--json"]) == 0
    chart = json.loads(capsys.readouterr().out)["charts"][0]
    assert chart["ucl"] == pytest.approx(0.4102391, rel=1e-6)  # [Montgomery] Example 7.1 / [qcc-R]
    assert {15, 23} <= {v["index"] for v in chart["violations"]}
