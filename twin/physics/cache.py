"""Physics results cached by the content hash of their inputs.

A result is a small JSON document (duration, energy, peak power, clearance, feasibility, end
configuration) plus, optionally, the sampled trace as a compressed ``.npz`` beside it. Writes go to a
temporary file renamed into place, so a crash never leaves a half-written entry. Whole-cell plans
(:class:`twin.physics.plan.CellPlan`) live under ``plans/<content hash>/``, read and written by
:mod:`twin.physics.plan`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twin.paths import cache_dir

CACHE_VERSION = "physics-v2"


def _model_fingerprint() -> str:
    """Hash of the physics model's source: a changed model never serves results of the old one."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in ("evaluate.py", "robot.py", "trajectory.py", "power.py", "build.py"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


MODEL_FINGERPRINT = _model_fingerprint()


def content_hash(payload: Any) -> str:
    """SHA-256 of a JSON-serialisable payload in canonical form (sorted keys, fixed float repr)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_default)
    return hashlib.sha256(f"{CACHE_VERSION}/{MODEL_FINGERPRINT}\n{text}".encode()).hexdigest()


def file_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes (URDFs are part of an operation's inputs)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not hashable as JSON: {type(value).__name__}")


class PhysicsCache:
    """A two-level cache: in memory, and on disk under ``<cache_dir>/physics``."""

    def __init__(self, root: Path | None = None, persist: bool = True) -> None:
        """Use ``root`` (default ``data/cache/physics``); ``persist=False`` keeps it in memory only."""
        self.root = (root or cache_dir()) / "physics"
        self.persist = persist
        self._memory: dict[str, dict[str, Any]] = {}
        self.plans: dict[str, Any] = {}  # content hash -> CellPlan, kept by twin.physics.plan
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached result for ``key``, or None."""
        if key in self._memory:
            self.hits += 1
            return self._memory[key]
        if self.persist:
            path = self.root / f"{key}.json"
            try:
                result = json.loads(path.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                result = None
            if result is not None:
                self._memory[key] = result
                self.hits += 1
                return result
        self.misses += 1
        return None

    def put(self, key: str, result: dict[str, Any], trace: dict[str, NDArray[np.float64]] | None = None) -> None:
        """Store a result (and its trace) atomically."""
        self._memory[key] = result
        if not self.persist:
            if trace is not None:
                self._memory[key + ".trace"] = {k: np.asarray(v) for k, v in trace.items()}  # type: ignore[assignment]
            return
        self.root.mkdir(parents=True, exist_ok=True)
        if trace is not None:
            self._atomic_write(self.root / f"{key}.npz", lambda f: np.savez_compressed(f, **trace))
        self._atomic_write(self.root / f"{key}.json", lambda f: f.write(json.dumps(result).encode()))

    def plan_dir(self, key: str) -> Path:
        """The folder of the whole-cell plan stored under ``key``."""
        return self.root / "plans" / key

    def trace(self, key: str) -> dict[str, NDArray[np.float64]] | None:
        """The sampled trace stored with ``key``, or None."""
        if not self.persist:
            return self._memory.get(key + ".trace")  # type: ignore[return-value]
        path = self.root / f"{key}.npz"
        if not path.exists():
            return None
        with np.load(path) as data:
            return {name: data[name] for name in data.files}

    @staticmethod
    def _atomic_write(path: Path, write: Any) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
