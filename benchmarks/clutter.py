"""Agents on piles of random, YCB or scanned objects (GraspClutter4D-v1, 6D) beside a peer's clutter setting.

    python -m benchmarks.clutter --episodes 100 --kuka-episodes 50
    python -m benchmarks.clutter --objects ycb --root runs/ycb_root --episodes 40 --agents random centroid planner full --kuka-episodes 0
    python -m benchmarks.clutter --dims 6 --episodes 50 --kuka-episodes 0
    python -m benchmarks.clutter --n-objects 5 --agents random centroid --kuka-episodes 0   # Kuka's count
    python -m benchmarks.clutter --agents full --kuka-episodes 0   # the shipped planner + evaluator

Random and Centroid see the clutter env's own cameras (50 degree field of view over the pile);
the shipped planner of the grid (and ``--agents full``, planner + evaluator) runs zero-shot
(trained on single objects) with the cameras it was trained on (25 degrees: a 31 cm square
around the pile's centre), on the same scenes: the cameras do not change the scene, only what
the agent sees.  Scene ``i`` is
``env.reset(seed=seed + i)`` (:func:`agents.evaluation.evaluate_agents`), a fresh pile each
time, so the intervals are Wilson's, clustered by scene (each scene once: the same).  With
``--objects ycb`` (or ``scanned``) the piles draw the set's ``--split`` objects from the processed
data root ``--root`` exactly as the single-object YCB env does (``--graspable-rule``, default
"top" as the ``ycb-*-v2`` tasks); a set's objects recur across piles, each pile is still one
scene, and the interval stays clustered by scene.

The peer is pybullet's ``KukaDiverseObjectEnv``: five random objects in a tray (``isTest=True``,
its test objects), its own random policy (uniform continuous actions for up to its default 8
steps, the height hack on), success when an object ends above 0.2 m.  Both rows are a random
policy in clutter; the tasks differ (a Kuka arm with its own action space), so the comparison is
of settings, not of physics.
"""

from __future__ import annotations

import argparse
import random

import numpy as np

import grasp_envs  # noqa: F401  (registers the ids)
from agents.evaluation import evaluate_agents
from benchmarks.stats import REJECTION_HEADER, rejection_cell, success_cells
from grasp_envs.cli import missing_dependency_message, positive_int
from grasp_envs.stats import cluster_counts, clustered_wilson_interval, wilson_interval

ENV_ID = "grasp_envs/GraspClutter{dims}D-v1"
#: agent -> the observation it runs with (None: the env's default).
AGENTS = {"random": None, "centroid": None, "planner": {"fovy": 25.0}, "full": {"fovy": 25.0}}
#: What a plain run measures (``--agents full`` adds the planner + evaluator).
DEFAULT_AGENTS = ("random", "centroid", "planner")


def kuka_random_success(episodes: int, seed: int) -> tuple[int, int] | None:
    """(successes, episodes) of a uniform random policy in KukaDiverseObjectEnv; None without pybullet."""
    from benchmarks.sim_throughput import kuka_diverse_object_env

    cls = kuka_diverse_object_env()
    if cls is None:
        return None
    random.seed(seed)  # the Kuka env draws its objects from Python's global random
    env = cls(renders=False, isDiscrete=False, removeHeightHack=False, isTest=True)
    rng = np.random.default_rng(seed)
    wins = 0
    for _ in range(episodes):
        env.reset()
        done, reward = False, 0.0
        while not done:
            _, reward, done, _ = env.step(rng.uniform(-1, 1, size=env.action_space.shape))
        wins += int(reward > 0)
    return wins, episodes


def clutter_rows(agents: list[str], episodes: int, seed: int, split: str, dims: int = 4,
                 n_objects: list[int] | None = None, progress: bool = True, objects: str = "random",
                 root: str | None = None, graspable_rule: str = "top", object_ids: list[str] | None = None) -> list[dict]:
    rows = []
    source = {} if objects == "random" else {"objects": objects, "root": root, **(
        {"object_ids": list(object_ids)} if object_ids else {"graspable_rule": graspable_rule})}
    for name in agents:
        obs = AGENTS[name]
        env_kwargs = {**({"observation": obs} if obs else {}), **({"n_objects": n_objects} if n_objects else {}),
                      **source}
        try:
            [row] = evaluate_agents(ENV_ID.format(dims=dims), [name], episodes, seed, split,
                                    env_kwargs=env_kwargs or None, progress=progress)
        except ImportError as exc:  # the learned agents need torch; Random and Centroid do not
            message = missing_dependency_message(exc)
            if message is None or name not in ("planner", "full"):
                raise
            print(f"skipping {name}: {message}")
            continue
        recs = row["records"]
        succ, sizes = cluster_counts([r["reward"] > 0 for r in recs], [r["object_seed"] for r in recs])
        row["ci95"] = clustered_wilson_interval(succ, sizes)
        row["fovy"] = (obs or {}).get("fovy", 50.0)
        row["n_objects"] = "-".join(str(v) for v in dict.fromkeys(n_objects or [2, 10]))
        row["objects"] = objects
        rows.append(row)
    return rows


