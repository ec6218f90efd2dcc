"""Calibration file: round trip, validation errors, frame conventions and importers."""

import numpy as np
import pytest

yaml = pytest.importorskip("yaml")

from grasp_envs.camera import look_at_rotation  # noqa: E402
from real.calibration import (  # noqa: E402
    BODY_FROM_OPTICAL,
    Calibration,
    CalibrationError,
    from_easy_handeye,
    from_opencv_handeye,
    from_static_transform_args,
    load_calibration,
    mat_to_quat,
    quat_to_mat,
    save_calibration,
)

ORIGIN = np.array([0.7, 0.0, 0.72])
EYE = ORIGIN + [-0.25, 0.05, 0.75]
R_OPT = look_at_rotation(EYE, ORIGIN)


def test_quaternion_round_trip():
    rng = np.random.default_rng(0)
    for q in rng.normal(size=(20, 4)):
        q /= np.linalg.norm(q)
        q = q if q[3] >= 0 else -q
        np.testing.assert_allclose(mat_to_quat(quat_to_mat(q)), q, atol=1e-12)


def test_yaml_round_trip(tmp_path):
    cal = Calibration.from_pose(EYE, R_OPT, ORIGIN)
    save_calibration(cal, tmp_path / "cal.yaml")
    back = load_calibration(tmp_path / "cal.yaml")
    assert back == cal
    np.testing.assert_allclose(back.rotation, R_OPT, atol=1e-12)
    # A table-frame point straight below the camera's optical axis maps through camera_to_table.
    R, t = back.camera_to_table
    np.testing.assert_allclose(R @ [0, 0, np.linalg.norm(EYE - ORIGIN)] + t, [0, 0, 0], atol=1e-9)


def test_ros_body_convention_is_converted(tmp_path):
    body = R_OPT @ BODY_FROM_OPTICAL.T  # the same camera, described by its ROS body frame
    # Body x (forward) is the optical z (the viewing direction).
    np.testing.assert_allclose(body[:, 0], R_OPT[:, 2], atol=1e-12)
    data = {"camera_to_base": {"convention": "ros_body", "translation": EYE.tolist(),
                               "quaternion": mat_to_quat(body).tolist()}, "table_origin": ORIGIN.tolist()}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data))
    np.testing.assert_allclose(load_calibration(tmp_path / "c.yaml").rotation, R_OPT, atol=1e-9)
    # Given as optical, the body rotation looks sideways, not at the table: a clear error with the hint.
    data["camera_to_base"]["convention"] = "optical"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(CalibrationError, match="set convention: ros_body"):
        load_calibration(tmp_path / "c.yaml")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["camera_to_base"].update(quaternion=[0.5, 0.5, 0.5, 0.6]), "must have unit norm"),
        (lambda d: d.pop("table_origin"), "missing 'table_origin'"),
        (lambda d: d.update(extra=1), r"unknown calibration keys \['extra'\]"),
        (lambda d: d["camera_to_base"].update(translation=[1, 2]), "list of 3 numbers"),
        (lambda d: d["camera_to_base"].update(convention="body"), "convention must be one of"),
        (lambda d: d.update(table_origin=[0.7, 0.0, 2.0]), "is not above the table"),
        (lambda d: d.update(intrinsics={"width": 848}), "intrinsics must have exactly the keys"),
        (lambda d: d.update(version=2), "unsupported calibration version"),
    ],
)
def test_invalid_files_name_the_problem(tmp_path, change, message):
    data = Calibration.from_pose(EYE, R_OPT, ORIGIN).to_dict()
    change(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CalibrationError, match=message) as e:
        load_calibration(path)
    assert str(path) in str(e.value)


def test_missing_file_points_to_docs(tmp_path):
    with pytest.raises(CalibrationError, match="docs/real_robot.md"):
        load_calibration(tmp_path / "nope.yaml")


def test_easy_handeye_import(tmp_path):
    q = mat_to_quat(R_OPT)
    data = {"eye_on_hand": False,
            "parameters": {"eye_on_hand": False, "robot_base_frame": "base_link",
                           "tracking_base_frame": "camera_color_optical_frame"},
            "transformation": {"x": float(EYE[0]), "y": float(EYE[1]), "z": float(EYE[2]),
                               "qx": float(q[0]), "qy": float(q[1]), "qz": float(q[2]), "qw": float(q[3])}}
    (tmp_path / "h.yaml").write_text(yaml.safe_dump(data))
    cal = from_easy_handeye(tmp_path / "h.yaml", ORIGIN)
    np.testing.assert_allclose(cal.rotation, R_OPT, atol=1e-9)
    assert cal.child_frame == "camera_color_optical_frame"
    data["parameters"]["eye_on_hand"] = True
    (tmp_path / "h.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(CalibrationError, match="eye-in-hand"):
        from_easy_handeye(tmp_path / "h.yaml", ORIGIN)


def test_opencv_import_accepts_rotvec_and_refuses_millimetres():
    from scipy.spatial.transform import Rotation

    rotvec = Rotation.from_matrix(R_OPT).as_rotvec().reshape(3, 1)
    cal = from_opencv_handeye(rotvec, EYE.reshape(3, 1), ORIGIN)
    np.testing.assert_allclose(cal.rotation, R_OPT, atol=1e-9)
    with pytest.raises(CalibrationError, match="millimetres"):
        from_opencv_handeye(R_OPT, EYE * 1000, ORIGIN)


def test_static_transform_args():
    q = mat_to_quat(R_OPT)
    args = " ".join(map(str, [*EYE, *q])) + " base_link d435_depth_optical_frame"
    cal = from_static_transform_args(args, ORIGIN)
    np.testing.assert_allclose(cal.translation, EYE)
    np.testing.assert_allclose(cal.rotation, R_OPT, atol=1e-9)
    with pytest.raises(CalibrationError, match="got 5 fields"):
        from_static_transform_args("1 2 3 base cam", ORIGIN)


def test_the_documented_example_loads(tmp_path):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "real_robot.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "doc.yaml").write_text(block)
    cal = load_calibration(tmp_path / "doc.yaml")
    # The documented camera sits behind the table origin and looks forward and down at it.
    axis = cal.rotation[:, 2]
    assert axis[2] < -0.9 and axis[0] > 0
    assert cal.intrinsics is not None and cal.intrinsics.width == 848
