"""Carbon and cost factor tables: ``assets/factors/<table>_v<N>.csv`` -> polars frames with a declared schema.

Every row of every table carries the provenance columns ``name``, ``value``, ``unit``, ``source``, ``year``
and ``region`` (SPEC.md, "Sources of factors"); a value nobody could check against a source says
``unverified`` at the start of its ``source``. Tables are versioned by file name: a published
``<table>_vN.csv`` never changes meaning, a revision is added beside it as ``<table>_v(N+1).csv`` and the
loader picks the highest version unless told otherwise (STYLE.md, convention 6).

**Tables beside a cell file.** A cell may bring its own rows: a ``factors/`` folder next to its YAML holding
tables with the same file names and schema (``<cell dir>/factors/<table>_v<N>.csv``, the highest ``N`` there
is read). Every lookup takes those folders as ``extra_dirs`` (:func:`cell_factor_dirs` of the cell) and reads
the project's table plus theirs: a cell row whose natural key (:attr:`TableSchema.override_key`) matches a
project row replaces it, any other cell row is added. A cell row's ``source`` ends with where it came from
(``[cell table factors/tariffs_v1.csv, overriding assets/factors/tariffs_v2.csv]``), so reports show it.

**Currency.** A price row's ``unit`` names its currency (``EUR/kWh``, ``PLN/kWh``). :func:`in_currency`
prices a tariff in the cell's currency: the same currency passes, another needs an exchange rate the cell
gives (``cost.exchange_rates``) and the converted tariff says so; without one it is an error naming both.

Malformed rows raise :class:`twin.errors.ConfigError` naming the file, the 1-based line and the column; a
missing table raises :class:`twin.errors.AssetError` listing the tables that exist.

>>> is_verified("unverified: best estimate")
False
>>> is_verified("Hammond & Jones, Inventory of Carbon & Energy (ICE) v2.0, University of Bath, 2011")
True
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from twin import paths
from twin.errors import AssetError, ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from twin.cell.spec import CellSpec, ExchangeRateSpec

__all__ = [
    "PROVENANCE_COLUMNS",
    "UNVERIFIED",
    "DAY_TYPES",
    "Column",
    "TableSchema",
    "Factor",
    "TariffSchedule",
    "TABLE_SCHEMAS",
    "available_tables",
    "load_factor_table",
    "factor_rows",
    "is_verified",
    "grid_factor",
    "residual_mix",
    "material_factor",
    "fuel_factor",
    "tariff_schedule",
    "tariff_price_per_kwh",
    "CELL_FACTORS_DIR",
    "cell_factor_dirs",
    "unit_currency",
    "in_currency",
    "cell_tariff",
]

PROVENANCE_COLUMNS: tuple[str, ...] = ("name", "value", "unit", "source", "year", "region")
"""The columns every factor row carries, in the order :func:`factor_rows` emits them."""

UNVERIFIED = "unverified"
"""The word a ``source`` starts with when its value could not be checked against a public document."""

DAY_TYPES: tuple[str, ...] = ("mon-fri", "sat-sun", "all")
"""Valid values of a tariff band's ``days`` column; ``all`` applies to both day types."""

CELL_FACTORS_DIR = "factors"
"""The folder beside a cell file whose tables add to or override the project's (:func:`cell_factor_dirs`)."""

_YEAR_MIN, _YEAR_MAX = 1990, 2100
_FILE_RE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_-]*?)_v(?P<version>[1-9][0-9]*)\.csv$")

Kind = Literal["str", "int", "float"]
_DTYPES: dict[str, type[pl.DataType]] = {"str": pl.String, "int": pl.Int64, "float": pl.Float64}


@dataclass(frozen=True)
class Column:
    """One declared column of a factor table.

    Attributes:
        name: Column name in the CSV header.
        kind: ``"str"``, ``"int"`` or ``"float"``; the polars dtype follows (String, Int64, Float64).
        required: Whether the header must contain the column.
        nullable: Whether a cell may be empty (stored as null). Required columns of kind ``str`` that are
            not nullable must be non-blank.
        minimum: Inclusive lower bound for numeric columns.
        maximum: Inclusive upper bound for numeric columns.
        choices: Allowed values for a ``str`` column.
    """

    name: str
    kind: Kind = "str"
    required: bool = True
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None

    @property
    def dtype(self) -> type[pl.DataType]:
        """The polars dtype of the column."""
        return _DTYPES[self.kind]


@dataclass(frozen=True)
class TableSchema:
    """The declared schema of one factor table.

    Attributes:
        columns: Declared columns; columns found in a file but not declared are kept as strings.
        keys: Column groups whose combined value must be unique per row; every table also keeps
            (``name``, ``year``) unique.
        override_key: The natural key by which a cell's table (:data:`CELL_FACTORS_DIR`) replaces project
            rows: every project row with the key of a cell row is dropped, the cell rows are added.
    """

    columns: tuple[Column, ...]
    keys: tuple[tuple[str, ...], ...] = ()
    override_key: tuple[str, ...] = ("name", "year")

    def column(self, name: str) -> Column | None:
        """The declared column called ``name``, or None."""
        for col in self.columns:
            if col.name == name:
                return col
        return None


