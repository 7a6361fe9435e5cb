from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from twin.cell.load import load_cell
from twin.errors import AssetError, ConfigError
from twin.paths import DEFAULT_CELL


def write_cell(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(DEFAULT_CELL.read_text())
    mutate(data)
    # keep relative asset references working: copy the assets the cell names next to the file
    cells = tmp_path / "assets" / "cells"
    cells.mkdir(parents=True)
    shutil.copytree(DEFAULT_CELL.parent.parent / "urdf", tmp_path / "assets" / "urdf")
    path = cells / "cell.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_sample_cell_has_the_spec_ids(sample_cell):
    assert set(sample_cell.robots) == {"R1", "R2"}
    assert set(sample_cell.stations) == {"printers", "panel_feeder", "assembly_fixture", "vision", "outfeed_belt"}
    assert sample_cell.cell.timezone == "Europe/Berlin"
    for robot in sample_cell.robots.values():
        assert robot.urdf_path is not None and robot.urdf_path.is_file()
    screws = {v.qty("screws") for v in sample_cell.variants.values()}
    assert min(screws) >= 4 and max(screws) <= 8


def test_expand_plan_repeats_screws_and_resolves_payloads(sample_cell):
    for name, variant in sample_cell.variants.items():
        plan = sample_cell.expand_plan(name)
        assert sum(op.template == "screw" for op in plan) == variant.qty("screws")
        carried = {op.template: op.payload_kg for op in plan}
        assert carried["place_panel"] == pytest.approx(sample_cell.parts["panel_alu"].mass_kg)
        assert carried["transfer_to_inspection"] > carried["place_panel"]


def test_override_changes_a_value():
    cell = load_cell(overrides=["robots.R1.speed_override=0.6", "stations.panel_feeder.pose.x_m=0.45"])
    assert cell.robots["R1"].speed_override == 0.6
    assert cell.stations["panel_feeder"].pose.x_m == 0.45


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("robots.R3.speed_override=0.6", "unknown key 'R3' under robots; valid: R1, R2"),
        ("robots.R1.speed_override=fast", "robots.R1.speed_override"),
        ("robots.R1.speed_override=1.5", "less than or equal to 1"),
        ("robots.R1.tool.mass=2", "did you mean mass_kg"),
        ("stations.panel_feeder.pose.x=0.3", "did you mean x_m"),
        ("variants.B4-PLA.plan=[pick_panel, fly]", "unknown operation 'fly'"),
        ("variants.B4-PLA.mix_share=0.9", "sum to"),
        ("cell.timezone=Mars/Olympus", "unknown time zone"),
        ("speed_override", "expected path.to.key=value"),
    ],
)
def test_bad_overrides_name_the_key(override, fragment):
    with pytest.raises(ConfigError) as info:
        load_cell(overrides=[override])
    message = str(info.value)
    assert fragment in message
    assert str(DEFAULT_CELL) in message or "--set" in message


def test_wrong_type_names_file_and_path(tmp_path):
    path = write_cell(tmp_path, lambda d: d["robots"]["R2"]["limits"].update(velocity_rad_per_s="quick"))
    with pytest.raises(ConfigError, match=r"cell\.yaml: robots\.R2\.limits\.velocity_rad_per_s"):
        load_cell(path)


def test_missing_key(tmp_path):
    path = write_cell(tmp_path, lambda d: d["parts"]["panel_alu"].pop("mass_kg"))
    with pytest.raises(ConfigError, match=r"parts\.panel_alu\.mass_kg: required key is missing"):
        load_cell(path)


def test_missing_urdf_is_an_asset_error(tmp_path):
    path = write_cell(tmp_path, lambda d: d["stations"]["assembly_fixture"].update(urdf="urdf/nope.urdf"))
    with pytest.raises(AssetError, match=r"stations\.assembly_fixture\.urdf: asset 'urdf/nope.urdf' not found"):
        load_cell(path)


def test_malformed_yaml_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("cell:\n  id: x\n robots: [\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: line \d+, column \d+: malformed YAML"):
        load_cell(path)


def test_missing_file():
    with pytest.raises(ConfigError, match="file not found"):
        load_cell("/nonexistent/cell.yaml")


def test_a_key_given_twice_is_an_error_naming_both_lines(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("cell:\n  id: a\n  name: x\n  id: b\n")
    with pytest.raises(ConfigError, match=r"twice\.yaml: line 4, column 3: .*duplicate key 'id' \(first at line 2\)"):
        load_cell(path)


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        (
            "robots.tender.home_q_rad=[0, -1.5708, 1.5708, -1.5708, -1.5708, 0, 0.1]",
            "robots.tender.home_q_rad: 7 values, but urdf/robots/ur10/ur10.urdf has 6 movable joints",
        ),
        ("robots.tender.home_q_rad=[0, -9, 1.5708, -1.5708, -1.5708, 0]", "home_q_rad[1]: -9 rad is outside"),
        (
            "robots.tender.limits={velocity_rad_per_s: [1, 1, 1, 1, 1, 1, 1], "
            "acceleration_rad_per_s2: [1, 1, 1, 1, 1, 1, 1], jerk_rad_per_s3: [1, 1, 1, 1, 1, 1, 1]}",
            "power_model has 6 joints, limits 7",
        ),
    ],
)
def test_joint_lists_and_home_are_checked_against_the_urdf_when_the_cell_loads(override, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_cell(DEFAULT_CELL.parent / "hinge-press-v1.yaml", overrides=[override])
