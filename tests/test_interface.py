"""Agents get observations and the declared interface, never the simulator; hand images without a renderer."""

import dataclasses
import pickle

import gymnasium as gym
import numpy as np
import pytest

import grasp_envs  # noqa: F401
from agents import load_agent
from benchmarks import evaluate as ev
from benchmarks.tasks import BenchmarkTask
from grasp_envs.envs.hand_camera import hand_camera_poses, reproject_hand_depth
from grasp_envs.envs.interface import (HAND_CAMERA, AgentInterface, CapabilityError, RenderedHandCamera,
                                       ReprojectedHandCamera, SimulatorAccessError, agent_interface)

ENV_ID = "grasp_envs/GraspRandom4D-v1"


def tiny_task() -> BenchmarkTask:
    return BenchmarkTask(name="random-4d-tiny-v0", env_id="grasp_envs/GraspRandom4D-v0",
                         env_kwargs={"dims": 4, "split": "test"}, object_set="random", split="test",
                         scene_entropy=42, n_scenes=1, seeds=(0,))


class PeekingAgent:
    """Simulates candidates through the env before acting: what the protocol forbids."""

    def __init__(self, env, reach: str = "unwrapped"):
        self.env, self.reach = env, reach

    def act(self, observation):
        grasps = np.zeros((2, 4), np.int64)
        if self.reach == "unwrapped":
            self.env.unwrapped.evaluate_grasps(grasps)
        else:
            getattr(self.env, self.reach)(grasps)
        return grasps[0]


class Recorder:
    def __init__(self, interface=None, seed: int = 0):
        self.interface = interface

    def act(self, observation):
        return self.interface.action_space.sample()


class OldStyle:
    def __init__(self, env):
        self.env = env

    def act(self, observation):
        return np.zeros(4, np.int64)


class AnyKwargs:
    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def act(self, observation):
        return np.zeros(4, np.int64)


@pytest.mark.parametrize("reach", ["unwrapped", "evaluate_grasps", "simulator", "hand_camera_images"])
def test_an_agent_reaching_for_the_simulator_fails_during_evaluation(reach):
    with pytest.raises(SimulatorAccessError, match=rf"agents get no '{reach}'.*never the env or its simulator"):
        ev.rollout(tiny_task(), "test_interface:PeekingAgent", {"reach": reach}, progress=False)


def test_the_evaluation_loop_hands_out_only_the_interface():
    runner = ev.EpisodeRunner(tiny_task(), "test_interface:Recorder", {})
    try:
        agent = runner.agent(0)
        assert type(agent.interface) is AgentInterface and agent.interface is runner.interface
        assert not isinstance(agent.interface, gym.Env) and not hasattr(agent.interface, "unwrapped")
        assert isinstance(agent.interface.capability(HAND_CAMERA), RenderedHandCamera)
        rec = runner.run(0, runner.task.scenes()[0])
        assert len(rec["actions"]) == 1
    finally:
        runner.close()


def test_load_agent_passes_the_interface_under_every_name():
    env = gym.make(ENV_ID)
    try:
        for spec in ("test_interface:OldStyle", "test_interface:AnyKwargs", "test_interface:Recorder"):
            agent = load_agent(spec, env)
            got = getattr(agent, "env", None) or getattr(agent, "interface", None) or agent.kwargs["interface"]
            assert type(got) is AgentInterface and got.action_space == env.action_space
        for name in ("random", "centroid"):
            assert load_agent(name, env).act(env.reset(seed=0)[0]).shape == (4,)
    finally:
        env.close()


def test_capabilities_are_declared_and_missing_ones_named():
    view = AgentInterface(gym.spaces.MultiDiscrete([20] * 4), gym.spaces.Dict({}))
    with pytest.raises(CapabilityError, match="declares no 'hand_camera' capability"):
        view.capability(HAND_CAMERA)
    with pytest.raises(CapabilityError, match="FullAgent scores hand-camera images"):
        pytest.importorskip("agents.full").FullAgent(view)
    with pytest.raises(TypeError):
        view.capabilities["x"] = 1  # read-only
    assert pickle.loads(pickle.dumps(view)) == view


def test_reprojected_mode_is_the_same_capability_in_the_env_and_from_the_observation():
    env = gym.make(ENV_ID, observation={"hand_images": "reprojected"})
    try:
        obs, _ = env.reset(seed=3)
        view = agent_interface(env)
        hand = view.capability(HAND_CAMERA)
        assert isinstance(hand, ReprojectedHandCamera) and hand.source == "reprojected"
        actions = np.random.default_rng(0).integers(0, 20, (6, 4))
        images = hand.images(obs, actions)
        assert images.shape == (6, 32, 32) and images.dtype == np.float32
        np.testing.assert_allclose(env.unwrapped.hand_camera_images(actions), images, atol=1e-6)
        # Built from the observation only: the same capability made from the config alone agrees.
        alone = ReprojectedHandCamera(view.grid, view.obs_config)
        np.testing.assert_array_equal(alone.images(obs, actions), images)
    finally:
        env.close()


