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


# ----------------------------------------------------------------- several attempts (docs/attempts.md)
HIGH = np.array([10, 10, 19, 0])  # the box's centre at the top bin: the fingers close above the 6 cm box


def test_running_out_of_several_attempts_is_truncated_as_in_simulation(rig):
    from grasp_envs.envs.physics import physics_version
    from real.env import EPISODE_END_PHYSICS

    env = gym.make("grasp_envs/RealFetchGrasp4D-v0", max_attempts=3, **rig.env_kwargs())
    try:
        assert env.unwrapped.truncate_out_of_attempts is physics_version(EPISODE_END_PHYSICS).truncate_out_of_attempts
        obs, _ = env.reset(seed=0)
        for attempt in (1, 2, 3):
            after, reward, terminated, truncated, info = env.step(HIGH)
            assert info["outcome"] == "failure" and reward == 0.0 and info["attempt"] == attempt
            assert info["grasp_bins"].tolist() == HIGH.tolist()
            assert not terminated and truncated == (attempt == 3)
            assert info["attempts_left"] == (0 if attempt == 3 else 3 - attempt)
            # The box stood still: a new capture (attempts 1, 2) sees it where it was; no capture after the last.
            assert info["object_moved"] is False and info["object_displacement"] < 1e-3
            np.testing.assert_allclose(after["bbox"], obs["bbox"], atol=3e-3)
            np.testing.assert_allclose(info["object_bounds"].ravel(), after["bbox"], atol=1e-6)
            if attempt == 3:
                assert all(np.array_equal(after[k], obs[k]) for k in obs) and info["object_displacement"] == 0.0
            obs = after
        with pytest.raises(gym.error.ResetNeeded):
            env.step(HIGH)
    finally:
        env.close()


def test_one_attempt_still_ends_terminated(rig):
    env = gym.make("grasp_envs/RealFetchGrasp4D-v0", **rig.env_kwargs())
    try:
        env.reset(seed=0)
        _, _, terminated, truncated, info = env.step(HIGH)
        assert info["outcome"] == "failure" and terminated and not truncated and info["attempts_left"] == 0
    finally:
        env.close()


def test_a_refused_grasp_leaves_the_observation_as_it_was(rig):
    env = gym.make("grasp_envs/RealFetchGrasp4D-v0", max_attempts=2, **rig.env_kwargs())
    try:
        obs, _ = env.reset(seed=0)
        after, _, terminated, truncated, info = env.step(np.array([10, 10, 0, 0]))  # the fingertips below the table
        assert info["outcome"] == "rejected" and info["rejection"] == "penetrates_table"
        assert not (terminated or truncated) and info["attempts_left"] == 1
        assert info["object_moved"] is False and info["object_displacement"] == 0.0
        assert all(np.array_equal(after[k], obs[k]) for k in obs)
        assert rig.fetch.tcp is None  # the arm never left home
    finally:
        env.close()


@pytest.mark.parametrize("name, move, moved", [
    ("slid 3 cm", lambda b: setattr(b, "center", b.center + [0.03, 0.0, 0.0]), True),
    ("turned 30 degrees in place", lambda b: setattr(b, "yaw", b.yaw + np.radians(30)), True),
    ("left as it was", lambda b: None, False),
])
def test_object_motion_is_estimated_from_the_new_capture(rig, name, move, moved):
    """The grasp fails and the world moves the box (the operator saw it drop elsewhere): the env
    sees that only through the software D435's next frame."""
    box = rig.scene.boxes[0]

    def dropped(info):
        with rig.scene.lock:
            move(box)
        return False

    env = gym.make("grasp_envs/RealFetchGrasp4D-v0", max_attempts=2, confirm_success=dropped, **rig.env_kwargs())
    try:
        obs, _ = env.reset(seed=0)
        start = box.center.copy()
        after, _, terminated, truncated, info = env.step(np.array([10, 10, 8, 0]))
        assert info["outcome"] == "failure" and not (terminated or truncated) and info["attempts_left"] == 1
        assert info["object_moved"] is moved, name
        shift = np.linalg.norm(box.center - start)
        assert abs(info["object_displacement"] - shift) < 2e-3
        if moved:
            assert info["object_overlap"] < 0.9
        # The info's box is the one the returned observation shows, and the grid is relative to it.
        np.testing.assert_allclose(info["object_bounds"].ravel(), after["bbox"], atol=1e-6)
        truth = box.bounds.copy()
        truth[0, 2] = 0.0
        np.testing.assert_allclose(after["bbox"].reshape(2, 3), truth, atol=0.01)
    finally:
        env.close()


@pytest.mark.parametrize("agent_name", ["planner-memory", "full-memory"])
def test_failure_aware_agents_retry_elsewhere_on_the_real_env(rig, agent_name):
    """FailureAwarePlanner / FailureAwareFull read the real env's outcome and grasp_bins through
    observe() and do not choose a failed grasp or its neighbours again."""
    pytest.importorskip("torch")
    pytest.importorskip("agents.full")
    from agents.checkpoint import CheckpointError

    env = gym.make("grasp_envs/RealFetchGrasp4D-v0", max_attempts=2, confirm_success=lambda info: False,
                   **rig.env_kwargs())
    try:
        opts = {"beam_width": 5} if agent_name == "planner-memory" else {"k": 5, "beam_width": 5, "prune_beam": 16}
        try:
            agent = load_agent(agent_name, env, opts)
        except CheckpointError:
            pytest.skip("no shipped checkpoints")
        grid = env.unwrapped.grid
        obs, _ = env.reset(seed=0)
        agent.reset(seed=0)
        actions = []
        for attempt in (1, 2):
            actions.append(agent.act(obs))
            obs, _, terminated, truncated, info = env.step(actions[-1])
            agent.observe(info)
            assert info["attempt"] == attempt and info["outcome"] in ("failure", "rejected")
        assert truncated and not terminated and len(agent.memory) == 2
        assert grid.bin_distance(actions[1][None], actions[0][None])[0, 0] > agent.memory.radius
    finally:
        env.close()
