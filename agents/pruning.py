"""Collision pruning from the observation alone: drop grasps the depth image already rules out.

The simulator rejects a grasp without physics when the open gripper penetrates the table or the
object, or when the closing fingers would sweep through no part of the object
(:class:`grasp_envs.sim.Rejection`).  An agent cannot ask the simulator, and a real robot has no
simulator to ask, but both have the same overhead depth image and bounding box.  This module
predicts the same three outcomes from them.

**Occupancy from depth.**  A point is *occupied* if it lies inside the object's bounding box and
a camera sees it behind the observed surface: its depth in the camera frame exceeds the observed
depth at its pixel by more than ``tolerance``.
Everything below a visible surface is taken to be solid (a single overhead view cannot see under
an overhang, and a real arm coming from above could not reach there either).  Points below the
table plane (z < 0 in the table frame) are table.  With several cameras a point is occupied only
if every camera that sees it finds it behind its surface.

**The gripper as points.**  The open gripper's palm and fingers (the boxes of
:func:`grasp_envs.sim.gripper.gripper_boxes`) and the region the fingers sweep when closing
(:func:`grasp_envs.sim.gripper.closing_region`) are sampled on regular lattices of points in the
gripper frame and moved to each candidate's pose.  A candidate is predicted

* ``penetrates_table`` if a palm or finger point lies more than ``tolerance`` below the table;
* ``penetrates_object`` if a palm or finger point above the table is occupied;
* ``blocked_approach`` if a point of what the gripper sweeps on its way in
  (:func:`grasp_envs.sim.gripper.approach_region`, ``approach_distance`` back) is occupied or in
  the table;
* ``closes_on_air`` if no point of the sweep region is occupied above the table;

and feasible otherwise.  ``erode`` (pixels) can shrink (positive) or grow (negative) the occupied
region for the penetration tests by taking the farthest (nearest) depth in a square around each
pixel; the defaults (no tolerance, no erosion) agreed best with the simulator on train-split
scenes (``python -m benchmarks.pruning --split train``).

Everything here is computed from ``observation["depth"]``, ``observation["bbox"]``, the
observation config (cameras) and the action grid, so it runs unchanged on the real robot.
``python -m benchmarks.pruning`` reports precision and recall against the simulator's rejection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter, minimum_filter

from grasp_envs.envs.observations import ObservationConfig
from grasp_envs.grid import GraspGrid
from grasp_envs.sim import Rejection
from grasp_envs.sim import gripper as G

#: Predicted outcome codes: the simulator's :class:`grasp_envs.sim.Rejection` codes.
FEASIBLE, PENETRATES_TABLE, PENETRATES_OBJECT, CLOSES_ON_AIR, BLOCKED_APPROACH = (
    int(Rejection.NONE), int(Rejection.PENETRATES_TABLE), int(Rejection.PENETRATES_OBJECT), int(Rejection.CLOSES_ON_AIR),
    int(Rejection.BLOCKED_APPROACH))
REASONS = {int(r): r.reason for r in Rejection}


def _lattice(centre: np.ndarray, half: np.ndarray, counts: tuple[int, int, int]) -> np.ndarray:
    """Points of a regular lattice filling a box (faces included), shape (n, 3)."""
    axes = [np.linspace(c - h, c + h, n) if n > 1 else np.array([c]) for c, h, n in zip(centre, half, counts)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)


@dataclass(frozen=True)
class PruningConfig:
    """Tolerances of :class:`ObservedCollisionChecker` (defaults chosen on train-split scenes).

    Attributes:
        tolerance: A point counts as occupied only this far (m) behind the observed surface, and
            as in the table only this far below it.
        erode: Pixels by which the occupied region is shrunk (positive) or grown (negative) for
            the penetration tests.
        table_margin: Occupied points lower than this (m) above the table belong to the table,
            not the object, for the closing-on-air test.
        finger_points: Lattice counts (x, y, z) for each finger box.
        palm_points: Lattice counts for the palm box.
        sweep_points: Lattice counts for the closing region.
        approach_distance: Length (m) of the approach checked, as the simulator's
            ``SimConfig.approach_distance`` (physics v1: 0.10; 0 skips the check).
        approach_points: Lattice counts for the approach region.
    """

    tolerance: float = 0.0
    erode: int = 0
    table_margin: float = 0.002
    finger_points: tuple[int, int, int] = (3, 4, 9)
    palm_points: tuple[int, int, int] = (9, 5, 2)
    sweep_points: tuple[int, int, int] = (15, 4, 9)
    approach_distance: float = 0.10
    approach_points: tuple[int, int, int] = (9, 5, 6)

    def __post_init__(self) -> None:
        if not 0 <= self.approach_distance <= 1.0:
            raise ValueError(f"approach_distance must lie in [0, 1] m, got {self.approach_distance}")
        if self.tolerance < 0 or self.table_margin < 0:
            raise ValueError(f"tolerance and table_margin must be non-negative, got {self.tolerance}, "
                             f"{self.table_margin}")
        for name in ("finger_points", "palm_points", "sweep_points", "approach_points"):
            counts = tuple(int(c) for c in getattr(self, name))
            if len(counts) != 3 or min(counts) < 1:
                raise ValueError(f"{name} must be three positive counts, got {getattr(self, name)}")
            object.__setattr__(self, name, counts)


class ObservedCollisionChecker:
    """Predicts the simulator's instant rejection of grasps from the depth observation.

    Args:
        dims: Grasp grid dimensions (4 or 6).
        obs_config: The observation's cameras (the env's ``obs_config``; planners store it in
            their checkpoint config).
        config: Tolerances.
    """

    def __init__(self, dims: int, obs_config: ObservationConfig | dict | None = None,
                 config: PruningConfig = PruningConfig()) -> None:
        self.grid = GraspGrid(dims)
        self.obs_config = obs_config if isinstance(obs_config, ObservationConfig) else ObservationConfig(**(obs_config or {}))
        self.config = config
        boxes = G.gripper_boxes(G.MAX_OPENING)
        solid = [_lattice(*boxes[0], config.palm_points)]
        solid += [_lattice(c, h, config.finger_points) for c, h in boxes[1:]]
        self._solid = np.concatenate(solid)  # (ns, 3) gripper frame
        self._sweep = _lattice(*G.closing_region(), config.sweep_points)  # (nw, 3)
        self._approach = (_lattice(*G.approach_region(config.approach_distance), config.approach_points)
                          if config.approach_distance > 0 else np.zeros((0, 3)))

    def _occupied(self, depth: np.ndarray, bounds: np.ndarray, points: np.ndarray, eroded: bool) -> np.ndarray:
        """Occupancy (n, p) bool of world points (n, p, 3), by every camera."""
        cfg = self.obs_config
        cam = cfg.camera
        K = cam.intrinsics
        # The object lies inside its box: nothing outside it is occupied, seen or not.
        occupied = np.all((points >= bounds[0]) & (points <= bounds[1]), axis=-1)
        for k, (pos, R) in enumerate(cfg.camera_poses(bounds)):
            img = depth[k]
            e = self.config.erode
            if eroded and e > 0:
                img = maximum_filter(img, size=2 * e + 1, mode="nearest")
            elif eroded and e < 0:
                img = minimum_filter(img, size=-2 * e + 1, mode="nearest")
            pc = (points - pos) @ R  # camera frame: R is camera-to-world
            z = pc[..., 2]
            front = z > 1e-6
            zs = np.where(front, z, 1.0)
            u = np.floor(pc[..., 0] / zs * K[0, 0] + K[0, 2]).astype(np.int64)
            v = np.floor(pc[..., 1] / zs * K[1, 1] + K[1, 2]).astype(np.int64)
            seen = front & (u >= 0) & (u < cam.width) & (v >= 0) & (v < cam.height)
            d = img[np.clip(v, 0, cam.height - 1), np.clip(u, 0, cam.width - 1)]
            behind = z > d + self.config.tolerance
            # A camera that sees the point in front of its surface clears it; an unseen point
            # stays as the other cameras say.
            occupied &= np.where(seen, behind, True)
        return occupied

    def predict(self, observation: dict, actions) -> np.ndarray:
        """Predicted rejection code (0 feasible, else as :class:`grasp_envs.sim.Rejection`) per grasp.

        ``observation`` holds ``depth`` (n_cameras, H, W) metres and ``bbox`` (6,); ``actions`` is
        (n, dims) or (dims,) bins of this grid.
        """
        depth = np.asarray(observation["depth"], np.float64)
        bounds = np.asarray(observation["bbox"], np.float64).reshape(2, 3)
        cfg = self.obs_config
        if depth.shape != (cfg.n_cameras, cfg.height, cfg.width):
            raise ValueError(f"depth must have shape {(cfg.n_cameras, cfg.height, cfg.width)} for this observation "
                             f"config, got {depth.shape}")
        poses = self.grid.decode(actions, bounds)
        n = len(poses)
        out = np.zeros(n, np.int8)
        if n == 0:
            return out
        R, t = poses.rotation, poses.position
        solid = np.einsum("nij,pj->npi", R, self._solid) + t[:, None, :]
        sweep = np.einsum("nij,pj->npi", R, self._sweep) + t[:, None, :]
        tol = self.config.tolerance
        in_table = (solid[..., 2] < -tol).any(axis=1)
        above = solid[..., 2] >= -tol
        hits = (self._occupied(depth, bounds, solid, eroded=True) & above).any(axis=1)
        touches = (self._occupied(depth, bounds, sweep, eroded=False)
                   & (sweep[..., 2] > self.config.table_margin)).any(axis=1)
        out[~touches] = CLOSES_ON_AIR
        if len(self._approach):
            way_in = np.einsum("nij,pj->npi", R, self._approach) + t[:, None, :]
            blocked = ((way_in[..., 2] < -tol).any(axis=1)
                       | (self._occupied(depth, bounds, way_in, eroded=True) & (way_in[..., 2] >= -tol)).any(axis=1))
            out[blocked] = BLOCKED_APPROACH
        out[hits] = PENETRATES_OBJECT
        out[in_table] = PENETRATES_TABLE
        return out

    def feasible(self, observation: dict, actions) -> np.ndarray:
        """Boolean mask (n,) of grasps not predicted to be rejected."""
        return self.predict(observation, actions) == FEASIBLE
