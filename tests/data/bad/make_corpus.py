"""Regenerate the telemetry corpus of bad files and valid oddities (run from anywhere).

    python tests/data/bad/make_corpus.py

Layout: ``rejected/`` files the ingest must refuse as a whole (exit code 2), ``quarantined/`` files
whose bad rows go to the quarantine, ``accepted/`` valid oddities every row of which must be accepted.
tests/telemetry/test_corpus.py holds the expected status, rows and reasons of each file.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
JS_HEADER = "ts,robot_id,q_1,q_2,q_3,q_4,q_5,q_6,q_7,q_8,q_9,power_w,program_step"
R1_Q = "0.0,-0.785,0.0,-2.356,0.0,1.571,0.785,0.04,0.04"
R2_Q = "0.0,0.35,0.0,-1.6,0.0,1.2,0.0,,"


def js_row(ts: str, robot: str = "R1", q: str | None = None, power: str = "120.5", step: str = "pick_panel") -> str:
    return f"{ts},{robot},{q or (R1_Q if robot == 'R1' else R2_Q)},{power},{step}"


def write(relative: str, text: str | bytes) -> None:
    path = HERE / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


def joint_states_table(n: int = 400) -> pa.Table:
    start = 1_793_516_400_000_000  # 2026-11-01T07:00:00Z
    q = [float(v) for v in R1_Q.split(",")]
    cols = {
        "ts": pa.array([start + i * 8000 for i in range(n)], pa.timestamp("us", tz="UTC")),
        "robot_id": pa.array(["R1"] * n),
    }
    for k, v in enumerate(q, start=1):
        wiggle = 0.001 if k <= 7 else -0.001  # fingers sit at their 0.04 m limit
        cols[f"q_{k}"] = pa.array([v + wiggle * (i % 7) for i in range(n)])
    cols["power_w"] = pa.array([100.0 + i % 50 for i in range(n)])
    return pa.table(cols)


def main() -> None:
    # ---------------------------------------------------------------- rejected as a whole
    buf = io.BytesIO()
    pq.write_table(joint_states_table(), buf)
    data = buf.getvalue()
    write("rejected/joint_states-truncated.parquet", data[: len(data) // 2])
    full = lines(JS_HEADER, *(js_row(f"2026-11-02T06:00:0{i}+01:00") for i in range(5)))
    write("rejected/joint_states-cut-mid-line.csv", full[: full.rindex("\n", 0, len(full) - 1) + 25])
    write(
        "rejected/events-semicolon.csv",
        lines("ts;station_id;event;unit_id", "2026-11-02T06:00:00+01:00;printer;cycle_start;U1"),
    )
    write(
        "rejected/telemetry-semicolon.csv",
        lines("ts;station_id;event;unit_id", "2026-11-02T06:00:00+01:00;printer;cycle_start;U1"),
    )
    write(
        "rejected/quality-missing-value-column.csv",
        lines("ts,unit_id,station_id,characteristic,lsl,usl", "2026-11-02T06:00:00Z,U1,vision,gap_mm,0.6,1.4"),
    )
    write("rejected/energy-empty.csv", "")
    write("rejected/notes-unknown-stream.csv", lines("when,who,what", "today,me,coffee"))
    write("rejected/events-readme.txt", "not telemetry\n")

    # ---------------------------------------------------------------- rows quarantined
    write(
        "quarantined/energy-wrong-types.csv",
        lines(
            "ts,meter_id,energy_kwh",
            "2026-11-02T06:00:00+01:00,R1,10.0",
            "2026-11-02T06:15:00+01:00,R1,abc",
            "06:30,R1,10.5",
            "2026-11-02T06:45:00+01:00,R1,10.75",
        ),
    )
    write(
        "quarantined/joint_states-nan-inf.csv",
        lines(
            JS_HEADER,
            js_row("2026-11-02T06:00:00.000+01:00"),
            js_row("2026-11-02T06:00:00.008+01:00", q=R1_Q.replace("0.0,-0.785", "NaN,-0.785", 1)),
            js_row("2026-11-02T06:00:00.016+01:00", q=R1_Q.replace("-0.785", "inf", 1)),
            js_row("2026-11-02T06:00:00.024+01:00", power="-inf"),
            js_row("2026-11-02T06:00:00.032+01:00"),
        ),
    )
    write(
        "quarantined/events-duplicates.csv",
        lines(
            "ts,station_id,event,unit_id,variant,code",
            "2026-11-02T06:00:00+01:00,assembly_fixture,cycle_start,U000001,B4-PLA,",
            "2026-11-02T06:00:30+01:00,assembly_fixture,cycle_end,U000001,B4-PLA,",
            "2026-11-02T06:00:00+01:00,assembly_fixture,cycle_start,U000001,B4-PLA,",
            "2026-11-02T05:00:30Z,assembly_fixture,cycle_end,U000001,B6-RPLA,",
            "2026-11-02T06:01:00+01:00,assembly_fixture,cycle_start,U000002,B4-PLA,",
        ),
    )
    write(
        "quarantined/quality-naive-timestamps.csv",
        lines(
            "ts,unit_id,station_id,characteristic,value,lsl,usl,defect_code",
            "2026-11-02T06:01:12Z,U000001,vision,gap_mm,1.02,0.6,1.4,",
            "2026-11-02T06:01:13,U000001,vision,flush_mm,0.1,-0.5,0.5,",
            "2026-11-02 06:01:14,U000002,vision,gap_mm,1.1,0.6,1.4,",
            "2026-11-02,U000003,vision,gap_mm,1.1,0.6,1.4,",
        ),
    )
    write(
        "quarantined/events-unknown-station.csv",
        lines(
            "ts,station_id,event,unit_id",
            "2026-11-02T06:00:00+01:00,printers,cycle_start,U000001",
            "2026-11-02T06:00:01+01:00,welder,cycle_start,U000001",
            "2026-11-02T06:00:02+01:00,R2,teleport,U000001",
        ),
    )
    write(
        "quarantined/energy-register-fall.csv",
        lines(
            "ts,meter_id,energy_kwh",
            "2026-11-02T06:00:00+01:00,printers,1500.0",
            "2026-11-02T06:15:00+01:00,printers,1500.4",
            "2026-11-02T06:30:00+01:00,printers,900.0",
            "2026-11-02T06:45:00+01:00,printers,1500.9",
        ),
    )
    write(
        "quarantined/joint_states-huge-values.csv",
        lines(
            JS_HEADER,
            js_row("2026-11-02T06:00:00+01:00"),
            js_row("2026-11-02T06:00:01+01:00", q=R1_Q.replace("0.0,-0.785", "1e12,-0.785", 1)),
            js_row("2026-11-02T06:00:02+01:00", power="5e6"),
            js_row("2026-11-02T06:00:03+01:00", q=R1_Q.replace("0.0,-0.785", "3.5,-0.785", 1)),
            js_row("2026-11-02T06:00:04+01:00", robot="R2", q=R2_Q.replace(",,", ",0.01,0.01")),
            "1793516400,R1," + R1_Q + ",100,home",
        ),
    )
    write(
        "quarantined/events-bad-lines.jsonl",
        "\n".join(
            [
                json.dumps({"ts": "2026-11-02T06:00:00+01:00", "station_id": "printers", "event": "cycle_start"}),
                "{not json",
                "",
                json.dumps([1, 2, 3]),
                json.dumps({"ts": 1793516400000000, "station_id": "printers", "event": "cycle_end"}),
            ]
        )
        + "\n",
    )
    write(
        "quarantined/joint_states-wrong-field-count.csv",
        lines(
            JS_HEADER,
            js_row("2026-11-02T06:00:00+01:00"),
            "2026-11-02T06:00:01+01:00,R1,0.1",
            js_row("2026-11-02T06:00:02+01:00"),
        ),
    )

    # ---------------------------------------------------------------- valid oddities: all accepted
    write(
        "accepted/joint_states-out-of-order.csv",
        lines(
            JS_HEADER,
            js_row("2026-11-02T06:00:00.016+01:00"),
            js_row("2026-11-02T06:00:00.000+01:00"),
            js_row("2026-11-02T05:00:00.024Z"),
            js_row("2026-11-02T06:00:00.008+01:00"),
            js_row("2026-11-02T06:00:00.008+01:00", robot="R2"),
        ),
    )
    # Europe/Berlin leaves summer time on 2026-10-25: 03:00+02:00 becomes 02:00+01:00, so local 02:xx
    # happens twice; with offsets every reading is a distinct instant.
    write(
        "accepted/energy-dst-change.csv",
        lines(
            "ts,meter_id,energy_kwh",
            "2026-10-25T01:30:00+02:00,cell_aux,100.0",
            "2026-10-25T02:00:00+02:00,cell_aux,100.5",
            "2026-10-25T02:30:00+02:00,cell_aux,101.0",
            "2026-10-25T02:00:00+01:00,cell_aux,101.5",
            "2026-10-25T02:30:00+01:00,cell_aux,102.0",
            "2026-10-25T03:00:00+01:00,cell_aux,102.5",
        ),
    )
    write(
        "accepted/energy-register-reset.csv",
        lines(
            "ts,meter_id,energy_kwh",
            "2026-11-02T06:00:00Z,R2,5000.0",
            "2026-11-02T06:30:00Z,R2,5001.0",
            "2026-11-02T07:00:00Z,R2,0.5",
            "2026-11-02T07:30:00Z,R2,1.5",
        ),
    )
    write(
        "accepted/grid_intensity-epoch-us.csv",
        lines(
            "ts,region,gco2e_per_kwh,interval_min",
            "1793516400000000,DE,412.0,60",
            "1793520000000000,DE,398.5,60",
            "2026-11-02T02:00:00Z,DE,380.0,",
        ),
    )
    pq.write_table(joint_states_table(), HERE / "accepted" / "joint_states-r1.parquet")


if __name__ == "__main__":
    main()
