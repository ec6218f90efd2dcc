"""Frozen benchmark tasks and ``grasp-envs evaluate`` (real MuJoCo rollouts on a few scenes)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from benchmarks import evaluate as ev
from benchmarks.tasks import (
    TASKS, BenchmarkTask, TaskChangedError, TaskUnavailableError, get_task, object_digest, object_list_checksum,
)
from grasp_envs.envs.random_objects import TEST_SEEDS, TRAIN_SEEDS
from grasp_envs.objects import GraspObject, generate_random_object


class EchoSeedAgent:
    """Test agent: remembers its constructor kwargs and reset seeds; grasps a fixed bin."""

    def __init__(self, env=None, *, tag: str = "", bins: int = 10) -> None:
        self.tag = tag
        self.dims = env.action_space.shape[0]
        self.bins = bins
        self.resets: list[int] = []

    def reset(self, seed=None) -> None:
        self.resets.append(seed)

    def act(self, observation):
        return np.full(self.dims, self.bins, dtype=np.int64)


class FloatAgent:
    def __init__(self, env=None) -> None:
        self.dims = env.action_space.shape[0]

    def act(self, observation):
        return np.full(self.dims, 3.5)


def tiny_task(**changes) -> BenchmarkTask:
    base = dict(name="random-4d-tiny-v0", env_id="grasp_envs/GraspRandom4D-v0", env_kwargs={"dims": 4, "split": "test"},
                object_set="random", split="test", scene_entropy=42, n_scenes=3, seeds=(0, 1))
    base.update(changes)
    return BenchmarkTask(**base)


# ---------------------------------------------------------------------- tasks
@pytest.mark.parametrize("name", [n for n, t in TASKS.items() if t.env_id.startswith("grasp_envs/GraspRandom")])
def test_random_tasks_match_their_frozen_fingerprints(name):
    task = TASKS[name]
    assert task.fingerprint is not None and task.object_checksum is not None
    scenes = task.verify()
    assert task.compute_fingerprint(scenes) == task.fingerprint
    assert len(scenes) == 300 and task.seeds == (0, 1, 2)
    lo, hi = TRAIN_SEEDS if task.split == "train" else TEST_SEEDS
    seeds = [s.object_seed for s in scenes]
    assert len(set(seeds)) == 300 and all(lo <= k < hi for k in seeds)
    assert [s.index for s in scenes] == list(range(300))


def test_twins_share_scenes_and_splits_are_disjoint():
    t4, t6 = get_task("random-4d-test-v0"), get_task("random-6d-test-v0")
    assert t4.scenes() == t6.scenes()
    train = {s.object_seed for s in get_task("random-4d-train-v0").scenes()}
    test = {s.object_seed for s in t4.scenes()}
    assert not train & test


def test_v1_tasks_reorient_the_same_objects_per_seed():
    for dims in (4, 6):
        for split in ("train", "test"):
            v0, v1 = get_task(f"random-{dims}d-{split}-v0"), get_task(f"random-{dims}d-{split}-v1")
            assert not v0.per_seed_resets and v1.per_seed_resets
            assert v1.object_checksum == v0.object_checksum  # the same objects, in the same order
            base = v1.scenes()
            assert [s.object_seed for s in base] == [s.object_seed for s in v0.scenes()]
            per_seed = [v1.seed_scenes(seed, base) for seed in v1.seeds]
            assert per_seed[0] == base
            for a, b in zip(per_seed, per_seed[1:]):
                assert [s.object_seed for s in a] == [s.object_seed for s in b]
                assert all(x.reset_seed != y.reset_seed for x, y in zip(a, b))
            assert all(v0.seed_scenes(seed) == v0.scenes() for seed in v0.seeds)  # v0 replays its scenes
    assert len(get_task("random-4d-test-v1").episodes()) == 900
    v1 = get_task("random-4d-test-v1")
    with pytest.raises(TaskChangedError, match="frozen fingerprint"):  # the fingerprint covers every seed's resets
        dataclasses.replace(v1, per_seed_resets=False).verify()
    with pytest.raises(ValueError, match=r"seed 7 is not a seed of task random-4d-test-v1"):
        v1.seed_scenes(7)


def test_deterministic_agent_meets_different_scenes_per_seed():
    replay, fresh = tiny_task(n_scenes=2), tiny_task(n_scenes=2, per_seed_resets=True)
    agent = "test_benchmarks:EchoSeedAgent"
    for task in (replay, fresh):
        res = ev.evaluate(task, agent, {"bins": 9}, progress=False)
        by_seed = {seed: [e for e in res["episodes"] if e["seed"] == seed] for seed in task.seeds}
        a, b = by_seed[0], by_seed[1]
        assert [e["object_digest"] for e in a] == [e["object_digest"] for e in b]  # the same objects
        assert [e["actions"] for e in a] == [e["actions"] for e in b]  # and the same grasp bins
        if task is replay:
            assert [e["reset_seed"] for e in a] == [e["reset_seed"] for e in b]
            assert [e["lift_height"] for e in a] == [e["lift_height"] for e in b]  # three copies of one run
        else:
            assert all(x["reset_seed"] != y["reset_seed"] for x, y in zip(a, b))
    env = fresh.make_env()
    obs = [env.reset(seed=sc.reset_seed, options={"object_seed": sc.object_seed})[0]["depth"]
           for sc in (fresh.seed_scenes(0)[0], fresh.seed_scenes(1)[0])]
    env.close()
    assert not np.array_equal(obs[0], obs[1])  # the agent sees a different scene


def test_summary_interval_is_clustered_by_object():
    # a deterministic agent on a replay task: every object three times with the same outcome
    episodes = [{"seed": s, "object": f"o{i}", "success": i < 12, "decision_s": [0.01], "rejection": None}
                for s in (0, 1, 2) for i in range(30)]
    s = ev.summarize(episodes)
    assert s["ci95_wilson"] == list(ev.wilson_interval(36, 90))
    assert s["ci95"][0] < s["ci95_wilson"][0] and s["ci95"][1] > s["ci95_wilson"][1]
    assert s["effective_episodes"] < 30
    distinct = [dict(e, object=f"o{e['seed']}-{e['object']}") for e in episodes]
    d = ev.summarize(distinct)
    assert d["ci95"] == d["ci95_wilson"] and d["effective_episodes"] == 90


def test_small_object_sets_are_used_round_robin():
    task = tiny_task(n_scenes=300)
    scenes = task.scenes(seed_range=(0, 52))
    counts = np.bincount([s.object_seed for s in scenes], minlength=52)
    assert counts.min() == 300 // 52 and counts.max() == 300 // 52 + 1
    assert len({s.reset_seed for s in scenes}) == 300


def test_editing_a_frozen_task_is_refused():
    task = get_task("random-4d-test-v0")
    edited = dataclasses.replace(task, scene_entropy=task.scene_entropy + 1)
    with pytest.raises(TaskChangedError, match=r"define 'random-4d-test-v3' instead"):
        edited.verify()
    with pytest.raises(TaskChangedError, match="objects changed"):
        task.check_object_checksum(["0" * 64] * 300)


def test_unregistered_env_validates_lazily():
    task = tiny_task(name="widgets-4d-v0", env_id="grasp_envs/GraspWidgets4D-v0", env_kwargs={"dims": 4})
    assert not task.available
    with pytest.raises(TaskUnavailableError, match=r"needs env 'grasp_envs/GraspWidgets4D-v0', which is not registered"):
        task.scenes()


@pytest.mark.parametrize("changes, message", [
    ({"name": "Random_4D"}, "must look like 'family-name-v0'"),
    ({"env_kwargs": {"dims": 4, "split": "test", "bad": {1, 2}}}, "JSON-serialisable"),
    ({"env_kwargs": {"dims": 4, "split": "train"}}, "disagrees with split 'test'"),
    ({"seeds": (0, 0)}, "distinct non-negative ints"),
    ({"n_scenes": 0}, "n_scenes must be at least 1"),
    ({"fingerprint": "abc"}, "sha256 hex string"),
])
def test_task_validation_errors(changes, message):
    with pytest.raises(ValueError, match=message):
        tiny_task(**changes)


def test_get_task_suggests_names_and_versions():
    with pytest.raises(ValueError, match=r"Did you mean 'random-4d-test-v0'"):
        get_task("random-4d-tset-v0")
    with pytest.raises(ValueError, match=r"has no version 7; available: random-4d-test-v0"):
        get_task("random-4d-test-v7")


def test_object_digest_tracks_content():
    a, b = generate_random_object(1_000_000_123), generate_random_object(1_000_000_123)
    assert object_digest(a) == object_digest(b)
    heavier = GraspObject(a.name, a.parts, a.mass * 1.01, a.friction, a.source, a.seed)
    assert object_digest(heavier) != object_digest(a)
    moved = GraspObject(a.name, tuple(p + 1e-4 for p in a.parts), a.mass, a.friction, a.source, a.seed)
    assert object_digest(moved) != object_digest(a)
    with pytest.raises(ValueError, match="not a sha256"):
        object_list_checksum(["xyz"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["random-4d-train-v0", "random-4d-test-v0", "random-4d-train-v1", "random-4d-test-v1",
                                  "random-4d-train-v2", "random-4d-test-v2", "random-4d-trained-v1"])
def test_random_task_objects_match_frozen_checksum(name):
    task = get_task(name)
    assert task.check_object_checksum(task.object_digests(progress=False)) == task.object_checksum


# ---------------------------------------------------------------------- evaluate
def test_evaluate_records_are_complete_and_reproducible():
    task = tiny_task()
    a = ev.evaluate(task, "random", progress=False)
    b = ev.evaluate(task, "random", progress=False)
    strip = lambda eps: [{k: v for k, v in e.items() if k != "decision_s"} for e in eps]  # noqa: E731
    assert strip(a["episodes"]) == strip(b["episodes"])
    assert a["schema"] == ev.SCHEMA and a["schema_version"] == ev.SCHEMA_VERSION
    assert not a["partial"] and len(a["episodes"]) == 6
    scenes = task.scenes()
    for e in a["episodes"]:
        sc = scenes[e["scene"]]
        assert (e["reset_seed"], e["object_seed"]) == (sc.reset_seed, sc.object_seed)
        assert e["object"] == f"random-{sc.object_seed}"
        assert len(e["actions"]) == 1 and len(e["actions"][0]) == 4 and all(0 <= x < 20 for x in e["actions"][0])
        assert e["success"] == (e["outcome"] == "success")
        assert e["rejection"] in (None, "penetrates_table", "penetrates_object", "blocked_approach", "closes_on_air")
    # both seeds see the same objects; the random agent is reseeded per (seed, scene)
    assert [e["object_digest"] for e in a["episodes"][:3]] == [e["object_digest"] for e in a["episodes"][3:]]
    assert a["object_checksum"] == object_list_checksum([e["object_digest"] for e in a["episodes"][:3]])
    s = a["summary"]
    assert s["episodes"] == 6 and s["successes"] == sum(e["success"] for e in a["episodes"])
    assert s["ci95"][0] <= s["success"] <= s["ci95"][1]
    json.dumps(a, allow_nan=False)


def test_replaying_records_reproduces_outcomes():
    task = tiny_task(n_scenes=2, seeds=(0,))
    res = ev.evaluate(task, "centroid", progress=False)
    env = task.make_env()
    for e in res["episodes"]:
        env.reset(seed=e["reset_seed"], options={"object_seed": e["object_seed"]})
        _, _, _, _, info = env.step(np.array(e["actions"][0]))
        assert info["outcome"] == e["outcome"] and info["rejection"] == e["rejection"]
    env.close()


def test_seed_placeholder_and_agent_reset_seeds():
    runner = ev.EpisodeRunner(tiny_task(), "test_benchmarks:EchoSeedAgent", {"tag": "ckpt-s{seed}.pt", "bins": 9})
    scene = runner.task.scenes()[1]
    rec = runner.run(2, scene)
    agent = runner.agent(2)
    assert agent.tag == "ckpt-s2.pt" and agent.resets == [ev.agent_episode_seed(2, 1)]
    assert rec["actions"] == [[9, 9, 9, 9]] and rec["seed"] == 2 and rec["scene"] == 1
    assert ev.agent_episode_seed(0, 1) != ev.agent_episode_seed(1, 0)
    runner.close()


def test_parallel_workers_match_serial():
    task = tiny_task(n_scenes=2, seeds=(0,))
    serial = ev.rollout(task, "random", progress=False)
    parallel = ev.rollout(task, "random", workers=2, progress=False)
    key = lambda e: (e["seed"], e["scene"], e["actions"], e["outcome"], e["object_digest"])  # noqa: E731
    assert [key(e) for e in serial] == [key(e) for e in parallel]


def test_bad_agent_output_and_arguments_are_explained():
    task = tiny_task(n_scenes=1, seeds=(0,))
    with pytest.raises(ValueError, match=r"returned action .* expected integer bins of shape \(4,\)"):
        ev.evaluate(task, "test_benchmarks:FloatAgent", progress=False)
    with pytest.raises(ValueError, match="--agent-kwargs is not valid JSON"):
        ev.parse_agent_kwargs("{seed: 1}")
    with pytest.raises(ValueError, match="must be a JSON object"):
        ev.parse_agent_kwargs("[1]")
    with pytest.raises(ValueError, match=r"seeds \[5\] are not seeds of task"):
        ev.rollout(task, "random", seeds=(5,), progress=False)
    with pytest.raises(ValueError, match=r"--scenes must be in \[1, 1\]"):
        ev.rollout(task, "random", n_scenes=4, progress=False)
    with pytest.raises(ValueError, match="unknown agent 'nosuch'"):
        ev.evaluate(task, "nosuch", progress=False)


def test_cli_evaluate_writes_results(tmp_path, capsys):
    from grasp_envs.cli import main

    out = tmp_path / "r.json"
    rc = main(["evaluate", "--agent", "centroid", "--task", "random-4d-test-v1", "--scenes", "2", "--seeds", "1",
               "--out", str(out), "--quiet", "--tag", "train_objects=100"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "partial run" in text and "95% CI" in text and "Wilson clustered by object" in text
    assert "decision time" in text and "per object" in text
    data = json.loads(out.read_text())
    assert data["partial"] is True and data["tags"] == {"train_objects": 100} and data["object_checksum"] is None
    assert data["task"]["fingerprint"] == get_task("random-4d-test-v1").fingerprint
    assert data["task"]["per_seed_resets"] is True
    assert [e["reset_seed"] for e in data["episodes"]] == [sc.reset_seed for sc in get_task("random-4d-test-v1").seed_scenes(1)[:2]]
    assert main(["evaluate", "--task", "random-4d-test-v0"]) == 1
    assert "--agent and --task are required" in capsys.readouterr().err
    assert main(["evaluate", "--list-tasks"]) == 0
    assert "ycb-4d-v0" in capsys.readouterr().out


# ---------------------------------------------------------------------- paper reproduction
class RandomProposer:
    """Test agent with the planner's ``propose`` interface: k distinct random grasps."""

    def __init__(self, env=None, seed: int = 0) -> None:
        self.nvec = np.asarray(env.action_space.nvec)
        self.rng = np.random.default_rng(seed)

    def propose(self, observation, k):
        return self.rng.integers(0, self.nvec, size=(k, len(self.nvec))), np.zeros(k)

    def act(self, observation):
        return self.propose(observation, 1)[0][0]


