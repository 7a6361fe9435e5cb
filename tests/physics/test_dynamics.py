"""Batched RNEA gives pybullet's inverse dynamics on every shipped robot, in its cell, payload included."""

from __future__ import annotations

import numpy as np
import pybullet as pb
import pytest
from pybullet_reference import pybullet_inverse_dynamics, urdf_with_payload

from twin.cell.load import load_cell
from twin.paths import CELLS_DIR
from twin.physics.build import CellWorld
from twin.physics.dynamics import RigidBodyModel, rpy_matrix
from twin.physics.urdf import prepare_urdf

pytestmark = pytest.mark.physics

CELLS = ("microfactory-v2.yaml", "hinge-press-v1.yaml")


def pybullet_with_payload(handle, world, kg: float, q, qd, qdd, folder):
    """pybullet's answer for the robot with ``kg`` on its mount link: a copy of its URDF loaded with the mass."""
    prepared = handle.urdf_options.prepare(handle.urdf_path).path
    urdf = urdf_with_payload(prepared, handle.tool_mount_link_name, kg, folder / f"{handle.name}-{kg}.urdf")
    position, orientation = pb.getBasePositionAndOrientation(handle.body, physicsClientId=world.client)
    body = pb.loadURDF(
        str(urdf),
        position,
        orientation,
        useFixedBase=True,
        flags=pb.URDF_USE_INERTIA_FROM_FILE,
        physicsClientId=world.client,
    )
    return pybullet_inverse_dynamics(world.client, body, q, qd, qdd)


@pytest.mark.parametrize("cell_file", CELLS)
def test_every_shipped_robot_matches_pybullet(cell_file, tmp_path):
    cell = load_cell(CELLS_DIR / cell_file)
    rng = np.random.default_rng(7)
    with CellWorld.from_cell(cell) as world:
        for robot_id, handle in world.robots.items():
            n = handle.n_dof
            q, qd, qdd = rng.normal(0, 1.0, (60, n)), rng.normal(0, 2.0, (60, n)), rng.normal(0, 5.0, (60, n))
            for kg in (0.0, cell.robots[robot_id].tool.mass_kg + 0.75):
                handle.set_payload(kg)
                ours = handle.inverse_dynamics(q, qd, qdd)
                reference = pybullet_with_payload(handle, world, kg, q, qd, qdd, tmp_path)
                assert np.abs(ours - reference).max() < 1e-9, (robot_id, kg)
            handle.set_payload(0.0)


def test_a_tilted_base_turns_gravity():
    """A wall-mounted robot feels gravity sideways. pybullet's inverse dynamics ignores a fixed base's orientation,
    so the reference is the same robot upright under gravity turned into its base frame."""
    cell = load_cell()
    rotation = rpy_matrix((np.pi / 2, 0.0, 0.0))
    with CellWorld.from_cell(cell) as world:
        handle = next(iter(world.robots.values()))
        urdf = str(handle.urdf_options.prepare(handle.urdf_path).path)
        model = RigidBodyModel(urdf)
        rng = np.random.default_rng(3)
        n = handle.n_dof
        q, qd, qdd = rng.normal(0, 1.0, (20, n)), rng.normal(0, 1.0, (20, n)), rng.normal(0, 1.0, (20, n))
        upright = model.inverse_dynamics(q, qd, qdd)
        on_wall = model.inverse_dynamics(q, qd, qdd, base_rotation=rotation)
        client = pb.connect(pb.DIRECT)
        try:
            pb.setGravity(*(rotation.T @ np.array([0.0, 0.0, -9.81])), physicsClientId=client)
            body = pb.loadURDF(urdf, useFixedBase=True, flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=client)
            reference = pybullet_inverse_dynamics(client, body, q, qd, qdd)
        finally:
            pb.disconnect(client)
    assert np.abs(on_wall - reference).max() < 1e-9
    assert np.abs(on_wall - upright).max() > 1.0  # gravity now loads other joints


@pytest.mark.realdata
def test_the_real_robots_urdfs_match_pybullet(realdata):
    """The URDFs of the real logs (UR e-series and CB3 with massless frames, the Gaz 2019 Panda)."""
    urdfs = sorted((realdata / "urdf").glob("*/urdf/*_pybullet.urdf"))
    assert urdfs
    rng = np.random.default_rng(11)
    client = pb.connect(pb.DIRECT)
    try:
        pb.setGravity(0, 0, -9.81, physicsClientId=client)
        for urdf in urdfs:
            prepared = prepare_urdf(urdf).path
            body = pb.loadURDF(
                str(prepared), useFixedBase=True, flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=client
            )
            model = RigidBodyModel(prepared)
            q, qd, qdd = (rng.normal(0, 1.0, (40, model.n_dof)) for _ in range(3))
            reference = pybullet_inverse_dynamics(client, body, q, qd, qdd)
            assert np.abs(model.inverse_dynamics(q, qd, qdd) - reference).max() < 1e-9, urdf.name
    finally:
        pb.disconnect(client)
