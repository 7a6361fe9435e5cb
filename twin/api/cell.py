"""The cell-level what-if: plan every operation of a cell (``twin cell check``) and picture it (``twin cell render``).

Both take the cell as a loaded :class:`~twin.cell.spec.CellSpec`, a cell file, or None for the sample cell,
with ``overrides`` (``path.to.key=value``, the command's ``--set``) applied to a file before validation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from twin.api._inputs import CellInput, resolve_cell
from twin.errors import InputError
from twin.physics.cache import PhysicsCache
from twin.physics.evaluate import CellPlanner, CellResult, VariantResult
from twin.physics.plan import write_cached_plan
from twin.physics.render import save_cell_png

OPERATION_SCHEMA: dict[str, type[pl.DataType]] = {
    "variant": pl.String,
    "operation": pl.String,
    "robot_id": pl.String,
    "duration_s": pl.Float64,
    "energy_j": pl.Float64,
    "peak_power_w": pl.Float64,
    "min_clearance_m": pl.Float64,
    "feasible": pl.Boolean,
    "reason": pl.String,
}
"""Columns of :attr:`CellCheck.operations`: one row per operation per variant."""


@dataclass(frozen=True)
class CellCheck:
    """Feasibility, cycle time, takt and energy of every variant of a cell.

    Attributes:
        result: The planner's figures per variant and operation.
    """

    result: CellResult

    @property
    def cell_id(self) -> str:
        """The cell's id."""
        return self.result.cell

    @property
    def feasible(self) -> bool:
        """True when every operation of every variant can be planned."""
        return self.result.feasible

    @property
    def variants(self) -> tuple[VariantResult, ...]:
        """Cycle figures per variant, in the cell file's order."""
        return tuple(self.result.variants)

    @property
    def operations(self) -> pl.DataFrame:
        """One row per operation per variant (:data:`OPERATION_SCHEMA`), as ``--json`` rounds them."""
        rows = [{"variant": v["variant"], **op} for v in self.result.to_json()["variants"] for op in v["operations"]]
        return pl.DataFrame(rows, schema=OPERATION_SCHEMA)

    def to_dict(self) -> dict[str, Any]:
        """The object ``twin cell check --json`` prints: ``{"cell", "feasible", "variants": [...]}``."""
        return self.result.to_json()


@dataclass(frozen=True)
class CellPicture:
    """A picture of a cell: a PNG, or a 3D scene (glTF 2.0 ``.glb``).

    Attributes:
        cell_id: The pictured cell's id.
        path: The file written.
        width: Width in pixels (None for a 3D scene).
        height: Height in pixels (None for a 3D scene).

    Example:
        >>> CellPicture("cell-v1", Path("cell.png"), 640, 400).to_dict()
        {'cell': 'cell-v1', 'out': 'cell.png', 'format': 'png', 'width': 640, 'height': 400}
    """

    cell_id: str
    path: Path
    width: int | None
    height: int | None

    def to_dict(self) -> dict[str, Any]:
        """The object ``twin cell render --json`` prints: ``{"cell", "out", "format", "width", "height"}``."""
        out = {"cell": self.cell_id, "out": str(self.path), "format": self.path.suffix.lstrip(".").lower()}
        return out | {"width": self.width, "height": self.height}


def check_cell(
    cell: CellInput = None, *, overrides: Iterable[str] = (), use_cache: bool = True, progress: bool = False
) -> CellCheck:
    """Plan every operation of every variant and derive the cycle figures (``twin cell check``).

    Args:
        cell: A loaded cell, a cell YAML file, or None for the sample cell.
        overrides: ``path.to.key=value`` strings applied to the file first (e.g. a robot's ``speed_override``).
        use_cache: Reuse and keep planned operations in the physics cache; False re-plans every operation.
        progress: Show a progress bar on stderr, one step per variant.

    Returns:
        The figures; ``feasible`` is False when an operation cannot be planned (the command exits 3).

    Raises:
        ConfigError: The cell file or an override is malformed.
        AssetError: A referenced URDF is missing.
        PhysicsError: The physics world cannot be built.

    Example:
        >>> check = check_cell()  # the sample cell; plans with pybullet  # doctest: +SKIP
        >>> check.feasible, check.operations.columns[:3]  # doctest: +SKIP
        (True, ['variant', 'operation', 'robot_id'])
    """
    spec = resolve_cell(cell, overrides)
    cache = PhysicsCache(persist=use_cache)
    with CellPlanner(spec, cache=cache) as planner:
        result = planner.evaluate_with_progress() if progress else planner.evaluate()
        write_cached_plan(cache, planner.plan(result))  # `twin oee` and the report read the plan from the cache
    return CellCheck(result)


