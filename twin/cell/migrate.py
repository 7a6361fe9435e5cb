"""Cell files of format 1 -> format 2 (the declarative production model).

Format 1 (files without ``format:``) fixed the production's shape in its keys: one ``printer_bank``
station printing each variant's ``bracket`` (``print_time_s``, ``filament_kg``), a ``base_panel`` and
``screws`` x ``screw_m4`` per unit, one ``screw_pattern_m``, the three buffers
``printer_to_fixture``, ``fixture_to_inspection`` (the fixture's nests) and ``inspection_to_outfeed``
(the conveyor's places), three quality characteristics and amounts in EUR. Those names are format 1's
vocabulary, read here and nowhere else. Format 2 states each of them in the file: machine stations with a
process time per variant, parts made in the cell, a bill of materials per variant, buffers between two
named resources, declared characteristics and any currency.

``twin cell migrate FILE`` writes the migrated file; loading a format-1 file migrates it in memory.
"""

from __future__ import annotations

import copy
from typing import Any

from twin.cell.spec import CELL_FORMAT
from twin.errors import ConfigError

V1_BRACKET_SLOT = "bracket"  # format 1's ``carries: bracket``: the variant's bracket and its insert
V1_INSERT_SLOT = "insert"
V1_PANEL_PART = "base_panel"
V1_SCREW_PART = "screw_m4"
V1_SCREW_SLOT = "screws"
V1_NESTS = "fixture_to_inspection"
V1_BRACKETS = "printer_to_fixture"
V1_OUTFEED = "inspection_to_outfeed"
V1_CHARACTERISTICS = {"screw_torque_nm": "N*m", "gap_mm": "mm", "flush_mm": "mm"}
V1_COST_KEYS = {
    "labour_eur_per_h": "labour_per_h",
    "depreciation_eur_per_machine_h": "depreciation_per_machine_h",
    "maintenance_eur_per_h": "maintenance_per_h",
    "materials_eur_per_kg": "materials_per_kg",
    "rework_eur_per_unit": "rework_per_unit",
}
V1_NEST_DEFAULT, V1_BRACKETS_DEFAULT, V1_OUTFEED_DEFAULT = 2, 6, 4  # format 1's built-in capacities


