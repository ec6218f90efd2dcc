"""Colour and segmentation images of the simulated scene, from the rays the depth image casts.

:meth:`grasp_envs.sim.GraspSimulator.render_surface` casts exactly the rays of
:meth:`~grasp_envs.sim.GraspSimulator.render_depth` (MuJoCo's ``mj_multiRay`` over the table and
object geoms) and returns, per pixel, the depth, the geom hit and its surface normal.  From them:

* ``segmentation``: the geom's id class (:data:`~grasp_envs.envs.observations.SEG_TABLE`, or
  :data:`~grasp_envs.envs.observations.SEG_OBJECT` + k for the geoms of the k-th object body in
  model order), :data:`~grasp_envs.envs.observations.SEG_BACKGROUND` where the ray hits nothing.
  The mask agrees with the depth pixel for pixel: a pixel is an object's exactly where its depth
  is that object's surface.
* ``rgb``: the geom's colour from the scene (its ``rgba``, or its material's) lit as MuJoCo's
  OpenGL renderer lights it, without shadows or specular highlights: the ambient term plus
  Lambertian diffuse terms of the scene's directional lights and of the headlight (a light at the
  camera).  Black where the ray hits nothing.

Casting rays rather than rasterising with OpenGL needs no GL context (any headless machine runs
it), gives the same bytes on every machine, and keeps colour, mask and depth aligned to the pixel.
"""

from __future__ import annotations

import numpy as np

from grasp_envs.camera import CameraModel
from grasp_envs.envs.observations import SEG_BACKGROUND, SEG_OBJECT, SEG_TABLE
from grasp_envs.sim.scene import OBJECT_GROUP, TABLE_GROUP


class SceneSensors:
    """Per-geom segmentation ids and colours of one simulator's model, and the images they make."""

    def __init__(self, simulator) -> None:
        m = simulator.model
        self.simulator = simulator
        seg = np.full(m.ngeom, SEG_BACKGROUND, np.uint8)
        seg[m.geom_group == TABLE_GROUP] = SEG_TABLE
        obj = np.flatnonzero(m.geom_group == OBJECT_GROUP)
        bodies = np.unique(m.geom_bodyid[obj])  # body ids ascending: the objects in model order
        seg[obj] = SEG_OBJECT + np.searchsorted(bodies, m.geom_bodyid[obj])
        self.seg_ids = seg
        colour = m.geom_rgba[:, :3].astype(np.float64)
        has_mat = m.geom_matid >= 0
        colour[has_mat] = m.mat_rgba[m.geom_matid[has_mat], :3]
        self.colours = colour
        # Every light as a directional one along its direction (the scenes' one light points straight down).
        dirs = np.asarray(m.light_dir, np.float64).reshape(-1, 3)
        self.light_dirs = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
        self.light_diffuse = np.asarray(m.light_diffuse, np.float64).reshape(-1, 3)
        self.ambient = np.asarray(m.vis.headlight.ambient, np.float64) + np.asarray(m.light_ambient).reshape(-1, 3).sum(0)
        self.headlight = np.asarray(m.vis.headlight.diffuse, np.float64)

    def render(self, camera: CameraModel, position: np.ndarray, rotation: np.ndarray,
               rgb: bool = True, segmentation: bool = True) -> dict[str, np.ndarray]:
        """``depth`` (H, W) float32 and, as asked, ``rgb`` (H, W, 3) uint8 and ``segmentation`` (H, W) uint8."""
        depth, geom, normal = self.simulator.render_surface(camera, position, rotation)
        hit = geom >= 0
        out = {"depth": depth}
        if segmentation:
            seg = np.full(geom.shape, SEG_BACKGROUND, np.uint8)
            seg[hit] = self.seg_ids[geom[hit]]
            out["segmentation"] = seg
        if rgb:
            n = normal[hit]
            view = camera.ray_directions().reshape(camera.height, camera.width, 3)[hit] @ np.asarray(rotation).T
            light = np.broadcast_to(self.ambient, (len(n), 3)).copy()
            light += np.clip(-np.einsum("ij,ij->i", n, view), 0, 1)[:, None] * self.headlight
            for d, c in zip(self.light_dirs, self.light_diffuse):
                light += np.clip(-(n @ d), 0, 1)[:, None] * c
            img = np.zeros((*geom.shape, 3), np.uint8)
            img[hit] = np.rint(np.clip(self.colours[geom[hit]] * light, 0, 1) * 255).astype(np.uint8)
            out["rgb"] = img
        return out
