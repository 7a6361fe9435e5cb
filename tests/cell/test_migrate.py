"""Format-1 cell files load through the migration, and migrate to the same cell as the shipped format-2 sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from twin.analytics.allocation import bill_of_materials
from twin.cell.load import load_cell
from twin.cell.migrate import cell_format, migrate
from twin.errors import ConfigError

V1 = Path(__file__).resolve().parents[1] / "data" / "cells" / "microfactory-v1.yaml"


@pytest.fixture(scope="module")
def v1_cell():
    return load_cell(V1)


def test_format_1_loads_migrated(v1_cell):
    assert v1_cell.format == 2
    printer = v1_cell.stations["printer"]
    assert (printer.kind, printer.count, printer.setup_time_s) == ("machine", 30, 150.0)
    assert printer.process_time_for("B6-RPLA") == 540.0
    assert printer.power_w["running"] == 120.0 and printer.power_w["setup"] == 220.0
    assert v1_cell.stations["fixture"].nests == 2 and v1_cell.stations["outfeed"].places == 4
    assert {b.from_: b.capacity for b in v1_cell.buffers.values()} == {"printer": 6}
    assert v1_cell.cost.labour_per_h == 48.0 and v1_cell.cost.currency == "EUR"
    torque = v1_cell.quality.characteristics["screw_torque_nm"]
    assert (torque.measured_by, torque.drift_per_1000, torque.service_interval) == ("screw", -0.03, 6000)
    assert v1_cell.quality.characteristics["gap_mm"].measured_by == "inspect"


def test_format_1_and_the_sample_plan_the_same_operations(v1_cell, sample_cell):
    """The shipped sample is the format-1 cell renamed: same payloads, offsets and process times."""
    for variant in sample_cell.variants:
        old, new = v1_cell.expand_plan(variant), sample_cell.expand_plan(variant)
        assert [o.template for o in old] == [n.template for n in new]
        for o, n in zip(old, new, strict=True):
            assert o.payload_kg == pytest.approx(n.payload_kg, abs=1e-12)
            assert o.offset_m == n.offset_m and o.process_time_s == n.process_time_s


def test_format_1_bill_of_materials_is_the_samples(v1_cell, sample_cell):
    for variant in sample_cell.variants:
        old = sorted((line.material, round(line.kg, 9)) for line in bill_of_materials(v1_cell, variant))
        new = sorted((line.material, round(line.kg, 9)) for line in bill_of_materials(sample_cell, variant))
        assert old == new


def test_migrate_leaves_format_2_alone_and_rejects_unknown_formats():
    data = {"format": 2, "cell": {}}
    assert migrate(data) is data
    with pytest.raises(ConfigError, match="not a cell format"):
        cell_format({"format": 7})


def test_migrated_file_loads_as_written(tmp_path):
    out = tmp_path / "cells" / "migrated.yaml"
    out.parent.mkdir()
    data = migrate(yaml.safe_load(V1.read_text()))
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    assert cell_format(yaml.safe_load(out.read_text())) == 2
    assert load_cell(out).expand_plan("B8-ALU") == load_cell(V1).expand_plan("B8-ALU")


def test_twin_cell_migrate_writes_a_loadable_file(tmp_path, capsys):
    from twin.cli import main

    out = tmp_path / "cells" / "migrated.yaml"
    assert main(["cell", "migrate", str(V1), "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["from_format"] == 1
    assert load_cell(out).stations["printer"].kind == "machine"
    assert main(["cell", "migrate", str(out), "--out", str(out)]) == 2  # never over its source
    assert "not over it" in capsys.readouterr().err
