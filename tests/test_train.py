"""Training recipes smoke-tested as subprocesses with tiny budgets, and the SB3 adapter with a PPO run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import grasp_envs  # noqa: F401
from agents import Agent, load_agent
from agents.checkpoint import load_checkpoint
from agents.sb3 import SB3Agent
from agents.train import GenerateArgs, PlannerArgs, load_data, pad_grasps

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]


def cli(*args, cwd=REPO):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", "import sys; from grasp_envs.cli import main; sys.exit(main())", *args],
                          cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def test_recipe_steps_as_subprocesses(tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    r = cli("train", "generate", "--out", str(data), "--objects", "3", "--candidates", "300", "--shard-objects", "2")
    assert r.returncode == 0, r.stderr
    # A run killed mid-write leaves a partial temporary shard; readers skip it.
    (data / "grasps-000000000-00002.npz.tmp.npz").write_bytes(b"PK\x03\x04 truncated")
    d = load_data(str(data))
    assert len(d["depth"]) == 3 and d["depth"].shape[1:] == (1, 64, 64)
    assert list(d["scene_seed"]) == [0, 1, 2]
    assert d["hand_depth"].shape[1:] == (32, 32) and len(d["hand_label"]) == len(d["hand_object"])
    # Every stored success can be replayed: the same scene and grasp succeed again.
    assert len(d["success_grasp"]) > 0  # seeded scenes 0-2: 900 uniform grasps hold a few successes
    e = gym.make("grasp_envs/GraspRandom4D-v0", split="train")
    j = int(d["success_object"][0])
    e.reset(seed=int(d["scene_seed"][j]))
    assert e.unwrapped.evaluate_grasps(d["success_grasp"][:1]).success[0]
    r = cli("train", "planner", "--data", str(data), "--out", str(run), "--epochs", "1", "--embed", "16",
            "--head-hidden", "8", "--channels", "4", "4", "4", "4", "--val-fraction", "0")
    assert r.returncode == 0, r.stderr
    planner = load_checkpoint(run / "planner", kind="planner")
    assert planner.config.embed == 16 and planner.checkpoint_meta["steps"] >= 1
    assert any((run / "tb").iterdir())  # TensorBoard event file
    r = cli("train", "evaluator", "--data", str(data), "--out", str(run), "--epochs", "1", "--val-fraction", "0",
            "--proposal-repeat", "3")
    assert r.returncode == 0, r.stderr
    load_checkpoint(run / "evaluator", kind="evaluator")


def test_missing_data_names_the_command(tmp_path, capsys):
    from grasp_envs.cli import main

    assert main(["train", "planner", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert f"no labelled data (manifest.json or grasps-*.npz) in {tmp_path / 'none'}; create it with `grasp-envs train generate" in err


def test_args_are_validated():
    with pytest.raises(ValueError, match="val_fraction must be in"):
        PlannerArgs(val_fraction=1.5)
    with pytest.raises(ValueError, match="objects and candidates must be positive"):
        GenerateArgs(objects=0)


def test_pad_grasps_masks_padding():
    g, m = pad_grasps([np.ones((2, 4), int), np.zeros((0, 4), int), np.full((5, 4), 3)], 4, 3, np.random.default_rng(0))
    assert g.shape == (3, 3, 4) and m.tolist() == [[1, 1, 0], [0, 0, 0], [1, 1, 1]]


def test_sb3_ppo_smoke_and_adapter(tmp_path):
    from stable_baselines3 import PPO

    env = gym.make("grasp_envs/GraspRandom4D-v0")
    model = PPO("MultiInputPolicy", env, n_steps=8, batch_size=8, n_epochs=1, seed=0, device="cpu",
                policy_kwargs={"net_arch": [16]})
    model.learn(total_timesteps=8)
    assert model.num_timesteps >= 8
    agent = SB3Agent(model, env)
    assert isinstance(agent, Agent)
    obs, _ = env.reset(seed=0)
    a = agent.act(obs)
    assert env.action_space.contains(a)
    model.save(tmp_path / "ppo.zip")
    loaded = load_agent("agents.sb3:SB3Agent", env, json.dumps({"path": str(tmp_path / "ppo.zip")}))
    assert np.array_equal(loaded.act(obs), a)
    with pytest.raises(ValueError, match="exactly one of model=... or path="):
        SB3Agent()
    e6 = gym.make("grasp_envs/GraspRandom6D-v0")
    with pytest.raises(ValueError, match="the model acts in MultiDiscrete"):
        SB3Agent(model, e6)


def test_planner_trains_on_a_grasp_envs_generate_dataset(tmp_path):
    """The recipe reads datasets of `grasp-envs generate` (Parquet shards) through agents.data."""
    from agents.train import train_planner
    from grasp_envs.cli import main

    ds = tmp_path / "ds"
    assert main(["generate", "--objects", "random", "--num-objects", "2", "--attempts", "150", "--out", str(ds),
                 "--no-progress"]) == 0
    d = load_data(str(ds))
    assert d["meta"]["dims"] == 4 and len(d["depth"]) == 2
    assert d["success_grasp"].shape[1] == 4 and len(d["hand_label"]) == len(d["hand_depth"])
    stem = train_planner(PlannerArgs(data=str(ds), out=str(tmp_path / "run"), epochs=1, embed=16, head_hidden=8,
                                     channels=(4, 4, 4, 4), val_fraction=0.0), progress=False)
    assert load_checkpoint(stem, kind="planner").checkpoint_meta["data_meta"]["dataset"] == str(ds)


def test_parallel_labelling_reads_back_the_same_data(tmp_path):
    """Two processes over seed blocks give the arrays one process gives, in the same order."""
    from agents.train import generate

    one = generate(GenerateArgs(out=str(tmp_path / "one"), objects=3, candidates=40, seed=7), progress=False)
    two = generate(GenerateArgs(out=str(tmp_path / "two"), objects=3, candidates=40, seed=7, workers=2), progress=False)
    assert len(list(two.glob("grasps-*.npz"))) == 2  # one shard per block: seeds 7-8 and 9
    a, b = load_data(str(one)), load_data(str(two))
    for k in a:
        if k != "meta":
            assert np.array_equal(a[k], b[k]), k
    with pytest.raises(ValueError, match="workers must be at least 1"):
        GenerateArgs(workers=0)


def test_one_command_recipe_end_to_end(tmp_path):
    """`grasp-envs train recipe` with a tiny budget: labels in two processes, trains both models,
    evaluates the four agents on the same seeded test scenes and writes results.json."""
    r = cli("train", "recipe", "--out", str(tmp_path / "run"), "--objects", "4", "--candidates", "200",
            "--evaluator-objects", "2", "--planner-epochs", "1", "--evaluator-epochs", "1", "--episodes", "2",
            "--workers", "2")
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "run" / "results.json").read_text())
    assert [row["agent"] for row in summary["results"]] == ["random", "centroid", "planner", "full"]
    assert all(row["episodes"] == 2 for row in summary["results"])
    assert summary["expected"]["full"] > summary["expected"]["centroid"]
    assert len(list((tmp_path / "run" / "data").glob("grasps-*.npz"))) == 2  # one shard per worker block
    load_checkpoint(tmp_path / "run" / "planner", kind="planner")
    load_checkpoint(tmp_path / "run" / "evaluator", kind="evaluator")
