"""Telemetry files -> a DuckDB relation with a line number per row, ready to validate.

Three formats (SPEC.md, "Telemetry contract"):

* **Parquet** is scanned in place (``read_parquet``, typed columns; ``line`` is the 1-based row number).
* **CSV** is read by pyarrow with every column as text, so a wrong type is a per-row problem for the
  validation, not a failed read. ``line`` is the physical line in the file (the header is line 1);
  a line with the wrong number of fields becomes a row with a ``_row_error``; empty lines are not rows.
* **JSON Lines** (``.jsonl``, ``.ndjson``) are split into lines (vectorized, numpy), one JSON object per
  line; a line that is not a JSON object becomes a row with a ``_row_error``.

Text formats are materialized in a connection-local temporary table; nothing is parsed row by row in
Python. Whole-file problems (unreadable, truncated, empty, duplicate header names) raise
:class:`TelemetryError`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from twin.errors import TelemetryError
from twin.telemetry.schema import STREAMS, detect_stream

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
"""File suffix -> format."""

ROW_ERROR = "__row_error"
RAW_TEXT = "__raw"
LINE = "__line"


class FileRejected(TelemetryError):
    """A whole file cannot be ingested; ``column`` names the column when one is at fault."""

    def __init__(self, message: str, column: str | None = None, rows: int = 0):
        super().__init__(message)
        self.column = column
        self.rows = rows


def ident(name: str) -> str:
    """A SQL identifier, always quoted (file columns may hold any character).

    >>> print(ident("q_1"), ident('a"b'))
    "q_1" "a""b"
    """
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A SQL string literal.

    >>> literal("it's")
    "'it''s'"
    """
    return "'" + value.replace("'", "''") + "'"


def file_format(path: Path) -> str | None:
    """The telemetry format of a file by its suffix, or None when it is not a telemetry file."""
    return FORMATS.get(path.suffix.lower())


def discover(paths: list[str | Path]) -> list[Path]:
    """Expand files and folders (recursively) into telemetry files, in a stable order.

    Explicit files are kept whatever their suffix (the ingest rejects an unsupported one with a clear
    reason); inside folders only files with a telemetry suffix are taken, hidden ones skipped. A path
    named twice is ingested once.

    Args:
        paths: Files and folders as given on the command line.

    Returns:
        The files to ingest.

    Raises:
        TelemetryError: A folder holds no telemetry file.
    """
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            inside = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and file_format(p)
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not inside:
                raise TelemetryError(f"{path}: no telemetry files (valid: {', '.join(sorted(FORMATS))}) in the folder")
            found.extend(inside)
        else:
            found.append(path)
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


@dataclass
class Source:
    """A telemetry file opened as a relation of one DuckDB connection.

    Attributes:
        path: The file.
        format: ``csv``, ``parquet`` or ``jsonl``.
        relation: SQL usable after ``FROM`` (a temporary table or a ``read_parquet`` scan).
        line_sql: SQL of the 1-based line of a row in ``relation``.
        columns: Normalized (lower-case, stripped) column name -> (SQL reference, DuckDB type).
        n_rows: Rows in the file (lines with a wrong field count included; empty lines not).
        text: True when every value is text (CSV, JSON Lines) and has to be parsed.
        temp_table: The temporary table to drop afterwards, if any.
        has_row_error: A text file with malformed lines (``__row_error`` set on some rows).
    """

    path: Path
    format: str
    relation: str
    line_sql: str
    columns: dict[str, tuple[str, str]]
    n_rows: int
    text: bool
    temp_table: str | None = None
    has_row_error: bool = False

    def close(self, con: Any) -> None:
        """Drop the temporary table behind a text source."""
        if self.temp_table:
            con.execute(f"drop table if exists {self.temp_table}")
            self.temp_table = None


def _normalize(names: list[str]) -> list[str]:
    """Lower-case, stripped header names; an empty name becomes ``column_<i>`` (1-based)."""
    out = []
    for i, name in enumerate(names, start=1):
        clean = name.replace("\ufeff", "").strip().lower()
        out.append(clean or f"column_{i}")
    seen: set[str] = set()
    for name in out:
        if name in seen:
            raise FileRejected(f"duplicate column {name!r} in the header (names are case-insensitive)", column=name)
        seen.add(name)
    return out


