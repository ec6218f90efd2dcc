"""Environment ids.  Importing this module is cheap: entry points are strings."""

from __future__ import annotations

import json

import gymnasium as gym

NAMESPACE = "grasp_envs"

#: Simulated task families: name -> (entry point, kwargs).  Each is published once per physics
#: version (:mod:`grasp_envs.envs.physics`) as ``<name>-v<version>``.
_SIM_FAMILIES: dict[str, tuple[str, dict]] = {
    "GraspRandom4D": ("grasp_envs.envs.random_objects:GraspRandomEnv", {"dims": 4}),
    "GraspRandom6D": ("grasp_envs.envs.random_objects:GraspRandomEnv", {"dims": 6}),
    "GraspYCB4D": ("grasp_envs.envs.object_sets:GraspYCBEnv", {"dims": 4}),
    "GraspYCB6D": ("grasp_envs.envs.object_sets:GraspYCBEnv", {"dims": 6}),
    "GraspShapeNet4D": ("grasp_envs.envs.object_sets:GraspShapeNetEnv", {"dims": 4}),
    "GraspShapeNet6D": ("grasp_envs.envs.object_sets:GraspShapeNetEnv", {"dims": 6}),
    "GraspScanned4D": ("grasp_envs.envs.object_sets:GraspScannedEnv", {"dims": 4}),
    "GraspScanned6D": ("grasp_envs.envs.object_sets:GraspScannedEnv", {"dims": 6}),
    "GraspMeshes4D": ("grasp_envs.envs.object_sets:GraspMeshesEnv", {"dims": 4}),
    "GraspMeshes6D": ("grasp_envs.envs.object_sets:GraspMeshesEnv", {"dims": 6}),
    "GraspClutter4D": ("grasp_envs.envs.clutter:GraspClutterEnv", {"dims": 4}),
    "GraspClutter6D": ("grasp_envs.envs.clutter:GraspClutterEnv", {"dims": 6}),
}
#: Physics versions published as environment ids (``-v0`` is the development physics).
PUBLISHED_PHYSICS = (0, 1)
LATEST_VERSION = max(PUBLISHED_PHYSICS)

ENV_SPECS: dict[str, dict] = {
    f"{name}-v{v}": {"entry_point": entry, "kwargs": {**kwargs, "physics_version": v}}
    for name, (entry, kwargs) in _SIM_FAMILIES.items() for v in PUBLISHED_PHYSICS
}
ENV_SPECS.update({
    # Real robot (Fetch + RealSense D435): string entry point, grasp_envs never imports real.
    "RealFetchGrasp4D-v0": {"entry_point": "real.env:RealFetchGraspEnv", "kwargs": {"dims": 4}},
    "RealFetchGrasp6D-v0": {"entry_point": "real.env:RealFetchGraspEnv", "kwargs": {"dims": 6}},
})


def latest_env_id(family: str) -> str:
    """The newest published id of a simulated family, e.g. ``latest_env_id("GraspRandom4D")``."""
    if family not in _SIM_FAMILIES:
        raise ValueError(f"unknown environment family {family!r}; known: {sorted(_SIM_FAMILIES)}")
    return f"{NAMESPACE}/{family}-v{LATEST_VERSION}"


def register_envs() -> None:
    for name, spec in ENV_SPECS.items():
        env_id = f"{NAMESPACE}/{name}"
        if env_id in gym.registry:
            continue
        json.dumps(spec["kwargs"])  # registered kwargs must be JSON so specs go verbatim into results
        gym.register(id=env_id, entry_point=spec["entry_point"], kwargs=spec["kwargs"], disable_env_checker=False)
