"""The same seed gives bit-identical observations and outcomes in another process."""

import json
import subprocess
import sys

ROLLOUTS = r"""
import hashlib
import gymnasium as gym, numpy as np
import grasp_envs


def rollouts(env_id):
    env = gym.make(env_id)
    out = []
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        action = np.random.default_rng(seed).integers(0, 20, size=env.action_space.shape)
        _, r, _, _, info = env.step(action)
        h = hashlib.sha256(obs["depth"].tobytes() + obs["bbox"].tobytes()).hexdigest()
        out.append([h, r, info["outcome"], repr(info["lift_height"]), info["object_seed"]])
    return out
"""


def test_same_seed_same_bits_across_processes():
    env_id = "grasp_envs/GraspRandom6D-v0"
    script = ROLLOUTS + "\nimport json, sys\nprint(json.dumps(rollouts(sys.argv[1])))\n"
    other = subprocess.run([sys.executable, "-c", script, env_id], capture_output=True, text=True, check=True)
    here = {}
    exec(ROLLOUTS, here)
    assert json.loads(other.stdout.strip().splitlines()[-1]) == json.loads(json.dumps(here["rollouts"](env_id)))
