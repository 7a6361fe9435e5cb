"""Build step beyond pyproject.toml: compile the production simulation with Cython (optional).

``twin/sim/model.py`` stays plain Python. A copy of it, with the SHA-256 of the source appended, is
compiled into ``twin.sim._model_compiled``; :mod:`twin.sim.engine` runs that build only while the hash
matches the source on disk. Without a C compiler the extension is skipped and the package runs interpreted.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

SOURCE = Path("twin/sim/model.py")
COPY = Path("build/cython/twin/sim/_model_compiled.py")


def compiled_model() -> list[Extension]:
    """The Cython extension of the model, or none when Cython is missing."""
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    COPY.parent.mkdir(parents=True, exist_ok=True)
    COPY.write_text(SOURCE.read_text() + f'\nSOURCE_SHA256 = "{digest}"\n')
    extensions = cythonize(
        [Extension("twin.sim._model_compiled", [str(COPY)])], language_level=3, quiet=True, build_dir="build/cython"
    )
    for extension in extensions:  # a failed compile leaves the interpreted model, not a failed install
        extension.optional = True
    return extensions


setup(ext_modules=compiled_model())