@pytest.fixture
def tiny_random_test(monkeypatch):
    """random-4d-test-v2 (the newest version, which the paper's tables use) shrunk to 2 scenes x 1 seed
    (not frozen), so real results stay cheap."""
    import benchmarks.tasks as bt

    task = tiny_task(name="random-4d-test-v2", env_id="grasp_envs/GraspRandom4D-v1", n_scenes=2, seeds=(0,),
                     per_seed_resets=True)
    monkeypatch.setitem(bt.TASKS, task.name, task)
    return task


def test_fig6_table_from_validated_results(tiny_random_test, tmp_path):
    from benchmarks import paper

    res = ev.evaluate(tiny_random_test, "random", progress=False)
    ev.write_results(res, tmp_path / "r.json")
    tagged = ev.evaluate(tiny_random_test, "centroid", progress=False, tags={"train_objects": 10, "train_set": "random"})
    ev.write_results(tagged, tmp_path / "t.json")
    partial = ev.evaluate(tiny_random_test, "centroid", n_scenes=1, progress=False)
    ev.write_results(partial, tmp_path / "p.json")
    results = paper.load_results(tmp_path)
    assert sorted(r["path"].name for r in results) == ["r.json", "t.json"]
    table = paper.fig6_table(results, 4)
    s = res["summary"]
    row = next(line for line in table.splitlines() if line.startswith("| Random |"))
    assert f"{s['seed_mean']:.2f} &plusmn; 0.00" in row and "(0.11)" in row
    centroid = next(line for line in table.splitlines() if line.startswith("| Centroid |"))
    assert centroid.split(" | ")[4].startswith("-")  # the train_objects-tagged run is not a Fig. 6 cell
    assert "grasp-envs evaluate --agent centroid --task random-4d-test-v2" in table
    out = tmp_path / "out"
    out.mkdir()
    written = paper.write_fig9(results, out)
    assert [p.name for p in written] == ["fig9.md", "fig9.png"] and "| random | random-4d-test-v2 | 10 |" in written[0].read_text()


