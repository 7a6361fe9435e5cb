"""The plan's ideal cycle times stored beside a warehouse, for OEE performance without planning the cell.

OEE performance needs the ideal cycle time of each variant, which comes from the physics twin's plan. A page
never plans: ``twin dashboard`` (a command) writes the plan's figures beside the warehouse (:func:`ideal_path`),
with the fingerprint of what they depend on (:func:`cell_fingerprint`), and :func:`load_ideal` reads them back,
checking they belong to the current cell file and physics model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from twin.api.read.status import MissingData
from twin.paths import DEFAULT_CELL, PACKAGE_DIR, URDF_DIR


def ideal_path(warehouse: str | Path) -> Path:
    """Where the plan's ideal cycle times of a warehouse live: ``data/twin.duckdb`` -> ``data/twin.ideal.json``.

    Args:
        warehouse: The warehouse file.

    Returns:
        The JSON file beside it.

    >>> ideal_path("data/twin.duckdb").as_posix()
    'data/twin.ideal.json'
    """
    path = Path(warehouse)
    stem = path.name[: -len(".duckdb")] if path.name.endswith(".duckdb") else path.name
    return path.with_name(stem + ".ideal.json")


def cell_fingerprint(cell_file: str | Path) -> str:
    """A hash of everything the plan's cycle times depend on: the cell file, the physics model, the URDFs.

    Reads files only (no import of the physics package).

    Args:
        cell_file: The cell YAML.

    Returns:
        16 hex digits.
    """
    digest = hashlib.sha256(Path(cell_file).read_bytes())
    for folder, pattern in ((PACKAGE_DIR / "physics", "*.py"), (URDF_DIR, "*.urdf")):
        for path in sorted(Path(folder).glob(pattern)):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class IdealTimes:
    """The plan's ideal cycle time per variant: the cell's takt and each station's work per unit (s).

    Attributes:
        cell: Variant -> the cell's takt.
        stations: Robot or station -> variant -> its work per unit.
        computed_at: When the plan was made (ISO-8601).
    """

    cell: dict[str, float]
    stations: dict[str, dict[str, float]]
    computed_at: str = ""

    def for_station(self, station: str | None) -> dict[str, float]:
        """Ideal cycle time per variant of the cell (None) or of one robot or station.

        Args:
            station: A robot or station id, or None for the cell.

        Returns:
            Variant -> seconds.

        Raises:
            MissingData: The station is not in the plan.
        """
        if station is None:
            return dict(self.cell)
        if station not in self.stations:
            raise MissingData(
                f"no ideal cycle time for station {station!r} in the plan; known: {', '.join(self.stations)}"
            )
        return dict(self.stations[station])


def load_ideal(warehouse: str | Path, cell_file: str | Path | None = None) -> IdealTimes:
    """The ideal cycle times ``twin dashboard`` wrote for this warehouse and cell.

    Args:
        warehouse: The warehouse file.
        cell_file: The cell YAML the pages use (default: the sample cell).

    Returns:
        The times.

    Raises:
        MissingData: No file, an unreadable one, or one computed for another cell definition or model.
    """
    path = ideal_path(warehouse)
    how = "start the dashboard with `twin dashboard` (it plans the cell and writes them)"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MissingData(
            f"OEE needs the ideal cycle times of the physics twin's plan ({path} is missing): {how}"
        ) from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise MissingData(f"{path} is unreadable ({exc}): {how}") from exc
    cell_file = Path(cell_file) if cell_file is not None else DEFAULT_CELL
    if doc.get("fingerprint") != cell_fingerprint(cell_file):
        raise MissingData(
            f"the ideal cycle times in {path} were planned for another version of the cell or the physics model: {how}"
        )
    return IdealTimes(
        cell={str(k): float(v) for k, v in doc["cell"].items()},
        stations={str(s): {str(k): float(v) for k, v in m.items()} for s, m in doc.get("stations", {}).items()},
        computed_at=str(doc.get("computed_at", "")),
    )