_OBJECT_WORD = {"random": "", "ycb": "YCB ", "scanned": "scanned "}


def format_table(rows: list[dict], kuka: tuple[int, int] | None, split: str) -> str:
    lines = ["| setting | agent | cameras | success | 95% CI | " + REJECTION_HEADER + " |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        rej = r["rejections"]
        lines.append(
            f"| {r['env_id'].split('/')[-1]} ({split}, {r['n_objects']} {_OBJECT_WORD[r.get('objects', 'random')]}objects) "
            f"| {r['agent']} | fovy {r['fovy']:.0f} | "
            f"{success_cells(r)} | "
            f"{rejection_cell(rej)} |")
    if kuka is not None:
        k, n = kuka
        lo, hi = wilson_interval(k, n)
        lines.append(f"| KukaDiverseObjectEnv (pybullet, 5 objects in a tray, test objects) | its random policy | "
                     f"its own 48 x 48 | {k / n:.3f} ({k}/{n}) | [{lo:.3f}, {hi:.3f}] | n/a |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=positive_int("--episodes 100"), default=100, help="seeded piles per agent")
    ap.add_argument("--agents", nargs="+", default=list(DEFAULT_AGENTS), choices=list(AGENTS))
    ap.add_argument("--split", default="test", choices=["train", "test"])
    ap.add_argument("--dims", type=int, default=4, choices=[4, 6])
    ap.add_argument("--n-objects", type=int, nargs="+", default=None, metavar="N",
                    help="objects per pile: N or LOW HIGH (default: the env's 2 10)")
    ap.add_argument("--seed", type=int, default=0, help="scene i uses reset(seed=seed + i)")
    ap.add_argument("--objects", default="random", choices=["random", "ycb", "scanned"],
                    help="what the piles are made of (ycb/scanned: processed by `grasp-envs download`)")
    ap.add_argument("--root", default=None, help="data root of --objects ycb/scanned (default: $GRASP_ENVS_DATA "
                    "or ~/.cache/grasp_envs)")
    ap.add_argument("--graspable-rule", default="top", choices=["box", "top"],
                    help="the set's default object list (as the single-object env's graspable_rule)")
    ap.add_argument("--object-ids", nargs="+", default=None, metavar="ID",
                    help="the set's objects to pile (their --split ones; default: the --graspable-rule list)")
    ap.add_argument("--kuka-episodes", type=int, default=50, help="episodes of the pybullet peer (0: skip)")
    args = ap.parse_args(argv)
    if args.n_objects is not None and len(args.n_objects) not in (1, 2):
        ap.error("--n-objects takes N or LOW HIGH, e.g. --n-objects 5")
    if args.objects == "random" and (args.root is not None or args.object_ids):
        ap.error("--root and --object-ids choose --objects ycb or scanned; drop them for random piles")
    n_objects = None if args.n_objects is None else [args.n_objects[0], args.n_objects[-1]]
    try:
        rows = clutter_rows(args.agents, args.episodes, args.seed, args.split, args.dims, n_objects,
                            objects=args.objects, root=args.root, graspable_rule=args.graspable_rule,
                            object_ids=args.object_ids)
    except FileNotFoundError as exc:  # the set is not processed under --root: the env's message names the command
        print(f"error: {exc}")
        return 2
    kuka = kuka_random_success(args.kuka_episodes, args.seed) if args.kuka_episodes > 0 else None
    if args.kuka_episodes > 0 and kuka is None:
        print("KukaDiverseObjectEnv: unavailable (pip install 'grasp-envs[bench]')")
    n_obj = [r["object_seed"] for r in rows[0]["records"]] if rows else []
    print(f"{args.episodes} seeded {args.split}-split piles (seeds {args.seed}..{args.seed + args.episodes - 1}, "
          f"{len(set(n_obj))} distinct scenes); intervals: Wilson clustered by scene")
    print(format_table(rows, kuka, args.split))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
