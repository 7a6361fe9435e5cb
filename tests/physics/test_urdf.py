"""URDFs loaded as the hardware is: frames without ``<inertial>`` are massless, meshes resolve or say why."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pybullet as pb
import pytest
from pybullet_reference import pybullet_inverse_dynamics, urdf_with_payload

from twin.cli import main
from twin.errors import AssetError
from twin.physics.dynamics import RigidBodyModel
from twin.physics.urdf import UrdfOptions, links_without_inertial, prepare_urdf

pytestmark = pytest.mark.physics

FRAMES = ("world", "base_link", "tool0")

INERTIAL = """<inertial><origin xyz="{com}" rpy="0 0 0"/><mass value="{mass}"/>
      <inertia ixx="{i}" ixy="0" ixz="0" iyy="{i}" iyz="0" izz="{i}"/></inertial>"""


def arm_urdf(frames: str, mesh: str = "") -> str:
    """A two-link arm on a ``world``/``base_link`` frame pair with a ``tool0`` frame at its end.

    ``frames`` is what the three frames carry (nothing, or an explicit zero-mass ``<inertial>``); ``mesh``
    an optional collision mesh of the first link.
    """
    geometry = f'<collision><geometry><mesh filename="{mesh}"/></geometry></collision>' if mesh else ""
    link1 = INERTIAL.format(com="0 0 0.2", mass=3.0, i=0.05)
    link2 = INERTIAL.format(com="0.2 0 0", mass=2.0, i=0.02)
    return f"""<?xml version="1.0"?>
<robot name="arm">
  <link name="world">{frames}</link>
  <link name="base_link">{frames}</link>
  <joint name="world_base" type="fixed"><parent link="world"/><child link="base_link"/></joint>
  <link name="link1">{link1}{geometry}</link>
  <joint name="j1" type="revolute"><parent link="base_link"/><child link="link1"/>
    <origin xyz="0 0 0.1"/><axis xyz="0 0 1"/><limit lower="-3" upper="3" effort="100" velocity="2"/></joint>
  <link name="link2">{link2}</link>
  <joint name="j2" type="revolute"><parent link="link1"/><child link="link2"/>
    <origin xyz="0 0 0.4"/><axis xyz="0 1 0"/><limit lower="-3" upper="3" effort="100" velocity="2"/></joint>
  <link name="tool0">{frames}</link>
  <joint name="flange" type="fixed"><parent link="link2"/><child link="tool0"/><origin xyz="0.4 0 0"/></joint>
</robot>
"""


def torques(path: Path, q, qd, qdd) -> tuple[np.ndarray, list[float]]:
    client = pb.connect(pb.DIRECT)
    try:
        pb.setGravity(0, 0, -9.81, physicsClientId=client)
        body = pb.loadURDF(str(path), useFixedBase=True, flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=client)
        n = pb.getNumJoints(body, physicsClientId=client)
        masses = [pb.getDynamicsInfo(body, j, physicsClientId=client)[0] for j in range(-1, n)]  # world .. tool0
        return pybullet_inverse_dynamics(client, body, q, qd, qdd), masses
    finally:
        pb.disconnect(physicsClientId=client)


@pytest.fixture
def urdfs(tmp_path, monkeypatch):
    monkeypatch.setenv("TWIN_CACHE_DIR", str(tmp_path / "cache"))
    bare = tmp_path / "bare.urdf"
    bare.write_text(arm_urdf(""))
    written = tmp_path / "written.urdf"  # the same arm with its frames written massless by hand
    written.write_text(arm_urdf(INERTIAL.format(com="0 0 0", mass=0, i=0)))
    return bare, written


def test_frames_without_inertial_weigh_nothing(urdfs, caplog):
    bare, written = urdfs
    rng = np.random.default_rng(4)
    q, qd, qdd = (rng.normal(0, 1.0, (40, 2)) for _ in range(3))
    assert links_without_inertial(bare) == FRAMES and links_without_inertial(written) == ()
    with caplog.at_level(logging.WARNING, logger="twin.physics.urdf"):
        prepared = prepare_urdf(bare)
        prepare_urdf(bare)  # said once per URDF and process
    assert prepared.massless_links == FRAMES and prepared.path != bare
    lines = [r.getMessage() for r in caplog.records if "massless" in r.getMessage()]
    assert len(lines) == 1 and all(name in lines[0] for name in FRAMES) and "--keep-default-mass" in lines[0]
    ours, masses = torques(prepared.path, q, qd, qdd)
    by_hand, _ = torques(written, q, qd, qdd)
    assert np.allclose(ours, by_hand, rtol=0, atol=1e-9)  # the same torques as the frames written massless
    assert masses[0] == masses[1] == masses[-1] == 0.0  # pybullet reports world, base_link and tool0 massless
    # pybullet's default: 1 kg on tool0, 0.4 m out, loads the elbow by ~1 kg x 9.81 m/s² x lever arm
    default = prepare_urdf(bare, keep_default_mass=True)
    assert default.path == bare and default.massless_links == ()
    heavy, heavy_masses = torques(default.path, q, qd, qdd)
    assert heavy_masses[-1] == pytest.approx(1.0)
    assert np.abs(heavy[:, 1] - ours[:, 1]).max() > 1.0
    # a URDF that needs no change is loaded as it is
    assert prepare_urdf(written).path == written


def test_payload_on_a_massless_frame(urdfs, tmp_path):
    """A payload on a frame without <inertial> is its own mass alone, at the frame's origin."""
    bare, _ = urdfs
    prepared = prepare_urdf(bare).path
    model = RigidBodyModel(prepared)
    rng = np.random.default_rng(5)
    q, qd, qdd = (rng.normal(0, 1.0, (10, 2)) for _ in range(3))
    base, _ = torques(prepared, q, qd, qdd)
    loaded, masses = torques(urdf_with_payload(prepared, "tool0", 2.0, tmp_path / "heavier.urdf"), q, qd, qdd)
    assert masses[-1] == pytest.approx(2.0) and np.abs(loaded[:, 1] - base[:, 1]).max() > 1.0
    assert np.abs(model.with_payload("tool0", 2.0).inverse_dynamics(q, qd, qdd) - loaded).max() < 1e-9
    assert np.abs(model.inverse_dynamics(q, qd, qdd) - base).max() < 1e-9  # the unloaded model is untouched
    with pytest.raises(AssetError, match="no link 'flange_link'"):
        model.with_payload("flange_link", 1.0)


