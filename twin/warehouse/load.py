"""Telemetry files -> ``raw_<stream>`` and ``quarantine``: lossless, idempotent, one transaction per file.

For each file: hash its content (SHA-256); a hash already ingested is a ``duplicate`` and changes
nothing. Otherwise, in one transaction: open it (:mod:`twin.telemetry.read`), detect its stream, plan
the validation (:mod:`twin.telemetry.validate`), find the rows that need other rows to judge (key
duplicates within the file and against the warehouse, energy register falls), then insert the good
rows into ``raw_<stream>`` straight from the scan and every other row into ``quarantine`` with its
line, column and reason, and log the file in ``ingest_files``. ``accepted + quarantined = rows`` is
asserted before the commit. A file that cannot be read as a stream at all is ``rejected``: nothing of
it is stored except one ``quarantine`` row without a line that says why.

Natural keys are per ``cell_id``, ``source`` and ``replication``: a cell's robot ``R1`` may share its timestamps
with another cell's ``R1``, a simulated row with a measured one, and replication 2 of a what-if with its
replication 1.

Test hook: ``TWIN_TEST_PAUSE_AFTER_ROWS=N`` makes the insert stop after the rows with line <= N are
staged inside the open transaction, create the file named by ``TWIN_TEST_PAUSE_FILE`` (if set) and wait
until that file is deleted or ``TWIN_TEST_PAUSE_SECONDS`` (default 60) pass, so a test can read the
warehouse or SIGKILL the process at a known point mid-file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twin.cell.spec import CellSpec
from twin.errors import TelemetryError
from twin.telemetry.read import LINE, FileRejected, Source, detect, discover, ident, literal, open_source
from twin.telemetry.schema import STREAMS
from twin.telemetry.validate import (
    KEY_LINEAGE_TYPES,
    MEASURED_REPLICATION,
    PROBLEM,
    TS_MAX_US,
    TS_MIN_US,
    ValidationContext,
    ValidationPlan,
    extra_columns,
    infer_text_types,
    natural_key,
    plan_validation,
    raw_columns,
    record_sql,
)
from twin.warehouse.build import install_macros

log = logging.getLogger(__name__)

ENV_PAUSE_AFTER_ROWS = "TWIN_TEST_PAUSE_AFTER_ROWS"
ENV_PAUSE_FILE = "TWIN_TEST_PAUSE_FILE"
ENV_PAUSE_SECONDS = "TWIN_TEST_PAUSE_SECONDS"

INGESTED, DUPLICATE, REJECTED = "ingested", "duplicate", "rejected"
UNKNOWN_STREAM = "unknown"

QUICK_BYTES = 1 << 20
BACKGROUND_HASH_BYTES = 64 << 20
"""A new file at least this big is hashed in a thread while it loads."""
_TEMP_SOURCE = "twin_src"
_TEMP_EXCLUDED = "twin_excluded"


def raw_table(stream: str) -> str:
    """The raw table of a stream: ``raw_<stream>``."""
    return f"raw_{stream}"


@dataclass
class FileResult:
    """What happened to one file (one entry of ``twin ingest --json``)."""

    path: str
    stream: str
    rows: int
    accepted: int
    quarantined: int
    status: str
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this file."""
        return asdict(self)


@dataclass
class IngestReport:
    """The outcome of one ingest run."""

    files: list[FileResult]
    run_id: str = ""

    @property
    def accepted(self) -> int:
        """Rows accepted in this run."""
        return sum(f.accepted for f in self.files)

    @property
    def quarantined(self) -> int:
        """Rows quarantined in this run."""
        return sum(f.quarantined for f in self.files)

    @property
    def rejected(self) -> list[FileResult]:
        """Files rejected as a whole."""
        return [f for f in self.files if f.status == REJECTED]

    @property
    def exit_code(self) -> int:
        """0 when every file was ingested or a duplicate, 2 when any was rejected."""
        return 2 if self.rejected else 0

    def to_json(self) -> dict[str, Any]:
        """``{"files": [...], "accepted": int, "quarantined": int}``."""
        return {"files": [f.to_json() for f in self.files], "accepted": self.accepted, "quarantined": self.quarantined}


