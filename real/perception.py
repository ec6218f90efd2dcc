"""From a real depth frame to the simulated observation: point cloud, table plane, box, virtual view.

1. :func:`deproject` turns the real depth image into optical-frame points with the stream's own
   intrinsics; the calibration moves them into the table frame.
2. :func:`segment_object` fits the table plane (RANSAC near the calibrated table height, then least
   squares), keeps points above it inside the region of interest, and keeps the largest connected
   blob seen from above: the object.  Its axis-aligned box (zmin = 0: it rests on the table) is
   the observation's ``bbox``, the box the action grid is relative to.
3. :func:`render_virtual_depth` reprojects the cloud into the simulator's virtual camera
   (``ObservationConfig.camera`` at ``ObservationConfig.camera_poses(bbox)``), keeping the nearest
   point per pixel.  Pixels no point falls into see the table plane (or ``far`` where the ray
   misses it), which is what the simulated camera sees there.
4. :func:`render_virtual_labels` images per-point values (the D435's aligned colour, or the
   segmentation's labels) the same way: each pixel gets the value of the point the depth image
   shows there.
5. :func:`estimate_object_motion` compares the object found in two observations (before and after
   a failed grasp): the robot cannot see the object's pose, so whether it moved is *estimated*
   from the observed points alone (their centroid and their footprint seen from above).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from grasp_envs.camera import CameraModel
from grasp_envs.envs.hand_camera import NEAR, splat_depth, table_plane_depth
from real.calibration import Calibration, Intrinsics


class SegmentationError(RuntimeError):
    """No table or no object could be found in the depth image; the message says what to check."""


@dataclass(frozen=True)
class SegmentationConfig:
    """Table-plane segmentation parameters (metres, table frame).

    Attributes:
        roi_min: Lower corner (x, y) of the region of the table where objects are looked for.
        roi_max: Upper corner (x, y) of that region.
        max_object_height: Points higher than this above the table are ignored (the arm, clutter).
        object_threshold: Points at least this far above the fitted plane belong to objects.
        table_search: Points within this distance of the calibrated table height seed the plane fit.
        max_table_offset: The fitted plane may sit at most this far from the calibrated height.
        max_table_tilt_deg: The fitted plane's normal may tilt at most this much from vertical.
        ransac_iterations: RANSAC hypotheses for the plane.
        ransac_tolerance: Inlier distance for RANSAC (m).
        cell: Grid cell (m) for the connected-component step.
        min_object_points: Fewest points an object blob must have.
    """

    roi_min: tuple[float, float] = (-0.25, -0.25)
    roi_max: tuple[float, float] = (0.25, 0.25)
    max_object_height: float = 0.35
    object_threshold: float = 0.008
    table_search: float = 0.05
    max_table_offset: float = 0.03
    max_table_tilt_deg: float = 5.0
    ransac_iterations: int = 100
    ransac_tolerance: float = 0.004
    cell: float = 0.005
    min_object_points: int = 30

    def __post_init__(self) -> None:
        lo, hi = np.asarray(self.roi_min, float), np.asarray(self.roi_max, float)
        if lo.shape != (2,) or hi.shape != (2,) or np.any(hi <= lo):
            raise ValueError(f"roi_min must be below roi_max in x and y, got {self.roi_min} and {self.roi_max}")
        object.__setattr__(self, "roi_min", tuple(float(v) for v in lo))
        object.__setattr__(self, "roi_max", tuple(float(v) for v in hi))
        if not 0 < self.object_threshold < self.max_object_height:
            raise ValueError("object_threshold must be positive and below max_object_height")
        for name in ("table_search", "max_table_offset", "ransac_tolerance", "cell"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 < self.max_table_tilt_deg < 45:
            raise ValueError(f"max_table_tilt_deg must be in (0, 45), got {self.max_table_tilt_deg}")
        if self.ransac_iterations < 1 or self.min_object_points < 1:
            raise ValueError("ransac_iterations and min_object_points must be positive")


@dataclass(frozen=True)
class Segmentation:
    """Result of :func:`segment_object`: the cloud in the plane-corrected table frame and the object."""

    points: np.ndarray  # (n, 3) all valid points, heights measured from the fitted plane
    object_mask: np.ndarray  # (n,) bool
    bounds: np.ndarray  # (2, 3) object box, zmin = 0
    plane: np.ndarray  # (4,) a, b, c, d with a x + b y + c z + d = 0, unit normal pointing up


@dataclass(frozen=True)
class MotionConfig:
    """When two observations show the object at different rests (:func:`estimate_object_motion`).

    The simulated envs know the object's pose and call it moved past 1 mm or 1 degree; a depth
    camera resolves neither, so the real env's thresholds are the camera's: a few millimetres of
    centroid shift, or a footprint that no longer overlaps its old self.

    Attributes:
        moved_distance: The object moved if the centroid of its observed points shifted more than
            this (m).
        min_overlap: ... or if its footprint seen from above (the segmentation's ``cell`` grid)
            overlaps the old one less than this (intersection over union): a turn or a topple
            that leaves the centroid in place.

    On the stand-in rig (:mod:`real.standins`) an object that stayed put is re-observed within
    0.2 mm and an overlap of 0.995, and a 4 mm slide or a 10 degree turn of the 5 x 8 cm box
    gives an overlap below 0.87.  Check a real camera the same way: observe a still object twice.
    """

    moved_distance: float = 0.003
    min_overlap: float = 0.9

    def __post_init__(self) -> None:
        if not self.moved_distance > 0:
            raise ValueError(f"motion moved_distance must be a positive distance (m), got {self.moved_distance}")
        if not 0 < self.min_overlap <= 1:
            raise ValueError(f"motion min_overlap must be in (0, 1], got {self.min_overlap}")


@dataclass(frozen=True)
class ObjectMotion:
    """What :func:`estimate_object_motion` saw: an estimate from the depth, not a measured pose."""

    displacement: float  # shift (m) of the centroid of the object's observed points
    overlap: float  # intersection over union of the footprints seen from above
    moved: bool


def estimate_object_motion(before: Segmentation, after: Segmentation, config: SegmentationConfig,
                           motion: MotionConfig) -> ObjectMotion:
    """Estimate how the object moved between two segmentations of the scene, from what they observed.

    The displacement is the shift of the centroid of the object's points (table frame, heights
    above the fitted plane); the footprint is the set of ``config.cell`` grid cells its points
    cover seen from above.  Both see only the camera-facing surface, so a turn of a symmetric
    object, or a shift under a few millimetres, can go unseen.
    """
    a, b = before.points[before.object_mask], after.points[after.object_mask]
    shift = float(np.linalg.norm(b.mean(axis=0) - a.mean(axis=0)))
    cells_a = {tuple(c) for c in np.floor(a[:, :2] / config.cell).astype(np.int64)}
    cells_b = {tuple(c) for c in np.floor(b[:, :2] / config.cell).astype(np.int64)}
    overlap = len(cells_a & cells_b) / len(cells_a | cells_b)
    return ObjectMotion(shift, float(overlap), bool(shift > motion.moved_distance or overlap < motion.min_overlap))


def deproject(depth: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Optical-frame points (n, 3) of the valid (non-zero) pixels of a depth image in metres."""
    h, w = depth.shape
    if (w, h) != (intrinsics.width, intrinsics.height):
        raise ValueError(f"depth image is {w} x {h} but the intrinsics are for {intrinsics.width} x {intrinsics.height}")
    v, u = np.nonzero(depth > 0)
    z = depth[v, u].astype(np.float64)
    # librealsense pixel (u, v) has its centre at (u, v) in rs2_deproject_pixel_to_point.
    x = (u - intrinsics.ppx) / intrinsics.fx * z
    y = (v - intrinsics.ppy) / intrinsics.fy * z
    return np.stack([x, y, z], axis=1)


