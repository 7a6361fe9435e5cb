"""assets/scenarios/<id>.yaml -> Scenario: the validated spec and the changed cell.

The changes are applied to the base cell's YAML mapping, then the result is validated as a cell
(:func:`twin.cell.load.load_cell_data`), so a scenario can never describe a cell the cell file could
not. Every problem is one :class:`ConfigError` naming the scenario file and the key path, with the
valid options where there is a closed set.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from twin.cell import factors
from twin.cell.load import apply_overrides, format_validation_error, load_cell_data, read_cell_yaml, read_yaml
from twin.cell.spec import CellSpec
from twin.errors import ConfigError
from twin.paths import ASSETS_DIR, DEFAULT_CELL, SCENARIOS_DIR
from twin.replay.calibrate import calibrated_cell
from twin.scenarios.spec import Changes, ScenarioSpec, SweepSpec

SWEEPS_DIR = SCENARIOS_DIR / "sweeps"


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario: its id, file, validated spec and the cell with every change applied."""

    id: str
    path: Path
    spec: ScenarioSpec
    cell: CellSpec
    nominal: bool = False
    """Loaded with the cell file's power models, not the robots' stored calibrations."""

    @property
    def parameter_sets(self) -> dict[str, str]:
        """Robot -> the parameter set its power model comes from (``nominal`` or a calibration)."""
        return {robot_id: robot.power_model.parameter_set for robot_id, robot in self.cell.robots.items()}


def scenario_cell(path: Path) -> Path:
    """The base cell file a scenario file names (resolved; the scenario is not validated further)."""
    return _cell_path(read_scenario_spec(path).cell, path).resolve()


def scenario_ids(directory: Path | None = None) -> list[str]:
    """The registered scenario ids: the stems of ``assets/scenarios/*.yaml``, sorted."""
    folder = directory if directory is not None else SCENARIOS_DIR
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def resolve_path(reference: str | Path, folder: Path, kind: str) -> Path:
    """A file path, or the id of a file registered in ``folder``."""
    path = Path(reference)
    if path.is_file():
        return path
    candidate = folder / f"{reference}.yaml"
    if candidate.is_file():
        return candidate
    known = scenario_ids(folder)
    raise ConfigError(f"{reference}: no such {kind} file or registered id; valid ids: {', '.join(known) or 'none'}")


def read_scenario_spec(path: Path) -> ScenarioSpec:
    """Read and validate a scenario file (no cell yet)."""
    data = read_yaml(path)
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, path, ScenarioSpec)) from exc
    if spec.id is not None and spec.id != path.stem:
        raise ConfigError(f"{path}: id: {spec.id!r} differs from the file name; the id is the file stem {path.stem!r}")
    return spec


def load_scenario(
    reference: str | Path, changes: Mapping[str, Any] | None = None, *, nominal: bool = False
) -> Scenario:
    """Load a scenario by path or registered id.

    Args:
        reference: A scenario file, or an id registered in ``assets/scenarios/``.
        changes: Extra changes merged over the file's (a sweep's parameters), as a ``changes`` mapping.
        nominal: The robots' power models as the cell file has them, not their stored calibrations.

    Returns:
        The scenario with its changed, validated cell.

    Raises:
        ConfigError: The file, a change or the changed cell is invalid.
        AssetError: The base cell references a missing asset.
    """
    path = resolve_path(reference, SCENARIOS_DIR, "scenario")
    spec = read_scenario_spec(path)
    if changes:
        merged = deep_merge(spec.changes.model_dump(exclude_defaults=True), changes)
        try:
            spec = spec.model_copy(update={"changes": Changes.model_validate(merged)})
        except ValidationError as exc:
            message = format_validation_error(exc, path, Changes).replace(f"{path}: ", f"{path}: changes.", 1)
            raise ConfigError(message) from exc
    return scenario_from_spec(spec, path, nominal=nominal)


