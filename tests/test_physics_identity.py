"""Physics identity: published versions never change, ids name their physics, fingerprints see it."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

import grasp_envs  # noqa: F401  (registers the ids)
from grasp_envs.envs.physics import (FROZEN_PHYSICS, LATEST_PHYSICS, PHYSICS_VERSIONS, identity_digest,
                                     physics_identity, version_digest)
from grasp_envs.registration import ENV_SPECS, NAMESPACE, latest_env_id
from grasp_envs.sim import SimConfig


@pytest.mark.parametrize("version", sorted(PHYSICS_VERSIONS))
def test_published_physics_is_frozen(version):
    got = version_digest(version)
    assert got == FROZEN_PHYSICS[version], (
        f"physics version {version} changed (identity {got[:12]} != frozen {FROZEN_PHYSICS[version][:12]}): a "
        f"published version never changes; add physics version {max(PHYSICS_VERSIONS) + 1} with the new constants "
        "(grasp_envs/envs/physics.py) and publish its -v ids (grasp_envs/registration.py) instead")


def test_every_physics_version_is_frozen_and_published():
    assert set(FROZEN_PHYSICS) == set(PHYSICS_VERSIONS)
    from grasp_envs.registration import PUBLISHED_PHYSICS
    assert set(PUBLISHED_PHYSICS) == set(PHYSICS_VERSIONS)
    assert latest_env_id("GraspRandom4D") == f"{NAMESPACE}/GraspRandom4D-v{LATEST_PHYSICS}"


def test_simulated_ids_name_their_physics():
    for name, spec in ENV_SPECS.items():
        if name.startswith("RealFetch"):
            continue
        assert spec["kwargs"]["physics_version"] == int(name.rsplit("-v", 1)[1]), name


@pytest.mark.parametrize("change", [
    {"timestep": 0.001}, {"approach_distance": 0.05}, {"inertia": "parts"}, {"lift_height": 0.35},
])
def test_any_sim_constant_changes_the_identity(change):
    base = PHYSICS_VERSIONS[1].sim
    a = identity_digest(physics_identity(base, version=1))
    b = identity_digest(physics_identity(dataclasses.replace(base, **change), version=1))
    assert a != b


def test_gripper_constants_are_in_the_identity(monkeypatch):
    from grasp_envs.sim import gripper
    before = version_digest(1)
    monkeypatch.setattr(gripper, "FINGER_FORCE", gripper.FINGER_FORCE + 1.0)
    assert version_digest(1) != before


def test_env_identity_covers_overrides_and_objects():
    e1 = gym.make(f"{NAMESPACE}/GraspRandom4D-v1").unwrapped
    e0 = gym.make(f"{NAMESPACE}/GraspRandom4D-v0").unwrapped
    assert e1.physics_digest != e0.physics_digest
    assert e1.sim_config == PHYSICS_VERSIONS[1].sim and e0.sim_config == PHYSICS_VERSIONS[0].sim
    assert e0.object_config.volume == "grid" and e1.object_config.volume == "exact"
    # a user's override starts from the version's own settings and shows in the identity
    e = gym.make(f"{NAMESPACE}/GraspRandom4D-v0", sim={"timestep": 0.001}).unwrapped
    assert e.sim_config.inertia == "parts" and e.sim_config.timestep == 0.001
    assert e.physics_digest != e0.physics_digest
    heavy = gym.make(f"{NAMESPACE}/GraspRandom4D-v1", object_config={"min_mass": 0.2}).unwrapped
    assert heavy.physics_digest != e1.physics_digest


@pytest.mark.parametrize("bad", [7, "seven", [1]])
def test_unknown_physics_version_is_a_clear_error(bad):
    # The env shows physics_version()'s whole message: the versions and the id that fixes it.
    with pytest.raises(ValueError, match=r"unknown physics_version .*published versions: \[0, 1\].*'\.\.\.-v1'"):
        gym.make(f"{NAMESPACE}/GraspRandom4D-v1", physics_version=bad)


def test_v1_mass_is_exact_and_v0_objects_are_unchanged():
    from grasp_envs.objects import RandomObjectConfig, generate_random_object
    from grasp_envs.objects.procedural import union_volume
    grid = generate_random_object(3, config=RandomObjectConfig(volume="grid"))
    exact = generate_random_object(3)
    assert [p.tobytes() for p in grid.parts] == [p.tobytes() for p in exact.parts]
    vol = exact.mass_properties().volume
    assert union_volume(list(exact.parts)) == pytest.approx(vol, rel=0.05)
    assert exact.mass / vol == pytest.approx(grid.mass / union_volume(list(grid.parts)), rel=1e-9) or exact.mass == 0.05


def test_union_inertia_counts_overlaps_once():
    """Two overlapping cubes: the union is a 1.5 x 1 x 1 box; MuJoCo's body inertia matches it."""
    from grasp_envs.objects import GraspObject
    from grasp_envs.sim.scene import PhysicsOptions, build_physics_model
    c = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], float) * 0.04
    obj = GraspObject("two-cubes", (c, c + [0.02, 0, 0]), mass=0.3)
    p = obj.mass_properties()
    assert p.volume == pytest.approx(0.06 * 0.04 * 0.04)
    np.testing.assert_allclose(p.center, [0.03, 0.02, 0.02], atol=1e-12)
    union = build_physics_model(obj, PhysicsOptions(0.002, 50, 20, 3.0, inertia="union"))
    parts = build_physics_model(obj, PhysicsOptions(0.002, 50, 20, 3.0, inertia="parts"))
    b = union.body("object").id
    m = 0.3
    box = np.sort(m / 12 * np.array([0.04**2 + 0.04**2, 0.06**2 + 0.04**2, 0.06**2 + 0.04**2]))
    np.testing.assert_allclose(np.sort(union.body_inertia[b]), box, rtol=1e-6)
    np.testing.assert_allclose(union.body_ipos[b], [0.03, 0.02, 0.02], atol=1e-9)
    assert union.body_mass[b] == pytest.approx(m) and parts.body_mass[b] == pytest.approx(m)
    assert not np.allclose(np.sort(parts.body_inertia[b]), box, rtol=1e-3)  # overlaps counted twice


