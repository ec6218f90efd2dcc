"""The same seed gives bit-identical observations and outcomes in another process."""

import hashlib
import json
import subprocess
import sys

import gymnasium as gym
import numpy as np

import grasp_envs  # noqa: F401

SCRIPT = r"""
import hashlib, json, sys
import gymnasium as gym, numpy as np
import grasp_envs
env = gym.make(sys.argv[1])
out = []
for seed in range(3):
    obs, info = env.reset(seed=seed)
    action = np.random.default_rng(seed).integers(0, 20, size=env.action_space.shape)
    _, r, _, _, info = env.step(action)
    h = hashlib.sha256(obs["depth"].tobytes() + obs["bbox"].tobytes()).hexdigest()
    out.append([h, r, info["outcome"], repr(info["lift_height"]), info["object_seed"]])
print(json.dumps(out))
"""


def run_here(env_id: str) -> list:
    env = gym.make(env_id)
    out = []
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        action = np.random.default_rng(seed).integers(0, 20, size=env.action_space.shape)
        _, r, _, _, info = env.step(action)
        h = hashlib.sha256(obs["depth"].tobytes() + obs["bbox"].tobytes()).hexdigest()
        out.append([h, r, info["outcome"], repr(info["lift_height"]), info["object_seed"]])
    return out


def test_same_seed_same_bits_across_processes():
    env_id = "grasp_envs/GraspRandom6D-v0"
    other = subprocess.run([sys.executable, "-c", SCRIPT, env_id], capture_output=True, text=True, check=True)
    assert json.loads(other.stdout.strip().splitlines()[-1]) == run_here(env_id)
