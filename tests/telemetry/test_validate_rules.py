"""Each validation rule: what is accepted, what is quarantined and why (one small file per case)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from twin.cell.urdf import movable_joints, robot_joint_limits
from twin.errors import AssetError
from twin.telemetry.validate import ValidationContext, raw_columns
from twin.warehouse.load import Ingestor

R1 = [0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785, 0.04, 0.04]
R2 = [0.0, 0.35, 0.0, -1.6, 0.0, 1.2, 0.0]
JS = "ts,robot_id," + ",".join(f"q_{k}" for k in range(1, 10))


@pytest.fixture(scope="module")
def ctx(sample_cell) -> ValidationContext:
    return ValidationContext.from_cell(sample_cell)


@pytest.fixture
def load(tmp_path, ctx):
    con = duckdb.connect(":memory:")
    con.execute("set TimeZone = 'UTC'")
    ingestor = Ingestor(con, ctx, run_id="test-run")
    counter = iter(range(10_000))

    def run(name: str, text: str | pa.Table):
        path = tmp_path / f"{next(counter)}" / name
        path.parent.mkdir()
        if isinstance(text, pa.Table):
            pq.write_table(text, path)
        else:
            path.write_text(text)
        result = ingestor.ingest(path)
        reasons = con.execute(
            "select line, column_name, reason from quarantine where file = ? order by line", [str(path.resolve())]
        ).fetchall()
        return result, reasons

    run.con = con
    yield run
    con.close()


def js_line(ts: str, robot: str, q: list[float | str | None]) -> str:
    cells = ["" if v is None else str(v) for v in q] + [""] * (9 - len(q))
    return f"{ts},{robot}," + ",".join(cells)


def test_urdf_joint_limits_in_urdf_order(sample_cell):
    r1 = robot_joint_limits(sample_cell.robots["R1"])
    r2 = robot_joint_limits(sample_cell.robots["R2"])
    assert len(r1) == 9 and len(r2) == 7
    assert r1[3].name == "panda_joint4" and (r1[3].lower, r1[3].upper) == (-3.1416, 0.0)
    assert r1[7].type == "prismatic" and r1[7].unit == "m"
    assert r2[6].upper == pytest.approx(3.05432619099)


def test_urdf_reader_errors(tmp_path):
    bad = tmp_path / "bad.urdf"
    bad.write_text("<robot><joint name='a' type='revolute'>")
    with pytest.raises(AssetError, match="not a readable URDF"):
        movable_joints(bad)
    with pytest.raises(AssetError, match="not found"):
        movable_joints(tmp_path / "none.urdf")


def test_joint_count_must_match_the_robot(load):
    text = "\n".join(
        [
            JS,
            js_line("2026-11-02T06:00:00Z", "R1", R1),
            js_line("2026-11-02T06:00:01Z", "R1", R1[:7]),  # fingers missing
            js_line("2026-11-02T06:00:02Z", "R2", R2),
            js_line("2026-11-02T06:00:03Z", "R2", [*R2, 0.01]),  # an 8th joint for a 7-joint arm
        ]
    )
    result, reasons = load("joint_states-a.csv", text + "\n")
    assert (result.accepted, result.quarantined) == (2, 2)
    assert reasons == [
        (3, "q_8", "missing value (R1 has 9 movable joints)"),
        (5, "q_8", "R2 has 7 movable joints; q_8 must be empty"),
    ]


def test_a_file_with_7_q_columns_cannot_hold_r1_rows(load):
    header = "ts,robot_id," + ",".join(f"q_{k}" for k in range(1, 8))
    r1, r2 = ",".join(map(str, R1[:7])), ",".join(map(str, R2))
    text = f"{header}\n2026-11-02T06:00:00Z,R1,{r1}\n2026-11-02T06:00:00Z,R2,{r2}\n"
    result, reasons = load("joint_states-7.csv", text)
    assert (result.accepted, result.quarantined) == (1, 1)
    assert reasons == [(2, "q_8", "missing value (R1 has 9 movable joints)")]


def test_joint_limits_tolerance(load):
    lo = -2.9671  # panda_joint1
    rows = [js_line(f"2026-11-02T06:00:0{i}Z", "R1", [v, *R1[1:]]) for i, v in enumerate([lo - 0.049, lo - 0.051])]
    fingers = js_line("2026-11-02T06:00:05Z", "R1", [*R1[:7], 0.046, 0.04])
    result, reasons = load("joint_states-t.csv", "\n".join([JS, *rows, fingers]) + "\n")
    assert result.accepted == 1
    assert [(line, column) for line, column, _ in reasons] == [(3, "q_1"), (4, "q_8")]
    assert "tolerance 0.05" in reasons[0][2] and "tolerance 0.005" in reasons[1][2]


@pytest.mark.parametrize(
    ("ts", "accepted"),
    [
        ("2026-11-02T06:00:00Z", True),
        ("2026-11-02T06:00:00z", True),
        ("2026-11-02 06:00:00.123456+01:00", True),
        ("2026-11-02T06:00+0530", True),
        ("2026-11-02T06:00:00+01", True),
        ("1793516400000000", True),
        ("2026-11-02T06:00:00", False),
        ("2026-11-02T06:00:00 Europe/Berlin", False),
        ("2026-02-30T06:00:00Z", False),
        ("1793516400", False),
        ("yesterday", False),
        ("2150-01-01T00:00:00Z", False),
    ],
)
def test_timestamp_forms(load, ts, accepted):
    result, reasons = load("events-ts.csv", f"ts,station_id,event\n{ts},printers,cycle_start\n")
    assert result.accepted == int(accepted), reasons
    assert result.accepted + result.quarantined == 1


def test_source_and_cell_lineage(load):
    text = (
        "ts,station_id,event,source,cell_id\n"
        "2026-11-02T06:00:00Z,printers,cycle_start,,\n"
        "2026-11-02T06:00:00Z,printers,cycle_start,simulated:baseline,microfactory\n"
        "2026-11-02T06:00:01Z,printers,cycle_start,simulated:,\n"
        "2026-11-02T06:00:02Z,printers,cycle_start,guessed,\n"
        "2026-11-02T06:00:03Z,printers,cycle_start,measured,another-cell\n"
    )
    result, reasons = load("events-src.csv", text)
    assert result.accepted == 2  # the same key is allowed once per source
    assert [(line, column) for line, column, _ in reasons] == [(4, "source"), (5, "source"), (6, "cell_id")]
    sources = load.con.execute("select source from raw_events order by source").fetchall()
    assert sources == [("measured",), ("simulated:baseline",)]
    files = load.con.execute("select run_id, cell_id from ingest_files").fetchall()
    assert files == [("test-run", "microfactory")]


def test_replication_lineage_is_part_of_the_key(load):
    """``replication`` defaults to 0, must be a whole number >= 0, is 0 on measured rows and leads the key."""
    text = (
        "ts,station_id,event,unit_id,source,replication\n"
        "2026-11-02T06:00:00Z,printers,cycle_start,U1,simulated:baseline,0\n"
        "2026-11-02T06:00:00Z,printers,cycle_start,U1,simulated:baseline,1\n"
        "2026-11-02T06:00:00Z,printers,cycle_start,U1,simulated:baseline,1\n"
        "2026-11-02T06:00:00Z,printers,cycle_start,U1,,\n"
        "2026-11-02T06:00:01Z,printers,cycle_start,U1,measured,2\n"
        "2026-11-02T06:00:02Z,printers,cycle_start,U1,simulated:baseline,-1\n"
        "2026-11-02T06:00:03Z,printers,cycle_start,U1,simulated:baseline,1.5\n"
    )
    result, reasons = load("events-rep.csv", text)
    assert result.accepted == 3
    assert [(line, column) for line, column, _ in reasons] == [
        (4, "station_id, ts, event, unit_id"),
        (6, "replication"),
        (7, "replication"),
        (8, "replication"),
    ]
    assert "measured rows are replication 0" in reasons[1][2] and "negative" in reasons[2][2]
    rows = load.con.execute("select source, replication from raw_events order by source, replication").fetchall()
    assert rows == [("measured", 0), ("simulated:baseline", 0), ("simulated:baseline", 1)]
    again, _ = load("events-rep-again.csv", text.replace("U1,simulated:baseline,1\n", "U1,simulated:baseline,2\n", 1))
    assert again.accepted == 1  # replication 2 is new; every other key is already in the warehouse


def test_quality_limits_and_energy_needs_a_reading(load):
    quality = (
        "ts,unit_id,station_id,characteristic,value,lsl,usl\n"
        "2026-11-02T06:00:00Z,U1,vision,gap_mm,1.0,0.6,1.4\n"
        "2026-11-02T06:00:00Z,U1,vision,flush_mm,0.1,,0.5\n"
        "2026-11-02T06:00:00Z,U2,vision,gap_mm,1.0,1.4,0.6\n"
        "2026-11-02T06:00:00Z,,vision,gap_mm,1.0,0.6,1.4\n"
    )
    result, reasons = load("quality-l.csv", quality)
    assert result.accepted == 2
    assert [(line, column) for line, column, _ in reasons] == [(4, "usl"), (5, "unit_id")]
    energy = "ts,meter_id,energy_kwh,power_w\n2026-11-02T06:00:00Z,cell_aux,,\n2026-11-02T06:00:00Z,R3,1,\n"
    result, reasons = load("energy-n.csv", energy)
    assert result.quarantined == 2
    assert reasons[0][1:] == ("energy_kwh", "a reading needs energy_kwh or power_w")
    assert "unknown meter 'R3'; valid: R1, R2, printer" in reasons[1][2]


def test_grid_interval_must_be_whole_minutes(load):
    text = "ts,region,gco2e_per_kwh,interval_min\n2026-11-02T06:00:00Z,DE,400,15\n2026-11-02T07:00:00Z,DE,400,7.5\n"
    result, reasons = load("grid_intensity-i.csv", text)
    assert result.accepted == 1 and reasons[0][1] == "interval_min"


def test_register_rollover_at_a_declared_maximum_and_reset(load):
    text = (
        "ts,meter_id,energy_kwh,register_max_kwh\n"
        "2026-11-02T06:00:00Z,printers,99990,100000\n"
        "2026-11-02T06:15:00Z,printers,99998,100000\n"
        "2026-11-02T06:30:00Z,printers,5,100000\n"  # wraps: 2 + 5 kWh
        "2026-11-02T06:45:00Z,printers,3,100000\n"  # falls from 5 to 3: bad
        "2026-11-02T07:00:00Z,printers,9,100000\n"
        "2026-11-02T07:15:00Z,printers,100001,100000\n"
    )
    result, reasons = load("energy-roll.csv", text)
    assert result.accepted == 4
    assert [(line, column) for line, column, _ in reasons] == [(5, "energy_kwh"), (7, "energy_kwh")]
    assert "register fell from 5.0 to 3.0" in reasons[0][2]
    assert "above the declared register maximum" in reasons[1][2]


def test_register_fall_is_judged_against_the_warehouse(load):
    load("energy-1.csv", "ts,meter_id,energy_kwh\n2026-11-02T06:00:00Z,panel_feeder,200.0\n")
    result, reasons = load(
        "energy-2.csv",
        "ts,meter_id,energy_kwh\n2026-11-02T06:15:00Z,panel_feeder,150.0\n2026-11-02T06:30:00Z,panel_feeder,1.5\n",
    )
    assert result.accepted == 1  # 150 is a bad fall; 1.5 is below 1 % of the last good 200: a reset
    assert reasons == [(2, "energy_kwh", reasons[0][2])] and "fell from 200.0 to 150.0" in reasons[0][2]


def test_extra_columns_are_kept_typed_and_later_files_must_fit_them(load):
    first = "ts,station_id,event,operator,speed_override\n2026-11-02T06:00:00Z,R2,setup_start,Ana,0.6\n"
    result, _ = load("events-x1.csv", first)
    assert result.accepted == 1
    types = dict(
        load.con.execute(
            "select column_name, data_type from duckdb_columns() where table_name = 'raw_events'"
        ).fetchall()
    )
    assert types["operator"] == "VARCHAR" and types["speed_override"] == "DOUBLE"
    second = (
        "ts,station_id,event,speed_override\n"
        "2026-11-02T07:00:00Z,R2,setup_end,0.7\n"
        "2026-11-02T07:00:01Z,R2,setup_end,fast\n"
    )
    result, reasons = load("events-x2.csv", second)
    assert result.accepted == 1
    assert reasons == [(3, "speed_override", "'fast' is not a DOUBLE (the column type)")]


def test_reserved_and_required_columns_reject_the_file(load):
    result, _ = load("events-r.csv", "ts,station_id,event,run_id\n2026-11-02T06:00:00Z,R2,setup_start,r1\n")
    assert result.status == "rejected" and "'run_id' is reserved" in result.error
    result, _ = load("energy-r.csv", "ts,meter_id\n2026-11-02T06:00:00Z,R2\n")
    assert result.status == "rejected" and "needs one of energy_kwh, power_w" in result.error


def test_parquet_types(load):
    n = 3
    aware = pa.array([1_793_516_400_000_000 + i for i in range(n)], pa.timestamp("us", tz="UTC"))
    naive = pa.array([1_793_516_400_000_000 + i for i in range(n)], pa.timestamp("us"))
    base = {"robot_id": pa.array(["R2"] * n)} | {f"q_{k}": pa.array([R2[k - 1]] * n) for k in range(1, 8)}
    result, _ = load("joint_states-aware.parquet", pa.table({"ts": aware, **base}))
    assert (result.accepted, result.quarantined) == (3, 0)
    result, reasons = load("joint_states-naive.parquet", pa.table({"ts": naive, **base}))
    assert result.quarantined == 3 and "naive timestamp (Parquet column of type TIMESTAMP" in reasons[0][2]
    epoch = pa.array([1_793_600_000_000_000 + i for i in range(n)], pa.int64())
    flags = pa.array([True, False, True])
    result, reasons = load("joint_states-epoch.parquet", pa.table({"ts": epoch, **base, "q_1": flags}))
    assert result.quarantined == 3 and reasons[0][1:] == ("q_1", "not a number (column type BOOLEAN)")


def test_raw_tables_declare_only_what_rows_need(ctx):
    names = [c.name for c in raw_columns("joint_states", ctx.max_joints)]
    assert names[:3] == ["ts", "robot_id", "q_1"] and "q_9" in names and "qd_1" not in names
    assert names[-3:] == ["source", "replication", "file_id"]


def test_parquet_keys_two_robots_same_times_and_duplicates(load):
    """The Parquet shortcut (ts strictly increasing per group) and its exact SQL fallback agree."""
    n = 4
    ts = [1_793_516_400_000_000 + i * 8000 for i in range(n)]
    both = {
        "ts": pa.array(ts + ts, pa.timestamp("us", tz="UTC")),
        "robot_id": pa.array(["R2"] * n + ["R1"] * n),
        **{f"q_{k}": pa.array([R2[k - 1]] * n + [R1[k - 1]] * n) for k in range(1, 8)},
        "q_8": pa.array([None] * n + [0.04] * n, pa.float64()),
        "q_9": pa.array([None] * n + [0.04] * n, pa.float64()),
    }
    result, reasons = load("joint_states-both.parquet", pa.table(both))
    assert (result.accepted, result.quarantined) == (8, 0), reasons
    later_ts = [t + 10**9 for t in ts]
    rows = [0, 1, 2, 1, 3]  # R2 rows, the second one repeated
    later = {
        "ts": pa.array([later_ts[i] for i in rows], pa.timestamp("us", tz="UTC")),
        "robot_id": pa.array(["R2"] * len(rows)),
        **{f"q_{k}": pa.array([R2[k - 1]] * len(rows)) for k in range(1, 8)},
    }
    result, reasons = load("joint_states-again.parquet", pa.table(later))
    assert (result.accepted, result.quarantined) == (4, 1)
    assert reasons == [(4, "robot_id, ts", "duplicate of line 2")]