def table_columns(con: Any, table: str) -> dict[str, str]:
    """Column -> DuckDB type of a table (empty when it does not exist)."""
    rows = con.execute(
        "select column_name, data_type from duckdb_columns() where table_name = ? and schema_name = 'main' "
        "and database_name = current_database() order by column_index",
        [table],
    ).fetchall()
    return {name: kind for name, kind in rows}


def ensure_schema(con: Any, ctx: ValidationContext) -> None:
    """Create the ingest tables when missing, and add per-joint columns a bigger robot needs.

    Tables: ``raw_<stream>`` for every stream, ``ingest_files`` (one row per ingested file) and
    ``quarantine`` (one row per quarantined input row, or per rejected file with ``line`` NULL).

    Args:
        con: A write connection.
        ctx: The cell (for the number of joint columns).
    """
    con.execute("create sequence if not exists twin_file_id start 1")
    con.execute(
        "create table if not exists ingest_files (file_id bigint primary key, path varchar, file_hash varchar, "
        "quick_hash varchar, size_bytes bigint, format varchar, stream varchar, status varchar, n_rows bigint, "
        "n_accepted bigint, n_quarantined bigint, cell_id varchar, run_id varchar, loaded_at timestamptz)"
    )
    con.execute(
        "create table if not exists quarantine (file_id bigint, file varchar, file_hash varchar, stream varchar, "
        "line bigint, column_name varchar, reason varchar, record varchar, run_id varchar, loaded_at timestamptz)"
    )
    for stream in STREAMS:
        table = raw_table(stream)
        declared = raw_columns(stream, ctx.max_joints)
        have = table_columns(con, table)
        # a row loaded without a replication (a warehouse from before the column, a test's rows) is replication 0
        default = {"replication": f" default {MEASURED_REPLICATION}"}
        if not have:
            body = ", ".join(f"{ident(c.name)} {c.sql_type}{default.get(c.name, '')}" for c in declared)
            con.execute(f"create table {table} ({body})")
            continue
        for column in declared:
            if column.name not in have:
                kind = f"{column.sql_type}{default.get(column.name, '')}"
                con.execute(f"alter table {table} add column {ident(column.name)} {kind}")
        if "cell_id" not in have:  # a warehouse from before the per-row cell: each file's rows are its cell's
            con.execute(
                f"update {table} as r set cell_id = f.cell_id from ingest_files as f where f.file_id = r.file_id"
            )


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content (hex)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def quick_digest(path: Path, size: int) -> str:
    """SHA-256 of a file's size, first and last MiB: equal files have equal quick digests.

    A quick digest no ingested file shares proves the content new, so the full hash can run beside
    the load instead of before it; a shared one is settled by the full hash first.
    """
    h = hashlib.sha256(str(size).encode())
    with path.open("rb") as fh:
        h.update(fh.read(QUICK_BYTES))
        if size > 2 * QUICK_BYTES:
            fh.seek(size - QUICK_BYTES)
            h.update(fh.read(QUICK_BYTES))
    return h.hexdigest()


class _Digest:
    """A content hash being computed (in a thread for a big new file) or already known."""

    def __init__(self, path: Path, known: str | None = None, background: bool = False):
        self._value = known
        self._pool: ThreadPoolExecutor | None = None
        self._future: Future[str] | None = None
        if known is None and background:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="twin-hash")
            self._future = self._pool.submit(file_digest, path)
        elif known is None:
            self._value = file_digest(path)

    def __call__(self) -> str:
        if self._value is None:
            assert self._future is not None and self._pool is not None
            try:
                self._value = self._future.result()
            finally:
                self._pool.shutdown()
        return self._value

    def safe(self) -> str | None:
        """The hash, or None when the file could not be read to the end."""
        try:
            return self()
        except OSError:
            return None


def _pause(after: int) -> None:
    marker = os.environ.get(ENV_PAUSE_FILE)
    seconds = float(os.environ.get(ENV_PAUSE_SECONDS, "60"))
    log.warning("test pause after %d rows (marker %s)", after, marker)
    deadline = time.monotonic() + seconds
    if marker:
        Path(marker).write_text(str(os.getpid()))
        while Path(marker).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    else:
        time.sleep(seconds)


