"""Several attempts per object: the env's feedback, the failure-aware agents and their benchmark task."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import grasp_envs  # noqa: F401  (registers the ids)
from benchmarks import attempts as bench
from benchmarks.tasks import get_task

TASK = "random-4d-test-3attempts-v2"
ENV_ID = "grasp_envs/GraspRandom4D-v1"


def _scene(index: int = 0):
    return get_task(TASK).seed_scenes(0)[index]


def _until_moving_failure(env, obs, rng, tries: int = 40):
    """Seeded low grasps until one fails and moves the object; every step before it is checked."""
    for _ in range(tries):
        action = np.concatenate([rng.integers(0, 20, 2), rng.integers(3, 12, 1), rng.integers(0, 20, 1)])
        after, reward, terminated, truncated, info = env.step(action)
        assert info["attempts_left"] == env.unwrapped.max_attempts - info["attempt"]
        if info["outcome"] == "failure" and info["object_moved"]:
            return action, obs, after, reward, terminated, truncated, info
        assert not (terminated or truncated)
        if info["outcome"] == "rejected":  # nothing touched: the same scene, the same observation
            assert not info["object_moved"] and info["object_displacement"] == 0.0
            assert all(np.array_equal(obs[k], after[k]) for k in obs)
        obs = after
    raise AssertionError("no failed grasp moved the object")


@pytest.fixture(scope="module")
def moved():
    env = get_task(TASK).make_env(max_attempts=40)
    sc = _scene()
    obs, _ = env.reset(seed=sc.reset_seed, options={"object_seed": sc.object_seed})
    return env, _until_moving_failure(env, obs, np.random.default_rng(0))


def test_a_failure_leaves_the_object_where_physics_left_it_and_the_next_observation_shows_it(moved):
    env, (action, before, after, reward, terminated, truncated, info) = moved
    assert reward == 0.0 and not terminated and not truncated
    assert info["rejection"] is None and info["grasp_bins"].tolist() == action.tolist()
    assert info["object_displacement"] > 1e-3 and info["attempts_left"] == 40 - info["attempt"]
    assert np.abs(after["depth"] - before["depth"]).max() > 0.01
    assert not np.allclose(after["bbox"], before["bbox"])
    # The info describes the scene the returned observation shows (no box noise here).
    np.testing.assert_allclose(after["bbox"].reshape(2, 3), info["object_bounds"], atol=1e-6)
    assert env.observation_space.contains(after)
    # The moved (possibly toppled) object is a scene like any other: the next grasp runs on it.
    nxt = env.step(np.array([10, 10, 8, 0]))
    assert nxt[4]["attempt"] == info["attempt"] + 1 and env.observation_space.contains(nxt[0])


def test_running_out_of_attempts_is_truncated_with_no_attempts_left():
    env = gym.make(ENV_ID, max_attempts=3)
    env.reset(seed=0)
    air = np.array([0, 0, 19, 0])  # high above a corner: closes on air, rejected
    for left in (2, 1, 0):
        _, _, terminated, truncated, info = env.step(air)
        assert info["outcome"] == "rejected" and info["rejection"] == "closes_on_air"
        assert info["attempts_left"] == left and not info["object_moved"]
    assert truncated and not terminated
    with pytest.raises(gym.error.ResetNeeded):
        env.step(air)


def test_check_env_with_three_attempts():
    env = gym.make(ENV_ID, max_attempts=3)
    assert env.spec.kwargs["max_attempts"] == 3  # part of the env's spec (and of a task's fingerprint)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)


def test_multi_attempt_episodes_are_seeded(moved):
    _, (action, *_rest, info) = moved
    runs = []
    for _ in range(2):
        env = get_task(TASK).make_env(max_attempts=40)
        sc = _scene()
        obs, _ = env.reset(seed=sc.reset_seed, options={"object_seed": sc.object_seed})
        runs.append(_until_moving_failure(env, obs, np.random.default_rng(0)))
    (a1, _, o1, *_, i1), (a2, _, o2, *_, i2) = runs
    assert a1.tolist() == a2.tolist() == action.tolist() and i1["attempt"] == i2["attempt"] == info["attempt"]
    assert all(np.array_equal(o1[k], o2[k]) for k in o1)
    assert i1["object_displacement"] == i2["object_displacement"]


def test_the_attempts_task_is_the_one_shot_task_with_three_attempts():
    many, one = get_task(TASK), get_task("random-4d-test-v2")
    assert many.env_kwargs == {**one.env_kwargs, "max_attempts": 3} and many.env_id == one.env_id
    assert many.object_checksum == one.object_checksum
    assert many.seed_scenes(1)[:20] == one.seed_scenes(1)[:20]


def test_the_first_attempt_is_the_one_shot_episode():
    from benchmarks.evaluate import rollout

    many = rollout(get_task(TASK), "random", seeds=(0,), n_scenes=2, progress=False)
    one = rollout(get_task("random-4d-test-v2"), "random", seeds=(0,), n_scenes=2, progress=False)
    for m, o in zip(many, one):
        assert m["actions"][0] == o["actions"][0] and m["attempts"][0]["outcome"] == o["outcome"]
        assert bench.success_within(m, 1) == o["success"]
        assert len(m["actions"]) == len(m["attempts"]) == (1 if m["success"] else 3)


# ---------------------------------------------------------------------- the memory
def test_failure_memory_excludes_the_grasp_and_its_one_bin_neighbours():
    pytest.importorskip("torch")  # agents.retry builds on the learned agents
    from agents.retry import FailureMemory
    from grasp_envs.grid import GraspGrid

    mem = FailureMemory(GraspGrid(4), radius=1)
    assert not mem.excludes([[5, 5, 5, 5]]).any()
    mem.remember([5, 5, 5, 0])
    cands = np.array([[5, 5, 5, 0], [6, 4, 5, 1], [4, 6, 6, 19],  # itself; neighbours (yaw wraps round)
                      [7, 5, 5, 0], [5, 5, 5, 2], [5, 5, 5, 18]])  # two bins away in one dimension
    assert mem.excludes(cands).tolist() == [True, True, True, False, False, False]
    assert mem.bound() == 81
    exact = FailureMemory(GraspGrid(4), radius=0)
    exact.remember([5, 5, 5, 0])
    assert exact.excludes(cands).tolist() == [True] + [False] * 5
    mem.clear()
    assert len(mem) == 0 and not mem.excludes(cands).any()
    with pytest.raises(ValueError, match="radius"):
        FailureMemory(GraspGrid(4), radius=-1)


def test_the_benchmark_counts_success_within_k_attempts():
    won_second = {"success": True, "actions": [[1, 1, 1, 1], [1, 1, 1, 1]]}
    lost = {"success": False, "actions": [[1, 1, 1, 1]] * 3}
    assert [bench.success_within(won_second, k) for k in (1, 2, 3)] == [False, True, True]
    assert not any(bench.success_within(lost, k) for k in (1, 2, 3))
    assert bench.repeats(won_second) == 1 and bench.repeats(lost) == 2
    assert bench.paired([{"seed": 0, "scene": 0, **won_second}], [{"seed": 0, "scene": 0, **lost}]) == (1, 0)
    assert bench.sign_test(5, 0) == pytest.approx(0.0625) and bench.sign_test(0, 0) == 1.0


# ---------------------------------------------------------------------- the failure-aware agents
def _never_near_an_earlier_failure(record) -> bool:
    from agents.retry import FailureMemory
    from grasp_envs.grid import GraspGrid

    mem = FailureMemory(GraspGrid(4), radius=1)
    for action, attempt in zip(record["actions"], record["attempts"]):
        if mem.excludes([action]).any():
            return False
        if attempt["outcome"] != "success":
            mem.remember(action)
    return True


def test_the_failure_aware_planner_never_tries_a_failed_grasp_or_its_neighbours_again():
    pytest.importorskip("torch")
    from benchmarks.evaluate import rollout

    # Scene 2 of seed 0: the plain planner's grasp is rejected and, the scene unchanged, repeated.
    plain = rollout(get_task(TASK), "planner", seeds=(0,), n_scenes=3, progress=False)
    memory = rollout(get_task(TASK), "planner-memory", seeds=(0,), n_scenes=3, progress=False)
    assert not all(_never_near_an_earlier_failure(r) for r in plain)
    assert all(_never_near_an_earlier_failure(r) for r in memory)
    assert memory[2]["actions"][0] == plain[2]["actions"][0]  # the first decision is the plain planner's


def test_the_failure_aware_full_agent_keeps_k_candidates_clear_of_its_failures():
    pytest.importorskip("torch")
    from agents import load_agent

    env = gym.make(ENV_ID, max_attempts=3)
    obs, _ = env.reset(seed=0)
    agent = load_agent("full-memory", env, {"spread": None})  # the beam's plain top k: exactly k candidates
    agent.reset(seed=0)
    first = agent.act(obs)
    agent.observe({"outcome": "failure", "grasp_bins": first})
    agent.observe({"outcome": "rejected", "grasp_bins": agent.last_candidates[1]})
    second = agent.act(obs)  # the same observation: without memory the same choice
    assert len(agent.last_candidates) == agent.k
    assert not agent.memory.excludes(agent.last_candidates).any() and not agent.memory.excludes([second]).any()
    agent.reset(seed=0)
    assert len(agent.memory) == 0 and agent.act(obs).tolist() == first.tolist()
    with pytest.raises(ValueError, match="outcome"):
        agent.observe({})
    with pytest.raises(ValueError, match="bogus"):
        load_agent("planner-memory", env, {"bogus": 1})
