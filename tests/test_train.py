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
from agents.proposals import neighbour_bins
from agents.recipe import RecipeArgs
from agents.train_planner import PlannerArgs, train_planner
from agents.train_utils import load_data, pad_grasps

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]


def cli(*args, cwd=REPO):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", "import sys; from grasp_envs.cli import main; sys.exit(main())", *args],
                          cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def test_recipe_steps_as_subprocesses(tmp_path):
    data, round1, run = tmp_path / "data", tmp_path / "round1", tmp_path / "run"
    r = cli("generate", "--num-objects", "3", "--attempts", "300", "--scenes-per-shard", "2", "--out", str(data),
            "--no-progress")
    assert r.returncode == 0, r.stderr
    d = load_data(str(data))
    assert len(d["depth"]) == 3 and d["depth"].shape[1:] == (1, 64, 64)
    assert d["hand_depth"].shape[1:] == (32, 32) and len(d["hand_label"]) == len(d["hand_object"])
    assert len(d["negative_grasp"]) + len(d["success_grasp"]) == 900 and d["negative_rejected"].mean() > 0.5
    # Every stored success can be replayed: the same scene and grasp succeed again.
    assert len(d["success_grasp"]) > 0  # 900 uniform grasps hold a few successes
    from grasp_envs.dataset import GraspDataset

    scenes = GraspDataset(data).read_scenes()
    e = gym.make("grasp_envs/GraspRandom4D-v0", split="train")
    j = int(d["success_object"][0])
    e.reset(seed=int(scenes.reset_seed[j]), options={"object_seed": int(scenes.object_seed[j])})
    assert e.unwrapped.evaluate_grasps(d["success_grasp"][:1]).success[0]
    r = cli("train", "planner", "--data", str(data), "--out", str(run), "--epochs", "1", "--embed", "16",
            "--head-hidden", "8", "--channels", "4", "4", "4", "4", "--val-fraction", "0", "--negatives", "1")
    assert r.returncode == 0, r.stderr
    planner = load_checkpoint(run / "planner", kind="planner")
    assert planner.config.embed == 16 and planner.checkpoint_meta["steps"] >= 1
    assert any((run / "tb").iterdir())  # TensorBoard event file
    r = cli("generate", "--num-objects", "2", "--attempts", "5", "--seed", "1", "--out", str(round1), "--no-progress",
            "--proposer", "agents.proposals:PlannerProposals",
            "--proposer-kwargs", json.dumps({"checkpoint": str(run / "planner"), "top_k": 6, "neighbours_of": 2}))
    assert r.returncode == 0, r.stderr
    att = GraspDataset(round1).read_attempts(images=False)
    assert (att.source == 0).sum() == 10 and (att.source == 1).sum() >= 12  # 6 beam + neighbours, per scene
    r = cli("train", "evaluator", "--data", f"{data},{round1}", "--out", str(run), "--epochs", "1",
            "--val-fraction", "0", "--proposal-repeat", "3")
    assert r.returncode == 0, r.stderr
    load_checkpoint(run / "evaluator", kind="evaluator")


def test_missing_data_names_the_command(tmp_path, capsys):
    from grasp_envs.cli import main

    assert main(["train", "planner", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert f"no grasp dataset (manifest.json) in {tmp_path / 'none'}; create it with `grasp-envs generate" in err


def test_args_are_validated():
    with pytest.raises(ValueError, match="val_fraction must be in"):
        PlannerArgs(val_fraction=1.5)
    with pytest.raises(ValueError, match="negatives must be >= 0"):
        PlannerArgs(negatives=-1)
    with pytest.raises(ValueError, match="rounds must be >= 0"):
        RecipeArgs(rounds=-1)


def test_neighbour_bins():
    g = np.array([[0, 5, 19, 19]])
    n = neighbour_bins(g, 20, radius=1)
    # x can only go up from 0, z only down from 19, yaw wraps: 1 + 2 + 1 + 2 neighbours.
    assert len(n) == 6 and not any((row == g[0]).all() for row in n)
    assert [0, 5, 19, 0] in n.tolist() and [1, 5, 19, 19] in n.tolist() and [0, 5, 18, 19] in n.tolist()
    assert len(neighbour_bins(np.array([[5, 5, 5, 5], [5, 5, 5, 6]]), 20)) == 2 * 8 - 2  # shared ones once, inputs dropped


def test_negative_share_is_the_negatives_share_of_the_mass_and_descends():
    from agents.train_planner import negative_share

    g = torch.Generator().manual_seed(0)
    lp_pos, lp_neg = -5 - 3 * torch.rand(3, 4, generator=g), -5 - 3 * torch.rand(3, 6, generator=g)
    pm = torch.tensor([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.float32)
    nm = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0]], dtype=torch.float32)
    P = (lp_pos.exp() * pm).sum(1)
    N = (lp_neg.exp() * nm).sum(1)
    want = -torch.log(P / (P + N))[:2].mean()  # the third object has no positives: left out
    assert torch.allclose(negative_share(lp_pos, pm, lp_neg, nm), want, atol=1e-5)
    # One gradient step on the term lowers the negatives' probability and raises the positives'.
    lp_pos.requires_grad_(True)
    lp_neg.requires_grad_(True)
    negative_share(lp_pos, pm, lp_neg, nm).backward()
    both = torch.tensor([1.0, 1.0, 0.0])[:, None]  # objects with positives and negatives
    assert (lp_neg.grad[(nm * both) > 0] > 0).all() and (lp_pos.grad[pm > 0] < 0).all()
    assert (lp_neg.grad[(nm * both) == 0] == 0).all() and (lp_pos.grad[pm == 0] == 0).all()


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


def test_one_command_recipe_end_to_end(tmp_path):
    """`grasp-envs train recipe` with a tiny budget: uniform labels in two processes, round 0, one
    on-policy round, the evaluator, the four agents on the same seeded test scenes, results.json."""
    r = cli("train", "recipe", "--out", str(tmp_path / "run"), "--objects", "3", "--attempts", "200",
            "--round-objects", "2", "--round-uniform", "5", "--planner-epochs", "1", "--round-epochs", "1",
            "--evaluator-epochs", "1", "--episodes", "2", "--workers", "2")
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "run" / "results.json").read_text())
    assert [row["agent"] for row in summary["results"]] == ["random", "centroid", "planner", "full"]
    assert all(row["episodes"] == 2 for row in summary["results"])
    assert [s["step"] for s in summary["steps"]] == ["label uniform", "planner round 0", "label proposals round 1",
                                                      "planner round 1", "evaluator", "evaluate"]
    assert summary["planner"].endswith("round1/planner")
    load_checkpoint(tmp_path / "run" / "round1" / "planner", kind="planner")
    load_checkpoint(tmp_path / "run" / "evaluator", kind="evaluator")


@pytest.mark.parametrize("module", ["agents.train_planner", "agents.train_evaluator", "agents.recipe"])
def test_training_scripts_print_their_help(module):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "--seed" in out.stdout and "5%" in out.stdout or module == "agents.recipe"


def test_spread_proposals_are_distinct():
    from agents.proposals import PlannerProposals
    from grasp_envs.grid import GraspGrid

    env = gym.make("grasp_envs/GraspRandom4D-v1", split="train")
    obs, _ = env.reset(seed=7)
    env.close()
    plain = PlannerProposals(top_k=20, neighbours_of=0)(obs)
    spread = PlannerProposals(top_k=20, neighbours_of=0, spread=1)(obs)
    d = GraspGrid(4).bin_distance(spread, spread)
    assert len(spread) == 20 and np.all(d[~np.eye(20, dtype=bool)] > 1)
    assert (GraspGrid(4).bin_distance(plain, plain)[~np.eye(20, dtype=bool)] <= 1).any()  # the beam clusters
    with pytest.raises(ValueError, match="spread"):
        PlannerProposals(top_k=20, spread=1, spread_beam=10)
