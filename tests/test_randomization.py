"""Domain randomisation: validation, off = unchanged, seeded, and each knob changes what it says."""

from __future__ import annotations

import itertools
import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import grasp_envs  # noqa: F401
from grasp_envs.envs.randomization import DEPTH_NOISE_PRESETS, RandomizationConfig
from grasp_envs.objects import generate_random_object
from grasp_envs.objects.model import piecewise_mass_properties, union_mass_properties
from grasp_envs.sim import GraspSimulator

ENV_ID = "grasp_envs/GraspRandom4D-v1"
SEED, OBJECT_SEED = 7, 11
EVERYTHING = dict(object_friction=[0.3, 1.2], finger_friction=[0.3, 1.2], table_friction=[0.3, 1.2],
                  object_scale=[0.8, 1.2], density_scale=[0.5, 2.0], part_density=[0.2, 5.0],
                  camera_position=0.01, camera_tilt=3.0, camera_fovy=2.0, depth_noise="low", bbox_noise=0.003)


def _reset(randomization=None, **kwargs):
    extra = {} if randomization is None else {"randomization": randomization}
    env = gym.make(ENV_ID, **extra, **kwargs)
    obs, info = env.reset(seed=SEED, options={"object_seed": OBJECT_SEED})
    return env.unwrapped, obs, info


@pytest.fixture(scope="module")
def nominal():
    return _reset()


def _object_body(env):
    m = env.simulator.model
    return m.body("object").id


# ---------------------------------------------------------------------- the config
def test_defaults_are_off_and_dicts_are_validated():
    cfg = RandomizationConfig()
    assert not cfg.enabled and RandomizationConfig.from_any(None) == cfg and RandomizationConfig.from_any({}) == cfg
    on = RandomizationConfig.from_any(json.loads(json.dumps(EVERYTHING)))  # JSON lists become pairs
    assert on.enabled and on.object_scale == (0.8, 1.2) and on.to_dict()["object_scale"] == [0.8, 1.2]
    assert RandomizationConfig.from_any(on.to_dict()) == on
    with pytest.raises(ValueError, match=r"unknown randomization keys \['finger_frictio'\].*known keys"):
        RandomizationConfig.from_any({"finger_frictio": [0.5, 1.0]})
    with pytest.raises(TypeError, match="RandomizationConfig or a dict"):
        RandomizationConfig.from_any("finger_friction")
    for bad in ({"finger_friction": 0.5}, {"finger_friction": [1.0, 0.5]}, {"finger_friction": [0.0, 0.5]},
                {"object_scale": [0.1, 1.0]}, {"part_density": ["a", 2]}, {"finger_friction": "ab"}):
        with pytest.raises(ValueError, match=f"randomization {next(iter(bad))}"):
            RandomizationConfig.from_any(bad)
    for bad in ({"camera_tilt": -1.0}, {"camera_tilt": 90.0}, {"camera_position": True}, {"bbox_noise": 1.0}):
        with pytest.raises(ValueError, match=f"randomization {next(iter(bad))} must be a number"):
            RandomizationConfig.from_any(bad)
    with pytest.raises(ValueError, match="depth_noise must be one of"):
        RandomizationConfig(depth_noise="loud")


def test_env_refuses_conflicting_or_unsupported_settings():
    with pytest.raises(ValueError, match="both add depth noise"):
        gym.make(ENV_ID, observation={"noise": "dexnet"}, randomization={"depth_noise": "low"})
    with pytest.raises(ValueError, match="both perturb the box"):
        gym.make(ENV_ID, observation={"bbox_noise": 0.01}, randomization={"bbox_noise": 0.01})
    with pytest.raises(ValueError, match="part_density needs exact union inertia.*-v1"):
        gym.make("grasp_envs/GraspRandom4D-v0", randomization={"part_density": [0.5, 2.0]})
    with pytest.raises(ValueError, match="camera_fovy"):
        gym.make(ENV_ID, observation={"fovy": 10.0}, randomization={"camera_fovy": 15.0})


# ---------------------------------------------------------------------- off, seeded, identity
def test_off_is_bit_identical_to_no_argument(nominal):
    base, obs0, info0 = nominal
    for off in ({}, RandomizationConfig()):
        env, obs, info = _reset(off)
        np.testing.assert_array_equal(obs["depth"], obs0["depth"])
        np.testing.assert_array_equal(obs["bbox"], obs0["bbox"])
        assert "randomization" not in info and env.randomization_sample is None
        assert env.physics_identity() == base.physics_identity() and "randomization" not in env.physics_identity()
        np.testing.assert_array_equal(env.simulator.object_qpos, base.simulator.object_qpos)
    # the same grasps have the same outcomes
    actions = np.random.default_rng(0).integers(0, 20, (12, 4))
    a, b = env.evaluate_grasps(actions), base.evaluate_grasps(actions)
    np.testing.assert_array_equal(a.lift, b.lift)
    np.testing.assert_array_equal(a.rejection, b.rejection)