class Ingestor:
    """Ingests files one transaction each on an open write connection.

    Args:
        con: A write connection (the schema is ensured on creation).
        ctx: The cell's ids and joint limits.
        run_id: This run's id (recorded per file in ``ingest_files``); a new one when None.
    """

    def __init__(self, con: Any, ctx: ValidationContext, run_id: str | None = None):
        self.con = con
        self.ctx = ctx
        self.run_id = run_id or new_run_id()
        self.loaded_at = datetime.now(UTC)
        ensure_schema(con, ctx)

    # --- public -----------------------------------------------------------------------------------
    def ingest(self, path: str | Path, stream: str | None = None) -> FileResult:
        """Ingest one file in one transaction.

        Args:
            path: The file.
            stream: Force the stream (``--stream``); detected when None.

        Returns:
            The file's result (never raises for a bad file: it is ``rejected``).
        """
        import duckdb

        path = Path(path)
        shown = str(path)
        try:
            if path.is_dir():
                return self._reject(path, None, UNKNOWN_STREAM, FileRejected("is a folder, not a file"))
            size = path.stat().st_size
            quick = quick_digest(path, size)
            same_start = self.con.execute(
                "select file_hash, stream, n_rows from ingest_files "
                "where quick_hash = ? and status = 'ingested' and cell_id = ?",
                [quick, self.ctx.cell_id],
            ).fetchall()
            if same_start:
                digest = _Digest(path, file_digest(path))
                for file_hash, known_stream, n_rows in same_start:
                    if file_hash == digest():
                        return FileResult(shown, known_stream, int(n_rows), 0, 0, DUPLICATE)
            else:
                digest = _Digest(path, background=size >= BACKGROUND_HASH_BYTES)
        except FileNotFoundError:
            return self._reject(path, None, UNKNOWN_STREAM, FileRejected("file not found"))
        except OSError as exc:
            return self._reject(path, None, UNKNOWN_STREAM, FileRejected(f"cannot read ({exc.strerror})"))
        source: Source | None = None
        detected = stream or UNKNOWN_STREAM
        self.con.begin()
        try:
            source = open_source(self.con, path, _TEMP_SOURCE)
            detected = detect(source, stream)
            result = self._load(path, digest, quick, size, source, detected)
            self.con.commit()
            return result
        except FileRejected as exc:
            self.con.rollback()
            return self._reject(path, digest.safe(), stream or _stream_by_name(path) or detected, exc)
        except duckdb.Error as exc:
            self.con.rollback()
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.debug("ingest of %s failed", path, exc_info=True)
            rows = source.n_rows if source is not None else 0
            detected = detected if detected != UNKNOWN_STREAM else (_stream_by_name(path) or detected)
            return self._reject(path, digest.safe(), detected, FileRejected(f"unreadable ({message})", rows=rows))
        except BaseException:
            self.con.rollback()
            raise
        finally:
            if source is not None:
                source.close(self.con)
            digest.safe()  # never leave the hashing thread behind

    # --- steps --------------------------------------------------------------------------------------
    def _load(self, path: Path, digest: _Digest, quick: str, size: int, source: Source, stream: str) -> FileResult:
        con = self.con
        table = raw_table(stream)
        existing = table_columns(con, table)
        extras = [n for n in extra_columns(stream, source, self.ctx.max_joints) if n not in existing]
        types = infer_text_types(con, source, extras) if source.text else {}
        groups = _key_groups(con, source, stream) if source.format == "parquet" else None
        robots = self._robots_present(source, groups) if stream == "joint_states" else None
        plan = plan_validation(stream, source, self.ctx, existing=existing, extra_types=types, robots_present=robots)
        for column in plan.new_columns:
            con.execute(f"alter table {table} add column {ident(column.name)} {column.sql_type}")
        file_id = con.execute("select nextval('twin_file_id')").fetchall()[0][0]
        n_excluded = self._exclusions(plan, source, stream, groups)
        accepted = self._insert(plan, table, file_id, n_excluded)
        quarantined = 0
        if accepted < source.n_rows:
            quarantined = self._quarantine(plan, file_id, path, digest(), stream, n_excluded)
        if accepted + quarantined != source.n_rows:
            raise TelemetryError(
                f"{path}: internal error: {source.n_rows} rows but {accepted} accepted + {quarantined} quarantined"
            )
        con.execute(
            "insert into ingest_files values (?, ?, ?, ?, ?, ?, ?, 'ingested', ?, ?, ?, ?, ?, ?)",
            [
                file_id,
                str(path.resolve()),
                digest(),
                quick,
                size,
                source.format,
                stream,
                source.n_rows,
                accepted,
                quarantined,
                self.ctx.cell_id,
                self.run_id,
                self.loaded_at,
            ],
        )
        return FileResult(str(path), stream, source.n_rows, accepted, quarantined, INGESTED)

    def _robots_present(
        self, source: Source, groups: tuple[list[str], list[tuple]] | None = None
    ) -> tuple[str, ...] | None:
        """The cell's robots that occur in a joint-states file (None when there are too many ids to list)."""
        if "robot_id" not in source.columns:
            return None
        if groups is not None and "robot_id" in groups[0]:
            at = groups[0].index("robot_id")
            found = {str(row[at]).strip() for row in groups[1] if row[at] is not None}
            return tuple(rid for rid in self.ctx.robot_ids if rid in found)
        ref = source.columns["robot_id"][0]
        rows = self.con.execute(
            f"select distinct nullif(trim(cast({ref} as varchar)), '') from {source.relation} limit 1000"
        ).fetchall()
        if len(rows) >= 1000:
            return None
        found = {r[0] for r in rows}
        return tuple(rid for rid in self.ctx.robot_ids if rid in found)

    def _exclusions(
        self, plan: ValidationPlan, source: Source, stream: str, groups: tuple[list[str], list[tuple]] | None
    ) -> int:
        """Fill the temp table of rows excluded for reasons that need other rows; returns its size."""
        con = self.con
        con.execute(
            f"create or replace temp table {_TEMP_EXCLUDED} ({LINE} bigint, column_name varchar, reason varchar, "
            f"priority integer)"
        )
        key = plan.key
        shown_key = ", ".join(k for k in key if k not in KEY_LINEAGE_TYPES)
        fast = _parquet_keys_unique(con, source, stream, groups) if source.format == "parquet" else None
        # 1. duplicates of a key within the file (the first good row of a key wins)
        if fast is None or not fast[0]:
            group = ", ".join(ident(k) for k in key)
            con.execute(
                f"create or replace temp table twin_dupkeys as select {group} from ({plan.keys_sql}) "
                f"group by all having count(*) > 1"
            )
            if con.execute("select count(*) from twin_dupkeys").fetchall()[0][0]:
                on = " and ".join(f"p.{ident(k)} is not distinct from d.{ident(k)}" for k in key)
                part = ", ".join(f"p.{ident(k)}" for k in key)
                raw = "hash(" + ", ".join(f"p.{alias}" for _, alias in plan.raw_refs) + ")" if plan.raw_refs else "0"
                con.execute(
                    f"insert into {_TEMP_EXCLUDED} select {LINE}, {literal(shown_key)}, "
                    f"case when same then 'duplicate of line ' || first_line "
                    f"else 'duplicate key ({shown_key}) of line ' || first_line || ', other values differ' end, 2 "
                    f"from (select p.{LINE}, first_value(p.{LINE}) over w as first_line, "
                    f"{raw} = first_value({raw}) over w as same, row_number() over w as rn "
                    f"from ({plan.parsed_sql}) p semi join twin_dupkeys d on {on} "
                    f"where p.{PROBLEM} is null window w as (partition by {part} order by p.{LINE})) where rn > 1"
                )
            con.execute("drop table twin_dupkeys")
        # 2. keys already in the warehouse (only when the time ranges overlap)
        table = raw_table(stream)
        if fast is not None:
            lo, hi = fast[1], fast[2]
        else:
            lo, hi = con.execute(f"select min(ts), max(ts) from ({plan.keys_sql})").fetchall()[0]
        if lo is not None:
            overlap = con.execute(f"select exists (select 1 from {table} where ts between ? and ?)", [lo, hi])
            if overlap.fetchall()[0][0]:
                on = " and ".join(f"r.{ident(k)} is not distinct from p.{ident(k)}" for k in key)
                con.execute(
                    f"insert into {_TEMP_EXCLUDED} select p.{LINE}, {literal(shown_key)}, "
                    f"'duplicate key ({shown_key}) already in the warehouse (from ' || "
                    f"coalesce(min(f.path), 'an earlier load') || ')', 1 "
                    f"from ({plan.keys_sql}) p join {table} r on {on} "
                    f"left join ingest_files f on f.file_id = r.file_id "
                    f"where r.ts between ? and ? group by p.{LINE}",
                    [lo, hi],
                )
        n_dups = con.execute(f"select count(*) from {_TEMP_EXCLUDED}").fetchall()[0][0]
        # 3. energy register falls that are neither a reset nor a rollover
        if stream == "energy":
            self._register_falls(plan, n_dups)
        return con.execute(f"select count(distinct {LINE}) from {_TEMP_EXCLUDED}").fetchall()[0][0]

    def _register_falls(self, plan: ValidationPlan, n_excluded: int) -> None:
        """Quarantine the file's register readings that the energy-register rule calls a bad fall.

        The rule is ``sql/macros/energy_register.sql`` (the marts apply the same one); the file's readings are
        judged together with the meter's readings already in the warehouse.
        """
        install_macros(self.con)
        not_excluded = f"and p.{LINE} not in (select {LINE} from {_TEMP_EXCLUDED})" if n_excluded else ""
        self.con.execute(
            f"""
            create or replace temp view twin_register_readings as
            with new as (
                select p.{LINE}, p.cell_id, p.source, p.replication, p.meter_id, p.ts, p.energy_kwh,
                    p.register_max_kwh
                from ({plan.parsed_sql}) p
                where p.{PROBLEM} is null and p.energy_kwh is not null {not_excluded}
            ),
            old as (
                select null::bigint as {LINE}, r.cell_id, r.source, r.replication, r.meter_id, r.ts, r.energy_kwh,
                    r.register_max_kwh
                from raw_energy r
                where r.energy_kwh is not null
                  and exists (
                      select 1 from new n
                      where n.cell_id = r.cell_id and n.source = r.source and n.replication = r.replication
                        and n.meter_id = r.meter_id
                  )
            )
            select * from old union all select * from new
            """
        )
        self.con.execute(
            f"""
            insert into {_TEMP_EXCLUDED}
            select {LINE}, 'energy_kwh',
                'register fell from ' || reference_kwh || ' to ' || energy_kwh
                || ' kWh: not a reset (a reset falls below 1 % of the previous reading)', 3
            from energy_register_readings('twin_register_readings')
            where {LINE} is not null and reading_kind = 'bad_fall'
            """
        )
        self.con.execute("drop view twin_register_readings")

    def _insert(self, plan: ValidationPlan, table: str, file_id: int, n_excluded: int) -> int:
        names = [c.name for c in plan.out_columns]
        target = ", ".join(ident(n) for n in [*names, "file_id"])
        values = ", ".join(ident(n) for n in names)
        where = f"{PROBLEM} is null"
        if n_excluded:
            where += f" and {LINE} not in (select {LINE} from {_TEMP_EXCLUDED})"
        sql = f"insert into {table} ({target}) select {values}, {file_id} from ({plan.parsed_sql}) where {where}"
        pause = os.environ.get(ENV_PAUSE_AFTER_ROWS)
        if pause:
            after = int(pause)
            first = self.con.execute(f"{sql} and {LINE} <= {after}").fetchall()[0][0]
            _pause(after)
            return first + self.con.execute(f"{sql} and {LINE} > {after}").fetchall()[0][0]
        return self.con.execute(sql).fetchall()[0][0]

    def _quarantine(
        self, plan: ValidationPlan, file_id: int, path: Path, digest: str, stream: str, n_excluded: int
    ) -> int:
        excluded = (
            f"left join (select {LINE}, arg_min(column_name, priority) as column_name, "
            f"arg_min(reason, priority) as reason from {_TEMP_EXCLUDED} group by {LINE}) e on e.{LINE} = p.{LINE}"
            if n_excluded
            else f"left join (select null::bigint as {LINE}, null::varchar as column_name, "
            f"null::varchar as reason) e on false"
        )
        problem = f"p.{PROBLEM}"
        sql = f"""
            insert into quarantine
            select {file_id}, {literal(str(path.resolve()))}, {literal(digest)}, {literal(stream)}, p.{LINE},
                case when {problem} is not null then nullif(split_part({problem}, chr(31), 1), '')
                     else e.column_name end,
                case when {problem} is not null then substr({problem}, strpos({problem}, chr(31)) + 1)
                     else e.reason end,
                {record_sql(plan, "p")}, {literal(self.run_id)}, {literal(self.loaded_at.isoformat())}::timestamptz
            from ({plan.parsed_sql}) p {excluded}
            where {problem} is not null or e.{LINE} is not null
        """
        return self.con.execute(sql).fetchall()[0][0]

    def _reject(self, path: Path, digest: str | None, stream: str, exc: FileRejected) -> FileResult:
        """Record a whole-file rejection (replacing an earlier one of the same content) and report it."""
        resolved = str(path.resolve())
        self.con.begin()
        try:
            self.con.execute(
                "delete from quarantine where line is null and file = ? and file_hash is not distinct from ?",
                [resolved, digest],
            )
            self.con.execute(
                "insert into quarantine values (null, ?, ?, ?, null, ?, ?, null, ?, ?)",
                [resolved, digest, stream, exc.column, str(exc), self.run_id, self.loaded_at],
            )
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise
        return FileResult(str(path), stream, exc.rows, 0, 0, REJECTED, str(exc))


