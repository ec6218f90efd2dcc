"""``grasp-envs train``: one readable script per model, plus the recipe that runs them all.

    grasp-envs generate --num-objects 2000 --attempts 150 --out runs/data        # label (Parquet, one generator)
    grasp-envs train planner   --data runs/data --out runs/r0                      # agents/train_planner.py
    grasp-envs generate --num-objects 600 --attempts 30 --seed 1 --out runs/round1 \\
        --proposer agents.proposals:PlannerProposals --proposer-kwargs '{"checkpoint": "runs/r0/planner"}'
    grasp-envs train planner   --data runs/data,runs/round1 --init runs/r0/planner --negatives 1 --out runs/r1
    grasp-envs train evaluator --data runs/data,runs/round1 --out runs/r1          # agents/train_evaluator.py
    grasp-envs train recipe    --out runs/recipe                                   # agents/recipe.py: all of it

Each script's arguments are a frozen ``@dataclass`` whose documented fields are its command-line
flags (``python -m agents.train_planner --help`` runs the same script directly).  Training reads
datasets written by ``grasp-envs generate`` only (:mod:`grasp_envs.dataset`); runs write
TensorBoard logs to ``RUN/tb`` and checkpoints (state_dict + JSON config, :mod:`agents.checkpoint`).
"""

from __future__ import annotations

import argparse
import json

from agents.recipe import RecipeArgs, recipe
from agents.train_evaluator import EvaluatorArgs, train_evaluator
from agents.train_planner import PlannerArgs, train_planner
from agents.train_utils import add_dataclass_args, args_from_namespace

STEPS = {"planner": (PlannerArgs, train_planner), "evaluator": (EvaluatorArgs, train_evaluator),
         "recipe": (RecipeArgs, recipe)}


def _run(ns: argparse.Namespace) -> int:
    cls, fn = STEPS[ns.step]
    result = fn(args_from_namespace(cls, ns))
    print(json.dumps(result, indent=2, default=str) if isinstance(result, dict) else f"wrote {result}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train the planner / evaluator (planner, evaluator, recipe)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = p.add_subparsers(dest="step", metavar="STEP", required=True)
    for name, (cls, fn) in STEPS.items():
        sp = steps.add_parser(name, help=(fn.__doc__ or "").splitlines()[0])
        add_dataclass_args(sp, cls)
    p.set_defaults(func=_run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agents.train")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    ns = parser.parse_args(["train", *(argv if argv is not None else __import__("sys").argv[1:])])
    return ns.func(ns)


if __name__ == "__main__":
    raise SystemExit(main())