def test_everything_on_is_seeded_and_joins_the_identity(nominal):
    base = nominal[0]
    env, obs, info = _reset(EVERYTHING)
    again, obs2, info2 = _reset(EVERYTHING)
    assert info["randomization"] == info2["randomization"]
    assert set(info["randomization"]) == {"object_friction", "finger_friction", "table_friction", "object_scale",
                                          "density_scale", "part_density", "cameras"}
    np.testing.assert_array_equal(obs["depth"], obs2["depth"])
    np.testing.assert_array_equal(obs["bbox"], obs2["bbox"])
    assert env.physics_identity()["randomization"] == RandomizationConfig.from_any(EVERYTHING).to_dict()
    assert env.physics_digest != base.physics_digest
    assert _reset({"camera_tilt": 1.0})[0].physics_digest != _reset({"camera_tilt": 2.0})[0].physics_digest
    # the next reset draws afresh
    obs3, info3 = env.reset()
    assert info3["randomization"] != info["randomization"]
    check_env(gym.make(ENV_ID, randomization=EVERYTHING).unwrapped, skip_render_check=True)


# ---------------------------------------------------------------------- each knob
def test_friction_knobs_set_the_compiled_contacts(nominal):
    base = nominal[0]
    env, _, info = _reset({"object_friction": [0.2, 0.3], "finger_friction": [1.5, 2.0], "table_friction": [0.1, 0.2]})
    s, m, pm = info["randomization"], env.simulator.model, env.simulator.probe_model
    assert 0.2 <= s["object_friction"] <= 0.3 and env.object.friction == s["object_friction"]
    assert m.geom("part0").friction[0] == s["object_friction"]
    for name in ("finger_left", "finger_right"):
        assert m.geom(name).friction[0] == s["finger_friction"]
        assert m.geom(name).priority[0] > m.geom("part0").priority[0]  # its friction rules its contacts
    assert m.geom("table").friction[0] == s["table_friction"] and m.geom("table").priority[0] == 2
    # the probe model (rejection) keeps the table and the gripper as they are
    np.testing.assert_array_equal(pm.geom("table").friction, base.simulator.probe_model.geom("table").friction)
    np.testing.assert_array_equal(pm.geom("table").priority, base.simulator.probe_model.geom("table").priority)


def test_set_friction_changes_only_the_sliding_coefficient():
    obj = generate_random_object(1_000_000_003)
    actions = np.random.default_rng(0).integers(0, 20, (40, 4))
    from grasp_envs.grid import GraspGrid

    grid = GraspGrid(4)
    plain = GraspSimulator(obj)
    same = GraspSimulator(obj, finger_friction=obj.friction, table_friction=obj.friction)
    poses = grid.decode(actions, plain.object_bounds)
    np.testing.assert_array_equal(same.object_qpos, plain.object_qpos)
    np.testing.assert_array_equal(same.attempt(poses).lift, plain.attempt(poses).lift)
    with pytest.raises(ValueError, match="positive friction"):
        plain.set_friction(fingers=0.0)