def _key_groups(con: Any, source: Source, stream: str) -> tuple[list[str], list[tuple[Any, ...]]] | None:
    """The distinct values of the natural key's non-time columns a file has (None: more than 64)."""
    cols = [k for k in natural_key(stream) if k != "ts" and k in source.columns]
    if not cols:
        return cols, [()]
    select = ", ".join(source.columns[k][0] for k in cols)
    rows = con.execute(f"select distinct {select} from {source.relation} limit 65").fetchall()
    return None if len(rows) > 64 else (cols, rows)


def _parquet_keys_unique(
    con: Any, source: Source, stream: str, groups: tuple[list[str], list[tuple[Any, ...]]] | None
) -> tuple[bool, Any, Any] | None:
    """Prove a Parquet file's keys unique without a hash aggregate: timestamps strictly increase per group.

    The natural key's non-time columns (``source`` included) split the rows into groups; when there are
    few groups and each group's ``ts`` strictly increases in the order the scan returns them, no key
    repeats (whatever that order is, strictly increasing values hold no repeat). Only the time column
    (and a group code) is read; any doubt returns "not proven" and the caller falls back to the exact
    SQL check.

    Returns:
        ``(unique, min_ts, max_ts)``, or None when the file does not suit the shortcut (the caller then
        also computes the time range itself).
    """
    import numpy as np

    cols = source.columns
    if groups is None or "ts" not in cols:
        return None
    ts_ref, ts_kind = cols["ts"][0], cols["ts"][1].upper()
    if ts_kind in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        ts_sql = f"epoch_us({ts_ref})"
    elif ts_kind in ("BIGINT", "INTEGER"):
        ts_sql = f"cast({ts_ref} as bigint)"
    else:
        return None
    names, values = groups
    if any(k not in cols and k not in KEY_LINEAGE_TYPES for k in natural_key(stream) if k != "ts"):
        return None
    if any(cols[k][1].upper() != KEY_LINEAGE_TYPES.get(k, "VARCHAR") for k in names):
        return None
    if any(v is None or v == "" for row in values for v in row):
        return None  # nulls or empty ids parse to other keys: let SQL decide
    if not values:
        return True, None, None
    if len(values) == 1:
        code_sql = ""
    else:
        whens = " ".join(
            f"when {' and '.join(f'{cols[k][0]} = {literal(str(v))}' for k, v in zip(names, row, strict=True))} "
            f"then {i}"
            for i, row in enumerate(values)
        )
        code_sql = f", case {whens} end as g"
    table = con.sql(f"select {ts_sql} as t{code_sql} from {source.relation}").to_arrow_table()
    if table.column(0).null_count:
        return None
    times = table.column(0).to_numpy()
    codes = table.column(1).to_numpy() if len(values) > 1 else None
    unique = True
    for code in range(len(values)):
        part = times if codes is None else times[codes == code]
        if part.size > 1 and not bool(np.all(part[1:] > part[:-1])):
            unique = False
            break
    # only rows inside 2000..2099 can be accepted, so the clamped range covers every candidate
    lo = min(max(int(times.min()), TS_MIN_US), TS_MAX_US - 1)
    hi = min(max(int(times.max()), TS_MIN_US), TS_MAX_US - 1)
    return unique, _us(lo), _us(hi)


