"""Leaderboard: validation of real results files, recomputation, replay, ranking, no unpickling."""

from __future__ import annotations

import copy
import json
import pickle
import re

import pytest

from benchmarks import evaluate as ev
from benchmarks import leaderboard as lb
from benchmarks import tasks as bt

TINY = "random-4d-tiny-v0"


def _tiny() -> bt.BenchmarkTask:
    return bt.BenchmarkTask(name=TINY, env_id="grasp_envs/GraspRandom4D-v0", env_kwargs={"dims": 4, "split": "test"},
                            object_set="random", split="test", scene_entropy=7, n_scenes=3, seeds=(0, 1))


@pytest.fixture(scope="module")
def runs():
    """Real results of Random and Centroid on a 3-scene x 2-seed task (computed once)."""
    task = _tiny()
    return {"random": ev.evaluate(task, "random", progress=False),
            "centroid": ev.evaluate(task, "centroid", progress=False, label="Centroid")}


@pytest.fixture
def frozen(monkeypatch, runs):
    """The tiny task registered and frozen with the fingerprint and object checksum it really has."""
    task = _tiny()
    task = bt.BenchmarkTask(**{**task.__dict__, "fingerprint": task.compute_fingerprint(),
                               "object_checksum": runs["random"]["object_checksum"]})
    monkeypatch.setitem(bt.TASKS, TINY, task)
    return task


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_valid_submission_is_recomputed_not_trusted(frozen, runs, tmp_path):
    data = copy.deepcopy(runs["random"])
    data["summary"] = {"success": 1.0, "episodes": 6, "successes": 6}  # a lie: must be ignored
    write(tmp_path, "a.json", data)
    entries, rejected = lb.collect(tmp_path, replay_k=2)
    assert not rejected and len(entries) == 1
    s = entries[0].summary
    assert s["successes"] == sum(e["success"] for e in runs["random"]["episodes"]) and s["episodes"] == 6
    assert s["objects_verified"] and entries[0].flags == []
    assert s == {**ev.summarize(runs["random"]["episodes"]), "object_checksum": frozen.object_checksum,
                 "objects_verified": True}


def _mutate(data, how):
    e = data["episodes"]
    if how == "drop":
        e.pop()
    elif how == "dup":
        e[1] = copy.deepcopy(e[0])
    elif how == "seed":
        e[0]["seed"] = 9
    elif how == "reset_seed":
        e[0]["reset_seed"] += 1
    elif how == "action":
        e[0]["actions"] = [[0, 0, 0, 20]]
    elif how == "flip":
        e[0]["success"] = not e[0]["success"]
    elif how == "digest":
        e[0]["object_digest"] = e[3]["object_digest"] if e[3]["object_digest"] != e[0]["object_digest"] else "0" * 64
    elif how == "decision":
        e[0]["decision_s"] = [-1.0]
    elif how == "schema_version":
        data["schema_version"] = 99
    elif how == "partial":
        data["partial"] = True
    elif how == "fingerprint":
        data["task"]["fingerprint"] = "0" * 64
    elif how == "kwargs":
        data["task"]["env_kwargs"] = {"dims": 4, "split": "test", "max_attempts": 5}
    elif how == "task":
        data["task"]["name"] = "random-4d-tset-v0"
    elif how == "mode":
        data["observation_mode"] = "oracle"


@pytest.mark.parametrize("how, reason", [
    ("drop", "5 episodes, expected 6"),
    ("dup", "appears twice"),
    ("seed", "seed 9 is not a task seed"),
    ("reset_seed", "are not scene 0's"),
    ("action", r"is not 4 integer bins in \[0, 20\)"),
    ("flip", "inconsistent with success"),
    ("digest", "different objects in different seeds|object checksum"),
    ("decision", "non-negative number of seconds"),
    ("schema_version", "schema_version 99 is not supported"),
    ("partial", "partial run"),
    ("fingerprint", "the run used a modified task"),
    ("kwargs", "env_kwargs"),
    ("task", "Did you mean"),
    ("mode", "observation_mode 'oracle'"),
])
def test_invalid_submissions_are_rejected_with_reasons(frozen, runs, tmp_path, how, reason):
    data = copy.deepcopy(runs["random"])
    _mutate(data, how)
    write(tmp_path, "bad.json", data)
    entries, rejected = lb.collect(tmp_path)
    assert not entries and len(rejected) == 1
    assert re.search(reason, rejected[0][1]), rejected[0][1]


