"""Dataset generation, storage, resumption and reading (grasp_envs.dataset)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pa = pytest.importorskip("pyarrow", reason="grasp_envs.dataset needs pyarrow (pip install 'grasp-envs[data]')")

import grasp_envs  # noqa: E402,F401
from grasp_envs.dataset import (  # noqa: E402
    CorruptShardError,
    DatasetError,
    GenerateConfig,
    GraspDataset,
    check_disjoint,
    dataset_info,
    format_info,
    generate,
    object_set_env_id,
)
from grasp_envs.dataset.cli import register_dataset  # noqa: E402
from grasp_envs.envs.random_objects import TEST_SEEDS, TRAIN_SEEDS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ENV_ID = "grasp_envs/GraspRandom4D-v1"


def small_config(**kw) -> GenerateConfig:
    base = dict(env_id=ENV_ID, num_objects=4, attempts=60, split="train", seed=3, scenes_per_shard=1)
    base.update(kw)
    return GenerateConfig(**base)


def shard_digests(root: Path) -> dict[str, str]:
    manifest = json.loads((root / "manifest.json").read_text())
    return {f["path"]: f["sha256"] for s in manifest["shards"] for f in s["files"].values()}


def file_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".tmp" not in p.parts}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted single-process run of ``small_config()``."""
    root = tmp_path_factory.mktemp("ref") / "ds"
    generate(small_config(), root, progress=False)
    return root


# ----------------------------------------------------------------------------- content
def test_rows_match_the_environment(reference):
    ds = GraspDataset(reference, verify=True)
    scenes, att = ds.read_scenes(), ds.read_attempts()
    assert len(scenes) == 4 and len(att) == 4 * 60
    assert scenes.depth.shape == (4, 1, 64, 64) and scenes.depth.dtype == np.float32
    assert np.all((scenes.depth > 0) & (scenes.depth <= 2.0))
    assert scenes.bbox.shape == (4, 6) and np.all(scenes.bbox[:, 3:] > scenes.bbox[:, :3])
    assert np.all((scenes.object_seed >= TRAIN_SEEDS[0]) & (scenes.object_seed < TRAIN_SEEDS[1]))
    assert len(np.unique(scenes.object_seed)) == 4
    # Every attempt row carries its scene's object seed.
    seed_of_scene = dict(zip(scenes.scene.tolist(), scenes.object_seed.tolist()))
    assert [seed_of_scene[s] for s in att.scene.tolist()] == att.object_seed.tolist()
    # Hand images exist exactly for the simulated attempts.
    assert att.hand_depth.shape == (int((att.rejection == 0).sum()), 32, 32)
    assert np.array_equal(att.simulated_index, np.flatnonzero(att.rejection == 0))
    assert not np.any(att.success & (att.rejection != 0)) and np.all(att.lift[att.rejection != 0] == 0)
    assert set(np.unique(att.rejection)) <= {0, 1, 2, 3}
    assert np.all((att.grasp >= 0) & (att.grasp < 20))
    # The planner's targets are exactly the successful attempts of each scene.
    stacked, offsets = scenes.stacked_success()
    for i, s in enumerate(scenes.scene):
        rows = (att.scene == s) & att.success
        assert np.array_equal(scenes.success_grasps[i], att.grasp[rows])
        assert np.array_equal(stacked[offsets[i] : offsets[i + 1]], att.grasp[rows])
        assert scenes.n_success[i] == rows.sum() and scenes.n_simulated[i] == ((att.scene == s) & (att.rejection == 0)).sum()
    sim = ds.read_attempts(simulated_only=True)
    assert len(sim) == len(sim.hand_depth) == len(att.hand_depth)
    assert np.array_equal(sim.hand_depth, att.hand_depth)


def test_stored_scene_regenerates_from_its_seeds(reference):
    """A stored scene can be rebuilt from its seeds through the env API: same images, same labels."""
    ds = GraspDataset(reference)
    scenes = ds.read_scenes(shards=[2])
    att = ds.read_attempts(shards=[2])
    env = gym.make(ENV_ID, split="train")
    obs, _ = env.reset(seed=int(scenes.reset_seed[0]), options={"object_seed": int(scenes.object_seed[0])})
    assert np.array_equal(obs["depth"], scenes.depth[0])
    outcome = env.unwrapped.evaluate_grasps(att.grasp)
    assert np.array_equal(outcome.rejection, att.rejection)
    assert np.array_equal(outcome.success, att.success)
    live = att.rejection == 0
    assert np.array_equal(env.unwrapped.hand_camera_images(att.grasp[live]), att.hand_depth)
    env.close()


