"""Carbon and cost factor tables: ``assets/factors/<table>_v<N>.csv`` -> polars frames with a declared schema.

Every row of every table carries the provenance columns ``name``, ``value``, ``unit``, ``source``, ``year``
and ``region`` (SPEC.md, "Sources of factors"); a value nobody could check against a source says
``unverified`` at the start of its ``source``. Tables are versioned by file name: a published
``<table>_vN.csv`` never changes meaning, a revision is added beside it as ``<table>_v(N+1).csv`` and the
loader picks the highest version unless told otherwise (STYLE.md, convention 6).

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
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from twin import paths
from twin.errors import AssetError, ConfigError

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
    "tariff_eur_per_kwh",
]

PROVENANCE_COLUMNS: tuple[str, ...] = ("name", "value", "unit", "source", "year", "region")
"""The columns every factor row carries, in the order :func:`factor_rows` emits them."""

UNVERIFIED = "unverified"
"""The word a ``source`` starts with when its value could not be checked against a public document."""

DAY_TYPES: tuple[str, ...] = ("mon-fri", "sat-sun", "all")
"""Valid values of a tariff band's ``days`` column; ``all`` applies to both day types."""

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
    """

    columns: tuple[Column, ...]
    keys: tuple[tuple[str, ...], ...] = ()

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
    ),
    "residual_mix": TableSchema(columns=_COMMON, keys=(_NAME_YEAR,)),
    "materials": TableSchema(
        columns=(*_COMMON, Column("material"), Column("boundary")),
        keys=(_NAME_YEAR, ("material",)),
    ),
    "fuels": TableSchema(
        columns=(*_COMMON, Column("fuel"), Column("basis")),
        keys=(_NAME_YEAR, ("fuel",)),
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


def load_factor_table(
    name: str,
    version: int | None = None,
    factors_dir: Path | str | None = None,
) -> pl.DataFrame:
    """Load ``<factors_dir>/<name>_v<version>.csv`` as a frame with the table's declared schema.

    Args:
        name: Table name, e.g. ``"grid_intensity"``, ``"materials"``, ``"tariffs"``.
        version: Version number; the highest available when None.
        factors_dir: Folder holding the tables; defaults to ``twin.paths.FACTORS_DIR``.

    Returns:
        One row per CSV row, in file order. Declared columns have their declared dtype (``year`` Int64,
        ``value`` Float64, text columns String); undeclared columns are kept as String.

    Raises:
        AssetError: The table (or that version of it) does not exist; the message lists what does.
        ConfigError: A row or the header is malformed; the message names the file, the 1-based line and
            the column.
    """
    path = _resolve(name, version, factors_dir)
    return _load_path(path, name).clone()  # the cached frame stays untouched by callers


def _load_path(path: Path, name: str) -> pl.DataFrame:
    try:
        stat = path.stat()
    except OSError as e:
        raise AssetError(f"cannot read factor table {path}: {e.strerror or e}") from e
    return _load_cached(str(path), name, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _load_cached(path_str: str, name: str, mtime_ns: int, size: int) -> pl.DataFrame:
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
    table: str, prefix: str, region: str, year: int | None, version: int | None, factors_dir: Path | str | None
) -> Factor:
    frame = load_factor_table(table, version, factors_dir)
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
) -> Factor:
    """The location-based annual average grid emission factor of a region.

    Args:
        region: Region code, e.g. ``"DE"`` (case-insensitive).
        year: The reporting year; the most recent value in or before it is used. The latest available
            year when None.
        version: ``grid_intensity`` table version; the latest when None.
        factors_dir: Folder holding the tables; defaults to ``twin.paths.FACTORS_DIR``.

    Returns:
        The factor; read ``.unit`` (``gCO2/kWh`` or ``gCO2e/kWh``, per source) and ``.source``.

    Raises:
        ConfigError: No value for the region (or none in or before ``year``); lists what exists.
        AssetError: The table is missing.
    """
    return _by_region("grid_intensity", "grid_location_", region, year, version, factors_dir)


def residual_mix(
    region: str,
    year: int | None = None,
    *,
    version: int | None = None,
    factors_dir: Path | str | None = None,
) -> Factor:
    """The market-based residual mix emission factor of a region (AIB European Residual Mixes).

    Args:
        region: Region code, e.g. ``"DE"`` (case-insensitive).
        year: The reporting year; the most recent value in or before it is used. The latest when None.
        version: ``residual_mix`` table version; the latest when None.
        factors_dir: Folder holding the tables; defaults to ``twin.paths.FACTORS_DIR``.

    Returns:
        The factor (``gCO2/kWh``) with its provenance.

    Raises:
        ConfigError: No value for the region (or none in or before ``year``); lists what exists.
        AssetError: The table is missing.
    """
    return _by_region("residual_mix", "residual_mix_", region, year, version, factors_dir)


def _by_key(
    table: str, key: str, prefix: str, wanted: str, version: int | None, factors_dir: Path | str | None
) -> Factor:
    frame = load_factor_table(table, version, factors_dir)
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
) -> Factor:
    """The cradle-to-gate embodied carbon of a material (kg CO2e per kg).

    Args:
        material: The ``material`` key as the cell uses it (``pla``, ``recycled_pla``, ``aluminium``,
            ``aluminium_primary``, ``aluminium_recycled``, ``steel``, ``abs``, ...) or the row ``name``.
        version: ``materials`` table version; the latest when None.
        factors_dir: Folder holding the tables; defaults to ``twin.paths.FACTORS_DIR``.

    Returns:
        The factor with its provenance; ``.verified`` is False for estimates.

    Raises:
        ConfigError: Unknown material; the message lists the valid ones.
        AssetError: The table is missing.
    """
    return _by_key("materials", "material", "material_", material, version, factors_dir)


def fuel_factor(
    fuel: str,
    *,
    version: int | None = None,
    factors_dir: Path | str | None = None,
) -> Factor:
    """The scope 1 combustion factor of a fuel (per kWh of fuel or per litre, see ``.unit``).

    Args:
        fuel: The ``fuel`` key, e.g. ``natural_gas``, ``heating_oil``, ``lpg``, ``diesel_gb``.
        version: ``fuels`` table version; the latest when None.
        factors_dir: Folder holding the tables; defaults to ``twin.paths.FACTORS_DIR``.

    Returns:
        The factor with its provenance.

    Raises:
        ConfigError: Unknown fuel; the message lists the valid ones.
        AssetError: The table is missing.
    """
    return _by_key("fuels", "fuel", "fuel_", fuel, version, factors_dir)


@dataclass(frozen=True)
class TariffSchedule:
    """A tariff's price for every local hour of a weekday and of a weekend day.

    Attributes:
        tariff_id: The tariff.
        timezone: IANA zone of the wall clock the bands refer to (e.g. ``Europe/Berlin``).
        unit: Price unit (``EUR/kWh``).
        weekday: 24 prices, index = local hour, for Monday to Friday.
        weekend: 24 prices for Saturday and Sunday.
        bands: 24-tuples of band names, keyed like the prices (``"mon-fri"``, ``"sat-sun"``).
        sources: The distinct ``source`` cells of the tariff's rows.
    """

    tariff_id: str
    timezone: str
    unit: str
    weekday: tuple[float, ...]
    weekend: tuple[float, ...]
    bands: Mapping[str, tuple[str, ...]]
    sources: tuple[str, ...]

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
) -> TariffSchedule:
    """The hour-by-hour prices of a tariff from the ``tariffs`` table.

    Args:
        tariff_id: E.g. ``"de_industrial_tou"`` (the sample cell's tariff) or ``"de_industrial_flat_bdew"``.
        version: ``tariffs`` table version; the latest when None.
        factors_dir: Folder holding the tables; defaults to ``twin.paths.FACTORS_DIR``.

    Returns:
        The schedule; the loader has already checked that the bands cover each hour exactly once.

    Raises:
        ConfigError: Unknown tariff; the message lists the valid ones.
        AssetError: The table is missing.
    """
    path = _resolve("tariffs", version, factors_dir)
    try:
        stat = path.stat()
    except OSError as e:
        raise AssetError(f"cannot read factor table {path}: {e.strerror or e}") from e
    return _schedule_cached(str(path), stat.st_mtime_ns, stat.st_size, tariff_id)


@lru_cache(maxsize=128)
def _schedule_cached(path_str: str, mtime_ns: int, size: int, tariff_id: str) -> TariffSchedule:
    frame = _load_cached(path_str, "tariffs", mtime_ns, size)
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


def tariff_eur_per_kwh(
    tariff_id: str,
    local_datetime: datetime,
    *,
    version: int | None = None,
    factors_dir: Path | str | None = None,
) -> float:
    """The energy price (EUR/kWh) of a tariff at a local wall-clock time, weekday/weekend aware.

    Args:
        tariff_id: E.g. ``"de_industrial_tou"``.
        local_datetime: A naive datetime is read as wall-clock time in the tariff's zone; an aware one is
            converted to that zone first. Hours belong to the calendar day they fall on, so Saturday
            00:00-06:00 is priced by the weekend bands.
        version: ``tariffs`` table version; the latest when None.
        factors_dir: Folder holding the tables; defaults to ``twin.paths.FACTORS_DIR``.

    Returns:
        The price of the band that holds the time.

    Raises:
        ConfigError: Unknown tariff, a tariff not priced in EUR/kWh, or a value that is not a datetime.
        AssetError: The table is missing.
    """
    if not isinstance(local_datetime, datetime):
        raise ConfigError(f"tariff lookup needs a datetime, got {type(local_datetime).__name__}")
    schedule = tariff_schedule(tariff_id, version=version, factors_dir=factors_dir)
    if schedule.unit != "EUR/kWh":
        raise ConfigError(f"tariff {tariff_id!r} is priced in {schedule.unit}, not EUR/kWh")
    return schedule.price_at(local_datetime)
