"""Observation presets: what the agent sees, shared by simulated and real environments.

The default preset holds only what a real robot can compute from its depth camera:

* ``depth``: overhead depth image(s), float32 metres, shape (n_cameras, H, W).  Camera 0 looks
  straight down from ``camera_height`` above the table, centred over the object's bounding box
  (image up = world +y, image right = world +x).  Further cameras sit on a circle at 45 degrees
  elevation, same distance, evenly spaced in azimuth, looking at the box centre.
* ``bbox``: the object's axis-aligned bounding box in the table frame, (xmin, ymin, zmin, xmax, ymax, zmax) in
  metres; the action grid is relative to it.  A real robot obtains it by segmenting the table
  plane out of the depth image.

The ``privileged`` preset adds ``object_pose`` (position and wxyz quaternion), which no real
robot observes; results with it are flagged on the leaderboard.

Further presets add sensor keys beside ``depth`` and ``bbox``, dm_control style (every preset keeps
both, so an agent that reads ``depth`` runs in any of them; docs/observations.md):

* ``pointcloud`` adds ``point_cloud`` (N, 3) float32 and ``point_cloud_mask`` (N,) int8: the
  observed surface points inside the box grown by :data:`POINT_CLOUD_MARGIN` of its size on every
  side, in the grasp grid's frame (:func:`grid_frame`: 0 and 1 are the box's faces, so
  ``point * (n_bins - 1)`` is the point's fractional x, y, z bin); a seeded draw of N points when
  more are seen, zero rows with mask 0 when fewer.
* ``rgbd`` adds ``rgb`` (n_cameras, H, W, 3) uint8, the same cameras' colour images.
* ``segmentation`` adds ``segmentation`` (n_cameras, H, W) uint8 ids: :data:`SEG_BACKGROUND`,
  :data:`SEG_TABLE`, and :data:`SEG_OBJECT` + k for the k-th object (0 in single-object scenes).
* ``all`` adds all three.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from gymnasium import spaces
from scipy.ndimage import zoom

from grasp_envs.camera import CameraModel, look_at_rotation, look_down_rotation

#: Observation presets and the keys each adds to ``depth`` and ``bbox``.
MODE_KEYS = {
    "depth": (),
    "privileged": ("object_pose",),
    "pointcloud": ("point_cloud", "point_cloud_mask"),
    "rgbd": ("rgb",),
    "segmentation": ("segmentation",),
    "all": ("point_cloud", "point_cloud_mask", "rgb", "segmentation"),
}
OBS_MODES = tuple(MODE_KEYS)
#: Segmentation ids: no surface (the ray leaves the scene), the table, the first object (then +1 each).
SEG_BACKGROUND, SEG_TABLE, SEG_OBJECT = 0, 1, 2
#: The point cloud keeps what lies within the box grown by this fraction of its size on every side.
POINT_CLOUD_MARGIN = 0.25
#: Fields added after the first published config: :meth:`ObservationConfig.to_dict` leaves them out
#: at their defaults, so records and checkpoints of configs that do not use them are unchanged.
_LATER_FIELDS = {"point_cloud_size": 1024}
NOISE_PRESETS = ("none", "dexnet")
#: Where the hand-camera images of candidate grasps come from (:mod:`grasp_envs.envs.hand_camera`).
HAND_IMAGE_SOURCES = ("rendered", "reprojected")


@dataclass(frozen=True)
class ObservationConfig:
    """Cameras, resolution, noise and preset of the observation.

    Attributes:
        mode: The preset (:data:`OBS_MODES`): ``"depth"`` (default, real-robot computable),
            ``"privileged"``, ``"pointcloud"``, ``"rgbd"``, ``"segmentation"`` or ``"all"``
            (module docstring).
        width: Image width in pixels.
        height: Image height in pixels.
        n_cameras: Number of overhead/oblique depth cameras.
        camera_height: Distance of every camera from the bounding-box centre's table point (m).
        fovy: Vertical field of view (degrees); 25 degrees at 0.7 m sees a 31 cm square.
        noise: ``"none"`` or ``"dexnet"`` (Mahler et al. 2017: per-image multiplicative
            Gamma(shape 1000, scale 1/1000) and Gaussian noise with ``noise_sigma`` on a grid 4x
            coarser than the image, bilinearly upsampled).
        noise_sigma: Standard deviation of the correlated Gaussian depth noise (m).
        hand_width: Hand-camera image width.
        hand_height: Hand-camera image height.
        hand_fovy: Hand-camera vertical field of view (degrees).
        hand_standoff: Distance the gripper backs off along the approach axis for the hand
            image (pre-grasp pose), metres.
        hand_images: Where candidates' hand-camera images come from: ``"rendered"`` (ray cast in
            the simulated scene; the default, what the shipped evaluator was trained on) or
            ``"reprojected"`` (built from the overhead depth observation alone, as on the real
            robot: :func:`grasp_envs.envs.hand_camera.reproject_hand_depth`).  The observation
            itself is the same either way.
        bbox_noise: Standard deviation (m) of independent Gaussian noise on each of the six faces
            of the bounding box the agent sees, as a box segmented from real depth would err.
            The noisy box is the one everything is relative to: the observation's ``bbox``, the
            action grid's bins and the cameras' centring (0: the exact box, the default).
        point_cloud_size: Points N of the ``point_cloud`` key (``pointcloud`` and ``all`` presets).
    """

    mode: str = "depth"
    width: int = 64
    height: int = 64
    n_cameras: int = 1
    camera_height: float = 0.70
    fovy: float = 25.0
    noise: str = "none"
    noise_sigma: float = 0.005
    hand_width: int = 32
    hand_height: int = 32
    hand_fovy: float = 60.0
    hand_standoff: float = 0.10
    hand_images: str = "rendered"
    bbox_noise: float = 0.0
    point_cloud_size: int = _LATER_FIELDS["point_cloud_size"]

    def __post_init__(self) -> None:
        if self.mode not in OBS_MODES:
            raise ValueError(f"observation mode must be one of {OBS_MODES}, got {self.mode!r}")
        if self.noise not in NOISE_PRESETS:
            raise ValueError(f"noise must be one of {NOISE_PRESETS}, got {self.noise!r}")
        if self.hand_images not in HAND_IMAGE_SOURCES:
            raise ValueError(f"hand_images must be one of {HAND_IMAGE_SOURCES}, got {self.hand_images!r}")
        if self.n_cameras < 1:
            raise ValueError(f"n_cameras must be at least 1, got {self.n_cameras}")
        if self.camera_height <= 0.1:
            raise ValueError(f"camera_height must exceed 0.1 m, got {self.camera_height}")
        if self.noise_sigma < 0 or self.hand_standoff < 0:
            raise ValueError("noise_sigma and hand_standoff must be non-negative")
        if not 0 <= self.bbox_noise <= 0.05:
            raise ValueError(f"bbox_noise must lie in [0, 0.05] m, got {self.bbox_noise}")
        if not 1 <= self.point_cloud_size <= 1_000_000:
            raise ValueError(f"point_cloud_size must lie in [1, 1000000], got {self.point_cloud_size}")
        self.camera  # validates resolution and field of view
        self.hand_camera

    @property
    def camera(self) -> CameraModel:
        return CameraModel(self.width, self.height, self.fovy, far=2.0)

    @property
    def hand_camera(self) -> CameraModel:
        return CameraModel(self.hand_width, self.hand_height, self.hand_fovy, far=1.0)

    @property
    def keys(self) -> tuple[str, ...]:
        """The observation's keys under this preset."""
        return ("depth", "bbox", *MODE_KEYS[self.mode])

    def to_dict(self) -> dict:
        d = asdict(self)
        for name, default in _LATER_FIELDS.items():
            if d[name] == default:
                del d[name]
        return d

    def noisy_bounds(self, bounds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``bounds`` (2, 3) with :attr:`bbox_noise` on every face, each side kept at least 2 mm.

        Draws nothing from ``rng`` when the noise is 0, so noise-free scenes stay as before.
        """
        b = np.asarray(bounds, dtype=np.float64)
        if self.bbox_noise == 0:
            return b.copy()
        noisy = b + rng.normal(0.0, self.bbox_noise, size=(2, 3))
        centre = noisy.mean(axis=0)
        half = np.maximum((noisy[1] - noisy[0]) / 2, 0.001)
        return np.stack([centre - half, centre + half])

    def camera_poses(self, bounds: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(position, camera-to-world rotation) of each camera for an object box ``bounds``."""
        b = np.asarray(bounds, dtype=np.float64)
        target = np.array([(b[0, 0] + b[1, 0]) / 2, (b[0, 1] + b[1, 1]) / 2, 0.0])
        poses = [(target + [0.0, 0.0, self.camera_height], look_down_rotation())]
        for k in range(1, self.n_cameras):
            az = 2 * np.pi * (k - 1) / (self.n_cameras - 1)
            r = self.camera_height / np.sqrt(2)
            eye = target + np.array([r * np.cos(az), r * np.sin(az), r])
            poses.append((eye, look_at_rotation(eye, target)))
        return poses

    def space(self) -> spaces.Dict:
        d = {
            "depth": spaces.Box(0.0, self.camera.far, (self.n_cameras, self.height, self.width), np.float32),
            "bbox": spaces.Box(-10.0, 10.0, (6,), np.float32),
        }
        images = (self.n_cameras, self.height, self.width)
        extra = {
            "object_pose": lambda: spaces.Box(-10.0, 10.0, (7,), np.float32),
            "point_cloud": lambda: spaces.Box(-POINT_CLOUD_MARGIN, 1.0 + POINT_CLOUD_MARGIN,
                                              (self.point_cloud_size, 3), np.float32),
            "point_cloud_mask": lambda: spaces.MultiBinary(self.point_cloud_size),
            "rgb": lambda: spaces.Box(0, 255, (*images, 3), np.uint8),
            "segmentation": lambda: spaces.Box(0, 255, images, np.uint8),
        }
        for key in MODE_KEYS[self.mode]:
            d[key] = extra[key]()
        return spaces.Dict(d)

    def point_cloud(self, points: np.ndarray, bbox: np.ndarray,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The ``point_cloud`` and ``point_cloud_mask`` of table-frame ``points`` (m, 3) for the box ``bbox``.

        Keeps the points within the box grown by :data:`POINT_CLOUD_MARGIN`, in the grid's frame
        (:func:`grid_frame`); draws :attr:`point_cloud_size` of them without replacement from
        ``rng`` when there are more (in their original order), pads with zero rows (mask 0) when
        fewer.  Draws nothing when all fit.
        """
        n = self.point_cloud_size
        g = grid_frame(points, bbox)
        inside = np.all((g >= -POINT_CLOUD_MARGIN) & (g <= 1.0 + POINT_CLOUD_MARGIN), axis=1)
        g = g[inside]
        if len(g) > n:
            g = g[np.sort(rng.choice(len(g), n, replace=False))]
        cloud = np.zeros((n, 3), np.float32)
        cloud[: len(g)] = g
        mask = np.zeros(n, np.int8)
        mask[: len(g)] = 1
        return cloud, mask

    def depth_points(self, depth: np.ndarray, bbox: np.ndarray) -> np.ndarray:
        """Table-frame surface points (m, 3) of every camera's pixels that see something (depth below ``far``),
        deprojected from the cameras' poses relative to ``bbox``, as the agent knows them."""
        cam = self.camera
        points = []
        for img, (pos, R) in zip(np.asarray(depth, np.float64), self.camera_poses(np.asarray(bbox, np.float64).reshape(2, 3))):
            valid = (img > 0) & (img < cam.far)
            points.append(cam.deproject(img)[valid] @ R.T + pos)
        return np.concatenate(points)


def observation_rng(env) -> np.random.Generator:
    """The generator of the observation's own draws (the point cloud's): a child of ``env.np_random``.

    Spawned (``Generator.spawn``) from the env's generator, so it draws nothing from it: every other
    draw of the episode is what it is without the point cloud.  Spawned again whenever the env is
    reseeded (``reset(seed=...)`` makes a new ``np_random``), so seeded resets repeat it.
    """
    src, rng = env.__dict__.get("_observation_rng", (None, None))
    if src is not env.np_random:
        src, rng = env.np_random, env.np_random.spawn(1)[0]
        env._observation_rng = (src, rng)
    return rng


def grid_frame(points: np.ndarray, bbox: np.ndarray) -> np.ndarray:
    """Table-frame points (m, 3) in the grasp grid's frame of the box ``bbox`` ((6,) or (2, 3)).

    The grid's frame has the table's axes and the box's corners at (0, 0, 0) (its minimum) and
    (1, 1, 1): a point's coordinates times ``n_bins - 1`` are its fractional x, y, z bins
    (:class:`grasp_envs.grid.GraspGrid`).  Flat sides (a span under 0.1 mm) count as 0.1 mm.
    """
    b = np.asarray(bbox, np.float64).reshape(2, 3)
    return (np.asarray(points, np.float64) - b[0]) / np.maximum(b[1] - b[0], 1e-4)


def dexnet_noise(depth: np.ndarray, rng: np.random.Generator, sigma: float = 0.005, far: float | None = None,
                 gamma_shape: float = 1000.0) -> np.ndarray:
    """Depth noise after Mahler et al. (Dex-Net 2.0), applied per image of a (n, H, W) stack.

    Each image is multiplied by a Gamma(``gamma_shape``, 1/``gamma_shape``) factor (mean 1,
    standard deviation ``gamma_shape ** -0.5``) and gets a Gaussian field of ``sigma`` drawn on a
    grid 4x coarser than the image, bilinearly upsampled.
    """
    out = np.empty_like(depth)
    for i, img in enumerate(depth):
        h, w = img.shape
        gh, gw = max(1, h // 4), max(1, w // 4)
        field = rng.normal(0.0, sigma, size=(gh, gw))
        up = zoom(field, (h / gh, w / gw), order=1, mode="nearest")[:h, :w]
        out[i] = img * rng.gamma(gamma_shape, 1.0 / gamma_shape) + up
    if far is not None:
        np.clip(out, 0.0, far, out=out)
    return out.astype(np.float32)