def to_table_frame(points_cam: np.ndarray, calibration: Calibration) -> np.ndarray:
    R, t = calibration.camera_to_table
    return points_cam @ R.T + t


def fit_table_plane(points: np.ndarray, config: SegmentationConfig, rng: np.random.Generator) -> np.ndarray:
    """Plane (a, b, c, d), unit normal up, fitted to the table points of a table-frame cloud."""
    near = points[np.abs(points[:, 2]) < config.table_search]
    if len(near) < 3:
        raise SegmentationError(
            f"no table surface within {config.table_search * 100:.0f} cm of the calibrated height; check that the "
            "camera sees the table and that table_origin z in the calibration file is the table height"
        )
    sample = near if len(near) <= 20000 else near[rng.choice(len(near), 20000, replace=False)]
    best, best_count = None, -1
    for _ in range(config.ransac_iterations):
        p = sample[rng.choice(len(sample), 3, replace=False)]
        n = np.cross(p[1] - p[0], p[2] - p[0])
        norm = np.linalg.norm(n)
        if norm < 1e-12:
            continue
        n /= norm
        if n[2] < 0:
            n = -n
        if np.degrees(np.arccos(np.clip(n[2], -1, 1))) > config.max_table_tilt_deg:
            continue
        d = -n @ p[0]
        count = int(np.sum(np.abs(sample @ n + d) < config.ransac_tolerance))
        if count > best_count:
            best, best_count = (n, d), count
    if best is None:
        raise SegmentationError(
            f"found no near-horizontal plane (tilt <= {config.max_table_tilt_deg} degrees) near the table height; "
            "check the calibration's camera_to_base rotation"
        )
    n, d = best
    inl = sample[np.abs(sample @ n + d) < config.ransac_tolerance]
    # Least-squares refinement z = a x + b y + c on the inliers.
    A = np.column_stack([inl[:, 0], inl[:, 1], np.ones(len(inl))])
    (a, b, c), *_ = np.linalg.lstsq(A, inl[:, 2], rcond=None)
    n = np.array([-a, -b, 1.0])
    s = np.linalg.norm(n)
    plane = np.array([n[0], n[1], n[2], -c]) / s
    offset = -plane[3] / plane[2]
    tilt = np.degrees(np.arccos(plane[2]))
    if abs(offset) > config.max_table_offset or tilt > config.max_table_tilt_deg:
        raise SegmentationError(
            f"the table plane sits {offset * 100:+.1f} cm from the calibrated height and tilts {tilt:.1f} degrees; "
            "re-measure table_origin z or recalibrate the camera (docs/real_robot.md, 'Calibration')"
        )
    return plane