def test_fig8_curve_from_simulated_proposals(tmp_path, monkeypatch):
    import benchmarks.tasks as bt
    from benchmarks import paper

    task = tiny_task(n_scenes=2, seeds=(0,))
    monkeypatch.setitem(bt.TASKS, task.name, task)
    data = paper.topn_records(task.name, "test_benchmarks:RandomProposer", k=5, progress=False)
    assert [r["scene"] for r in data["records"]] == [0, 1]
    curve = paper.topn_curve(data["records"], 5)
    assert len(curve) == 5 and all(a <= b for a, b in zip(curve, curve[1:]))
    assert curve[-1] == np.mean([any(r["success"]) for r in data["records"]])
    assert curve[0] == np.mean([r["success"][0] for r in data["records"]])
    assert paper.topn_curve([{"success": [False, True]}, {"success": [True, False]}], 2) == [0.5, 1.0]
    written = paper.write_fig8(data, tmp_path)
    assert all(p.exists() for p in written) and "| fraction |" in (tmp_path / f"fig8_{task.name}.md").read_text()
    with pytest.raises(ValueError, match="has no propose"):
        paper.topn_records(task.name, "random", k=2, n_scenes=1, progress=False)


def test_learned_agents_benchmark_records_what_it_reports(tmp_path, capsys):
    """One scene: every agent row, both proposers' top 20 with outcomes, and the uniform ceiling."""
    from benchmarks import learned_agents

    out = tmp_path / "la.json"
    assert learned_agents.main(["--task", "random-4d-test-v0", "--scenes", "1", "--uniform", "30",
                                "--variants", *learned_agents.VARIANTS, "--out", str(out)]) == 0
    d = json.loads(out.read_text())
    (rec,) = d["records"]
    assert set(rec["success"]) == set(learned_agents.VARIANTS)
    for b in ("beam", "beam/no-prune", "beam+d8", "beam/no-spread"):  # spread (the default) may leave fewer
        assert 0 < len(rec[b]) == len(rec[f"{b}_success"]) == len(rec[f"{b}_evaluator"]) <= 20
    assert len(rec["beam/no-spread"]) == 20
    for b in ("beam/no-prune",):  # unpruned proposals are in the planner's order
        assert all(a >= b_ for a, b_ in zip(rec[f"{b}_log_prob"], rec[f"{b}_log_prob"][1:]))
    # Pruned proposals: the feasible ones first, each group in the planner's order.
    f = rec["beam_feasible"]
    assert f == sorted(f, reverse=True)
    # The planner's pick is its beam's first grasp, so their outcomes agree.
    assert rec["actions"]["planner"] == rec["beam"][0] and rec["success"]["planner"] == rec["beam_success"][0]
    assert rec["graspable"] == (any(rec["success"].values()) or any(rec["beam_success"])
                                or any(rec["beam+d8_success"]) or rec["uniform_successes"] > 0)
    assert d["summary"]["graspable"]["uniform"] == 30
    assert "top-20 beam+d8 holds a success" in capsys.readouterr().out


def test_graspable_benchmark_stops_at_a_first_success_that_replays(tmp_path):
    from benchmarks import graspable

    out = tmp_path / "g.json"
    assert graspable.main(["--task", "random-4d-test-v0", "--scenes", "2", "--budget", "300", "--batch", "50",
                           "--out", str(out)]) == 0
    d = json.loads(out.read_text())
    task = get_task("random-4d-test-v0")
    env = task.make_env()
    for rec, scene in zip(d["records"], task.scenes()):
        assert rec["tried"] <= 300 and rec["tried"] % 50 == 0
        if rec["first_success"] is None:
            assert rec["tried"] == 300
            continue
        k = rec["first_success"]
        assert rec["tried"] == 50 * -(-k // 50)  # stopped after the batch holding the success
        grasps = np.random.default_rng([scene.index, 0x6A5B]).integers(0, 20, (rec["tried"], 4))
        env.reset(seed=scene.reset_seed, options={"object_seed": scene.object_seed})
        ok = env.unwrapped.evaluate_grasps(grasps[:k]).success
        assert ok[k - 1] and not ok[: k - 1].any()
    env.close()
    assert d["summary"]["graspable"] == sum(r["first_success"] is not None for r in d["records"]) / 2