def scenario_from_spec(spec: ScenarioSpec, path: Path, *, nominal: bool = False) -> Scenario:
    """Build the changed cell of an already validated spec (``path`` names the scenario in errors).

    Each robot plans with its accepted calibration (``twin calibrate``) when one is stored for its URDF, unless
    ``nominal``: an added copy takes its original's, and a robot whose power model the scenario sets keeps it.
    """
    cell_path = _cell_path(spec.cell, path)
    data = apply_changes(read_cell_yaml(cell_path), spec.changes, path, factor_dirs=factors.cell_factor_dirs(cell_path))
    try:
        cell = load_cell_data(data, cell_path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: the changed cell is invalid: {exc}") from exc
    if not nominal:
        sources = {rid: add.copy_of for rid, add in spec.changes.add_robots.items()}
        keep = {rid for rid, change in spec.changes.robots.items() if "power_model" in change}
        cell = calibrated_cell(cell, sources, keep)
    return Scenario(id=path.stem, path=path, spec=spec, cell=cell, nominal=nominal)


def _cell_path(reference: str | None, scenario_path: Path) -> Path:
    """The scenario's base cell file (the sample cell when it names none)."""
    if reference is None:
        return DEFAULT_CELL
    for root in (scenario_path.resolve().parent, ASSETS_DIR):
        candidate = root / reference
        if candidate.is_file():
            return candidate
    raise ConfigError(f"{scenario_path}: cell: {reference!r} not found under {scenario_path.parent} or {ASSETS_DIR}")


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in: mappings merge key by key, anything else replaces.

    >>> deep_merge({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": 3}, "c": 4})
    {'a': {'x': 1, 'y': 3}, 'b': 1, 'c': 4}
    """
    out = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _check(where: str, name: str, valid: list[str], what: str, source: Path) -> None:
    if name not in valid:
        raise ConfigError(f"{source}: {where}: unknown {what} {name!r}; valid: {', '.join(sorted(valid))}")


def apply_changes(
    cell_data: Mapping[str, Any], changes: Changes, source: Path, *, factor_dirs: Sequence[Path] = ()
) -> dict[str, Any]:
    """The base cell mapping with every change applied (references checked, cell not yet validated).

    Args:
        cell_data: The base cell's YAML mapping.
        changes: The scenario's changes.
        source: The scenario file, named in errors.
        factor_dirs: The base cell's own factor folders (:func:`twin.cell.factors.cell_factor_dirs`), whose
            tariffs, grid regions and materials are valid beside the project's.

    Returns:
        A new mapping; ``cell_data`` is untouched.

    Raises:
        ConfigError: A change names an unknown robot, station, operation, variant, part, buffer, material,
            tariff or grid region (the message lists the valid ones).
    """
    data = copy.deepcopy(dict(cell_data))
    robots: dict[str, Any] = data.setdefault("robots", {})
    stations: dict[str, Any] = data.setdefault("stations", {})
    cost: dict[str, Any] = data.setdefault("cost", {})

    for rid, add in changes.add_robots.items():
        where = f"changes.add_robots.{rid}"
        if rid in robots or rid in stations:
            raise ConfigError(f"{source}: {where}: id {rid!r} is already a robot or station of the cell")
        _check(f"{where}.copy_of", add.copy_of, list(robots), "robot", source)
        robot = copy.deepcopy(robots[add.copy_of])
        robot["base_pose"] = add.base_pose.model_dump()
        if add.home_q_rad is not None:
            robot["home_q_rad"] = list(add.home_q_rad)
        if add.speed_override is not None:
            robot["speed_override"] = add.speed_override
        robots[rid] = robot
        rates = cost.setdefault("depreciation_per_machine_h", {})
        rate = add.depreciation_per_machine_h
        rates[rid] = rate if rate is not None else rates.get(add.copy_of, 0.0)

    for rid, fields in changes.robots.items():
        _check("changes.robots", rid, list(robots), "robot", source)
        robots[rid] = deep_merge(robots[rid], fields)

    if isinstance(changes.speed_override, float | int):
        for robot in robots.values():
            robot["speed_override"] = float(changes.speed_override)
    elif isinstance(changes.speed_override, dict):
        for rid, value in changes.speed_override.items():
            _check("changes.speed_override", rid, list(robots), "robot", source)
            robots[rid]["speed_override"] = value

    operations: dict[str, Any] = data.get("operations", {})
    for template, rid in changes.operation_robots.items():
        _check("changes.operation_robots", template, list(operations), "operation", source)
        _check(f"changes.operation_robots.{template}", rid, list(robots), "robot", source)
        if operations[template].get("robot") is None:
            raise ConfigError(f"{source}: changes.operation_robots.{template}: a station operation has no robot")
        operations[template]["robot"] = rid

    for sid, pose in changes.station_poses.items():
        _check("changes.station_poses", sid, list(stations), "station", source)
        stations[sid]["pose"] = pose.model_dump()
    for sid, fields in changes.stations.items():
        _check("changes.stations", sid, list(stations), "station", source)
        stations[sid] = deep_merge(stations[sid], fields)

    variants: dict[str, Any] = data.get("variants", {})
    for name, plan in changes.operation_order.items():
        targets = list(variants) if name == "*" else [name]
        if name != "*":
            _check("changes.operation_order", name, [*variants, "*"], "variant", source)
        for op in plan:
            _check(f"changes.operation_order.{name}", op, list(operations), "operation", source)
        for target in targets:
            variants[target]["plan"] = list(plan)
    for template, order in changes.pattern_order.items():
        _check("changes.pattern_order", template, list(operations), "operation", source)
        pattern = operations[template].get("pattern_m", [])
        if sorted(order) != list(range(1, len(pattern) + 1)):
            raise ConfigError(
                f"{source}: changes.pattern_order.{template}: expected a permutation of 1..{len(pattern)} "
                f"(one entry per position of its pattern_m), got {order}"
            )
        operations[template]["pattern_m"] = [pattern[i - 1] for i in order]
    if changes.variant_mix:
        for name in changes.variant_mix:
            _check("changes.variant_mix", name, list(variants), "variant", source)
        for name, variant in variants.items():
            variant["mix_share"] = changes.variant_mix.get(name, 0.0)

    buffers: dict[str, Any] = data.setdefault("buffers", {})
    for name, capacity in changes.buffers.items():
        _check("changes.buffers", name, list(buffers), "buffer", source)
        buffers[name] = {**buffers[name], "capacity": capacity}
    if changes.shifts is not None:
        data["shifts"] = changes.shifts.model_dump()

    if changes.tariff_id is not None:
        try:
            factors.tariff_schedule(changes.tariff_id, extra_dirs=factor_dirs)
        except ConfigError as exc:
            raise ConfigError(f"{source}: changes.tariff_id: {exc}") from exc
        cost["tariff_id"] = changes.tariff_id
    if changes.grid_region is not None:
        try:
            factors.grid_factor(changes.grid_region, extra_dirs=factor_dirs)
        except ConfigError as exc:
            raise ConfigError(f"{source}: changes.grid_region: {exc}") from exc
        data.setdefault("cell", {})["grid_region"] = changes.grid_region
        data.setdefault("carbon", {})["grid_region"] = changes.grid_region
    if changes.renewable_share is not None:
        data.setdefault("carbon", {})["renewable_share"] = changes.renewable_share
    parts: dict[str, Any] = data.get("parts", {})
    for part, material in changes.materials.items():
        _check("changes.materials", part, list(parts), "part", source)
        try:
            factors.material_factor(material, extra_dirs=factor_dirs)
        except ConfigError as exc:
            raise ConfigError(f"{source}: changes.materials.{part}: {exc}") from exc
        parts[part]["material"] = material
    if changes.inspection_sampling is not None:
        inspecting = [s for s in stations.values() if s.get("kind") == "inspection"]
        if not inspecting:
            raise ConfigError(f"{source}: changes.inspection_sampling: the cell has no inspection station")
        for station in inspecting:
            station["sampling"] = changes.inspection_sampling
    for rid, fault in changes.faults.items():
        _check("changes.faults", rid, [*robots, *stations], "robot or station", source)
        holder = robots.get(rid) or stations[rid]
        holder["mtbf_h"], holder["mttr_min"] = fault.mtbf_h, fault.mttr_min
    if changes.set:
        data = apply_overrides(data, changes.set, source)
    prices = data.get("cost", {}).get("materials_per_kg", {})
    for part, material in changes.materials.items():
        if material not in prices:
            raise ConfigError(
                f"{source}: changes.materials.{part}: material {material!r} has no price; add "
                f"cost.materials_per_kg.{material} under changes.set (priced: {', '.join(sorted(prices))})"
            )
    return data


def load_sweep(reference: str | Path) -> tuple[SweepSpec, Path]:
    """Read and validate a sweep file (a path, or an id registered in ``assets/scenarios/sweeps/``)."""
    path = resolve_path(reference, SWEEPS_DIR, "sweep")
    data = read_yaml(path)
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, path, SweepSpec)) from exc
    return spec, path
