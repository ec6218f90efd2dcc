"""Observation-based pruning: agrees with the simulator's rejection, reads only the observation."""

import gymnasium as gym
import numpy as np
import pytest

import grasp_envs  # noqa: F401
from agents.full import FullAgent, PlannerAgent
from agents.pruning import (CLOSES_ON_AIR, FEASIBLE, PENETRATES_OBJECT, PENETRATES_TABLE, ObservedCollisionChecker,
                            PruningConfig)


@pytest.mark.parametrize("dims", [4, 6])
def test_predictions_agree_with_the_simulator(dims):
    env = gym.make(f"grasp_envs/GraspRandom{dims}D-v1", split="train")
    u = env.unwrapped
    checker = ObservedCollisionChecker(dims, u.obs_config)
    pred, true = [], []
    for i in range(6):
        obs, _ = env.reset(seed=300 + i)
        a = np.random.default_rng(i).integers(0, 20, (300, dims))
        pred.append(checker.predict(obs, a))
        true.append(u.simulator.reject(u.decode(a)))
    env.close()
    pred, true = np.concatenate(pred), np.concatenate(true)
    rejected, sim_rejected = pred != FEASIBLE, true != 0
    precision = (rejected & sim_rejected).sum() / rejected.sum()
    recall = (rejected & sim_rejected).sum() / sim_rejected.sum()
    assert precision > 0.93 and recall > 0.93, (precision, recall)
    # Table penetration is decided against the known table plane: never confused.
    assert np.array_equal(pred == PENETRATES_TABLE, true == PENETRATES_TABLE)


def test_synthetic_box_reasons():
    """A 4 cm cube seen from above: grasps through it, beside it, into the table and around it."""
    env = gym.make("grasp_envs/GraspRandom4D-v0")
    cfg = env.unwrapped.obs_config
    env.close()
    bounds = np.array([[-0.02, -0.02, 0.0], [0.02, 0.02, 0.04]])
    cam = cfg.camera
    pos, R = cfg.camera_poses(bounds)[0]
    # Depth of a cube on a table, ray cast analytically for the straight-down camera.
    f = cam.focal
    u = (np.arange(cam.width) + 0.5 - cam.width / 2) / f
    v = (np.arange(cam.height) + 0.5 - cam.height / 2) / f
    U, V = np.meshgrid(u, v)
    depth = np.full(U.shape, pos[2])  # the table
    x, y = U * (pos[2] - 0.04), -V * (pos[2] - 0.04)  # where the ray meets the cube's top plane
    top = (np.abs(x) <= 0.02) & (np.abs(y) <= 0.02)
    depth[top] = pos[2] - 0.04
    obs = {"depth": depth[None].astype(np.float32), "bbox": bounds.ravel().astype(np.float32)}
    checker = ObservedCollisionChecker(4, cfg)
    # x, y at the centre (bins 9-10 of 20 span the middle), z at the top, yaw 0.
    centre_high = [10, 10, 19, 0]   # fingertips 1.5 cm below the top, straddling the cube: feasible
    through = [10, 10, 19, 0]
    low_far = [0, 0, 0, 0]           # fingertips 15 mm below the table
    codes = checker.predict(obs, np.array([centre_high, low_far]))
    assert codes[0] == FEASIBLE and codes[1] == PENETRATES_TABLE
    # A 10 cm tall block seen from the same camera: a grasp low on it puts the palm inside it.
    deep = depth.copy()
    deep[top] = pos[2] - 0.10
    tall = np.array([[-0.02, -0.02, 0.0], [0.02, 0.02, 0.10]])
    tall_obs = {"depth": deep[None].astype(np.float32), "bbox": tall.ravel().astype(np.float32)}
    assert checker.predict(tall_obs, np.array([[10, 10, 5, 0]]))[0] == PENETRATES_OBJECT
    # The same depth with the cube's own 4 cm box: nothing outside the box is occupied.
    assert checker.predict({**obs, "depth": deep[None].astype(np.float32)}, np.array([through]))[0] == FEASIBLE
    # Nothing there at all (empty table): every in-air grasp closes on air.
    empty = np.full_like(depth, pos[2])[None].astype(np.float32)
    assert checker.predict({**obs, "depth": empty}, np.array([centre_high]))[0] == CLOSES_ON_AIR


