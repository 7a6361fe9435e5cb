"""URDF files loaded the way the hardware is: frames without ``<inertial>`` weigh nothing, meshes resolve or say why.

pybullet gives every link without an ``<inertial>`` tag a mass of 1 kg and a 1 kg·m² diagonal inertia,
also with ``URDF_USE_INERTIA_FROM_FILE``, and says nothing. URDFs from ROS packages and CAD exporters leave
such tags off frames that are not bodies (``base_link``, ``flange``, ``tool0``, ``world``), so the arm then
carries phantom kilograms: on a UR10e that is why the URDF torques came out about 1.4x the drives'.
:func:`prepare_urdf` writes a copy in which those links are explicitly massless and inertia-less (zero
mass, zero inertia: a frame), with every mesh path made absolute and ``package://`` URIs resolved against
the package folders given (as ``ROS_PACKAGE_PATH`` does), and checks that every mesh file exists, so a URDF
that cannot be loaded names its cause instead of pybullet's "Cannot load URDF file.".

The copy lives in the cache folder under the content hash of what it holds; a URDF that needs no change
is loaded as it is.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from xml.etree import ElementTree

from twin.errors import AssetError
from twin.paths import cache_dir

log = logging.getLogger(__name__)

PACKAGE_PREFIX = "package://"
FILE_PREFIX = "file://"


@contextmanager
def quiet_native_stdout() -> Iterator[None]:
    """Silence C-level stdout (pybullet's URDF importer prints ``b3Warning`` lines there) so ``--json`` stays clean."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real stdout (embedded); nothing to protect
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


@dataclass(frozen=True)
class UrdfOptions:
    """How robot URDFs are loaded (``--package-path``, ``--keep-default-mass``).

    Attributes:
        package_paths: Folders in which ``package://`` mesh URIs are looked up.
        keep_default_mass: Leave links without ``<inertial>`` at pybullet's 1 kg (today's behaviour elsewhere).
    """

    package_paths: tuple[Path, ...] = ()
    keep_default_mass: bool = False

    def prepare(self, urdf: str | Path) -> PreparedUrdf:
        """:func:`prepare_urdf` with these options."""
        return prepare_urdf(urdf, package_paths=self.package_paths, keep_default_mass=self.keep_default_mass)


@dataclass(frozen=True)
class PreparedUrdf:
    """A URDF ready for pybullet.

    Attributes:
        source: The URDF as given.
        path: The file to load: ``source`` itself when nothing had to change, else the rewritten copy.
        massless_links: Links that had no ``<inertial>`` and were made massless (empty with
            ``keep_default_mass``).
    """

    source: Path
    path: Path
    massless_links: tuple[str, ...]


def _zero_inertial() -> ElementTree.Element:
    inertial = ElementTree.Element("inertial")
    ElementTree.SubElement(inertial, "origin", xyz="0 0 0", rpy="0 0 0")
    ElementTree.SubElement(inertial, "mass", value="0")
    ElementTree.SubElement(inertial, "inertia", ixx="0", ixy="0", ixz="0", iyy="0", iyz="0", izz="0")
    return inertial


def resolve_mesh(filename: str, urdf: Path, package_paths: Iterable[Path], link: str) -> Path:
    """The file a URDF's mesh reference names: relative to the URDF, absolute, or in a ROS package.

    ``package://<package>/<rest>`` is looked up as ``<dir>/<package>/<rest>`` for each package folder and as
    ``<dir>/<rest>`` when the folder is the package itself (its name is ``<package>``); then beside the URDF
    (``<urdf dir>/<package>/<rest>``, pybullet's own rule) and in the folder named ``<package>`` that holds the
    URDF (a URDF inside its ROS package).

    Raises:
        AssetError: The file is missing, or a ``package://`` URI resolves in none of the folders (the message
            names the URI, the link and the folders searched, and ``--package-path``).
    """
    folders = [Path(p) for p in package_paths]
    if filename.startswith(PACKAGE_PREFIX):
        package, _, rest = filename.removeprefix(PACKAGE_PREFIX).partition("/")
        candidates = [d / package / rest for d in folders] + [d / rest for d in folders if d.name == package]
        candidates.append(urdf.parent / package / rest)
        candidates += [up / rest for up in urdf.resolve().parents if up.name == package]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            where = ", ".join(str(d) for d in folders) or "none given"
            raise AssetError(
                f"{urdf}: link {link}: mesh {filename} is in ROS package {package!r}, found in no package folder "
                f"(searched: {where}); give the folder that holds {package}/ with --package-path DIR"
            )
        return found.resolve()
    path = Path(filename.removeprefix(FILE_PREFIX))
    path = path if path.is_absolute() else urdf.parent / path
    if not path.is_file():
        raise AssetError(f"{urdf}: link {link}: mesh file {path} not found")
    return path.resolve()


def links_without_inertial(urdf: str | Path) -> tuple[str, ...]:
    """The links of a URDF that have no ``<inertial>`` tag (none when the file cannot be read: loading says why)."""
    try:
        root = ElementTree.parse(urdf).getroot()
    except (OSError, ElementTree.ParseError):
        return ()
    return tuple(link.get("name", "?") for link in root.iter("link") if link.find("inertial") is None)


def prepare_urdf(
    urdf: str | Path,
    *,
    package_paths: Iterable[str | Path] = (),
    keep_default_mass: bool = False,
) -> PreparedUrdf:
    """A URDF as pybullet should load it (see the module docstring).

    Args:
        urdf: The URDF file.
        package_paths: Folders in which ``package://`` mesh URIs are looked up.
        keep_default_mass: Leave links without ``<inertial>`` as pybullet treats them (1 kg each).

    Returns:
        The file to load and the links made massless (logged once per URDF and process).

    Raises:
        AssetError: The file is missing or not valid XML, or a mesh cannot be found (:func:`resolve_mesh`).
    """
    source = Path(urdf)
    if not source.is_file():
        raise AssetError(f"URDF {source} not found")
    try:
        tree = ElementTree.parse(source)
    except ElementTree.ParseError as exc:
        raise AssetError(f"{source}: not a valid URDF (XML error: {exc})") from exc
    root = tree.getroot()
    folders = tuple(Path(p) for p in package_paths)
    changed = False  # a copy is needed (it lives elsewhere, so then every mesh path is written absolute)
    meshes: list[tuple[ElementTree.Element, str]] = []
    massless: list[str] = []
    for link in root.iter("link"):
        name = link.get("name", "?")
        for mesh in link.iter("mesh"):
            filename = mesh.get("filename", "")
            if not filename:
                continue
            resolved = resolve_mesh(filename, source, folders, name)
            meshes.append((mesh, str(resolved)))
            # pybullet itself reads a relative path, or a package:// URI, beside the URDF: anything else needs a copy
            own = source.parent / filename.removeprefix(PACKAGE_PREFIX).removeprefix(FILE_PREFIX)
            changed = changed or not (own.is_file() and own.resolve() == resolved)
        if link.find("inertial") is None and not keep_default_mass:
            link.insert(0, _zero_inertial())
            massless.append(name)
            changed = True
    if massless:
        _report_massless(source.resolve(), tuple(massless))
    if not changed:
        return PreparedUrdf(source, source, ())
    for mesh, resolved in meshes:
        mesh.set("filename", resolved)
    text = ElementTree.tostring(root, encoding="unicode")
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    folder = cache_dir() / "urdf"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{source.stem}-{digest}.urdf"
    if not target.is_file():
        scratch = target.with_suffix(f".{digest}.tmp")
        scratch.write_text(text)
        scratch.replace(target)  # atomic: a parallel worker never reads half a file
    return PreparedUrdf(source, target, tuple(massless))


@cache
def _report_massless(source: Path, links: tuple[str, ...]) -> None:
    """Say once per URDF and process which links were made massless (a log line on stderr)."""
    log.warning(
        "%s: %d link(s) without <inertial> loaded massless: %s (pybullet would give each 1 kg; "
        "--keep-default-mass keeps that)",
        source.name,
        len(links),
        ", ".join(links),
    )
