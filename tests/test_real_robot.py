"""The Fetch client (roslibpy) against the loopback rosbridge v2 server: motions, safety, failures."""

import time

import numpy as np
import pytest

pytest.importorskip("roslibpy")
pytest.importorskip("websockets")

from grasp_envs.grid import rot_x  # noqa: E402
from real.loopback import LoopbackFetch  # noqa: E402
from real.robot import (  # noqa: E402
    ConnectionLostError,
    FetchConfig,
    FetchRobot,
    RobotError,
    RobotTimeoutError,
    SafetyLimits,
)
from real.software_camera import Box, TableScene  # noqa: E402
from real.standins import standin_calibration  # noqa: E402

CAL = standin_calibration()
DOWN = np.eye(3)  # grid convention: TCP z up (fingertips to palm), approach straight down, closing along x
MOVE = "/move_group"
GRIP = "/gripper_controller/gripper_action"


@pytest.fixture
def fetch():
    scene = TableScene([Box([0.0, 0.0, 0.03], [0.05, 0.05, 0.06])])
    with LoopbackFetch(scene, CAL) as f:
        yield f


def _robot(fetch, **kw):
    r = FetchRobot(FetchConfig(host="127.0.0.1", port=fetch.port, connect_timeout=5.0, **kw), CAL)
    r.connect()
    return r


def test_grasp_sequence_over_rosbridge(fetch):
    robot = _robot(fetch, velocity_scaling=0.25)
    try:
        ex = robot.execute_grasp([0.0, 0.0, 0.03], DOWN)
        assert ex.success and abs(ex.opening - 0.05) < 1e-6 and ex.lifted == 0.30
        goals = fetch.server.goals_sent(MOVE)
        # pre-grasp, grasp, lift, home: velocity scaling and the base frame go out with every goal.
        assert len(goals) == 4
        assert all(g["request"]["max_velocity_scaling_factor"] == 0.25 for g in goals)
        assert all(not g["planning_options"]["plan_only"] for g in goals)
        pos = [g["request"]["goal_constraints"][0]["position_constraints"][0] for g in goals[:3]]
        z = [p["constraint_region"]["primitive_poses"][0]["position"]["z"] for p in pos]
        np.testing.assert_allclose(z, [0.72 + 0.13, 0.72 + 0.03, 0.72 + 0.33])
        assert pos[0]["header"]["frame_id"] == "base_link" and pos[0]["link_name"] == "gripper_link"
        assert [g["command"]["position"] for g in fetch.server.goals_sent(GRIP)] == [0.1, 0.0, 0.1]
        # Released: the box is back on the table.
        assert abs(fetch.scene.boxes[0].center[2] - 0.03) < 1e-9
    finally:
        robot.close()


def test_miss_is_a_failure_not_an_error(fetch):
    robot = _robot(fetch)
    try:
        ex = robot.execute_grasp([0.15, 0.15, 0.03], DOWN)
        assert not ex.success and ex.opening < 0.005 and ex.refused is None
    finally:
        robot.close()


def test_unreachable_goal_reports_moveit_code(fetch):
    robot = _robot(fetch, safety=SafetyLimits(workspace_max=(3.0, 0.6, 1.6)))
    try:
        ex = robot.execute_grasp([1.2, 0.0, 0.03], DOWN)  # 1.9 m ahead of the base: beyond reach
        assert ex.failed_stage == "pre-grasp" and "PLANNING_FAILED" in ex.detail
    finally:
        robot.close()


@pytest.mark.parametrize(
    "position, rotation, reason",
    [
        ([0.0, 0.0, 0.03], np.diag([1.0, -1.0, -1.0]), "orientation_limit"),  # approach from below
        ([0.0, 0.0, 0.0], DOWN, "penetrates_table"),
        ([0.5, 0.0, 0.03], DOWN, "outside_workspace"),
    ],
)
def test_unsafe_grasps_are_refused_before_any_motion(fetch, position, rotation, reason):
    robot = _robot(fetch)
    try:
        n_before = len(fetch.server.received)
        ex = robot.execute_grasp(position, rotation)
        assert ex.refused == reason and not ex.success
        assert fetch.server.goals_sent(MOVE) == [] and fetch.server.goals_sent(GRIP) == []
        assert not any(m.get("op") == "publish" and m["topic"].endswith("/goal") for m in fetch.server.received[n_before:])
    finally:
        robot.close()


