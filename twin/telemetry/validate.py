"""Validation of telemetry rows as one vectorized SQL pass: typed values plus a problem per row.

A :class:`ValidationPlan` turns an opened file (:class:`twin.telemetry.read.Source`) into SQL that parses
every column (text formats) or takes it as typed (Parquet), and computes ``__problem``: NULL for a good
row, else ``<column><US><reason>`` of the first problem found, checked in this order: the row's shape
(field count, JSON), lineage (``source``, ``cell_id``), the key columns, then the other declared
columns in contract order, then extra columns. Nothing here loops over rows in Python.

What is checked (docs/telemetry.md has the full list): timestamps parse and carry an offset (or are
integer epoch microseconds) and fall in 2000..2099; ids are known to the cell (robots, stations,
meters = robots + stations + ``cell_aux``); events are from the enum; numbers are numbers, finite and
not absurd (``|x| > 1e9``); power is within 0..1e6 W; joint positions lie within the robot's URDF
limits plus a tolerance and exactly the robot's movable joints are given. Duplicates and energy
register falls need other rows and are found by :mod:`twin.warehouse.load`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from twin.cell.spec import CellSpec
from twin.cell.urdf import JointLimit, robot_joint_limits
from twin.telemetry.read import LINE, RAW_TEXT, ROW_ERROR, FileRejected, Source, ident, literal
from twin.telemetry.schema import EVENT_NAMES, JOINT_COLUMN_PREFIXES, MEASURED, SIMULATED_PREFIX, STREAMS, meter_ids

SEP = chr(31)
"""Separates the column from the reason inside ``__problem``."""
PROBLEM = "__problem"
JOINT_TOLERANCE_RAD = 0.05
"""How far (rad) a revolute joint may read beyond its URDF limits (encoder noise, calibration)."""
JOINT_TOLERANCE_M = 0.005
"""How far (m) a prismatic joint (the Panda's fingers) may read beyond its URDF limits."""
ABSURD = 1e9
"""Any declared number with a larger magnitude is absurd."""
POWER_MAX_W = 1e6
GRID_MAX_GCO2E_PER_KWH = 3000.0
TS_MIN_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z
TS_MAX_US = 4_102_444_800_000_000  # 2100-01-01T00:00:00Z
RESERVED = frozenset({"file_id", "run_id", "loaded_at", LINE, ROW_ERROR, RAW_TEXT, PROBLEM})
"""Column names a file may not use: the warehouse adds them (``run_id``: the ingest run, per file)."""
LINEAGE = ("source", "replication", "cell_id")
"""Lineage columns a file may carry, all stored per row; a row's ``cell_id`` must be the ingest's cell (its default)."""
KEY_LINEAGE_TYPES = {"cell_id": "VARCHAR", "source": "VARCHAR", "replication": "BIGINT"}
"""The lineage that leads every natural key, with its DuckDB types, in key order."""
MEASURED_REPLICATION = 0
"""The ``replication`` of measured rows (and of a row that carries none): one stored value, never NULL."""

_ISO_OFFSET = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)"
_ISO_NAIVE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?"
_INTEGER = r"[+-]?[0-9]{1,19}"
_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")  # fmt: skip
_INTEGER_TYPES = _NUMERIC_TYPES[:10]
_NAIVE_TIME_TYPES = ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "DATE", "TIMESTAMP WITHOUT TIME ZONE")
_AWARE_TIME_TYPES = ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")
_DUCK_TYPES = {pl.Float64: "DOUBLE", pl.Int64: "BIGINT", pl.String: "VARCHAR"}


