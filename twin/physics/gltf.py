"""The cell as a glTF 2.0 scene (``twin cell render --out cell.glb``): robots at home, stations and parts in place.

Every visual shape pybullet loaded from the cell's URDFs becomes one mesh node named ``<body>/<link>/<n>``,
at the pose the physics world has it, in metres. glTF's up axis is +Y: the cell's z-up world is turned by
−90° about x at the root (``x, y, z -> x, z, -y``), so viewers and Blender's importer stand it upright.
Meshes are read with trimesh (OBJ, STL; a mesh trimesh cannot read is left out with a log line),
primitives are made by it, colours are the URDF's. The file opens in Blender or any glTF viewer.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pybullet as pb
from numpy.typing import NDArray

from twin.cell.spec import CellSpec
from twin.errors import AssetError
from twin.physics.build import CellWorld

log = logging.getLogger(__name__)

Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
"""The root transform from the cell's z-up world to glTF's y-up: ``(x, y, z) -> (x, z, -y)``."""


def _matrix(position: Any, orientation: Any) -> NDArray[np.float64]:
    out = np.eye(4)
    out[:3, :3] = np.asarray(pb.getMatrixFromQuaternion(orientation)).reshape(3, 3)
    out[:3, 3] = position
    return out


def _link_frame(client: int, body: int, link: int) -> NDArray[np.float64]:
    """World pose of a link's URDF frame (the base's too: pybullet keeps bodies at their inertial frame)."""
    if link >= 0:
        state = pb.getLinkState(body, link, computeForwardKinematics=True, physicsClientId=client)
        return _matrix(state[4], state[5])
    position, orientation = pb.getBasePositionAndOrientation(body, physicsClientId=client)
    inertial = pb.getDynamicsInfo(body, -1, physicsClientId=client)
    return _matrix(position, orientation) @ np.linalg.inv(_matrix(inertial[3], inertial[4]))


def _geometry(shape: tuple[Any, ...]) -> Any:
    """The trimesh of one visual shape in its local visual frame (None when it cannot be made)."""
    import trimesh

    kind, dimensions, filename = shape[2], shape[3], shape[4].decode() if shape[4] else ""
    if kind == pb.GEOM_MESH:
        try:
            mesh = trimesh.load(filename, force="mesh")
        except (OSError, ValueError) as exc:
            log.info("glTF: mesh %s left out (%s)", filename, exc)
            return None
        mesh.apply_scale(np.asarray(dimensions, dtype=float))
        return mesh
    if kind == pb.GEOM_BOX:
        return trimesh.creation.box(extents=np.asarray(dimensions, dtype=float))
    if kind == pb.GEOM_SPHERE:
        return trimesh.creation.icosphere(radius=float(dimensions[0]))
    if kind == pb.GEOM_CYLINDER:
        return trimesh.creation.cylinder(radius=float(dimensions[1]), height=float(dimensions[0]))
    if kind == pb.GEOM_CAPSULE:
        return trimesh.creation.capsule(radius=float(dimensions[1]), height=float(dimensions[0]))
    return None


def cell_scene(cell: CellSpec) -> Any:
    """The cell's trimesh scene: one node per visual shape, named ``<body>/<link>``.

    Raises:
        AssetError: No visual shape could be made (nothing to write).
    """
    import trimesh

    scene = trimesh.Scene()
    with CellWorld.from_cell(cell, with_parts=True) as world:
        client = world.client
        names = {body: name for name, body in world.bodies.items()}
        names.update({body: f"part:{name}" for name, body in world.part_bodies.items()})
        for body, body_name in names.items():
            links = {-1: "base"} | {
                j: pb.getJointInfo(body, j, physicsClientId=client)[12].decode()
                for j in range(pb.getNumJoints(body, physicsClientId=client))
            }
            for index, shape in enumerate(pb.getVisualShapeData(body, physicsClientId=client)):
                mesh = _geometry(shape)
                if mesh is None or mesh.is_empty:
                    continue
                mesh.visual = trimesh.visual.ColorVisuals(mesh, face_colors=np.asarray(shape[7]) * 255)
                pose = _link_frame(client, body, shape[1]) @ _matrix(shape[5], shape[6])
                scene.add_geometry(
                    mesh, node_name=f"{body_name}/{links[shape[1]]}/{index}", geom_name=f"{body_name}-{index}",
                    transform=pose,
                )  # fmt: skip
    if not scene.geometry:
        raise AssetError(f"cell {cell.cell.id}: no visual shape could be turned into a mesh")
    scene.apply_transform(Z_UP_TO_Y_UP)
    return scene


def write_cell_gltf(cell: CellSpec, path: str | Path) -> Path:
    """Write the cell as a binary glTF 2.0 file (``.glb``) and return it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(cell_scene(cell).export(file_type="glb"))
    return target