def test_changed_objects_are_rejected(frozen, runs, tmp_path, monkeypatch):
    monkeypatch.setitem(bt.TASKS, TINY, bt.BenchmarkTask(**{**frozen.__dict__, "object_checksum": "f" * 64}))
    write(tmp_path, "a.json", runs["random"])
    _, rejected = lb.collect(tmp_path)
    assert "the objects were generated or processed differently" in rejected[0][1]


def test_replay_catches_consistent_forgery(frozen, runs, tmp_path):
    data = copy.deepcopy(runs["centroid"])
    for e in data["episodes"]:  # claim success everywhere, consistently
        e["success"], e["outcome"], e["rejection"] = True, "success", None
    write(tmp_path, "forged.json", data)
    entries, rejected = lb.collect(tmp_path, replay_k=0)
    assert len(entries) == 1 and entries[0].summary["success"] == 1.0  # records alone cannot tell
    if all(e["success"] for e in runs["centroid"]["episodes"]):
        pytest.skip("every real episode succeeded; nothing to forge")
    entries, rejected = lb.collect(tmp_path, replay_k=6)
    assert not entries and "the records do not match the simulator" in rejected[0][1]


def test_ranking_flags_and_markdown(frozen, runs, tmp_path):
    priv = copy.deepcopy(runs["centroid"])
    priv["observation_mode"] = "privileged"
    priv["agent"]["label"] = "Centroid | privileged"
    write(tmp_path, "random.json", runs["random"])
    write(tmp_path, "centroid.json", runs["centroid"])
    write(tmp_path, "priv.json", priv)
    (tmp_path / "broken.json").write_text("{not json")
    entries, rejected = lb.collect(tmp_path)
    ranked = lb.rank(entries)
    rows = ranked[TINY]
    assert len(rows) == 3
    keys = [(-r.summary["success"], -r.summary["ci95"][0]) for r in rows]
    assert keys == sorted(keys)
    assert [r.flags for r in rows if r.observation_mode == "privileged"] == [["privileged observations"]]
    md = lb.render(ranked, rejected, tmp_path)
    assert f"## {TINY}" in md and "&dagger;" in md and "Centroid \\| privileged" in md
    assert "`broken.json`" in md and "not a JSON results file" in md
    assert md.count("\n| 1 |") == 1 and "| 3 |" in md


def test_unfrozen_object_list_is_flagged(runs, tmp_path, monkeypatch):
    monkeypatch.setitem(bt.TASKS, TINY, _tiny())
    write(tmp_path, "a.json", runs["random"])
    entries, _ = lb.collect(tmp_path)
    assert entries[0].flags == ["object list not frozen"]


class _Boom:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_never_unpickles(frozen, runs, tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Boom(str(marker)))
    (tmp_path / "agent.pkl").write_bytes(payload)
    (tmp_path / "checkpoint.pt").write_bytes(payload)
    (tmp_path / "sneaky.json").write_bytes(payload)
    write(tmp_path, "ok.json", runs["random"])
    entries, rejected = lb.collect(tmp_path)
    assert not marker.exists()
    assert len(entries) == 1 and [p.name for p, _ in rejected] == ["sneaky.json"]
    assert "not a JSON results file" in rejected[0][1]


