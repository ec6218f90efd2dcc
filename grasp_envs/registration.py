"""Environment ids.  Importing this module is cheap: entry points are strings."""

from __future__ import annotations

import json

import gymnasium as gym

NAMESPACE = "grasp_envs"

ENV_SPECS: dict[str, dict] = {
    "GraspRandom4D-v0": {"entry_point": "grasp_envs.envs.random_objects:GraspRandomEnv", "kwargs": {"dims": 4}},
    "GraspRandom6D-v0": {"entry_point": "grasp_envs.envs.random_objects:GraspRandomEnv", "kwargs": {"dims": 6}},
    "GraspYCB4D-v0": {"entry_point": "grasp_envs.envs.object_sets:GraspYCBEnv", "kwargs": {"dims": 4}},
    "GraspYCB6D-v0": {"entry_point": "grasp_envs.envs.object_sets:GraspYCBEnv", "kwargs": {"dims": 6}},
    "GraspShapeNet4D-v0": {"entry_point": "grasp_envs.envs.object_sets:GraspShapeNetEnv", "kwargs": {"dims": 4}},
    "GraspShapeNet6D-v0": {"entry_point": "grasp_envs.envs.object_sets:GraspShapeNetEnv", "kwargs": {"dims": 6}},
    "GraspScanned4D-v0": {"entry_point": "grasp_envs.envs.object_sets:GraspScannedEnv", "kwargs": {"dims": 4}},
    "GraspScanned6D-v0": {"entry_point": "grasp_envs.envs.object_sets:GraspScannedEnv", "kwargs": {"dims": 6}},
    # Real robot (Fetch + RealSense D435): string entry point, grasp_envs never imports real.
    "RealFetchGrasp4D-v0": {"entry_point": "real.env:RealFetchGraspEnv", "kwargs": {"dims": 4}},
    "RealFetchGrasp6D-v0": {"entry_point": "real.env:RealFetchGraspEnv", "kwargs": {"dims": 6}},
}


def register_envs() -> None:
    for name, spec in ENV_SPECS.items():
        env_id = f"{NAMESPACE}/{name}"
        if env_id in gym.registry:
            continue
        json.dumps(spec["kwargs"])  # registered kwargs must be JSON so specs go verbatim into results
        gym.register(id=env_id, entry_point=spec["entry_point"], kwargs=spec["kwargs"], disable_env_checker=False)