def segment_object(points: np.ndarray, config: SegmentationConfig, rng: np.random.Generator) -> Segmentation:
    """Fit the table, then find the object above it (the largest blob in the region of interest)."""
    plane = fit_table_plane(points, config, rng)
    pts = points.copy()
    pts[:, 2] = points @ plane[:3] + plane[3]  # height above the fitted plane
    lo, hi = np.asarray(config.roi_min), np.asarray(config.roi_max)
    cand = (
        (pts[:, 2] > config.object_threshold)
        & (pts[:, 2] < config.max_object_height)
        & np.all(pts[:, :2] >= lo, axis=1)
        & np.all(pts[:, :2] <= hi, axis=1)
    )
    if cand.sum() < config.min_object_points:
        raise SegmentationError(
            f"no object on the table: {int(cand.sum())} points lie more than {config.object_threshold * 1000:.0f} mm "
            f"above it in the region x {config.roi_min[0]:+.2f}..{config.roi_max[0]:+.2f}, "
            f"y {config.roi_min[1]:+.2f}..{config.roi_max[1]:+.2f} m; place an object there"
        )
    idx = np.nonzero(cand)[0]
    cells = np.floor((pts[idx, :2] - lo) / config.cell).astype(np.int64)
    shape = tuple(np.ceil((hi - lo) / config.cell).astype(int) + 1)
    occ = np.zeros(shape, dtype=bool)
    occ[cells[:, 0], cells[:, 1]] = True
    labels, n = ndimage.label(occ, structure=np.ones((3, 3)))
    point_labels = labels[cells[:, 0], cells[:, 1]]
    counts = np.bincount(point_labels, minlength=n + 1)
    counts[0] = 0
    keep = idx[point_labels == np.argmax(counts)]
    if len(keep) < config.min_object_points:
        raise SegmentationError(
            f"the largest blob above the table has only {len(keep)} points (< {config.min_object_points}); "
            "the object is too small or too far from the camera"
        )
    mask = np.zeros(len(pts), dtype=bool)
    mask[keep] = True
    obj = pts[keep]
    bounds = np.array([[*obj[:, :2].min(axis=0), 0.0], [*obj[:, :2].max(axis=0), obj[:, 2].max()]])
    return Segmentation(pts, mask, bounds, plane)


