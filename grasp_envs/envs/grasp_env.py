"""The one-shot grasping environment shared by every object set."""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from grasp_envs.grid import GraspGrid, GraspPoses
from grasp_envs.objects import GraspObject
from grasp_envs.objects.procedural import random_rotation
from grasp_envs.sim import GraspSimulator, Rejection, SimConfig
from grasp_envs.sim.simulator import mat_to_quat
from grasp_envs.envs.observations import MODE_KEYS, ObservationConfig, dexnet_noise, observation_rng
from grasp_envs.envs.sensors import SceneSensors
from grasp_envs.envs.hand_camera import reproject_hand_depth
from grasp_envs.envs.interface import HAND_CAMERA, AgentInterface, RenderedHandCamera, ReprojectedHandCamera
from grasp_envs.envs.physics import LATEST_PHYSICS, identity_digest, physics_identity, physics_version
from grasp_envs.envs.randomization import RandomizationConfig, RandomizationSample
from grasp_envs.camera import CameraModel

SPLITS = ("train", "test")
#: A failed grasp "moved" the object (``info["object_moved"]``) when its new rest is this far (m)
#: or this much turned (radians) from the old one.
MOVED_DISTANCE, MOVED_ANGLE = 1e-3, np.radians(1.0)


def _rest_change(before: np.ndarray, after: np.ndarray) -> tuple[float, float]:
    """Largest distance (m) and turn (radians) between two rests (pos, quat) of the objects, (7,) or (k, 7)."""
    a, b = np.reshape(before, (-1, 7)), np.reshape(after, (-1, 7))
    shift = np.linalg.norm(b[:, :3] - a[:, :3], axis=1)
    turn = 2 * np.arccos(np.clip(np.abs(np.sum(a[:, 3:] * b[:, 3:], axis=1)), 0.0, 1.0))
    return float(shift.max()), float(turn.max())


def _physics(version):
    try:
        version = int(version)
    except (TypeError, ValueError):
        pass  # physics_version's own error names the published versions and the id to use
    return physics_version(version)


