"""Reading joint-state logs of any robot: file formats, column maps, time, and merging files.

A log is CSV (any of ``,`` ``;`` tab or space separated, with or without a header, LF/CRLF/CR line
ends), Parquet or JSON Lines. A column map says where each quantity of the telemetry contract is:

    q_1=actual_q_0,q_2=actual_q_1,qd_1=actual_qd_0,i_2=actual_current_1,k_2=10.6956,t_s=timestamp
    power_w=actual_robot_voltage*actual_robot_current     # a product of columns and numbers
    q_1=#1,t_s=#0                                          # by 0-based column index (headerless logs)

Targets are the contract's names: ``ts`` (ISO-8601 with offset, or integer epoch µs) or ``t_s``
(seconds, any origin), ``q_N`` (rad), ``qd_N`` (rad/s), ``tau_N`` (N·m), ``i_N`` (A), ``k_N`` (the drive
gain of joint N in N·m/A, a number: measured torque = k_N × i_N), ``power_w`` (W), ``program_step``,
``robot_id``, ``cycle_id``. Joints are numbered from 1 in the URDF's movable-joint order. The same map
may be a YAML file: either the mapping itself or ``{columns: {...}, drive_gains: [...]}``.

Several files are either runs of the same robot (each has positions: they are replayed one after the
other, never interpolated across) or side files without positions (torques or power logged
separately), interpolated onto the runs' time stamps.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from twin.errors import InputError, TelemetryError

JOINT_TARGET = re.compile(r"^(q|qd|tau|i|k)_(\d+)$")
SCALAR_TARGETS = ("ts", "t_s", "power_w")
LABEL_TARGETS = ("program_step", "robot_id", "cycle_id", "unit_id")
VALID_TARGETS = "ts, t_s, q_N, qd_N, tau_N, i_N, k_N, power_w, program_step, robot_id, cycle_id, unit_id"
INDEX_REF = re.compile(r"^#(\d+)$")
NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
OFFSET_SUFFIX = r"(Z|z|[+-]\d{2}(:?\d{2})?)$"


@dataclass(frozen=True)
class Source:
    """Where one target comes from: a product of column references and a constant factor."""

    columns: tuple[str, ...]
    factor: float = 1.0
    text: str = ""

    @classmethod
    def parse(cls, target: str, text: str) -> Source:
        """Parse ``col``, ``#3``, ``a*b``, ``-col``, ``2.5*col``.

        Raises:
            InputError: The expression is empty or has an empty factor.
        """
        raw = text.strip()
        factor = 1.0
        if raw.startswith("-") and not NUMBER.match(raw):
            factor, raw = -1.0, raw[1:].strip()
        columns: list[str] = []
        for part in raw.split("*"):
            part = part.strip()
            if not part:
                raise InputError(f"column map: {target}={text!r}: empty factor")
            if NUMBER.match(part):
                factor *= float(part)
            else:
                columns.append(part)
        if not columns:
            raise InputError(f"column map: {target}={text!r} names no column (use k_N=<number> for a drive gain)")
        return cls(tuple(columns), factor, text.strip())


@dataclass(frozen=True)
class ColumnMap:
    """Targets of the telemetry contract -> where they are in a foreign log."""

    sources: dict[str, Source] = field(default_factory=dict)
    drive_gains: dict[int, float] = field(default_factory=dict)
    explicit: bool = False

    @classmethod
    def parse(cls, spec: str | None, drive_gains: str | Sequence[float] | None = None) -> ColumnMap:
        """A map from ``--columns`` (inline ``a=b,c=d`` or a YAML file) and ``--drive-gains``.

        Raises:
            InputError: A malformed entry, an unknown target or a non-numeric gain.
        """
        entries: dict[str, object] = {}
        gains: dict[int, float] = {}
        if spec:
            path = Path(spec)
            if "=" not in spec and (path.suffix.lower() in (".yaml", ".yml", ".json") or path.is_file()):
                entries, gains = _read_map_file(path)
            else:
                for item in spec.split(","):
                    if not item.strip():
                        continue
                    if "=" not in item:
                        raise InputError(f"--columns: {item.strip()!r} is not TARGET=SOURCE (e.g. q_1=actual_q_0)")
                    target, source = item.split("=", 1)
                    entries[target.strip()] = source.strip()
        sources: dict[str, Source] = {}
        for target, source in entries.items():
            match = JOINT_TARGET.match(target)
            if match and match.group(1) == "k":
                gains[int(match.group(2))] = _gain(target, source)
                continue
            if not (match or target in SCALAR_TARGETS or target in LABEL_TARGETS):
                raise InputError(f"--columns: unknown target {target!r}; valid: {VALID_TARGETS}")
            if match and int(match.group(2)) < 1:
                raise InputError(f"--columns: {target!r}: joints are numbered from 1")
            if isinstance(source, (int, float)) and not isinstance(source, bool):
                raise InputError(f"--columns: {target}={source}: a source is a column, not a number")
            sources[target] = Source.parse(target, str(source))
        if drive_gains is not None:
            values = drive_gains.split(",") if isinstance(drive_gains, str) else list(drive_gains)
            for j, value in enumerate(values, start=1):
                gains[j] = _gain(f"--drive-gains item {j}", value)
        return cls(sources, gains, explicit=bool(sources))

    def targets_for(self, columns: list[str]) -> dict[str, Source]:
        """Targets resolvable in a file with these columns (the identity map when no map was given)."""
        if self.explicit:
            return {t: s for t, s in self.sources.items() if all(_resolves(c, columns) for c in s.columns)}
        found: dict[str, Source] = {}
        for name in columns:
            if JOINT_TARGET.match(name) and not name.startswith("k_") or name in SCALAR_TARGETS + LABEL_TARGETS:
                found[name] = Source((name,), 1.0, name)
        return found


def _gain(target: str, value: object) -> float:
    try:
        gain = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InputError(f"{target}: drive gain {value!r} is not a number (N·m/A)") from exc
    if not math.isfinite(gain):
        raise InputError(f"{target}: drive gain {value!r} is not finite")
    return gain


def _read_map_file(path: Path) -> tuple[dict[str, object], dict[int, float]]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"--columns {path}: file not found") from exc
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"--columns {path}: not a readable YAML mapping ({exc})") from exc
    if not isinstance(data, dict):
        raise InputError(f"--columns {path}: expected a mapping of TARGET: SOURCE")
    gains: dict[int, float] = {}
    if "columns" in data or "drive_gains" in data:
        unknown = set(data) - {"columns", "drive_gains"}
        if unknown:
            raise InputError(f"--columns {path}: unknown key {sorted(unknown)[0]!r}; valid: columns, drive_gains")
        raw_gains = data.get("drive_gains") or []
        if not isinstance(raw_gains, list):
            raise InputError(f"--columns {path}: drive_gains must be a list, one gain per joint from 1")
        for j, value in enumerate(raw_gains, start=1):
            gains[j] = _gain(f"{path}: drive_gains item {j}", value)
        data = data.get("columns") or {}
        if not isinstance(data, dict):
            raise InputError(f"--columns {path}: columns must be a mapping of TARGET: SOURCE")
    return {str(k): v for k, v in data.items()}, gains


def _resolves(column: str, columns: list[str]) -> bool:
    match = INDEX_REF.match(column)
    if match:
        return int(match.group(1)) < len(columns)
    return column in columns


# reading files ---------------------------------------------------------------------------------------
def read_table(path: str | Path) -> pl.DataFrame:
    """Read one log file as it is (CSV sniffed for separator, header and line ends; Parquet; JSON Lines).

    Raises:
        TelemetryError: The file is missing, empty or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise TelemetryError(f"{path}: file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pl.read_parquet(path)
        if suffix in (".jsonl", ".ndjson"):
            return pl.read_ndjson(path)
        return _read_csv(path)
    except TelemetryError:
        raise
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TelemetryError(f"{path}: cannot read as {suffix.lstrip('.') or 'CSV'}: {first}") from exc


def _read_csv(path: Path) -> pl.DataFrame:
    data = path.read_bytes()
    if not data.strip():
        raise TelemetryError(f"{path}: the file is empty")
    if b"\r" in data and b"\n" not in data:  # old-Mac line ends
        data = data.replace(b"\r", b"\n")
    elif b"\r\n" in data:
        data = data.replace(b"\r\n", b"\n")
    first = data.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    separator = next((s for s in (",", ";", "\t") if s in first), " ")
    if separator == " ":
        data = re.sub(rb"[ ]+", b" ", re.sub(rb"(?m)^[ ]+|[ ]+$", b"", data))
        first = first.strip()
    fields = [f.strip().strip('"') for f in first.split(separator)]
    has_header = not all(NUMBER.match(f) for f in fields if f) or not any(fields)
    frame = pl.read_csv(
        io.BytesIO(data),
        separator=separator,
        has_header=has_header,
        infer_schema_length=10000,
        try_parse_dates=False,
    )
    if not has_header:
        frame = frame.rename({c: f"#{k}" for k, c in enumerate(frame.columns)})
    return frame


def _column(frame: pl.DataFrame, ref: str) -> str:
    match = INDEX_REF.match(ref)
    return frame.columns[int(match.group(1))] if match else ref


def _numeric(frame: pl.DataFrame, name: str, target: str, path: Path) -> pl.Series:
    """A column as float64, with an error naming the column and the first unparseable line."""
    series = frame.get_column(name)
    if series.dtype == pl.Boolean:
        series = series.cast(pl.Int8)
    if series.dtype.is_numeric():
        return series.cast(pl.Float64)
    converted = series.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    bad = converted.is_null() & series.is_not_null()
    if bad.any():
        row = int(bad.arg_max() or 0)
        raise TelemetryError(
            f"{path}: column {name!r} (for {target}) is not numeric: {series[row]!r} in data row {row + 1}"
        )
    return converted


def parse_time(frame: pl.DataFrame, name: str, target: str, path: Path) -> np.ndarray:
    """Time in seconds: ``ts`` -> epoch seconds (UTC), ``t_s`` -> as given.

    Raises:
        TelemetryError: Naive or unparseable timestamps, or nulls.
    """
    series = frame.get_column(name)
    if series.null_count():
        row = int(series.is_null().arg_max() or 0)
        raise TelemetryError(f"{path}: column {name!r} (for {target}) is empty in data row {row + 1}")
    if target == "t_s":
        return _numeric(frame, name, target, path).to_numpy()
    if isinstance(series.dtype, pl.Datetime):
        if series.dtype.time_zone is None:
            raise TelemetryError(f"{path}: column {name!r} has naive timestamps (no time zone); give an offset or Z")
        micros = series.dt.convert_time_zone("UTC").dt.epoch("us")
        return micros.to_numpy().astype(np.float64) / 1e6
    if series.dtype.is_integer():
        return series.to_numpy().astype(np.float64) / 1e6
    if series.dtype == pl.String:
        naive = ~series.str.strip_chars().str.contains(OFFSET_SUFFIX)
        if naive.any():
            row = int(naive.arg_max() or 0)
            raise TelemetryError(
                f"{path}: column {name!r}: timestamp {series[row]!r} in data row {row + 1} has no offset or Z "
                "(naive timestamps are ambiguous)"
            )
        try:
            parsed = series.str.strip_chars().str.to_datetime(time_unit="us", time_zone="UTC")
        except pl.exceptions.PolarsError as exc:
            raise TelemetryError(f"{path}: column {name!r} is not ISO-8601 timestamps with an offset") from exc
        return parsed.dt.epoch("us").to_numpy().astype(np.float64) / 1e6
    raise TelemetryError(
        f"{path}: column {name!r} (for {target}) has type {series.dtype}; expected ISO-8601 text or epoch µs integers"
    )


@dataclass
class LogPart:
    """One file, mapped: time in seconds, numeric targets as arrays, label targets as lists."""

    path: Path
    t_s: np.ndarray
    absolute: bool
    values: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]

    @property
    def has_positions(self) -> bool:
        """True when the file holds joint positions (a run, not a side file)."""
        return any(k.startswith("q_") for k in self.values)