def test_readable_with_pandas_and_pyarrow(reference):
    pd = pytest.importorskip("pandas")
    import pyarrow.dataset as pads

    df = pd.read_parquet(reference / "attempts")
    assert len(df) == 240 and {"object_seed", "grasp", "rejection", "success", "lift", "hand_depth"} <= set(df.columns)
    table = pads.dataset(reference / "scenes", format="parquet").to_table()
    assert table.num_rows == 4
    assert json.loads(table.schema.metadata[b"depth_shape"]) == [1, 64, 64]


def test_train_and_test_seeds_never_overlap(tmp_path, reference):
    test_root = tmp_path / "test"
    generate(small_config(split="test", num_objects=2, attempts=5), test_root, progress=False)
    train, test = GraspDataset(reference), GraspDataset(test_root)
    assert np.all((test.object_seeds() >= TEST_SEEDS[0]) & (test.object_seeds() < TEST_SEEDS[1]))
    check_disjoint(train, test)
    with pytest.raises(DatasetError, match="share 4 object seeds"):
        check_disjoint(train, GraspDataset(reference))


# ----------------------------------------------------------------------------- no loss
def test_sigkill_then_resume_gives_the_uninterrupted_dataset(tmp_path, reference, capsys):
    root = tmp_path / "killed"
    cmd = [sys.executable, "-m", "grasp_envs.dataset.cli", "--num-objects", "4", "--attempts", "60", "--seed", "3",
           "--scenes-per-shard", "1", "--out", str(root), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list((root / "shards").glob("*.json"))) >= 2 if (root / "shards").exists() else False:
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = len(list((root / "shards").glob("*.json")))
    assert 1 <= done < 4
    with pytest.raises(DatasetError, match="incomplete.*--resume"):
        GraspDataset(root)
    assert "INCOMPLETE" in format_info(dataset_info(root))

    partial = GraspDataset(root, allow_incomplete=True)
    assert len(partial.shards) == done and len(partial.read_attempts(images=False)) == 60 * done

    # Resume through the CLI with only --out: the settings come from the manifest.
    from grasp_envs.dataset.cli import main as generate_main

    assert generate_main(["--out", str(root), "--resume", "--no-progress"]) == 0
    assert f"{4 - done} shards written, {done} kept from before" in capsys.readouterr().out
    assert file_bytes(root) == file_bytes(reference)


def test_resume_repairs_torn_and_corrupt_shards(tmp_path, reference):
    root = tmp_path / "torn"
    shutil.copytree(reference, root)
    # Shard 0: its marker never got written (killed between the data files and the marker).
    (root / "shards" / "part-00000.json").unlink()
    # Shard 1: a flipped byte on disk.
    path = root / "attempts" / "part-00001.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    # A leftover temporary file of a killed writer.
    (root / ".tmp").mkdir(exist_ok=True)
    (root / ".tmp" / "attempts-part-00002.parquet.999.tmp").write_bytes(b"partial")

    with pytest.raises(CorruptShardError, match=r"part-00001\.parquet is corrupt: sha256 .* --resume"):
        GraspDataset(root, verify=True)
    ds = GraspDataset(root)  # lazy: the corrupt shard fails only when read
    ds.read_scenes(shards=[0])
    with pytest.raises(CorruptShardError):
        ds.read_attempts(shards=[1])
    info = dataset_info(root)
    assert info["health"][1] == "corrupt"
    assert "part-00001 corrupt" in format_info(info)

    summary = generate(small_config(), root, resume=True, progress=False)
    assert summary.shards_written == 2 and summary.shards_reused == 2
    assert file_bytes(root) == file_bytes(reference)