@dataclass(frozen=True)
class ValidationContext:
    """What the validation needs to know about the cell.

    Attributes:
        cell_id: The cell's id (a file's ``cell_id`` column must match it).
        robot_joints: Robot id -> its movable joints in URDF order (``q_1..q_n``).
        station_ids: The cell's station ids.
        joint_tolerance_rad: Allowed excursion beyond a revolute joint's limits.
        joint_tolerance_m: Allowed excursion beyond a prismatic joint's limits.
    """

    cell_id: str
    robot_joints: Mapping[str, tuple[JointLimit, ...]]
    station_ids: tuple[str, ...]
    joint_tolerance_rad: float = JOINT_TOLERANCE_RAD
    joint_tolerance_m: float = JOINT_TOLERANCE_M

    @classmethod
    def from_cell(cls, cell: CellSpec) -> ValidationContext:
        """The context of a loaded cell (joint limits read from each robot's URDF)."""
        joints = {robot_id: tuple(robot_joint_limits(robot)) for robot_id, robot in cell.robots.items()}
        return cls(cell.cell.id, joints, tuple(cell.stations))

    @property
    def robot_ids(self) -> tuple[str, ...]:
        """The cell's robot ids."""
        return tuple(self.robot_joints)

    @property
    def meter_ids(self) -> tuple[str, ...]:
        """The cell's energy meters: every robot and station, and ``cell_aux``."""
        return tuple(meter_ids(list(self.robot_ids), list(self.station_ids)))

    @property
    def equipment_ids(self) -> tuple[str, ...]:
        """Ids an event or a quality row may name: stations and robots."""
        return (*self.station_ids, *self.robot_ids)

    @property
    def max_joints(self) -> int:
        """The most movable joints of any robot of the cell."""
        return max((len(j) for j in self.robot_joints.values()), default=0)


@dataclass(frozen=True)
class OutColumn:
    """A column of a raw table: name and DuckDB type."""

    name: str
    sql_type: str


def raw_columns(stream: str, max_joints: int, *, all_joint_families: bool = False) -> list[OutColumn]:
    """The declared columns of ``raw_<stream>`` (extras on top): contract, lineage of the key, ``file_id``.

    Per row the raw tables keep the lineage that is part of the natural key (``cell_id``, ``source``,
    ``replication``) and ``file_id``; ``run_id`` and ``loaded_at`` are per file (``ingest_files``) and joined
    in by the staging views. Every column written costs time on a 10-million-row load, even a constant one.

    Args:
        stream: A stream name of the contract.
        max_joints: Joint positions ``q_1..q_n`` to declare.
        all_joint_families: Also declare ``qd``, ``tau`` and ``i`` (otherwise they are added when a file
            first carries them).

    Returns:
        The columns in table order.
    """
    out: list[OutColumn] = []
    for column in STREAMS[stream].columns:
        if column.name == "ts":
            out.append(OutColumn("ts", "TIMESTAMPTZ"))
        elif STREAMS[stream].per_joint and column.name.endswith("_1"):
            prefix = column.name[:-1]
            if prefix == "q_" or all_joint_families:
                out.extend(OutColumn(f"{prefix}{k}", "DOUBLE") for k in range(1, max_joints + 1))
        else:
            out.append(OutColumn(column.name, _DUCK_TYPES.get(column.dtype, "VARCHAR")))
    out.extend(OutColumn(name, sql_type) for name, sql_type in KEY_LINEAGE_TYPES.items())
    out.append(OutColumn("file_id", "BIGINT"))
    return out


def natural_key(stream: str) -> tuple[str, ...]:
    """The natural key of a stream: ``cell_id``, ``source``, ``replication``, then the contract's key.

    Two cells that both have a robot ``R1`` never deduplicate each other, nor a what-if its measurements.
    """
    return (*KEY_LINEAGE_TYPES, *STREAMS[stream].key)


@dataclass
class _Col:
    """One column through the parse layers: ``s`` (cleaned text or raw typed value), ``v`` (typed)."""

    name: str
    out_type: str | None  # None: checked only, not stored
    s_sql: str
    v_sql: str
    raw_ref: str | None = None
    checks: list[tuple[str, str]] = field(default_factory=list)  # (condition on s/v refs, message sql)
    out_sql: str | None = None  # final value (default: v)

    @property
    def s(self) -> str:
        return ident(f"s:{self.name}")

    @property
    def v(self) -> str:
        return ident(f"v:{self.name}")


def _msg(column: str, text: str) -> str:
    return literal(f"{column}{SEP}{text}")


def _msg_expr(column: str, prefix: str, value_sql: str, suffix: str = "") -> str:
    tail = f" || {literal(suffix)}" if suffix else ""
    return f"{literal(column + SEP + prefix)} || coalesce(left(cast({value_sql} as varchar), 60), 'NULL'){tail}"


def _quoted(value_sql: str) -> str:
    return f"'''' || left(cast({value_sql} as varchar), 60) || ''''"


