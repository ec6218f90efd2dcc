"""Gymnasium environments.  Uses :mod:`grasp_envs.sim`; knows nothing of agents."""

from grasp_envs.envs.grasp_env import GraspEnv
from grasp_envs.envs.observations import ObservationConfig
from grasp_envs.envs.random_objects import GraspRandomEnv
from grasp_envs.envs.randomization import RandomizationConfig

__all__ = ["GraspEnv", "GraspRandomEnv", "ObservationConfig", "RandomizationConfig"]
