"""The one door to every capability, called by the commands, the dashboard, the report and the demo.

``docs/python.md`` walks through it.

Rules of this layer:

- Arguments are typed values (paths, dates, ids, frozen specs); nothing here sees a command-line parser's namespace
  or parses a command's printed output.
- Results are frozen dataclasses holding polars frames and plain values; each has ``to_dict()`` giving
  the JSON object its command prints under ``--json``.
- It sits above every domain package (``cell`` .. ``report``) and below ``twin.cli`` and ``apps/``;
  no domain package imports it.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> the api module that defines it. Loaded on first use (PEP 562), so ``import twin.api``
# stays cheap and the read functions never pull pybullet in through a sibling module. No module is named
# like a public name (periods.py holds period()): the import system sets a loaded submodule as an attribute
# of the package, which would then hide the name from this lookup.
_EXPORTS: dict[str, str] = {
    "CellPlan": "plan",
    "find_plan": "plan",
    "plan_cell": "plan",
    "store_cell_plan": "plan",
    # write side: plan and picture a cell, telemetry in, recorded motion, what-ifs
    "CellCheck": "cell",
    "CellPicture": "cell",
    "check_cell": "cell",
    "render_cell": "cell",
    "migrate_cell": "cell",
    "MigratedCell": "cell",
    "GeneratedTelemetry": "telemetry",
    "IngestSummary": "telemetry",
    "QuarantineListing": "telemetry",
    "generate": "telemetry",
    "ingest": "telemetry",
    "quarantine": "telemetry",
    "ReplayReport": "replays",
    "CalibrationReport": "replays",
    "replay": "replays",
    "calibrate": "replays",
    "ScenarioRun": "scenarios",
    "Comparison": "scenarios",
    "SweepRun": "scenarios",
    "run_scenario": "scenarios",
    "compare": "scenarios",
    "sweep": "scenarios",
    # read side: period figures, quality on a file, the report
    "period": "periods",
    "days_period": "periods",
    "Period": "periods",
    "PeriodFigures": "periods",
    "OeeFigures": "periods",
    "CostFigures": "periods",
    "CarbonFigures": "periods",
    "QualityFigures": "periods",
    "spc": "quality",
    "capability": "quality",
    "read_table": "quality",
    "SpcCharts": "quality",
    "Capability": "quality",
    "report": "reports",
    "ReportFiles": "reports",
    # the whole chain, and what the dashboard needs before it starts
    "demo": "demos",
    "DemoSummary": "demos",
    "prepare_dashboard": "dashboard",
    "DashboardSetup": "dashboard",
    "streamlit_command": "dashboard",
    "app_environment": "dashboard",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'twin.api' has no attribute {name!r}")
    return getattr(importlib.import_module(f"twin.api.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
