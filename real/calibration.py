"""Camera-to-robot calibration: a small YAML file, validated on load, plus importers.

Frames
------
* **base**: the robot's ``base_link`` (x forward, y left, z up), in which MoveIt goals are given.
* **table**: the environment's frame, the one the simulator uses: axes parallel to the base frame,
  origin ``table_origin`` (given in the base frame) with z = 0 on the table surface.  Observation
  bounding boxes and grasp poses are in this frame.
* **camera**: the depth camera's *optical* frame (x right, y down, z forward along the optical axis;
  RealSense and OpenCV use it, and so does :mod:`grasp_envs.camera`).  ROS also names a *body*
  frame for cameras (``camera_link``: x forward, y left, z up).  Hand-eye tools report either;
  ``convention: ros_body`` in the file says the given transform ends in a body frame, and the
  loader turns it into the optical frame (``R_optical = R_body @ BODY_FROM_OPTICAL``).

File format (all lengths in metres, quaternions in ROS order x, y, z, w)::

    version: 1
    camera_to_base:
      parent_frame: base_link
      child_frame: d435_depth_optical_frame
      convention: optical          # or ros_body
      translation: [0.55, 0.0, 1.45]
      quaternion: [1.0, 0.0, 0.0, 0.0]
    table_origin: [0.60, 0.0, 0.72]
    intrinsics:                    # optional: checked against the live stream when present
      width: 848
      height: 480
      fx: 421.5
      fy: 421.5
      ppx: 424.0
      ppy: 240.0

Importers read the output of common hand-eye calibration tools: ``easy_handeye`` YAML
(:func:`from_easy_handeye`), OpenCV ``calibrateHandEye`` rotation/translation
(:func:`from_opencv_handeye`) and the argument list of ``static_transform_publisher``
(:func:`from_static_transform_args`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

CONVENTIONS = ("optical", "ros_body")

#: Rotation taking optical-frame coordinates to ROS camera body-frame coordinates
#: (optical z forward = body x; optical x right = body -y; optical y down = body -z).
BODY_FROM_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])

_QUAT_TOLERANCE = 1e-3


class CalibrationError(ValueError):
    """A calibration file or value is invalid; the message names the field and the fix."""


def quat_to_mat(q) -> np.ndarray:
    """Rotation matrix of a unit quaternion in ROS order (x, y, z, w)."""
    x, y, z, w = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def mat_to_quat(R) -> np.ndarray:
    """Unit quaternion (x, y, z, w), w >= 0, of a rotation matrix."""
    R = np.asarray(R, dtype=np.float64)
    t = np.trace(R)
    if t > 0:
        s = np.sqrt(t + 1.0) * 2
        q = [(R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s, 0.25 * s]
    elif R[0, 0] > R[1, 1] and R[0, 0] > R[2, 2]:
        s = np.sqrt(1.0 + R[0, 0] - R[1, 1] - R[2, 2]) * 2
        q = [0.25 * s, (R[0, 1] + R[1, 0]) / s, (R[0, 2] + R[2, 0]) / s, (R[2, 1] - R[1, 2]) / s]
    elif R[1, 1] > R[2, 2]:
        s = np.sqrt(1.0 + R[1, 1] - R[0, 0] - R[2, 2]) * 2
        q = [(R[0, 1] + R[1, 0]) / s, 0.25 * s, (R[1, 2] + R[2, 1]) / s, (R[0, 2] - R[2, 0]) / s]
    else:
        s = np.sqrt(1.0 + R[2, 2] - R[0, 0] - R[1, 1]) * 2
        q = [(R[0, 2] + R[2, 0]) / s, (R[1, 2] + R[2, 1]) / s, 0.25 * s, (R[1, 0] - R[0, 1]) / s]
    q = np.asarray(q)
    q /= np.linalg.norm(q)
    return -q if q[3] < 0 else q


def _vector(value, n: int, name: str) -> tuple[float, ...]:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CalibrationError(f"{name} must be a list of {n} numbers, got {value!r}") from None
    if arr.shape != (n,):
        raise CalibrationError(f"{name} must be a list of {n} numbers, got {value!r}")
    if not np.all(np.isfinite(arr)):
        raise CalibrationError(f"{name} must be finite, got {value!r}")
    return tuple(float(v) for v in arr)


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of the real depth stream (pixels; principal point in pixel coordinates)."""

    width: int
    height: int
    fx: float
    fy: float
    ppx: float
    ppy: float

    def __post_init__(self) -> None:
        if int(self.width) < 1 or int(self.height) < 1:
            raise CalibrationError(f"intrinsics width and height must be positive, got {self.width} x {self.height}")
        if not (self.fx > 0 and self.fy > 0):
            raise CalibrationError(f"intrinsics fx and fy must be positive, got fx={self.fx}, fy={self.fy}")
        if not (0 <= self.ppx <= self.width and 0 <= self.ppy <= self.height):
            raise CalibrationError(
                f"principal point ({self.ppx}, {self.ppy}) lies outside the {self.width} x {self.height} image"
            )

    @property
    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.ppx], [0.0, self.fy, self.ppy], [0.0, 0.0, 1.0]])

    def close_to(self, other: "Intrinsics", rel: float = 0.02) -> bool:
        if (self.width, self.height) != (other.width, other.height):
            return False
        a = np.array([self.fx, self.fy, self.ppx, self.ppy])
        b = np.array([other.fx, other.fy, other.ppx, other.ppy])
        return bool(np.all(np.abs(a - b) <= rel * np.abs(b) + 1.0))