def _in_list(values: tuple[str, ...] | list[str]) -> str:
    return "(" + ", ".join(literal(v) for v in values) + ")" if values else "(NULL)"


def _joint_number(text: str) -> bool:
    """True for a canonical joint number: 1, 2, ... (not 0, not 01)."""
    return text.isascii() and text.isdigit() and text == str(int(text)) and int(text) >= 1


def _fmt(x: float) -> str:
    return repr(float(x))


@dataclass
class ValidationPlan:
    """The SQL that validates one file of one stream.

    Attributes:
        stream: The stream.
        key: Output columns of the natural key (``source`` first).
        out_columns: Columns written to ``raw_<stream>`` (declared, lineage, extras).
        new_columns: Columns ``raw_<stream>`` lacks and needs first (extras, more joints).
        parsed_sql: ``__line``, every out column, ``__problem`` and the raw values ``"r:<column>"``.
        keys_sql: ``__line`` and the key columns only (cheap: no other column is parsed).
        raw_refs: ``r:<column>`` names of the file's own columns (for the quarantined record).
    """

    stream: str
    key: tuple[str, ...]
    out_columns: list[OutColumn]
    new_columns: list[OutColumn]
    parsed_sql: str
    keys_sql: str
    raw_refs: list[tuple[str, str]]
    text: bool


