"""assets/cells/<cell>.yaml -> CellSpec: validated, overrides applied, asset paths resolved.

Every problem is one :class:`ConfigError` (or :class:`AssetError`) naming the file and the key path,
with the valid options where there is a closed set.
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from twin.cell.migrate import migrate
from twin.cell.spec import CellSpec
from twin.errors import AssetError, ConfigError
from twin.paths import ASSETS_DIR, DEFAULT_CELL

PYBULLET_DATA_PREFIX = "pybullet_data:"
UNIT_SUFFIXES = frozenset(
    {"s", "min", "h", "m", "mm", "kg", "w", "kwh", "j", "eur", "rad", "deg", "nm", "s2", "s3", "nm2", "pct"}
)


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, with a clear error for a missing, unreadable or malformed file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{where}: malformed YAML: {problem}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``path.to.key=value`` into its key path and YAML-parsed value."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected path.to.key=value")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".")]
    if not key.strip() or any(not p for p in parts):
        raise ConfigError(f"--set {text!r}: empty key path")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text!r}: value is not valid YAML") from exc
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str], source: Path) -> dict[str, Any]:
    """Return a copy of ``data`` with every ``--set path.to.key=value`` applied.

    Intermediate keys must exist (an unknown robot or station id is an error listing the valid ids);
    the last key may be new, and validation then decides whether it is allowed.
    """
    result = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node: Any = result
        for depth, key in enumerate(path[:-1]):
            where = ".".join(path[: depth + 1])
            if isinstance(node, list):
                if not key.isdigit() or int(key) >= len(node):
                    raise ConfigError(
                        f"{source}: --set {'.'.join(path)}: {where} is not an index of a {len(node)}-item list"
                    )
                node = node[int(key)]
                continue
            if not isinstance(node, dict) or key not in node:
                valid = ", ".join(sorted(map(str, node))) if isinstance(node, dict) else "(not a mapping)"
                parent = ".".join(path[:depth]) or "top level"
                raise ConfigError(
                    f"{source}: --set {'.'.join(path)}: unknown key {key!r} under {parent}; valid: {valid}"
                )
            node = node[key]
        last = path[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise ConfigError(f"{source}: --set {'.'.join(path)}: not an index of a {len(node)}-item list")
            node[int(last)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ConfigError(f"{source}: --set {'.'.join(path)}: {'.'.join(path[:-1])} is not a mapping")
    return result


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that holds the last key of ``loc`` (for listing valid keys)."""
    current: Any = model
    for key in loc[:-1]:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(key))
            if field is None:
                return None
            current = field.annotation
        else:  # dict[str, Model] or list[Model]: the key is an id or an index
            args = [a for a in typing.get_args(current) if a is not type(None)]
            current = args[-1] if args else None
        while typing.get_origin(current) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(current) if a is not type(None)]
            current = args[0] if args else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    args = [a for a in typing.get_args(current) if a is not type(None)]
    if args and isinstance(args[-1], type) and issubclass(args[-1], BaseModel):
        return args[-1]
    return None


def format_validation_error(exc: ValidationError, source: Path, model: type[BaseModel]) -> str:
    """One line per problem: ``file: key.path: message (valid: ...)``; the first problem leads."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = ".".join(str(p) for p in loc) or "(top level)"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            holder = _model_at(model, loc)
            if holder is not None:
                valid = sorted(name for name in holder.model_fields if not name.endswith("_path"))
                key = str(loc[-1])
                with_unit = [v for v in valid if v.startswith(key + "_") and v.rsplit("_", 1)[-1] in UNIT_SUFFIXES]
                hint = (
                    f"; a dimensioned number carries its unit in the key, did you mean {with_unit[0]}?"
                    if with_unit
                    else ""
                )
                message = f"unknown key {key!r}{hint}; valid: {', '.join(valid)}"
        elif err["type"] == "missing":
            message = "required key is missing"
        elif "input" in err and not isinstance(err["input"], (dict, list)):
            message = f"{message} (got {err['input']!r})"
        lines.append(f"{source}: {path}: {message}")
    return lines[0] + (f" (and {len(lines) - 1} more problems)" if len(lines) > 1 else "")


def resolve_asset(reference: str, base_dir: Path) -> Path:
    """Resolve ``pybullet_data:<path>``, a path relative to the assets folder, or an absolute path."""
    if reference.startswith(PYBULLET_DATA_PREFIX):
        import pybullet_data  # data-only package: no simulator is imported

        return Path(pybullet_data.getDataPath()) / reference[len(PYBULLET_DATA_PREFIX) :]
    path = Path(reference)
    if path.is_absolute():
        return path
    for root in (base_dir, ASSETS_DIR):
        candidate = root / path
        if candidate.exists():
            return candidate
    return ASSETS_DIR / path


def _resolve_assets(spec: CellSpec, source: Path) -> CellSpec:
    base_dir = source.resolve().parent.parent  # assets/cells/x.yaml -> assets/
    robots, stations, parts = {}, {}, {}
    for group_name, group, out in (
        ("robots", spec.robots, robots),
        ("stations", spec.stations, stations),
        ("parts", spec.parts, parts),
    ):
        for item_id, item in group.items():
            if item.urdf is None:
                out[item_id] = item
                continue
            path = resolve_asset(item.urdf, base_dir)
            if not path.is_file():
                raise AssetError(
                    f"{source}: {group_name}.{item_id}.urdf: asset {item.urdf!r} not found (looked for {path})"
                )
            out[item_id] = item.model_copy(update={"urdf_path": path})
    return spec.model_copy(update={"robots": robots, "stations": stations, "parts": parts, "source_path": source})


def load_cell_data(data: Mapping[str, Any], source: Path) -> CellSpec:
    """Validate an already-read cell mapping (overrides applied) into a :class:`CellSpec`; format 1 is migrated."""
    try:
        spec = CellSpec.model_validate(migrate(dict(data)))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source, CellSpec)) from exc
    return _resolve_assets(spec, source)


def read_cell_yaml(path: Path) -> dict[str, Any]:
    """A cell file's mapping in the current format (format 1 is migrated; :mod:`twin.cell.migrate`)."""
    data = read_yaml(path)
    try:
        return migrate(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def load_cell(path: str | Path | None = None, overrides: Iterable[str] = ()) -> CellSpec:
    """Load and validate a cell file, applying ``--set`` overrides first.

    Args:
        path: The cell YAML; the sample cell when None.
        overrides: ``path.to.key=value`` strings, applied in order.

    Returns:
        The validated cell with every asset path resolved.

    Raises:
        ConfigError: The file is malformed or a key, type or reference is wrong.
        AssetError: A referenced URDF is missing.
    """
    source = Path(path) if path is not None else DEFAULT_CELL
    data = apply_overrides(read_cell_yaml(source), overrides, source)
    return load_cell_data(data, source)
