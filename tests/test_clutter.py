"""Clutter: the pile simulator's rejection and success rules, and the GraspClutter envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import grasp_envs  # noqa: F401  (registers the ids)
from grasp_envs.grid import GraspPoses, rot_z
from grasp_envs.objects import GraspObject
from grasp_envs.sim import Rejection, SimConfig
from grasp_envs.sim.clutter import ClutterSimulator

CONFIG = SimConfig()


def box(name: str, size, mass: float = 0.08) -> GraspObject:
    hx, hy, hz = np.asarray(size, float) / 2
    v = np.array([[x, y, z] for x in (-hx, hx) for y in (-hy, hy) for z in (-hz, hz)])
    return GraspObject(name=name, parts=(v,), mass=mass, friction=1.0, source="test")


@pytest.fixture(scope="module")
def two_boxes() -> ClutterSimulator:
    """A 4 cm cube at x = -0.1 m and a 4 x 4 x 16 cm tower at x = +0.1 m, both upright."""
    objs = [box("cube", (0.04, 0.04, 0.04)), box("tower", (0.04, 0.04, 0.16))]
    return ClutterSimulator(objs, CONFIG, orientations=np.tile(np.eye(3), (2, 1, 1)),
                            positions=np.array([[-0.1, 0.0], [0.1, 0.0]]))


def poses(points, yaw=0.0) -> GraspPoses:
    p = np.atleast_2d(np.asarray(points, float))
    return GraspPoses(p, np.repeat(rot_z(np.array([yaw]))[0][None], len(p), axis=0))


def test_the_pile_settles_where_it_was_dropped(two_boxes):
    sim = two_boxes
    np.testing.assert_allclose(sim.object_qpos[:, :2], [[-0.1, 0.0], [0.1, 0.0]], atol=2e-3)
    np.testing.assert_allclose(sim.object_qpos[:, 2], [0.02, 0.08], atol=3e-3)
    np.testing.assert_allclose(sim.object_bounds[0], [-0.12, -0.02, 0.0], atol=3e-3)
    np.testing.assert_allclose(sim.object_bounds[1], [0.12, 0.02, 0.16], atol=3e-3)


def test_rejection_reasons_on_two_boxes(two_boxes):
    sim = two_boxes
    grasps = poses([
        [-0.1, 0.0, 0.005],  # fingertips 1 cm into the table beside the cube
        [0.1, 0.0, 0.10],    # the palm (4.5 cm above the TCP) 1.5 cm down into the 16 cm tower
        [0.0, 0.0, 0.03],    # between the boxes: the closing fingers sweep through neither
        [-0.1, 0.0, 0.02],   # around the cube at mid-height: simulated
    ])
    reasons = [Rejection(int(r)) for r in sim.reject(grasps)]
    assert reasons == [Rejection.PENETRATES_TABLE, Rejection.PENETRATES_OBJECT, Rejection.CLOSES_ON_AIR,
                       Rejection.NONE]


@pytest.mark.parametrize("plank_bottom, blocked", [(0.15, True), (0.25, False)])
def test_blocked_approach_by_another_object(plank_bottom, blocked):
    """A plank held over the cube: the open gripper's way down (10 cm above its palm) passes through it or not."""
    cube, plank = box("cube", (0.04, 0.04, 0.04)), box("plank", (0.30, 0.10, 0.02))
    sim = ClutterSimulator([cube, plank], CONFIG, orientations=np.tile(np.eye(3), (2, 1, 1)),
                           positions=np.array([[0.0, 0.0], [0.3, 0.0]]))
    # the probe only needs the poses: put the plank in the air over the cube (palm top at 0.105 m)
    sim.set_rest_pose(np.array([[0, 0, 0.02, 1, 0, 0, 0], [0, 0, plank_bottom + 0.01, 1, 0, 0, 0]]))
    got = Rejection(int(sim.reject(poses([0.0, 0.0, 0.02]))[0]))
    assert got == (Rejection.BLOCKED_APPROACH if blocked else Rejection.NONE)