def test_tilt_limit_is_configurable(fetch):
    tilted = rot_x(0.6)
    robot = FetchRobot(FetchConfig(safety=SafetyLimits(max_tilt_deg=30)), CAL)
    assert robot.check([0.0, 0.0, 0.05], tilted).startswith("orientation_limit: the approach is 34 degrees")


def test_dry_run_plans_and_moves_nothing(fetch):
    robot = _robot(fetch, dry_run=True)
    try:
        ex = robot.execute_grasp([0.0, 0.0, 0.03], DOWN)
        assert ex.dry_run and not ex.success
        goals = fetch.server.goals_sent(MOVE)
        assert len(goals) == 4 and all(g["planning_options"]["plan_only"] for g in goals)
        assert fetch.server.goals_sent(GRIP) == []
        assert fetch.tcp is None and fetch.held is None  # the arm never left home
        assert [e["what"] for e in robot.log][:3] == ["open the gripper", "pre-grasp pose", "grasp pose"]
    finally:
        robot.close()


def test_timeout_cancels_the_goal(fetch):
    fetch.gripper_time = 5.0
    robot = _robot(fetch, gripper_timeout=0.3)
    try:
        t = time.monotonic()
        with pytest.raises(RobotTimeoutError, match="did not finish within 0.3 s; the goal was cancelled"):
            robot.execute_grasp([0.0, 0.0, 0.03], DOWN)
        assert time.monotonic() - t < 3.0
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not any(m.get("topic") == GRIP + "/cancel" for m in fetch.server.received):
            time.sleep(0.02)
        assert any(m.get("topic") == GRIP + "/cancel" for m in fetch.server.received)
    finally:
        robot.close()


def test_connection_drop_stops_cleanly(fetch):
    fetch.move_time = 5.0
    robot = _robot(fetch)
    try:
        import threading

        threading.Timer(0.3, fetch.server.drop_connections).start()
        t = time.monotonic()
        with pytest.raises(ConnectionLostError, match="connection dropped"):
            robot.execute_grasp([0.0, 0.0, 0.03], DOWN)
        assert time.monotonic() - t < 3.0  # stopped at once, not after the motion timeout
        assert not robot.connected
        with pytest.raises(ConnectionLostError):
            robot.home()
        time.sleep(1.5)
        assert fetch.server.connections == set()  # and it does not reconnect by itself
        assert fetch.tcp is None  # the robot side cancelled the motion of the lost client
    finally:
        robot.close()


def test_no_server_is_a_clear_error():
    robot = FetchRobot(FetchConfig(host="127.0.0.1", port=9, connect_timeout=1.0), CAL)
    with pytest.raises(RobotError, match="cannot reach rosbridge at ws://127.0.0.1:9.*rosbridge_websocket.launch"):
        robot.connect()


def test_missing_action_server_is_named(fetch):
    del fetch.server.actions[GRIP]
    robot = FetchRobot(FetchConfig(host="127.0.0.1", port=fetch.port), CAL)
    with pytest.raises(RobotError, match="does not offer /gripper_controller/gripper_action/status"):
        robot.connect()


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(velocity_scaling=0.0), "velocity_scaling must be in"),
        (dict(home_joints=(0.0,)), "home_joints needs 7 values"),
        (dict(safety=dict(workspace_min=(1, 0, 0), workspace_max=(0, 1, 1))), "workspace_min must be below"),
        (dict(safety=dict(max_tilt_deg=120)), "max_tilt_deg must be in"),
    ],
)
def test_config_validation(kw, message):
    with pytest.raises(ValueError, match=message):
        FetchConfig(**kw)
