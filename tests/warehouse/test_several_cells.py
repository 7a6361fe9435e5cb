"""Several cells in one warehouse: ``cell_id`` is in every raw row and leads every natural key.

Both shipped cells are generated and ingested into one warehouse, plus a twin of the sample cell (the same
file under another id, so the same robot ids ``R1`` and ``R2`` at the same instants): no row of one cell
deduplicates, quarantines or shows up in another's figures.
"""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from twin.api import generate, ingest, period
from twin.cell.load import load_cell
from twin.paths import CELLS_DIR
from twin.telemetry.validate import ValidationContext
from twin.warehouse.connection import connect, read_connection
from twin.warehouse.load import ensure_schema

pytestmark = pytest.mark.physics

STREAMS = ("events", "quality", "energy", "grid_intensity", "joint_states")


def file_rows(files) -> dict[str, int]:
    """Rows per stream of generated Parquet files (the stream leads the file name)."""
    rows = dict.fromkeys(STREAMS, 0)
    for path in files:
        stream = next(s for s in STREAMS if path.name.startswith(f"{s}-"))
        rows[stream] += pl.read_parquet(path).height
    return rows


def same(a, b) -> bool:
    """Equal figures, floats to 1e-9 relative (the sums run in another order in a bigger table)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-12)
    return a == b


def rows_per_cell(warehouse) -> dict[tuple[str, str], int]:
    with read_connection(warehouse) as con:
        out = {}
        for stream in STREAMS:
            for cell_id, n in con.execute(f"select cell_id, count(*) from raw_{stream} group by cell_id").fetchall():
                out[(stream, cell_id)] = n
        return out


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    """The sample cell, its twin under another id, and the hinge-press cell, each with two days of telemetry."""
    root = tmp_path_factory.mktemp("several")
    sample = load_cell()
    twin = load_cell(overrides=["cell.id=sample-twin"])
    hinge = load_cell(CELLS_DIR / "hinge-press-v1.yaml")
    made = {
        sample.cell.id: generate(sample, root / "sample", days=2, seed=3),
        hinge.cell.id: generate(hinge, root / "hinge", days=2, seed=3),
    }
    return root, {"sample": sample, "twin": twin, "hinge": hinge}, made


@pytest.fixture(scope="module")
def shared(cells):
    """One warehouse holding all three cells; the sample's twin ingests the very files of the sample."""
    root, spec, made = cells
    warehouse = root / "shared.duckdb"
    results = {
        "sample": ingest(list(made[spec["sample"].cell.id].files), warehouse, cell=spec["sample"]),
        "hinge": ingest(list(made[spec["hinge"].cell.id].files), warehouse, cell=spec["hinge"]),
        "twin": ingest(list(made[spec["sample"].cell.id].files), warehouse, cell=spec["twin"]),
    }
    return warehouse, results


def test_each_cell_keeps_all_its_rows(cells, shared):
    _, spec, made = cells
    warehouse, results = shared
    for name, summary in results.items():
        assert summary.quarantined == 0, name
        assert all(f.status == "ingested" for f in summary.files), name  # same content, other cell: not a duplicate
    counts = rows_per_cell(warehouse)
    expected = {
        "sample": file_rows(made[spec["sample"].cell.id].files),
        "twin": file_rows(made[spec["sample"].cell.id].files),
        "hinge": file_rows(made[spec["hinge"].cell.id].files),
    }
    for name, rows in expected.items():
        for stream, n in rows.items():
            assert counts.get((stream, spec[name].cell.id), 0) == n, (name, stream)
    assert {cell_id for _, cell_id in counts} == {spec[n].cell.id for n in expected}
    assert results["sample"].accepted == sum(expected["sample"].values())


def test_ingesting_a_cells_files_again_changes_nothing(cells, shared):
    _, spec, made = cells
    warehouse, _ = shared
    before = rows_per_cell(warehouse)
    again = ingest(list(made[spec["hinge"].cell.id].files), warehouse, cell=spec["hinge"])
    assert again.accepted == 0 and all(f.status == "duplicate" for f in again.files)
    assert rows_per_cell(warehouse) == before


def test_figures_of_a_cell_are_those_of_its_own_warehouse(cells, shared):
    root, spec, made = cells
    warehouse, _ = shared
    alone = root / "hinge-alone.duckdb"
    ingest(list(made[spec["hinge"].cell.id].files), alone, cell=spec["hinge"])
    mixed, single = period(warehouse, cell=spec["hinge"]), period(alone, cell=spec["hinge"])
    assert mixed.period == single.period
    assert same(mixed.cost().to_dict(), single.cost().to_dict())
    assert same(mixed.carbon().to_dict(), single.carbon().to_dict())
    assert same(mixed.quality().to_dict(), single.quality().to_dict())
    # the twin holds the sample's very rows under its own id: the same figures, each counted once
    sample, twin = period(warehouse, cell=spec["sample"]), period(warehouse, cell=spec["twin"])
    assert sample.quality().units_completed > 0
    assert same(twin.cost().to_dict(), sample.cost().to_dict())
    assert same(twin.quality().to_dict(), sample.quality().to_dict())


def test_every_mart_row_names_its_cell(shared):
    warehouse, _ = shared
    with read_connection(warehouse) as con:
        marts = [
            r[0]
            for r in con.execute("select table_name from duckdb_tables() where table_name like 'mart_%'").fetchall()
        ]
        assert marts
        for mart in marts:
            cells_in = con.execute(
                f"select count(distinct cell_id), count(*) filter (where cell_id is null) from {mart}"
            )
            n_cells, n_null = cells_in.fetchall()[0]
            assert n_null == 0 and n_cells >= 2, mart


def test_a_warehouse_from_before_the_per_row_cell_gets_it_from_its_files(cells, tmp_path):
    _, spec, made = cells
    warehouse = tmp_path / "old.duckdb"
    ingest(
        [p for p in made[spec["hinge"].cell.id].files if p.name.startswith("events-")], warehouse, cell=spec["hinge"]
    )
    con = connect(warehouse)
    try:
        n = con.execute("select count(*) from raw_events").fetchall()[0][0]
        con.execute("alter table raw_events drop column cell_id")  # as an older celltwin wrote it
        ensure_schema(con, ValidationContext.from_cell(spec["hinge"]))
        rows = con.execute("select cell_id, count(*) from raw_events group by cell_id").fetchall()
    finally:
        con.close()
    assert rows == [(spec["hinge"].cell.id, n)]


def test_a_row_of_another_cell_is_quarantined_with_the_valid_one(cells, tmp_path):
    _, spec, made = cells
    events = next(p for p in made[spec["hinge"].cell.id].files if p.name.startswith("events-"))
    frame = pl.read_parquet(events).head(4).with_columns(pl.lit(spec["sample"].cell.id).alias("cell_id"))
    path = tmp_path / "events-foreign.parquet"
    frame.write_parquet(path)
    summary = ingest([path], tmp_path / "w.duckdb", cell=spec["hinge"])
    assert summary.accepted == 0 and summary.quarantined == 4
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        reasons = {r[0] for r in con.execute("select reason from quarantine").fetchall()}
    assert reasons == {f"unknown cell {spec['sample'].cell.id!r}; valid: {spec['hinge'].cell.id}"}