def test_the_rendered_capability_refuses_another_scenes_observation():
    env = gym.make(ENV_ID)
    try:
        old, _ = env.reset(seed=0)
        hand = agent_interface(env).capability(HAND_CAMERA)
        env.reset(seed=1)
        with pytest.raises(ValueError, match="another one"):
            hand.images(old, np.zeros((1, 4), np.int64))
        with pytest.raises(TypeError, match="belongs to its live env"):
            pickle.dumps(hand)
    finally:
        env.close()


@pytest.mark.parametrize("dims, within_1cm", [(4, 0.85), (6, 0.80)])
def test_reprojection_agrees_with_rendering(dims, within_1cm):
    """Most hand pixels reprojected from the overhead depth match the ray-cast ones."""
    env = gym.make(f"grasp_envs/GraspRandom{dims}D-v1", split="test")
    base = env.unwrapped
    try:
        close, walls = [], []
        for seed in range(4):
            obs, _ = env.reset(seed=seed)
            actions = np.random.default_rng(seed).integers(0, 20, (20, dims))
            rendered = base.hand_camera_images(actions)
            reprojected = reproject_hand_depth(obs, base.decode(actions), base.obs_config)
            close.append(np.mean(np.abs(rendered - reprojected) < 0.01))
        assert np.mean(close) > within_1cm
    finally:
        env.close()


def test_reprojection_sees_a_box_where_it_is():
    """A 4 cm cube under a top-down grasp: its top at the distance the camera pose says, table around it."""
    from grasp_envs.envs.observations import ObservationConfig
    from grasp_envs.grid import GraspGrid

    cfg = ObservationConfig()
    bbox = np.array([-0.02, -0.02, 0.0, 0.02, 0.02, 0.04])
    cam = cfg.camera
    pos, R = cfg.camera_poses(bbox.reshape(2, 3))[0]
    rays = cam.deproject(np.ones((cam.height, cam.width))).reshape(-1, 3) @ R.T
    t_table = -pos[2] / rays[:, 2]
    hit = pos + rays * t_table[:, None]
    inside = np.all(np.abs(hit[:, :2]) <= 0.02, axis=1)
    t = np.where(inside, (0.04 - pos[2]) / rays[:, 2], t_table)
    depth = t.reshape(1, cam.height, cam.width).astype(np.float32)  # optical depth (rays have unit z)
    obs = {"depth": depth, "bbox": bbox.astype(np.float32)}
    grid = GraspGrid(4)
    poses = grid.decode(np.array([[10, 10, 19, 0]]), bbox.reshape(2, 3))
    img = reproject_hand_depth(obs, poses, cfg)[0]
    c, _ = hand_camera_poses(poses, cfg.hand_standoff)
    assert abs(img[16, 16] - (c[0, 2] - 0.04)) < 0.003  # the cube's top under the centre
    assert abs(img[0, 0] - c[0, 2]) < 0.003  # the table in the corner
    assert np.all(np.isfinite(img)) and img.max() <= cfg.hand_camera.far


def test_observation_config_names_the_hand_image_sources():
    from grasp_envs.envs.observations import ObservationConfig

    with pytest.raises(ValueError, match="hand_images must be one of"):
        ObservationConfig(hand_images="wrist")
    assert dataclasses.replace(ObservationConfig(), hand_images="reprojected").hand_images == "reprojected"


def test_evaluate_can_run_agents_on_reprojected_hand_images():
    """--hand-images reprojected: the task's scenes and outcomes, the robot's hand camera."""
    runner = ev.EpisodeRunner(tiny_task(), "test_interface:Recorder", {}, hand_images="reprojected")
    try:
        assert isinstance(runner.agent(0).interface.capability(HAND_CAMERA), ReprojectedHandCamera)
    finally:
        runner.close()
    rendered = ev.evaluate(tiny_task(), "random", progress=False)
    reprojected = ev.evaluate(tiny_task(), "random", hand_images="reprojected", progress=False)
    assert (rendered["hand_images"], reprojected["hand_images"]) == ("rendered", "reprojected")
    key = lambda e: (e["actions"], e["outcome"], e["object_digest"])  # noqa: E731
    assert [key(e) for e in rendered["episodes"]] == [key(e) for e in reprojected["episodes"]]
    with pytest.raises(ValueError, match="--hand-images must be one of"):
        ev.rollout(tiny_task(), "random", hand_images="wrist", progress=False)
