"""Baselines and the shipped learned agents on seeded random-object scenes: the README's main job.

    grasp-envs baselines --episodes 50               # 4-D and 6-D, test split
    python -m benchmarks.baselines --episodes 300 --dims 4 6

Random and Centroid run on every grid; the shipped planner and planner + evaluator
(``agents/checkpoints``) on the grids they were trained for.  Scene ``i`` of a run is
``env.reset(seed=seed + i)`` and every agent is reset with ``seed + i``, so every number is
reproducible and all agents see the same scenes.  Prints success with Wilson 95% intervals and
the paper's figures for random objects beside them.
"""

from __future__ import annotations

import argparse

import grasp_envs  # noqa: F401  (registers the ids)
from agents.evaluation import evaluate_agents
from benchmarks.stats import REJECTION_HEADER, rejection_cell, success_cells
from grasp_envs.cli import make_command, missing_dependency_message, positive_int

#: Tobin et al. 2017, Fig. 6, random objects (train, test).
PAPER = {"random": (0.10, 0.11), "centroid": (0.10, 0.12), "planner": (0.80, 0.76), "full": (0.86, 0.84)}
AGENTS = ("random", "centroid", "planner", "full")


def _paper(row: dict, col: int) -> str:
    """The paper's figure; it tabulates 4-D grasps only (its 6-D runs were "around 10% lower")."""
    return f"{PAPER[row['agent']][col]:.2f}" if "4D" in row["env_id"] else "n/a (4-D only)"


def format_table(rows: list[dict], split: str) -> str:
    col = 0 if split == "train" else 1
    lines = ["| env | agent | success | 95% CI | paper (random objects) | " + REJECTION_HEADER + " |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        rej = r["rejections"]
        lines.append(
            f"| {r['env_id'].split('/')[-1]} | {r['agent']} | {success_cells(r)} | {_paper(r, col)} | "
            f"{rejection_cell(rej)} |"
        )
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--episodes", type=positive_int("--episodes 50"), default=50, help="seeded scenes per env and agent")
    p.add_argument("--dims", type=int, nargs="+", default=[4, 6], choices=[4, 6])
    p.add_argument("--split", default="test", choices=["train", "test"])
    p.add_argument("--seed", type=int, default=0, help="scene i uses reset(seed=seed + i)")
    p.add_argument("--agents", nargs="+", default=list(AGENTS), choices=list(AGENTS),
                   help="learned agents run only where a shipped checkpoint exists for the grid")


def _checkpoint_error() -> type[Exception] | tuple:
    """``CheckpointError``, or nothing to catch where torch (and so every checkpoint) is absent."""
    try:
        from agents.checkpoint import CheckpointError
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        return ()
    return CheckpointError


def run(args: argparse.Namespace) -> int:
    rows = []
    checkpoint_error = _checkpoint_error()
    for dims in args.dims:
        for name in args.agents:
            try:
                rows += evaluate_agents(f"grasp_envs/GraspRandom{dims}D-v1", [name], args.episodes, args.seed, args.split)
            except checkpoint_error as exc:
                print(f"skipping {name} on {dims}-D: {str(exc).splitlines()[0]}")
            except ImportError as exc:  # the learned agents need torch; Random and Centroid do not
                message = missing_dependency_message(exc)
                if message is None or name in ("random", "centroid"):
                    raise
                print(f"skipping {name} on {dims}-D: {message}")
    print(f"Baselines on {args.episodes} seeded {args.split}-split random-object scenes (seeds {args.seed}..{args.seed + args.episodes - 1}):")
    print(format_table(rows, args.split))
    return 0


register, main = make_command("baselines", "evaluate Random and Centroid on seeded random-object scenes", __doc__, add_arguments, run)


if __name__ == "__main__":
    raise SystemExit(main())