@dataclass(frozen=True)
class Calibration:
    """Camera extrinsics (optical frame to base) and the table frame.

    Attributes:
        translation: Camera optical-frame origin in the base frame (m).
        quaternion: Camera optical-frame orientation in the base frame, (x, y, z, w), unit norm.
        table_origin: Table-frame origin in the base frame (m); z is the table surface height.
        parent_frame: Name of the base frame (MoveIt goals use it).
        child_frame: Name of the camera frame (for the record).
        intrinsics: Expected stream intrinsics, or ``None`` to accept the camera's own.
    """

    translation: tuple[float, float, float]
    quaternion: tuple[float, float, float, float]
    table_origin: tuple[float, float, float]
    parent_frame: str = "base_link"
    child_frame: str = "camera_depth_optical_frame"
    intrinsics: Intrinsics | None = None

    def __post_init__(self) -> None:
        t = _vector(self.translation, 3, "camera_to_base.translation")
        q = _vector(self.quaternion, 4, "camera_to_base.quaternion")
        o = _vector(self.table_origin, 3, "table_origin")
        n = float(np.linalg.norm(q))
        if abs(n - 1.0) > _QUAT_TOLERANCE:
            raise CalibrationError(
                f"camera_to_base.quaternion must have unit norm (order x, y, z, w), got norm {n:.6f}; "
                "write the normalised quaternion into the file"
            )
        if not self.parent_frame or not self.child_frame:
            raise CalibrationError("parent_frame and child_frame must be non-empty frame names")
        if self.intrinsics is not None and not isinstance(self.intrinsics, Intrinsics):
            raise CalibrationError(f"intrinsics must be an Intrinsics or None, got {type(self.intrinsics).__name__}")
        # Tuples of plain floats keep the config hashable and JSON-serialisable.
        object.__setattr__(self, "translation", t)
        object.__setattr__(self, "quaternion", q)
        object.__setattr__(self, "table_origin", o)
        # The camera must look at the table: its optical axis must point downwards.
        if self.rotation[2, 2] > -0.2:
            raise CalibrationError(
                "the camera's optical axis (optical frame z) does not point down at the table "
                f"(its base-frame z component is {self.rotation[2, 2]:+.2f}); if the transform ends in a ROS "
                "camera body frame (x forward, z up), set convention: ros_body"
            )
        if t[2] <= o[2]:
            raise CalibrationError(
                f"the camera (z = {t[2]:.3f} m) is not above the table surface (table_origin z = {o[2]:.3f} m)"
            )

    # ------------------------------------------------------------------ transforms
    @property
    def rotation(self) -> np.ndarray:
        """Camera-optical-to-base rotation (3 x 3)."""
        return quat_to_mat(self.quaternion)

    @property
    def camera_to_table(self) -> tuple[np.ndarray, np.ndarray]:
        """(rotation, translation) taking optical-frame points to the table frame."""
        return self.rotation, np.asarray(self.translation) - np.asarray(self.table_origin)

    def table_to_base(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points, dtype=np.float64) + np.asarray(self.table_origin)

    def base_to_table(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points, dtype=np.float64) - np.asarray(self.table_origin)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pose(cls, translation, rotation, table_origin, *, convention: str = "optical", **kw) -> "Calibration":
        """From a rotation matrix; ``convention="ros_body"`` if it ends in a ROS camera body frame."""
        if convention not in CONVENTIONS:
            raise CalibrationError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
        R = np.asarray(rotation, dtype=np.float64)
        if R.shape != (3, 3) or not np.allclose(R @ R.T, np.eye(3), atol=1e-4) or np.linalg.det(R) < 0:
            raise CalibrationError(f"rotation must be a proper 3 x 3 rotation matrix, got {R.tolist()}")
        if convention == "ros_body":
            R = R @ BODY_FROM_OPTICAL
        return cls(tuple(np.asarray(translation, float)), tuple(mat_to_quat(R)), tuple(table_origin), **kw)

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        if not isinstance(data, dict):
            raise CalibrationError(f"calibration must be a mapping, got {type(data).__name__}")
        known = {"version", "camera_to_base", "table_origin", "intrinsics"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CalibrationError(f"unknown calibration keys {unknown}; allowed: {sorted(known)}")
        if data.get("version", 1) != 1:
            raise CalibrationError(f"unsupported calibration version {data.get('version')!r}; this code reads version 1")
        for key in ("camera_to_base", "table_origin"):
            if key not in data:
                raise CalibrationError(f"calibration is missing {key!r} (see docs/real_robot.md, 'Calibration')")
        ext = data["camera_to_base"]
        if not isinstance(ext, dict):
            raise CalibrationError("camera_to_base must be a mapping with translation and quaternion")
        ext_known = {"parent_frame", "child_frame", "convention", "translation", "quaternion"}
        unknown = sorted(set(ext) - ext_known)
        if unknown:
            raise CalibrationError(f"unknown camera_to_base keys {unknown}; allowed: {sorted(ext_known)}")
        for key in ("translation", "quaternion"):
            if key not in ext:
                raise CalibrationError(f"camera_to_base is missing {key!r}")
        convention = ext.get("convention", "optical")
        if convention not in CONVENTIONS:
            raise CalibrationError(f"camera_to_base.convention must be one of {CONVENTIONS}, got {convention!r}")
        intr = data.get("intrinsics")
        if intr is not None:
            need = ("width", "height", "fx", "fy", "ppx", "ppy")
            if not isinstance(intr, dict) or sorted(intr) != sorted(need):
                raise CalibrationError(f"intrinsics must have exactly the keys {list(need)}, got {intr!r}")
            intr = Intrinsics(int(intr["width"]), int(intr["height"]), *(float(intr[k]) for k in need[2:]))
        q = _vector(ext["quaternion"], 4, "camera_to_base.quaternion")
        kw = dict(
            parent_frame=str(ext.get("parent_frame", "base_link")),
            child_frame=str(ext.get("child_frame", "camera_depth_optical_frame")),
            intrinsics=intr,
        )
        if convention == "ros_body":
            n = np.linalg.norm(q)
            if abs(n - 1.0) > _QUAT_TOLERANCE:
                raise CalibrationError(f"camera_to_base.quaternion must have unit norm (x, y, z, w), got norm {n:.6f}")
            return cls.from_pose(ext["translation"], quat_to_mat(q), data["table_origin"], convention="ros_body", **kw)
        return cls(ext["translation"], q, data["table_origin"], **kw)

    def to_dict(self) -> dict:
        d = {
            "version": 1,
            "camera_to_base": {
                "parent_frame": self.parent_frame,
                "child_frame": self.child_frame,
                "convention": "optical",
                "translation": list(self.translation),
                "quaternion": list(self.quaternion),
            },
            "table_origin": list(self.table_origin),
        }
        if self.intrinsics is not None:
            i = self.intrinsics
            d["intrinsics"] = {"width": i.width, "height": i.height, "fx": i.fx, "fy": i.fy, "ppx": i.ppx, "ppy": i.ppy}
        return d


def _yaml():
    try:
        import yaml
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("reading calibration files needs PyYAML: pip install 'grasp-envs[real]'") from e
    return yaml


def load_calibration(path: str | Path) -> Calibration:
    """Read and validate a calibration YAML file."""
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(
            f"calibration file {path} does not exist; write one as described in docs/real_robot.md ('Calibration')"
        )
    yaml = _yaml()
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise CalibrationError(f"calibration file {path} is not valid YAML: {e}") from None
    try:
        return Calibration.from_dict(data)
    except CalibrationError as e:
        raise CalibrationError(f"{path}: {e}") from None


def save_calibration(calibration: Calibration, path: str | Path) -> None:
    Path(path).write_text(_yaml().safe_dump(calibration.to_dict(), sort_keys=False))


# ---------------------------------------------------------------------- importers
def from_easy_handeye(path: str | Path, table_origin, *, convention: str = "optical") -> Calibration:
    """Import an ``easy_handeye`` result (``~/.ros/easy_handeye/*_eye_on_base.yaml``).

    That file holds ``parameters`` (``robot_base_frame``, ``tracking_base_frame``, ``eye_on_hand``)
    and ``transformation`` (``x, y, z, qx, qy, qz, qw``): the tracking (camera) frame in the robot
    base frame.  Only eye-on-base (camera fixed in the room) calibrations apply here.
    ``convention`` says whether ``tracking_base_frame`` is an optical frame or a ROS body frame;
    a frame name ending in ``optical_frame`` must be ``optical``.
    """
    yaml = _yaml()
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict) or "transformation" not in data:
        raise CalibrationError(f"{path} is not an easy_handeye result: it has no 'transformation' mapping")
    params = data.get("parameters", {}) or {}
    if params.get("eye_on_hand", False):
        raise CalibrationError(
            f"{path} is an eye-in-hand calibration; the grasping setup needs the camera fixed in the room (eye_on_base)"
        )
    tr = data["transformation"]
    missing = [k for k in ("x", "y", "z", "qx", "qy", "qz", "qw") if k not in tr]
    if missing:
        raise CalibrationError(f"{path}: transformation is missing {missing}")
    child = str(params.get("tracking_base_frame", "camera_depth_optical_frame"))
    if child.endswith("optical_frame") and convention != "optical":
        raise CalibrationError(f"{path}: tracking_base_frame {child!r} is an optical frame; use convention='optical'")
    q = np.array([tr["qx"], tr["qy"], tr["qz"], tr["qw"]], dtype=np.float64)
    n = np.linalg.norm(q)
    if abs(n - 1.0) > _QUAT_TOLERANCE:
        raise CalibrationError(f"{path}: quaternion (qx, qy, qz, qw) must have unit norm, got norm {n:.6f}")
    return Calibration.from_pose(
        [tr["x"], tr["y"], tr["z"]], quat_to_mat(q), table_origin, convention=convention,
        parent_frame=str(params.get("robot_base_frame", "base_link")), child_frame=child,
    )


