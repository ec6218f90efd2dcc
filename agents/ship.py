"""Copy trained checkpoints into the package (``agents/checkpoints``), in float16 where that changes no decision.

    python -m agents.ship --planner runs/r1/planner --evaluator runs/r1/evaluator --dims 4 --scenes 50

Both checkpoints are loaded, rounded to float16 and loaded back, and the full agent's decisions
are compared on ``--scenes`` seeded test-split scenes of ``GraspRandom{dims}D-v1``: the grasp the
planner agent executes (its first pruned candidate) and the one the full agent executes.  If every decision is the
same, the files are written in float16 (half the size), otherwise in float32; the command prints
which, with the count of differing decisions.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import grasp_envs  # noqa: F401
from agents.checkpoint import SHIPPED_DIR, load_checkpoint, save_checkpoint


def _decisions(env, planner_stem, evaluator_stem, scenes: int) -> list[tuple]:
    from agents.full import FullAgent

    agent = FullAgent(env, checkpoint=planner_stem, evaluator=evaluator_stem)
    out = []
    for i in range(scenes):
        obs, _ = env.reset(seed=i)
        pick = agent.act(obs)
        out.append((agent.last_candidates[0].tolist(), pick.tolist()))  # the planner's and the full agent's grasp
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--planner", required=True)
    p.add_argument("--evaluator", required=True)
    p.add_argument("--dims", type=int, choices=[4, 6], required=True)
    p.add_argument("--scenes", type=int, default=50)
    p.add_argument("--out", default=str(SHIPPED_DIR), help="directory to write planner_{dims}d and evaluator_{dims}d to")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    env = gym.make(f"grasp_envs/GraspRandom{args.dims}D-v1", split="test")
    planner = load_checkpoint(args.planner, kind="planner")
    evaluator = load_checkpoint(args.evaluator, kind="evaluator")
    with tempfile.TemporaryDirectory() as tmp:
        save_checkpoint(planner, Path(tmp) / "planner", planner.checkpoint_meta, half=True)
        save_checkpoint(evaluator, Path(tmp) / "evaluator", evaluator.checkpoint_meta, half=True)
        full = _decisions(env, args.planner, args.evaluator, args.scenes)
        half = _decisions(env, Path(tmp) / "planner", Path(tmp) / "evaluator", args.scenes)
    differ = sum(a != b for a, b in zip(full, half))
    use_half = differ == 0
    out = Path(args.out)
    save_checkpoint(planner, out / f"planner_{args.dims}d", planner.checkpoint_meta, half=use_half)
    save_checkpoint(evaluator, out / f"evaluator_{args.dims}d", evaluator.checkpoint_meta, half=use_half)
    print(f"float16 changed the planner's or the full agent's grasp on {differ} of {args.scenes} scenes; wrote "
          f"{'float16' if use_half else 'float32'} checkpoints planner_{args.dims}d and evaluator_{args.dims}d to {out}")
    env.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
