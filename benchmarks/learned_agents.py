"""Learned agents beside the baselines on the same scenes, with top-20 beam coverage.

    python -m benchmarks.learned_agents --task random-4d-test-v2 --scenes 100
    python -m benchmarks.learned_agents --task ycb-4d-v2 --scenes 100 --out results/learned_ycb.json
    python -m benchmarks.learned_agents --task random-4d-test-v2 --scenes 200 --variants full full/reprojected

For each of the task's first ``--scenes`` scenes the scene is reset
once; Random, Centroid, Planner (top-1 of the beam) and Full (evaluator's pick of the top 20)
each choose a grasp on the same observation (agents reset with the scene index), as do
``planner/no-prune`` and ``full/no-prune``, the same networks without the observation-based
pruning of :mod:`agents.pruning`, ``full/no-spread``, the full agent scoring the beam's plain top
20 (the paper's) instead of 20 spread over distinct grasps (its default, ``spread=1``), and
(with ``--variants``) ``full/spread2`` and ``full/k40`` (a wider spread, 40 candidates), ``planner+d8`` and ``full+d8``, the
same networks proposing with the dihedral ensemble
(:meth:`agents.planner.GraspPlanner.beam_search_dihedral`; 4-D only), and ``full/reprojected``,
the full agent scoring hand images reprojected from the observed depth (the real robot's
``hand_camera``, :mod:`grasp_envs.envs.hand_camera`) instead of rendered ones.  Every agent is
built from the env's :class:`~grasp_envs.envs.interface.AgentInterface`.  All choices plus each
proposer's whole top-20 are executed in one batch through
``env.unwrapped.evaluate_grasps`` (the same simulation ``step`` runs, without advancing the
episode).  Prints success with Wilson 95% intervals and the fraction of scenes whose top 20
holds a success (the issue's coverage target: 96%).  ``--uniform N`` adds N uniform grasps per
scene and reports how many scenes have any success at all: the ceiling the agents stand against.
``--out`` stores every per-scene record so the figures can be recomputed.  ``grasp-envs evaluate --agent planner|full`` gives the same
agents' leaderboard figures episode by episode.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from agents import load_agent
from benchmarks.stats import wilson_interval
from benchmarks.tasks import get_task
from grasp_envs.envs.interface import HAND_CAMERA, ReprojectedHandCamera, agent_interface

#: Row name -> (built-in agent, extra kwargs).
VARIANTS = {"random": ("random", {}), "centroid": ("centroid", {}), "planner": ("planner", {}),
            "full": ("full", {}), "planner/no-prune": ("planner", {"prune": False}),
            "full/no-prune": ("full", {"prune": False}), "planner+d8": ("planner", {"dihedral": True}),
            "full+d8": ("full", {"dihedral": True}), "full/reprojected": ("full", {}),
            "full/no-spread": ("full", {"spread": None}), "full/spread2": ("full", {"spread": 2}),
            "full/k40": ("full", {"k": 40, "beam_width": 40})}
#: Rows whose hand camera reprojects the observed depth (as on the real robot) whatever the env renders.
REPROJECTED = {"full/reprojected"}
DEFAULT_VARIANTS = ["random", "centroid", "planner", "full", "planner/no-prune", "full/no-prune", "full/no-spread"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="random-4d-test-v2")
    p.add_argument("--scenes", type=int, default=100)
    p.add_argument("--planner", default="", help="planner checkpoint stem (default: shipped)")
    p.add_argument("--evaluator", default="", help="evaluator checkpoint stem (default: shipped)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, choices=list(VARIANTS),
                   help="rows to run (default: %(default)s)")
    p.add_argument("--uniform", type=int, default=0,
                   help="also execute this many uniformly random grasps per scene (seeded by the scene index) and "
                        "report the fraction of scenes where any executed grasp succeeds: a lower bound on how "
                        "many objects can be grasped at all, the ceiling against which the agents stand")
    p.add_argument("--out", default="", help="write per-scene records and the summary as JSON")
    args = p.parse_args(argv)
    import torch  # the learned agents' dependency; this module's tables stay importable without it

    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    task.require_env()
    env = task.make_env()
    scenes = task.scenes()[: args.scenes]
    view = agent_interface(env)
    reprojected = view.with_capability(HAND_CAMERA, ReprojectedHandCamera(view.grid, view.obs_config))
    names = [n for n in args.variants if "+d8" not in n or view.dims == 4]
    agents = {}
    for name in names:
        base, kw = VARIANTS[name]
        kw = dict(kw)
        if args.planner and base in ("planner", "full"):
            kw["checkpoint"] = args.planner
        if args.evaluator and base == "full":
            kw["evaluator"] = args.evaluator
        agents[name] = load_agent(base, reprojected if name in REPROJECTED else view, kw)
    # Each full agent keeps the top 20 it ranked (the planner's beam, from the same network) with
    # their log-likelihoods and evaluator scores; those are the recorded proposals.
    beams = {"beam": "full", "beam/no-prune": "full/no-prune", "beam+d8": "full+d8", "beam/no-spread": "full/no-spread",
             "beam/spread2": "full/spread2", "beam/k40": "full/k40"}
    beams = {b: a for b, a in beams.items() if a in agents}
    records = []
    t0 = time.perf_counter()
    for scene in tqdm(scenes, desc=args.task, unit="scene"):
        obs, info = env.reset(seed=scene.reset_seed, options={"object_seed": scene.object_seed})
        actions = {}
        for name, agent in agents.items():
            if hasattr(agent, "reset"):
                agent.reset(scene.index)
            actions[name] = np.asarray(agent.act(obs), np.int64)
        proposals = {b: agents[a].last_candidates for b, a in beams.items()}
        uniform = np.random.default_rng([scene.index, 0x0F1A]).integers(
            0, env.unwrapped.grid.n_bins, (args.uniform, env.unwrapped.grid.dims))
        batch = np.concatenate([np.stack([actions[n] for n in names]), *proposals.values(), uniform])
        out = env.unwrapped.evaluate_grasps(batch)
        ok = out.success.astype(bool)
        rec = {"scene": scene.index, "reset_seed": scene.reset_seed, "object_seed": scene.object_seed,
               "object": info["object_name"], "actions": {n: actions[n].tolist() for n in names},
               "success": {n: bool(ok[i]) for i, n in enumerate(names)},
               "rejection": {n: int(out.rejection[i]) for i, n in enumerate(names)}}
        start = len(names)
        for b, g in proposals.items():
            rec[b] = g.tolist()
            rec[f"{b}_success"] = ok[start : start + len(g)].tolist()
            rec[f"{b}_rejection"] = out.rejection[start : start + len(g)].astype(int).tolist()
            rec[f"{b}_log_prob"] = agents[beams[b]].last_log_prob.tolist()
            rec[f"{b}_evaluator"] = agents[beams[b]].last_scores.tolist()
            rec[f"{b}_feasible"] = agents[beams[b]].last_feasible.tolist()
            start += len(g)
        rec["uniform_successes"] = int(ok[start:].sum())
        rec["graspable"] = bool(ok.any())
        records.append(rec)
    env.close()
    n = len(records)
    rows = {}
    print(f"{args.task}: first {n} scenes, {time.perf_counter() - t0:.0f} s")
    print("| agent | success | Wilson 95% CI | rejected |\n|---|---|---|---|")
    for name in names:
        k = sum(r["success"][name] for r in records)
        lo, hi = wilson_interval(k, n)
        rej = sum(r["rejection"][name] != 0 for r in records)
        rows[name] = {"successes": k, "success": k / n, "ci95": [lo, hi], "rejected": rej}
        print(f"| {name} | {k / n:.3f} ({k}/{n}) | [{lo:.3f}, {hi:.3f}] | {rej} |")
    for name in (n for n in names if n in REPROJECTED and "full" in names):
        same = sum(r["actions"][name] == r["actions"]["full"] for r in records)
        only = sum(r["success"][name] and not r["success"]["full"] for r in records)
        lost = sum(r["success"]["full"] and not r["success"][name] for r in records)
        rows[f"{name}_vs_full"] = {"same_pick": same, "only_this_succeeds": only, "only_full_succeeds": lost}
        print(f"| {name} against full, scene by scene | same grasp {same}/{n}; only {name} succeeds {only}, "
              f"only full {lost} | | |")
    for b in beams:
        cov = sum(any(r[f"{b}_success"]) for r in records)
        lo, hi = wilson_interval(cov, n)
        rows[f"top{agents[beams[b]].k}_coverage{b[4:]}"] = {"successes": cov, "success": cov / n, "ci95": [lo, hi]}
        print(f"| top-{agents[beams[b]].k} {b} holds a success | {cov / n:.3f} ({cov}/{n}) | [{lo:.3f}, {hi:.3f}] | |")
    if args.uniform:
        g = sum(r["graspable"] for r in records)
        lo, hi = wilson_interval(g, n)
        rows["graspable"] = {"successes": g, "success": g / n, "ci95": [lo, hi], "uniform": args.uniform}
        print(f"| any of {args.uniform} uniform grasps or the above succeeds | {g / n:.3f} ({g}/{n}) | "
              f"[{lo:.3f}, {hi:.3f}] | |")
    if args.out:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"task": args.task, "scenes": n, "planner": args.planner or "shipped",
                                    "evaluator": args.evaluator or "shipped", "summary": rows, "records": records},
                                   indent=1) + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