def test_nan_is_refused(frozen, runs, tmp_path):
    text = json.dumps(runs["random"]).replace('"wall_s": ', '"wall_s": NaN, "x": ', 1)
    (tmp_path / "nan.json").write_text(text)
    _, rejected = lb.collect(tmp_path)
    assert "NaN" in rejected[0][1]


def test_cli_writes_markdown(frozen, runs, tmp_path, capsys):
    from grasp_envs.cli import main

    results = tmp_path / "results"
    results.mkdir()
    write(results, "c.json", runs["centroid"])
    out = tmp_path / "docs" / "leaderboard.md"
    assert main(["leaderboard", str(results), "--out", str(out)]) == 0
    assert out.read_text().startswith("# Leaderboard") and "Centroid" in out.read_text()
    assert "1 accepted, 0 rejected" in capsys.readouterr().out
    (results / "bad.json").write_text("[]")
    assert main(["leaderboard", str(results), "--out", "-", "--strict"]) == 1
    assert main(["leaderboard", str(tmp_path / "missing")]) == 1
    assert "results directory" in capsys.readouterr().err


TINY_V1 = "random-4d-tiny-v1"


@pytest.fixture(scope="module")
def run_v1():
    """Centroid on a 3-scene x 2-seed task whose seeds reorient the objects (computed once)."""
    task = bt.BenchmarkTask(**{**_tiny().__dict__, "name": TINY_V1, "per_seed_resets": True})
    return task, ev.evaluate(task, "centroid", progress=False)


def test_per_seed_scenes_are_validated(run_v1, tmp_path, monkeypatch):
    task, res = run_v1
    frozen = bt.BenchmarkTask(**{**task.__dict__, "fingerprint": task.compute_fingerprint(),
                                 "object_checksum": res["object_checksum"]})
    monkeypatch.setitem(bt.TASKS, TINY_V1, frozen)
    write(tmp_path, "ok.json", res)
    entries, rejected = lb.collect(tmp_path, replay_k=6)  # every episode re-simulated from its own reset seed
    assert not rejected and len(entries) == 1
    replayed = copy.deepcopy(res)  # seed 1 claims seed 0's scenes: a replay run submitted as per-seed
    first = {e["scene"]: e["reset_seed"] for e in replayed["episodes"] if e["seed"] == 0}
    for e in replayed["episodes"]:
        e["reset_seed"] = first[e["scene"]]
    write(tmp_path, "ok.json", replayed)
    entries, rejected = lb.collect(tmp_path)
    assert not entries and re.search(r"are not scene \d's .* for seed 1", rejected[0][1]), rejected


def _synthetic(label, successes):
    """An entry whose records are 3 seeds x 30 objects; ``successes(seed, obj)`` gives each outcome."""
    episodes = [{"seed": s, "object": f"o{i}", "success": successes(s, i), "decision_s": [0.01], "rejection": None}
                for s in range(3) for i in range(30)]
    return lb.Entry(path=None, task=TINY_V1, label=label, agent="x", observation_mode="depth",
                    summary=ev.summarize(episodes))


def test_ranking_breaks_ties_on_the_object_clustered_interval():
    # the same 30/90 successes: on 10 objects every time, or once on each of 30 objects
    concentrated = _synthetic("a concentrated", lambda s, i: i < 10)
    spread = _synthetic("b spread", lambda s, i: s == i % 3)
    cs, ss = concentrated.summary, spread.summary
    assert cs["success"] == ss["success"] and cs["ci95_wilson"] == ss["ci95_wilson"]  # pooled Wilson ties
    assert ss["ci95"][0] > cs["ci95"][0]
    assert [e.label for e in lb.rank([concentrated, spread])[TINY_V1]] == ["b spread", "a concentrated"]
    md = lb.render(lb.rank([concentrated, spread]), [])
    assert "95% CI (by object)" in md and "eff. n" in md
    assert f"[{cs['ci95'][0]:.3f}, {cs['ci95'][1]:.3f}] | {cs['effective_episodes']:.0f} |" in md
