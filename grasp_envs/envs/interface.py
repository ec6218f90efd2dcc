"""What an agent is given: the task's spaces, grid, cameras and declared capabilities; never the env.

An agent decides from observations.  Anything else it may use is declared by the env as an
:class:`AgentInterface` (``env.unwrapped.agent_interface()``, or :func:`agent_interface` for any
env): the action and observation spaces, the grasp grid, the observation config (the cameras'
intrinsics and poses relative to the box, which a real robot knows from its calibration) and a
mapping of *capabilities* both the simulated and the real env implement.  Today there is one:

* ``"hand_camera"`` (:class:`HandCamera`): ``images(observation, actions) -> (n, h, w)`` depth
  images of candidate grasps seen from the palm at the pre-grasp pose.  The simulated env renders
  them (:class:`RenderedHandCamera`, ``ObservationConfig.hand_images = "rendered"``) or, like the
  real robot, reprojects the observed depth (:class:`ReprojectedHandCamera`, ``"reprojected"``).

The interface holds no reference to the simulator an agent could reach: asking it for anything
else (``unwrapped``, ``evaluate_grasps``, ``simulator``, ...) raises :class:`SimulatorAccessError`
naming what an agent may use.  The evaluation loop (:mod:`benchmarks.evaluate`) builds agents from
the interface only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Protocol, runtime_checkable

import numpy as np
from gymnasium import spaces

from grasp_envs.camera import CameraModel
from grasp_envs.envs.hand_camera import reproject_hand_depth
from grasp_envs.envs.observations import ObservationConfig
from grasp_envs.grid import GraspGrid

HAND_CAMERA = "hand_camera"


class SimulatorAccessError(AttributeError, RuntimeError):
    """An agent asked its :class:`AgentInterface` for something the env does not declare."""


class CapabilityError(LookupError, ValueError):
    """An agent needs a capability its env does not declare."""


@runtime_checkable
class HandCamera(Protocol):
    """The ``"hand_camera"`` capability: depth images of candidate grasps from the palm camera."""

    camera: CameraModel
    standoff: float
    source: str

    def images(self, observation: dict, actions) -> np.ndarray:
        """Depth images (n, h, w) float32 of grasps ``actions`` ((n, dims) bins) in the scene of ``observation``."""
        ...


@dataclass(frozen=True)
class ReprojectedHandCamera:
    """Hand images built from the observation alone (:func:`grasp_envs.envs.hand_camera.reproject_hand_depth`).

    Needs nothing but the observation, the grid and the cameras, so the real robot and the
    simulator produce the same images from the same depth.
    """

    grid: GraspGrid
    obs_config: ObservationConfig
    source: str = field(default="reprojected", init=False)

    @property
    def camera(self) -> CameraModel:
        return self.obs_config.hand_camera

    @property
    def standoff(self) -> float:
        return self.obs_config.hand_standoff

    def images(self, observation: dict, actions) -> np.ndarray:
        bbox = np.asarray(observation["bbox"], np.float64).reshape(2, 3)
        return reproject_hand_depth(observation, self.grid.decode(actions, bbox), self.obs_config)


class RenderedHandCamera:
    """Hand images ray cast in the simulated scene (the simulator's own view of the true object).

    Renders the scene the env's latest observation shows; an ``observation`` of another scene
    (a different box) is refused.  Built by the simulated env, which passes its renderer in.
    """

    __slots__ = ("camera", "standoff", "source", "_render", "_bbox")

    def __init__(self, camera: CameraModel, standoff: float, render: Callable[[Any], np.ndarray],
                 bbox: Callable[[], np.ndarray]) -> None:
        object.__setattr__(self, "camera", camera)
        object.__setattr__(self, "standoff", float(standoff))
        object.__setattr__(self, "source", "rendered")
        object.__setattr__(self, "_render", render)
        object.__setattr__(self, "_bbox", bbox)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __reduce__(self):
        raise TypeError("a rendered hand camera belongs to its live env; build the agent from the env's "
                        "agent_interface() in the process that runs it")

    def images(self, observation: dict, actions) -> np.ndarray:
        seen = np.asarray(observation["bbox"], np.float64).ravel()
        if not np.allclose(seen, np.asarray(self._bbox(), np.float64).ravel(), atol=1e-6):
            raise ValueError("the rendered hand camera shows the env's current scene, but this observation is of "
                             "another one; pass the latest observation (or use hand_images='reprojected')")
        return self._render(actions)


@dataclass(frozen=True)
class AgentInterface:
    """Everything an agent may use besides observations.

    Attributes:
        action_space: The env's action space.
        observation_space: The env's observation space.
        grid: The grasp grid the actions index (``None`` for an env without one).
        obs_config: The observation config: camera models and their poses relative to the box.
        capabilities: Declared capabilities by name (read-only); see :meth:`capability`.
    """

    action_space: spaces.Space
    observation_space: spaces.Space
    grid: GraspGrid | None = None
    obs_config: ObservationConfig | None = None
    capabilities: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "capabilities", MappingProxyType(dict(self.capabilities)))

    @property
    def dims(self) -> int | None:
        return None if self.grid is None else self.grid.dims

    def capability(self, name: str):
        """The capability ``name``; a :class:`CapabilityError` naming the declared ones if absent."""
        try:
            return self.capabilities[name]
        except KeyError:
            raise CapabilityError(f"this env declares no {name!r} capability (it declares "
                                  f"{sorted(self.capabilities) or 'none'})") from None

    def has(self, name: str) -> bool:
        return name in self.capabilities

    def with_capability(self, name: str, value) -> AgentInterface:
        """A copy with capability ``name`` replaced (e.g. a reprojected hand camera in simulation)."""
        return AgentInterface(self.action_space, self.observation_space, self.grid, self.obs_config,
                              {**self.capabilities, name: value})

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        raise SimulatorAccessError(
            f"agents get no {name!r}: an agent sees its observations and the AgentInterface (action_space, "
            f"observation_space, grid, obs_config and the capabilities {sorted(self.capabilities)}), never the "
            "env or its simulator (env.unwrapped, evaluate_grasps, ...); see docs/benchmarks.md, 'Agents'")

    def __reduce__(self):
        return (AgentInterface, (self.action_space, self.observation_space, self.grid, self.obs_config,
                                 dict(self.capabilities)))


def agent_interface(env) -> AgentInterface:
    """The :class:`AgentInterface` of ``env`` (a Gymnasium env, wrapped or not, or an interface).

    Envs of this package declare theirs (``agent_interface()``); any other env yields its spaces
    and no capabilities.  The outer env's spaces are used, so wrappers that change them count.
    """
    if isinstance(env, AgentInterface):
        return env
    base = getattr(env, "unwrapped", env)
    declare = getattr(base, "agent_interface", None)
    if callable(declare):
        view = declare()
        if env is not base:
            view = AgentInterface(env.action_space, env.observation_space, view.grid, view.obs_config,
                                  dict(view.capabilities))
        return view
    if not hasattr(env, "action_space"):
        raise TypeError(f"agent_interface needs a Gymnasium env or an AgentInterface, got {type(env).__name__}")
    return AgentInterface(env.action_space, env.observation_space)
