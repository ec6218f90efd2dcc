"""End to end: agents drive gym.make("grasp_envs/RealFetchGrasp*-v0") against the stand-ins
(librealsense software device + loopback rosbridge Fetch), through pyrealsense2 and roslibpy."""

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("pyrealsense2", exc_type=ImportError)
pytest.importorskip("roslibpy")
pytest.importorskip("websockets")

import grasp_envs  # noqa: E402,F401
from agents import CentroidAgent, load_agent  # noqa: E402
from grasp_envs.envs.observations import ObservationConfig  # noqa: E402
from real.calibration import CalibrationError  # noqa: E402
from real.standins import standin_rig  # noqa: E402

FAST_CAMERA = {"burst": 2}


@pytest.fixture
def rig():
    with standin_rig(camera=FAST_CAMERA) as r:
        yield r


@pytest.mark.parametrize("dims", [4, 6])
def test_spaces_are_the_simulated_tasks(rig, dims):
    real = gym.make(f"grasp_envs/RealFetchGrasp{dims}D-v0", **rig.env_kwargs())
    sim = gym.make(f"grasp_envs/GraspRandom{dims}D-v0")
    try:
        assert real.observation_space == sim.observation_space == ObservationConfig().space()
        assert real.action_space == sim.action_space
        obs, info = real.reset(seed=0)
        assert real.observation_space.contains(obs)
    finally:
        real.close()
        sim.close()


def test_centroid_agent_grasps_on_the_standin_robot(rig):
    env = gym.make("grasp_envs/RealFetchGrasp4D-v0", **rig.env_kwargs())
    agent = load_agent("centroid", env, {"seed": 0})
    assert isinstance(agent, CentroidAgent)
    box = rig.scene.boxes[0]
    try:
        successes = 0
        for episode in range(3):
            obs, info = env.reset(seed=episode)
            truth = box.bounds.copy()
            truth[0, 2] = 0.0
            np.testing.assert_allclose(obs["bbox"].reshape(2, 3), truth, atol=0.01)
            obs, reward, terminated, truncated, info = env.step(agent.act(obs))
            assert terminated and not truncated
            assert info["outcome"] in ("success", "failure") and info["rejection"] is None
            # The gripper closed on the box: the opening is its width across the fingers.
            assert reward == float(info["is_success"])
            successes += info["is_success"]
            # The grasp went where the grid says: its position is in the observed box.
            assert np.all(info["grasp_position"] >= obs["bbox"][:3] - 1e-6)
            assert np.all(info["grasp_position"] <= obs["bbox"][3:] + 1e-6)
        # The centroid grasp at a random yaw closes on a 5 x 8 cm box whichever way it turns.
        assert successes == 3
    finally:
        env.close()


def test_virtual_depth_shows_the_object_where_the_simulator_would(rig):
    env = gym.make("grasp_envs/RealFetchGrasp4D-v0", **rig.env_kwargs())
    try:
        obs, _ = env.reset(seed=0)
        depth = obs["depth"][0]
        cfg = env.unwrapped.obs_config
        # The box (6 cm tall) seen from camera_height above the table; the table around it.
        assert abs(depth.min() - (cfg.camera_height - 0.06)) < 0.004
        assert abs(np.median(depth[:, :4]) - cfg.camera_height) < 0.004
    finally:
        env.close()


def test_operator_confirmation_decides_success(rig):
    asked = []

    def confirm(info):
        asked.append(info)
        return False

    env = gym.make("grasp_envs/RealFetchGrasp4D-v0", confirm_success=confirm, **rig.env_kwargs())
    try:
        obs, _ = env.reset(seed=0)
        _, reward, _, _, info = env.step(CentroidAgent(env, seed=0).act(obs))
        assert len(asked) == 1 and asked[0]["gripper_success"]
        assert reward == 0.0 and info["operator_confirmed"] is False and info["gripper_success"]
    finally:
        env.close()


def test_dry_run_episode_moves_nothing(rig):
    env = gym.make("grasp_envs/RealFetchGrasp4D-v0", **rig.env_kwargs(dry_run=True))
    try:
        obs, info = env.reset(seed=0)
        assert info["dry_run"]
        _, reward, terminated, _, info = env.step(CentroidAgent(env, seed=0).act(obs))
        assert info["outcome"] == "dry_run" and reward == 0.0 and terminated
        assert rig.fetch.tcp is None and rig.fetch.server.goals_sent("/gripper_controller/gripper_action") == []
    finally:
        env.close()


