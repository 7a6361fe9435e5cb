"""docs/own-cell.md runs as written: its YAML files are written and its commands run, in order, in a new folder."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.physics

PAGE = Path(__file__).resolve().parents[2] / "docs" / "own-cell.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def blocks(text: str) -> list[tuple[str, str]]:
    """The page's fenced blocks: (language, body), in order."""
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(text)]


def test_the_page_has_files_and_commands():
    found = blocks(PAGE.read_text(encoding="utf-8"))
    assert sum(lang == "yaml" for lang, _ in found) >= 3
    assert sum(body.count("twin ") for lang, body in found if lang == "bash") >= 10


def test_own_cell_tutorial_runs(tmp_path):
    twin = Path(sys.executable).parent / "twin"
    for lang, body in blocks(PAGE.read_text(encoding="utf-8")):
        if lang == "yaml":
            first, _, rest = body.partition("\n")
            assert first.startswith("# file: "), f"a YAML block of {PAGE.name} names no file: {first!r}"
            path = tmp_path / first.removeprefix("# file: ").strip()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(rest, encoding="utf-8")
        elif lang == "bash":
            for line in body.splitlines():
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                args = shlex.split(line)
                assert args[0] == "twin", f"{PAGE.name}: only twin commands run here: {line}"
                done = subprocess.run([str(twin), *args[1:]], cwd=tmp_path, capture_output=True, text=True)
                assert done.returncode == 0, f"{line}\n{done.stderr[-3000:]}"
    assert (tmp_path / "cell.png").stat().st_size > 1000
    assert (tmp_path / "report" / "report.html").is_file()