def test_lifting_one_of_two_objects_is_success(two_boxes):
    sim = two_boxes
    out = sim.attempt(poses([[-0.1, 0.0, 0.02], [0.0, 0.0, 0.03]], np.pi / 2))
    assert out.success.tolist() == [True, False]
    assert out.lifted_object.tolist() == [0, -1]
    assert out.rejection.tolist() == [0, int(Rejection.CLOSES_ON_AIR)]
    assert out.lift[0] >= CONFIG.success_height
    # the cube went up, the tower stayed
    assert out.final_object_qpos.shape == (2, 2, 7)
    np.testing.assert_allclose(out.final_object_qpos[0, 1, :3], sim.object_qpos[1, :3], atol=2e-3)
    assert out.final_object_qpos[0, 0, 2] > 0.25


ENV = "grasp_envs/GraspClutter4D-v1"
SMALL = dict(n_objects=[2, 3])


def test_seeded_determinism():
    a = gym.make(ENV, **SMALL)
    b = gym.make(ENV, **SMALL)
    oa, ia = a.reset(seed=5)
    ob, ib = b.reset(seed=5)
    assert ia["object_seeds"] == ib["object_seeds"] and 2 <= ia["n_objects"] <= 3
    np.testing.assert_array_equal(oa["depth"], ob["depth"])
    np.testing.assert_array_equal(oa["bbox"], ob["bbox"])
    action = np.array([10, 10, 5, 3])
    ra, rb = a.step(action), b.step(action)
    assert ra[1:4] == rb[1:4] and ra[4]["outcome"] == rb[4]["outcome"] and ra[4]["lift_height"] == rb[4]["lift_height"]
    # the scene seed alone fixes the objects; the episode seed their drop
    _, ic = a.reset(seed=6, options={"object_seed": ia["object_seed"]})
    assert ic["object_seeds"] == ia["object_seeds"]
    assert not np.allclose(ic["objects_bounds"], ia["objects_bounds"])


def test_check_env_and_spaces():
    from gymnasium.utils.env_checker import check_env

    env = gym.make(ENV, n_objects=2)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=1)
    assert obs["depth"].shape == (1, 64, 64) and info["n_objects"] == 2
    assert env.unwrapped.obs_config.fovy == 50.0
    assert gym.make("grasp_envs/GraspClutter6D-v1", n_objects=2).action_space.shape == (6,)


def test_the_pile_box_is_what_the_grid_and_observation_use():
    env = gym.make(ENV, **SMALL)
    obs, info = env.reset(seed=3)
    boxes = info["objects_bounds"]
    np.testing.assert_allclose(info["object_bounds"], [boxes[:, 0].min(axis=0), boxes[:, 1].max(axis=0)])
    np.testing.assert_allclose(obs["bbox"], info["object_bounds"].ravel(), atol=1e-6)
    p = env.unwrapped.decode(np.array([19, 19, 19, 0])).position[0]
    np.testing.assert_allclose(p, info["object_bounds"][1])


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match=r"n_objects must satisfy"):
        gym.make(ENV, n_objects=[3, 12])
    with pytest.raises(ValueError, match=r"n_objects must be an int or a \[low, high\] pair"):
        gym.make(ENV, n_objects="many")
    with pytest.raises(ValueError, match="privileged"):
        gym.make(ENV, observation={"mode": "privileged"})
    with pytest.raises(ValueError, match="a pile holds 1 to 10 objects"):
        ClutterSimulator([], CONFIG)


def test_identity_names_the_clutter_settings():
    a = gym.make(ENV).unwrapped
    b = gym.make(ENV, n_objects=[2, 4]).unwrapped
    assert a.physics_identity()["objects"]["clutter"]["n_objects"] == [2, 10]
    assert a.physics_digest != b.physics_digest
    assert a.physics_identity()["physics_version"] == 1


@pytest.mark.slow
def test_clutter_benchmark_prints_its_table(capsys):
    from benchmarks.clutter import main

    assert main(["--episodes", "2", "--agents", "random", "centroid", "--kuka-episodes", "0"]) == 0
    out = capsys.readouterr().out
    assert "| GraspClutter4D-v1 (test, 2-10 objects) | random | fovy 50 |" in out
    assert "| centroid |" in out and "clustered by scene" in out