def test_out_of_attempts_is_truncated_from_v1():
    kwargs = dict(max_attempts=2)
    for version, want_truncated in ((0, False), (1, True)):
        env = gym.make(f"{NAMESPACE}/GraspRandom4D-v{version}", **kwargs)
        env.reset(seed=0)
        air = np.array([0, 0, 19, 0])  # a corner high above the object: closes on air
        _, r, term, trunc, info = env.step(air)
        assert not term and not trunc and info["rejection"] == "closes_on_air"
        _, r, term, trunc, _ = env.step(air)
        assert r == 0 and (trunc, term) == (want_truncated, not want_truncated), version
    one_shot = gym.make(f"{NAMESPACE}/GraspRandom4D-v1")
    one_shot.reset(seed=0)
    _, _, term, trunc, _ = one_shot.step(np.array([0, 0, 19, 0]))
    assert term and not trunc


def test_simconfig_rejects_bad_physics_options():
    with pytest.raises(ValueError, match="inertia"):
        SimConfig(inertia="exact")
    with pytest.raises(ValueError, match="approach_distance"):
        SimConfig(approach_distance=-0.1)


def _box(lo, hi):
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])], float)


def test_approach_under_an_overhang_is_blocked_from_v1():
    """A short post under an arm: graspable in place, but the gripper cannot come down to it."""
    from grasp_envs.grid import GraspPoses
    from grasp_envs.objects import GraspObject
    from grasp_envs.sim import GraspSimulator, Rejection

    parts = (_box([-0.06, -0.02, 0], [0.06, 0.02, 0.015]),       # base plate
             _box([-0.06, -0.01, 0.01], [-0.04, 0.01, 0.16]),    # column
             _box([-0.06, -0.02, 0.15], [0.06, 0.02, 0.16]),     # arm over everything
             _box([0.02, -0.01, 0.01], [0.04, 0.01, 0.06]))      # the post to grasp
    gallows = GraspObject("gallows", parts, mass=0.3)
    v0 = GraspSimulator(gallows, PHYSICS_VERSIONS[0].sim)
    v1 = GraspSimulator(gallows, PHYSICS_VERSIONS[1].sim)
    shift = v1.object_qpos[:3]
    post = GraspPoses(np.array([[0.03, 0.0, 0.045]]) + shift, np.eye(3)[None])
    assert v0.reject(post)[0] == Rejection.NONE
    assert v1.reject(post)[0] == Rejection.BLOCKED_APPROACH
    assert Rejection.BLOCKED_APPROACH.reason == "blocked_approach"
    # across the arm, from above, the approach is free in both
    yaw90 = np.array([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]])
    top = GraspPoses(np.array([[0.0, 0.0, 0.16]]) + shift, yaw90)
    assert v1.reject(top)[0] == v0.reject(top)[0] == Rejection.NONE


def test_task_fingerprints_cover_the_physics_from_v2(monkeypatch):
    from benchmarks.tasks import TaskChangedError, get_task
    from grasp_envs.sim import gripper

    v2, v1 = get_task("random-4d-test-v2"), get_task("random-4d-test-v1")
    assert v2.physics_version == 1 and v1.physics_version == 0
    v2.verify()
    v1_scenes = v1.verify()
    monkeypatch.setattr(gripper, "FINGER_FORCE", gripper.FINGER_FORCE + 1.0)
    with pytest.raises(TaskChangedError, match="frozen fingerprint"):
        v2.verify()
    assert v1.verify() == v1_scenes  # older tasks never covered physics; their fingerprints stay valid