def test_config_is_validated():
    with pytest.raises(ValueError, match="tolerance"):
        PruningConfig(tolerance=-1)
    with pytest.raises(ValueError, match="finger_points"):
        PruningConfig(finger_points=(0, 1, 1))


def test_checker_refuses_the_wrong_image_shape(env):
    checker = ObservedCollisionChecker(4, env.unwrapped.obs_config)
    with pytest.raises(ValueError, match="depth must have shape"):
        checker.predict({"depth": np.zeros((1, 32, 32), np.float32), "bbox": np.zeros(6, np.float32)}, [[0, 0, 0, 0]])


def test_pruned_agents_put_feasible_candidates_first_and_are_rejected_less(env):
    pruned, plain = PlannerAgent(env), PlannerAgent(env, prune=False)
    full = FullAgent(env)
    u = env.unwrapped
    rej_pruned = rej_plain = 0
    for i in range(8):
        obs, _ = env.reset(seed=i)
        pruned.act(obs)
        assert pruned.last_feasible.dtype == bool and len(pruned.last_candidates) == 1
        # Over each agent's top 20 (a top-1 alone is rejected too rarely to compare on 8 scenes).
        a, _ = pruned.propose(obs, 20)
        b, _ = plain.propose(obs, 20)
        rej_pruned += int((u.simulator.reject(u.decode(a)) != 0).sum())
        rej_plain += int((u.simulator.reject(u.decode(b)) != 0).sum())
        full.act(obs)
        f = full.last_feasible
        assert 0 < len(full.last_candidates) <= full.k  # spread (the default) may leave fewer
        assert not np.any(~f[:-1] & f[1:]), "feasible candidates must come before infeasible ones"
    assert rej_plain > 0 and rej_pruned < 0.75 * rej_plain, (rej_pruned, rej_plain)


def test_prune_beam_is_checked(env):
    with pytest.raises(ValueError, match="prune_beam"):
        PlannerAgent(env, prune_beam=5)


def test_grid_spread_keeps_order_and_distance():
    from grasp_envs.grid import GraspGrid

    grid = GraspGrid(4)
    # Yaw wraps: bins 0 and 19 are neighbours; x differs by 2 between the first and the third.
    bins = np.array([[5, 5, 5, 0], [5, 6, 5, 19], [7, 5, 5, 0], [5, 5, 5, 10], [7, 6, 6, 1]])
    d = grid.bin_distance(bins, bins)
    assert d[0, 1] == 1 and d[0, 2] == 2 and d[0, 3] == 10 and np.all(np.diag(d) == 0)
    assert grid.spread(bins, 5, radius=1).tolist() == [0, 2, 3]
    assert grid.spread(bins, 2, radius=1).tolist() == [0, 2]
    assert grid.spread(bins, 5, radius=0).tolist() == [0, 1, 2, 3, 4]
    # A random set: every kept pair is more than the radius apart, and every dropped grasp is
    # within it of a kept one that comes before it.
    rng = np.random.default_rng(0)
    b = rng.integers(0, 20, (300, 4))
    keep = grid.spread(b, 300, radius=2)
    kd = grid.bin_distance(b[keep], b[keep])
    assert np.all(kd[~np.eye(len(keep), dtype=bool)] > 2)
    for i in sorted(set(range(300)) - set(keep.tolist())):
        before = keep[keep < i]
        assert grid.bin_distance(b[i : i + 1], b[before]).min() <= 2
    with pytest.raises(ValueError, match="radius"):
        grid.spread(b, 3, radius=-1)


def test_spread_candidates_are_distinct(env):
    spread, plain = FullAgent(env), FullAgent(env, spread=None)
    assert spread.spread == 1 and plain.spread is None  # spread is the full agent's default
    grid = env.unwrapped.grid
    for i in range(3):
        obs, _ = env.reset(seed=40 + i)
        b, _ = spread.propose(obs, 20)
        d = grid.bin_distance(b, b)
        assert np.all(d[~np.eye(len(b), dtype=bool)] > 1), "spread candidates must not be neighbours"
        assert len(b) <= 20 and not np.any(~spread.last_feasible[:-1] & spread.last_feasible[1:])
    with pytest.raises(ValueError, match="spread"):
        PlannerAgent(env, spread=-1)
