"""Can a 10 cm parallel-jaw gripper grasp this object from above, as it comes to rest on a table?

A bounding-box rule ("the smallest side is under the opening") admits flat objects that never
stand on their narrow sides: a 5.8 x 20.5 x 28.4 cm cereal box lies on its largest face, and
from above every width the fingers can reach is then over 20 cm.  This module decides from the
object's **resting poses** and the **widths reachable from above** instead:

1. the stable poses on a plane and their quasi-static probabilities (the chance that a drop in a
   uniformly random orientation ends in each): :func:`trimesh.poses.compute_stable_poses` on the
   convex hull, with the centre of mass of the mesh (deterministic: no centre-of-mass noise);
2. in each pose, for every yaw of a horizontal closing axis (``yaw_steps`` over 180 degrees) and
   every lateral position of the fingers (slabs ``finger_width`` wide, every half finger width),
   the fingers descend from above to a fingertip height ``z``: everything of the object in the
   slab above ``z`` must fit between them, so the opening they need is the extent along the
   closing axis of those points.  A grasp at ``z`` is **reachable** when that opening is below
   the opening less a clearance (:attr:`TopGraspConfig.opening` - ``clearance``: 9 cm of the
   gripper's 10), the fingertips stay above the table (``min_tip_height``), the
   palm does not reach the object (``z`` at most ``finger_length`` below the slab's top), and
   both contacts are inside the friction cone: over ``taper_height`` above each contact the
   surface moves inwards by at most ``friction`` times that height (a sphere pinched above
   its equator squeezes out of the fingers);
3. a pose is graspable when one such grasp exists; the object is **graspable** when its
   graspable poses have a total probability of at least ``min_probability`` (0.5: the object
   lands graspable more often than not).

This is the 4-D (top-down) setting of the paper; 6-D grasps reach more.  Geometry only: mass,
friction of the actual surfaces and the controller are what the simulation adds.  Points are the
mesh's vertices after subdividing every edge longer than ``point_spacing`` (no random sampling),
so the result is deterministic.  Needs trimesh's optional networkx (``pip install
'grasp-envs[objects]'``).  Knows nothing of MuJoCo.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: Geometry of the Fetch-like gripper (equal to ``grasp_envs.sim.gripper``'s constants; tested).
FETCH_OPENING = 0.100
FETCH_FINGER_WIDTH = 0.026
FETCH_FINGER_LENGTH = 0.060


@dataclass(frozen=True)
class TopGraspConfig:
    """The gripper and the resolution of :func:`top_graspability`.

    Attributes:
        opening: Widest opening between the fingers' inner faces (m).
        clearance: What the open fingers must clear the object by, in all (m): a grasp needs an
            opening under ``opening - clearance``.  The fingers descend around the object at a
            position the grid resolves to about a centimetre; a 9.9 cm ball in a 10 cm opening is
            out of reach in practice.
        finger_width: Finger width across the closing axis (m): the slab a grasp holds.
        finger_length: How far the fingers reach below the palm (m).
        friction: Slope of the friction cone the contacts must lie in: the fingers' and objects'
            friction of 1.0 less a margin for the object's weight and the discretisation.
        min_tip_height: Lowest fingertip height above the table (m).
        taper_height: Height over which a contact's surface slope is measured (m).
        min_depth: The fingertips go at least this far below the top of what they hold (m), or
            down to ``min_tip_height`` (an object thinner than that).
        min_probability: Total resting probability of graspable poses for a graspable object.
        max_poses: At most this many resting poses are checked, the likeliest first.
        merge_angle: Resting poses whose normals lie within this angle (degrees) are one pose
            (a scan's hull has hundreds of nearly coplanar facets).
        yaw_steps: Closing-axis yaws tried over 180 degrees.
        height_step: Resolution of fingertip heights (m).
        point_spacing: Longest mesh edge after subdivision (m).
    """

    opening: float = FETCH_OPENING
    clearance: float = 0.01
    finger_width: float = FETCH_FINGER_WIDTH
    finger_length: float = FETCH_FINGER_LENGTH
    friction: float = 0.8
    min_tip_height: float = 0.002
    taper_height: float = 0.01
    min_depth: float = 0.01
    min_probability: float = 0.5
    max_poses: int = 24
    merge_angle: float = 20.0
    yaw_steps: int = 18
    height_step: float = 0.002
    point_spacing: float = 0.004

    def __post_init__(self) -> None:
        for name in ("opening", "finger_width", "finger_length", "friction", "taper_height", "min_depth", "height_step",
                     "point_spacing", "merge_angle"):
            if not getattr(self, name) > 0:
                raise ValueError(f"TopGraspConfig.{name} must be positive, got {getattr(self, name)}")
        if self.min_tip_height < 0:
            raise ValueError(f"TopGraspConfig.min_tip_height must be >= 0, got {self.min_tip_height}")
        if not 0 <= self.clearance < self.opening:
            raise ValueError(f"TopGraspConfig.clearance must lie in [0, opening), got {self.clearance}")
        if not 0 <= self.min_probability <= 1:
            raise ValueError(f"TopGraspConfig.min_probability must lie in [0, 1], got {self.min_probability}")
        for name in ("yaw_steps", "max_poses"):
            if getattr(self, name) < 1:
                raise ValueError(f"TopGraspConfig.{name} must be at least 1, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class RestingPose:
    """One stable resting pose: ``rotation`` (object to table frame), its probability, its
    height, and the opening of a reachable grasp from above (``inf`` when none is reachable;
    :func:`top_graspability` stops at the first yaw with one, so it is not the smallest)."""

    rotation: np.ndarray
    probability: float
    height: float
    min_width: float

    @property
    def graspable(self) -> bool:
        return bool(np.isfinite(self.min_width))


@dataclass(frozen=True, eq=False)
class Graspability:
    """What :func:`top_graspability` found: the resting poses checked (likeliest first, until the
    verdict was settled), the total probability of the graspable ones among them (a lower bound
    on the object's graspable probability), and the verdict."""

    poses: tuple[RestingPose, ...]
    graspable_probability: float
    graspable: bool
    config: TopGraspConfig

    def to_dict(self) -> dict:
        """JSON summary (for an object index)."""
        return {
            "rule": "resting poses, top-down widths",
            "graspable": self.graspable,
            "graspable_probability": round(self.graspable_probability, 4),
            "config": self.config.to_dict(),
            "poses": [{"probability": round(p.probability, 4), "height": round(p.height, 4),
                       "width": None if not p.graspable else round(p.min_width, 4)} for p in self.poses],
        }


def surface_points(vertices: np.ndarray, faces: np.ndarray, spacing: float) -> np.ndarray:
    """The mesh's vertices after subdividing every edge longer than ``spacing`` (deterministic)."""
    from trimesh.remesh import subdivide_to_size

    v, _ = subdivide_to_size(vertices, faces, max_edge=spacing, max_iter=12)
    return np.unique(np.asarray(v, np.float64), axis=0)


def _reverse_cummax(x: np.ndarray) -> np.ndarray:
    return np.maximum.accumulate(x[..., ::-1], axis=-1)[..., ::-1]


_SUB_STRIPS = 4


def pose_min_width(points: np.ndarray, config: TopGraspConfig = TopGraspConfig(), *, first: bool = False) -> float:
    """Smallest opening of a reachable top-down grasp on ``points`` resting on the plane z = 0
    (z up), or ``inf`` when none is reachable (see the module docstring).  ``points`` must cover
    the surface densely (:func:`surface_points`), not only a mesh's corners.  ``first``: stop at
    the first yaw (in order from 0) that has a reachable grasp and return its smallest opening,
    which is enough for a verdict and much cheaper."""
    cfg = config
    p = np.asarray(points, np.float64)
    z = p[:, 2] - p[:, 2].min()
    h = cfg.height_step
    kz = np.floor(z / h).astype(np.int64)
    nb = int(kz.max()) + 1
    taper = max(1, int(round(cfg.taper_height / h)))
    reach, depth = int(np.floor(cfg.finger_length / h)), int(np.ceil(cfg.min_depth / h))
    first_tip = int(np.ceil(cfg.min_tip_height / h))
    half, sub_w = cfg.finger_width / 2, cfg.finger_width / _SUB_STRIPS
    centres = (np.arange(_SUB_STRIPS) + 0.5) * sub_w
    bins = np.arange(nb)
    best = np.inf
    for theta in np.arange(cfg.yaw_steps) * (np.pi / cfg.yaw_steps):
        u = p[:, 0] * np.cos(theta) + p[:, 1] * np.sin(theta)
        w = -p[:, 0] * np.sin(theta) + p[:, 1] * np.cos(theta)
        # Finger positions across the closing axis: the whole finger over the object (a finger
        # hanging off an edge would pinch a corner), or centred when the object is narrower.
        step = half
        if np.ptp(w) <= cfg.finger_width:
            first, n_slabs = 0.5 * (w.min() + w.max()), 1
        else:
            first = w.min() + half
            n_slabs = int(np.floor((w.max() - half - first) / step + 1e-9)) + 1
        # Every point joins the slabs whose finger covers it.
        j0 = np.clip(np.ceil((w - half - first) / step - 1e-9).astype(np.int64), 0, n_slabs)
        j1 = np.clip(np.floor((w + half - first) / step + 1e-9).astype(np.int64), -1, n_slabs - 1)
        count = np.maximum(j1 - j0 + 1, 0)
        pi = np.repeat(np.arange(len(p)), count)
        sj = np.repeat(j0, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
        sub = np.clip(((w[pi] - (first + sj * step - half)) / sub_w).astype(np.int64), 0, _SUB_STRIPS - 1)
        shape = (n_slabs, _SUB_STRIPS, nb)
        flat = np.ravel_multi_index((sj, sub, kz[pi]), shape)
        order = np.argsort(flat)
        flat, vals = flat[order], u[pi][order]
        starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
        lo = np.full(flat.size and np.prod(shape), np.inf)
        hi = np.full(flat.size and np.prod(shape), -np.inf)
        lo[flat[starts]] = np.minimum.reduceat(vals, starts)
        hi[flat[starts]] = np.maximum.reduceat(vals, starts)
        lo, hi = lo.reshape(shape), hi.reshape(shape)
        filled = np.isfinite(hi).any(axis=1)  # (slabs, bins)
        top = np.where(filled.any(axis=1), nb - 1 - np.argmax(filled[:, ::-1], axis=1), -1)
        hi_c = _reverse_cummax(hi)  # per sub-strip, the extreme at or above each height
        lo_c = -_reverse_cummax(-lo)  # (the fingers come from above)
        width = hi_c.max(axis=1) - lo_c.min(axis=1)  # (slabs, bins)
        # Fingertips at least min_depth below the top, or as low as they go (a thin, flat object).
        valid = ((bins >= np.maximum(first_tip, top - reach)[:, None])
                 & ((bins <= (top - depth)[:, None]) | (bins == first_tip))
                 & np.isfinite(width) & (width < min(cfg.opening - cfg.clearance, best)))
        for slab, tip in sorted(zip(*np.nonzero(valid)), key=lambda st: width[st]):
            if _holds(hi[slab], hi_c[slab], tip, taper, h, centres, cfg.friction) and \
                    _holds(-lo[slab], -lo_c[slab], tip, taper, h, centres, cfg.friction):
                best = float(width[slab, tip])
                break
        if first and np.isfinite(best):
            break
    return best


def _holds(side: np.ndarray, side_c: np.ndarray, tip: int, taper: int, h: float, centres: np.ndarray,
           friction: float) -> bool:
    """Whether one finger's contact (the extreme of ``side`` at or above bin ``tip``) lies in the
    friction cone: the surface under the finger slopes across it (least squares over its
    sub-strips) by at most ``friction``, and recedes above the contact by at most ``friction``
    times the height."""
    col = side_c[:, tip]
    ok = np.isfinite(col)
    if ok.sum() < 2:  # a sliver under one edge of the finger is no contact to hold by
        return False
    x, y = centres[ok], col[ok]
    x = x - x.mean()
    if abs(float(x @ (y - y.mean())) / float(x @ x)) > friction:
        return False
    c = int(np.argmax(col))
    extreme = col[c]
    row = side[c]
    j = tip + int(np.argmax(row[tip:] >= extreme - 1e-12))  # lowest bin of the contact
    window = row[j + 1: j + 1 + taper]
    filled = np.flatnonzero(np.isfinite(window))
    return not (len(filled) and extreme - window[filled].min() > friction * (filled[-1] + 1) * h)


def resting_poses(mesh, center_mass: np.ndarray, merge_angle: float) -> list[tuple[np.ndarray, float]]:
    """Stable poses ``(4x4 transform, probability)`` of a :class:`trimesh.Trimesh`, likeliest
    first; poses whose downward normals lie within ``merge_angle`` (radians) of a likelier one
    are merged into it (a scan's hull has hundreds of nearly coplanar facets)."""
    import trimesh.poses

    try:
        transforms, probs = trimesh.poses.compute_stable_poses(mesh, center_mass=np.asarray(center_mass, np.float64),
                                                               sigma=0.0, n_samples=1, seed=0)
    except ImportError:
        raise ImportError("resting poses need networkx: pip install 'grasp-envs[objects]'") from None
    normals = transforms[:, 2, :3]  # the object-frame direction that ends up pointing up
    merged: list[list] = []
    cos = np.cos(merge_angle)
    for T, prob, n in zip(transforms, probs, normals):
        for m in merged:
            if float(n @ m[2]) >= cos:
                m[1] += float(prob)
                break
        else:
            merged.append([T, float(prob), n])
    merged.sort(key=lambda m: -m[1])
    return [(T, prob) for T, prob, _ in merged]


def top_graspability(vertices: np.ndarray, faces: np.ndarray, *, center_mass: np.ndarray | None = None,
                     config: TopGraspConfig = TopGraspConfig()) -> Graspability:
    """Resting poses of a mesh (metres) and whether the gripper can grasp it from above.

    Poses are checked likeliest first until the verdict is settled (or ``max_poses`` were
    checked; the verdict is then that of the checked probability).
    """
    import trimesh

    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    mesh = trimesh.Trimesh(v, f, process=False)
    if center_mass is None:
        center_mass = mesh.center_mass if mesh.is_volume else mesh.convex_hull.center_mass
    points = surface_points(v, f, config.point_spacing)
    poses, good, bad = [], 0.0, 0.0
    for T, prob in resting_poses(mesh, center_mass, np.radians(config.merge_angle))[: config.max_poses]:
        q = points @ T[:3, :3].T
        q[:, 2] -= q[:, 2].min()
        pose = RestingPose(T[:3, :3].copy(), prob, float(q[:, 2].max()), pose_min_width(q, config, first=True))
        poses.append(pose)
        if pose.graspable:
            good += prob
        else:
            bad += prob
        if good >= config.min_probability or bad > 1.0 - config.min_probability:
            break
    g = good / (good + bad) if good + bad > 0 else 0.0
    graspable = good >= config.min_probability or (bad <= 1.0 - config.min_probability and g >= config.min_probability)
    return Graspability(tuple(poses), good, graspable, config)
