"""Pinhole depth-camera model shared by the simulator and the real backend (pure NumPy).

Camera frames follow the optical convention used by RealSense and OpenCV: x to the right of
the image, y down, z forward along the optical axis.  Depth is the z coordinate of the hit point
in that frame (not the ray length), in metres, like a RealSense depth frame after scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CameraModel:
    """An ideal pinhole camera: square pixels, principal point at the image centre.

    Attributes:
        width: Image width in pixels.
        height: Image height in pixels.
        fovy: Vertical field of view in degrees.
        far: Depth reported where a ray hits nothing (metres).
    """

    width: int = 64
    height: int = 64
    fovy: float = 25.0
    far: float = 2.0

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(f"camera resolution must be positive, got {self.width} x {self.height}")
        if not 0.0 < self.fovy < 180.0:
            raise ValueError(f"fovy must be in (0, 180) degrees, got {self.fovy}")
        if self.far <= 0:
            raise ValueError(f"far must be positive, got {self.far}")

    @property
    def focal(self) -> float:
        """Focal length in pixels (same for x and y)."""
        return 0.5 * self.height / np.tan(np.deg2rad(self.fovy) / 2)

    @property
    def intrinsics(self) -> np.ndarray:
        """3 x 3 intrinsic matrix K (pixel centres at integer + 0.5)."""
        f = self.focal
        return np.array([[f, 0, self.width / 2], [0, f, self.height / 2], [0, 0, 1.0]])

    def ray_directions(self) -> np.ndarray:
        """Unit ray directions in the camera frame through each pixel centre, shape (H*W, 3)."""
        f = self.focal
        u = (np.arange(self.width) + 0.5 - self.width / 2) / f
        v = (np.arange(self.height) + 0.5 - self.height / 2) / f
        U, V = np.meshgrid(u, v)
        d = np.stack([U, V, np.ones_like(U)], axis=-1).reshape(-1, 3)
        return d / np.linalg.norm(d, axis=1, keepdims=True)

    def deproject(self, depth: np.ndarray) -> np.ndarray:
        """Points in the camera frame for a depth image, shape (H, W, 3)."""
        f = self.focal
        u = (np.arange(self.width) + 0.5 - self.width / 2) / f
        v = (np.arange(self.height) + 0.5 - self.height / 2) / f
        U, V = np.meshgrid(u, v)
        return np.stack([U * depth, V * depth, depth], axis=-1)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pixel coordinates (u, v) of camera-frame points, shape (n, 2)."""
        p = np.asarray(points, dtype=np.float64)
        return p[:, :2] / p[:, 2:3] * self.focal + np.array([self.width / 2, self.height / 2])


def look_down_rotation() -> np.ndarray:
    """Camera-to-world rotation of a camera looking straight down with image up = world +y."""
    return np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])


def look_at_rotation(eye: np.ndarray, target: np.ndarray, up: np.ndarray = np.array([0.0, 0.0, 1.0])) -> np.ndarray:
    """Camera-to-world rotation (columns: optical x, y, z) for a camera at ``eye`` facing ``target``."""
    z = np.asarray(target, float) - np.asarray(eye, float)
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:
        return look_down_rotation() if z[2] < 0 else -look_down_rotation()
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)