def map_file(path: str | Path, frame: pl.DataFrame, cmap: ColumnMap) -> LogPart:
    """Apply a column map to one file's frame.

    Raises:
        TelemetryError: No time column, or a named column is unparseable.
    """
    path = Path(path)
    targets = cmap.targets_for(frame.columns)
    time_target = "ts" if "ts" in targets else "t_s" if "t_s" in targets else None
    if time_target is None:
        wanted = cmap.sources.get("ts") or cmap.sources.get("t_s")
        if wanted is not None:
            missing = next(c for c in wanted.columns if not _resolves(c, frame.columns))
            raise TelemetryError(
                f"{path}: missing column {missing!r} (for {wanted and 'time'}); found: " + _preview(frame.columns)
            )
        raise TelemetryError(
            f"{path}: no time column: expected 'ts' (ISO-8601 or epoch µs) or 't_s' (seconds), or map one with "
            f"--columns 't_s=<column>'; found: " + _preview(frame.columns)
        )
    time_source = targets.pop(time_target)
    if len(time_source.columns) != 1 or time_source.factor != 1.0:
        raise TelemetryError(f"{path}: the time column must be one column, not {time_source.text!r}")
    t = parse_time(frame, _column(frame, time_source.columns[0]), time_target, path)
    values: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    for target, source in targets.items():
        if all(frame.get_column(_column(frame, ref)).null_count() == frame.height for ref in source.columns):
            continue  # an empty column (e.g. another robot's extra joints in a shared file) is no data
        if target in LABEL_TARGETS:
            name = _column(frame, source.columns[0])
            labels[target] = frame.get_column(name).cast(pl.String).to_numpy()
            continue
        product = np.full(frame.height, source.factor)
        for ref in source.columns:
            product = product * _numeric(frame, _column(frame, ref), target, path).to_numpy()
        values[target] = product.astype(np.float64)
    return LogPart(path, t, time_target == "ts", values, labels)