class _Builder:
    """Builds the per-column parse expressions and checks for one file."""

    def __init__(self, source: Source, ctx: ValidationContext, robots_present: tuple[str, ...] | None = None):
        self.source = source
        self.ctx = ctx
        self.robots_present = robots_present
        self.cols: list[_Col] = []

    def present(self, name: str) -> bool:
        return name in self.source.columns

    def _ref(self, name: str) -> tuple[str, str]:
        ref, kind = self.source.columns[name]
        return ref, kind.upper()

    def _text_s(self, ref: str, kind: str) -> str:
        if self.source.text:
            return f"nullif(trim({ref}), '')"
        if kind == "VARCHAR":
            return f"nullif({ref}, '')"
        return ref

    # --- typed columns -------------------------------------------------------------------------
    def ts(self, name: str = "ts") -> _Col:
        ref, kind = self._ref(name)
        col = _Col(name, "TIMESTAMPTZ", self._text_s(ref, kind), "", raw_ref=ref)
        s, v = col.s, col.v
        col.checks.append((f"{s} is null", _msg(name, "missing value")))
        if self.source.text or kind == "VARCHAR":
            col.v_sql = (
                f"case when regexp_full_match({s}, '{_INTEGER}') then case when try_cast({s} as bigint) "
                f"between {TS_MIN_US} and {TS_MAX_US - 1} then make_timestamp(try_cast({s} as bigint))::timestamptz "
                f"end when regexp_full_match({s}, '{_ISO_OFFSET}') then try_cast(upper({s}) as timestamptz) end"
            )
            col.checks += [
                (
                    f"{v} is null and regexp_full_match({s}, '{_ISO_NAIVE}')",
                    f"{literal(name + SEP + 'naive timestamp ')} || {_quoted(s)} || "
                    f"' (an offset such as +01:00 or Z is required)'",
                ),
                (
                    f"{v} is null and regexp_full_match({s}, '{_INTEGER}')",
                    f"{literal(name + SEP + 'epoch microseconds ')} || {_quoted(s)} || "
                    f"' outside 2000..2099 (seconds or milliseconds instead of microseconds?)'",
                ),
                (
                    f"{v} is null",
                    f"{literal(name + SEP + 'not a timestamp: ')} || {_quoted(s)} || "
                    f"' (ISO-8601 with an offset, or integer epoch microseconds)'",
                ),
            ]
        elif kind in _AWARE_TIME_TYPES:
            col.v_sql = s
        elif kind in _NAIVE_TIME_TYPES:
            col.v_sql = "NULL::timestamptz"
            col.checks.append(
                (f"{s} is not null", _msg(name, f"naive timestamp (Parquet column of type {kind} without time zone)"))
            )
        elif kind in _INTEGER_TYPES:
            col.v_sql = (
                f"case when {s} between {TS_MIN_US} and {TS_MAX_US - 1} then make_timestamp(cast({s} as bigint))"
                f"::timestamptz end"
            )
            col.checks.append(
                (
                    f"{v} is null",
                    _msg_expr(
                        name, "epoch microseconds ", s, " outside 2000..2099 (seconds or milliseconds instead of µs?)"
                    ),
                )
            )
        else:
            col.v_sql = "NULL::timestamptz"
            col.checks.append((f"{s} is not null", _msg(name, f"not a timestamp (column type {kind})")))
        col.checks.append(
            (
                f"{v} < '2000-01-01 00:00:00+00'::timestamptz or {v} >= '2100-01-01 00:00:00+00'::timestamptz",
                _msg_expr(name, "timestamp ", v, " outside 2000..2099"),
            )
        )
        self.cols.append(col)
        return col

    def string(
        self, name: str, *, required: bool = False, valid: tuple[str, ...] | None = None, what: str = "id"
    ) -> _Col:
        if not self.present(name):
            col = _Col(name, "VARCHAR", "NULL::varchar", "NULL::varchar")
            if required:
                col.checks.append(("true", _msg(name, "missing value")))
            self.cols.append(col)
            return col
        ref, kind = self._ref(name)
        s_sql = self._text_s(ref, kind) if (self.source.text or kind == "VARCHAR") else f"cast({ref} as varchar)"
        col = _Col(name, "VARCHAR", s_sql, "", raw_ref=ref)
        col.v_sql = col.s
        if required:
            col.checks.append((f"{col.s} is null", _msg(name, "missing value")))
        if valid is not None:
            shown = ", ".join(valid)
            col.checks.append(
                (
                    f"{col.s} not in {_in_list(valid)}",
                    f"{literal(name + SEP + f'unknown {what} ')} || {_quoted(col.s)} || {literal('; valid: ' + shown)}",
                )
            )
        self.cols.append(col)
        return col

    def number(
        self,
        name: str,
        *,
        required: bool = False,
        low: float | None = None,
        high: float | None = None,
        unit: str = "",
        store: bool = True,
    ) -> _Col:
        if not self.present(name):
            col = _Col(name, "DOUBLE" if store else None, "NULL::double", "NULL::double")
            if required:
                col.checks.append(("true", _msg(name, "missing value")))
            self.cols.append(col)
            return col
        ref, kind = self._ref(name)
        col = _Col(name, "DOUBLE" if store else None, "", "", raw_ref=ref)
        s, v = col.s, col.v
        if self.source.text or kind == "VARCHAR":
            col.s_sql = self._text_s(ref, kind)
            col.v_sql = f"try_cast({s} as double)"
            if required:
                col.checks.append((f"{s} is null", _msg(name, "missing value")))
            col.checks.append((f"{v} is null and {s} is not null", f"{_msg(name, 'not a number: ')} || {_quoted(s)}"))
        elif kind.startswith(_NUMERIC_TYPES):
            col.s_sql = ref
            col.v_sql = s if kind == "DOUBLE" else f"cast({s} as double)"
            if required:
                col.checks.append((f"{s} is null", _msg(name, "missing value")))
        else:
            col.s_sql = ref
            col.v_sql = "NULL::double"
            col.checks.append((f"{s} is not null", _msg(name, f"not a number (column type {kind})")))
        col.checks.append((f"not isfinite({v})", _msg_expr(name, "not finite: ", v)))
        col.checks.append(
            (f"abs({v}) > {_fmt(ABSURD)}", _msg_expr(name, "absurd value ", v, f" (|value| > {ABSURD:g})"))
        )
        suffix = f" {unit}" if unit else ""
        if low is not None:
            col.checks.append((f"{v} < {_fmt(low)}", _msg_expr(name, "", v, f"{suffix} is below {low:g}{suffix}")))
        if high is not None:
            col.checks.append((f"{v} > {_fmt(high)}", _msg_expr(name, "", v, f"{suffix} is above {high:g}{suffix}")))
        self.cols.append(col)
        return col

    def lineage(self) -> None:
        ctx = self.ctx
        for name in LINEAGE:
            if name == "replication":
                self.replication()
                continue
            default = literal(MEASURED) if name == "source" else literal(ctx.cell_id)
            if not self.present(name):
                self.cols.append(_Col(name, "VARCHAR", default, default))
                continue
            col = self.string(name)
            col.out_sql = f"coalesce({col.v}, {default})"
            if name == "source":
                col.checks.append(
                    (
                        f"{col.s} <> '{MEASURED}' and not (starts_with({col.s}, '{SIMULATED_PREFIX}') "
                        f"and length({col.s}) > {len(SIMULATED_PREFIX)})",
                        f"{_msg(name, 'source must be measured or simulated:<scenario>, got ')} || {_quoted(col.s)}",
                    )
                )
            elif name == "cell_id":
                col.checks.append(
                    (
                        f"{col.s} <> {literal(ctx.cell_id)}",
                        f"{_msg(name, 'unknown cell ')} || {_quoted(col.s)} || {literal('; valid: ' + ctx.cell_id)}",
                    )
                )

    def replication(self) -> None:
        """``replication``: a whole number >= 0 (default 0), and 0 on every measured row."""
        name, zero = "replication", str(MEASURED_REPLICATION)
        if not self.present(name):
            self.cols.append(_Col(name, "BIGINT", zero, zero))
            return
        ref, kind = self._ref(name)
        col = _Col(name, "BIGINT", "", "", raw_ref=ref)
        s, v = col.s, col.v
        if self.source.text or kind == "VARCHAR":
            col.s_sql = self._text_s(ref, kind)
            col.v_sql = f"case when regexp_full_match({s}, '{_INTEGER}') then try_cast({s} as bigint) end"
            col.checks.append(
                (f"{v} is null and {s} is not null", f"{_msg(name, 'not a whole number: ')} || {_quoted(s)}")
            )
        elif kind in _INTEGER_TYPES:
            col.s_sql = ref
            col.v_sql = f"cast({s} as bigint)"
        else:
            col.s_sql = ref
            col.v_sql = "NULL::bigint"
            col.checks.append((f"{s} is not null", _msg(name, f"not a whole number (column type {kind})")))
        col.out_sql = f"coalesce({v}, {zero})"
        col.checks.append((f"{v} < 0", _msg_expr(name, "", v, " is negative (replications count from 0)")))
        source = next((c for c in self.cols if c.name == "source"), None)
        measured = f"coalesce({source.v}, {literal(MEASURED)})" if source is not None else literal(MEASURED)
        col.checks.append(
            (
                f"{measured} = {literal(MEASURED)} and coalesce({v}, {zero}) <> {zero}",
                _msg_expr(name, "", v, f" on a measured row (measured rows are replication {zero})"),
            )
        )
        self.cols.append(col)

    def joints(self, robot: _Col) -> None:
        ctx = self.ctx
        file_max = 0
        for name in self.source.columns:
            parts = name.rsplit("_", 1)
            if len(parts) == 2 and parts[0] + "_" in JOINT_COLUMN_PREFIXES and _joint_number(parts[1]):
                file_max = max(file_max, int(parts[1]))
        present = self.robots_present
        robots = {rid: j for rid, j in ctx.robot_joints.items() if present is None or rid in present}
        n_joints = {rid: len(j) for rid, j in robots.items()}
        single = len(robots) == 1
        for family in ("q", "qd", "tau", "i"):
            for k in range(1, max(ctx.max_joints, file_max) + 1):
                name = f"{family}_{k}"
                store = k <= ctx.max_joints
                if not self.present(name) and not (family == "q" and store):
                    continue
                col = self.number(name, store=store)
                v, r = col.v, robot.v
                need = tuple(rid for rid, n in n_joints.items() if n >= k)
                extra = tuple(rid for rid, n in n_joints.items() if n < k)
                if family == "q" and need:
                    missing = col.s if self.present(name) else v
                    if single:
                        (rid,) = need
                        text = f"missing value ({rid} has {n_joints[rid]} movable joints)"
                        col.checks.insert(0, (f"{missing} is null", _msg(name, text)))
                    else:
                        message = "case " + " ".join(
                            f"when {r} = {literal(rid)} then "
                            f"{_msg(name, f'missing value ({rid} has {n_joints[rid]} movable joints)')}"
                            for rid in need
                        )
                        col.checks.insert(0, (f"{missing} is null and {r} in {_in_list(need)}", message + " end"))
                if extra and self.present(name):
                    if single:
                        (rid,) = extra
                        text = f"{rid} has {n_joints[rid]} movable joints; {name} must be empty"
                        col.checks.insert(0, (f"{v} is not null", _msg(name, text)))
                    else:
                        message = "case " + " ".join(
                            f"when {r} = {literal(rid)} then "
                            f"{_msg(name, f'{rid} has {n_joints[rid]} movable joints; {name} must be empty')}"
                            for rid in extra
                        )
                        col.checks.insert(0, (f"{v} is not null and {r} in {_in_list(extra)}", message + " end"))
                if family != "q" or not self.present(name):
                    continue
                conds, messages = [], []
                for rid, joints in robots.items():
                    if k > len(joints) or not joints[k - 1].is_limited:
                        continue
                    joint = joints[k - 1]
                    tol = ctx.joint_tolerance_m if joint.type == "prismatic" else ctx.joint_tolerance_rad
                    lo, hi = joint.lower - tol, joint.upper + tol
                    conds.append(f"when {literal(rid)} then {v} < {_fmt(lo)} or {v} > {_fmt(hi)}")
                    text = (
                        f"outside the URDF limits of {rid} joint {k} ({joint.name}: {joint.lower:g}..{joint.upper:g} "
                        f"{joint.unit}, tolerance {tol:g}): "
                    )
                    messages.append(f"when {literal(rid)} then {literal(text)}")
                if conds and single:
                    cond = conds[0].split(" then ", 1)[1]
                    text = messages[0].split(" then ", 1)[1]
                    col.checks.append((cond, f"{literal(name + SEP)} || {text} || cast({v} as varchar)"))
                elif conds:
                    col.checks.append(
                        (
                            f"case {r} {' '.join(conds)} end",
                            f"{literal(name + SEP)} || case {r} {' '.join(messages)} end || cast({v} as varchar)",
                        )
                    )

    def extra(self, name: str, target: str) -> None:
        ref, kind = self._ref(name)
        col = _Col(name, target, "", "", raw_ref=ref)
        if self.source.text:
            col.s_sql = f"nullif({ref}, '')"
            col.v_sql = col.s if target == "VARCHAR" else f"try_cast(trim({col.s}) as {target})"
        else:
            col.s_sql = ref
            col.v_sql = col.s if kind == target else f"try_cast({col.s} as {target})"
        if col.v_sql != col.s:
            col.checks.append(
                (
                    f"{col.v} is null and {col.s} is not null",
                    f"{literal(name + SEP)} || {_quoted(col.s)} || {literal(f' is not a {target} (the column type)')}",
                )
            )
        self.cols.append(col)


