"""Baselines from the paper: Random (uniform over the grid) and Centroid."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from grasp_envs.envs.interface import AgentInterface, agent_interface
from grasp_envs.envs.observations import ObservationConfig
from grasp_envs.grid import GraspGrid

#: Pixels at least this far (m) above the table plane belong to the object.
OBJECT_THRESHOLD = 0.003


class RandomAgent:
    """Uniformly random grasp on the grid (the paper's Random baseline).

    Built from an :class:`~grasp_envs.envs.interface.AgentInterface` (or an env, whose interface is
    taken) or from ``action_space=`` alone.
    """

    def __init__(self, interface: AgentInterface | None = None, *, action_space: spaces.MultiDiscrete | None = None,
                 seed: int | None = None) -> None:
        if action_space is None and interface is None:
            raise ValueError("RandomAgent needs interface=... (or an env) or action_space=...")
        space = action_space if action_space is not None else agent_interface(interface).action_space
        self.nvec = np.asarray(space.nvec)
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, observation) -> np.ndarray:
        return self.rng.integers(0, self.nvec).astype(np.int64)


def depth_centroid(depth: np.ndarray, bbox: np.ndarray, obs_config: ObservationConfig) -> np.ndarray | None:
    """Object centroid (x, y, z) in the table frame from the overhead depth image.

    Each object pixel is deprojected to the table frame; its column (from the table up to the
    seen surface) is treated as solid, so the centroid is the height-weighted mean in x and y and
    the mean of column mid-heights in z.  ``None`` if no pixel is above the table.
    """
    cam = obs_config.camera
    pos, R = obs_config.camera_poses(np.asarray(bbox, np.float64).reshape(2, 3))[0]
    pts = cam.deproject(np.asarray(depth, np.float64)).reshape(-1, 3) @ R.T + pos
    h = pts[:, 2]
    mask = (h > OBJECT_THRESHOLD) & (np.asarray(depth).ravel() < cam.far)
    if not mask.any():
        return None
    w = h[mask]
    xy = (pts[mask, :2] * w[:, None]).sum(axis=0) / w.sum()
    z = (w * w / 2).sum() / w.sum()
    return np.array([xy[0], xy[1], z])


class CentroidAgent:
    """Grasp at the object's centroid estimated from depth, approach angles random (paper baseline).

    x, y, z bins are the nearest bins to the depth-estimated centroid; yaw (and roll, pitch in
    6-D) are uniformly random bins.
    """

    def __init__(self, interface: AgentInterface | None = None, *, grid: GraspGrid | None = None,
                 obs_config: ObservationConfig | None = None, seed: int | None = None) -> None:
        if interface is not None:
            view = agent_interface(interface)
            grid, obs_config = view.grid, view.obs_config
        if grid is None or obs_config is None:
            raise ValueError("CentroidAgent needs interface=... (an env's agent_interface() or the env), or both "
                             "grid= and obs_config=")
        self.grid = grid
        self.obs_config = obs_config
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, observation) -> np.ndarray:
        bbox = np.asarray(observation["bbox"], np.float64).reshape(2, 3)
        c = depth_centroid(observation["depth"][0], bbox, self.obs_config)
        if c is None:
            c = bbox.mean(axis=0)
        pos_bins = self.grid.encode_position(c, bbox)[0]
        angles = self.rng.integers(0, self.grid.n_bins, size=self.grid.dims - 3)
        return np.concatenate([pos_bins, angles]).astype(np.int64)