def test_meshes_resolve_or_say_why(tmp_path, monkeypatch):
    monkeypatch.setenv("TWIN_CACHE_DIR", str(tmp_path / "cache"))
    package = tmp_path / "ros" / "my_robot" / "meshes"
    package.mkdir(parents=True)
    (package / "link1.obj").write_text("v 0 0 0\nv 0.1 0 0\nv 0 0.1 0\nv 0 0 0.1\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n")
    urdf = tmp_path / "robot" / "arm.urdf"
    urdf.parent.mkdir()
    urdf.write_text(arm_urdf("", mesh="package://my_robot/meshes/link1.obj"))
    with pytest.raises(AssetError) as missing_package:
        prepare_urdf(urdf)
    message = str(missing_package.value)
    assert "package://my_robot/meshes/link1.obj" in message and "link1" in message and "--package-path" in message
    prepared = UrdfOptions(package_paths=(tmp_path / "ros",)).prepare(urdf)
    assert str((package / "link1.obj").resolve()) in prepared.path.read_text()
    client = pb.connect(pb.DIRECT)
    try:
        assert pb.loadURDF(str(prepared.path), useFixedBase=True, physicsClientId=client) >= 0
    finally:
        pb.disconnect(physicsClientId=client)
    # the package folder itself works too, as ROS_PACKAGE_PATH entries often are
    assert UrdfOptions(package_paths=(tmp_path / "ros" / "my_robot",)).prepare(urdf).path.is_file()
    relative = tmp_path / "robot" / "rel.urdf"
    relative.write_text(arm_urdf("", mesh="meshes/gone.stl"))
    with pytest.raises(AssetError, match=r"link link1: mesh file .*meshes/gone.stl not found"):
        prepare_urdf(relative)
    broken = tmp_path / "robot" / "broken.urdf"
    broken.write_text("<robot><link name='a'></robot>")
    with pytest.raises(AssetError, match="not a valid URDF"):
        prepare_urdf(broken)


def test_the_command_names_the_cause_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TWIN_CACHE_DIR", str(tmp_path / "cache"))
    urdf = tmp_path / "arm.urdf"
    urdf.write_text(arm_urdf("", mesh="package://my_robot/meshes/link1.obj"))
    log = tmp_path / "log.csv"
    log.write_text("t_s,q_1,q_2\n0.0,0,0\n0.01,0,0\n0.02,0,0\n")
    code = main(["replay", "--urdf", str(urdf), "--joint-states", str(log), "--json"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert "package://my_robot/meshes/link1.obj" in err and "--package-path" in err


def test_a_joint_count_mismatch_is_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TWIN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TWIN_DATA_DIR", str(tmp_path / "data"))
    urdf = tmp_path / "arm.urdf"
    urdf.write_text(arm_urdf(""))
    t = np.arange(0.0, 1.0, 0.01)
    three = tmp_path / "three.csv"
    three.write_text("t_s,q_1,q_2,q_3\n" + "".join(f"{x},{np.sin(x)},{np.cos(x)},{x}\n" for x in t))
    one = tmp_path / "one.csv"
    one.write_text("t_s,q_1\n" + "".join(f"{x},{np.sin(x)}\n" for x in t))
    cases = {
        "unknown joint 'q_3'; valid: q_1..q_2": ["--joint-states", str(three)],
        "drive gains for 3 joints, but arm has 2 movable joints": [
            "--joint-states",
            str(one),
            "--drive-gains",
            "1,2,3",
        ],
    }
    for expected, args in cases.items():
        code = main(["replay", "--urdf", str(urdf), *args])
        err = capsys.readouterr().err
        assert code != 0 and expected in err and "Traceback" not in err
