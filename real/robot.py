"""The Fetch robot over rosbridge with roslibpy: MoveIt motions, the gripper action, safety.

Nothing of ROS is imported into the Python process: roslibpy speaks the rosbridge v2 JSON
protocol over a websocket to ``rosbridge_server`` on the robot.  The robot side needs only the
stock Fetch software (see docs/real_robot.md):

* ``/move_group`` (``moveit_msgs/MoveGroupAction``): pose goals for the ``gripper_link`` of group
  ``arm``, joint goals for the home pose; ``plan_only`` in dry-run mode;
* ``/gripper_controller/gripper_action`` (``control_msgs/GripperCommandAction``);
* ``/joint_states``: the finger joints give the gripper opening;
* ``/rosapi/topics`` (rosapi, launched with rosbridge): checked on connect.

A grasp is: open, move to the pre-grasp pose (backed off along the approach), move to the grasp,
close, lift 30 cm, read the opening (something between the fingers = success), release, go home.
Every pose is checked against :class:`SafetyLimits` before anything moves; an unsafe grasp is
refused with the reason and the robot stays still.  Each action has a timeout (the goal is
cancelled when it passes); a dropped connection stops the sequence at once with
:class:`ConnectionLostError` and the client does not reconnect by itself.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from real.calibration import Calibration, mat_to_quat

LOG = logging.getLogger("real.robot")

#: Fetch arm joints and the "tucked" pose, which keeps the arm out of an overhead camera's view.
ARM_JOINTS = (
    "shoulder_pan_joint", "shoulder_lift_joint", "upperarm_roll_joint", "elbow_flex_joint",
    "forearm_roll_joint", "wrist_flex_joint", "wrist_roll_joint",
)
TUCK_POSE = (1.32, 1.40, -0.2, 1.72, 0.0, 1.66, 0.0)
FINGER_JOINTS = ("l_gripper_finger_joint", "r_gripper_finger_joint")

#: gripper_link axes in the grasp (TCP) frame of grasp_envs.grid: Fetch's gripper_link x points
#: along the approach (TCP -z), its fingers close along y (TCP x), so z = x cross y = TCP -y.
LINK_IN_TCP = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])

MOVEIT_SUCCESS = 1
MOVEIT_CODES = {
    1: "SUCCESS", 99999: "FAILURE", -1: "PLANNING_FAILED", -2: "INVALID_MOTION_PLAN",
    -3: "MOTION_PLAN_INVALIDATED_BY_ENVIRONMENT_CHANGE", -4: "CONTROL_FAILED", -5: "UNABLE_TO_AQUIRE_SENSOR_DATA",
    -6: "TIMED_OUT", -7: "PREEMPTED", -10: "START_STATE_IN_COLLISION", -12: "GOAL_IN_COLLISION",
    -15: "INVALID_GROUP_NAME", -16: "INVALID_GOAL_CONSTRAINTS", -31: "NO_IK_SOLUTION",
}
GOAL_TERMINAL = {2: "PREEMPTED", 3: "SUCCEEDED", 4: "ABORTED", 5: "REJECTED", 8: "RECALLED", 9: "LOST"}


class RobotError(RuntimeError):
    """The robot could not do what was asked; the message says why and what to check."""


class ConnectionLostError(RobotError):
    """The rosbridge connection dropped; the robot was stopped and this client will not reconnect."""


class RobotTimeoutError(RobotError):
    """An action did not finish in time; its goal was cancelled."""


class SafetyError(RobotError):
    """A pose is outside the safety limits; nothing moved."""


@dataclass(frozen=True)
class SafetyLimits:
    """Limits checked before any motion (base frame, metres and degrees).

    Attributes:
        workspace_min: Lower corner of the box the gripper_link and TCP must stay in.
        workspace_max: Upper corner of that box.
        max_tilt_deg: Largest angle between the approach direction and straight down (90: any
            approach from the upper hemisphere, as the 6-D grid allows).
        table_clearance: The open fingertips must stay this far above the table surface.
    """

    workspace_min: tuple[float, float, float] = (0.30, -0.60, 0.40)
    workspace_max: tuple[float, float, float] = (1.10, 0.60, 1.60)
    max_tilt_deg: float = 90.0
    table_clearance: float = 0.0

    def __post_init__(self) -> None:
        lo, hi = np.asarray(self.workspace_min, float), np.asarray(self.workspace_max, float)
        if lo.shape != (3,) or hi.shape != (3,) or np.any(hi <= lo):
            raise ValueError(f"workspace_min must be below workspace_max on every axis, got {self.workspace_min}, {self.workspace_max}")
        object.__setattr__(self, "workspace_min", tuple(float(v) for v in lo))
        object.__setattr__(self, "workspace_max", tuple(float(v) for v in hi))
        if not 0 < self.max_tilt_deg <= 90:
            raise ValueError(f"max_tilt_deg must be in (0, 90], got {self.max_tilt_deg}")
        if self.table_clearance < 0:
            raise ValueError(f"table_clearance must be non-negative, got {self.table_clearance}")


@dataclass(frozen=True)
class FetchConfig:
    """Connection, motion and grasp-sequence settings of the Fetch.

    Attributes:
        host: rosbridge host (the robot's address).
        port: rosbridge websocket port.
        connect_timeout: Seconds to wait for the websocket and the action servers.
        move_group: MoveIt action server name.
        gripper_action: Gripper action server name.
        planning_group: MoveIt planning group.
        end_effector_link: Link whose pose MoveIt goals constrain.
        tcp_offset: Distance from ``end_effector_link``'s origin forward (its +x) to the grasp TCP
            (midway between the fingers, 15 mm above the fingertips), metres.
        velocity_scaling: MoveIt ``max_velocity_scaling_factor`` (0, 1].
        acceleration_scaling: MoveIt ``max_acceleration_scaling_factor`` (0, 1].
        planning_time: MoveIt allowed planning time (s).
        position_tolerance: Radius of the goal position region (m).
        orientation_tolerance: Goal orientation tolerance per axis (rad).
        motion_timeout: Longest time for one plan-and-execute (s).
        gripper_timeout: Longest time for one gripper command (s).
        pregrasp_distance: Back-off along the approach before the final approach (m).
        lift_height: Straight-up lift after closing (m), 30 cm as in the paper and the simulator.
        open_position: Gripper opening commanded to open (m); the Fetch opens to 0.1 m.
        max_effort: Gripper effort (N).
        min_success_opening: After the lift, an opening larger than this means the object is
            between the fingers (m).
        home_joints: Arm joint positions of the home pose (out of the camera's view).
        dry_run: Plan every motion (``plan_only``) and log it, but move nothing.
        safety: Limits checked before motion.
    """

    host: str = "localhost"
    port: int = 9090
    connect_timeout: float = 10.0
    move_group: str = "/move_group"
    gripper_action: str = "/gripper_controller/gripper_action"
    planning_group: str = "arm"
    end_effector_link: str = "gripper_link"
    tcp_offset: float = 0.0
    velocity_scaling: float = 0.1
    acceleration_scaling: float = 0.1
    planning_time: float = 5.0
    position_tolerance: float = 0.005
    orientation_tolerance: float = 0.02
    motion_timeout: float = 60.0
    gripper_timeout: float = 10.0
    pregrasp_distance: float = 0.10
    lift_height: float = 0.30
    open_position: float = 0.10
    max_effort: float = 60.0
    min_success_opening: float = 0.005
    home_joints: tuple[float, ...] = TUCK_POSE
    dry_run: bool = False
    safety: SafetyLimits = field(default_factory=SafetyLimits)

    def __post_init__(self) -> None:
        if isinstance(self.safety, dict):
            object.__setattr__(self, "safety", SafetyLimits(**self.safety))
        if not isinstance(self.safety, SafetyLimits):
            raise ValueError(f"safety must be a SafetyLimits or a dict, got {type(self.safety).__name__}")
        for name in ("velocity_scaling", "acceleration_scaling"):
            v = getattr(self, name)
            if not 0 < v <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {v}")
        for name in ("connect_timeout", "motion_timeout", "gripper_timeout", "planning_time",
                     "position_tolerance", "orientation_tolerance", "open_position", "max_effort"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.pregrasp_distance < 0 or self.lift_height < 0 or self.min_success_opening < 0:
            raise ValueError("pregrasp_distance, lift_height and min_success_opening must be non-negative")
        if not 0 < int(self.port) < 65536:
            raise ValueError(f"port must be in 1..65535, got {self.port}")
        if len(self.home_joints) != len(ARM_JOINTS):
            raise ValueError(f"home_joints needs {len(ARM_JOINTS)} values ({', '.join(ARM_JOINTS)}), got {len(self.home_joints)}")
        object.__setattr__(self, "home_joints", tuple(float(v) for v in self.home_joints))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GraspExecution:
    """What happened to one grasp on the robot.

    ``refused`` holds the safety reason when nothing moved; ``failed_stage`` names the step where
    planning or execution failed; ``success`` is judged from the gripper opening after the lift.
    """

    success: bool
    opening: float | None
    lifted: float
    refused: str | None = None
    failed_stage: str | None = None
    detail: str = ""
    dry_run: bool = False


def _pose_msg(position, R) -> dict:
    x, y, z, w = mat_to_quat(R)
    return {"position": dict(zip("xyz", map(float, position))), "orientation": {"x": x, "y": y, "z": z, "w": w}}


class FetchRobot:
    """The Fetch behind rosbridge.  Poses passed in are grasp (TCP) poses in the **table** frame."""

    def __init__(self, config: FetchConfig | dict | None = None, calibration: Calibration | None = None) -> None:
        self.config = config if isinstance(config, FetchConfig) else FetchConfig(**(config or {}))
        if calibration is None:
            raise ValueError("FetchRobot needs the calibration (for the table frame and the base frame name)")
        self.calibration = calibration
        self.ros = None
        self._lost = threading.Event()
        self._joint_lock = threading.Lock()
        self._joints: dict[str, float] = {}
        self._joint_stamp = 0
        self._clients: dict[str, object] = {}
        self._active_goal = None
        #: Every goal sent (or, in dry run, planned): a readable record of what the robot did.
        self.log: list[dict] = []

    # ------------------------------------------------------------------ connection
    def connect(self) -> None:
        try:
            import roslibpy
            from roslibpy.ros1.actionlib import ActionClient
        except ImportError as e:
            raise ImportError("the Fetch backend needs roslibpy: pip install 'grasp-envs[real]'") from e
        c = self.config
        ros = roslibpy.Ros(host=c.host, port=int(c.port), transport="asyncio")
        # A dropped link must stop the robot, not silently reconnect mid-sequence.
        ros.factory.maxRetries = 0
        try:
            ros.run(timeout=c.connect_timeout)
        except Exception as e:
            ros.close()
            raise RobotError(
                f"cannot reach rosbridge at ws://{c.host}:{c.port} within {c.connect_timeout:.0f} s ({e}); on the robot run "
                "`roslaunch rosbridge_server rosbridge_websocket.launch` and check the network (docs/real_robot.md)"
            ) from None
        self.ros = ros
        self._lost.clear()
        ros.on("close", lambda *_: self._on_close())
        try:
            topics = set(ros.get_topics())
        except Exception as e:
            self.close()
            raise RobotError(f"rosapi did not answer /rosapi/topics ({e}); launch rosbridge with rosapi enabled") from None
        need = {c.move_group + "/status": "MoveIt (roslaunch fetch_moveit_config move_group.launch)",
                c.gripper_action + "/status": "the gripper controller (fetch_bringup)",
                "/joint_states": "the robot drivers (fetch_bringup)"}
        missing = [f"{t} ({what})" for t, what in need.items() if t not in topics]
        if missing:
            self.close()
            raise RobotError("the robot does not offer " + "; ".join(missing) + ": start it on the robot")
        self._joint_topic = roslibpy.Topic(ros, "/joint_states", "sensor_msgs/JointState", throttle_rate=50)
        self._joint_topic.subscribe(self._on_joints)
        try:
            self._clients["move"] = ActionClient(ros, c.move_group, "moveit_msgs/MoveGroupAction")
            self._clients["gripper"] = ActionClient(ros, c.gripper_action, "control_msgs/GripperCommandAction")
        except Exception as e:
            self.close()
            raise RobotError(f"an action server did not report its status ({e}); check move_group and the gripper controller") from None
        LOG.info("connected to rosbridge at ws://%s:%s%s", c.host, c.port, " (dry run)" if c.dry_run else "")

    @property
    def connected(self) -> bool:
        return self.ros is not None and not self._lost.is_set()

    def _on_close(self) -> None:
        if self.ros is not None and not self._closing:
            LOG.error("rosbridge connection lost; robot commands stop here")
        self._lost.set()

    _closing = False

    def close(self) -> None:
        """Cancel any goal in flight and disconnect."""
        if self.ros is None:
            return
        self._closing = True
        try:
            if self._active_goal is not None and not self._lost.is_set():
                self._active_goal.cancel()
            if not self._lost.is_set():
                self.ros.close()
        except Exception:  # closing a half-dead link must not mask the original error
            LOG.exception("error while closing the rosbridge connection")
        finally:
            self.ros = None
            self._clients.clear()
            self._closing = False

    def _require(self) -> None:
        if self._lost.is_set():
            raise ConnectionLostError(
                "the rosbridge connection dropped; the sequence was stopped. Check the network and rosbridge on "
                "the robot, then make a new environment (or call connect())"
            )
        if self.ros is None:
            raise RobotError("not connected: call connect() first (gym.make connects on reset())")

    def _on_joints(self, msg: dict) -> None:
        with self._joint_lock:
            for n, p in zip(msg.get("name", []), msg.get("position", [])):
                self._joints[n] = float(p)
            self._joint_stamp += 1

    def gripper_opening(self, timeout: float = 2.0) -> float:
        """Finger separation (m) from the next ``/joint_states`` message that holds both fingers."""
        self._require()
        with self._joint_lock:
            start = self._joint_stamp
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._require()
            with self._joint_lock:
                if self._joint_stamp > start and all(j in self._joints for j in FINGER_JOINTS):
                    return sum(self._joints[j] for j in FINGER_JOINTS)
            time.sleep(0.01)
        raise RobotTimeoutError(f"no /joint_states with {FINGER_JOINTS} within {timeout} s; check the robot drivers")

    # ------------------------------------------------------------------ actions
    def _run_goal(self, client: str, goal: dict, timeout: float, what: str, accept=(3,)) -> dict:
        """Send a goal, wait for its result; ``accept`` lists the terminal statuses that are not errors."""
        from roslibpy import Message
        from roslibpy.ros1.actionlib import Goal

        self._require()
        g = Goal(self._clients[client], Message(goal))
        self._active_goal = g
        try:
            g.send()
            deadline = time.monotonic() + timeout
            while not g.wait_result.wait(0.02):
                if self._lost.is_set():
                    self._require()
                if time.monotonic() > deadline:
                    g.cancel()
                    raise RobotTimeoutError(f"{what} did not finish within {timeout:.1f} s; the goal was cancelled")
        finally:
            self._active_goal = None
        status = int(g.status.get("status", 3))
        if status not in accept:
            raise RobotError(f"{what}: the action server ended the goal as {GOAL_TERMINAL.get(status, status)}")
        return g.result or {}

    def _motion_request(self, constraints: dict, path_constraints: dict | None = None) -> dict:
        c = self.config
        s = c.safety
        frame = self.calibration.parent_frame
        return {
            "request": {
                "workspace_parameters": {
                    "header": {"frame_id": frame},
                    "min_corner": dict(zip("xyz", s.workspace_min)),
                    "max_corner": dict(zip("xyz", s.workspace_max)),
                },
                "start_state": {"is_diff": True},
                "goal_constraints": [constraints],
                "path_constraints": path_constraints or {},
                "group_name": c.planning_group,
                "num_planning_attempts": 3,
                "allowed_planning_time": c.planning_time,
                "max_velocity_scaling_factor": c.velocity_scaling,
                "max_acceleration_scaling_factor": c.acceleration_scaling,
            },
            "planning_options": {
                "plan_only": bool(c.dry_run),
                "look_around": False,
                "replan": False,
                "planning_scene_diff": {"is_diff": True, "robot_state": {"is_diff": True}},
            },
        }

    def _move(self, goal: dict, what: str) -> None:
        c = self.config
        self.log.append({"action": "move_group", "what": what, "plan_only": c.dry_run, "goal": goal})
        LOG.info("%s %s", "planning (dry run)" if c.dry_run else "moving:", what)
        # MoveIt aborts failed plans; its error code says why, so read it for ABORTED goals too.
        result = self._run_goal("move", goal, c.motion_timeout, what, accept=(3, 4))
        code = int(result.get("error_code", {}).get("val", 0))
        if code != MOVEIT_SUCCESS:
            raise RobotError(f"{what}: MoveIt returned {MOVEIT_CODES.get(code, code)}")

    def link_pose(self, tcp_position, tcp_rotation) -> tuple[np.ndarray, np.ndarray]:
        """End-effector link pose (base frame) for a TCP pose in the table frame."""
        R_link = np.asarray(tcp_rotation) @ LINK_IN_TCP
        p = self.calibration.table_to_base(tcp_position) - self.config.tcp_offset * R_link[:, 0]
        return p, R_link

    def move_tcp(self, position, rotation, what: str, keep_orientation: bool = False) -> None:
        """Plan and (unless dry run) execute a motion of the TCP to a table-frame pose."""
        c = self.config
        p, R = self.link_pose(position, rotation)
        pose = _pose_msg(p, R)
        frame = {"frame_id": self.calibration.parent_frame}
        orient = {
            "header": frame, "orientation": pose["orientation"], "link_name": c.end_effector_link,
            "absolute_x_axis_tolerance": c.orientation_tolerance, "absolute_y_axis_tolerance": c.orientation_tolerance,
            "absolute_z_axis_tolerance": c.orientation_tolerance, "weight": 1.0,
        }
        constraints = {
            "name": what,
            "position_constraints": [{
                "header": frame, "link_name": c.end_effector_link, "target_point_offset": {"x": 0.0, "y": 0.0, "z": 0.0},
                "constraint_region": {
                    "primitives": [{"type": 2, "dimensions": [c.position_tolerance]}],  # SPHERE
                    "primitive_poses": [{"position": pose["position"], "orientation": {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0}}],
                },
                "weight": 1.0,
            }],
            "orientation_constraints": [orient],
        }
        path = {"name": "keep orientation", "orientation_constraints": [dict(orient, absolute_x_axis_tolerance=0.1,
                absolute_y_axis_tolerance=0.1, absolute_z_axis_tolerance=0.1)]} if keep_orientation else None
        self._move(self._motion_request(constraints, path), what)

    def home(self) -> None:
        c = self.config
        constraints = {"name": "home", "joint_constraints": [
            {"joint_name": j, "position": v, "tolerance_above": 0.01, "tolerance_below": 0.01, "weight": 1.0}
            for j, v in zip(ARM_JOINTS, c.home_joints)]}
        self._move(self._motion_request(constraints), "home (arm tucked out of the camera's view)")

    def gripper(self, position: float, what: str) -> dict | None:
        c = self.config
        goal = {"command": {"position": float(position), "max_effort": c.max_effort}}
        self.log.append({"action": "gripper", "what": what, "plan_only": c.dry_run, "goal": goal})
        if c.dry_run:
            LOG.info("dry run: would %s (gripper to %.3f m)", what, position)
            return None
        LOG.info("gripper: %s", what)
        # A gripper that stalls on an object may end the goal as ABORTED (stalled, goal not reached):
        # that is a grasp, not an error.  The opening is read from /joint_states afterwards.
        return self._run_goal("gripper", goal, c.gripper_timeout, what, accept=(3, 4))

    # ------------------------------------------------------------------ safety
    def check(self, position, rotation) -> str | None:
        """Why a TCP pose (table frame) is unsafe, or ``None``.  Checks the pre-grasp and lift too."""
        c, s = self.config, self.config.safety
        R = np.asarray(rotation, dtype=np.float64)
        approach = -R[:, 2]
        tilt = np.degrees(np.arccos(np.clip(-approach[2], -1.0, 1.0)))
        if tilt > s.max_tilt_deg + 1e-9:
            return f"orientation_limit: the approach is {tilt:.0f} degrees from vertical (limit {s.max_tilt_deg:.0f})"
        lo, hi = np.asarray(s.workspace_min), np.asarray(s.workspace_max)
        waypoints = {
            "grasp": np.asarray(position, float),
            "pre-grasp": np.asarray(position, float) - c.pregrasp_distance * approach,
            "lift": np.asarray(position, float) + [0.0, 0.0, c.lift_height],
        }
        for name, p in waypoints.items():
            for label, q in (("TCP", self.calibration.table_to_base(p)), (c.end_effector_link, self.link_pose(p, R)[0])):
                if np.any(q < lo) or np.any(q > hi):
                    return (f"outside_workspace: the {name} {label} position {np.round(q, 3).tolist()} (base frame) "
                            f"leaves the workspace box {list(s.workspace_min)}..{list(s.workspace_max)}")
        # Open fingertip corners (grasp_envs.grid: fingers close along x, tips 15 mm below the TCP).
        half = c.open_position / 2 + 0.007
        corners = np.array([[sx * half, sy * 0.013, -0.015] for sx in (-1, 1) for sy in (-1, 1)])
        lowest = float(np.min((corners @ R.T)[:, 2] + position[2]))
        if lowest < s.table_clearance - 1e-9:
            return f"penetrates_table: the open fingertips would reach {lowest * 1000:.0f} mm relative to the table surface"
        return None

    # ------------------------------------------------------------------ the grasp
    def execute_grasp(self, position, rotation) -> GraspExecution:
        """Run the whole grasp sequence for a TCP pose in the table frame."""
        self._require()
        c = self.config
        position = np.asarray(position, dtype=np.float64)
        R = np.asarray(rotation, dtype=np.float64)
        reason = self.check(position, R)
        if reason is not None:
            LOG.warning("grasp refused, nothing moved: %s", reason)
            self.log.append({"action": "refused", "reason": reason})
            return GraspExecution(False, None, 0.0, refused=reason.split(":")[0], detail=reason)
        approach = -R[:, 2]
        stage = "open"
        try:
            self.gripper(c.open_position, "open the gripper")
            stage = "pre-grasp"
            self.move_tcp(position - c.pregrasp_distance * approach, R, "pre-grasp pose")
            stage = "approach"
            self.move_tcp(position, R, "grasp pose", keep_orientation=True)
            stage = "close"
            self.gripper(0.0, "close the gripper")
            stage = "lift"
            self.move_tcp(position + [0.0, 0.0, c.lift_height], R, f"lift {c.lift_height * 100:.0f} cm", keep_orientation=True)
        except (ConnectionLostError, RobotTimeoutError):
            raise
        except RobotError as e:
            LOG.warning("grasp failed at %s: %s", stage, e)
            self._recover()
            return GraspExecution(False, None, 0.0, failed_stage=stage, detail=str(e), dry_run=c.dry_run)
        if c.dry_run:
            self.home()
            return GraspExecution(False, None, 0.0, detail="dry run: planned, nothing moved", dry_run=True)
        opening = self.gripper_opening()
        success = opening > c.min_success_opening
        self.gripper(c.open_position, "release")
        self.home()
        return GraspExecution(success, opening, c.lift_height if success else 0.0)

    def _recover(self) -> None:
        """After a failed step: open and go home, so the next observation sees a clear table."""
        try:
            self.gripper(self.config.open_position, "open the gripper (recovery)")
            self.home()
        except (ConnectionLostError, RobotTimeoutError):
            raise
        except RobotError as e:
            raise RobotError(f"recovery after a failed grasp failed too ({e}); bring the arm home by hand") from None