def _line_spans(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, line break stripped) byte offsets of every physical line.

    A line ends at LF, CR LF or a lone CR (as pyarrow's CSV reader splits).
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lf = np.flatnonzero(buf == 10)
    cr = np.flatnonzero(buf == 13)
    if cr.size:
        follows = cr + 1
        lone = cr[(follows >= buf.size) | (buf[np.minimum(follows, buf.size - 1)] != 10)]
        crlf = cr[(follows < buf.size) & (buf[np.minimum(follows, buf.size - 1)] == 10)]
    else:
        lone = crlf = cr
    breaks = np.sort(np.concatenate([lf, lone])).astype(np.int64)
    starts = np.concatenate([[0], breaks + 1]).astype(np.int64)
    ends = np.concatenate([breaks, [buf.size]]).astype(np.int64)
    if crlf.size:  # a \r\n line ends before its \r
        is_crlf_end = np.isin(ends, crlf + 1)
        ends = ends - is_crlf_end.astype(np.int64)
    if starts[-1] == buf.size:  # the file ends with a line break: no line after it
        starts, ends = starts[:-1], ends[:-1]
    return starts, ends


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise FileRejected("file not found") from exc
    except IsADirectoryError as exc:
        raise FileRejected("is a folder, not a file") from exc
    except OSError as exc:
        raise FileRejected(f"cannot read ({exc.strerror})") from exc


def _unregister(con: Any, name: str) -> None:
    import duckdb

    try:
        con.unregister(name)
    except duckdb.Error:  # the transaction is aborted: the rollback drops the view anyway
        pass


def _register_table(con: Any, name: str, table: Any) -> None:
    view = f"{name}_arrow"
    con.register(view, table)
    try:
        con.execute(f"create or replace temp table {name} as select * from {view} order by {LINE}")
    finally:
        _unregister(con, view)


def open_csv(con: Any, path: Path, temp_table: str) -> Source:
    """Read a CSV file (comma-delimited, header on line 1) into a temporary all-text table.

    Args:
        con: The DuckDB connection that will validate the rows.
        path: The CSV file.
        temp_table: Name of the temporary table to create.

    Returns:
        The opened source.

    Raises:
        FileRejected: The file is empty, not UTF-8 text, truncated, or its header is unusable.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    data = _read_bytes(path)
    if not data.strip():
        raise FileRejected("empty file")
    starts, ends = _line_spans(data)
    header_text = data[starts[0] : ends[0]]
    try:
        header_line = header_text.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRejected(f"not UTF-8 text (header line: {exc.reason})") from exc
    if not header_line.strip():
        raise FileRejected("the first line (the header) is empty")
    names = _normalize(next(csv.reader(io.StringIO(header_line))))
    blank = (ends - starts) == 0
    n_lines = starts.size
    data_lines = np.flatnonzero(~blank[1:]) + 2  # 1-based physical line numbers of data rows
    invalid: list[tuple[int, int, str]] = []

    def on_invalid(row: Any) -> str:
        invalid.append((row.number, row.actual_columns, row.text))
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(use_threads=False, skip_rows=1, column_names=names),
            parse_options=pacsv.ParseOptions(
                delimiter=",",
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=True,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        message = str(exc).splitlines()[0]
        if "UTF8" in message or "utf8" in message.lower():
            raise FileRejected("not UTF-8 text") from exc
        raise FileRejected(f"unreadable CSV ({message})") from exc
    if any(number is None for number, _, _ in invalid):
        raise FileRejected("cannot number the lines of the file")
    # pyarrow numbers the rows it reads, header included, skipping empty lines: map to physical lines
    nonblank = np.flatnonzero(~blank) + 1
    numbers = np.array([number for number, _, _ in invalid], dtype=np.int64)
    if numbers.size and (numbers.min() < 1 or numbers.max() > nonblank.size):
        raise FileRejected("cannot number the lines of the file")
    bad_lines = nonblank[numbers - 1] if numbers.size else numbers
    invalid = [(int(line), actual, text) for line, (_, actual, text) in zip(bad_lines, invalid, strict=True)]
    last_line = int(data_lines[-1]) if data_lines.size else 0
    ends_with_break = data[-1:] in (b"\n", b"\r")
    if invalid and not ends_with_break and bad_lines.size and int(bad_lines.max()) == n_lines == last_line:
        fields = next(actual for number, actual, _ in invalid if number == n_lines)
        if fields < len(names):
            raise FileRejected(
                f"truncated: the last line ({n_lines}) has {fields} of {len(names)} fields and no line break",
                rows=int(data_lines.size),
            )
    good_lines = np.setdiff1d(data_lines, bad_lines, assume_unique=True)
    if good_lines.size != table.num_rows:
        raise FileRejected(
            f"cannot number the lines of the file ({table.num_rows} rows read, {good_lines.size} lines expected)"
        )
    columns = {name: table.column(name) for name in names}
    good = pa.table(
        {
            LINE: pa.array(good_lines, pa.int64()),
            ROW_ERROR: pa.nulls(good_lines.size, pa.string()),
            RAW_TEXT: pa.nulls(good_lines.size, pa.string()),
            **columns,
        }
    )
    if invalid:
        bad = pa.table(
            {
                LINE: pa.array(bad_lines, pa.int64()),
                ROW_ERROR: pa.array(
                    [f"line has {actual} fields, the header has {len(names)}" for _, actual, _ in invalid], pa.string()
                ),
                RAW_TEXT: pa.array([text for _, _, text in invalid], pa.string()),
                **{name: pa.nulls(len(invalid), pa.string()) for name in names},
            }
        )
        good = pa.concat_tables([good, bad])
    _register_table(con, temp_table, good)
    return Source(
        path=path,
        format="csv",
        relation=temp_table,
        line_sql=LINE,
        columns={name: (ident(name), "VARCHAR") for name in names},
        n_rows=int(data_lines.size),
        text=True,
        temp_table=temp_table,
        has_row_error=bool(invalid),
    )


def _json_path(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return literal(f'$."{escaped}"')


def open_jsonl(con: Any, path: Path, temp_table: str) -> Source:
    """Read a JSON Lines file (one object per line) into a temporary all-text table.

    Args:
        con: The DuckDB connection that will validate the rows.
        path: The JSON Lines file.
        temp_table: Name of the temporary table to create.

    Returns:
        The opened source; every key of any object is a column (names normalized).

    Raises:
        FileRejected: The file is empty, not UTF-8, or two keys differ only in case.
    """
    import pyarrow as pa

    data = _read_bytes(path)
    if not data.strip():
        raise FileRejected("empty file")
    starts, ends = _line_spans(data)
    keep = (ends - starts) > 0
    offsets = np.concatenate([starts, [len(data)]]).astype(np.int64)
    try:
        lines = pa.LargeStringArray.from_buffers(
            starts.size, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data), None, 0
        )
        lines.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise FileRejected("not UTF-8 text") from exc
    numbers = np.arange(1, starts.size + 1, dtype=np.int64)
    raw = pa.table({LINE: pa.array(numbers[keep]), "text": lines.filter(pa.array(keep))})
    lines_table = f"{temp_table}_lines"
    con.register(f"{lines_table}_arrow", raw)
    try:
        con.execute(
            f"create or replace temp table {lines_table} as select {LINE}, text, "
            f"case when json_valid(text) then json_type(text) = 'OBJECT' else false end as ok "
            f"from (select {LINE}, ltrim(rtrim(text, chr(13) || chr(10)), chr(65279)) as text "
            f"from {lines_table}_arrow) "
            f"where trim(text) <> ''"
        )
    finally:
        _unregister(con, f"{lines_table}_arrow")
    keys = [
        row[0]
        for row in con.execute(
            f"select k from (select {LINE}, unnest(json_keys(text)) as k from {lines_table} where ok) "
            f"group by k order by min({LINE}), k"
        ).fetchall()
    ]
    n_rows = con.execute(f"select count(*) from {lines_table}").fetchall()[0][0]
    if n_rows == 0:
        raise FileRejected("empty file (no JSON lines)")
    # keys that differ only in case (or surrounding space) are one column, the first spelling winning
    variants: dict[str, list[str]] = {}
    for key in keys:
        variants.setdefault(key.replace("\ufeff", "").strip().lower() or f"column_{len(variants) + 1}", []).append(key)
    names = list(variants)
    selects = [
        f"{LINE}",
        f"case when not ok then 'line is not a JSON object' end as {ROW_ERROR}",
        f"case when not ok then left(text, 500) end as {RAW_TEXT}",
    ]
    for name, spellings in variants.items():
        values = [f"json_extract_string(text, {_json_path(key)})" for key in spellings]
        value = values[0] if len(values) == 1 else f"coalesce({', '.join(values)})"
        selects.append(f"case when ok then {value} end as {ident(name)}")
    con.execute(
        f"create or replace temp table {temp_table} as select {', '.join(selects)} from {lines_table} order by {LINE}"
    )
    has_error = con.execute(f"select count(*) from {lines_table} where not ok").fetchall()[0][0] > 0
    con.execute(f"drop table {lines_table}")
    return Source(
        path=path,
        format="jsonl",
        relation=temp_table,
        line_sql=LINE,
        columns={name: (ident(name), "VARCHAR") for name in names},
        n_rows=int(n_rows),
        text=True,
        temp_table=temp_table,
        has_row_error=has_error,
    )


def open_parquet(con: Any, path: Path) -> Source:
    """Open a Parquet file as a typed scan (nothing is copied until the insert).

    Args:
        con: The DuckDB connection that will validate the rows.
        path: The Parquet file (its own columns only; Hive partition folders are not read as columns).

    Returns:
        The opened source.

    Raises:
        FileRejected: The file is missing, empty, truncated or not Parquet.
    """
    import duckdb

    if not path.is_file():
        raise FileRejected("file not found")
    if path.stat().st_size == 0:
        raise FileRejected("empty file")
    scan = f"read_parquet({literal(str(path))}, file_row_number = true, hive_partitioning = false)"
    try:
        described = con.execute(f"describe select * from {scan}").fetchall()
        n_rows = con.execute(f"select coalesce(sum(num_rows), 0) from parquet_file_metadata({literal(str(path))})")
        n_rows = int(n_rows.fetchall()[0][0])
    except duckdb.Error as exc:
        raise FileRejected(f"unreadable Parquet file ({_first_line(exc)})") from exc
    file_columns = [(name, str(kind)) for name, kind, *_ in described if name != "file_row_number"]
    names = _normalize([name for name, _ in file_columns])
    return Source(
        path=path,
        format="parquet",
        relation=scan,
        line_sql="(file_row_number + 1)",
        columns={norm: (ident(name), kind) for norm, (name, kind) in zip(names, file_columns, strict=True)},
        n_rows=n_rows,
        text=False,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return re.sub(r"\s+", " ", text[0]) if text else type(exc).__name__


def open_source(con: Any, path: Path, temp_table: str = "twin_src") -> Source:
    """Open any telemetry file by its suffix.

    Args:
        con: The DuckDB connection that will validate the rows.
        path: The file.
        temp_table: Temporary table name for text formats.

    Returns:
        The opened source.

    Raises:
        FileRejected: Unsupported suffix, or the file cannot be read as its format.
    """
    fmt = file_format(path)
    if fmt is None:
        valid = ", ".join(sorted(FORMATS))
        raise FileRejected(f"unsupported file type {path.suffix or '(none)'!r}; valid: {valid}")
    if fmt == "parquet":
        return open_parquet(con, path)
    if fmt == "csv":
        return open_csv(con, path, temp_table)
    return open_jsonl(con, path, temp_table)


def detect(source: Source, forced: str | None = None) -> str:
    """The stream of an opened file: forced, else by file or folder name, else by columns.

    Args:
        source: The opened file.
        forced: A stream name given with ``--stream``.

    Returns:
        The stream name.

    Raises:
        FileRejected: The stream is unknown or cannot be recognised.
    """
    if forced is not None:
        if forced not in STREAMS:
            raise FileRejected(f"unknown stream {forced!r}; valid: {', '.join(STREAMS)}")
        return forced
    names = list(source.columns)
    candidates = [source.path.name, *(part for part in reversed(source.path.parent.parts))]
    for candidate in candidates[:4]:  # the file, then a Hive layout <stream>/cell=../day=../x.parquet
        stream = detect_stream([], candidate)
        if stream is not None:
            return stream
    stream = detect_stream(names, None)
    if stream is not None:
        return stream
    shown = ", ".join(repr(n) for n in names[:6]) + (", ..." if len(names) > 6 else "")
    hint = ""
    if len(names) == 1 and any(sep in names[0] for sep in ";\t|"):
        hint = "; the header is one column: wrong delimiter? (CSV must be comma-separated)"
    raise FileRejected(
        f"no recognisable stream (columns: {shown}){hint}; name the file <stream>-... or use --stream "
        f"({', '.join(STREAMS)})"
    )


def scan_file(path: str | Path) -> pl.LazyFrame:
    """A telemetry file as a lazy frame, as written (no validation; text columns stay text in CSV).

    Args:
        path: A CSV, Parquet or JSON Lines file.

    Returns:
        The file's rows.

    Raises:
        TelemetryError: Unsupported suffix.
    """
    path = Path(path)
    fmt = file_format(path)
    if fmt == "parquet":
        return pl.scan_parquet(path, hive_partitioning=False)
    if fmt == "csv":
        return pl.scan_csv(path, infer_schema=False)
    if fmt == "jsonl":
        return pl.scan_ndjson(path)
    raise TelemetryError(f"{path}: unsupported file type {path.suffix!r}; valid: {', '.join(sorted(FORMATS))}")
