"""Headless pictures of the cell with pybullet's tiny renderer, labelled with the cell's ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pybullet as pb
from numpy.typing import NDArray

from twin.cell.spec import CellSpec
from twin.physics.build import CellWorld


def _camera(cell: CellSpec, width: int, height: int, yaw_deg: float = 155.0) -> tuple[list[float], list[float]]:
    points = [(r.base_pose.x_m, r.base_pose.y_m) for r in cell.robots.values()]
    points += [(s.pose.x_m, s.pose.y_m) for s in cell.stations.values()]
    xs, ys = zip(*points, strict=True)
    centre = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2, 0.25)
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1.0)
    view = pb.computeViewMatrixFromYawPitchRoll(
        centre, 1.5 * span + 0.9, yaw=yaw_deg, pitch=-40.0, roll=0.0, upAxisIndex=2
    )
    projection = pb.computeProjectionMatrixFOV(fov=45.0, aspect=width / height, nearVal=0.05, farVal=20.0)
    return list(view), list(projection)


def _project(
    point: tuple[float, float, float], view: list[float], projection: list[float], width: int, height: int
) -> tuple[int, int] | None:
    v = np.asarray(view).reshape(4, 4, order="F")
    p = np.asarray(projection).reshape(4, 4, order="F")
    clip = p @ v @ np.array([*point, 1.0])
    if clip[3] <= 0:
        return None
    ndc = clip[:3] / clip[3]
    return int((ndc[0] + 1) / 2 * width), int((1 - ndc[1]) / 2 * height)


def render_cell(cell: CellSpec, width: int = 1280, height: int = 800) -> NDArray[np.uint8]:
    """An RGB image (height x width x 3) of the cell: robots at home, stations and parts in place."""
    with CellWorld.from_cell(cell, with_parts=True) as world:
        pb.changeVisualShape(
            world.add_box("floor", (4.0, 3.0, 0.002), (0.6, 0.0, -0.002)),
            -1,
            rgbaColor=(0.93, 0.93, 0.9, 1.0),
            physicsClientId=world.client,
        )
        view, projection = _camera(cell, width, height)
        _, _, rgba, _, _ = pb.getCameraImage(
            width,
            height,
            view,
            projection,
            renderer=pb.ER_TINY_RENDERER,
            lightDirection=(1.0, -1.0, 2.0),
            shadow=1,
            physicsClientId=world.client,
        )
    image = np.reshape(np.asarray(rgba, dtype=np.uint8), (height, width, 4))[:, :, :3]
    return image


def save_cell_png(cell: CellSpec, out: str | Path, width: int = 1280, height: int = 800) -> Path:
    """Render the cell and write a labelled PNG."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(render_cell(cell, width, height))
    draw = ImageDraw.Draw(image)
    view, projection = _camera(cell, width, height)
    labels = [(rid, (r.base_pose.x_m, r.base_pose.y_m, 0.15), f"{rid} ({r.model})") for rid, r in cell.robots.items()]
    labels += [(sid, s.pose.transform((0.0, 0.0, 0.35)), f"{sid}") for sid, s in cell.stations.items()]
    for _, point, text in labels:
        pixel = _project(point, view, projection, width, height)
        if pixel is None:
            continue
        x, y = pixel
        box = draw.textbbox((x, y), text)
        pad = 3
        draw.rectangle((box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad), fill=(255, 255, 255))
        draw.text((x, y), text, fill=(20, 20, 20))
    title = f"{cell.cell.id}: {cell.cell.name}"
    draw.text((12, 10), title, fill=(20, 20, 20))
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    image.save(out_path)
    return out_path


__all__ = ["render_cell", "save_cell_png"]
