"""``twin cell render --out cell.glb``: the cell as glTF 2.0, standing upright where pybullet has it."""

from __future__ import annotations

import json

import numpy as np
import pybullet as pb
import pytest

from twin.cell.load import load_cell
from twin.cli import main
from twin.paths import CELLS_DIR
from twin.physics.build import CellWorld
from twin.physics.gltf import Z_UP_TO_Y_UP

pytestmark = pytest.mark.physics

CELLS = ("microfactory-v2.yaml", "hinge-press-v1.yaml")


def pybullet_bounds(cell) -> np.ndarray:
    """The union of pybullet's world AABBs of every body and link (z up)."""
    with CellWorld.from_cell(cell, with_parts=True) as world:
        boxes = [
            pb.getAABB(body, link, physicsClientId=world.client)
            for body in [*world.bodies.values(), *world.part_bodies.values()]
            for link in range(-1, pb.getNumJoints(body, physicsClientId=world.client))
        ]
    return np.array([np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)])


@pytest.mark.parametrize("cell_file", CELLS)
def test_the_cell_as_gltf(cell_file, tmp_path, capsys):
    import trimesh
    from pygltflib import GLTF2

    path = CELLS_DIR / cell_file
    cell = load_cell(path)
    out = tmp_path / "cell.glb"
    assert main(["cell", "render", "--cell", str(path), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "glb" and report["out"] == str(out) and report["width"] is None

    gltf = GLTF2().load_binary(str(out))  # a valid binary glTF 2.0 container, its chunks parsed
    assert gltf.asset.version == "2.0" and gltf.scenes and gltf.meshes
    names = [n.name or "" for n in gltf.nodes]
    for body in [*cell.robots, *cell.stations]:
        assert any(name.startswith(f"{body}/") for name in names), body  # every robot and station, by id
    blob = gltf.binary_blob()
    for accessor in gltf.accessors:  # every accessor lies inside its buffer view, inside the binary chunk
        view = gltf.bufferViews[accessor.bufferView]
        assert view.byteOffset + view.byteLength <= len(blob)
    positions = [gltf.accessors[p.attributes.POSITION] for m in gltf.meshes for p in m.primitives]
    assert positions and all(a.min is not None and a.max is not None for a in positions)

    # round trip: read back, turned back to z up, it stands where pybullet has the cell
    scene = trimesh.load(str(out))
    corners = trimesh.bounds.corners(scene.bounds)
    back = trimesh.transform_points(corners, np.linalg.inv(Z_UP_TO_Y_UP))
    bounds = np.array([back.min(axis=0), back.max(axis=0)])
    assert np.abs(bounds - pybullet_bounds(cell)).max() < 0.01
    assert scene.bounds[1][1] > 0.5  # y is up in the file: the robots stand along +y


def test_an_unknown_picture_format_is_one_clear_error(tmp_path, capsys):
    assert main(["cell", "render", "--out", str(tmp_path / "cell.obj")]) != 0
    assert "give a .png file (a picture) or a .glb file" in capsys.readouterr().err
