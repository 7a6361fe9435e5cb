"""assets/cells/<cell>.yaml -> CellSpec: validated, overrides applied, asset paths resolved.

Every problem is one :class:`ConfigError` (or :class:`AssetError`) naming the file and the key path,
with the valid options where there is a closed set.
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from twin.cell import factors as fx
from twin.cell.migrate import migrate
from twin.cell.spec import CellSpec
from twin.cell.urdf import movable_joints, resolve_asset
from twin.errors import AssetError, ConfigError
from twin.paths import DEFAULT_CELL

UNIT_SUFFIXES = frozenset(
    {"s", "min", "h", "m", "mm", "kg", "w", "kwh", "j", "eur", "rad", "deg", "nm", "s2", "s3", "nm2", "pct"}
)


class UniqueKeyLoader(yaml.SafeLoader):
    """The safe YAML loader, but a key given twice in one mapping is an error (YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping; the second occurrence of a key raises, naming its line."""
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"duplicate key {key!r} (first at line {seen[key].line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, with a clear error for a missing, unreadable or malformed file or a duplicate key."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader: plain data only
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


def check_robot_joints(spec: CellSpec, source: Path) -> None:
    """Every robot's per-joint lists fit its URDF's movable joints, and its home pose lies within their limits.

    Read from the URDF file itself (no physics), so a wrong list is one error when the cell loads, never a
    traceback when the world is built.

    Raises:
        ConfigError: A list has more values than the URDF has movable joints, or a home angle is out of range.
    """
    for rid, robot in spec.robots.items():
        if robot.urdf_path is None:
            continue
        joints = movable_joints(robot.urdf_path)
        names = ", ".join(j.name for j in joints)
        where = f"{source}: robots.{rid}"
        if robot.n_arm_joints > len(joints):
            raise ConfigError(
                f"{where}.limits: {robot.n_arm_joints} values per list, but {robot.urdf} has {len(joints)} movable "
                f"joints ({names}); give one value per arm joint"
            )
        if len(robot.home_q_rad) > len(joints):
            raise ConfigError(
                f"{where}.home_q_rad: {len(robot.home_q_rad)} values, but {robot.urdf} has {len(joints)} movable "
                f"joints ({names})"
            )
        for index, (joint, q) in enumerate(zip(joints, robot.home_q_rad, strict=False)):
            if not joint.lower <= q <= joint.upper:
                raise ConfigError(
                    f"{where}.home_q_rad[{index}]: {q:g} {joint.unit} is outside {joint.name}'s limits "
                    f"[{joint.lower:g}, {joint.upper:g}]"
                )


def check_factor_references(spec: CellSpec, source: Path) -> None:
    """Every tariff, grid region, material and fuel the cell names has a row in the factor tables.

    The tables are the project's plus those in the ``factors/`` folder beside the cell file
    (:func:`twin.cell.factors.cell_factor_dirs`); the lookups are the ones the analytics use. The tariff must
    also be priced in the cell's currency, or in one ``cost.exchange_rates`` converts.

    Args:
        spec: The validated cell (``source_path`` set).
        source: The cell file, named in errors.

    Raises:
        ConfigError: ``<file>: <key path>: unknown ...; valid: ...`` for the first reference that does not
            resolve, or ``<file>: cost.currency: ...`` naming both currencies.
        AssetError: A factor table is missing.
    """
    dirs = fx.cell_factor_dirs(spec)
    references: list[tuple[str, Callable[..., object], str]] = [
        ("cost.tariff_id", fx.tariff_schedule, spec.cost.tariff_id),
        ("carbon.grid_region", fx.grid_factor, spec.carbon.grid_region),
        *((f"parts.{pid}.material", fx.material_factor, part.material) for pid, part in spec.parts.items()),
        *(
            (f"stations.{sid}.consumables_kg_per_unit.{material}", fx.material_factor, material)
            for sid, station in spec.stations.items()
            for material in station.consumables_kg_per_unit
        ),
        *((f"carbon.scope1_fuels.{fuel}", fx.fuel_factor, fuel) for fuel in spec.carbon.scope1_fuels),
    ]
    for where, lookup, key in references:
        try:
            lookup(key, extra_dirs=dirs)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {where}: {exc}") from exc
    try:
        fx.cell_tariff(spec)
    except ConfigError as exc:
        raise ConfigError(f"{source}: cost.currency: {exc}") from exc


def load_cell_data(data: Mapping[str, Any], source: Path) -> CellSpec:
    """Validate an already-read cell mapping (overrides applied) into a :class:`CellSpec`; format 1 is migrated.

    After validation, asset paths resolve beside ``source`` and every factor reference is checked against the
    project's tables and the cell's own (:func:`check_factor_references`).
    """
    try:
        spec = CellSpec.model_validate(migrate(dict(data)))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source, CellSpec)) from exc
    spec = _resolve_assets(spec, source)
    check_robot_joints(spec, source)
    check_factor_references(spec, source)
    return spec


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
        ConfigError: The file is malformed or a key, type or reference is wrong (a tariff, grid region,
            material or fuel without a factor row, or a tariff in another currency without a rate).
        AssetError: A referenced URDF or factor table is missing.
    """
    source = Path(path) if path is not None else DEFAULT_CELL
    data = apply_overrides(read_cell_yaml(source), overrides, source)
    return load_cell_data(data, source)