_NAME_YEAR: tuple[str, ...] = ("name", "year")

_COMMON: tuple[Column, ...] = (
    Column("name"),
    Column("value", "float", minimum=0.0),
    Column("unit"),
    Column("source"),
    Column("year", "int", minimum=_YEAR_MIN, maximum=_YEAR_MAX),
    Column("region"),
    Column("note", required=False, nullable=True),
)

TABLE_SCHEMAS: dict[str, TableSchema] = {
    "grid_intensity": TableSchema(
        columns=(*_COMMON, Column("basis")),
        keys=(_NAME_YEAR,),
        override_key=("region", "year"),
    ),
    "residual_mix": TableSchema(columns=_COMMON, keys=(_NAME_YEAR,), override_key=("region", "year")),
    "materials": TableSchema(
        columns=(*_COMMON, Column("material"), Column("boundary")),
        keys=(_NAME_YEAR, ("material",)),
        override_key=("material",),
    ),
    "fuels": TableSchema(
        columns=(*_COMMON, Column("fuel"), Column("basis")),
        keys=(_NAME_YEAR, ("fuel",)),
        override_key=("fuel",),
    ),
    "tariffs": TableSchema(
        columns=(
            Column("tariff_id"),
            Column("band"),
            Column("days", choices=DAY_TYPES),
            Column("start_hour", "int", minimum=0, maximum=23),
            Column("end_hour", "int", minimum=1, maximum=24),
            Column("timezone"),
            *_COMMON,
        ),
        keys=(_NAME_YEAR, ("tariff_id", "days", "start_hour")),
        override_key=("tariff_id",),
    ),
}
"""Declared schemas by table name; a table without an entry is checked against the provenance columns."""

_DEFAULT_SCHEMA = TableSchema(columns=_COMMON, keys=(_NAME_YEAR,))


def is_verified(source: str) -> bool:
    """Whether a ``source`` cites a checked document (it does not start with ``unverified``).

    Args:
        source: The ``source`` cell of a factor row.

    Returns:
        False when the source starts with ``unverified`` (any case), True otherwise.
    """
    return not source.strip().lower().startswith(UNVERIFIED)


@dataclass(frozen=True)
class Factor:
    """One factor value with its provenance, as the helpers return it.

    ``float(factor)`` gives the value, so a Factor can stand where a number is expected.

    Attributes:
        name: The row's ``name``.
        value: The factor in ``unit``.
        unit: E.g. ``gCO2/kWh``, ``kgCO2e/kg``.
        source: The public document the value was read in, or ``unverified: ...``.
        year: The year the value refers to.
        region: Region code (``DE``, ``EU``, ``GLO``, ...).
    """

    name: str
    value: float
    unit: str
    source: str
    year: int
    region: str

    @property
    def verified(self) -> bool:
        """Whether the source cites a checked document."""
        return is_verified(self.source)

    def as_dict(self) -> dict[str, object]:
        """The ``{"name","value","unit","source","year","region"}`` dict used in reports."""
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "source": self.source,
            "year": self.year,
            "region": self.region,
        }

    def __float__(self) -> float:
        return self.value


# --------------------------------------------------------------------------------------------------
# Discovery and loading
# --------------------------------------------------------------------------------------------------


def _factors_dir(factors_dir: Path | str | None) -> Path:
    return Path(factors_dir) if factors_dir is not None else paths.FACTORS_DIR


def available_tables(factors_dir: Path | str | None = None) -> dict[str, list[int]]:
    """The factor tables in a folder and their versions.

    Args:
        factors_dir: Folder to scan; defaults to ``twin.paths.FACTORS_DIR``.

    Returns:
        Table name -> sorted list of versions, e.g. ``{"materials": [1, 2]}``; empty when the folder
        does not exist.
    """
    folder = _factors_dir(factors_dir)
    if not folder.is_dir():
        return {}
    found: dict[str, list[int]] = {}
    for path in folder.iterdir():
        match = _FILE_RE.match(path.name)
        if match and path.is_file():
            found.setdefault(match["name"], []).append(int(match["version"]))
    return {name: sorted(versions) for name, versions in sorted(found.items())}


def _describe(tables: Mapping[str, list[int]]) -> str:
    if not tables:
        return "none"
    return ", ".join(f"{name} (v{', v'.join(str(v) for v in versions)})" for name, versions in tables.items())


def _resolve(name: str, version: int | None, factors_dir: Path | str | None) -> Path:
    folder = _factors_dir(factors_dir)
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise ConfigError(f"factor table version must be a positive integer, got {version!r}")
    tables = available_tables(folder)
    if name not in tables:
        where = str(folder) if folder.is_dir() else f"{folder} (folder does not exist)"
        raise AssetError(f"unknown factor table {name!r} in {where}; available: {_describe(tables)}")
    if version is None:
        version = tables[name][-1]
    elif version not in tables[name]:
        raise AssetError(
            f"factor table {name!r} has no version {version} in {folder}; "
            f"available: {', '.join(f'v{v}' for v in tables[name])}"
        )
    return folder / f"{name}_v{version}.csv"


