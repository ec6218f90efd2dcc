"""Point cloud -> table segmentation -> box -> virtual camera, against ray-cast ground truth."""

import numpy as np
import pytest

from grasp_envs.envs.observations import ObservationConfig
from real.calibration import Calibration, Intrinsics
from real.perception import (
    MotionConfig,
    SegmentationConfig,
    SegmentationError,
    deproject,
    estimate_object_motion,
    render_virtual_depth,
    segment_object,
    to_table_frame,
)
from real.software_camera import D435_848, Box, TableScene
from real.standins import standin_calibration

CAL = standin_calibration()


def _cloud(scene, noise=0.0, seed=0, cal=CAL):
    R, t = cal.camera_to_table
    depth = scene.depth(D435_848, R, t)
    if noise:
        rng = np.random.default_rng(seed)
        depth = np.where(depth > 0, depth + rng.normal(0, noise, depth.shape), 0)
    return to_table_frame(deproject(depth, D435_848), cal)


def _virtual_truth(scene, cam, pos, R):
    """Depth the simulator's virtual camera would see, ray cast directly (pixel centres at +0.5)."""
    intr = Intrinsics(cam.width, cam.height, cam.focal, cam.focal, cam.width / 2 - 0.5, cam.height / 2 - 0.5)
    d = scene.depth(intr, R, pos)
    return np.where(d > 0, np.minimum(d, cam.far), cam.far)


@pytest.mark.parametrize("yaw", [0.0, 0.5])
def test_bbox_from_table_segmentation(yaw):
    box = Box([0.03, -0.02, 0.04], [0.06, 0.10, 0.08], yaw=yaw)
    seg = segment_object(_cloud(TableScene([box]), noise=0.001), SegmentationConfig(), np.random.default_rng(0))
    truth = box.bounds
    truth[0, 2] = 0.0
    # The camera sees the top and the sides facing it; the box is within 1 cm of the true box.
    np.testing.assert_allclose(seg.bounds, truth, atol=0.01)
    assert abs(seg.plane[3]) < 0.002 and seg.plane[2] > 0.999


def test_largest_blob_is_the_object_and_specks_are_ignored():
    box = Box([0.0, 0.0, 0.03], [0.05, 0.05, 0.06])
    speck = Box([0.18, 0.18, 0.01], [0.006, 0.006, 0.02])
    seg = segment_object(_cloud(TableScene([box, speck])), SegmentationConfig(), np.random.default_rng(0))
    assert seg.bounds[1, 0] < 0.05


def test_virtual_depth_matches_the_virtual_camera():
    scene = TableScene([Box([0.02, -0.01, 0.03], [0.05, 0.08, 0.06], yaw=0.3)])
    seg = segment_object(_cloud(scene), SegmentationConfig(), np.random.default_rng(0))
    cfg = ObservationConfig(n_cameras=1)
    (pos, R), = cfg.camera_poses(seg.bounds)
    img = render_virtual_depth(seg.points, cfg.camera, pos, R)
    truth = _virtual_truth(scene, cfg.camera, pos, R)
    err = np.abs(img - truth)
    assert img.shape == (cfg.height, cfg.width) and img.dtype == np.float32
    # Reprojection from another viewpoint: exact in the interior, off only along the box's edges.
    assert np.median(err) < 0.001
    assert np.mean(err > 0.01) < 0.03
    # The object is where the virtual camera expects it: the top face at 0.70 - 0.06 m.
    assert abs(img.min() - (cfg.camera_height - 0.06)) < 0.003


def test_empty_table_and_wrong_table_height_are_explained():
    with pytest.raises(SegmentationError, match="no object on the table"):
        segment_object(_cloud(TableScene([])), SegmentationConfig(), np.random.default_rng(0))
    # The calibration says the table is 4 cm lower than it is.
    wrong = Calibration(CAL.translation, CAL.quaternion, (0.70, 0.0, 0.68))
    R, t = CAL.camera_to_table
    depth = TableScene([]).depth(D435_848, R, t)
    cloud = to_table_frame(deproject(depth, D435_848), wrong)
    with pytest.raises(SegmentationError, match="sits \\+4.0 cm from the calibrated height.*re-measure table_origin z"):
        segment_object(cloud, SegmentationConfig(), np.random.default_rng(0))


def test_segmentation_config_validation():
    with pytest.raises(ValueError, match="roi_min must be below roi_max"):
        SegmentationConfig(roi_min=(0.1, 0.0), roi_max=(0.0, 0.1))
    with pytest.raises(ValueError, match="intrinsics are for"):
        deproject(np.zeros((10, 10)), D435_848)


@pytest.mark.parametrize("change, moved", [
    ({}, False),  # the same box seen again through new noise
    ({"center": [0.03, 0.0, 0.03]}, True),  # slid 2 cm
    ({"yaw": 0.3 + np.radians(20)}, True),  # turned in place: the centroid stays, the footprint does not
    ({"center": [0.01, 0.0, 0.025], "size": [0.05, 0.06, 0.05]}, True),  # toppled onto its side
])
def test_object_motion_is_estimated_from_two_observed_clouds(change, moved):
    cfg, rng = SegmentationConfig(), np.random.default_rng(0)
    before = {"center": [0.01, 0.0, 0.03], "size": [0.05, 0.06, 0.06], "yaw": 0.3}
    a = segment_object(_cloud(TableScene([Box(**before)]), noise=0.001, seed=1), cfg, rng)
    b = segment_object(_cloud(TableScene([Box(**{**before, **change})]), noise=0.001, seed=2), cfg, rng)
    est = estimate_object_motion(a, b, cfg, MotionConfig())
    assert est.moved is moved
    if not moved:
        assert est.displacement < 1e-3 and est.overlap > 0.95
    if "center" in change and "size" not in change:
        assert abs(est.displacement - 0.02) < 2e-3  # the centroid of the seen points moves with the box
    with pytest.raises(ValueError, match="min_overlap"):
        MotionConfig(min_overlap=0.0)
    with pytest.raises(ValueError, match="moved_distance"):
        MotionConfig(moved_distance=-1.0)