def check_columns(stream: str, source: Source) -> None:
    """Raise when the file lacks a required column, uses a reserved name, or has none of a one-of group.

    Args:
        stream: The stream the file belongs to.
        source: The opened file.

    Raises:
        FileRejected: With the missing or reserved column.
    """
    names = set(source.columns)
    for name in sorted(names & RESERVED):
        raise FileRejected(f"column {name!r} is reserved for the warehouse", column=name, rows=source.n_rows)
    spec = STREAMS[stream]
    for name in spec.required:
        if name not in names:
            have = ", ".join(list(source.columns)[:8]) + (", ..." if len(names) > 8 else "")
            hint = ""
            if len(names) == 1 and any(sep in next(iter(names)) for sep in ";\t|"):
                hint = " (the header is one column: wrong delimiter? CSV must be comma-separated)"
            raise FileRejected(
                f"missing required column {name!r} for stream {stream} (columns: {have}){hint}",
                column=name,
                rows=source.n_rows,
            )
    for group in spec.required_one_of:
        if not names & set(group):
            raise FileRejected(
                f"missing required column: stream {stream} needs one of {', '.join(group)}",
                column=group[0],
                rows=source.n_rows,
            )


def infer_text_types(con: Any, source: Source, names: list[str]) -> dict[str, str]:
    """Types for new extra columns of a text file: DOUBLE when every value is a number, else VARCHAR.

    Args:
        con: The connection holding the source.
        source: A text source.
        names: The extra columns to type.

    Returns:
        Column -> DuckDB type.
    """
    if not names:
        return {}
    parts = []
    for i, name in enumerate(names):
        ref = source.columns[name][0]
        s = f"nullif(trim({ref}), '')"
        parts.append(
            f"count({s}) > 0 and count(*) filter (where {s} is not null and try_cast({s} as double) is null) = 0 "
            f"as c{i}"
        )
    row = con.execute(f"select {', '.join(parts)} from {source.relation}").fetchall()[0]
    return {name: ("DOUBLE" if row[i] else "VARCHAR") for i, name in enumerate(names)}