def _preview(columns: list[str], limit: int = 12) -> str:
    shown = ", ".join(columns[:limit])
    return shown + (f", ... ({len(columns)} columns)" if len(columns) > limit else "")


def check_required(parts: list[LogPart], cmap: ColumnMap) -> None:
    """Every mapped target must be found in some file; some file must hold positions.

    Raises:
        TelemetryError: Naming the missing column and the files searched.
    """
    found = {k for p in parts for k in (*p.values, *p.labels)} | {"ts", "t_s"}
    names = ", ".join(str(p.path) for p in parts)
    for target, source in cmap.sources.items():
        if target not in found and target not in ("ts", "t_s"):
            raise TelemetryError(f"missing column {source.text!r} (for {target}) in {names}")
    if not any(p.has_positions for p in parts):
        raise TelemetryError(f"no joint positions (q_1..q_n) in {names}; map them with --columns 'q_1=<column>,...'")


def read_logs(paths: Sequence[str | Path], cmap: ColumnMap, robot_id: str | None = None) -> list[LogPart]:
    """Read and map every file; with ``robot_id``, keep that robot's rows of files that say whose they are.

    Raises:
        TelemetryError: A file is unreadable, lacks a column, or holds several robots and none was chosen.
    """
    parts = []
    for path in paths:
        frame = read_table(path)
        if frame.height == 0:
            raise TelemetryError(f"{path}: the file has no rows")
        robot_col = None
        if "robot_id" in cmap.sources:
            ref = cmap.sources["robot_id"].columns[0]
            robot_col = _column(frame, ref) if _resolves(ref, frame.columns) else None
        elif not cmap.explicit and "robot_id" in frame.columns:
            robot_col = "robot_id"
        if robot_col is not None:
            robots = frame.get_column(robot_col).cast(pl.String).unique().drop_nulls().sort().to_list()
            if robot_id is not None:
                if robot_id not in robots:
                    continue
                frame = frame.filter(pl.col(robot_col).cast(pl.String) == robot_id)
            elif len(robots) > 1:
                raise TelemetryError(f"{path}: joint states of several robots ({', '.join(robots)}); choose one")
        parts.append(map_file(path, frame, cmap))
    if not parts:
        raise TelemetryError(f"no joint states of robot {robot_id!r} in {', '.join(str(p) for p in paths)}")
    check_required(parts, cmap)
    return parts
