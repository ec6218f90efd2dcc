"""The discretised grasp grid: one encode/decode between bins and world grasp poses (pure NumPy).

A grasp is the pose of the gripper's tool centre point (TCP): the point midway between the
fingers, 15 mm above the fingertips.  In the gripper frame the fingers close along x, the jaws are
26 mm wide along y, and z points from the fingertips back towards the palm; an upright gripper
approaching from above has its frame aligned with the world up to a yaw about z.

Bins (``n_bins = 20`` per dimension, as in the paper):

* x, y, z: bin ``i`` is at ``lo + i / (n_bins - 1) * (hi - lo)`` of the object's axis-aligned
  bounding box, so bin 0 is the minimum side and bin 19 the maximum side;
* yaw: bin ``i`` is ``i * pi / n_bins``, covering [0, pi) (the jaws are symmetric);
* roll and pitch (6-D only): bin ``i`` is ``-pi/4 + i / (n_bins - 1) * pi/2``, covering
  [-pi/4, pi/4] inclusive, so the approach direction tilts up to 45 degrees about each gripper
  axis (up to about 55 degrees from vertical); steeper approaches mostly put the palm into the
  table (with +-90 degrees, 80% of uniform 6-D grasps were table rejections).

The orientation is ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (roll about the gripper's closing axis
first, then pitch about its jaw axis, then yaw about the world vertical).  4-D grasps have
``roll = pitch = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_BINS = 20
#: Largest roll and pitch of 6-D grasps (radians).
MAX_TILT = np.pi / 4


def rot_x(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def rot_y(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def rot_z(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


@dataclass(frozen=True)
class GraspPoses:
    """A batch of world grasp poses: positions (n, 3) and rotation matrices (n, 3, 3)."""

    position: np.ndarray
    rotation: np.ndarray

    def __len__(self) -> int:
        return len(self.position)

    def __getitem__(self, idx) -> "GraspPoses":
        return GraspPoses(np.atleast_2d(self.position[idx]), self.rotation[idx].reshape(-1, 3, 3))

    @property
    def approach(self) -> np.ndarray:
        """Unit approach directions (from the palm towards the fingertips), shape (n, 3)."""
        return -self.rotation[:, :, 2]


class ActionError(ValueError):
    """An action is not a valid grasp for this grid; the message says what is wrong."""


@dataclass(frozen=True)
class GraspGrid:
    """Bins <-> poses for a ``dims``-dimensional grasp grid (4 or 6)."""

    dims: int = 4
    n_bins: int = N_BINS

    def __post_init__(self) -> None:
        if self.dims not in (4, 6):
            raise ValueError(f"dims must be 4 or 6, got {self.dims}")
        if self.n_bins < 2:
            raise ValueError(f"n_bins must be at least 2, got {self.n_bins}")

    @property
    def names(self) -> tuple[str, ...]:
        return ("x", "y", "z", "yaw") if self.dims == 4 else ("x", "y", "z", "roll", "pitch", "yaw")

    def validate(self, action) -> np.ndarray:
        """Return ``action`` as an int64 array of shape (n, dims), or raise :class:`ActionError`."""
        a = np.asarray(action)
        if a.dtype == object or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
            raise ActionError(f"action must be an integer array, got dtype {a.dtype}")
        if a.ndim not in (1, 2) or a.shape[-1] != self.dims:
            raise ActionError(
                f"action must have shape ({self.dims},) or (n, {self.dims}) for a {self.dims}-D grasp "
                f"({', '.join(self.names)}), got shape {a.shape}"
            )
        if np.issubdtype(a.dtype, np.floating):
            if not np.all(np.isfinite(a)):
                raise ActionError(f"action contains NaN or infinity: {a.tolist()}")
            if not np.all(a == np.round(a)):
                raise ActionError(f"action must hold integer bin indices, got {a.tolist()}")
        if np.any(a < 0) or np.any(a >= self.n_bins):
            raise ActionError(f"action bins must lie in [0, {self.n_bins - 1}], got {a.tolist()}")
        return np.atleast_2d(a.astype(np.int64))

    def angles(self, bins: np.ndarray) -> np.ndarray:
        """Angles (n, 3) as (roll, pitch, yaw) in radians for validated bins."""
        b = np.atleast_2d(bins)
        yaw = b[:, -1] * np.pi / self.n_bins
        if self.dims == 4:
            zero = np.zeros(len(b))
            return np.stack([zero, zero, yaw], axis=1)
        tilt = -MAX_TILT + b[:, 3:5] / (self.n_bins - 1) * (2 * MAX_TILT)
        return np.column_stack([tilt, yaw])

    def decode(self, action, bounds: np.ndarray) -> GraspPoses:
        """World grasp poses for bins ``action`` relative to the box ``bounds`` (2 x 3: min, max)."""
        b = self.validate(action)
        bounds = np.asarray(bounds, dtype=np.float64)
        frac = b[:, :3] / (self.n_bins - 1)
        pos = bounds[0] + frac * (bounds[1] - bounds[0])
        ang = self.angles(b)
        R = rot_z(ang[:, 2]) @ rot_y(ang[:, 1]) @ rot_x(ang[:, 0])
        return GraspPoses(pos, R)

    def decode_one(self, action, bounds: np.ndarray) -> GraspPoses:
        """Like :meth:`decode`, for an environment step: exactly one grasp of shape ``(dims,)``."""
        bins = self.validate(action)
        if len(bins) != 1:
            raise ActionError(f"a step takes one grasp of shape ({self.dims},), got {len(bins)}")
        return self.decode(bins, bounds)

    def bin_distance(self, a, b) -> np.ndarray:
        """Chebyshev distance in bins between grasps ``a`` (n, dims) and ``b`` (m, dims): (n, m).

        The largest per-dimension difference, with yaw taken around its circle (bin 0 neighbours
        bin ``n_bins - 1``: the jaws are symmetric).  Distance 1 means the grasps are neighbours in
        every dimension at once.
        """
        a, b = self.validate(a), self.validate(b)
        diff = np.abs(a[:, None, :] - b[None, :, :])
        diff[..., -1] = np.minimum(diff[..., -1], self.n_bins - diff[..., -1])
        return diff.max(axis=-1)

    def spread(self, bins, k: int, radius: int = 1) -> np.ndarray:
        """Indices of up to ``k`` grasps of ``bins`` (in the given order) no two within ``radius``.

        Greedy non-maximum suppression in bin space: walking ``bins`` in order (best first), a grasp
        is kept unless a kept one lies within ``radius`` bins of it (:meth:`bin_distance`).  A
        beam's grasps come in clusters of neighbours that mostly succeed or fail together, so the
        spread set covers more distinct grasps for the same ``k``.  ``radius=0`` only drops exact
        repeats.
        """
        b = self.validate(bins)
        if k < 1 or radius < 0:
            raise ValueError(f"k must be >= 1 and radius >= 0, got k={k}, radius={radius}")
        near = self.bin_distance(b, b) <= radius
        keep: list[int] = []
        free = np.ones(len(b), bool)
        for i in range(len(b)):
            if free[i]:
                keep.append(i)
                if len(keep) == k:
                    break
                free &= ~near[i]
        return np.asarray(keep, np.int64)

    def encode_position(self, position: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """Nearest x, y, z bins (n, 3) for world positions, clipped to the box."""
        bounds = np.asarray(bounds, dtype=np.float64)
        span = np.maximum(bounds[1] - bounds[0], 1e-12)
        frac = (np.atleast_2d(position) - bounds[0]) / span
        return np.clip(np.rint(frac * (self.n_bins - 1)), 0, self.n_bins - 1).astype(np.int64)

    def encode_yaw(self, yaw: np.ndarray) -> np.ndarray:
        """Nearest yaw bin for angles in radians (wrapped modulo pi)."""
        y = np.mod(np.asarray(yaw, dtype=np.float64), np.pi)
        return np.mod(np.rint(y / np.pi * self.n_bins), self.n_bins).astype(np.int64)