def extra_columns(stream: str, source: Source, max_joints: int) -> list[str]:
    """File columns the contract does not declare (kept as they are, in file order)."""
    declared = {c.name for c in raw_columns(stream, max_joints)}
    per_joint = STREAMS[stream].per_joint
    out = []
    for name in source.columns:
        if name in declared or name in RESERVED:
            continue
        if per_joint:
            parts = name.rsplit("_", 1)
            if len(parts) == 2 and parts[0] + "_" in JOINT_COLUMN_PREFIXES and _joint_number(parts[1]):
                continue  # a joint the cell's robots lack: checked (must be empty), not stored
        out.append(name)
    return out


def plan_validation(
    stream: str,
    source: Source,
    ctx: ValidationContext,
    *,
    existing: Mapping[str, str] | None = None,
    extra_types: Mapping[str, str] | None = None,
    robots_present: tuple[str, ...] | None = None,
) -> ValidationPlan:
    """The validation SQL for one file.

    Args:
        stream: The file's stream.
        source: The opened file.
        ctx: The cell's ids and joint limits.
        existing: Column -> type of the raw table as it is (extras take its type); None for a new table.
        extra_types: Types for extra columns the raw table lacks (text files: from :func:`infer_text_types`).
        robots_present: The cell robots that occur in the file (joint checks are specialized to them;
            rows of other robots fail the robot check first). None: all of the cell's robots.

    Returns:
        The plan.

    Raises:
        FileRejected: A required column is missing or a name is reserved.
    """
    check_columns(stream, source)
    existing = dict(existing or {})
    b = _Builder(source, ctx, robots_present)
    b.lineage()
    b.ts("ts")
    equipment = ctx.equipment_ids
    if stream == "joint_states":
        robot = b.string("robot_id", required=True, valid=ctx.robot_ids, what="robot")
        b.joints(robot)
        b.number("power_w", low=0.0, high=POWER_MAX_W, unit="W")
        b.string("program_step")
    elif stream == "events":
        b.string("station_id", required=True, valid=equipment, what="station")
        b.string("event", required=True, valid=EVENT_NAMES, what="event")
        for name in ("unit_id", "variant", "code"):
            b.string(name)
    elif stream == "quality":
        b.string("unit_id", required=True)
        b.string("station_id", required=True, valid=equipment, what="station")
        b.string("characteristic", required=True)
        b.number("value", required=True)
        lsl = b.number("lsl")
        usl = b.number("usl")
        usl.checks.append(
            (
                f"{lsl.v} >= {usl.v}",
                f"{_msg('usl', 'lsl ')} || cast({lsl.v} as varchar) || ' is not below usl ' "
                f"|| cast({usl.v} as varchar)",
            )
        )
        b.string("defect_code")
    elif stream == "energy":
        b.string("meter_id", required=True, valid=ctx.meter_ids, what="meter")
        energy = b.number("energy_kwh", low=0.0, unit="kWh")
        power = b.number("power_w", low=0.0, high=POWER_MAX_W, unit="W")
        register_max = b.number("register_max_kwh", unit="kWh")
        register_max.checks.append(
            (f"{register_max.v} <= 0", _msg_expr("register_max_kwh", "", register_max.v, " kWh is not positive"))
        )
        register_max.checks.append(
            (
                f"{energy.v} > {register_max.v}",
                _msg_expr("energy_kwh", "", energy.v, " kWh is above the declared register maximum"),
            )
        )
        power.checks.append(
            (f"{energy.v} is null and {power.v} is null", _msg("energy_kwh", "a reading needs energy_kwh or power_w"))
        )
    elif stream == "grid_intensity":
        b.string("region", required=True)
        b.number("gco2e_per_kwh", required=True, low=0.0, high=GRID_MAX_GCO2E_PER_KWH, unit="gCO2e/kWh")
        interval = b.number("interval_min", unit="min")
        interval.out_type = "BIGINT"
        interval.out_sql = f"cast({interval.v} as bigint)"
        interval.checks.append(
            (
                f"{interval.v} <> floor({interval.v}) or {interval.v} < 1 or {interval.v} > 1440",
                _msg_expr("interval_min", "", interval.v, " is not a whole number of minutes in 1..1440"),
            )
        )
    else:  # pragma: no cover - STREAMS and this list move together
        raise FileRejected(f"unknown stream {stream!r}")
    # extras, in file order
    extras = extra_columns(stream, source, ctx.max_joints)
    new_columns: list[OutColumn] = []
    for name in extras:
        if name in existing:
            target = existing[name]
        elif source.text:
            target = (extra_types or {}).get(name, "VARCHAR")
            new_columns.append(OutColumn(name, target))
        else:
            target = source.columns[name][1]
            new_columns.append(OutColumn(name, target))
        b.extra(name, target)
    for col in b.cols:
        if col.out_type is not None and existing and col.name not in existing:
            if all(c.name != col.name for c in new_columns):
                new_columns.append(OutColumn(col.name, col.out_type))
    return _assemble(stream, source, b.cols, new_columns)


