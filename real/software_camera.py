"""librealsense's software device as a stand-in D435, fed by a ray-cast table scene.

:class:`SoftwareDepthCamera` builds a ``rs.software_device`` with a z16 depth stream of the D435's
geometry, injects synthetic depth frames (ray cast from the calibrated camera pose into a
:class:`TableScene`, with sensor noise, quantisation and dropouts) and reads them back through the
SDK's frame queue, its filters (:class:`real.camera.DepthFilterChain`) and its intrinsics: the same
code path as frames of a physical camera.

With ``RealSenseConfig.color`` the device also has the D435's RGB sensor: an rgb8 stream with
the colour camera's own intrinsics (:data:`D435_COLOR_640`) and the depth-to-colour extrinsics
(:data:`DEPTH_TO_COLOR`) registered with the SDK.  Each depth frame gets a colour frame of the same
scene ray cast from the colour camera's pose; the pair goes through the SDK's syncer, the filters
and ``rs.align`` (:func:`real.camera.to_color_depth_frame`), as a physical camera's frames do.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from real.calibration import Calibration, Intrinsics
from real.camera import (CameraError, DepthFilterChain, DepthFrame, RealSenseConfig, import_pyrealsense2,
                         to_color_depth_frame, to_depth_frame)

#: Depth intrinsics of a D435 at 848 x 480 (typical factory values, 87 x 58 degree field of view).
D435_848 = Intrinsics(848, 480, 424.7, 424.7, 423.1, 238.9)
D435_640 = Intrinsics(640, 480, 382.6, 382.6, 319.4, 238.6)
#: Colour intrinsics of a D435's RGB sensor at 640 x 480 (typical factory values, 55 x 43 degrees).
D435_COLOR_640 = Intrinsics(640, 480, 615.0, 615.0, 321.2, 239.4)
#: Depth-to-colour extrinsics (rotation row-major, translation in metres): the RGB sensor sits
#: 15 mm from the left imager along the optical x axis (point in colour = point in depth + t).
DEPTH_TO_COLOR = ((1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0), (0.015, 0.0, 0.0))
#: Colours (rgb8) the scene shows: the table, a box without its own colour, nothing (beyond the table).
TABLE_COLOR = (196, 178, 150)
BOX_COLOR = (40, 95, 200)
BACKGROUND_COLOR = (20, 20, 24)


@dataclass
class Box:
    """A box resting on (or held above) the table: centre (table frame), yaw, full sizes (m)."""

    center: np.ndarray
    size: np.ndarray
    yaw: float = 0.0
    color: tuple[int, int, int] = BOX_COLOR

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
        return self.cast(intrinsics, rotation, position)[0]

    def color(self, intrinsics: Intrinsics, rotation: np.ndarray, position: np.ndarray) -> np.ndarray:
        """Colour image (H, W, 3) uint8 of the same view: each box's colour, the table's, the background's."""
        t, which = self.cast(intrinsics, rotation, position)
        with self.lock:
            palette = np.array([BACKGROUND_COLOR, TABLE_COLOR, *(b.color for b in self.boxes)], np.uint8)
        return palette[which + 1]

    def cast(self, intrinsics: Intrinsics, rotation: np.ndarray, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Depth (0: nothing hit) and what each pixel sees (H, W): -1 nothing, 0 the table, 1 + k box k."""
        i = intrinsics
        u, v = np.meshgrid(np.arange(i.width, dtype=np.float64), np.arange(i.height, dtype=np.float64))
        d_cam = np.stack([(u - i.ppx) / i.fx, (v - i.ppy) / i.fy, np.ones_like(u)], -1).reshape(-1, 3)
        d = d_cam @ np.asarray(rotation).T  # unit optical z, so t is the depth
        o = np.asarray(position, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(d[:, 2] < -1e-9, -o[2] / d[:, 2], np.inf)
        hit = o + t[:, None] * np.where(np.isfinite(t)[:, None], d, 0.0)
        t[np.any(np.abs(hit[:, :2]) > self.table_half_size, axis=1)] = np.inf
        which = np.where(np.isfinite(t), 0, -1)
        with self.lock:
            for k, b in enumerate(self.boxes):
                tb = b.ray_hits(o, d)
                which = np.where(tb < t, k + 1, which)
                t = np.minimum(t, tb)
        t[~np.isfinite(t)] = 0.0
        return t.reshape(i.height, i.width), which.reshape(i.height, i.width)


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
        self.color_intrinsics = D435_COLOR_640
        if self.config.color and (self.config.color_width, self.config.color_height) != (640, 480):
            raise ValueError("the software camera's colour stream is 640 x 480: pass color_width=640, color_height=480")
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
        if self.config.color:
            self._build_color()
            return
        self.queue = rs.frame_queue(self.config.burst + 1)
        self.sensor.open(self.profile)
        self.sensor.start(self.queue)
        self._open = True

    def _build_color(self) -> None:
        rs, c = self.rs, self.color_intrinsics
        self.color_sensor = self.device.add_sensor("RGB Camera")
        ri = rs.intrinsics()
        ri.width, ri.height, ri.fx, ri.fy, ri.ppx, ri.ppy = c.width, c.height, c.fx, c.fy, c.ppx, c.ppy
        ri.model = rs.distortion.brown_conrady
        ri.coeffs = [0.0] * 5
        vs = rs.video_stream()
        vs.type, vs.index, vs.uid = rs.stream.color, 0, 1
        vs.width, vs.height, vs.fps, vs.bpp, vs.fmt = c.width, c.height, self.config.fps, 3, rs.format.rgb8
        vs.intrinsics = ri
        self.color_profile = self.color_sensor.add_video_stream(vs)
        ext = rs.extrinsics()
        ext.rotation, ext.translation = list(DEPTH_TO_COLOR[0]), list(DEPTH_TO_COLOR[1])
        self.profile.register_extrinsics_to(self.color_profile, ext)
        self.syncer = rs.syncer()
        self.align = rs.align(rs.stream.depth)
        self.sensor.open(self.profile)
        self.color_sensor.open(self.color_profile)
        self.sensor.start(self.syncer)
        self.color_sensor.start(self.syncer)
        self._open = True

    def color_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Camera-to-table rotation and position of the colour camera (the depth camera's through the extrinsics)."""
        R, t = self.calibration.camera_to_table
        R_ext = np.asarray(DEPTH_TO_COLOR[0], np.float64).reshape(3, 3)
        t_ext = np.asarray(DEPTH_TO_COLOR[1], np.float64)
        # p_colour = R_ext p_depth + t_ext: the colour camera's centre is -R_ext^T t_ext in the depth frame.
        return R @ R_ext.T, R @ (-R_ext.T @ t_ext) + t

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

    def _video_frame(self, pixels: np.ndarray, profile, bpp: int, width: int):
        rs = self.rs
        f = rs.software_video_frame()
        f.pixels = pixels
        f.bpp = bpp
        f.stride = width * bpp
        f.timestamp = self._frame_number * 1000.0 / self.config.fps
        f.domain = rs.timestamp_domain.system_time
        f.frame_number = self._frame_number
        f.profile = profile.as_video_stream_profile()
        return f

    def inject(self, raw: np.ndarray):
        """Push one z16 frame through the software sensor and return the SDK frame read back."""
        if self.config.color:
            raise CameraError("this software camera streams colour too: inject frames with inject_pair(raw, rgb)")
        self._pixels = np.ascontiguousarray(raw, dtype=np.uint16)  # must outlive the frame
        f = self._video_frame(self._pixels, self.profile, 2, self.intrinsics.width)
        f.depth_units = self.depth_units
        self._frame_number += 1
        self.sensor.on_video_frame(f)
        return self.queue.wait_for_frame(self.config.timeout_ms)

    def clean_color(self) -> np.ndarray:
        """The colour camera's image (H, W, 3) uint8 of the scene as it is now."""
        R, t = self.color_pose()
        return self.scene.color(self.color_intrinsics, R, t)

    def inject_pair(self, raw: np.ndarray, rgb: np.ndarray):
        """Push a z16 frame and an rgb8 frame of the same instant through both sensors; the SDK's frameset back.

        The syncer pairs them by timestamp; the very first colour frame comes out alone (the
        syncer has not seen the depth stream yet), so a pair is pushed again until one comes out matched.
        """
        for _ in range(3):
            depth = np.ascontiguousarray(raw, dtype=np.uint16)
            color = np.ascontiguousarray(rgb, dtype=np.uint8)
            self._held = (depth, color)  # the pixels must outlive their frames
            fd = self._video_frame(depth, self.profile, 2, self.intrinsics.width)
            fd.depth_units = self.depth_units
            fc = self._video_frame(color, self.color_profile, 3, self.color_intrinsics.width)
            self._frame_number += 1
            self.sensor.on_video_frame(fd)
            self.color_sensor.on_video_frame(fc)
            ok, fs = self.syncer.try_wait_for_frames(self.config.timeout_ms)
            while ok:
                if fs.get_depth_frame() and fs.get_color_frame():
                    return fs
                ok, fs = self.syncer.try_wait_for_frames(50)
        raise CameraError("the software device's syncer paired no depth frame with a colour frame")

    def capture(self) -> DepthFrame:
        self.filters.reset()
        out = None
        clean = self.clean_depth()  # the scene holds still during a burst
        if self.config.color:
            rgb = self.clean_color()
            for _ in range(self.config.burst):
                out = self.filters.process(self.inject_pair(self.synthetic_depth(clean), rgb))
            return to_color_depth_frame(out, self.align, self.config.max_depth)
        for _ in range(self.config.burst):
            out = self.filters.process(self.inject(self.synthetic_depth(clean)))
        return to_depth_frame(out, self.config.max_depth)

    def close(self) -> None:
        if getattr(self, "_open", False):
            for sensor in (self.sensor, getattr(self, "color_sensor", None)):
                if sensor is not None:
                    sensor.stop()
                    sensor.close()
            self._open = False