def _stream_by_name(path: Path) -> str | None:
    """The stream a file's name announces (for reporting a file rejected before its columns were read)."""
    from twin.telemetry.schema import detect_stream

    return detect_stream([], path.name)


def _us(value: int) -> datetime:
    from datetime import timedelta

    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


def new_run_id() -> str:
    """A fresh ingest run id: ``ingest-<UTC time>-<8 hex>``."""
    return f"ingest-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def ingest_paths(
    paths: Iterable[str | Path],
    warehouse: str | Path | None = None,
    *,
    cell: CellSpec | str | Path | None = None,
    stream: str | None = None,
    build: bool = True,
    publish: bool = True,
    export_dir: str | Path | None = None,
    on_file: Callable[[FileResult], None] | None = None,
    on_start: Callable[[list[Path]], None] | None = None,
) -> IngestReport:
    """Ingest files and folders into the warehouse: what ``twin ingest`` does.

    Args:
        paths: Files and folders (recursively; CSV, Parquet, JSON Lines).
        warehouse: The warehouse file (default ``data/twin.duckdb``).
        cell: The cell (or its file) whose ids and joint limits validate the rows and whose id every row
            carries (default: the sample cell).
        stream: Force the stream of every file.
        build: Rebuild staging views and marts afterwards.
        publish: Publish the read snapshot afterwards (when anything changed or none exists).
        export_dir: Also export every stream as Hive-partitioned Parquet there.
        on_file: Called with each file's result (progress).
        on_start: Called with the list of files before the first one.

    Returns:
        The report (its ``exit_code`` is 2 when a file was rejected).

    Raises:
        TelemetryError: A folder holds no telemetry file.
        WarehouseError: The warehouse is held by another writer, or the build failed.
    """
    from twin.cell.load import load_cell
    from twin.paths import default_warehouse
    from twin.warehouse.build import build as build_marts
    from twin.warehouse.connection import connect
    from twin.warehouse.snapshot import publish as publish_snapshot
    from twin.warehouse.snapshot import snapshot_path

    files = discover(list(paths))
    ctx = ValidationContext.from_cell(cell if isinstance(cell, CellSpec) else load_cell(cell))
    target = Path(warehouse) if warehouse is not None else None
    con = connect(target)
    try:
        ingestor = Ingestor(con, ctx)
        if on_start is not None:
            on_start(files)
        results = []
        for path in files:
            result = ingestor.ingest(path, stream)
            results.append(result)
            if on_file is not None:
                on_file(result)
        changed = any(r.status == INGESTED for r in results)
        rejected = any(r.status == REJECTED for r in results)  # their quarantine entries are news too
        where = target if target is not None else default_warehouse()
        if build and (changed or not snapshot_path(where).exists()):
            build_marts(con)
        if export_dir is not None:
            from twin.warehouse.lake import export_partitioned

            export_partitioned(con, export_dir)
        if publish and (changed or rejected or not snapshot_path(where).exists()):
            publish_snapshot(con, where)
        return IngestReport(results, ingestor.run_id)
    finally:
        con.close()
