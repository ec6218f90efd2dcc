"""librealsense's software device as a stand-in D435, fed by a ray-cast table scene.

:class:`SoftwareDepthCamera` builds a ``rs.software_device`` with a z16 depth stream of the D435's
geometry, injects synthetic depth frames (ray cast from the calibrated camera pose into a
:class:`TableScene`, with sensor noise, quantisation and dropouts) and reads them back through the
SDK's frame queue, its filters (:class:`real.camera.DepthFilterChain`) and its intrinsics: the same
code path as frames of a physical camera.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from real.calibration import Calibration, Intrinsics
from real.camera import DepthFilterChain, DepthFrame, RealSenseConfig, import_pyrealsense2, to_depth_frame

#: Depth intrinsics of a D435 at 848 x 480 (typical factory values, 87 x 58 degree field of view).
D435_848 = Intrinsics(848, 480, 424.7, 424.7, 423.1, 238.9)
D435_640 = Intrinsics(640, 480, 382.6, 382.6, 319.4, 238.6)


@dataclass
class Box:
    """A box resting on (or held above) the table: centre (table frame), yaw, full sizes (m)."""

    center: np.ndarray
    size: np.ndarray
    yaw: float = 0.0

    def __post_init__(self) -> None:
        self.center = np.asarray(self.center, dtype=np.float64)
        self.size = np.asarray(self.size, dtype=np.float64)

    @property
    def rotation(self) -> np.ndarray:
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    @property
    def bounds(self) -> np.ndarray:
        """Axis-aligned bounds (2 x 3) in the table frame."""
        ext = np.abs(self.rotation) @ (self.size / 2)
        return np.stack([self.center - ext, self.center + ext])

    def ray_hits(self, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """Ray parameter of the first hit for rays ``origin + t * dirs`` (inf where missed)."""
        R = self.rotation
        o = (origin - self.center) @ R
        d = dirs @ R
        h = self.size / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (-h - o) / d
            t2 = (h - o) / d
        tmin = np.nanmax(np.minimum(t1, t2), axis=1)
        tmax = np.nanmin(np.maximum(t1, t2), axis=1)
        hit = (tmax >= tmin) & (tmax > 0)
        return np.where(hit, np.where(tmin > 0, tmin, np.inf), np.inf)


class TableScene:
    """Table plane z = 0 (table frame) plus boxes; thread-safe (the loopback robot moves boxes)."""

    def __init__(self, boxes: list[Box] | None = None, table_half_size: float = 0.6) -> None:
        self.boxes = list(boxes or [])
        self.table_half_size = table_half_size
        self.lock = threading.RLock()

    def depth(self, intrinsics: Intrinsics, rotation: np.ndarray, position: np.ndarray) -> np.ndarray:
        """Optical-frame depth (H, W) in metres seen from a camera at ``position`` with ``rotation``
        (camera-to-table); 0 where the ray hits nothing."""
        i = intrinsics
        u, v = np.meshgrid(np.arange(i.width, dtype=np.float64), np.arange(i.height, dtype=np.float64))
        d_cam = np.stack([(u - i.ppx) / i.fx, (v - i.ppy) / i.fy, np.ones_like(u)], -1).reshape(-1, 3)
        d = d_cam @ np.asarray(rotation).T  # unit optical z, so t is the depth
        o = np.asarray(position, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(d[:, 2] < -1e-9, -o[2] / d[:, 2], np.inf)
        hit = o + t[:, None] * np.where(np.isfinite(t)[:, None], d, 0.0)
        t[np.any(np.abs(hit[:, :2]) > self.table_half_size, axis=1)] = np.inf
        with self.lock:
            for b in self.boxes:
                t = np.minimum(t, b.ray_hits(o, d))
        t[~np.isfinite(t)] = 0.0
        return t.reshape(i.height, i.width)


class SoftwareDepthCamera:
    """A D435 stand-in: synthetic frames in, SDK frames, filters and intrinsics out.

    Args:
        scene: What the camera looks at.
        calibration: Where the camera is (its true pose; tests may give the env a perturbed one).
        config: Stream and filter settings, as for :class:`real.camera.RealSenseCamera`.
        noise_sigma: Gaussian depth noise at 1 m (m); it grows with depth squared like a stereo camera's.
        dropout: Fraction of pixels reported as missing (0), which the hole-filling filter fills.
        seed: Seed of the noise generator.
    """

    def __init__(self, scene: TableScene, calibration: Calibration, config: RealSenseConfig | dict | None = None,
                 noise_sigma: float = 0.001, dropout: float = 0.01, seed: int = 0) -> None:
        self.config = config if isinstance(config, RealSenseConfig) else RealSenseConfig(**(config or {}))
        self.scene = scene
        self.calibration = calibration
        self.intrinsics = D435_848 if self.config.width == 848 else D435_640
        self.noise_sigma = noise_sigma
        self.dropout = dropout
        self.rng = np.random.default_rng(seed)
        self.rs = import_pyrealsense2()
        self.filters = DepthFilterChain(self.config)
        self.depth_units = 0.001
        self._frame_number = 0
        self._build()

    def _build(self) -> None:
        rs, i = self.rs, self.intrinsics
        self.device = rs.software_device()
        self.sensor = self.device.add_sensor("Stereo Module")
        ri = rs.intrinsics()
        ri.width, ri.height, ri.fx, ri.fy, ri.ppx, ri.ppy = i.width, i.height, i.fx, i.fy, i.ppx, i.ppy
        ri.model = rs.distortion.brown_conrady
        ri.coeffs = [0.0] * 5
        vs = rs.video_stream()
        vs.type, vs.index, vs.uid = rs.stream.depth, 0, 0
        vs.width, vs.height, vs.fps, vs.bpp, vs.fmt = i.width, i.height, self.config.fps, 2, rs.format.z16
        vs.intrinsics = ri
        self.profile = self.sensor.add_video_stream(vs)
        self.sensor.add_read_only_option(rs.option.depth_units, self.depth_units)
        self.sensor.add_read_only_option(rs.option.stereo_baseline, 50.0)  # D435: 50 mm, in mm
        self.device.create_matcher(rs.matchers.default)
        self.queue = rs.frame_queue(self.config.burst + 1)
        self.sensor.open(self.profile)
        self.sensor.start(self.queue)
        self._open = True

    def clean_depth(self) -> np.ndarray:
        """Noise-free depth (m) of the scene as it is now."""
        R, t = self.calibration.camera_to_table
        return self.scene.depth(self.intrinsics, R, t)

    def synthetic_depth(self, depth: np.ndarray | None = None) -> np.ndarray:
        """One noisy z16 frame of the scene (or of the clean ``depth`` given), as the sensor reports it."""
        depth = self.clean_depth() if depth is None else depth
        valid = depth > 0
        noisy = depth + self.rng.standard_normal(depth.shape, dtype=np.float32) * (self.noise_sigma * depth**2)
        noisy[~valid] = 0.0
        noisy[self.rng.random(depth.shape, dtype=np.float32) < self.dropout] = 0.0
        return np.clip(np.rint(noisy / self.depth_units), 0, 65535).astype(np.uint16)

    def inject(self, raw: np.ndarray):
        """Push one z16 frame through the software sensor and return the SDK frame read back."""
        rs = self.rs
        f = rs.software_video_frame()
        self._pixels = np.ascontiguousarray(raw, dtype=np.uint16)  # must outlive the frame
        f.pixels = self._pixels
        f.bpp = 2
        f.stride = self.intrinsics.width * 2
        f.timestamp = self._frame_number * 1000.0 / self.config.fps
        f.domain = rs.timestamp_domain.system_time
        f.frame_number = self._frame_number
        f.depth_units = self.depth_units
        f.profile = self.profile.as_video_stream_profile()
        self._frame_number += 1
        self.sensor.on_video_frame(f)
        return self.queue.wait_for_frame(self.config.timeout_ms)

    def capture(self) -> DepthFrame:
        self.filters.reset()
        out = None
        clean = self.clean_depth()  # the scene holds still during a burst
        for _ in range(self.config.burst):
            out = self.filters.process(self.inject(self.synthetic_depth(clean)))
        return to_depth_frame(out, self.config.max_depth)

    def close(self) -> None:
        if getattr(self, "_open", False):
            self.sensor.stop()
            self.sensor.close()
            self._open = False
