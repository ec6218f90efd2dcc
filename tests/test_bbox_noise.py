"""Bounding-box noise: the box the agent sees is the one the grid and cameras use."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import grasp_envs  # noqa: F401
from grasp_envs.envs.observations import ObservationConfig

ENV_ID = "grasp_envs/GraspRandom4D-v1"


def test_noise_free_box_is_the_objects():
    env = gym.make(ENV_ID)
    obs, info = env.reset(seed=3)
    np.testing.assert_allclose(obs["bbox"].reshape(2, 3), info["object_bounds"], atol=1e-6)


def test_noisy_box_drives_observation_and_grid_and_is_seeded():
    env = gym.make(ENV_ID, observation={"bbox_noise": 0.01})
    obs, info = env.reset(seed=3)
    box = obs["bbox"].reshape(2, 3).astype(np.float64)
    assert not np.allclose(box, info["object_bounds"], atol=1e-4)
    assert np.all(box[1] - box[0] >= 0.002 - 1e-6)
    # bins are relative to the noisy box: bin 0 / 19 of x are its faces
    poses = env.unwrapped.decode(np.array([[0, 0, 0, 0], [19, 19, 19, 0]]))
    np.testing.assert_allclose(poses.position[0, :2], box[0, :2], atol=1e-5)
    np.testing.assert_allclose(poses.position[1, :2], box[1, :2], atol=1e-5)
    again, _ = gym.make(ENV_ID, observation={"bbox_noise": 0.01}).reset(seed=3)
    np.testing.assert_array_equal(again["bbox"], obs["bbox"])
    np.testing.assert_array_equal(again["depth"], obs["depth"])
    check_env(gym.make(ENV_ID, observation={"bbox_noise": 0.01}).unwrapped, skip_render_check=True)


def test_bbox_noise_is_validated():
    with pytest.raises(ValueError, match="bbox_noise"):
        ObservationConfig(bbox_noise=-0.01)
    with pytest.raises(ValueError, match="bbox_noise"):
        ObservationConfig(bbox_noise=0.5)