def cell_format(data: dict[str, Any]) -> int:
    """The format of a cell mapping: its ``format`` key, 1 when absent."""
    value = data.get("format", 1)
    if value not in (1, CELL_FORMAT):
        raise ConfigError(f"format: {value!r} is not a cell format this version reads (1 or {CELL_FORMAT})")
    return int(value)


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """A cell mapping in the current format (a copy; a current mapping is returned unchanged).

    Args:
        data: A cell file's mapping, as read.

    Returns:
        The format-2 mapping.

    Raises:
        ConfigError: A format-1 file lacks what format 1 required (a printer bank, variants' brackets).
    """
    if cell_format(data) == CELL_FORMAT:
        return data
    v1 = copy.deepcopy(data)
    stations: dict[str, Any] = v1.get("stations", {})
    variants: dict[str, Any] = v1.get("variants", {})
    parts: dict[str, Any] = v1.get("parts", {})
    operations: dict[str, Any] = v1.get("operations", {})
    quality: dict[str, Any] = v1.get("quality", {})
    buffers: dict[str, Any] = v1.get("buffers", {}) or {}
    banks = [sid for sid, s in stations.items() if isinstance(s, dict) and s.get("kind") == "printer_bank"]
    if not banks:
        raise ConfigError("stations: a format-1 cell needs a printer_bank station (or write the file in format 2)")
    bank = banks[0]

    def capacity(name: str, default: int) -> int:
        entry = buffers.get(name)
        return int(entry["capacity"]) if isinstance(entry, dict) and "capacity" in entry else default

    for station in stations.values():
        kind = station.get("kind")
        if kind == "printer_bank":
            station["kind"] = "machine"
            if "printer_count" in station:
                station["count"] = station.pop("printer_count")
            if "heating_time_s" in station:
                station["setup_time_s"] = station.pop("heating_time_s")
            power = station.get("power_w", {})
            station["power_w"] = {{"heating": "setup", "printing": "running"}.get(k, k): v for k, v in power.items()}
            station["process_time_s"] = {name: v.get("print_time_s") for name, v in variants.items()}
        elif kind == "fixture":
            station["nests"] = capacity(V1_NESTS, V1_NEST_DEFAULT)
        elif kind == "conveyor":
            station["places"] = capacity(V1_OUTFEED, V1_OUTFEED_DEFAULT)
        elif kind == "inspection":
            station["sampling"] = quality.get("inspection_sampling", 1.0)

    pattern = v1.pop("screw_pattern_m", [])
    screw_op = None
    for op_id, op in operations.items():
        if op.get("carries") == V1_BRACKET_SLOT:
            op["carries"] = [V1_BRACKET_SLOT, V1_INSERT_SLOT]
        if op.pop("repeat_per_screw", False):
            op["repeat_per"] = V1_SCREW_SLOT
            op["pattern_m"] = pattern
            screw_op = screw_op or op_id

    for name, variant in variants.items():
        bracket = variant.pop("bracket", None)
        if bracket is None or bracket not in parts:
            raise ConfigError(f"variants.{name}.bracket: a format-1 variant needs a bracket part")
        bom: dict[str, Any] = {}
        if V1_PANEL_PART in parts:
            bom[V1_PANEL_PART] = V1_PANEL_PART
        bom[V1_BRACKET_SLOT] = bracket
        part = parts[bracket]
        part["made_by"] = bank
        part.setdefault("feedstock_kg", variant.pop("filament_kg", part.get("mass_kg")))
        variant.pop("filament_kg", None)
        variant.pop("print_time_s", None)
        if part.get("insert_mass_kg"):
            insert_id = f"{bracket}_insert"
            parts.setdefault(
                insert_id, {"mass_kg": part["insert_mass_kg"], "material": part.get("insert_material", "")}
            )
            bom[V1_INSERT_SLOT] = insert_id
        screws = int(variant.pop("screws", 0))
        if screws and V1_SCREW_PART in parts:
            bom[V1_SCREW_SLOT] = {"part": V1_SCREW_PART, "qty": screws}
        variant["bom"] = bom
    for part in parts.values():
        part.pop("insert_mass_kg", None)
        part.pop("insert_material", None)

    inspect_op = next(
        (
            op_id
            for op_id, op in operations.items()
            if op.get("station") in stations and stations[op["station"]].get("kind") == "inspection"
        ),
        None,
    )
    characteristics = {}
    for name, unit in V1_CHARACTERISTICS.items():
        if name not in quality:
            continue
        limits = dict(quality[name])
        by = screw_op if name == "screw_torque_nm" else inspect_op
        if by is None:
            continue
        entry = {"unit": unit, **limits, "measured_by": by}
        if by == screw_op:
            entry["drift_per_1000"] = quality.get("tool_wear_torque_drift_nm_per_1000_screws", 0.0)
            entry["service_interval"] = quality.get("maintenance_interval_screws", 6000)
        characteristics[name] = entry
    v1["quality"] = {
        "characteristics": characteristics,
        "rework_share_of_failed": quality.get("rework_share_of_failed", 0.0),
    }

    loader = next(
        (
            op["robot"]
            for op in operations.values()
            if op.get("robot") and (op.get("target") or {}).get("station") == bank
        ),
        None,
    )
    v1["buffers"] = (
        {V1_BRACKETS: {"capacity": capacity(V1_BRACKETS, V1_BRACKETS_DEFAULT), "from": bank, "to": loader}}
        if loader
        else {}
    )
    cost = v1.get("cost", {})
    v1["cost"] = {V1_COST_KEYS.get(k, k): v for k, v in cost.items()}
    return {"format": CELL_FORMAT, **v1}
