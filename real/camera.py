"""Intel RealSense D435 depth (and colour) through pyrealsense2: stream, SDK filters, metres and intrinsics.

Every depth frame, whether it comes from a physical camera (:class:`RealSenseCamera`) or from
librealsense's software device (:class:`real.software_camera.SoftwareDepthCamera`), goes through the
same :class:`DepthFilterChain` (the SDK's spatial, temporal and hole-filling filters) and the same
conversion to a :class:`DepthFrame` (float32 metres plus the stream's intrinsics).

With ``RealSenseConfig.color`` the colour stream runs too: each filtered depth frame's colour
comes from the SDK's ``rs.align`` to the depth stream (through the factory depth-to-colour
extrinsics), so ``DepthFrame.color`` is an (H, W, 3) uint8 image on the depth frame's pixels
(black where the colour camera does not see the depth pixel's point).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from real.calibration import Intrinsics

#: Depth stream resolutions the D435 offers that the pipeline accepts.
RESOLUTIONS = ((848, 480), (640, 480))
#: Colour stream resolutions the pipeline accepts (the D435's RGB sensor, rgb8).
COLOR_RESOLUTIONS = ((640, 480), (848, 480), (1280, 720), (1920, 1080))
HOLE_FILL_MODES = {"fill_from_left": 0, "farthest_from_around": 1, "nearest_from_around": 2}


class CameraError(RuntimeError):
    """The depth camera could not be opened or delivered no frame; the message says what to check."""


def import_pyrealsense2():
    try:
        import pyrealsense2 as rs
    except ImportError as e:
        raise ImportError(
            "the RealSense backend needs pyrealsense2 (and Debian's libusb-1.0-0): "
            "pip install 'grasp-envs[real]' && apt-get install libusb-1.0-0"
        ) from e
    return rs


@dataclass(frozen=True)
class RealSenseConfig:
    """Depth stream and post-processing settings.

    Attributes:
        width: Depth stream width (848 or 640; the D435's best depth quality is at 848 x 480).
        height: Depth stream height (480).
        fps: Frame rate.
        serial: Serial number of the camera to open, or ``""`` for the only one connected.
        spatial: Apply the SDK's edge-preserving spatial filter.
        spatial_magnitude: Spatial filter iterations (1-5).
        spatial_alpha: Spatial filter smoothing alpha (0.25-1).
        spatial_delta: Spatial filter step threshold (depth units, 1-50).
        temporal: Apply the SDK's temporal filter over the captured burst.
        temporal_alpha: Temporal filter alpha (0-1).
        temporal_delta: Temporal filter delta (1-100).
        hole_filling: Apply the SDK's hole-filling filter.
        hole_fill_mode: ``"fill_from_left"``, ``"farthest_from_around"`` or ``"nearest_from_around"``.
        burst: Frames captured per observation (the temporal filter averages them; the last is used).
        warmup_frames: Frames dropped after the stream starts (auto-exposure settles).
        timeout_ms: Longest wait for one frame.
        max_depth: Depth beyond this (m) is treated as missing.
        color: Also stream colour, aligned to depth (``DepthFrame.color``); the ``rgbd`` and
            ``all`` observation presets need it.
        color_width: Colour stream width.
        color_height: Colour stream height.
    """

    width: int = 848
    height: int = 480
    fps: int = 30
    serial: str = ""
    spatial: bool = True
    spatial_magnitude: int = 2
    spatial_alpha: float = 0.5
    spatial_delta: float = 20.0
    temporal: bool = True
    temporal_alpha: float = 0.4
    temporal_delta: float = 20.0
    hole_filling: bool = True
    hole_fill_mode: str = "farthest_from_around"
    burst: int = 5
    warmup_frames: int = 15
    timeout_ms: int = 2000
    max_depth: float = 3.0
    color: bool = False
    color_width: int = 640
    color_height: int = 480

    def __post_init__(self) -> None:
        if (self.width, self.height) not in RESOLUTIONS:
            raise ValueError(f"depth resolution must be one of {RESOLUTIONS}, got {(self.width, self.height)}")
        if self.fps not in (6, 15, 30, 60, 90):
            raise ValueError(f"fps must be one of 6, 15, 30, 60, 90, got {self.fps}")
        if not 1 <= self.spatial_magnitude <= 5:
            raise ValueError(f"spatial_magnitude must be in [1, 5], got {self.spatial_magnitude}")
        if not 0.25 <= self.spatial_alpha <= 1.0:
            raise ValueError(f"spatial_alpha must be in [0.25, 1], got {self.spatial_alpha}")
        if not 1 <= self.spatial_delta <= 50:
            raise ValueError(f"spatial_delta must be in [1, 50], got {self.spatial_delta}")
        if not 0.0 <= self.temporal_alpha <= 1.0:
            raise ValueError(f"temporal_alpha must be in [0, 1], got {self.temporal_alpha}")
        if not 1 <= self.temporal_delta <= 100:
            raise ValueError(f"temporal_delta must be in [1, 100], got {self.temporal_delta}")
        if self.hole_fill_mode not in HOLE_FILL_MODES:
            raise ValueError(f"hole_fill_mode must be one of {sorted(HOLE_FILL_MODES)}, got {self.hole_fill_mode!r}")
        if self.burst < 1 or self.warmup_frames < 0 or self.timeout_ms < 1:
            raise ValueError("burst and timeout_ms must be positive and warmup_frames non-negative")
        if self.max_depth <= 0:
            raise ValueError(f"max_depth must be positive, got {self.max_depth}")
        if (self.color_width, self.color_height) not in COLOR_RESOLUTIONS:
            raise ValueError(f"colour resolution must be one of {COLOR_RESOLUTIONS}, "
                             f"got {(self.color_width, self.color_height)}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DepthFrame:
    """One processed depth image: float32 metres (0 where missing) and the stream's intrinsics.

    ``color``: the colour aligned to it, (H, W, 3) uint8 on the depth pixels, when the colour
    stream runs (``RealSenseConfig.color``); ``None`` otherwise.
    """

    depth: np.ndarray
    intrinsics: Intrinsics
    timestamp_ms: float = 0.0
    color: np.ndarray | None = None


class DepthFilterChain:
    """The SDK's filters in Intel's recommended order: depth to disparity, spatial, temporal,
    disparity to depth, hole filling.

    The temporal filter keeps state across frames; :meth:`reset` rebuilds it for a new scene.
    """

    def __init__(self, config: RealSenseConfig) -> None:
        self.config = config
        self.rs = import_pyrealsense2()
        self.reset()

    def reset(self) -> None:
        rs, c = self.rs, self.config
        self.filters = []
        # Intel's post-processing guide: spatial and temporal filtering in the disparity domain.
        # Applied to depth directly, the spatial filter biases depth (about +3 mm at 0.7-1 m).
        in_disparity = c.spatial or c.temporal
        if in_disparity:
            self.filters.append(rs.disparity_transform(True))
        if c.spatial:
            f = rs.spatial_filter()
            f.set_option(rs.option.filter_magnitude, c.spatial_magnitude)
            f.set_option(rs.option.filter_smooth_alpha, c.spatial_alpha)
            f.set_option(rs.option.filter_smooth_delta, c.spatial_delta)
            self.filters.append(f)
        if c.temporal:
            f = rs.temporal_filter()
            f.set_option(rs.option.filter_smooth_alpha, c.temporal_alpha)
            f.set_option(rs.option.filter_smooth_delta, c.temporal_delta)
            self.filters.append(f)
        if in_disparity:
            self.filters.append(rs.disparity_transform(False))
        if c.hole_filling:
            f = rs.hole_filling_filter()
            f.set_option(rs.option.holes_fill, HOLE_FILL_MODES[c.hole_fill_mode])
            self.filters.append(f)

    def process(self, frame):
        """Filter a depth frame, or the depth frame of a frameset (which stays a frameset)."""
        for f in self.filters:
            frame = f.process(frame)
        return frame.as_frameset() if frame.is_frameset() else frame


def to_color_depth_frame(frameset, align, max_depth: float) -> DepthFrame:
    """A (filtered) depth + colour frameset as a :class:`DepthFrame` whose colour is aligned to the depth.

    ``align`` is an ``rs.align(rs.stream.depth)`` block: the SDK reprojects each depth pixel's
    point into the colour image through the streams' intrinsics and extrinsics.
    """
    aligned = align.process(frameset).as_frameset()
    depth, color = aligned.get_depth_frame(), aligned.get_color_frame()
    if not depth or not color:
        raise CameraError("the camera delivered a frameset without depth and colour; check that both streams run")
    frame = to_depth_frame(depth, max_depth)
    rgb = np.asanyarray(color.get_data())
    if rgb.shape != (*frame.depth.shape, 3):
        raise CameraError(f"aligned colour has shape {rgb.shape}, expected {(*frame.depth.shape, 3)} (rgb8)")
    return DepthFrame(frame.depth, frame.intrinsics, frame.timestamp_ms, rgb.copy())


def to_depth_frame(frame, max_depth: float) -> DepthFrame:
    """Convert a (filtered) pyrealsense2 depth frame to metres with the stream's intrinsics."""
    depth = frame.as_depth_frame()
    units = float(depth.get_units())
    if not units > 0:
        raise CameraError(f"the depth frame reports depth units {units}; the depth sensor's depth_units option is unset")
    raw = np.asanyarray(depth.get_data())
    metres = raw.astype(np.float32) * np.float32(units)
    metres[(metres > max_depth)] = 0.0
    ri = depth.profile.as_video_stream_profile().get_intrinsics()
    intr = Intrinsics(int(ri.width), int(ri.height), float(ri.fx), float(ri.fy), float(ri.ppx), float(ri.ppy))
    return DepthFrame(metres, intr, float(depth.get_timestamp()))


class RealSenseCamera:
    """A physical D435 through ``rs.pipeline`` (USB 3 required for 848 x 480 depth at 30 fps)."""

    def __init__(self, config: RealSenseConfig | dict | None = None) -> None:
        self.config = config if isinstance(config, RealSenseConfig) else RealSenseConfig(**(config or {}))
        self.rs = import_pyrealsense2()
        self.filters = DepthFilterChain(self.config)
        self.pipeline = None

    def start(self) -> None:
        rs, c = self.rs, self.config
        devices = rs.context().query_devices()
        if len(devices) == 0:
            raise CameraError(
                "no RealSense camera is connected; plug the D435 into a USB 3 port and check `rs-enumerate-devices`"
            )
        cfg = rs.config()
        if c.serial:
            cfg.enable_device(c.serial)
        cfg.enable_stream(rs.stream.depth, c.width, c.height, rs.format.z16, c.fps)
        if c.color:
            cfg.enable_stream(rs.stream.color, c.color_width, c.color_height, rs.format.rgb8, c.fps)
            self.align = rs.align(rs.stream.depth)
        self.pipeline = rs.pipeline()
        try:
            self.pipeline.start(cfg)
        except RuntimeError as e:
            self.pipeline = None
            raise CameraError(
                f"could not start a {c.width}x{c.height}@{c.fps} depth stream ({e}); check the serial "
                "number and that the camera sits on a USB 3 port"
            ) from e
        for _ in range(c.warmup_frames):
            self.pipeline.wait_for_frames(c.timeout_ms)

    def capture(self) -> DepthFrame:
        if self.pipeline is None:
            self.start()
        self.filters.reset()
        out = None
        for _ in range(self.config.burst):
            try:
                frames = self.pipeline.wait_for_frames(self.config.timeout_ms)
            except RuntimeError as e:
                raise CameraError(f"no depth frame within {self.config.timeout_ms} ms ({e}); check the USB cable") from e
            out = self.filters.process(frames if self.config.color else frames.get_depth_frame())
        if self.config.color:
            return to_color_depth_frame(out, self.align, self.config.max_depth)
        return to_depth_frame(out, self.config.max_depth)

    def close(self) -> None:
        if self.pipeline is not None:
            self.pipeline.stop()
            self.pipeline = None
