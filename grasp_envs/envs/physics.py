"""Physics versions: what each published environment version simulates, and its identity.

An environment id's version names its physics: ``GraspRandom4D-v1`` simulates physics version 1
whatever this package's defaults become later.  A version, once published, never changes: any
change that can change an outcome (a solver setting, a gripper constant, the table, how an
object's mass is measured, the rejection, the MuJoCo release) is a new version, and the old one
stays loadable.  ``tests/test_physics_identity.py`` fails when the identity of a published
version changes, naming the fix.

=======  ==================================================================================
version  what it simulates
=======  ==================================================================================
0        the development physics: object mass from a 32^3 grid count of the parts' union,
         MuJoCo's per-part inertia (overlaps counted twice), no approach check; running out
         of attempts is ``terminated``.
1        exact mass, centre and inertia of the union of the parts; grasps whose approach from
         10 cm back is blocked are rejected (``blocked_approach``); a failure that uses the
         last of several attempts is ``truncated`` (one attempt: still ``terminated``).
=======  ==================================================================================
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

import mujoco
import numpy as np

from grasp_envs.sim import SimConfig
from grasp_envs.sim import gripper as _gripper
from grasp_envs.sim import scene as _scene


@dataclass(frozen=True)
class PhysicsVersion:
    """Everything one physics version fixes.

    Attributes:
        version: The number; environment ids ``...-v<version>`` simulate it.
        sim: The simulator's configuration (solver, phases, success rule, inertia, approach).
        object_volume: How procedural objects' mass volume is measured
            (:class:`grasp_envs.objects.RandomObjectConfig` ``volume``).
        truncate_out_of_attempts: Whether a failed grasp that uses the last of several attempts
            ends the episode as ``truncated`` (the attempt budget is a time limit) rather than
            ``terminated``.
    """

    version: int
    sim: SimConfig
    object_volume: str
    truncate_out_of_attempts: bool


PHYSICS_VERSIONS: dict[int, PhysicsVersion] = {
    0: PhysicsVersion(0, SimConfig(inertia="parts", approach_distance=0.0), "grid", False),
    1: PhysicsVersion(1, SimConfig(inertia="union", approach_distance=0.10), "exact", True),
}
LATEST_PHYSICS = max(PHYSICS_VERSIONS)

#: sha256 of :func:`physics_identity` of each published version.  Never edit an entry: publish
#: a new version (a new ``PHYSICS_VERSIONS`` entry and ``-v<N>`` ids) instead.
FROZEN_PHYSICS: dict[int, str] = {
    0: "e94cb9f36624b00e86a853121f7b9135633ea825307e625a9045cca5e823f6c4",
    1: "06af0dd456729684c31b1784a4e783ff51bef0f74d267b3acfc53d101ac126c3",
}


def physics_version(version: int) -> PhysicsVersion:
    try:
        return PHYSICS_VERSIONS[version]
    except (KeyError, TypeError):  # TypeError: not even hashable
        raise ValueError(f"unknown physics_version {version!r}; published versions: {sorted(PHYSICS_VERSIONS)} "
                         f"(use the environment id '...-v{LATEST_PHYSICS}' for the current physics)") from None


def _constants(module) -> dict:
    """The module's upper-case numeric constants (the gripper's and the table's physical numbers)."""
    out = {}
    for name in sorted(vars(module)):
        value = getattr(module, name)
        if name.isupper() and isinstance(value, (int, float, tuple)) and not isinstance(value, bool):
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def mujoco_release() -> str:
    """``major.minor`` of the MuJoCo engine (patch releases keep the physics)."""
    return ".".join(mujoco.__version__.split(".")[:2])


def physics_identity(sim: SimConfig, *, version: int, objects: dict | None = None,
                     truncate_out_of_attempts: bool | None = None) -> dict:
    """Everything that decides an outcome besides the scene: JSON, hashed into task fingerprints.

    Args:
        sim: The simulator configuration in effect (a version's own, or a user's override).
        version: The physics version it started from.
        objects: The object pipeline's settings where the environment makes its objects
            (procedural objects: their config and primitive bank digest).
        truncate_out_of_attempts: The episode-end rule in effect (defaults to the version's).
    """
    pv = physics_version(version)
    truncate = pv.truncate_out_of_attempts if truncate_out_of_attempts is None else truncate_out_of_attempts
    opts = dataclasses.asdict(sim.physics_options)
    return {
        "physics_version": int(version),
        "mujoco": mujoco_release(),
        "sim": sim.to_dict(),
        "solver": {**opts, "solver": "newton", "integrator": "implicitfast"},
        "gripper": _constants(_gripper),
        "scene": _constants(_scene),
        "truncate_out_of_attempts": bool(truncate),
        **({"objects": objects} if objects is not None else {}),
    }


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def identity_digest(identity: dict) -> str:
    """sha256 of an identity's canonical JSON."""
    return hashlib.sha256(json.dumps(_jsonable(identity), sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def version_digest(version: int) -> str:
    """Digest of a published version's own identity (no user overrides, no object pipeline)."""
    return identity_digest(physics_identity(physics_version(version).sim, version=version))