def _assemble(stream: str, source: Source, cols: list[_Col], new_columns: list[OutColumn]) -> ValidationPlan:
    line = source.line_sql
    row_error = [ROW_ERROR, RAW_TEXT] if source.text else []
    raw_refs = [(name, ident(f"r:{name}")) for name, _ in source.columns.items()]

    def layers(subset: list[_Col], with_problem: bool) -> str:
        l1 = [f"{line} as {LINE}"]
        if with_problem:
            l1 += row_error
            l1 += [
                f"{ref} as {alias}" for (name, alias), (ref, _) in zip(raw_refs, source.columns.values(), strict=True)
            ]
        l1 += [f"{c.s_sql} as {c.s}" for c in subset]
        passthrough = [LINE] + (row_error + [alias for _, alias in raw_refs] if with_problem else [])
        l2 = passthrough + [c.s for c in subset] + [f"{c.v_sql} as {c.v}" for c in subset]
        outs = [f"{c.out_sql or c.v} as {ident(c.name)}" for c in subset if c.out_type is not None]
        l3 = passthrough + outs
        if with_problem:
            whens = []
            if source.text and source.has_row_error:
                whens.append(f"when {ROW_ERROR} is not null then {literal(SEP)} || {ROW_ERROR}")
            for c in subset:
                whens += [f"when {cond} then {message}" for cond, message in c.checks]
            l3.append(f"case {' '.join(whens)} end as {PROBLEM}" if whens else f"NULL::varchar as {PROBLEM}")
        return (
            f"select {', '.join(l3)} from (select {', '.join(l2)} from (select {', '.join(l1)} from {source.relation}))"
        )

    key_names = natural_key(stream)
    key_cols = [c for c in cols if c.name in key_names]
    out_columns = [OutColumn(c.name, c.out_type) for c in cols if c.out_type is not None]
    return ValidationPlan(
        stream=stream,
        key=key_names,
        out_columns=out_columns,
        new_columns=new_columns,
        parsed_sql=layers(cols, True),
        keys_sql=layers(key_cols, False),
        raw_refs=raw_refs,
        text=source.text,
    )


def record_sql(plan: ValidationPlan, alias: str = "p") -> str:
    """SQL of the original row as JSON text (the quarantine keeps it), over ``plan.parsed_sql``."""
    if not plan.raw_refs:
        return f"{alias}.{RAW_TEXT}" if plan.text else "'{}'"
    pack = "to_json(struct_pack(" + ", ".join(f"{ident(n)} := {alias}.{r}" for n, r in plan.raw_refs) + "))::varchar"
    return f"coalesce({alias}.{RAW_TEXT}, {pack})" if plan.text else pack


def split_problem(sql: str) -> tuple[str, str]:
    """SQL of the column (NULL for a whole-row problem) and the reason inside a ``__problem`` value."""
    return (
        f"nullif(split_part({sql}, chr(31), 1), '')",
        f"substr({sql}, strpos({sql}, chr(31)) + 1)",
    )