def cell_factor_dirs(cell: CellSpec | Path | str | None) -> tuple[Path, ...]:
    """The folders whose tables add to or override the project's for a cell: its ``factors/`` folder.

    Args:
        cell: A loaded cell (its ``source_path`` is used), the cell file's path, or None.

    Returns:
        ``(<cell file's folder>/factors,)`` when that folder exists and is not the project's own factor
        folder; ``()`` otherwise (no file, no folder).

    >>> cell_factor_dirs(None)
    ()
    """
    source = cell if cell is None or isinstance(cell, (str, Path)) else cell.source_path
    if source is None:
        return ()
    folder = Path(source).parent / CELL_FACTORS_DIR
    if not folder.is_dir() or folder.resolve() == paths.FACTORS_DIR.resolve():
        return ()
    return (folder,)


_FileKey = tuple[str, int, int]  # path, mtime_ns, size: an edited file is read again


def _file_key(path: Path) -> _FileKey:
    try:
        stat = path.stat()
    except OSError as e:
        raise AssetError(f"cannot read factor table {path}: {e.strerror or e}") from e
    return (str(path), stat.st_mtime_ns, stat.st_size)


def _table_files(
    name: str, version: int | None, factors_dir: Path | str | None, extra_dirs: Iterable[Path | str]
) -> tuple[_FileKey, ...]:
    """The project's table file, then the latest version of the table in each extra folder that has it."""
    base = _resolve(name, version, factors_dir)
    files = [_file_key(base)]
    for folder in map(Path, extra_dirs):
        if folder.resolve() == base.parent.resolve():
            continue
        versions = available_tables(folder).get(name)
        if versions:
            files.append(_file_key(folder / f"{name}_v{versions[-1]}.csv"))
    return tuple(files)


def load_factor_table(
    name: str,
    version: int | None = None,
    factors_dir: Path | str | None = None,
    extra_dirs: Iterable[Path | str] = (),
) -> pl.DataFrame:
    """Load ``<factors_dir>/<name>_v<version>.csv`` as a frame with the table's declared schema.

    Args:
        name: Table name, e.g. ``"grid_intensity"``, ``"materials"``, ``"tariffs"``.
        version: Version number of the project's table; the highest available when None.
        factors_dir: Folder holding the project's tables; defaults to ``twin.paths.FACTORS_DIR``.
        extra_dirs: Folders whose latest ``<name>_v<N>.csv`` adds to or overrides the project's rows, in
            order (a cell's, :func:`cell_factor_dirs`). A row with the natural key
            (:attr:`TableSchema.override_key`) of a project row replaces it; its ``source`` then ends with
            ``[cell table factors/<file>, overriding <project file>]`` (``[cell table factors/<file>]`` when
            it adds a row).

    Returns:
        One row per CSV row, in file order (project rows first, then each folder's). Declared columns have
        their declared dtype (``year`` Int64, ``value`` Float64, text columns String); undeclared columns
        are kept as String.

    Raises:
        AssetError: The table (or that version of it) does not exist; the message lists what does.
        ConfigError: A row or the header is malformed; the message names the file, the 1-based line and
            the column. Or an extra folder's rows clash with the project's on a unique key.
    """
    files = _table_files(name, version, factors_dir, extra_dirs)
    return _merged_cached(name, files).clone()  # the cached frame stays untouched by callers


def _shown(path: Path) -> str:
    """A table's path as a report shows it: relative to the project folder when inside it."""
    try:
        return path.resolve().relative_to(paths.PROJECT_DIR.resolve()).as_posix()
    except ValueError:
        return str(path)


@lru_cache(maxsize=64)
def _merged_cached(name: str, files: tuple[_FileKey, ...]) -> pl.DataFrame:
    schema = TABLE_SCHEMAS.get(name, _DEFAULT_SCHEMA)
    frame = _load_cached(name, *files[0])
    base = _shown(Path(files[0][0]))
    key = list(schema.override_key)  # required columns of the schema, so in every file
    for path_str, mtime_ns, size in files[1:]:
        path = Path(path_str)
        extra = _load_cached(name, path_str, mtime_ns, size)
        project_keys = set(frame.select(key).iter_rows())
        extra_keys = list(extra.select(key).iter_rows())
        origin = f"cell table {path.parent.name}/{path.name}"
        notes = [f" [{origin}, overriding {base}]" if k in project_keys else f" [{origin}]" for k in extra_keys]
        extra = extra.with_columns(pl.col("source") + pl.Series(notes, dtype=pl.String))
        replaced = set(extra_keys)
        kept = frame.filter(pl.Series([k not in replaced for k in frame.select(key).iter_rows()], dtype=pl.Boolean))
        frame = pl.concat([kept, extra], how="diagonal_relaxed")
        for unique in (_NAME_YEAR, *schema.keys):
            if all(k in frame.columns for k in unique):
                dup = frame.filter(pl.struct(unique).is_duplicated()).select(unique).unique()
                if dup.height:
                    shown = ", ".join(f"{k}={v!r}" for k, v in dup.row(0, named=True).items())
                    raise ConfigError(
                        f"{path}: duplicate key ({shown}) with a row of {base} that it does not override "
                        f"(a cell row replaces project rows by {', '.join(schema.override_key)})"
                    )
    return frame


