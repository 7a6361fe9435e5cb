"""Constants and helpers of the dashboard tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "apps" / "dashboard.py"
PAGES = {
    "overview": "views/overview.py",
    "cell": "views/cell_replay.py",
    "quality": "views/quality.py",
    "cost": "views/cost.py",
    "carbon": "views/carbon.py",
    "scenarios": "views/scenarios.py",
}
DAYS = ("2026-10-05", "2026-10-06")  # the demo fixture's local days (GenerateConfig's default start)
EXTRA_DAY = "2026-10-07"  # generated too (unit ids continue), ingested only by the concurrent-ingest test


def twin(*argv: str) -> tuple[int, str]:
    """Run a ``twin`` command in-process; its exit code and stdout."""
    from twin.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def twin_json(*argv: str) -> dict:
    code, text = twin(*argv, "--json")
    assert code == 0, f"twin {' '.join(argv)} exited {code}: {text[-500:]}"
    return json.loads(text)


def day_of(path: Path) -> str:
    """``events-2026-10-05.parquet`` -> ``2026-10-05``."""
    return path.name.split(".")[0][-10:]


def demo_files(telemetry_dir: Path, streams: tuple[str, ...] | None = None) -> list[Path]:
    """The files of the demo days (of some streams)."""
    return [
        p
        for p in sorted(telemetry_dir.iterdir())
        if day_of(p) in DAYS and (streams is None or p.name.rsplit("-", 3)[0] in streams)
    ]


def extra_files(telemetry_dir: Path) -> list[Path]:
    """The files after the demo days."""
    return [p for p in sorted(telemetry_dir.iterdir()) if day_of(p) > DAYS[-1]]


def copy_warehouse(source: Path, target_dir: Path) -> Path:
    """A copy of a warehouse with its snapshot, ideal cycle times and picture."""
    target_dir.mkdir(parents=True, exist_ok=True)
    for path in source.parent.iterdir():
        if path.is_file() and path.name.startswith(source.stem):
            shutil.copy2(path, target_dir / path.name)
    return target_dir / source.name


def texts(at) -> str:
    """Every message, caption and markdown text on the page (for 'what is missing' checks)."""
    parts = []
    for kind in ("info", "warning", "error", "caption", "markdown", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def assert_clean(at, page: str) -> None:
    assert not at.exception, f"{page}: {[e.value for e in at.exception]}"
    assert not at.error, f"{page}: {[e.value for e in at.error]}"


FIRST_DAY = date.fromisoformat(DAYS[0])
LAST_DAY = date.fromisoformat(DAYS[-1])