def test_unsafe_action_is_rejected_with_reason(rig):
    env = gym.make("grasp_envs/RealFetchGrasp6D-v0", **rig.env_kwargs(safety={"max_tilt_deg": 30}))
    try:
        obs, _ = env.reset(seed=0)
        _, reward, terminated, _, info = env.step(np.array([10, 10, 10, 0, 10, 0]))  # roll -90 degrees
        assert info["outcome"] == "rejected" and info["rejection"] == "orientation_limit" and reward == 0.0
        assert "limit 30" in info["detail"]
    finally:
        env.close()


def test_bad_arguments_are_explained(rig):
    with pytest.raises(CalibrationError, match="needs calibration=PATH"):
        gym.make("grasp_envs/RealFetchGrasp4D-v0")
    with pytest.raises(ValueError, match="a real robot does not observe"):
        gym.make("grasp_envs/RealFetchGrasp4D-v0", observation={"mode": "privileged"}, **rig.env_kwargs())
    env = gym.make("grasp_envs/RealFetchGrasp4D-v0", **rig.env_kwargs())
    with pytest.raises(gym.error.ResetNeeded):
        env.step(np.zeros(4, dtype=np.int64))


def test_empty_table_is_an_error_naming_the_fix():
    from real.perception import SegmentationError

    with standin_rig(boxes=[], camera=FAST_CAMERA) as rig:
        env = gym.make("grasp_envs/RealFetchGrasp4D-v0", **rig.env_kwargs())
        try:
            with pytest.raises(SegmentationError, match="place an object there"):
                env.reset(seed=0)
        finally:
            env.close()


def test_planner_drives_the_real_env(rig, tmp_path):
    """The shipped planner checkpoint if there is one, else a freshly initialised planner saved
    and loaded the same way: the learned agent's whole path (features, beam search) on real input."""
    torch = pytest.importorskip("torch")
    full = pytest.importorskip("agents.full")
    from agents.checkpoint import CheckpointError, save_checkpoint
    from agents.planner import GraspPlanner, PlannerConfig

    env = gym.make("grasp_envs/RealFetchGrasp4D-v0", **rig.env_kwargs())
    try:
        try:
            agent = full.PlannerAgent(env, beam_width=5)
        except CheckpointError:
            torch.manual_seed(0)
            save_checkpoint(GraspPlanner(PlannerConfig(dims=4)), tmp_path / "planner")
            agent = full.PlannerAgent(env, checkpoint=tmp_path / "planner", beam_width=5)
        obs, _ = env.reset(seed=0)
        action = agent.act(obs)
        assert env.action_space.contains(action)
        _, reward, terminated, _, info = env.step(action)
        assert terminated and info["outcome"] in ("success", "failure", "rejected")
    finally:
        env.close()


def test_full_agent_takes_a_step_on_the_real_env(rig):
    """FullAgent's whole path on real input: beam search, hand images reprojected from the observed
    depth (the real env declares the same hand_camera capability as the simulated envs), evaluator."""
    pytest.importorskip("torch")
    full = pytest.importorskip("agents.full")
    from agents.checkpoint import CheckpointError
    from grasp_envs.envs.hand_camera import reproject_hand_depth
    from grasp_envs.envs.interface import HAND_CAMERA, ReprojectedHandCamera, agent_interface

    env = gym.make("grasp_envs/RealFetchGrasp4D-v0", **rig.env_kwargs())
    try:
        hand = agent_interface(env).capability(HAND_CAMERA)
        assert isinstance(hand, ReprojectedHandCamera)
        try:
            agent = load_agent("full", env, {"k": 5, "beam_width": 5, "prune_beam": 16})
        except CheckpointError:
            pytest.skip("no shipped checkpoints")
        obs, _ = env.reset(seed=0)
        action = agent.act(obs)
        assert env.action_space.contains(action) and agent.last_scores.shape == (5,)
        assert np.all((agent.last_scores >= 0) & (agent.last_scores <= 1))
        images = hand.images(obs, agent.last_candidates)
        base = env.unwrapped
        np.testing.assert_array_equal(images, reproject_hand_depth(obs, base.decode(agent.last_candidates), base.obs_config))
        # The box (6 cm tall) is under the hand camera of at least one candidate: nearer than the table.
        assert images.min() < images.max() - 0.03
        _, reward, terminated, _, info = env.step(action)
        assert terminated and info["outcome"] in ("success", "failure", "rejected")
    finally:
        env.close()


def test_the_real_env_reprojects_and_refuses_rendered_hand_images(rig):
    env = gym.make("grasp_envs/RealFetchGrasp4D-v0", **rig.env_kwargs())
    assert env.unwrapped.obs_config.hand_images == "reprojected"
    env.close()
    with pytest.raises(ValueError, match="hand_images='reprojected'"):
        gym.make("grasp_envs/RealFetchGrasp4D-v0", observation=ObservationConfig(), **rig.env_kwargs())