@lru_cache(maxsize=64)
def _load_cached(name: str, path_str: str, mtime_ns: int, size: int) -> pl.DataFrame:
    # mtime_ns and size are part of the cache key only: an edited file is read again.
    del mtime_ns, size
    schema = TABLE_SCHEMAS.get(name, _DEFAULT_SCHEMA)
    header, rows = _read_csv(Path(path_str))
    return _to_frame(Path(path_str), schema, header, rows)


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (1-based start line, fields) per record; blank lines are skipped."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, strict=True)
            records: list[tuple[int, list[str]]] = []
            end = 0
            try:
                for fields in reader:
                    start, end = end + 1, reader.line_num
                    if not fields or all(not f.strip() for f in fields):
                        continue
                    records.append((start, fields))
            except csv.Error as e:
                raise ConfigError(f"{path}: line {reader.line_num}: malformed CSV: {e}") from e
    except UnicodeDecodeError as e:
        raise AssetError(f"cannot read factor table {path}: not UTF-8 text ({e.reason})") from e
    except OSError as e:
        raise AssetError(f"cannot read factor table {path}: {e.strerror or e}") from e
    if not records:
        raise ConfigError(f"{path}: line 1: empty file; expected a header row")
    (_, header), body = records[0], records[1:]
    return [h.strip() for h in header], body


def _fail(path: Path, line: int, column: str, reason: str) -> ConfigError:
    return ConfigError(f"{path}: line {line}, column {column!r}: {reason}")


def _parse(path: Path, line: int, col: Column, raw: str) -> object:
    """One cell converted to the column's kind; raises ConfigError naming the line and column."""
    text = raw.strip()
    if not text:
        if col.nullable:
            return None
        raise _fail(path, line, col.name, "empty; a value is required")
    if col.kind == "str":
        if col.choices is not None and text not in col.choices:
            raise _fail(path, line, col.name, f"{text!r} is not one of {', '.join(col.choices)}")
        return text
    if col.kind == "int":
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise _fail(path, line, col.name, f"{text!r} is not an integer")
        number: float = int(text)
    else:
        try:
            number = float(text)
        except ValueError as e:
            raise _fail(path, line, col.name, f"{text!r} is not a number") from e
        if not math.isfinite(number):
            raise _fail(path, line, col.name, f"{text!r} is not a finite number")
    if col.minimum is not None and number < col.minimum:
        raise _fail(path, line, col.name, f"{text} is below the minimum {col.minimum:g}")
    if col.maximum is not None and number > col.maximum:
        raise _fail(path, line, col.name, f"{text} is above the maximum {col.maximum:g}")
    return number


def _to_frame(path: Path, schema: TableSchema, header: list[str], rows: list[tuple[int, list[str]]]) -> pl.DataFrame:
    seen: set[str] = set()
    for name in header:
        if not name:
            raise _fail(path, 1, name, "empty column name in the header")
        if name in seen:
            raise _fail(path, 1, name, "duplicate column name in the header")
        seen.add(name)
    for col in schema.columns:
        if col.required and col.name not in seen:
            raise _fail(path, 1, col.name, f"required column missing; header has: {', '.join(header)}")

    columns: list[Column] = [schema.column(h) or Column(h, nullable=True) for h in header]
    data: dict[str, list[object]] = {h: [] for h in header}
    lines: list[int] = []
    for line, fields in rows:
        if len(fields) != len(header):
            missing_or_extra = header[len(fields)] if len(fields) < len(header) else "(extra field)"
            raise _fail(path, line, missing_or_extra, f"expected {len(header)} fields, found {len(fields)}")
        for col, raw in zip(columns, fields, strict=True):
            data[col.name].append(_parse(path, line, col, raw))
        lines.append(line)

    _check_unique(path, schema, data, lines)
    frame = pl.DataFrame({col.name: pl.Series(col.name, data[col.name], dtype=col.dtype) for col in columns})
    if schema is TABLE_SCHEMAS["tariffs"]:
        _check_tariffs(path, frame, lines)
    return frame


def _check_unique(path: Path, schema: TableSchema, data: Mapping[str, list[object]], lines: list[int]) -> None:
    for key_cols in schema.keys:
        if not all(k in data for k in key_cols):
            continue
        first_seen: dict[tuple[object, ...], int] = {}
        for i, line in enumerate(lines):
            key = tuple(data[k][i] for k in key_cols)
            if key in first_seen:
                shown = ", ".join(f"{k}={v!r}" for k, v in zip(key_cols, key, strict=True))
                raise _fail(path, line, key_cols[0], f"duplicate key ({shown}); first at line {first_seen[key]}")
            first_seen[key] = line


