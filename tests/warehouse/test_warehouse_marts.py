"""Marts built from staging: energy per meter per UTC hour, cycles; contracts; the build itself.

The three shared definitions are tested in their own files: the energy-register rule
(``test_energy_register.py``), the stop pairing (``test_stop_pairing.py``) and a unit's disposition
(``test_unit_disposition.py``)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from twin.errors import WarehouseError
from twin.telemetry.validate import ValidationContext
from twin.warehouse.build import build, check_model, models
from twin.warehouse.load import Ingestor


@pytest.fixture(scope="module")
def warehouse(sample_cell, tmp_path_factory):
    """One in-memory warehouse with small hand-made files of every stream, built."""
    folder = tmp_path_factory.mktemp("marts")
    files = {
        "energy-registers.csv": (
            "ts,meter_id,energy_kwh\n"
            "2026-11-02T06:30:00Z,printers,100.0\n"
            "2026-11-02T08:00:00Z,printers,103.0\n"  # 3 kWh over 06:30..08:00: 1 + 2
            "2026-11-02T08:30:00Z,printers,0.4\n"  # reset: 0.4 kWh in 08:00..08:30
            "2026-11-02T09:00:00Z,printers,1.4\n"
            "2026-11-02T06:00:00Z,R1,5.0\n"
            "2026-11-02T06:00:00Z,R1,5.0\n"  # a duplicate: one row
        ),
        "energy-power.csv": (
            "ts,meter_id,power_w\n"
            "2026-11-02T06:00:00Z,cell_aux,1000\n"
            "2026-11-02T06:30:00Z,cell_aux,3000\n"  # 2 kW mean over 0.5 h: 1 kWh in hour 06
            "2026-11-02T07:00:00Z,cell_aux,1000\n"
            "2026-11-02T12:00:00Z,cell_aux,1000\n"  # a 5 h gap is not integrated
        ),
        "energy-simulated.csv": (
            "ts,meter_id,energy_kwh,source\n"
            "2026-11-02T06:30:00Z,printers,0.0,simulated:baseline\n"
            "2026-11-02T07:30:00Z,printers,2.0,simulated:baseline\n"
        ),
        "events-day.csv": (
            "ts,station_id,event,unit_id,variant,code\n"
            "2026-11-02T06:00:00Z,assembly_fixture,cycle_start,U1,B4-PLA,\n"
            "2026-11-02T06:00:30Z,assembly_fixture,cycle_end,U1,,\n"
            "2026-11-02T06:00:10Z,printers,cycle_start,U2,B6-RPLA,\n"
            "2026-11-02T06:00:05Z,printers,cycle_start,U3,B6-RPLA,\n"  # printers overlap: pairs by unit
            "2026-11-02T06:20:05Z,printers,cycle_end,U3,,\n"
            "2026-11-02T06:25:10Z,printers,cycle_end,U2,,\n"
            "2026-11-02T07:00:00Z,assembly_fixture,cycle_start,U4,B4-PLA,\n"  # still running
            "2026-11-02T06:10:00Z,R2,fault_start,,,E-STOP\n"
            "2026-11-02T06:16:00Z,R2,fault_end,,,\n"
            "2026-11-02T06:40:00Z,R2,fault_start,,,SCREW-JAM\n"
        ),
        "quality-day.csv": (
            "ts,unit_id,station_id,characteristic,value,lsl,usl,defect_code\n"
            "2026-11-02T06:05:00Z,U1,vision,gap_mm,1.0,0.6,1.4,\n"
            "2026-11-02T06:05:00Z,U1,vision,flush_mm,0.1,-0.5,0.5,\n"
            "2026-11-02T06:30:00Z,U2,vision,gap_mm,1.6,0.6,1.4,GAP_HIGH\n"
            "2026-11-02T06:40:00Z,U2,vision,gap_mm,1.2,0.6,1.4,\n"  # reworked, passes
            "2026-11-02T06:31:00Z,U3,R2,screw_1_torque_nm,2.0,2.5,3.5,\n"
        ),
    }
    con = duckdb.connect(":memory:")
    con.execute("set TimeZone = 'UTC'")
    ingestor = Ingestor(con, ValidationContext.from_cell(sample_cell))
    for name, text in files.items():
        path = folder / name
        path.write_text(text)
        result = ingestor.ingest(path)
        assert result.status == "ingested", result
    build(con)
    yield con
    con.close()


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_power_meters_are_integrated_and_gaps_are_not(warehouse):
    got = rows(
        warehouse,
        "select strftime(hour_at, '%H'), round(energy_kwh, 6), method from mart_energy_hourly "
        "where meter_id = 'cell_aux' order by hour_at",
    )
    assert got == [("06", 2.0, "power")]  # 1 kWh (06:00..06:30) + 1 kWh (06:30..07:00)


def test_sources_stay_apart(warehouse):
    got = rows(
        warehouse,
        "select source, sum(energy_kwh) from mart_energy_hourly where meter_id = 'printers' group by all order by 1",
    )
    assert got == [("measured", pytest.approx(4.4)), ("simulated:baseline", pytest.approx(2.0))]


def test_cycles_pair_per_station_and_unit(warehouse):
    got = rows(
        warehouse,
        "select station_id, unit_id, variant, duration_s, is_complete from mart_cycles order by station_id, unit_id",
    )
    assert got == [
        ("assembly_fixture", "U1", "B4-PLA", 30.0, True),
        ("assembly_fixture", "U4", "B4-PLA", None, False),
        ("printers", "U2", "B6-RPLA", 1500.0, True),
        ("printers", "U3", "B6-RPLA", 1200.0, True),
    ]


OWN_MARTS = ("mart_energy_intervals", "mart_energy_hourly", "mart_cycles", "mart_unit_disposition", "mart_an_downtime")


def test_staging_and_these_marts_keep_their_declared_contracts(warehouse):
    own = [m for m in models() if m.layer == "staging" or m.name in OWN_MARTS]
    assert {m.name for m in own} >= set(OWN_MARTS)
    for model in own:
        assert model.layer == "staging" or model.grain.startswith("one row per")
        assert check_model(warehouse, model) == [], model.name


def test_staging_adds_run_cell_and_load_time_per_row(warehouse):
    (row,) = rows(warehouse, "select count(*), count(run_id), count(cell_id), count(loaded_at) from stg_events")
    assert row[0] == row[1] == row[2] == row[3] == 10


def test_build_order_contracts_and_the_grain_line(tmp_path):
    (tmp_path / "staging").mkdir()
    (tmp_path / "marts").mkdir()
    (tmp_path / "staging" / "stg_numbers.sql").write_text(
        "-- one row per number\nwith source_rows as (select * from range(5) t(n)),\n"
        "final as (select n from source_rows)\nselect * from final\n"
    )
    (tmp_path / "marts" / "b_doubled.sql").write_text(
        "-- one row per number from a_even\n-- unique: n\n-- check: n % 2 = 0\n"
        "with evens as (select * from a_even),\nfinal as (select n * 2 as n from evens)\nselect * from final;\n"
    )
    (tmp_path / "marts" / "a_even.sql").write_text(
        "-- one row per even number\n-- not_null: n\n-- columns: n bigint\n"
        "with numbers as (select * from stg_numbers),\nfinal as (select n from numbers where n % 2 = 0)\n"
        "select * from final\n"
    )
    (tmp_path / "marts" / "a_quarters.sql").write_text(  # reads b_doubled, which sorts after it
        "-- one row per number from b_doubled\n-- references: a_even (n)\n"
        "with doubled as (select * from b_doubled),\nfinal as (select n // 2 as n from doubled)\nselect * from final\n"
    )
    con = duckdb.connect(":memory:")
    assert build(con, sql_dir=tmp_path) == ["stg_numbers", "a_even", "b_doubled", "a_quarters"]
    assert rows(con, "select n from b_doubled order by n") == [(0,), (4,), (8,)]
    (tmp_path / "marts" / "c_broken.sql").write_text(
        "-- one row per n\n-- unique: k\nselect 1 as k union all select 1\n"
    )
    with pytest.raises(WarehouseError, match="contract broken: c_broken: 1 duplicate keys"):
        build(con, sql_dir=tmp_path)
    assert "c_broken" not in {r[0] for r in rows(con, "select table_name from duckdb_tables()")}  # rolled back
    (tmp_path / "marts" / "c_broken.sql").write_text(
        "-- one row per n\n-- references: a_even (n)\nselect 7 as n union all select 2 union all select null\n"
    )
    with pytest.raises(WarehouseError, match=r"c_broken: 1 keys \(n\) not in a_even"):  # a foreign key
        build(con, sql_dir=tmp_path)
    (tmp_path / "marts" / "c_broken.sql").write_text(
        "-- one row per n\n-- columns: n bigint,\n-- columns: k varchar\n-- not_null: n\n-- not_null: k\n"
        "select 1 as n, null::varchar as k\n"
    )
    with pytest.raises(WarehouseError, match=r"columns are \(n integer, k varchar\).*k null"):
        build(con, sql_dir=tmp_path)
    (tmp_path / "marts" / "c_broken.sql").write_text("-- one row per n\nselect * from d_loop\n")
    (tmp_path / "marts" / "d_loop.sql").write_text("-- one row per n\nselect * from c_broken\n")
    with pytest.raises(WarehouseError, match="cycle: c_broken, d_loop"):
        build(con, sql_dir=tmp_path)
    Path(tmp_path / "marts" / "c_broken.sql").write_text("select 1 as k\n")
    with pytest.raises(WarehouseError, match="first line must be a comment stating its grain"):
        build(con, sql_dir=tmp_path)
