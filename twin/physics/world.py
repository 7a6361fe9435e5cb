"""PhysicsWorld: owns one pybullet client, a fixed time step and the bodies of one cell.

Lifecycle (STYLE.md convention 1): ``build -> reset(seed) -> step -> close``; subclasses override the
named hooks ``_spawn_cell`` and ``_resolve_ids`` only. Every pybullet call passes
``physicsClientId=self.client``.
"""

from __future__ import annotations

from dataclasses import replace
from types import TracebackType
from typing import Literal

import numpy as np
import pybullet as pb
import pybullet_data

from twin.errors import PhysicsError
from twin.physics.urdf import UrdfOptions, quiet_native_stdout

Mode = Literal["direct", "gui"]


class PhysicsWorld:
    """One pybullet world in DIRECT (or GUI) mode with an explicit client id."""

    def __init__(self, mode: Mode = "direct", dt: float = 1.0 / 240.0, urdf_options: UrdfOptions | None = None) -> None:
        """Connect a new client; bodies are spawned by :meth:`build`.

        Args:
            mode: ``"direct"`` (headless, tests and batch) or ``"gui"``.
            dt: Fixed simulation time step in seconds.
            urdf_options: How URDFs are prepared (:mod:`twin.physics.urdf`); frames without ``<inertial>``
                are massless by default.
        """
        self.urdf_options = urdf_options if urdf_options is not None else UrdfOptions()
        connection = pb.DIRECT if mode == "direct" else pb.GUI
        self.client: int = pb.connect(connection)
        if self.client < 0:
            raise PhysicsError(f"cannot connect a pybullet {mode} client")
        self.dt = dt
        self.rng: np.random.Generator = np.random.default_rng(0)
        self.bodies: dict[str, int] = {}
        pb.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=self.client)
        pb.setTimeStep(dt, physicsClientId=self.client)
        pb.setGravity(0.0, 0.0, -9.81, physicsClientId=self.client)

    # lifecycle -------------------------------------------------------------------------------
    def build(self) -> PhysicsWorld:
        """Spawn the bodies and resolve names to ids (the two named hooks)."""
        self._spawn_cell()
        self._resolve_ids()
        return self

    def reset(self, seed: int | None = None) -> np.random.Generator:
        """Re-seed the world's one RNG; consumers get it passed down."""
        self.rng = np.random.default_rng(seed)
        return self.rng

    def step(self, n: int = 1) -> None:
        """Advance the simulation by ``n`` fixed steps."""
        for _ in range(n):
            pb.stepSimulation(physicsClientId=self.client)

    def close(self) -> None:
        """Disconnect the client (idempotent)."""
        if self.client >= 0:
            try:
                pb.disconnect(physicsClientId=self.client)
            except pb.error:  # already disconnected
                pass
            self.client = -1

    def __enter__(self) -> PhysicsWorld:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # hooks -----------------------------------------------------------------------------------
    def _spawn_cell(self) -> None:
        """Load bodies; the base world is empty."""

    def _resolve_ids(self) -> None:
        """Resolve names to body and joint ids once; nothing to resolve in the base world."""

    # helpers ---------------------------------------------------------------------------------
    def load_urdf(
        self,
        name: str,
        path: str,
        position: tuple[float, float, float],
        yaw_rad: float = 0.0,
        fixed: bool = True,
        dynamics: bool = False,
    ) -> int:
        """Load a URDF as a named body, its meshes checked and resolved (:mod:`twin.physics.urdf`).

        Args:
            name: The body's name in :attr:`bodies`.
            path: The URDF.
            position: Base position, m.
            yaw_rad: Base yaw.
            fixed: Fixed base.
            dynamics: Its masses and inertias are used (a robot): loaded from the file's inertias, with links
                without ``<inertial>`` massless unless the options keep pybullet's default. A static body's
                masses do not matter and are left as they are.

        Raises:
            AssetError: The URDF or one of its meshes cannot be found or read (the message names which).
            PhysicsError: pybullet still refuses it.
        """
        options = self.urdf_options if dynamics else replace(self.urdf_options, keep_default_mass=True)
        prepared = options.prepare(path)
        flags = pb.URDF_USE_INERTIA_FROM_FILE if dynamics else 0
        orientation = pb.getQuaternionFromEuler((0.0, 0.0, yaw_rad), physicsClientId=self.client)
        try:
            with quiet_native_stdout():
                body = pb.loadURDF(
                    str(prepared.path),
                    position,
                    orientation,
                    useFixedBase=fixed,
                    flags=flags,
                    physicsClientId=self.client,
                )
        except pb.error as exc:
            raise PhysicsError(f"cannot load URDF {path} for {name}: {exc}") from exc
        self.bodies[name] = body
        return body

    def add_box(
        self,
        name: str,
        size_m: tuple[float, float, float],
        position: tuple[float, float, float],
        yaw_rad: float = 0.0,
        rgba: tuple[float, float, float, float] = (0.8, 0.1, 0.1, 1.0),
    ) -> int:
        """Add a static box body (an obstacle)."""
        half = [s / 2.0 for s in size_m]
        collision = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=half, physicsClientId=self.client)
        visual = pb.createVisualShape(pb.GEOM_BOX, halfExtents=half, rgbaColor=rgba, physicsClientId=self.client)
        orientation = pb.getQuaternionFromEuler((0.0, 0.0, yaw_rad), physicsClientId=self.client)
        body = pb.createMultiBody(0.0, collision, visual, position, orientation, physicsClientId=self.client)
        self.bodies[name] = body
        return body
