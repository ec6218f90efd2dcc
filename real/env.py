"""The real-robot environment: a Fetch and a RealSense D435 behind the simulated tasks' interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from grasp_envs.envs.hand_camera import reproject_hand_depth
from grasp_envs.envs.interface import HAND_CAMERA, AgentInterface, ReprojectedHandCamera
from grasp_envs.envs.physics import physics_version
from grasp_envs.envs.observations import (MODE_KEYS, OBS_MODES, SEG_BACKGROUND, SEG_OBJECT, SEG_TABLE,
                                          ObservationConfig, observation_rng)
from grasp_envs.grid import GraspGrid, GraspPoses
from real.calibration import Calibration, CalibrationError, load_calibration, mat_to_quat
from real.camera import CameraError, RealSenseCamera, RealSenseConfig
from real.perception import (MotionConfig, SegmentationConfig, deproject, estimate_object_motion,
                             render_virtual_depth, render_virtual_labels, segment_object, to_table_frame)
from real.robot import FetchConfig, FetchRobot

#: The physics version whose episode-end rule the real env follows.  The robot has no physics
#: version of its own; its multi-attempt episodes end as the simulated envs' of this version do
#: (physics v1, current: a failure that uses the last of several attempts is ``truncated``).
EPISODE_END_PHYSICS = 1


class RealFetchGraspEnv(gym.Env):
    """One-shot grasping on a real Fetch with an overhead RealSense D435.

    ## Description
    The same task as ``grasp_envs/GraspRandom4D-v0`` (and 6D), on hardware: an object lies on a
    table in front of the robot; the agent picks one grasp from the discretised grid; the robot
    plans and executes it with MoveIt, closes the gripper and lifts 30 cm.  The agent object that
    runs in simulation runs here unchanged.

    ## Action Space
    ``MultiDiscrete([20] * dims)``, decoded by :class:`grasp_envs.grid.GraspGrid` relative to the
    object's bounding box, exactly as in simulation (x, y, z, yaw; or x, y, z, roll, pitch, yaw).

    ## Observation Space
    ``ObservationConfig.space()`` of the simulated tasks: ``depth`` (n_cameras, H, W) float32
    metres in the simulator's virtual camera model, and ``bbox`` (6,) in the table frame.  The
    D435's point cloud (after the SDK's spatial, temporal and hole-filling filters) is moved into
    the table frame with the calibration, the table plane is segmented to find the object's box,
    and the cloud is reprojected into the virtual cameras at ``camera_poses(bbox)``.  The
    ``privileged`` mode (object pose) does not exist on a real robot.

    The sensor presets give the simulated envs' keys (docs/observations.md):

    * ``pointcloud``: ``point_cloud`` and ``point_cloud_mask`` from the D435's own cloud (all its
      valid pixels, table frame, heights from the fitted plane), in the grid's frame of the box.
    * ``rgbd``: ``rgb`` from the D435's colour stream aligned to depth by the SDK (``rs.align``):
      every cloud point carries its colour into the virtual cameras.  Needs the colour stream
      (``camera={"color": True}``).  Pixels no point falls into, or whose point the colour camera
      does not see, are black.
    * ``segmentation``: the D435 has no segmentation sensor.  The mask can only be *derived* from
      the depth: points of the object blob :func:`real.perception.segment_object` found are the
      object, points within ``object_threshold`` of the fitted plane (and empty pixels on the
      plane) are the table, anything else (other objects, the arm) is background.  It is a
      function of the depth and box the agent already has, not a measurement, so the env asks for
      ``derived_masks=True`` before it gives one.
    * ``all``: all of them.

    ## Agent interface
    ``agent_interface()`` declares what the simulated envs declare: the spaces, the grid, the
    observation config and the ``hand_camera`` capability.  The robot has no wrist camera, so the
    hand images of candidate grasps are reprojected from the observed depth
    (:func:`grasp_envs.envs.hand_camera.reproject_hand_depth`, ``hand_images="reprojected"``, the
    default here); a simulated env with ``observation={"hand_images": "reprojected"}`` produces
    the same images from the same depth.

    ## Rewards
    1 for a successful grasp, else 0 (computed from the physical outcome in ``info``).

    ## Several attempts
    With ``max_attempts=N`` the contract is the simulated envs' (docs/attempts.md): the object stays
    where the arm left it and the next observation is a new capture that shows it there; a grasp
    the safety check refused (or a dry run) moved nothing, so the observation stays as it was.
    Each step's ``info`` has ``outcome``, ``rejection``, ``grasp_bins``, ``attempt``,
    ``attempts_left`` (0 once the episode ended), ``object_bounds`` (the box the returned
    observation shows), and ``object_moved`` / ``object_displacement``, which the robot cannot
    measure: they are *estimated* from the two observations (the centroid shift of the object's
    observed points and the overlap of its footprints, :func:`real.perception.estimate_object_motion`,
    thresholds in ``motion``), with ``object_overlap`` beside them.  No new capture, no motion:
    ``False`` and ``0.0`` after a refused grasp and on the step that ends the episode.

    ## Starting State
    ``reset()`` connects (first time), opens the gripper, moves the arm to its home pose out of
    the camera's view and takes the observation.  The operator places the object.

    ## Episode End
    Terminated after a successful grasp.  A grasp that does not succeed and uses the last attempt
    is ``truncated`` when there were several (the attempt budget is a time limit) and
    ``terminated`` with one: the rule of physics version :data:`EPISODE_END_PHYSICS`
    (``truncate_out_of_attempts``, :mod:`grasp_envs.envs.physics`), exposed as
    ``env.unwrapped.truncate_out_of_attempts``.

    ## Arguments
    * ``dims``: 4 or 6.
    * ``calibration``: a :class:`real.calibration.Calibration` or the path of its YAML file (required).
    * ``robot``: :class:`real.robot.FetchConfig` or dict (host, port, safety limits, dry_run, ...).
    * ``camera``: :class:`real.camera.RealSenseConfig` or dict.
    * ``segmentation``: :class:`real.perception.SegmentationConfig` or dict.
    * ``motion``: :class:`real.perception.MotionConfig` or dict: when the estimate calls the object moved.
    * ``observation``: :class:`grasp_envs.envs.ObservationConfig` or dict, as in simulation
      (``hand_images`` must be ``"reprojected"``; a dict without it gets it).
    * ``max_attempts``: grasps per episode.
    * ``confirm_success``: optional ``callable(info) -> bool`` asked after each executed grasp
      (operator confirmation); its answer decides success and is stored in ``info``.
    * ``depth_source``: an object with ``capture() -> DepthFrame`` and ``close()`` replacing the
      physical camera (the software device in tests).
    * ``derived_masks``: accept the derived segmentation mask of the ``segmentation`` and ``all`` presets.

    ## Version History
    * v0: initial version; the sensor presets (``pointcloud``, ``rgbd``, derived
      ``segmentation``, ``all``) came later as options; the default observation is unchanged.
      Multi-attempt episodes follow the simulated envs' contract (physics v1's episode end,
      ``attempts_left``, the estimated ``object_moved`` / ``object_displacement``); before, running
      out of several attempts was ``terminated``.  One-attempt episodes are unchanged.
    """

    metadata = {"render_modes": [], "render_fps": 1}

    def __init__(
        self,
        dims: int = 4,
        calibration: Calibration | str | Path | None = None,
        robot: FetchConfig | dict | None = None,
        camera: RealSenseConfig | dict | None = None,
        segmentation: SegmentationConfig | dict | None = None,
        motion: MotionConfig | dict | None = None,
        observation: ObservationConfig | dict | None = None,
        max_attempts: int = 1,
        confirm_success: Callable[[dict], bool] | None = None,
        depth_source=None,
        render_mode: str | None = None,
        derived_masks: bool = False,
    ) -> None:
        if calibration is None:
            raise CalibrationError(
                "RealFetchGrasp needs calibration=PATH to the camera-to-base YAML file "
                "(see docs/real_robot.md, 'Calibration')"
            )
        if render_mode is not None:
            raise ValueError("the real environment has no render modes; watch the robot")
        if int(max_attempts) < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.calibration = calibration if isinstance(calibration, Calibration) else load_calibration(calibration)
        self.grid = GraspGrid(dims)
        if not isinstance(observation, ObservationConfig):
            observation = ObservationConfig(**{"hand_images": "reprojected", **(observation or {})})
        self.obs_config = observation
        if self.obs_config.hand_images != "reprojected":
            raise ValueError(
                f"hand_images={self.obs_config.hand_images!r}: the real robot has no renderer or wrist camera; its hand "
                "images are reprojected from the observed depth: pass observation with hand_images='reprojected' "
                "(e.g. dataclasses.replace(config, hand_images='reprojected'))"
            )
        keys = MODE_KEYS[self.obs_config.mode]
        if "object_pose" in keys:
            raise ValueError(
                f"observation mode {self.obs_config.mode!r} needs the object pose, which a real robot does not observe; "
                f"use one of {[m for m in OBS_MODES if 'object_pose' not in MODE_KEYS[m]]}"
            )
        if "segmentation" in keys and not derived_masks:
            raise ValueError(
                f"observation mode {self.obs_config.mode!r}: the D435 has no segmentation sensor; the real env can only "
                "derive a mask from its table-plane segmentation of the depth (the object blob, the table plane): pass "
                "derived_masks=True to accept the derived mask, or use mode 'rgbd' or 'pointcloud' (docs/observations.md)"
            )
        self.derived_masks = bool(derived_masks)
        if self.obs_config.noise != "none":
            raise ValueError("noise presets simulate a depth sensor; the real camera brings its own noise: use noise='none'")
        self.seg_config = segmentation if isinstance(segmentation, SegmentationConfig) else SegmentationConfig(**(segmentation or {}))
        self.motion_config = motion if isinstance(motion, MotionConfig) else MotionConfig(**(motion or {}))
        self.robot_config = robot if isinstance(robot, FetchConfig) else FetchConfig(**(robot or {}))
        self.camera_config = camera if isinstance(camera, RealSenseConfig) else RealSenseConfig(**(camera or {}))
        if "rgb" in keys and depth_source is None and not self.camera_config.color:
            raise ValueError(f"observation mode {self.obs_config.mode!r} needs the D435's colour stream: "
                             "pass camera={'color': True}")
        self.max_attempts = int(max_attempts)
        self.truncate_out_of_attempts = physics_version(EPISODE_END_PHYSICS).truncate_out_of_attempts
        self.confirm_success = confirm_success
        self.action_space = spaces.MultiDiscrete([self.grid.n_bins] * dims)
        self.observation_space = self.obs_config.space()
        self.depth_source = depth_source
        self.robot = FetchRobot(self.robot_config, self.calibration)
        self.render_mode = None
        self._bounds: np.ndarray | None = None
        self._points: np.ndarray | None = None
        self._seg = None
        self._attempt = 0

    # ----------------------------------------------------------------- gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; the real environment takes none")
        if self.depth_source is None:
            self.depth_source = RealSenseCamera(self.camera_config)
        if not self.robot.connected:
            self.robot.connect()
        if not self.robot_config.dry_run:
            self.robot.gripper(self.robot_config.open_position, "open the gripper")
        self.robot.home()
        self._attempt = 0
        obs = self._observation()
        return obs, self._info_base()

    def step(self, action):
        if self._bounds is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._attempt >= self.max_attempts:
            raise gym.error.ResetNeeded("the episode has ended; call reset() before step()")
        poses = self.grid.decode_one(action, self._bounds)
        bins = self.grid.validate(action)
        ex = self.robot.execute_grasp(poses.position[0], poses.rotation[0])
        self._attempt += 1
        info = self._info_base()
        success = ex.success
        executed = ex.refused is None and ex.failed_stage is None and not ex.dry_run
        if executed and self.confirm_success is not None:
            confirmed = bool(self.confirm_success({**info, "gripper_success": ex.success, "gripper_opening": ex.opening}))
            info["operator_confirmed"] = confirmed
            success = confirmed
        if ex.dry_run:
            outcome = "dry_run"
        elif ex.refused is not None or ex.failed_stage is not None:
            outcome = "rejected"
        else:
            outcome = "success" if success else "failure"
        info.update(
            {
                "is_success": bool(success),
                "outcome": outcome,
                "rejection": ex.refused or (f"{ex.failed_stage}_failed" if ex.failed_stage else None),
                "detail": ex.detail,
                "lift_height": float(ex.lifted) if success else 0.0,
                "gripper_success": ex.success,
                "gripper_opening": ex.opening,
                "grasp_bins": bins[0].copy(),
                "grasp_position": poses.position[0].copy(),
                "grasp_quaternion": np.roll(mat_to_quat(poses.rotation[0]), 1),  # w, x, y, z as in simulation
                "attempt": self._attempt,
            }
        )
        reward = 1.0 if success else 0.0
        out_of_attempts = not success and self._attempt >= self.max_attempts
        # One attempt: the grasp is the episode (terminated).  Several: the budget is a time limit.
        truncated = out_of_attempts and self.max_attempts > 1 and self.truncate_out_of_attempts
        terminated = bool(success) or (out_of_attempts and not truncated)
        info.update({"attempts_left": 0 if terminated or truncated else self.max_attempts - self._attempt,
                     "object_moved": False, "object_displacement": 0.0, "object_overlap": 1.0})
        if terminated or truncated or ex.refused is not None or ex.dry_run:
            # A finished episode takes no new picture (the arm may still be moving away); a refused grasp
            # or a dry run moved nothing.  The observation is (a copy of) the last one.
            return {k: v.copy() for k, v in self._last_obs.items()}, reward, terminated, truncated, info
        # The arm went to the object: capture the scene it left and estimate, from the two observations
        # alone, whether the object moved (the robot does not know its pose).
        before = self._seg
        obs = self._observation()
        motion = estimate_object_motion(before, self._seg, self.seg_config, self.motion_config)
        info.update(self._info_base())  # the box of the scene the returned observation shows
        info.update({"object_moved": motion.moved, "object_displacement": motion.displacement,
                     "object_overlap": motion.overlap})
        return obs, reward, terminated, truncated, info

    def close(self):
        self.robot.close()
        if self.depth_source is not None:
            self.depth_source.close()

    # ----------------------------------------------------------------- observation
    def _observation(self) -> dict[str, np.ndarray]:
        frame = self.depth_source.capture()
        expected = self.calibration.intrinsics
        if expected is not None and not expected.close_to(frame.intrinsics):
            raise CalibrationError(
                f"the camera streams intrinsics {frame.intrinsics} but the calibration file expects {expected}; "
                "recalibrate, or remove 'intrinsics' from the file to accept the camera's"
            )
        cloud = to_table_frame(deproject(frame.depth, frame.intrinsics), self.calibration)
        seg = segment_object(cloud, self.seg_config, self.np_random)
        self._bounds, self._points, self._seg = seg.bounds, seg.points, seg
        obs = {"depth": self.depth_images(), "bbox": seg.bounds.astype(np.float32).ravel()}
        obs.update(self._sensor_observation(frame, seg))
        self._last_obs = obs
        return obs

    def _sensor_observation(self, frame, seg) -> dict[str, np.ndarray]:
        """The preset's keys beside depth and bbox, from the D435's cloud, its aligned colour and the segmentation."""
        cfg, obs = self.obs_config, {}
        keys = MODE_KEYS[cfg.mode]
        if "point_cloud" in keys:
            obs["point_cloud"], obs["point_cloud_mask"] = cfg.point_cloud(seg.points, seg.bounds, observation_rng(self))
        poses = cfg.camera_poses(seg.bounds)
        if "rgb" in keys:
            if frame.color is None:
                raise CameraError(f"observation mode {cfg.mode!r} needs colour but the camera delivers depth only: "
                                  "enable the colour stream (camera={'color': True}, RealSenseConfig.color)")
            colours = frame.color[frame.depth > 0]  # the cloud's points are the valid pixels in this order
            obs["rgb"] = np.stack([render_virtual_labels(seg.points, colours, cfg.camera, p, R, empty=0)
                                   for p, R in poses])
        if "segmentation" in keys:
            near_plane = np.abs(seg.points[:, 2]) < self.seg_config.object_threshold
            labels = np.where(seg.object_mask, SEG_OBJECT, np.where(near_plane, SEG_TABLE, SEG_BACKGROUND)).astype(np.uint8)
            obs["segmentation"] = np.stack([
                render_virtual_labels(seg.points, labels, cfg.camera, p, R, empty=SEG_BACKGROUND, table=SEG_TABLE)
                for p, R in poses])
        return obs

    def depth_images(self) -> np.ndarray:
        """Depth images (n_cameras, H, W) of the last capture in the simulator's virtual cameras."""
        cfg = self.obs_config
        return np.stack([
            render_virtual_depth(self._points, cfg.camera, p, R) for p, R in cfg.camera_poses(self._bounds)
        ]).astype(np.float32)

    def _info_base(self) -> dict[str, Any]:
        return {"object_bounds": self._bounds.copy(), "dry_run": self.robot_config.dry_run}

    def decode(self, actions) -> GraspPoses:
        """Table-frame grasp poses of bins ``actions`` for the current object's box."""
        if self._bounds is None:
            raise gym.error.ResetNeeded("call reset() before decode()")
        return self.grid.decode(actions, self._bounds)

    def hand_camera_images(self, actions) -> np.ndarray:
        """Hand-camera depth images (n, h, w) of grasps ``actions``, reprojected from the last observation."""
        if self._bounds is None:
            raise gym.error.ResetNeeded("call reset() before hand_camera_images()")
        return reproject_hand_depth(self._last_obs, self.decode(actions), self.obs_config)

    def agent_interface(self) -> AgentInterface:
        """What an agent may use: spaces, grid, cameras and the reprojected ``hand_camera`` capability."""
        return AgentInterface(self.action_space, self.observation_space, self.grid, self.obs_config,
                              {HAND_CAMERA: ReprojectedHandCamera(self.grid, self.obs_config)})
