"""Agents on piles of random, YCB or scanned objects (GraspClutter4D-v1, 6D) beside a peer's clutter setting.

    python -m benchmarks.clutter --episodes 100 --kuka-episodes 50
    python -m benchmarks.clutter --objects ycb --root runs/ycb_root --episodes 40 --agents random centroid planner full --kuka-episodes 0
    python -m benchmarks.clutter --dims 6 --episodes 50 --kuka-episodes 0
    python -m benchmarks.clutter --n-objects 5 --agents random centroid --kuka-episodes 0   # Kuka's count
    python -m benchmarks.clutter --agents full --kuka-episodes 0   # the shipped planner + evaluator
    python -m benchmarks.clutter --agents planner full --planner shipped planner_clutter_4d --kuka-episodes 0

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

``--planner`` names the planner checkpoints of the planner and full rows (``shipped``, the shipped
``planner_{dims}d``; the name of another checkpoint in ``agents/checkpoints``, e.g.
``planner_clutter_4d``; or a checkpoint stem such as ``runs/ft/planner``).  With several, each
agent runs once per planner on the same piles, and every later planner's row is compared with the
first's pile by pile: piles won and lost, and the exact sign test of the piles on which they differ.
``--out FILE`` stores the rows with every pile's record; ``--peer FILE`` puts the planner and full
rows of such an earlier run of the same piles first (its seeds and scene seeds must match), so a
new checkpoint is compared pile by pile without rerunning the old one.

The peer is pybullet's ``KukaDiverseObjectEnv``: five random objects in a tray (``isTest=True``,
its test objects), its own random policy (uniform continuous actions for up to its default 8
steps, the height hack on), success when an object ends above 0.2 m.  Both rows are a random
policy in clutter; the tasks differ (a Kuka arm with its own action space), so the comparison is
of settings, not of physics.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

import grasp_envs  # noqa: F401  (registers the ids)
from agents.evaluation import evaluate_agents
from benchmarks.attempts import sign_test
from benchmarks.stats import REJECTION_HEADER, rejection_cell, success_cells
from grasp_envs.cli import missing_dependency_message, positive_int
from grasp_envs.stats import cluster_counts, clustered_wilson_interval, wilson_interval

ENV_ID = "grasp_envs/GraspClutter{dims}D-v1"
#: agent -> the observation it runs with (None: the env's default).
AGENTS = {"random": None, "centroid": None, "planner": {"fovy": 25.0}, "full": {"fovy": 25.0}}
#: What a plain run measures (``--agents full`` adds the planner + evaluator).
DEFAULT_AGENTS = ("random", "centroid", "planner")
#: The agents that run a planner checkpoint (``--planner``).
PLANNER_AGENTS = ("planner", "full")


def planner_checkpoint(name: str) -> str | None:
    """The checkpoint stem ``--planner NAME`` names: None for ``shipped`` (the agent's own default), a
    checkpoint of ``agents/checkpoints`` by its name, or a stem ``PATH`` of ``PATH.json`` / ``PATH.pt``."""
    from agents.checkpoint import SHIPPED_DIR

    if name == "shipped":
        return None
    if "/" not in name and (SHIPPED_DIR / name).with_suffix(".json").is_file():
        return str(SHIPPED_DIR / name)
    stem = Path(name[: -len(Path(name).suffix)] if Path(name).suffix in (".pt", ".json") else name)
    if not stem.with_suffix(".json").is_file():
        available = sorted(p.stem for p in SHIPPED_DIR.glob("planner_*.json"))
        raise FileNotFoundError(f"--planner {name}: no checkpoint {stem}.json; pass `--planner shipped`, a shipped "
                                f"name ({', '.join(available)}) or the stem of a trained run, e.g. "
                                f"`--planner runs/ft/planner`")
    return str(stem)


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
                 root: str | None = None, graspable_rule: str = "top", object_ids: list[str] | None = None,
                 planners: list[str] | None = None) -> list[dict]:
    """One row per agent (per ``planners`` entry for the planner and full agents, default ``["shipped"]``)."""
    rows = []
    source = {} if objects == "random" else {"objects": objects, "root": root, **(
        {"object_ids": list(object_ids)} if object_ids else {"graspable_rule": graspable_rule})}
    planners = list(planners or ["shipped"])
    stems = {p: planner_checkpoint(p) for p in planners}  # a wrong name fails before any pile settles
    runs = [(name, p) for name in agents for p in (planners if name in PLANNER_AGENTS else [None])]
    for name, planner in runs:
        obs = AGENTS[name]
        env_kwargs = {**({"observation": obs} if obs else {}), **({"n_objects": n_objects} if n_objects else {}),
                      **source}
        agent_kwargs = {name: {"checkpoint": stems[planner]}} if planner and stems[planner] else None
        try:
            [row] = evaluate_agents(ENV_ID.format(dims=dims), [name], episodes, seed, split,
                                    agent_kwargs=agent_kwargs, env_kwargs=env_kwargs or None, progress=progress)
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
        row["planner"] = planner
        if planner and planners != ["shipped"]:
            row["agent"] = f"{name} ({planner})"
        rows.append(row)
    return rows


def peer_rows(path: str, rows: list[dict]) -> list[dict]:
    """The planner / full rows of an earlier ``--out FILE``, checked to be of the same piles as ``rows``."""
    try:
        peer = json.loads(Path(path).read_text())["rows"]
    except (OSError, ValueError, KeyError) as exc:
        raise FileNotFoundError(f"--peer {path}: not the --out file of an earlier `python -m benchmarks.clutter` "
                                f"run ({type(exc).__name__}: {exc})") from None
    peer = [r for r in peer if r.get("planner")]
    piles = {(x["seed"], x["object_seed"]) for r in rows for x in r["records"]}
    for r in peer:
        theirs = {(x["seed"], x["object_seed"]) for x in r["records"]}
        if theirs != piles or r["env_id"] != rows[0]["env_id"]:
            raise FileNotFoundError(f"--peer {path}: its {r['agent']} row ran other piles ({r['env_id']}, "
                                    f"{len(theirs)} piles); rerun it with this run's --episodes/--seed/--split/--dims")
        r["agent"] = r["agent"] if " (" in r["agent"] else f"{r['agent']} ({r['planner']})"
        r["rejections"] = dict(r["rejections"])
    return peer


def paired_lines(rows: list[dict]) -> list[str]:
    """Each later planner's planner / full row against the first planner's, pile by pile (same seeds)."""
    lines = []
    for name in PLANNER_AGENTS:
        mine = [r for r in rows if r["agent"].split(" ")[0] == name and r.get("planner")]
        peer = {x["seed"]: x["reward"] > 0 for x in mine[0]["records"]} if mine else {}
        for r in mine[1:]:
            won = sum(1 for x in r["records"] if x["reward"] > 0 and not peer[x["seed"]])
            lost = sum(1 for x in r["records"] if x["reward"] <= 0 and peer[x["seed"]])
            lines.append(f"{r['agent']} vs {mine[0]['agent']}: {won} piles won / {lost} lost "
                         f"(exact sign test p = {sign_test(won, lost):.3f})")
    return lines


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
    ap.add_argument("--planner", nargs="+", default=["shipped"], metavar="NAME",
                    help="planner checkpoints of the planner/full rows: shipped, a name in agents/checkpoints "
                         "(e.g. planner_clutter_4d) or a stem (runs/ft/planner); several: one row each, paired")
    ap.add_argument("--out", default=None, help="write the rows and every pile's record as JSON")
    ap.add_argument("--peer", default=None, metavar="FILE",
                    help="an earlier run's --out of the same piles: its planner/full rows come first and are paired")
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
                            object_ids=args.object_ids, planners=args.planner)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps({"argv": sys.argv[1:] if argv is None else list(argv), "rows": rows}, default=dict, indent=1))
        if args.peer:
            rows = peer_rows(args.peer, rows) + rows
    except FileNotFoundError as exc:  # the set is not processed under --root, a --planner or --peer file is missing
        print(f"error: {exc}")
        return 2
    kuka = kuka_random_success(args.kuka_episodes, args.seed) if args.kuka_episodes > 0 else None
    if args.kuka_episodes > 0 and kuka is None:
        print("KukaDiverseObjectEnv: unavailable (pip install 'grasp-envs[bench]')")
    n_obj = [r["object_seed"] for r in rows[0]["records"]] if rows else []
    print(f"{args.episodes} seeded {args.split}-split piles (seeds {args.seed}..{args.seed + args.episodes - 1}, "
          f"{len(set(n_obj))} distinct scenes); intervals: Wilson clustered by scene")
    print(format_table(rows, kuka, args.split))
    for line in paired_lines(rows):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
