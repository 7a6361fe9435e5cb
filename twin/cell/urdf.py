"""Joint limits read straight from a URDF file (xml.etree; no simulator imported).

The telemetry contract numbers joints from 1 in the URDF's movable-joint order (SPEC.md, "Figures"),
so ``q_1..q_n`` of a robot are exactly the movable joints this module lists, in file order.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from twin.cell.spec import RobotSpec
from twin.errors import AssetError
from twin.paths import ASSETS_DIR

MOVABLE_TYPES = ("revolute", "continuous", "prismatic")
PYBULLET_DATA_PREFIX = "pybullet_data:"


@dataclass(frozen=True)
class JointLimit:
    """One movable joint: its name, type and position limits (rad, or m for a prismatic joint).

    An unlimited joint (``continuous``, or a URDF whose lower limit exceeds its upper one, which
    Bullet also reads as "no limit") has ``lower = -inf`` and ``upper = +inf``.
    """

    name: str
    type: str
    lower: float
    upper: float

    @property
    def is_limited(self) -> bool:
        """True when the joint has finite position limits."""
        return math.isfinite(self.lower) and math.isfinite(self.upper)

    @property
    def unit(self) -> str:
        """``m`` for a prismatic joint, else ``rad``."""
        return "m" if self.type == "prismatic" else "rad"


def movable_joints(urdf_path: str | Path) -> list[JointLimit]:
    """The movable joints of a URDF in file order, with their position limits.

    Args:
        urdf_path: The URDF file.

    Returns:
        One :class:`JointLimit` per revolute, continuous or prismatic joint, in URDF order.

    Raises:
        AssetError: The file is missing or is not a URDF.

    >>> import tempfile, os
    >>> text = '<robot name="r"><joint name="a" type="revolute"><limit lower="-1" upper="1"/></joint>'
    >>> text += '<joint name="f" type="fixed"/><joint name="c" type="continuous"/></robot>'
    >>> with tempfile.NamedTemporaryFile("w", suffix=".urdf", delete=False) as fh:
    ...     _ = fh.write(text)
    >>> [(j.name, j.lower, j.upper) for j in movable_joints(fh.name)]
    [('a', -1.0, 1.0), ('c', -inf, inf)]
    >>> os.unlink(fh.name)
    """
    path = Path(urdf_path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError as exc:
        raise AssetError(f"{path}: URDF not found") from exc
    except (ET.ParseError, OSError) as exc:
        raise AssetError(f"{path}: not a readable URDF ({exc})") from exc
    if root.tag != "robot":
        raise AssetError(f"{path}: not a URDF (root element <{root.tag}>, expected <robot>)")
    joints = []
    for joint in root.iter("joint"):
        kind = joint.get("type", "")
        if kind not in MOVABLE_TYPES:
            continue
        lower, upper = -math.inf, math.inf
        limit = joint.find("limit")
        if kind != "continuous" and limit is not None:
            try:
                lo, hi = float(limit.get("lower", "0")), float(limit.get("upper", "0"))
            except ValueError as exc:
                raise AssetError(f"{path}: joint {joint.get('name')!r} has a non-numeric limit") from exc
            if lo <= hi:
                lower, upper = lo, hi
        joints.append(JointLimit(joint.get("name", f"joint_{len(joints) + 1}"), kind, lower, upper))
    return joints


def robot_joint_limits(robot: RobotSpec) -> list[JointLimit]:
    """The movable joints of a cell robot (its resolved ``urdf_path``, else its ``urdf`` reference).

    Args:
        robot: A robot of a loaded cell.

    Returns:
        The robot's movable joints in URDF order.

    Raises:
        AssetError: The URDF is missing or unreadable.
    """
    if robot.urdf_path is not None:
        return movable_joints(robot.urdf_path)
    return movable_joints(resolve_asset(robot.urdf, ASSETS_DIR))


def resolve_asset(reference: str, base_dir: Path) -> Path:
    """Resolve ``pybullet_data:<path>``, a path relative to ``base_dir`` or the assets folder, or an absolute path."""
    if reference.startswith(PYBULLET_DATA_PREFIX):
        import pybullet_data  # data-only package: no simulator is imported

        return Path(pybullet_data.getDataPath()) / reference[len(PYBULLET_DATA_PREFIX) :]
    path = Path(reference)
    if path.is_absolute():
        return path
    for root in (base_dir, ASSETS_DIR):
        candidate = root / path
        if candidate.exists():
            return candidate
    return ASSETS_DIR / path
