"""twin.api.periods.period: the figures equal what ``twin oee|cost|carbon --json`` print, whatever the bounds."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from fresh_python import assert_runs
from jsontree import same
from synthetic_warehouse import build, write_synthetic

from twin.analytics import ideal
from twin.api.periods import characteristic_families, period
from twin.errors import InputError, TwinError, WarehouseError

IDEAL = {"B4-PLA": 25.5, "B6-RPLA": 32.5, "B8-ALU": 39.6}
"""Ideal cycle times standing in for the plan (no physics in these tests)."""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, sample_cell) -> Path:
    """Two synthetic days, Monday 2026-10-05 and Tuesday."""
    path = tmp_path_factory.mktemp("period") / "twin.duckdb"
    con = duckdb.connect(str(path))
    write_synthetic(con, sample_cell, date(2026, 10, 5), 2)
    build(con)
    con.close()
    return path


@pytest.fixture(autouse=True)
def no_planning(monkeypatch):
    monkeypatch.setattr(ideal, "ideal_cycle_times", lambda cell, station=None, **_: dict(IDEAL))


def command_json(*argv: str) -> dict:
    from twin.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([*argv, "--json"])
    assert code == 0, out.getvalue()
    return json.loads(out.getvalue())


@pytest.mark.parametrize("bounds", [(), ("--from", "2026-10-06", "--to", "2026-10-07")], ids=["all data", "one day"])
def test_figures_equal_the_commands_json(warehouse, bounds):
    kwargs = dict(zip(("start", "end"), bounds[1::2], strict=False))
    figures = period(warehouse, **kwargs)
    w = ("--warehouse", str(warehouse), *bounds)
    oee = figures.oee()
    same(oee.to_dict(), command_json("oee", *w))
    same(figures.cost().to_dict(), command_json("cost", *w))
    same(figures.carbon().to_dict(), command_json("carbon", *w))
    same(figures.oee("R2").to_dict(), command_json("oee", *w, "--station", "R2"))
    assert oee.total_count > 0 and 0 < oee.oee < 1 and oee.by_day.height == len(figures.period.local_dates())
    quality = figures.quality()
    assert quality.units_completed == oee.total_count
    assert quality.first_pass_yield == pytest.approx(oee.good_count / oee.total_count)
    assert quality.bounds == oee.bounds == figures.cost().bounds


def test_bounds_as_dates_datetimes_or_text_are_one_period(warehouse):
    berlin = ZoneInfo("Europe/Berlin")
    text = period(warehouse, "2026-10-05", "2026-10-06")
    as_dates = period(warehouse, date(2026, 10, 5), date(2026, 10, 6))
    aware = period(warehouse, datetime(2026, 10, 5, tzinfo=berlin), datetime(2026, 10, 5, 22, tzinfo=UTC))
    assert text.period == as_dates.period == aware.period
    assert text.period.to_json()["from"] == "2026-10-05T00:00:00+02:00"
    same(as_dates.cost().to_dict(), text.cost().to_dict())
    whole = period(warehouse)  # the data's extent: local midnight before the first cycle to after the last
    assert whole.period.local_dates() == [date(2026, 10, 5), date(2026, 10, 6)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": datetime(2026, 10, 5, 6)}, "must carry an offset"),
        ({"start": "2026-10-06", "end": "2026-10-06"}, "is not before"),
        ({"start": "2026-01-01'; drop table x; --"}, "expected a date"),
        ({"start": 20261005}, "expected a date, an aware datetime or text"),
        ({"source": "simulated"}, "valid: measured, simulated:<scenario>"),
        ({"replication": 1}, "measured rows are replication 0"),
        ({"overrides": ["robots.R9.speed_override=0.5"]}, "R9"),
    ],
)
def test_bad_arguments_fail_before_the_warehouse_is_read(tmp_path, kwargs, message):
    with pytest.raises(TwinError, match=message) as info:
        period(tmp_path / "missing.duckdb", **kwargs)
    assert not isinstance(info.value, WarehouseError)  # the warehouse was never opened


def test_missing_warehouse_and_unknown_station(tmp_path, warehouse):
    with pytest.raises(WarehouseError, match="no warehouse"):
        period(tmp_path / "missing.duckdb")
    with pytest.raises(InputError, match="valid: R1, R2"):
        period(warehouse).oee("R7")


def test_results_are_frozen_copies(warehouse, sample_cell):
    figures = period(warehouse, cell=sample_cell)  # a validated cell works as well as its file
    cost = figures.cost()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cost.values = {}  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        figures.source = "simulated:x"  # type: ignore[misc]
    copy = cost.to_dict()
    copy["cost_per_unit"]["total"] = -1.0
    assert cost.per_unit == cost["cost_per_unit"]["total"] != -1.0
    with pytest.raises(InputError, match="overrides apply when a cell file is loaded"):
        period(warehouse, cell=sample_cell, overrides=["cell.name=x"])


def test_detail_reads_the_quality_measurements(warehouse, sample_cell):
    plain, detailed = period(warehouse), period(warehouse, detail=True)
    assert plain.prepared.data.measurements.is_empty() and plain.prepared.data.robot_cycles.is_empty()
    families = set(detailed.prepared.data.measurements["family"].unique())
    assert families and families <= set(characteristic_families(sample_cell))
    assert not detailed.prepared.data.robot_cycles.is_empty()
    same(plain.oee().to_dict(), detailed.oee().to_dict())  # the detail changes no figure


def test_stored_ideal_times_give_the_same_oee_as_the_plan(warehouse):
    figures = period(warehouse)
    same(figures.oee(ideal_cycle_s=IDEAL).to_dict(), figures.oee().to_dict())
    slower = {k: 2 * v for k, v in IDEAL.items()}
    assert figures.oee(ideal_cycle_s=slower).performance == pytest.approx(2 * figures.oee().performance)


def test_public_names_are_the_functions_even_after_their_modules_load():
    import twin.api
    import twin.api.periods
    import twin.api.reports

    assert twin.api.period is twin.api.periods.period and twin.api.report is twin.api.reports.report
    from twin.api import period as again

    assert callable(again) and again.__module__ == "twin.api.periods"


def test_period_figures_and_read_functions_run_without_pybullet(warehouse):
    code = (
        "import sys\n"
        "sys.modules['pybullet'] = None  # importing it now fails\n"
        "from twin.api import period\n"
        "from twin.api.read import energy, kpis, quality\n"
        f"p = period({str(warehouse)!r}, detail=True)\n"
        f"oee = p.oee(ideal_cycle_s={IDEAL!r})\n"
        "assert oee.total_count > 0 and p.cost().per_unit > 0 and p.carbon().energy_kwh > 0\n"
        "assert p.quality().units_completed == oee.total_count\n"
        "assert kpis.daily_trends(p, oee.to_dict()).height == 2 and energy.hourly_energy(p).height\n"
        "assert quality.pareto_table(p).height >= 0 and kpis.process_change(p)['method']\n"
    )
    assert_runs(code)


def test_replication_on_the_command_line(warehouse, capsys):
    from twin.cli import main

    assert main(["cost", "--warehouse", str(warehouse), "--replication", "1"]) == 2
    assert "measured rows are replication 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cost", "--warehouse", str(warehouse), "--replication", "-1"])
    assert "0 or more" in capsys.readouterr().err
