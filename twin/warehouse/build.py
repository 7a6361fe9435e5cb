"""Build the warehouse's staging views and marts from the SQL files under ``twin/warehouse/sql``.

Every ``sql/staging/*.sql`` becomes a view named after the file, then every ``sql/marts/*.sql`` a table,
all in one transaction: adding a model is adding a file. Within a layer models run in file-name order,
except that a mart reading another mart runs after it. A model file is one query that starts with its
import CTEs and ends ``select * from final`` (STYLE.md rule 9).

``sql/macros/*.sql`` hold rules that more than one query applies (the energy-register rule: the ingest
judges falls with it and ``mart_energy_intervals`` computes deltas with it). Each file is one
``create or replace temp macro`` statement; :func:`install_macros` runs them on a connection, and the
build does so first.

A mart's first line is a comment stating its grain (``-- one row per cycle per station``); the build
refuses a mart without one. Optional contract lines anywhere in a model's leading comments are
checked once every model is built (STYLE.md rule 11)::

    -- unique: station_id, source, started_at
    -- not_null: station_id, started_at
    -- check: ended_at is null or ended_at >= started_at
    -- references: mart_unit_disposition (source, unit_id)
    -- columns: source varchar, unit_id varchar, first_measured_at timestamptz, missing varchar[]

``references`` is a foreign key: every row's key (the listed columns, not null) is a key of the named
model. ``columns`` (may span several lines) declares every column with its DuckDB type, in order.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.errors import WarehouseError

SQL_DIR = Path(__file__).resolve().parent / "sql"
LAYERS = ("staging", "marts")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_REFERENCES = re.compile(r"^([a-z][a-z0-9_]*)\s*\(([^)]*)\)$")
_TYPE_ALIASES = {"timestamptz": "timestamp with time zone"}


@dataclass(frozen=True)
class Model:
    """One SQL model: a staging view or a mart table, with its declared grain and checks."""

    name: str
    layer: str
    path: Path
    sql: str
    grain: str | None
    unique: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    checks: tuple[str, ...] = field(default_factory=tuple)
    references: tuple[tuple[str, tuple[str, ...]], ...] = ()
    columns: tuple[tuple[str, str], ...] = ()


def _parse(path: Path, layer: str) -> Model:
    text = path.read_text(encoding="utf-8")
    name = path.stem
    if not _NAME.match(name):
        raise WarehouseError(f"{path}: a model name must be lower_snake_case (it becomes the table name)")
    lines = text.strip().splitlines()
    first = lines[0].strip() if lines else ""
    grain = first[2:].strip() if first.startswith("--") else None
    if layer == "marts" and not grain:
        raise WarehouseError(f"{path}: a mart's first line must be a comment stating its grain ('-- one row per ...')")
    unique: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    checks: list[str] = []
    references: list[tuple[str, tuple[str, ...]]] = []
    columns: list[tuple[str, str]] = []
    for line in lines:
        stripped = line.strip()
        if not stripped.startswith("--"):
            continue
        body = stripped[2:].strip()
        key, _, value = body.partition(":")
        key = key.strip().lower()
        if key == "unique":
            unique = tuple(c.strip() for c in value.split(",") if c.strip())
        elif key == "not_null":  # may span several lines
            not_null += tuple(c.strip() for c in value.split(",") if c.strip())
        elif key == "check":
            checks.append(value.strip())
        elif key == "references":
            found = _REFERENCES.match(value.strip())
            if not found:
                raise WarehouseError(f"{path}: write a foreign key as '-- references: <model> (<column>, ...)'")
            key_columns = tuple(c.strip() for c in found.group(2).split(",") if c.strip())
            references.append((found.group(1), key_columns))
        elif key == "columns":
            for declared in (c.strip() for c in value.split(",") if c.strip()):
                column, _, kind = declared.partition(" ")
                kind = " ".join(kind.lower().split())
                columns.append((column, _TYPE_ALIASES.get(kind, kind)))
    sql = text.strip().rstrip(";").strip()
    return Model(name, layer, path, sql, grain, unique, not_null, tuple(checks), tuple(references), tuple(columns))


def _dependency_order(layer: list[Model]) -> list[Model]:
    """The models of one layer in file-name order, each moved after the models of the layer it reads."""
    names = {m.name for m in layer}
    code = {m.name: re.sub(r"--[^\n]*", "", m.sql) for m in layer}
    reads = {m.name: {n for n in names if n != m.name and re.search(rf"\b{n}\b", code[m.name])} for m in layer}
    done: list[Model] = []
    placed: set[str] = set()
    pending = list(layer)
    while pending:
        ready = next((m for m in pending if reads[m.name] <= placed), None)
        if ready is None:
            cycle = ", ".join(m.name for m in pending)
            raise WarehouseError(f"models read each other in a cycle: {cycle}")
        done.append(ready)
        placed.add(ready.name)
        pending.remove(ready)
    return done


def models(sql_dir: Path = SQL_DIR) -> list[Model]:
    """Every model, staging first; within a layer in file-name order, a model after those it reads."""
    out = []
    for layer in LAYERS:
        folder = sql_dir / layer
        paths = sorted(folder.glob("*.sql")) if folder.is_dir() else []
        out += _dependency_order([_parse(path, layer) for path in paths])
    return out


def install_macros(con: Any, sql_dir: Path = SQL_DIR) -> list[str]:
    """Create the shared SQL rules of ``sql/macros/*.sql`` as temporary macros on a connection.

    Args:
        con: A DuckDB connection.
        sql_dir: Folder with ``macros/``.

    Returns:
        The macro files run (their stems), in file-name order.

    Raises:
        WarehouseError: A macro file does not run.
    """
    import duckdb

    folder = sql_dir / "macros"
    done = []
    for path in sorted(folder.glob("*.sql")) if folder.is_dir() else []:
        try:
            con.execute(path.read_text(encoding="utf-8"))
        except duckdb.Error as exc:
            raise WarehouseError(f"{path}: {str(exc).strip().splitlines()[0]}") from exc
        done.append(path.stem)
    return done


def check_model(con: Any, model: Model) -> list[str]:
    """The contract violations of a built model (empty when it holds).

    Args:
        con: A connection to the warehouse.
        model: A built model.

    Returns:
        One message per violated check.
    """
    problems = []
    name = model.name
    if model.columns:
        built = con.execute(
            "select column_name, lower(data_type) from information_schema.columns where table_name = ? "
            "order by ordinal_position",
            [name],
        ).fetchall()
        if [tuple(c) for c in built] != list(model.columns):
            shown = ", ".join(f"{c} {t}" for c, t in built)
            problems.append(f"{name}: columns are ({shown}), the contract declares other ones")
    if model.unique:
        cols = ", ".join(f'"{c}"' for c in model.unique)
        n = con.execute(f"select count(*) from (select {cols} from {name} group by all having count(*) > 1)")
        if (count := n.fetchall()[0][0]) > 0:
            problems.append(f"{name}: {count} duplicate keys ({', '.join(model.unique)})")
    for column in model.not_null:
        n = con.execute(f'select count(*) from {name} where "{column}" is null').fetchall()[0][0]
        if n:
            problems.append(f"{name}: {n} rows with {column} null")
    for check in model.checks:
        n = con.execute(f"select count(*) from {name} where not coalesce(({check}), false)").fetchall()[0][0]
        if n:
            problems.append(f"{name}: {n} rows violate {check}")
    for target, columns in model.references:
        cols = ", ".join(f'"{c}"' for c in columns)
        present = " and ".join(f'"{c}" is not null' for c in columns)
        n = con.execute(
            f"select count(*) from (select {cols} from {name} where {present} except select {cols} from {target})"
        ).fetchall()[0][0]
        if n:
            problems.append(f"{name}: {n} keys ({', '.join(columns)}) not in {target}")
    return problems


def needed(names: Collection[str], sql_dir: Path = SQL_DIR) -> list[Model]:
    """The models ``names`` and every model they read, transitively, in build order.

    Args:
        names: Model names (marts or staging views).
        sql_dir: Folder with ``staging/`` and ``marts/``.

    Returns:
        The models, staging first, each layer in file-name order.

    Raises:
        WarehouseError: A name is not a model.
    """
    every = models(sql_dir)
    by_name = {m.name: m for m in every}
    unknown = sorted(set(names) - set(by_name))
    if unknown:
        raise WarehouseError(f"no model named {', '.join(unknown)}; models: {', '.join(by_name)}")
    wanted: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        code = re.sub(r"--[^\n]*", "", by_name[name].sql)  # a name in a comment is not a read
        todo += [other for other in by_name if other != name and re.search(rf"\b{other}\b", code)]
    return [m for m in every if m.name in wanted]


def build(con: Any, *, check: bool = True, sql_dir: Path = SQL_DIR, only: Collection[str] | None = None) -> list[str]:
    """(Re)build every staging view and mart in one transaction.

    Args:
        con: A write connection with the raw tables in place.
        check: Verify each model's declared contract afterwards.
        sql_dir: Folder with ``staging/`` and ``marts/``.
        only: Build just these models and what they read (:func:`needed`); every model when None.

    Returns:
        The models built, in order.

    Raises:
        WarehouseError: A model failed to build or broke its contract (nothing is changed then).
    """
    import duckdb

    built = []
    install_macros(con, sql_dir)
    con.begin()
    try:
        todo = models(sql_dir) if only is None else needed(only, sql_dir)
        for model in todo:
            kind = "view" if model.layer == "staging" else "table"
            try:
                con.execute(f"create or replace {kind} {model.name} as {model.sql}")
            except duckdb.Error as exc:
                raise WarehouseError(f"{model.path}: {str(exc).strip().splitlines()[0]}") from exc
            built.append(model.name)
        for model in todo if check else ():
            problems = check_model(con, model)
            if problems:
                raise WarehouseError(f"{model.path}: contract broken: {'; '.join(problems)}")
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return built