def test_density_and_scale_knobs_set_mass_and_inertia(nominal):
    base = nominal[0]
    b0 = _object_body(base)
    m0, I0 = base.simulator.model.body_mass[b0], base.simulator.model.body_inertia[b0]
    env, _, info = _reset({"density_scale": [2.0, 3.0]})
    k = info["randomization"]["density_scale"]
    b = _object_body(env)
    assert 2.0 <= k <= 3.0
    np.testing.assert_allclose(env.simulator.model.body_mass[b], m0 * k, rtol=1e-9)
    np.testing.assert_allclose(env.simulator.model.body_inertia[b], I0 * k, rtol=1e-6)
    env, _, info = _reset({"object_scale": [1.2, 1.3]})
    s = info["randomization"]["object_scale"]
    np.testing.assert_allclose(env.object.extent, base.object.extent * s, rtol=1e-9)
    np.testing.assert_allclose(env.object.bounds.mean(axis=0), base.object.bounds.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(env.object.mass, base.object.mass * s ** 3, rtol=1e-9)
    np.testing.assert_allclose(np.sort(env.simulator.model.body_inertia[_object_body(env)]),
                               np.sort(I0) * s ** 5, rtol=1e-6)


def test_part_density_sets_exact_mass_properties(nominal):
    base = nominal[0]
    assert len(base.object.parts) > 1
    env, _, info = _reset({"part_density": [0.2, 5.0]})
    factors = np.asarray(info["randomization"]["part_density"])
    assert len(factors) == len(base.object.parts) and not np.allclose(factors, factors[0])
    density = base.object.mass / base.object.mass_properties().volume
    want = piecewise_mass_properties(base.object.parts, density * factors)
    m, b = env.simulator.model, _object_body(env)
    np.testing.assert_allclose(m.body_mass[b], want.mass, rtol=1e-9)
    assert env.object.mass == pytest.approx(want.mass)
    np.testing.assert_allclose(np.sort(m.body_inertia[b]), np.sort(np.linalg.eigvalsh(want.inertia)), rtol=1e-6)
    # the centre moved off the uniform one
    assert not np.allclose(want.center, base.object.mass_properties().center, atol=1e-4)


def _box(lo, hi):
    return np.array(list(itertools.product(*zip(lo, hi))), dtype=np.float64)


def test_piecewise_mass_properties_two_boxes_by_hand():
    """Box A [0,2u]x[0,u]x[0,u] at density 1000 and box B [u,3u]x... at 3000: where they overlap A's density holds."""
    u = 0.02
    A, B = _box([0, 0, 0], [2 * u, u, u]), _box([u, 0, 0], [3 * u, u, u])
    got = piecewise_mass_properties([A, B], [1000.0, 3000.0])
    # disjoint pieces: A itself (2u x u x u at 1000) and B minus A = [2u, 3u] x u x u at 3000
    pieces = [(1000.0 * 2 * u ** 3, np.array([u, u / 2, u / 2]), (2 * u, u, u)),
              (3000.0 * u ** 3, np.array([2.5 * u, u / 2, u / 2]), (u, u, u))]
    mass = sum(p[0] for p in pieces)
    centre = sum(p[0] * p[1] for p in pieces) / mass
    inertia = np.zeros((3, 3))
    for mi, ci, (a, b, c) in pieces:
        own = mi / 12 * np.diag([b * b + c * c, a * a + c * c, a * a + b * b])
        d = ci - centre
        inertia += own + mi * (d @ d * np.eye(3) - np.outer(d, d))
    assert got.mass == pytest.approx(mass, rel=1e-9) == pytest.approx(0.04)
    np.testing.assert_allclose(got.center, centre, atol=1e-12)
    np.testing.assert_allclose(centre[0], 1.9 * u)
    np.testing.assert_allclose(got.inertia, inertia, rtol=1e-9, atol=1e-15)
    # equal densities: the uniform union's properties times the density
    union = union_mass_properties([A, B])
    same = piecewise_mass_properties([A, B], [500.0, 500.0])
    assert same.mass == pytest.approx(500.0 * union.volume)
    np.testing.assert_allclose(same.inertia, 500.0 * union.inertia, rtol=1e-9, atol=1e-15)
    with pytest.raises(ValueError, match="densities"):
        piecewise_mass_properties([A, B], [1.0])


def test_camera_jitter_moves_the_rendered_depth_not_the_agents_config(nominal):
    base, obs0, _ = nominal
    for knob in ({"camera_position": 0.02}, {"camera_tilt": 4.0}, {"camera_fovy": 3.0}):
        env, obs, info = _reset(knob)
        assert obs["depth"].shape == obs0["depth"].shape
        np.testing.assert_array_equal(obs["bbox"], obs0["bbox"])  # the scene is the same
        assert np.abs(obs["depth"] - obs0["depth"]).max() > 1e-3, knob
        assert env.agent_interface().obs_config == base.obs_config  # the agent keeps the nominal calibration
        cam = info["randomization"]["cameras"][0]
        assert len(info["randomization"]["cameras"]) == base.obs_config.n_cameras
        if "camera_fovy" in knob:
            assert 0 < abs(cam["fovy"]) <= 3.0 and cam["tilt"] == 0 and cam["offset"] == [0, 0, 0]
    # the jitter holds through the episode: the depth is re-rendered with the same camera
    env, obs, _ = _reset({"camera_tilt": 4.0})
    np.testing.assert_array_equal(env.depth_images(), obs["depth"])


def test_depth_noise_presets_and_box_noise_match_the_observation_options(nominal):
    _, obs0, _ = nominal
    dexnet = _reset(observation={"noise": "dexnet"})[1]
    np.testing.assert_array_equal(_reset({"depth_noise": "dexnet"})[1]["depth"], dexnet["depth"])
    spread = {}
    for name in DEPTH_NOISE_PRESETS:
        depth = _reset({"depth_noise": name})[1]["depth"]
        spread[name] = float(np.abs(depth - obs0["depth"]).mean())
    assert spread["none"] == 0 < spread["low"] < spread["dexnet"] < spread["high"]
    boxed = _reset(observation={"bbox_noise": 0.005})[1]
    np.testing.assert_array_equal(_reset({"bbox_noise": 0.005})[1]["bbox"], boxed["bbox"])


def test_recipe_flag_labels_with_randomization(tmp_path):
    from agents.recipe import RecipeArgs, _label

    args = RecipeArgs(randomization='{"finger_friction": [0.5, 1.2]}')
    assert args.randomization_config()["finger_friction"] == [0.5, 1.2]
    _label(tmp_path / "data", args, num_objects=1, attempts=5, seed=0)  # the recipe's labelling step
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert manifest["physics"]["identity"]["randomization"]["finger_friction"] == [0.5, 1.2]
    assert RecipeArgs().randomization_config() == {}
    with pytest.raises(ValueError, match="--randomization is not valid JSON"):
        RecipeArgs(randomization="{finger")
    with pytest.raises(ValueError, match="--randomization: unknown randomization keys"):
        RecipeArgs(randomization='{"friction": [0.5, 1.2]}')


def test_generated_dataset_records_the_randomization(tmp_path):
    from grasp_envs.cli import main

    out = tmp_path / "ds"
    kwargs = json.dumps({"randomization": {"finger_friction": [0.5, 1.0]}})
    assert main(["generate", "--num-objects", "1", "--attempts", "5", "--out", str(out), "--no-progress",
                 "--env-kwargs", kwargs]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["physics"]["identity"]["randomization"]["finger_friction"] == [0.5, 1.0]


def test_benchmark_levels_widen_and_keep_the_scenes():
    from benchmarks.randomization import LEVELS, level_config, randomized_task
    from benchmarks.tasks import get_task

    assert set(LEVELS) == {f for f in RandomizationConfig.__dataclass_fields__}
    for knob, levels in LEVELS.items():
        assert len(levels) == 3
        configs = [level_config(knob, k) for k in (1, 2, 3)]
        assert all(c.enabled for c in configs) and not level_config(knob, 0).enabled
    task = get_task("random-4d-test-v2")
    variant = randomized_task(task, level_config("camera_tilt", 2))
    assert variant.env_kwargs["randomization"]["camera_tilt"] == 2.5 and variant.scene_entropy == task.scene_entropy
    assert randomized_task(task, RandomizationConfig()) is task


@pytest.mark.slow
def test_finger_friction_changes_outcomes():
    """Slippery fingers lift less, grippy ones more: the knob reaches the physics (300 grasps per setting)."""
    from grasp_envs.grid import GraspGrid

    obj = generate_random_object(1_000_000_003)
    actions = np.random.default_rng(0).integers(0, 20, (300, 4))
    lifted = {}
    for mu in (0.1, None, 2.0):
        sim = GraspSimulator(obj, finger_friction=mu)
        lifted[mu] = int(sim.attempt(GraspGrid(4).decode(actions, sim.object_bounds)).success.sum())
    assert lifted[0.1] < lifted[None] < lifted[2.0], lifted


def test_warp_labelling_refuses_contact_friction_it_cannot_batch():
    from grasp_envs.dataset import GenerateConfig

    with pytest.raises(ValueError, match="not supported by --backend warp.*--backend local"):
        GenerateConfig(env_id=ENV_ID, num_objects=1, attempts=1, engine="warp",
                       env_kwargs={"randomization": {"finger_friction": [0.5, 1.0]}})
    GenerateConfig(env_id=ENV_ID, num_objects=1, attempts=1, engine="warp",
                   env_kwargs={"randomization": {"object_friction": [0.5, 1.0], "part_density": [0.5, 2.0]}})


def test_benchmark_runs_and_prints_the_table(capsys, tmp_path):
    pytest.importorskip("torch")
    from benchmarks.randomization import main

    out = tmp_path / "r.json"
    assert main(["--scenes", "2", "--knobs", "bbox_noise", "--levels", "3", "--agents", "planner", "--no-progress",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| nominal | 0 | off |" in text and "| bbox_noise | 3 | 0.01 |" in text
    rows = json.loads(out.read_text())["rows"]
    assert [r["knob"] for r in rows] == ["nominal", "bbox_noise"]
    nominal, noisy = (r["agents"]["planner"]["records"] for r in rows)
    assert [e["object_seed"] for e in nominal] == [e["object_seed"] for e in noisy]  # the same scenes


def test_an_env_with_its_own_reset_refuses_randomization():
    with pytest.raises(ValueError, match="GraspClutterEnv builds its scenes in its own reset"):
        gym.make("grasp_envs/GraspClutter4D-v1", randomization={"camera_tilt": 2.0})
    gym.make("grasp_envs/GraspClutter4D-v1", randomization={})  # all off: accepted, nothing to apply
