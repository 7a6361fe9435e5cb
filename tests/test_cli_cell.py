from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from twin.cli import main

pytestmark = pytest.mark.physics


def test_check_json_shape(capsys):
    code = main(["cell", "check", "--json", "--no-cache"])
    out = capsys.readouterr().out
    report = json.loads(out)
    assert code == 0 and report["feasible"] is True
    assert report["cell"] == "microfactory"
    for variant in report["variants"]:
        assert set(variant) >= {
            "variant",
            "cycle_time_s",
            "making_time_s",
            "takt_s",
            "bottleneck",
            "energy_j",
            "feasible",
            "problems",
            "operations",
        }
        assert variant["bottleneck"] == "R2"  # SPEC: the baseline's bottleneck is R2, not printing
        ops = variant["operations"]
        assert sum(op["duration_s"] for op in ops) == pytest.approx(variant["cycle_time_s"], rel=1e-6)
        for op in ops:
            assert set(op) == {
                "operation",
                "robot_id",
                "duration_s",
                "energy_j",
                "peak_power_w",
                "min_clearance_m",
                "feasible",
                "reason",
            }


def test_infeasible_exit_code_3(capsys):
    code = main(["cell", "check", "--json", "--no-cache", "--set", "stations.outfeed_belt.pose.y_m=-2.5"])
    report = json.loads(capsys.readouterr().out)
    assert code == 3 and report["feasible"] is False
    problems = [p for v in report["variants"] for p in v["problems"]]
    assert any("transfer_to_outfeed" in p and "unreachable" in p for p in problems)


@pytest.mark.parametrize(
    "args",
    [
        ["cell", "check", "--set", "robots.R9.speed_override=0.5"],
        ["cell", "check", "--set", "robots.R1.speed_override=abc"],
        ["cell", "check", "--cell", "/nonexistent.yaml"],
        ["cell", "render", "--set", "robots.R1.urdf=missing.urdf", "--out", "x.png"],
    ],
)
def test_bad_input_is_one_line_exit_2(args):
    proc = subprocess.run([sys.executable, "-m", "twin.cli", *args], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("twin ")]
    assert len(lines) == 1 and "error:" in lines[0]
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_render_writes_a_picture(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "cell.png"
    assert main(["cell", "render", "--out", str(out), "--width", "480", "--height", "320"]) == 0
    image = Image.open(out).convert("RGB")
    assert image.size == (480, 320)
    colours = len(np.unique(np.asarray(image).reshape(-1, 3), axis=0))
    assert colours > 200  # robots, stations and shading, not a blank frame