def render_cell(
    cell: CellInput,
    out: str | Path,
    *,
    overrides: Iterable[str] = (),
    width: int = 1280,
    height: int = 800,
) -> CellPicture:
    """Write a labelled PNG picture of the cell, or the cell as a glTF 2.0 scene (``twin cell render``).

    Args:
        cell: A loaded cell, a cell YAML file, or None for the sample cell.
        out: The ``.png`` file to write, or a ``.glb`` file for the 3D scene (opens in Blender or any glTF
            viewer: robots at home, stations and parts, with their URDFs' meshes and colours).
        overrides: ``path.to.key=value`` strings applied to the file first.
        width: Width in pixels.
        height: Height in pixels.

    Returns:
        The picture written.

    Raises:
        InputError: ``out`` is neither a ``.png`` nor a ``.glb`` file name.
        ConfigError: The cell file or an override is malformed.
        AssetError: A referenced URDF is missing.

    Example:
        >>> picture = render_cell(None, "cell.png", width=640, height=400)  # doctest: +SKIP
        >>> picture.path.name, picture.width  # doctest: +SKIP
        ('cell.png', 640)
    """
    suffix = Path(out).suffix.lower()
    if suffix not in (".png", ".glb"):
        raise InputError(f"out {str(out)!r}: give a .png file (a picture) or a .glb file (the 3D scene, glTF 2.0)")
    spec = resolve_cell(cell, overrides)
    if suffix == ".glb":
        from twin.physics.gltf import write_cell_gltf

        return CellPicture(spec.cell.id, write_cell_gltf(spec, out), None, None)
    path = save_cell_png(spec, out, width, height)
    return CellPicture(spec.cell.id, Path(path), width, height)


@dataclass(frozen=True)
class MigratedCell:
    """A cell file rewritten in the current format (``twin cell migrate``).

    Attributes:
        source: The file read.
        out: The file written.
        from_format: The format read (1 or 2; a current file is copied unchanged).
    """

    source: Path
    out: Path
    from_format: int

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` output."""
        return {"source": str(self.source), "out": str(self.out), "from_format": self.from_format}


def migrate_cell(source: str | Path, out: str | Path) -> MigratedCell:
    """Rewrite a cell file in the current format; the result is validated before it is written.

    Args:
        source: A cell YAML of any format this version reads.
        out: Where to write the migrated YAML (never the source itself).

    Returns:
        What was written.

    Raises:
        InputError: ``out`` is the source file.
        ConfigError: The source is malformed, or its migration does not validate.
    """
    import yaml

    from twin.cell.load import load_cell_data, read_yaml
    from twin.cell.migrate import cell_format, migrate

    source, out = Path(source), Path(out)
    if out.resolve() == source.resolve():
        raise InputError(f"out {str(out)!r}: write the migrated cell beside {source}, not over it")
    data = read_yaml(source)
    version = cell_format(data)
    migrated = migrate(data)
    load_cell_data(migrated, source)  # validates, and resolves its assets as they would load beside the source
    out.parent.mkdir(parents=True, exist_ok=True)
    header = f"# {source.name} migrated from format {version} by twin cell migrate; see docs/cell.md\n"
    out.write_text(header + yaml.safe_dump(migrated, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return MigratedCell(source, out, version)
