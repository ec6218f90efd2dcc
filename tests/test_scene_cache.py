"""The per-object caches (objects, compiled models, rest states) never change what an env returns."""

from __future__ import annotations

import copy
import pickle

import gymnasium as gym
import numpy as np

import grasp_envs  # noqa: F401
import grasp_envs.objects.procedural as procedural
import grasp_envs.sim.simulator as simulator
from grasp_envs.objects import generate_random_object
from grasp_envs.sim import GraspSimulator


def _episodes(n_seeds: int = 30, attempts: int = 2) -> list:
    """Observations, rewards and infos of ``n_seeds`` resets (10 objects, so objects repeat in
    new orientations, and the second pass repeats whole scenes) and up to ``attempts`` grasps."""
    env = gym.make("grasp_envs/GraspRandom4D-v1", max_attempts=attempts)
    out = []
    for s in range(n_seeds):
        obs, info = env.reset(seed=s, options={"object_seed": s % 10})
        sim = env.unwrapped.simulator
        out.append((obs["depth"].tobytes(), obs["bbox"].tobytes(), sim._rest_state.tobytes(), sim.settle_steps,
                    info["object_bounds"].tobytes()))
        rng = np.random.default_rng(s)
        for _ in range(attempts):
            obs, r, term, trunc, info = env.step(rng.integers(0, 20, 4))
            out.append((obs["depth"].tobytes(), obs["bbox"].tobytes(), r, term, trunc,
                        info["lift_height"], info["rejection"]))
            if term or trunc:
                break
    return out


def test_caches_are_bit_identical(monkeypatch):
    monkeypatch.setattr(procedural, "OBJECT_CACHE_SIZE", 0)
    monkeypatch.setattr(simulator, "REST_STATES_PER_OBJECT", 0)
    plain = _episodes()
    monkeypatch.setattr(procedural, "OBJECT_CACHE_SIZE", 64)
    monkeypatch.setattr(simulator, "REST_STATES_PER_OBJECT", 16)
    first = _episodes()   # fills the caches (objects repeat from the 11th reset)
    again = _episodes()   # every object, model and rest state from the caches
    assert first == plain
    assert again == plain


def test_repeated_object_reuses_models_and_rest_state():
    obj = generate_random_object(7)
    assert generate_random_object(7) is obj
    R = np.eye(3)
    a = GraspSimulator(obj, orientation=R)
    b = GraspSimulator(obj, orientation=R)
    assert b.probe_model is a.probe_model          # read-only: shared
    assert b.model is not a.model                  # each simulator may change its own physics model
    np.testing.assert_array_equal(a._rest_state, b._rest_state)
    assert a.settle_steps == b.settle_steps > 0
    # A changed model (friction before settling) is a different start: it settles again.
    c = GraspSimulator(obj, orientation=R, table_friction=0.3)
    d = GraspSimulator(obj, orientation=R, table_friction=0.3, inertial=None)
    np.testing.assert_array_equal(c._rest_state, d._rest_state)
    assert not np.array_equal(c._rest_state, a._rest_state)


def test_copied_simulator_continues_identically():
    obj = generate_random_object(8)
    sim = GraspSimulator(obj)
    for twin in (copy.deepcopy(sim), pickle.loads(pickle.dumps(sim))):
        twin.place(np.eye(3))  # settles again (a copy keeps no cache) and lands where the original did
        np.testing.assert_array_equal(twin._rest_state, sim._rest_state)