def test_clutter_benchmark_names_its_planners(tmp_path, capsys):
    """``--planner``: shipped, a shipped checkpoint's name or a trained stem; a wrong one names what to pass."""
    pytest.importorskip("torch", reason="the planner needs torch: pip install -e '.[agents]'")
    import shutil

    from agents.checkpoint import SHIPPED_DIR
    from benchmarks.clutter import main, planner_checkpoint

    assert planner_checkpoint("shipped") is None
    assert planner_checkpoint("planner_4d") == str(SHIPPED_DIR / "planner_4d")
    for suffix in (".json", ".pt"):
        shutil.copy(SHIPPED_DIR / f"planner_4d{suffix}", tmp_path / f"planner{suffix}")
    assert planner_checkpoint(str(tmp_path / "planner")) == str(tmp_path / "planner")
    assert planner_checkpoint(str(tmp_path / "planner.pt")) == str(tmp_path / "planner")
    assert main(["--agents", "planner", "--planner", "runs/nowhere/planner", "--episodes", "1",
                 "--kuka-episodes", "0"]) == 2
    out = capsys.readouterr().out
    assert "--planner runs/nowhere/planner" in out and "planner_4d" in out


@pytest.mark.slow
def test_clutter_benchmark_pairs_planners(tmp_path, capsys):
    """Two planners on the same piles, and a later run paired with an earlier one's --out (--peer)."""
    pytest.importorskip("torch", reason="the planner needs torch: pip install -e '.[agents]'")
    from benchmarks.clutter import main

    first = tmp_path / "first.json"
    assert main(["--agents", "planner", "--planner", "shipped", "planner_4d", "--episodes", "2",
                 "--kuka-episodes", "0", "--out", str(first)]) == 0
    out = capsys.readouterr().out
    assert "| planner (shipped) | fovy 25 |" in out and "| planner (planner_4d) | fovy 25 |" in out
    assert "planner (planner_4d) vs planner (shipped): 0 piles won / 0 lost" in out  # the same weights
    assert main(["--agents", "planner", "--planner", "planner_4d", "--episodes", "2", "--kuka-episodes", "0",
                 "--peer", str(first)]) == 0
    assert "planner (planner_4d) vs planner (shipped): 0 piles won / 0 lost" in capsys.readouterr().out
    assert main(["--agents", "planner", "--episodes", "2", "--seed", "7", "--kuka-episodes", "0",
                 "--peer", str(first)]) == 2
    assert "ran other piles" in capsys.readouterr().out


# ------------------------------------------------------------------ piles of downloaded objects
#: Ids of the upstream YCB layout that no pin lists (recorded on download); 901, 907 and 909 fall
#: in the test split by the id hash, the others in train.
PILE_IDS = ["900_test_block", "901_test_block", "902_test_block", "903_test_block", "907_test_block",
            "909_test_block"]


@pytest.fixture(scope="module")
def tiny_ycb_root(tmp_path_factory):
    """A processed YCB data root of six box and sphere meshes, by the real downloader from a folder mirror."""
    pytest.importorskip("coacd", reason="CoACD is not installed: pip install -e '.[objects]'")
    import warnings

    import trimesh

    from grasp_envs.objects.download import download_dataset
    from grasp_envs.objects.mesh_import import DecompositionConfig
    from tests.test_download import make_tgz

    base = tmp_path_factory.mktemp("tiny_ycb")
    for k, oid in enumerate(PILE_IDS):
        mesh = (trimesh.creation.box(extents=(0.05 + 0.01 * k, 0.04, 0.03 + 0.01 * k)) if k % 2 == 0
                else trimesh.creation.icosphere(subdivisions=2, radius=0.025 + 0.004 * k))
        out = base / "mirror" / "google" / f"{oid}_google_16k.tgz"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(make_tgz(mesh.export(file_type="obj").encode(), oid))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UnpinnedObjectWarning: these ids have no pinned checksum
        download_dataset("ycb", root=base / "root", mirror=base / "mirror", objects=PILE_IDS,
                         config=DecompositionConfig.tiny(), progress=False)
    return base / "root"


