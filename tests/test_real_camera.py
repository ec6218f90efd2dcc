"""librealsense's software device: frames injected, read back through the SDK's queue and filters."""

import numpy as np
import pytest

rs = pytest.importorskip("pyrealsense2", exc_type=ImportError)

from real.camera import DepthFilterChain, RealSenseConfig, to_depth_frame  # noqa: E402
from real.software_camera import D435_640, D435_848, Box, SoftwareDepthCamera, TableScene  # noqa: E402
from real.standins import standin_calibration  # noqa: E402

NO_FILTERS = dict(spatial=False, temporal=False, hole_filling=False, burst=1)


def _same(a, b):
    """Intrinsics equal up to the SDK's float32 storage."""
    va = [a.width, a.height, a.fx, a.fy, a.ppx, a.ppy]
    vb = [b.width, b.height, b.fx, b.fy, b.ppx, b.ppy]
    return np.allclose(va, vb, rtol=1e-6)


@pytest.fixture
def scene():
    return TableScene([Box([0.0, 0.0, 0.03], [0.05, 0.05, 0.06])])


def test_frames_round_trip_in_metres_with_intrinsics(scene):
    cam = SoftwareDepthCamera(scene, standin_calibration(), RealSenseConfig(**NO_FILTERS), noise_sigma=0.0, dropout=0.0)
    try:
        raw = (np.arange(848 * 480, dtype=np.uint32) % 3000).astype(np.uint16).reshape(480, 848)
        frame = to_depth_frame(cam.inject(raw), max_depth=3.0)
        assert _same(frame.intrinsics, D435_848)
        np.testing.assert_allclose(frame.depth, raw * 0.001, rtol=1e-6)  # depth units from the sensor option
        assert frame.depth.dtype == np.float32
    finally:
        cam.close()


def test_hole_filling_filter_fills_dropouts(scene):
    cal = standin_calibration()
    raw_cam = SoftwareDepthCamera(scene, cal, RealSenseConfig(**NO_FILTERS), dropout=0.05)
    filled_cam = SoftwareDepthCamera(scene, cal, RealSenseConfig(burst=3), dropout=0.05, seed=1)
    try:
        raw, filled = raw_cam.capture(), filled_cam.capture()
        truth = raw_cam.clean_depth()
        seen = truth > 0
        assert np.mean(raw.depth[seen] == 0) > 0.04  # the dropouts reach the SDK
        assert np.mean(filled.depth[seen] == 0) < 0.001  # ... and its hole-filling filter fills them
        # The spatial and temporal filters denoise: closer to the clean depth than one raw frame.
        ok = seen & (raw.depth > 0)
        assert np.median(np.abs(filled.depth[ok] - truth[ok])) <= np.median(np.abs(raw.depth[ok] - truth[ok]))
    finally:
        raw_cam.close()
        filled_cam.close()


def test_640_stream(scene):
    cam = SoftwareDepthCamera(scene, standin_calibration(), RealSenseConfig(width=640, burst=1))
    try:
        frame = cam.capture()
        assert frame.depth.shape == (480, 640) and _same(frame.intrinsics, D435_640)
    finally:
        cam.close()


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(width=1280, height=720), "depth resolution must be one of"),
        (dict(fps=25), "fps must be one of"),
        (dict(hole_fill_mode="nearest"), "hole_fill_mode must be one of"),
        (dict(spatial_alpha=0.1), "spatial_alpha must be in"),
    ],
)
def test_config_validation(kw, message):
    with pytest.raises(ValueError, match=message):
        RealSenseConfig(**kw)


def test_filter_chain_order():
    chain = DepthFilterChain(RealSenseConfig())
    names = [type(f).__name__ for f in chain.filters]
    assert names == ["disparity_transform", "spatial_filter", "temporal_filter", "disparity_transform", "hole_filling_filter"]