def test_dataset_info_cli_reports_health(reference, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    register_dataset(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["dataset", "info", str(reference)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "scenes: 4 of 4" in out and "attempts: 240" in out and "shards: 4/4 ok" in out and "successes:" in out
    bad = tmp_path / "bad"
    shutil.copytree(reference, bad)
    (bad / "scenes" / "part-00003.parquet").unlink()
    args = parser.parse_args(["dataset", "info", str(bad), "--json"])
    assert args.func(args) == 1
    assert json.loads(capsys.readouterr().out)["health"]["3"] == "missing"


# ----------------------------------------------------------------------------- errors
def test_refuses_to_mix_runs(tmp_path, reference):
    root = tmp_path / "mix"
    shutil.copytree(reference, root)
    with pytest.raises(ValueError, match="already holds a dataset; pass --resume"):
        generate(small_config(), root, progress=False)
    with pytest.raises(ValueError, match="attempts: dataset has 60, requested 61"):
        generate(small_config(attempts=61), root, resume=True, progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        generate(small_config(), tmp_path / "other", progress=False)


def test_config_validation_and_object_sets():
    with pytest.raises(ValueError, match="num_objects must be at least 1"):
        small_config(num_objects=0)
    with pytest.raises(ValueError, match="env_kwargs may not set 'split'"):
        small_config(env_kwargs={"split": "test"})
    with pytest.raises(ValueError, match="not registered"):
        small_config(env_id="grasp_envs/Nope-v0")
    real = [k for k in gym.registry if k.startswith("grasp_envs/RealFetch")]
    if real:
        with pytest.raises(ValueError, match="not a simulated grasp environment"):
            small_config(env_id=real[0])
    with pytest.raises(ValueError, match="unknown object set 'lego'"):
        object_set_env_id("lego", 4)
    assert object_set_env_id("random", 6) == "grasp_envs/GraspRandom6D-v1"
    for name in ("ycb", "shapenet", "scanned"):
        env_id = object_set_env_id.__globals__["OBJECT_SETS"][name].format(dims=4)
        if f"grasp_envs/{env_id}" in gym.registry:
            assert object_set_env_id(name, 4) == f"grasp_envs/{env_id}"
        else:
            with pytest.raises(ValueError, match=f"needs environment grasp_envs/{env_id}"):
                object_set_env_id(name, 4)


def test_missing_dataset_names_the_command(tmp_path):
    with pytest.raises(DatasetError, match="grasp-envs generate --objects random"):
        GraspDataset(tmp_path)


# ----------------------------------------------------------------------------- backends
def test_process_pool_matches_single_process(tmp_path, reference):
    root = tmp_path / "pool"
    summary = generate(small_config(), root, workers=2, progress=False)
    assert summary.attempts == 240
    assert file_bytes(root) == file_bytes(reference)


def test_ray_backend_matches_local(tmp_path, reference):
    ray = pytest.importorskip("ray", reason="the Ray backend needs ray (pip install 'grasp-envs[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}})
    try:
        root = tmp_path / "ray"
        generate(small_config(), root, workers=2, backend="ray", progress=False)
        assert file_bytes(root) == file_bytes(reference)
        rows = ray.data.read_parquet(str(root / "attempts")).count()
        assert rows == 240
    finally:
        ray.shutdown()


# ----------------------------------------------------------------------------- PyTorch
def test_torch_datasets_over_the_shards(reference):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    from agents.data import HandImageDataset, SceneDataset, collate_scenes, training_arrays

    ds = GraspDataset(reference)
    att = ds.read_attempts()
    hand = HandImageDataset(reference)
    assert len(hand) == int((att.rejection == 0).sum())
    batch = next(iter(DataLoader(hand, batch_size=16, shuffle=False)))
    assert batch["hand_depth"].shape == (16, 1, 32, 32) and batch["hand_depth"].dtype == torch.float32
    assert torch.equal(batch["success"], torch.from_numpy(att.success[att.rejection == 0][:16].astype(np.float32)))
    scenes = SceneDataset(reference, min_successes=1)
    loader = DataLoader(scenes, batch_size=4, collate_fn=collate_scenes)
    b = next(iter(loader))
    assert b["depth"].shape[1:] == (1, 64, 64) and b["grasps"].shape[0] == len(scenes)
    assert torch.equal(b["grasp_mask"].sum(1).long(), torch.tensor([len(scenes[i]["grasps"]) for i in range(len(scenes))]))
    arrays = training_arrays(reference, shards=[0, 1])
    assert arrays["meta"]["dims"] == 4 and arrays["meta"]["observation"]["hand_width"] == 32
    assert len(arrays["success_object"]) == len(arrays["success_grasp"]) and len(arrays["hand_label"]) == len(arrays["hand_depth"])
    assert set(arrays["hand_object"].tolist()) <= {0, 1}