def render_virtual_depth(points: np.ndarray, camera: CameraModel, position: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Depth image (H, W) float32 of a table-frame cloud seen by a virtual pinhole camera.

    ``rotation`` is the camera-to-table rotation of the optical frame, as returned by
    ``ObservationConfig.camera_poses``.  Nearest point per pixel (the z-buffer the hand camera's
    reprojection uses, :func:`grasp_envs.envs.hand_camera.splat_depth`); empty pixels see the
    table plane z = 0, or ``camera.far`` where their ray does not hit it.
    """
    R = np.asarray(rotation, dtype=np.float64)
    pos = np.asarray(position, dtype=np.float64)
    q = (np.asarray(points, dtype=np.float64) - pos) @ R  # camera-frame coordinates (R^T (p - pos))
    img = splat_depth(q[None], None, camera)[0]
    empty = ~np.isfinite(img)
    if empty.any():
        img[empty] = table_plane_depth(camera, pos[None], R[None])[0][empty]
    return np.minimum(img, camera.far).astype(np.float32)


def nearest_point_image(points: np.ndarray, camera: CameraModel, position: np.ndarray,
                        rotation: np.ndarray) -> np.ndarray:
    """Index (H, W) of the nearest table-frame point imaged in each pixel of a virtual camera, -1 where none.

    The z-buffer of :func:`render_virtual_depth` (each point covers the pixel its ray falls in),
    so the point a pixel's index names is the one whose depth that pixel shows.
    """
    R = np.asarray(rotation, dtype=np.float64)
    q = (np.asarray(points, dtype=np.float64) - np.asarray(position, dtype=np.float64)) @ R
    H, W, f = camera.height, camera.width, camera.focal
    idx = np.flatnonzero(q[:, 2] > NEAR)
    z = q[idx, 2]
    u = np.floor(q[idx, 0] / z * f + W / 2).astype(np.int64)
    v = np.floor(q[idx, 1] / z * f + H / 2).astype(np.int64)
    ok = (u >= 0) & (u < W) & (v >= 0) & (v < H)
    idx, z, flat = idx[ok], z[ok], (v * W + u)[ok]
    zbuf = np.full(H * W, np.inf)
    np.minimum.at(zbuf, flat, z)
    win = z == zbuf[flat]
    out = np.full(H * W, -1, np.int64)
    out[flat[win]] = idx[win]
    return out.reshape(H, W)


def render_virtual_labels(points: np.ndarray, values: np.ndarray, camera: CameraModel, position: np.ndarray,
                          rotation: np.ndarray, empty, table=None) -> np.ndarray:
    """Per-point ``values`` (n, ...) imaged by a virtual camera: each pixel takes its nearest point's value.

    Pixels no point falls into take ``table`` where their ray meets the table plane (as
    :func:`render_virtual_depth` gives them the plane's depth; ``None``: ``empty`` too), else ``empty``.
    """
    values = np.asarray(values)
    near = nearest_point_image(points, camera, position, rotation)
    out = np.empty((*near.shape, *values.shape[1:]), values.dtype)
    out[...] = empty
    has = near >= 0
    out[has] = values[near[has]]
    if table is not None:
        plane = table_plane_depth(camera, np.asarray(position, np.float64)[None],
                                  np.asarray(rotation, np.float64)[None])[0]
        out[~has & (plane < camera.far)] = table
    return out