def _band_hours(start: int, end: int) -> list[int]:
    """Hours [start, end) of a local day; a band with end <= start wraps past midnight."""
    if end > start:
        return list(range(start, end))
    return list(range(start, 24)) + list(range(0, end))


def _check_tariffs(path: Path, frame: pl.DataFrame, lines: list[int]) -> None:
    """Each tariff's bands cover every hour of each day type exactly once, in one valid time zone."""
    by_tariff: dict[str, list[int]] = {}
    for i, tariff_id in enumerate(frame["tariff_id"].to_list()):
        by_tariff.setdefault(tariff_id, []).append(i)
    days = frame["days"].to_list()
    starts = frame["start_hour"].to_list()
    ends = frame["end_hour"].to_list()
    zones = frame["timezone"].to_list()
    for tariff_id, idx in by_tariff.items():
        zone = zones[idx[0]]
        for i in idx:
            if zones[i] != zone:
                raise _fail(
                    path, lines[i], "timezone", f"tariff {tariff_id!r} mixes time zones {zone!r} and {zones[i]!r}"
                )
            if starts[i] == ends[i]:
                raise _fail(path, lines[i], "end_hour", "a band must not start and end at the same hour")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise _fail(path, lines[idx[0]], "timezone", f"unknown time zone {zone!r}") from e
        for day_type in ("mon-fri", "sat-sun"):
            cover: dict[int, int] = {}
            for i in idx:
                if days[i] not in (day_type, "all"):
                    continue
                for hour in _band_hours(starts[i], ends[i]):
                    if hour in cover:
                        raise _fail(
                            path,
                            lines[i],
                            "start_hour",
                            f"tariff {tariff_id!r} band overlaps line {lines[cover[hour]]} at {day_type} "
                            f"{hour:02d}:00; bands must cover each hour of each day type exactly once",
                        )
                    cover[hour] = i
            gaps = [h for h in range(24) if h not in cover]
            if gaps:
                raise _fail(
                    path,
                    lines[idx[0]],
                    "start_hour",
                    f"tariff {tariff_id!r} leaves {day_type} hours uncovered: {', '.join(f'{h:02d}:00' for h in gaps)}",
                )


