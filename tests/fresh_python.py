"""Python code run in a fresh interpreter from the repository root: for tests of what importing loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def assert_runs(code: str) -> str:
    """Run ``code`` with ``python -c`` from the repository root; fail with the end of its stderr unless it exits 0.

    Returns:
        What it printed on stdout.
    """
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout
