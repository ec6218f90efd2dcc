"""The evaluator, checkpoints (round trip and clear errors), and the planner / full agents on the env."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

import grasp_envs  # noqa: F401
from agents import BUILTIN_AGENTS, Agent, load_agent
from agents.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, shipped
from agents.evaluator import EvaluatorConfig, GraspEvaluator
from agents.full import FullAgent, PlannerAgent
from agents.planner import GraspPlanner, PlannerConfig

torch.set_num_threads(1)

SMALL = dict(channels=(8, 8, 8, 8), embed=32, head_hidden=16)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    save_checkpoint(GraspPlanner(PlannerConfig(**SMALL)), d / "planner", {"note": "test"})
    save_checkpoint(GraspEvaluator(EvaluatorConfig(channels=(8, 8), hidden=8)), d / "evaluator")
    return d


def test_evaluator_outputs_probabilities_and_learns_from_simulated_attempts(env):
    """BCE on hand images of simulated attempts falls: successes vs grasps that close on air or collide."""
    base = env.unwrapped
    imgs, labels = [], []
    rng = np.random.default_rng(0)
    for seed in range(4):
        env.reset(seed=seed)
        cand = rng.integers(0, 20, (150, 4))
        ok = base.evaluate_grasps(cand).success
        pick = np.concatenate([np.flatnonzero(ok), np.flatnonzero(~ok)[:10]])
        imgs.append(base.hand_camera_images(cand[pick]))
        labels.append(ok[pick])
    x = torch.from_numpy(np.concatenate(imgs))
    y = torch.from_numpy(np.concatenate(labels).astype(np.float32))
    assert 0 < y.sum() < len(y)
    torch.manual_seed(0)
    ev = GraspEvaluator(EvaluatorConfig(channels=(8, 16), hidden=16))
    p = ev.success_probability(x)
    assert p.shape == (len(x),) and torch.all((p > 0) & (p < 1))
    opt = torch.optim.Adam(ev.parameters(), lr=3e-3)
    first = torch.nn.functional.binary_cross_entropy_with_logits(ev(x), y).item()
    for _ in range(80):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(ev(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_evaluator_refuses_wrong_image_size():
    ev = GraspEvaluator()
    with pytest.raises(ValueError, match=r"hand images must be 32 x 32 \(the evaluator's training size\), got \(16, 16\)"):
        ev(torch.zeros(2, 16, 16))


# ---------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip(ckpts):
    p = load_checkpoint(ckpts / "planner", kind="planner")
    q = load_checkpoint(ckpts / "planner.pt")
    for (k, a), (_, b) in zip(p.state_dict().items(), q.state_dict().items()):
        assert torch.equal(a, b), k
    assert p.config == PlannerConfig(**SMALL)
    assert p.checkpoint_meta == {"note": "test"}
    assert not p.training


def test_checkpoint_errors(ckpts, tmp_path):
    with pytest.raises(CheckpointError, match="holds a planner, but a evaluator was asked for"):
        load_checkpoint(ckpts / "planner", kind="evaluator")
    with pytest.raises(CheckpointError, match=r"does not exist; train one with `grasp-envs train"):
        load_checkpoint(tmp_path / "nothing")
    # Truncated weights.
    (tmp_path / "cut.json").write_text((ckpts / "planner.json").read_text())
    data = (ckpts / "planner.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="are truncated or corrupt"):
        load_checkpoint(tmp_path / "cut")
    # Truncated config.
    (tmp_path / "badjson.json").write_text((ckpts / "planner.json").read_text()[:40])
    with pytest.raises(CheckpointError, match="is not valid JSON .* truncated or corrupt"):
        load_checkpoint(tmp_path / "badjson")
    # Weights from another architecture.
    doc = json.loads((ckpts / "planner.json").read_text())
    doc["config"]["embed"] = 64
    (tmp_path / "mismatch.json").write_text(json.dumps(doc))
    (tmp_path / "mismatch.pt").write_bytes(data)
    with pytest.raises(CheckpointError, match="do not match the config .* different runs"):
        load_checkpoint(tmp_path / "mismatch")
    # A pickle with code is refused by weights_only loading.
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    (tmp_path / "evil.json").write_text((ckpts / "planner.json").read_text())
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(tmp_path / "evil")


# ---------------------------------------------------------------- agents
def test_planner_and_full_agents_act_on_the_env(env, ckpts):
    pa = PlannerAgent(env, checkpoint=ckpts / "planner")
    fa = FullAgent(env, checkpoint=ckpts / "planner", evaluator=ckpts / "evaluator", k=20)
    assert isinstance(pa, Agent) and isinstance(fa, Agent)
    obs, _ = env.reset(seed=5)
    a = pa.act(obs)
    assert env.action_space.contains(a)
    assert np.array_equal(a, pa.last_candidates[0])
    b = fa.act(obs)
    assert env.action_space.contains(b)
    assert fa.last_scores.shape == (20,)
    assert any(np.array_equal(b, c) for c in fa.last_candidates)
    assert np.array_equal(b, fa.last_candidates[int(np.argmax(fa.last_scores))])
    env.step(b)


def test_agent_refuses_mismatched_env(ckpts):
    e6 = gym.make("grasp_envs/GraspRandom6D-v0")
    with pytest.raises(ValueError, match="trained for 4-D grasps but the env is 6-D"):
        PlannerAgent(e6, checkpoint=ckpts / "planner")
    e = gym.make("grasp_envs/GraspRandom4D-v0", observation={"width": 32, "height": 32})
    with pytest.raises(ValueError, match=r"trained on observations with width=64 but the env has width=32"):
        PlannerAgent(e, checkpoint=ckpts / "planner")
    with pytest.raises(ValueError, match="FullAgent needs interface="):
        FullAgent(None, checkpoint=ckpts / "planner")


def test_shipped_checkpoints_load_through_load_agent(env):
    assert BUILTIN_AGENTS["planner"] == "agents.full:PlannerAgent"
    assert BUILTIN_AGENTS["full"] == "agents.full:FullAgent"
    for name in ("planner_4d", "evaluator_4d", "planner_6d", "evaluator_6d"):
        stem = shipped(name)
        size = stem.with_suffix(".pt").stat().st_size
        assert size < 8 * 2**20, f"{name} is {size / 2**20:.1f} MB; keep shipped checkpoints a few MB"
    agent = load_agent("full", env)
    obs, _ = env.reset(seed=1)
    assert env.action_space.contains(agent.act(obs))
    assert env.action_space.contains(load_agent("planner", env).act(obs))
    env6 = gym.make("grasp_envs/GraspRandom6D-v0")
    obs6, _ = env6.reset(seed=1)
    full6 = load_agent("full", env6)
    assert full6.planner.config.dims == 6 and env6.action_space.contains(full6.act(obs6))
    env6.close()
    with pytest.raises(CheckpointError, match="no shipped checkpoint 'planner_5d'"):
        shipped("planner_5d")


def test_evaluator_with_grasp_inputs_starts_from_the_image_only_one():
    import torch

    from agents.evaluator import EvaluatorConfig, GraspEvaluator

    base = GraspEvaluator(EvaluatorConfig(channels=(4, 4, 4), hidden=8))
    wide = base.widened(4)
    imgs = torch.rand(5, 32, 32) * 0.3
    grasp, bbox = torch.randint(0, 20, (5, 4)), torch.tensor([-0.05, -0.05, 0.0, 0.05, 0.05, 0.1])
    assert torch.allclose(base(imgs), wide(imgs, grasp, bbox), atol=1e-6)
    with pytest.raises(ValueError, match="reads the grasp's own parameters"):
        wide(imgs)
    with torch.no_grad():
        wide.head[0].weight[:, -7:] = 1.0  # now the parameters matter
    assert not torch.allclose(wide(imgs, grasp, bbox), wide(imgs, (grasp + 5) % 20, bbox))


def test_half_precision_checkpoint_is_half_the_size_and_loads_as_float32(tmp_path):
    from agents.planner import GraspPlanner, PlannerConfig

    model = GraspPlanner(PlannerConfig())  # big enough that the weights, not the container, dominate
    save_checkpoint(model, tmp_path / "full")
    save_checkpoint(model, tmp_path / "half", half=True)
    size = lambda stem: (tmp_path / f"{stem}.pt").stat().st_size
    assert size("half") < 0.6 * size("full")
    back = load_checkpoint(tmp_path / "half", kind="planner")
    for (k, a), b in zip(model.state_dict().items(), back.state_dict().values()):
        assert b.dtype == torch.float32 and torch.allclose(a, b, rtol=1e-3, atol=1e-4), k
    assert json.loads((tmp_path / "half.json").read_text())["weights_dtype"] == "float16"