class GraspEnv(gym.Env):
    """Base class: one object on a table, one discretised grasp per step.

    Subclasses say where objects come from by implementing :meth:`object_seed_range` and
    :meth:`make_object`; everything else (spaces, physics, observation, info) lives here.
    See :class:`grasp_envs.envs.random_objects.GraspRandomEnv` for the documented sections.

    Every subclass takes ``randomization`` (a
    :class:`~grasp_envs.envs.randomization.RandomizationConfig` or a dict of its fields): domain
    randomisation of friction, density, scale, the cameras and the sensing noise, drawn per reset;
    all off by default (docs/randomization.md).

    ``max_attempts=N`` (a ``gym.make`` kwarg, so part of ``env.spec`` and of any benchmark task's
    fingerprint; the physics of each attempt is that of the id) gives N grasps on the same object:
    after a failure the object stays where physics left it and the next observation shows it; a
    rejected grasp leaves the scene and the observation unchanged.  Each step's info says what
    happened: ``outcome`` ("success", "failure", "rejected"), ``rejection`` (the reason or
    ``None``), ``attempt`` (1-based), ``attempts_left`` (0 once the episode ended),
    ``object_moved`` (the returned observation shows the object at a new rest, more than
    :data:`MOVED_DISTANCE` away or :data:`MOVED_ANGLE` turned) and ``object_displacement`` (m);
    see docs/attempts.md.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        dims: int = 4,
        split: str = "train",
        max_attempts: int = 1,
        observation: ObservationConfig | dict | None = None,
        sim: SimConfig | dict | None = None,
        render_mode: str | None = None,
        render_size: tuple[int, int] = (240, 320),
        nthread: int = 1,
        physics_version: int = LATEST_PHYSICS,
        randomization: RandomizationConfig | dict | None = None,
    ) -> None:
        self.physics = physics_version_ = _physics(physics_version)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if int(max_attempts) < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.grid = GraspGrid(dims)
        self.split = split
        self.max_attempts = int(max_attempts)
        self.obs_config = observation if isinstance(observation, ObservationConfig) else ObservationConfig(**(observation or {}))
        # ``sim`` given as a dict overrides the physics version's own settings; a SimConfig is taken whole.
        self.sim_config = sim if isinstance(sim, SimConfig) else dataclasses.replace(physics_version_.sim, **(sim or {}))
        self.randomization = RandomizationConfig.from_any(randomization)
        self._check_randomization()
        #: What the last reset drew (``None`` without randomisation).
        self.randomization_sample: RandomizationSample | None = None
        self.render_mode = render_mode
        self.render_size = tuple(render_size)
        self.nthread = nthread
        self.action_space = spaces.MultiDiscrete([self.grid.n_bins] * dims)
        self.observation_space = self.obs_config.space()
        self.simulator: GraspSimulator | None = None
        self.object: GraspObject | None = None
        self.object_seed: int | None = None
        self._attempt = 0
        self._last_pose: GraspPoses | None = None
        self._last_obs: dict[str, np.ndarray] | None = None
        self._box_offset = np.zeros((2, 3))
        self._renderer = None

    def _check_randomization(self) -> None:
        rnd, cfg = self.randomization, self.obs_config
        if rnd.enabled and type(self).reset is not GraspEnv.reset:
            # The draws, the object, friction and camera hooks live in GraspEnv.reset: an env that
            # builds its scenes in a reset of its own would otherwise ignore the knobs silently.
            raise ValueError(f"{type(self).__name__} builds its scenes in its own reset and does not apply "
                             "randomization= yet; drop the argument (docs/randomization.md)")
        if rnd.part_density is not None and self.sim_config.inertia != "union":
            raise ValueError("randomization part_density needs exact union inertia (physics version >= 1, "
                             f"SimConfig.inertia='union'); this env has inertia={self.sim_config.inertia!r}: "
                             f"use a '-v{LATEST_PHYSICS}' id")
        if rnd.depth_noise != "none" and cfg.noise != "none":
            raise ValueError(f"randomization depth_noise={rnd.depth_noise!r} and observation noise={cfg.noise!r} "
                             "both add depth noise: set one of them (observation={'noise': 'none'} or "
                             "randomization={'depth_noise': 'none'})")
        if rnd.bbox_noise and cfg.bbox_noise:
            raise ValueError(f"randomization bbox_noise={rnd.bbox_noise} and observation bbox_noise={cfg.bbox_noise} "
                             "both perturb the box: set one of them")
        if not (0 < cfg.fovy - rnd.camera_fovy and cfg.fovy + rnd.camera_fovy < 180):
            raise ValueError(f"randomization camera_fovy={rnd.camera_fovy} must leave the field of view "
                             f"{cfg.fovy} degrees within (0, 180)")
        # The box noise in effect (the observation's own, or the randomisation's).
        self._box_config = dataclasses.replace(cfg, bbox_noise=rnd.bbox_noise) if rnd.bbox_noise else cfg

    # ----------------------------------------------------------------- object sources
    def object_seed_range(self) -> tuple[int, int]:
        """Half-open range of object seeds for ``self.split``."""
        raise NotImplementedError

    def make_object(self, object_seed: int) -> GraspObject:
        raise NotImplementedError

    # ----------------------------------------------------------------- gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        lo, hi = self.object_seed_range()
        if "object_seed" in options:
            object_seed = int(options.pop("object_seed"))
            if not lo <= object_seed < hi:
                raise ValueError(
                    f"object_seed {object_seed} is outside the {self.split!r} split's range [{lo}, {hi})"
                )
        else:
            object_seed = int(self.np_random.integers(lo, hi))
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; supported: ['object_seed']")
        self.object_seed = object_seed
        self.object = self.make_object(object_seed)
        orientation = random_rotation(self.np_random)
        sample, inertial = None, None
        if self.randomization.enabled:
            sample = self.randomization.sample(self.np_random, n_parts=len(self.object.parts),
                                               n_cameras=self.obs_config.n_cameras)
            self.object, inertial = sample.apply_object(self.object)
        self.randomization_sample = sample
        self.simulator = GraspSimulator(
            self.object, self.sim_config, orientation=orientation, nthread=self.nthread, inertial=inertial,
            finger_friction=None if sample is None else sample.finger_friction,
            table_friction=None if sample is None else sample.table_friction)
        self._attempt = 0
        self._last_pose = None
        self._bounds = self._box_config.noisy_bounds(self.simulator.object_bounds, self.np_random)
        self._last_obs = self._observation()
        return self._copy_obs(), self._info_base()

    def step(self, action):
        if self.simulator is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._attempt >= self.max_attempts:
            raise gym.error.ResetNeeded("the episode has ended; call reset() before step()")
        poses = self.grid.decode_one(action, self._bounds)
        bins = self.grid.validate(action)
        outcome = self.simulator.attempt(poses)
        self._attempt += 1
        self._last_pose = poses
        success = bool(outcome.success[0])
        rejection = Rejection(int(outcome.rejection[0]))
        reward = 1.0 if success else 0.0
        out_of_attempts = not success and self._attempt >= self.max_attempts
        # One attempt: the grasp is the episode (terminated).  Several: the budget is a time limit.
        truncated = out_of_attempts and self.max_attempts > 1 and self.physics.truncate_out_of_attempts
        terminated = success or (out_of_attempts and not truncated)
        info = self._info_base()
        info.update(
            {
                "is_success": success,
                "outcome": "success" if success else ("rejected" if rejection else "failure"),
                "rejection": rejection.reason,
                "lift_height": float(outcome.lift[0]),
                "grasp_bins": bins[0].copy(),
                "grasp_position": poses.position[0].copy(),
                "grasp_quaternion": mat_to_quat(poses.rotation)[0],
                "attempt": self._attempt,
                "attempts_left": 0 if terminated or truncated else self.max_attempts - self._attempt,
                "object_moved": False,
                "object_displacement": 0.0,
            }
        )
        if not (terminated or truncated) and rejection == Rejection.NONE:
            # The object stays; the next observation shows the scene after the failed grasp.
            before = self.simulator.object_qpos.copy()
            self.simulator.set_object_pose(outcome.final_object_qpos[0])
            shift, turn = _rest_change(before, self.simulator.object_qpos)
            info.update(self._info_base())  # the boxes of the scene the returned observation shows
            info["object_displacement"] = shift
            info["object_moved"] = bool(shift > MOVED_DISTANCE or turn > MOVED_ANGLE)
            self._bounds = self._box_config.noisy_bounds(self.simulator.object_bounds, self.np_random)
            self._last_obs = self._observation()
        # Otherwise nothing in the scene moved (a rejected grasp never touches it, and the
        # simulator's rest state is untouched by the rollouts): the observation is the last one.
        return self._copy_obs(), reward, terminated, truncated, info

    @property
    def _bounds(self) -> np.ndarray:
        """The box the agent sees and the grid is relative to: the object's plus the box noise
        drawn when the scene last changed (none without ``bbox_noise``)."""
        return self.simulator.object_bounds + self._box_offset

    @_bounds.setter
    def _bounds(self, box: np.ndarray) -> None:
        self._box_offset = np.asarray(box, dtype=np.float64) - self.simulator.object_bounds

    def _copy_obs(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self._last_obs.items()}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_renderer"] = None  # an OpenGL context does not copy; render() makes a new one
        state.pop("_warp_backend", None)  # device buffers do not copy; made again on first use
        return state

    def render(self):
        if self.render_mode != "rgb_array" or self.simulator is None:
            return None
        sim = self.simulator
        if self._renderer is None:
            h, w = self.render_size
            sim.model.vis.global_.offheight = max(sim.model.vis.global_.offheight, h)
            sim.model.vis.global_.offwidth = max(sim.model.vis.global_.offwidth, w)
            self._renderer = mujoco.Renderer(sim.model, h, w)
        d = mujoco.MjData(sim.model)
        d.qpos[:] = sim.data.qpos
        if self._last_pose is not None:
            a = sim._palm_qadr
            d.qpos[a : a + 3] = self._last_pose.position[0]
            d.qpos[a + 3 : a + 7] = mat_to_quat(self._last_pose.rotation)[0]
        mujoco.mj_forward(sim.model, d)
        self._renderer.update_scene(d, camera="view")
        return self._renderer.render()

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # ----------------------------------------------------------------- identity
    def object_pipeline(self) -> dict | None:
        """Settings of how this env makes its objects, where they belong to its physics identity."""
        return None

    def physics_identity(self) -> dict:
        """What decides this env's outcomes besides its scenes (:mod:`grasp_envs.envs.physics`)."""
        identity = physics_identity(self.sim_config, version=self.physics.version, objects=self.object_pipeline())
        if self.randomization.enabled:  # absent otherwise: plain envs keep their frozen digests
            identity["randomization"] = self.randomization.to_dict()
        return identity

    @property
    def physics_digest(self) -> str:
        """sha256 of :meth:`physics_identity`; benchmark task fingerprints include it."""
        return identity_digest(self.physics_identity())

    # ----------------------------------------------------------------- helpers
    def _info_base(self) -> dict[str, Any]:
        info = {
            "object_seed": self.object_seed,
            "object_name": self.object.name,
            "object_bounds": self.simulator.object_bounds.copy(),
        }
        if self.randomization_sample is not None:
            info["randomization"] = self.randomization_sample.to_dict()
        return info

    def depth_images(self) -> np.ndarray:
        """Noise-free overhead depth images (n_cameras, H, W) of the current scene.

        With camera randomisation the cameras are where this episode's calibration error put
        them (:class:`grasp_envs.envs.randomization.CameraJitter`), not where the observation
        config, and so the agent, believes they are.
        """
        return np.stack([self.simulator.render_depth(c, p, R) for c, p, R in self._camera_views()])

    def _camera_views(self) -> list[tuple[CameraModel, np.ndarray, np.ndarray]]:
        """(camera model, position, rotation) of each camera where it really is (jittered under randomisation)."""
        cfg = self.obs_config
        cam = cfg.camera
        poses = cfg.camera_poses(self._bounds)
        jitter = None if self.randomization_sample is None else self.randomization_sample.cameras
        if jitter is None:
            return [(cam, p, R) for p, R in poses]
        views = []
        for (p, R), j in zip(poses, jitter):
            cam_j = CameraModel(cam.width, cam.height, cam.fovy + j.fovy, far=cam.far) if j.fovy else cam
            views.append((cam_j, *j.apply(p, R)))
        return views

    def _sensor_observation(self, depth: np.ndarray) -> dict[str, np.ndarray]:
        """The preset's keys beside depth and bbox (:mod:`grasp_envs.envs.observations`, :mod:`grasp_envs.envs.sensors`)."""
        cfg, obs = self.obs_config, {}
        keys = MODE_KEYS[cfg.mode]
        if "object_pose" in keys:
            obs["object_pose"] = self.simulator.object_qpos.astype(np.float32)
        if "point_cloud" in keys:
            obs["point_cloud"], obs["point_cloud_mask"] = cfg.point_cloud(
                cfg.depth_points(depth, self._bounds), self._bounds, observation_rng(self))
        if "rgb" in keys or "segmentation" in keys:
            sensors = self.__dict__.get("_sensors")
            if sensors is None or sensors.simulator is not self.simulator:
                sensors = self._sensors = SceneSensors(self.simulator)
            views = [sensors.render(c, p, R, rgb="rgb" in keys, segmentation="segmentation" in keys)
                     for c, p, R in self._camera_views()]
            for key in ("rgb", "segmentation"):
                if key in keys:
                    obs[key] = np.stack([v[key] for v in views])
        return obs

    def _observation(self) -> dict[str, np.ndarray]:
        cfg = self.obs_config
        depth = self.depth_images()
        if cfg.noise == "dexnet":
            depth = dexnet_noise(depth, self.np_random, cfg.noise_sigma, far=cfg.camera.far)
        elif self.randomization.depth_noise_params is not None:
            shape, sigma = self.randomization.depth_noise_params
            depth = dexnet_noise(depth, self.np_random, sigma, far=cfg.camera.far, gamma_shape=shape)
        obs = {"depth": depth.astype(np.float32), "bbox": self._bounds.astype(np.float32).ravel()}
        obs.update(self._sensor_observation(obs["depth"]))
        return obs

    def decode(self, actions) -> GraspPoses:
        """World grasp poses of bins ``actions`` ((dims,) or (n, dims)) for the current object."""
        return self.grid.decode(actions, self._bounds)

    def hand_camera_images(self, actions) -> np.ndarray:
        """Hand-camera depth images (n, h, w) float32 at the pre-grasp pose of each grasp.

        The camera is mounted on the palm looking along the approach axis; the gripper is backed
        off ``hand_standoff`` metres from the grasp pose (paper, Fig. 4: the evaluator's input).
        ``observation={"hand_images": "reprojected"}`` builds them from the latest observation
        instead of rendering them, as the real robot does (:mod:`grasp_envs.envs.hand_camera`).
        """
        if self.simulator is None:
            raise gym.error.ResetNeeded("call reset() before hand_camera_images()")
        cfg = self.obs_config
        if cfg.hand_images == "reprojected":
            return reproject_hand_depth(self._last_obs, self.decode(actions), cfg)
        return self.simulator.hand_depth(self.decode(actions), cfg.hand_camera, cfg.hand_standoff)

    def agent_interface(self) -> AgentInterface:
        """What an agent may use: spaces, grid, cameras and the ``hand_camera`` capability (never this env)."""
        cfg = self.obs_config
        if cfg.hand_images == "reprojected":
            hand = ReprojectedHandCamera(self.grid, cfg)
        else:
            hand = RenderedHandCamera(cfg.hand_camera, cfg.hand_standoff, self.hand_camera_images,
                                      lambda: self._bounds)
        return AgentInterface(self.action_space, self.observation_space, self.grid, cfg, {HAND_CAMERA: hand})

    def evaluate_grasps(self, actions, *, engine: str = "mujoco", device: str | None = None):
        """Outcomes of many grasps on the current object without advancing the episode.

        ``engine="warp"`` simulates them as parallel MuJoCo Warp worlds on ``device`` (``"cuda:0"``,
        ``"cpu"``; the ``warp`` extra; :mod:`grasp_envs.sim.warp_backend`) with the same model,
        states, controls and success rule; the default is the C engine.
        """
        if self.simulator is None:
            raise gym.error.ResetNeeded("call reset() before evaluate_grasps()")
        poses = self.decode(actions)
        if engine not in ("mujoco", "warp"):
            raise ValueError(f"engine must be 'mujoco' or 'warp', got {engine!r}")
        backend = None  # the simulator's C engine
        if engine == "warp":
            from grasp_envs.sim.warp_backend import WarpGraspBackend

            key = (id(self.simulator), device)
            cached = self.__dict__.get("_warp_backend")
            if cached is None or cached[0] != key:  # one backend per scene and device
                cached = (key, WarpGraspBackend(self.simulator, device=device))
                self._warp_backend = cached
            backend = cached[1]
        # One entry point: the simulator rejects and judges; the backend only steps.
        return self.simulator.attempt(poses, backend=backend)