def from_opencv_handeye(R_cam2base, t_cam2base, table_origin, **kw) -> Calibration:
    """Import OpenCV ``calibrateHandEye`` output for an eye-on-base setup.

    OpenCV returns the camera pose in the robot base frame as a rotation matrix (or a Rodrigues
    vector) and a translation (column vector) in the optical frame convention.  The translation is
    in the units of the inputs: pass metres.
    """
    R = np.asarray(R_cam2base, dtype=np.float64)
    if R.shape in ((3,), (3, 1), (1, 3)):
        from scipy.spatial.transform import Rotation

        R = Rotation.from_rotvec(R.ravel()).as_matrix()
    t = np.asarray(t_cam2base, dtype=np.float64).ravel()
    if t.shape != (3,):
        raise CalibrationError(f"t_cam2base must have 3 elements, got shape {np.shape(t_cam2base)}")
    if np.linalg.norm(t) > 20:
        raise CalibrationError(
            f"t_cam2base has length {np.linalg.norm(t):.1f}: it looks like millimetres; pass metres"
        )
    return Calibration.from_pose(t, R, table_origin, convention="optical", **kw)


def from_static_transform_args(args: str | list[str], table_origin, *, convention: str = "optical") -> Calibration:
    """Import ``static_transform_publisher`` arguments ``x y z qx qy qz qw parent child``.

    The 8-argument form with yaw pitch roll (``x y z yaw pitch roll parent child``) is accepted too.
    """
    parts = args.split() if isinstance(args, str) else list(args)
    parts = [p for p in parts if not p.startswith("--")]
    if len(parts) not in (8, 9):
        raise CalibrationError(
            "static_transform_publisher arguments must be 'x y z qx qy qz qw parent child' or "
            f"'x y z yaw pitch roll parent child', got {len(parts)} fields"
        )
    try:
        nums = [float(v) for v in parts[:-2]]
    except ValueError:
        raise CalibrationError(f"static_transform_publisher numbers could not be read from {parts[:-2]}") from None
    parent, child = parts[-2], parts[-1]
    if len(nums) == 7:
        q = np.asarray(nums[3:])
        if abs(np.linalg.norm(q) - 1.0) > _QUAT_TOLERANCE:
            raise CalibrationError(f"quaternion {nums[3:]} must have unit norm (order qx qy qz qw)")
        R = quat_to_mat(q)
    else:
        from scipy.spatial.transform import Rotation

        yaw, pitch, roll = nums[3:]
        R = Rotation.from_euler("ZYX", [yaw, pitch, roll]).as_matrix()
    if child.endswith("optical_frame") and convention != "optical":
        raise CalibrationError(f"child frame {child!r} is an optical frame; use convention='optical'")
    return Calibration.from_pose(nums[:3], R, table_origin, convention=convention, parent_frame=parent, child_frame=child)