def factor_rows(frame: pl.DataFrame) -> list[dict[str, object]]:
    """The provenance of every row, as ``{"name","value","unit","source","year","region"}`` dicts.

    Args:
        frame: A frame from :func:`load_factor_table` (or any frame with the provenance columns).

    Returns:
        One dict per row with ``value`` as float and ``year`` as int, in row order.

    Raises:
        ConfigError: The frame lacks one of the provenance columns.
    """
    missing = [c for c in PROVENANCE_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(f"frame lacks provenance column(s) {', '.join(missing)}; has: {', '.join(frame.columns)}")
    rows = frame.select(PROVENANCE_COLUMNS).to_dicts()
    for row in rows:
        row["value"] = float(row["value"])
        row["year"] = int(row["year"])
    return rows


# --------------------------------------------------------------------------------------------------
# Lookups
# --------------------------------------------------------------------------------------------------


def _factor(row: Mapping[str, object]) -> Factor:
    return Factor(
        name=str(row["name"]),
        value=float(row["value"]),  # type: ignore[arg-type]
        unit=str(row["unit"]),
        source=str(row["source"]),
        year=int(row["year"]),  # type: ignore[call-overload]
        region=str(row["region"]),
    )


def _by_region(
    table: str,
    prefix: str,
    region: str,
    year: int | None,
    version: int | None,
    factors_dir: Path | str | None,
    extra_dirs: Iterable[Path | str],
) -> Factor:
    frame = load_factor_table(table, version, factors_dir, extra_dirs)
    code = region.strip().upper()
    regions = sorted(set(frame["region"].to_list()))
    rows = frame.filter(pl.col("region") == code)
    if rows.is_empty():
        raise ConfigError(f"no {table} factor for region {region!r}; valid: {', '.join(regions)}")
    if year is not None:
        years = sorted(set(rows["year"].to_list()))
        rows = rows.filter(pl.col("year") <= year)
        if rows.is_empty():
            raise ConfigError(
                f"no {table} factor for region {code} in or before {year}; "
                f"available years: {', '.join(str(y) for y in years)}"
            )
    latest = rows.filter(pl.col("year") == rows["year"].max())
    canonical = latest.filter(pl.col("name") == f"{prefix}{code}")
    chosen = canonical if not canonical.is_empty() else latest.sort("name")
    return _factor(chosen.row(0, named=True))


def grid_factor(
    region: str,
    year: int | None = None,
    *,
    version: int | None = None,
    factors_dir: Path | str | None = None,
    extra_dirs: Iterable[Path | str] = (),
) -> Factor:
    """The location-based annual average grid emission factor of a region.

    Args:
        region: Region code, e.g. ``"DE"`` or ``"US-CA"`` (case-insensitive).
        year: The reporting year; the most recent value in or before it is used. The latest available
            year when None.
        version: ``grid_intensity`` table version; the latest when None.
        factors_dir: Folder holding the tables; defaults to ``twin.paths.FACTORS_DIR``.
        extra_dirs: A cell's factor folders (:func:`cell_factor_dirs`), adding or overriding rows.

    Returns:
        The factor; read ``.unit`` (``gCO2/kWh`` or ``gCO2e/kWh``, per source) and ``.source``.

    Raises:
        ConfigError: No value for the region (or none in or before ``year``); lists what exists.
        AssetError: The table is missing.
    """
    return _by_region("grid_intensity", "grid_location_", region, year, version, factors_dir, extra_dirs)


def residual_mix(
    region: str,
    year: int | None = None,
    *,
    version: int | None = None,
    factors_dir: Path | str | None = None,
    extra_dirs: Iterable[Path | str] = (),
) -> Factor:
    """The market-based residual mix emission factor of a region (AIB European Residual Mixes, Green-e, ...).

    Args:
        region: Region code, e.g. ``"DE"`` (case-insensitive).
        year: The reporting year; the most recent value in or before it is used. The latest when None.
        version: ``residual_mix`` table version; the latest when None.
        factors_dir: Folder holding the tables; defaults to ``twin.paths.FACTORS_DIR``.
        extra_dirs: A cell's factor folders (:func:`cell_factor_dirs`), adding or overriding rows.

    Returns:
        The factor (``gCO2/kWh``) with its provenance.

    Raises:
        ConfigError: No value for the region (or none in or before ``year``); lists what exists.
        AssetError: The table is missing.
    """
    return _by_region("residual_mix", "residual_mix_", region, year, version, factors_dir, extra_dirs)


def _by_key(
    table: str,
    key: str,
    prefix: str,
    wanted: str,
    version: int | None,
    factors_dir: Path | str | None,
    extra_dirs: Iterable[Path | str],
) -> Factor:
    frame = load_factor_table(table, version, factors_dir, extra_dirs)
    needle = wanted.strip().lower()
    for row in frame.iter_rows(named=True):
        if str(row[key]).lower() == needle or str(row["name"]).lower() in (needle, f"{prefix}{needle}"):
            return _factor(row)
    valid = ", ".join(sorted(str(v) for v in frame[key].to_list()))
    raise ConfigError(f"unknown {key} {wanted!r} in factor table {table!r}; valid: {valid}")


def material_factor(
    material: str,
    *,
    version: int | None = None,
    factors_dir: Path | str | None = None,
    extra_dirs: Iterable[Path | str] = (),
) -> Factor:
    """The cradle-to-gate embodied carbon of a material (kg CO2e per kg).

    Args:
        material: The ``material`` key as the cell uses it (``pla``, ``recycled_pla``, ``aluminium``,
            ``aluminium_primary``, ``aluminium_recycled``, ``steel``, ``abs``, ...) or the row ``name``.
        version: ``materials`` table version; the latest when None.
        factors_dir: Folder holding the tables; defaults to ``twin.paths.FACTORS_DIR``.
        extra_dirs: A cell's factor folders (:func:`cell_factor_dirs`), adding or overriding rows.

    Returns:
        The factor with its provenance; ``.verified`` is False for estimates.

    Raises:
        ConfigError: Unknown material; the message lists the valid ones.
        AssetError: The table is missing.
    """
    return _by_key("materials", "material", "material_", material, version, factors_dir, extra_dirs)


def fuel_factor(
    fuel: str,
    *,
    version: int | None = None,
    factors_dir: Path | str | None = None,
    extra_dirs: Iterable[Path | str] = (),
) -> Factor:
    """The scope 1 combustion factor of a fuel (per kWh of fuel or per litre, see ``.unit``).

    Args:
        fuel: The ``fuel`` key, e.g. ``natural_gas``, ``heating_oil``, ``lpg``, ``diesel_gb``.
        version: ``fuels`` table version; the latest when None.
        factors_dir: Folder holding the tables; defaults to ``twin.paths.FACTORS_DIR``.
        extra_dirs: A cell's factor folders (:func:`cell_factor_dirs`), adding or overriding rows.

    Returns:
        The factor with its provenance.

    Raises:
        ConfigError: Unknown fuel; the message lists the valid ones.
        AssetError: The table is missing.
    """
    return _by_key("fuels", "fuel", "fuel_", fuel, version, factors_dir, extra_dirs)


_PRICE_UNIT = re.compile(r"^(?P<currency>[A-Z]{3})/(?P<per>\S.*)$")


def unit_currency(unit: str) -> str | None:
    """The ISO 4217 currency a price unit is in, or None when the unit is not ``<CUR>/<unit>``.

    >>> unit_currency("PLN/kWh")
    'PLN'
    >>> unit_currency("gCO2/kWh") is None
    True
    """
    match = _PRICE_UNIT.match(unit.strip())
    return match["currency"] if match else None


@dataclass(frozen=True)
class TariffSchedule:
    """A tariff's price for every local hour of a weekday and of a weekend day.

    Attributes:
        tariff_id: The tariff.
        timezone: IANA zone of the wall clock the bands refer to (e.g. ``Europe/Berlin``).
        unit: Price unit, ``<ISO 4217 code>/kWh`` (``EUR/kWh``, ``PLN/kWh``).
        weekday: 24 prices, index = local hour, for Monday to Friday.
        weekend: 24 prices for Saturday and Sunday.
        bands: 24-tuples of band names, keyed like the prices (``"mon-fri"``, ``"sat-sun"``).
        sources: The distinct ``source`` cells of the tariff's rows, then the conversion when there is one.
        conversion: How the prices were converted into :attr:`currency` (rate, date, source), or None
            when they are the table's own.
    """

    tariff_id: str
    timezone: str
    unit: str
    weekday: tuple[float, ...]
    weekend: tuple[float, ...]
    bands: Mapping[str, tuple[str, ...]]
    sources: tuple[str, ...]
    conversion: str | None = None

    @property
    def currency(self) -> str | None:
        """The ISO 4217 code of :attr:`unit` (None when the unit names no currency)."""
        return unit_currency(self.unit)

    def local_time(self, when: datetime) -> datetime:
        """``when`` on the tariff's wall clock: aware datetimes are converted, naive ones taken as local."""
        if when.tzinfo is None or when.utcoffset() is None:
            return when
        return when.astimezone(ZoneInfo(self.timezone))

    def price_at(self, when: datetime) -> float:
        """The price of the band that holds ``when`` (see :meth:`local_time`)."""
        local = self.local_time(when)
        prices = self.weekday if local.weekday() < 5 else self.weekend
        return prices[local.hour]

    def band_at(self, when: datetime) -> str:
        """The name of the band that holds ``when``."""
        local = self.local_time(when)
        return self.bands["mon-fri" if local.weekday() < 5 else "sat-sun"][local.hour]


def tariff_schedule(
    tariff_id: str,
    *,
    version: int | None = None,
    factors_dir: Path | str | None = None,
    extra_dirs: Iterable[Path | str] = (),
) -> TariffSchedule:
    """The hour-by-hour prices of a tariff from the ``tariffs`` table, in the table's own currency.

    Args:
        tariff_id: E.g. ``"de_industrial_tou"`` (the sample cell's tariff) or ``"de_industrial_flat_bdew"``.
        version: ``tariffs`` table version; the latest when None.
        factors_dir: Folder holding the tables; defaults to ``twin.paths.FACTORS_DIR``.
        extra_dirs: A cell's factor folders (:func:`cell_factor_dirs`); a cell tariff with the same id
            replaces the project's whole tariff.

    Returns:
        The schedule; the loader has already checked that the bands cover each hour exactly once. Price it in
        a cell's currency with :func:`in_currency` (or take :func:`cell_tariff`).

    Raises:
        ConfigError: Unknown tariff (the message lists the valid ones), or one whose rows mix units.
        AssetError: The table is missing.
    """
    return _schedule_cached(_table_files("tariffs", version, factors_dir, extra_dirs), tariff_id)


@lru_cache(maxsize=128)
def _schedule_cached(files: tuple[_FileKey, ...], tariff_id: str) -> TariffSchedule:
    frame = _merged_cached("tariffs", files)
    rows = frame.filter(pl.col("tariff_id") == tariff_id)
    if rows.is_empty():
        valid = ", ".join(sorted(set(frame["tariff_id"].to_list())))
        raise ConfigError(f"unknown tariff {tariff_id!r}; valid: {valid}")
    prices: dict[str, list[float]] = {"mon-fri": [0.0] * 24, "sat-sun": [0.0] * 24}
    bands: dict[str, list[str]] = {"mon-fri": [""] * 24, "sat-sun": [""] * 24}
    for row in rows.iter_rows(named=True):
        targets = ("mon-fri", "sat-sun") if row["days"] == "all" else (row["days"],)
        for day_type in targets:
            for hour in _band_hours(row["start_hour"], row["end_hour"]):
                prices[day_type][hour] = float(row["value"])
                bands[day_type][hour] = row["band"]
    units = sorted(set(rows["unit"].to_list()))
    if len(units) != 1:
        raise ConfigError(f"tariff {tariff_id!r} mixes units {', '.join(units)}")
    return TariffSchedule(
        tariff_id=tariff_id,
        timezone=rows["timezone"][0],
        unit=units[0],
        weekday=tuple(prices["mon-fri"]),
        weekend=tuple(prices["sat-sun"]),
        bands={k: tuple(v) for k, v in bands.items()},
        sources=tuple(dict.fromkeys(rows["source"].to_list())),
    )


def in_currency(
    schedule: TariffSchedule, currency: str, exchange_rates: Mapping[str, ExchangeRateSpec] | None = None
) -> TariffSchedule:
    """A tariff priced in ``currency``: as it is when it already is, else converted at the cell's rate.

    Args:
        schedule: The tariff, in its table's currency.
        currency: The ISO 4217 code to price in (the cell's ``cost.currency``).
        exchange_rates: ``cost.exchange_rates`` of the cell: source currency -> rate (1 unit of it = ``rate``
            units of ``currency``), with its date and source.

    Returns:
        ``schedule`` itself when its unit is ``<currency>/<unit>``; otherwise every price times the rate, the
        unit ``<currency>/<unit>``, and :attr:`TariffSchedule.conversion` (also the last of ``sources``)
        naming the rate, its date and its source.

    Raises:
        ConfigError: The unit names no currency, or another currency with no rate for it; the message names
            both currencies and the key to add.
    """
    found = _PRICE_UNIT.match(schedule.unit.strip())
    if found is None:
        raise ConfigError(
            f"tariff {schedule.tariff_id!r} is priced in {schedule.unit!r}, not <ISO 4217 code>/kWh (e.g. EUR/kWh)"
        )
    source_currency, per = found["currency"], found["per"]
    if source_currency == currency:
        return schedule
    rate = (exchange_rates or {}).get(source_currency)
    if rate is None:
        given = ", ".join(sorted(exchange_rates or {})) or "none"
        raise ConfigError(
            f"tariff {schedule.tariff_id!r} is priced in {source_currency} ({schedule.unit}) but the cell's "
            f"currency is {currency}; give cost.exchange_rates.{source_currency} (rate: {currency} per 1 "
            f"{source_currency}, date, source) or use a tariff priced in {currency}/{per} (rates given: {given})"
        )
    conversion = (
        f"converted from {source_currency}/{per} at 1 {source_currency} = {rate.rate:g} {currency} "
        f"({rate.date.isoformat()}; {rate.source}; cell definition: cost.exchange_rates.{source_currency})"
    )
    return TariffSchedule(
        tariff_id=schedule.tariff_id,
        timezone=schedule.timezone,
        unit=f"{currency}/{per}",
        weekday=tuple(p * rate.rate for p in schedule.weekday),
        weekend=tuple(p * rate.rate for p in schedule.weekend),
        bands=schedule.bands,
        sources=(*schedule.sources, conversion),
        conversion=conversion,
    )


def cell_tariff(cell: CellSpec) -> TariffSchedule:
    """The cell's tariff (``cost.tariff_id``) from the project's and the cell's tables, in the cell's currency.

    Args:
        cell: The validated cell (its ``source_path`` locates its own ``factors/`` folder).

    Returns:
        :func:`in_currency` of the tariff, with the cell's currency and exchange rates.

    Raises:
        ConfigError: Unknown tariff, or one in another currency without a rate.
        AssetError: The table is missing.
    """
    schedule = tariff_schedule(cell.cost.tariff_id, extra_dirs=cell_factor_dirs(cell))
    return in_currency(schedule, cell.cost.currency, cell.cost.exchange_rates)


def tariff_price_per_kwh(
    tariff_id: str,
    local_datetime: datetime,
    *,
    currency: str | None = None,
    exchange_rates: Mapping[str, ExchangeRateSpec] | None = None,
    version: int | None = None,
    factors_dir: Path | str | None = None,
    extra_dirs: Iterable[Path | str] = (),
) -> float:
    """The energy price of a tariff at a local wall-clock time, weekday/weekend aware.

    Args:
        tariff_id: E.g. ``"de_industrial_tou"``.
        local_datetime: A naive datetime is read as wall-clock time in the tariff's zone; an aware one is
            converted to that zone first. Hours belong to the calendar day they fall on, so Saturday
            00:00-06:00 is priced by the weekend bands.
        currency: Price in this ISO 4217 currency (:func:`in_currency`); the tariff's own when None.
        exchange_rates: Rates into ``currency`` by source currency (a cell's ``cost.exchange_rates``).
        version: ``tariffs`` table version; the latest when None.
        factors_dir: Folder holding the tables; defaults to ``twin.paths.FACTORS_DIR``.
        extra_dirs: A cell's factor folders (:func:`cell_factor_dirs`).

    Returns:
        The price of the band that holds the time, per kWh, in ``currency`` (or the tariff's unit).

    Raises:
        ConfigError: Unknown tariff, a tariff in another currency without a rate, or a value that is not a
            datetime.
        AssetError: The table is missing.
    """
    if not isinstance(local_datetime, datetime):
        raise ConfigError(f"tariff lookup needs a datetime, got {type(local_datetime).__name__}")
    schedule = tariff_schedule(tariff_id, version=version, factors_dir=factors_dir, extra_dirs=extra_dirs)
    if currency is not None:
        schedule = in_currency(schedule, currency, exchange_rates)
    return schedule.price_at(local_datetime)
