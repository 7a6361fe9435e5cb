"""Which build of the production model runs: Cython's compiled copy when it is current, else the source.

``pip install`` compiles ``twin/sim/model.py`` with Cython into ``twin.sim._model_compiled`` (see
``setup.py``; 1.3-1.7x faster, the same results to the bit). The build is optional: without a C compiler
the package installs and runs the same source interpreted. The compiled copy carries the SHA-256 of the
source it was built from, so an edited ``model.py`` runs interpreted until the next install instead of a
stale build running silently. ``CELLTWIN_INTERPRETED=1`` forces the source.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path
from types import ModuleType

from twin.sim import model

COMPILED_MODULE = "twin.sim._model_compiled"


def source_sha256() -> str:
    """SHA-256 of ``twin/sim/model.py`` as it is on disk."""
    return hashlib.sha256(Path(model.__file__).read_bytes()).hexdigest()


def select_build() -> tuple[ModuleType, str]:
    """The module to run the model from, and why: ``compiled`` or ``interpreted (<reason>)``."""
    if os.environ.get("CELLTWIN_INTERPRETED"):
        return model, "interpreted (CELLTWIN_INTERPRETED is set)"
    try:
        compiled = importlib.import_module(COMPILED_MODULE)
    except ImportError:
        return model, "interpreted (no compiled build: pip install needs a C compiler to make one)"
    if getattr(compiled, "SOURCE_SHA256", None) != source_sha256():
        return model, "interpreted (the compiled build is older than model.py: reinstall to rebuild it)"
    return compiled, "compiled"


MODULE, BUILD = select_build()
ProductionModel = MODULE.ProductionModel
