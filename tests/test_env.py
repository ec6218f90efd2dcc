import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import grasp_envs  # noqa: F401
from grasp_envs.grid import ActionError

IDS = ["grasp_envs/GraspRandom4D-v0", "grasp_envs/GraspRandom6D-v0"]


@pytest.mark.parametrize("env_id", IDS)
def test_gymnasium_check_env(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("env_id", IDS)
def test_sb3_check_env(env_id):
    from stable_baselines3.common.env_checker import check_env as sb3_check

    env = gym.make(env_id).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check(env)
    # Depth is float32 metres by design; SB3 only remarks that such images are not uint8.
    other = [str(w.message) for w in caught if "depth" not in str(w.message)]
    assert other == []


@pytest.mark.parametrize("env_id", IDS)
def test_lockstep_determinism(env_id):
    a, b = gym.make(env_id), gym.make(env_id)
    for ep in range(3):
        oa, ia = a.reset(seed=100 + ep)
        ob, ib = b.reset(seed=100 + ep)
        assert np.array_equal(oa["depth"], ob["depth"]) and np.array_equal(oa["bbox"], ob["bbox"])
        action = a.action_space.sample()
        ra = a.step(action)
        rb = b.step(action)
        assert ra[1] == rb[1] and ra[4]["outcome"] == rb[4]["outcome"]
        assert ra[4]["lift_height"] == rb[4]["lift_height"]
        assert ia["object_seed"] == ib["object_seed"]


def test_step_contract_and_info():
    env = gym.make("grasp_envs/GraspRandom4D-v0")
    obs, info = env.reset(seed=3)
    assert obs["depth"].dtype == np.float32 and obs["depth"].shape == (1, 64, 64)
    assert obs["bbox"].shape == (6,)
    obs, reward, terminated, truncated, info = env.step(np.array([10, 10, 12, 3]))
    assert terminated and not truncated
    assert reward in (0.0, 1.0)
    for key in ("outcome", "rejection", "lift_height", "object_seed", "grasp_position", "grasp_quaternion"):
        assert key in info
    assert info["outcome"] in ("success", "failure", "rejected")
    assert (info["rejection"] is None) == (info["outcome"] != "rejected")
    with pytest.raises(gym.error.ResetNeeded):
        env.step(np.array([10, 10, 12, 3]))


def test_splits_are_disjoint_and_object_seed_option():
    train = gym.make("grasp_envs/GraspRandom4D-v0", split="train").unwrapped
    test = gym.make("grasp_envs/GraspRandom4D-v0", split="test").unwrapped
    lo_tr, hi_tr = train.object_seed_range()
    lo_te, hi_te = test.object_seed_range()
    assert hi_tr <= lo_te or hi_te <= lo_tr
    _, info = test.reset(seed=0)
    assert lo_te <= info["object_seed"] < hi_te
    with pytest.raises(ValueError, match="outside the 'test' split"):
        test.reset(options={"object_seed": 5})
    _, info = train.reset(options={"object_seed": 5})
    assert info["object_seed"] == 5


@pytest.mark.parametrize(
    "action, message",
    [
        (np.array([1, 2, 3]), "shape"),
        (np.array([1, 2, 3, 20]), r"\[0, 19\]"),
        (np.array([1, 2, 3, -1]), r"\[0, 19\]"),
        (np.array([1.0, 2.0, np.nan, 4.0]), "NaN"),
        (np.array([1.5, 2, 3, 4]), "integer bin"),
        (np.array(["a", "b", "c", "d"]), "dtype"),
    ],
)
def test_bad_actions_raise_clear_errors(action, message):
    env = gym.make("grasp_envs/GraspRandom4D-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(ActionError, match=message):
        env.step(action)


def test_max_attempts_keeps_the_object():
    env = gym.make("grasp_envs/GraspRandom4D-v0", max_attempts=3)
    obs, info = env.reset(seed=1)
    seed = info["object_seed"]
    # An air grasp far above the object is rejected: the episode goes on with the same object.
    obs, r, term, trunc, info = env.step(np.array([10, 10, 19, 0]))
    if info["outcome"] != "success":
        assert not term
        assert info["object_seed"] == seed and info["attempt"] == 1


def test_hand_camera_batch_and_noise_preset():
    env = gym.make("grasp_envs/GraspRandom6D-v0", observation={"noise": "dexnet", "n_cameras": 2}).unwrapped
    obs, _ = env.reset(seed=2)
    assert obs["depth"].shape == (2, 64, 64)
    clean = env.depth_images()
    diff = obs["depth"] - clean
    assert 0.0005 < np.abs(diff).mean() < 0.05  # noisy, but millimetres to centimetres
    imgs = env.hand_camera_images(np.random.default_rng(0).integers(0, 20, size=(5, 6)))
    assert imgs.shape == (5, 32, 32) and imgs.dtype == np.float32
    assert np.all(imgs > 0)


def test_pickle_and_async_vector_env():
    env = gym.make("grasp_envs/GraspRandom4D-v0")
    env.reset(seed=0)
    clone = pickle.loads(pickle.dumps(env.unwrapped.spec))
    assert clone.id == "grasp_envs/GraspRandom4D-v0"
    vec = gym.make_vec("grasp_envs/GraspRandom4D-v0", num_envs=2, vectorization_mode="async")
    obs, info = vec.reset(seed=[0, 1])
    assert obs["depth"].shape == (2, 1, 64, 64)
    obs, rew, term, trunc, info = vec.step(np.array([[10, 10, 12, 0], [10, 10, 12, 5]]))
    assert rew.shape == (2,) and term.all()
    vec.close()


def test_rgb_render():
    env = gym.make("grasp_envs/GraspRandom4D-v0", render_mode="rgb_array", render_size=(48, 64))
    env.reset(seed=0)
    env.step(np.array([10, 10, 12, 0]))
    img = env.render()
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8 and img.std() > 1
    env.close()


def test_unknown_env_id_suggests_the_nearest():
    with pytest.raises(gym.error.Error, match="GraspRandom4D"):
        gym.make("grasp_envs/GraspRandm4D-v0")
    with pytest.raises(gym.error.Error):
        gym.make("grasp_envs/GraspRandom4D-v9")


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_reset_env_copies_and_continues_identically(how):
    import copy
    import pickle

    env = gym.make("grasp_envs/GraspRandom4D-v0", max_attempts=3)
    obs, _ = env.reset(seed=3)
    twin = copy.deepcopy(env) if how == "deepcopy" else pickle.loads(pickle.dumps(env))
    rng = np.random.default_rng(0)
    for _ in range(3):
        a = rng.integers(0, 20, 4)
        out, out2 = env.step(a), twin.step(a)
        for k in out[0]:
            assert np.array_equal(out[0][k], out2[0][k]), k
        assert out[1:4] == out2[1:4]
        assert out[4]["outcome"] == out2[4]["outcome"] and out[4]["lift_height"] == out2[4]["lift_height"]
        if out[2]:
            break
    # The copies are independent: resetting one leaves the other's scene alone.
    twin.reset(seed=99)
    assert env.unwrapped.object_seed != twin.unwrapped.object_seed


def test_a_rejected_step_does_not_render_again():
    env = gym.make("grasp_envs/GraspRandom4D-v0", max_attempts=2)
    obs, _ = env.reset(seed=0)
    base = env.unwrapped
    calls = []
    original = base.depth_images
    base.depth_images = lambda: calls.append(1) or original()
    obs2, _, _, _, info = env.step(np.array([0, 0, 0, 0]))  # fingertips in the table: rejected
    assert info["rejection"] == "penetrates_table" and not calls
    assert all(np.array_equal(obs[k], obs2[k]) for k in obs)
    obs2["depth"][:] = 0  # the caller owns what it got
    assert env.step(np.array([0, 0, 0, 0]))[0]["depth"].max() > 0
