"""Observation-based pruning against the simulator's instant rejection: precision and recall.

    python -m benchmarks.pruning --task random-4d-test-v2 --scenes 300
    python -m benchmarks.pruning --ycb-root runs/ycb_root --scenes-per-object 6      # all dev YCB objects
    python -m benchmarks.pruning --split train --scenes 40                           # tuning scenes

For every scene the candidates are the shipped planner's unpruned top ``--beam`` grasps (the ones
pruning acts on) and ``--uniform`` uniformly drawn grasps.  Each is judged twice: by
:class:`agents.pruning.ObservedCollisionChecker` from the observation alone, and by the
simulator's rejection (collision probes on the true geometry, no physics).  "Positive" means
*rejected*: precision is the fraction of pruned grasps that the simulator rejects too, recall the
fraction of the simulator's rejections that pruning catches.  Also printed: the agreement of the
predicted reason with the simulator's, and the fraction of the simulator's feasible grasps that
pruning wrongly drops.  The checker never reads simulator state; the benchmark does, to judge it.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from agents.checkpoint import load_checkpoint, shipped
from agents.full import _obs_tensors
from agents.pruning import REASONS, ObservedCollisionChecker


def _scenes(args):
    """Yields (env, observation) per scene of the chosen scene set."""
    if args.ycb_root:
        from benchmarks.object_sets import _graspable_ids, _pooled_scenes

        ns = argparse.Namespace(root=Path(args.ycb_root), env="ycb", scenes_per_object=args.scenes_per_object,
                                seed=args.seed)
        for env, _, obs, _ in _pooled_scenes(ns, _graspable_ids(ns), args.dims, "pruning"):
            yield env, obs
        return
    if args.split == "train":
        import gymnasium as gym

        env = gym.make(f"grasp_envs/GraspRandom{args.dims}D-v1", split="train")
        for i in tqdm(range(args.scenes), desc="train scenes", unit="scene"):
            obs, _ = env.reset(seed=10_000 + i)
            yield env, obs
        env.close()
        return
    from benchmarks.tasks import get_task

    task = get_task(args.task)
    task.require_env()
    env = task.make_env()
    for scene in tqdm(task.scenes()[: args.scenes], desc=args.task, unit="scene"):
        obs, _ = env.reset(seed=scene.reset_seed, options={"object_seed": scene.object_seed})
        yield env, obs
    env.close()


def _report(name: str, pred: np.ndarray, true: np.ndarray) -> dict:
    p, t = pred != 0, true != 0
    tp = int((p & t).sum())
    prec = tp / max(int(p.sum()), 1)
    rec = tp / max(int(t.sum()), 1)
    dropped = int((p & ~t).sum()) / max(int((~t).sum()), 1)
    agree = float((pred == true).mean()) if len(pred) else float("nan")
    print(f"| {name} | {len(pred)} | {t.mean():.3f} | {prec:.3f} | {rec:.3f} | {dropped:.3f} | {agree:.3f} |")
    return {"grasps": len(pred), "sim_rejected": float(t.mean()), "precision": prec, "recall": rec,
            "feasible_dropped": dropped, "reason_agreement": agree}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="random-4d-test-v2", help="benchmark task (random objects)")
    p.add_argument("--split", choices=["test", "train"], default="test",
                   help="train: fresh train-split random scenes instead of the task (for tuning)")
    p.add_argument("--ycb-root", default="", help="downloaded YCB root: all graspable dev objects instead of --task")
    p.add_argument("--scenes-per-object", type=int, default=6)
    p.add_argument("--dims", type=int, default=4, choices=[4, 6], help="grid for --ycb-root and --split train")
    p.add_argument("--scenes", type=int, default=300)
    p.add_argument("--beam", type=int, default=64, help="planner candidates per scene")
    p.add_argument("--uniform", type=int, default=200, help="uniform candidates per scene")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    planner = None
    checker = None
    preds = {"beam": [], "uniform": []}
    trues = {"beam": [], "uniform": []}
    t_pred, n_pred = 0.0, 0
    t0 = time.perf_counter()
    for env, obs in _scenes(args):
        u = env.unwrapped
        if planner is None:
            planner = load_checkpoint(shipped(f"planner_{u.grid.dims}d"), kind="planner")
            checker = ObservedCollisionChecker(u.grid.dims, planner.config.obs_config)
        d, b = _obs_tensors(obs)
        beam, _ = planner.beam_search(d, b, beam_width=args.beam, top_k=args.beam)
        rng = np.random.default_rng([args.seed, n_pred, 0x9A7E])
        cands = {"beam": beam[0].numpy(), "uniform": rng.integers(0, u.grid.n_bins, (args.uniform, u.grid.dims))}
        for k, a in cands.items():
            if not len(a):
                continue
            s = time.perf_counter()
            preds[k].append(checker.predict(obs, a))
            t_pred += time.perf_counter() - s
            n_pred += len(a)
            trues[k].append(u.simulator.reject(u.decode(a)))
    where = f"dev YCB ({args.scenes_per_object} scenes per object)" if args.ycb_root else (
        f"{args.scenes} fresh train scenes" if args.split == "train" else f"{args.task}, {args.scenes} scenes")
    n_scenes = len(preds["beam"]) or len(preds["uniform"])
    print(f"pruning vs simulator rejection, {where}: {n_scenes} scenes, {time.perf_counter() - t0:.0f} s, "
          f"{1e6 * t_pred / max(n_pred, 1):.0f} us per grasp predicted")
    print("| candidates | grasps | sim rejects | precision | recall | sim-feasible dropped | same reason |")
    print("|---|---|---|---|---|---|---|")
    for k in ("beam", "uniform"):
        if preds[k]:
            pr, tr = np.concatenate(preds[k]), np.concatenate(trues[k])
            _report(f"planner top-{args.beam}" if k == "beam" else f"uniform {args.uniform}", pr, tr)
    pr, tr = np.concatenate(preds["beam"] + preds["uniform"]), np.concatenate(trues["beam"] + trues["uniform"])
    print("confusion (rows: simulator, columns: prediction):")
    print("| sim \\ pred | " + " | ".join(str(REASONS[c] or "feasible") for c in range(len(REASONS))) + " |")
    print("|---|" + "---|" * len(REASONS))
    for c in range(len(REASONS)):
        row = Counter(pr[tr == c].tolist())
        print(f"| {REASONS[c] or 'feasible'} | " + " | ".join(str(row.get(j, 0)) for j in range(len(REASONS))) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