def test_piles_of_ycb_objects_use_the_single_object_envs_objects_and_split(tiny_ycb_root):
    from grasp_envs.objects.datasets import split_of
    from grasp_envs.envs.object_sets import GraspYCBEnv

    kw = dict(objects="ycb", root=str(tiny_ycb_root), object_ids=PILE_IDS, n_objects=[2, 4])
    test_ids = sorted(o for o in PILE_IDS if split_of(o) == "test")
    env = gym.make(ENV, split="test", **kw)
    single = GraspYCBEnv(root=str(tiny_ycb_root), object_ids=PILE_IDS, split="test")
    u = env.unwrapped
    assert u.split == "test" and u.object_source.object_ids == single.object_ids == tuple(test_ids)
    # scene seeds are not object indices: a billion piles over the split's three objects
    assert u.object_seed_range() == (0, 1_000_000_000) and u.pile_object_range() == (0, len(test_ids))
    seen = set()
    for seed in range(4):
        obs, info = env.reset(seed=seed)
        names = info["object_names"]
        assert 2 <= len(names) <= 4 and obs["depth"].shape == (1, 64, 64)
        assert set(names) <= {f"ycb/{o}" for o in test_ids}
        assert len(set(names)) == min(len(names), len(test_ids))  # distinct while the split has enough
        seen.update(names)
        # each object is the single-object env's (same parts, mass, cache)
        for oseed, obj in zip(info["object_seeds"], u.objects):
            ref = single.make_object(oseed)
            assert obj.name == ref.name and obj.mass == ref.mass
            np.testing.assert_array_equal(np.concatenate(obj.parts), np.concatenate(ref.parts))
        assert u.scene_record(info["object_seed"]).name == u.object.name
        _, reward, terminated, _, step_info = env.step(np.array([10, 10, 5, 0]))
        assert terminated and step_info["outcome"] in ("success", "failure", "rejected")
    assert len(seen) == len(test_ids)
    # train split and every object given
    train = gym.make(ENV, split="train", **kw).unwrapped
    assert train.object_source.object_ids == tuple(sorted(o for o in PILE_IDS if split_of(o) == "train"))
    assert gym.make(ENV, **kw).unwrapped.split == "all"
    # seeded determinism and the identity names the set
    a, b = gym.make(ENV, split="test", **kw), gym.make(ENV, split="test", **kw)
    oa, ia = a.reset(seed=7)
    ob, ib = b.reset(seed=7)
    assert ia["object_names"] == ib["object_names"]
    np.testing.assert_array_equal(oa["depth"], ob["depth"])
    ident = u.physics_identity()["objects"]
    assert ident["objects"] == "ycb" and ident["object_ids"] == test_ids and ident["split"] == "test"
    assert u.physics_digest != train.physics_digest != gym.make(ENV).unwrapped.physics_digest


def test_check_env_on_a_ycb_pile(tiny_ycb_root):
    from gymnasium.utils.env_checker import check_env

    env = gym.make(ENV, objects="ycb", root=str(tiny_ycb_root), object_ids=PILE_IDS, n_objects=2)
    check_env(env.unwrapped, skip_render_check=True)


def test_object_source_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="objects must be one of"):
        gym.make(ENV, objects="lego")
    with pytest.raises(ValueError, match="root choose downloaded objects; pass objects='ycb'"):
        gym.make(ENV, root=str(tmp_path))
    with pytest.raises(ValueError, match="primitive_bank configure random objects"):
        gym.make(ENV, objects="ycb", root=str(tmp_path), primitive_bank="bank.npz")
    with pytest.raises(FileNotFoundError, match="grasp-envs download ycb"):  # the single-object env's own message
        gym.make(ENV, objects="ycb", root=str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="grasp-envs download scanned"):
        gym.make(ENV, objects="scanned", root=str(tmp_path / "empty"))


# ------------------------------------------------------------------ frozen clutter tasks
@pytest.mark.parametrize("name", ["clutter-4d-test-v1", "clutter-6d-test-v1"])
def test_clutter_tasks_match_their_frozen_fingerprints(name):
    from benchmarks.tasks import get_task
    from grasp_envs.envs.random_objects import TEST_SEEDS

    task = get_task(name)
    assert task.fingerprint is not None and task.object_checksum is not None and task.per_seed_resets
    scenes = task.verify()
    assert task.compute_fingerprint(scenes) == task.fingerprint
    seeds = [s.object_seed for s in scenes]
    assert len(scenes) == 300 and len(set(seeds)) == 300 and all(TEST_SEEDS[0] <= k < TEST_SEEDS[1] for k in seeds)
    assert "physics" in task.definition(scenes)  # physics v1: the env's physics digest is covered


