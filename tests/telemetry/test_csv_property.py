"""Property: any CSV file, however broken, is ingested or rejected without an unhandled error, losing no row."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.telemetry.validate import ValidationContext
from twin.warehouse.load import Ingestor

KNOWN_COLUMNS = [
    "ts", "robot_id", "station_id", "event", "unit_id", "meter_id", "energy_kwh", "power_w", "region",
    "gco2e_per_kwh", "characteristic", "value", "lsl", "usl", "source", "cell_id", "interval_min",
    "register_max_kwh", "program_step", *(f"q_{k}" for k in range(1, 11)), "qd_1", "tau_2",
]  # fmt: skip
GOOD_VALUES = [
    "2026-11-02T06:00:00Z", "2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "1793516400000000",
    "R1", "R2", "printers", "cell_aux", "cycle_start", "fault_end", "U000001", "DE", "gap_mm", "measured",
    "simulated:baseline", "0", "0.04", "-0.785", "1.5", "120.5", "1500.25", "60", "microfactory",
]  # fmt: skip
BAD_VALUES = [
    "", " ", "NaN", "inf", "-Infinity", "1e12", "-5", "abc", "2026-11-02T06:00:00", "2026-02-30T00:00:00Z",
    "R9", '"quoted, comma"', '"unclosed', 'a"b', "ü€✓", "null", "None", "0x1F", "1_000", "--1",
]  # fmt: skip
STREAM_PREFIXES = ["joint_states", "events", "quality", "energy", "grid_intensity", "misc"]

cell_text = st.one_of(st.sampled_from(GOOD_VALUES), st.sampled_from(BAD_VALUES),
                      st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
                              max_size=12))  # fmt: skip


@st.composite
def csv_files(draw) -> tuple[str, str, int]:
    """(file name, content, data rows): rows are the non-empty lines after the header."""
    names = draw(st.lists(st.one_of(st.sampled_from(KNOWN_COLUMNS), st.text(min_size=0, max_size=6)),
                          min_size=1, max_size=8))  # fmt: skip
    header = ",".join(n.replace("\n", "").replace("\r", "") for n in names)
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["row", "row", "row", "short", "long", "blank"]))
        width = {"row": len(names), "short": max(len(names) - 1, 0), "long": len(names) + 1, "blank": 0}[kind]
        lines.append(",".join(draw(cell_text) for _ in range(width)))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join([header, *lines])
    if draw(st.booleans()):
        text += newline
    rows = sum(1 for line in lines if line != "")
    return f"{draw(st.sampled_from(STREAM_PREFIXES))}-x.csv", text, rows


@pytest.fixture(scope="module")
def ctx(sample_cell) -> ValidationContext:
    return ValidationContext.from_cell(sample_cell)


EXAMPLES = int(os.environ.get("TWIN_PROPERTY_EXAMPLES", "40"))  # raise it for a deeper search


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=csv_files())
def test_any_csv_is_handled_and_conserves_rows(ctx, case):
    name, text, rows = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(text.encode("utf-8"))
        con = duckdb.connect(":memory:")
        con.execute("set TimeZone = 'UTC'")
        try:
            result = Ingestor(con, ctx).ingest(path)
            assert result.status in ("ingested", "rejected")
            quarantined = con.execute("select count(*) from quarantine where line is not null").fetchall()[0][0]
            if result.status == "ingested":
                assert result.rows == rows
                assert result.accepted + result.quarantined == rows
                assert quarantined == result.quarantined
                raw = con.execute(f"select count(*) from raw_{result.stream}").fetchall()[0][0]
                assert raw == result.accepted
                lines = [r[0] for r in con.execute("select line from quarantine where line is not null").fetchall()]
                assert len(set(lines)) == len(lines) and all(2 <= n <= text.count("\n") + 1 for n in lines)
            else:
                assert quarantined == 0 and result.error
                assert con.execute("select count(*) from ingest_files").fetchall()[0][0] == 0
        finally:
            con.close()