def test_clutter_task_fingerprint_tracks_the_pile_config():
    import dataclasses

    from benchmarks.tasks import get_task

    task = get_task("clutter-4d-test-v1")
    base = task.compute_fingerprint()
    for change in ({"n_objects": [2, 4]}, {"drop_radius": 0.1}, {"objects": "random", "n_objects": 5}):
        other = dataclasses.replace(task, env_kwargs={**task.env_kwargs, **change}, fingerprint=None)
        assert other.compute_fingerprint() != base, change
    # the same scenes on the 6-D twin are a different task (env id and physics identity differ)
    assert get_task("clutter-6d-test-v1").scenes() == task.scenes()
    assert get_task("clutter-6d-test-v1").fingerprint != task.fingerprint


def test_clutter_task_object_digest_is_the_pile_evaluation_hashes():
    from benchmarks.tasks import get_task, object_digest

    task = get_task("clutter-4d-test-v1")
    scene = task.seed_scenes(1)[0]
    env = task.make_env()
    env.reset(seed=scene.reset_seed, options={"object_seed": scene.object_seed})
    u = env.unwrapped
    assert object_digest(u.object) == object_digest(u.scene_record(scene.object_seed))
    assert u.object.name.count(",") + 1 == len(u.objects)


@pytest.mark.slow
def test_clutter_task_piles_match_the_frozen_object_checksum():
    from benchmarks.tasks import get_task

    task = get_task("clutter-4d-test-v1")
    assert task.check_object_checksum(task.object_digests(progress=False)) == task.object_checksum


def test_a_ycb_pile_task_draws_distinct_piles_and_fingerprints_its_set(tiny_ycb_root):
    from benchmarks.tasks import BenchmarkTask, get_task

    kw = {"dims": 4, "split": "test", "objects": "ycb", "root": str(tiny_ycb_root), "object_ids": PILE_IDS,
          "n_objects": [2, 3]}
    task = BenchmarkTask(name="clutter-ycb-tiny-v1", env_id=ENV, env_kwargs=kw, object_set="clutter-ycb",
                         split="test", scene_entropy=5, n_scenes=4, seeds=(0, 1), per_seed_resets=True)
    scenes = task.scenes()
    assert len({s.object_seed for s in scenes}) == 4  # distinct piles, not the set's 3 object indices round-robin
    assert task.compute_fingerprint(scenes) == task.compute_fingerprint()
    fewer = BenchmarkTask(**{**task.__dict__, "env_kwargs": {**kw, "object_ids": PILE_IDS[:-1]}})
    assert fewer.compute_fingerprint() != task.compute_fingerprint()  # the object list is in the physics identity
    assert len(task.object_digests(progress=False)) == 4
    frozen = get_task("clutter-ycb-4d-test-v1")  # frozen where its data is, as the YCB tasks
    assert frozen.env_kwargs["objects"] == "ycb" and frozen.fingerprint is None and frozen.object_checksum is None


def test_clutter_benchmark_on_ycb_piles(tiny_ycb_root, capsys):
    from benchmarks.clutter import main

    assert main(["--objects", "ycb", "--root", str(tiny_ycb_root), "--object-ids", *PILE_IDS, "--n-objects", "2",
                 "--episodes", "2", "--agents", "random", "--kuka-episodes", "0"]) == 0
    out = capsys.readouterr().out
    assert "| GraspClutter4D-v1 (test, 2 YCB objects) | random | fovy 50 |" in out and "clustered by scene" in out
    assert main(["--objects", "ycb", "--root", str(tiny_ycb_root / "nothing"), "--episodes", "1",
                 "--agents", "random", "--kuka-episodes", "0"]) == 2
    assert "grasp-envs download ycb --root" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--root", str(tiny_ycb_root), "--episodes", "1", "--kuka-episodes", "0"])
