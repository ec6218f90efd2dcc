"""The whole recipe in one command: label, train, label the planner's proposals, retrain, evaluate.

    grasp-envs train recipe --out runs/recipe --workers 2              # the shipped 4-D checkpoints' steps
    grasp-envs train recipe --out runs/laptop --objects 600 --round-objects 200 --rounds 1   # about 30 minutes

Steps (every dataset through the one generator, :mod:`grasp_envs.dataset`; see docs/training.md):

1. **Label** ``objects`` train-split objects with ``attempts`` uniform grasps each
   (``OUT/data/uniform``).
2. **Planner, round 0**: :func:`agents.train_planner.train_planner` on it, from ``init`` when given
   (for example the shipped planner) else from scratch.
3. **On-policy rounds** (``rounds`` times): label ``round_objects`` fresh objects with the current
   planner's proposals (:class:`agents.proposals.PlannerProposals`: its top-32 beam and the
   neighbouring bins of its best 8) plus ``round_uniform`` uniform grasps (``OUT/data/roundK``),
   then retrain the planner from the previous one on the union of every dataset so far with the
   unlikelihood of the negatives (``negatives``).  Each round's validation figures are kept.
4. **Evaluator** on the hand images of the union (proposals oversampled).
5. **Evaluate** Random, Centroid, Planner and Full on ``episodes`` seeded test-split scenes
   (:func:`agents.evaluation.evaluate_agents`) and write ``OUT/results.json`` with the timings of
   every step and the expected figures beside the measured ones.

``--randomization '{"finger_friction": [0.5, 1.2], ...}'`` labels every dataset with the env's
domain randomisation on (:mod:`grasp_envs.envs.randomization`, docs/randomization.md); the datasets
record it in their physics identity.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium as gym

import grasp_envs  # noqa: F401  (registers the env ids)
from agents.evaluation import evaluate_agents
from agents.train_evaluator import EvaluatorArgs, train_evaluator
from agents.train_planner import PlannerArgs, train_planner
from agents.train_utils import script_main

#: Success on held-out random objects of the shipped 4-D checkpoints (docs/training.md), reached
#: by this recipe's defaults.
EXPECTED_RANDOM_TEST = {"random": 0.06, "centroid": 0.14, "planner": 0.49, "full": 0.57}


@dataclass(frozen=True)
class RecipeArgs:
    out: str = "runs/recipe"
    """run directory: ``OUT/data/*``, ``OUT/round*/planner``, ``OUT/evaluator``, ``OUT/results.json``"""
    env_id: str = "grasp_envs/GraspRandom4D-v1"
    """environment to train and evaluate on"""
    objects: int = 2000
    """train objects labelled with uniform grasps"""
    attempts: int = 150
    """uniform grasps per object"""
    init: str = ""
    """planner checkpoint to start round 0 from (empty: from scratch)"""
    rounds: int = 1
    """on-policy rounds after round 0"""
    round_objects: int = 600
    """fresh objects whose planner proposals are labelled per round"""
    round_uniform: int = 30
    """uniform grasps labelled beside the proposals on each round's objects"""
    negatives: float = 1.0
    """unlikelihood weight of the planner's negatives in the rounds (round 0 too)"""
    planner_epochs: int = 20
    """planner epochs of round 0"""
    round_epochs: int = 8
    """planner epochs of each later round"""
    evaluator_epochs: int = 6
    """evaluator epochs"""
    episodes: int = 200
    """seeded test-split episodes per agent in the final evaluation"""
    workers: int = 1
    """labelling processes"""
    threads: int = 1
    """torch CPU threads"""
    seed: int = 0
    """base seed (datasets use seed, seed+1, ...: their objects never repeat)"""
    randomization: str = ""
    """domain randomisation of the labelling env as JSON (RandomizationConfig fields, docs/randomization.md),
    e.g. '{"finger_friction": [0.5, 1.2], "part_density": [0.5, 2]}'; empty: none.  The final evaluation
    runs on the nominal env"""

    def __post_init__(self) -> None:
        if self.objects < 1 or self.attempts < 1 or self.episodes < 1:
            raise ValueError("objects, attempts and episodes must be positive")
        if self.rounds < 0 or (self.rounds and self.round_objects < 1):
            raise ValueError(f"rounds must be >= 0 and round_objects positive, got {self.rounds}, {self.round_objects}")
        self.randomization_config()  # a bad --randomization fails before any labelling

    def randomization_config(self) -> dict:
        """``--randomization`` as the env keyword's dict (``{}`` when empty), validated."""
        from grasp_envs.envs.randomization import RandomizationConfig

        if not self.randomization.strip():
            return {}
        try:
            value = json.loads(self.randomization)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--randomization is not valid JSON ({exc.msg} at column {exc.colno}); pass an object "
                             "such as '{\"finger_friction\": [0.5, 1.2]}'") from None
        if not isinstance(value, dict):
            raise ValueError(f"--randomization must be a JSON object such as '{{\"finger_friction\": [0.5, 1.2]}}', "
                             f"got {type(value).__name__}")
        try:
            return RandomizationConfig.from_any(value).to_dict()
        except ValueError as exc:
            raise ValueError(f"--randomization: {exc}") from None


def _label(out: Path, args: RecipeArgs, num_objects: int, attempts: int, seed: int, planner: str = "") -> dict:
    from grasp_envs.dataset import GenerateConfig, generate

    kw = {}
    if planner:
        kw = {"proposer": "agents.proposals:PlannerProposals", "proposer_kwargs": {"checkpoint": planner}}
    randomization = args.randomization_config()
    if randomization:
        kw["env_kwargs"] = {"randomization": randomization}
    config = GenerateConfig(env_id=args.env_id, num_objects=num_objects, attempts=attempts, seed=seed,
                            scenes_per_shard=25, **kw)
    summary = generate(config, out, workers=args.workers, resume=(out / "manifest.json").exists())
    return {"scenes": summary.scenes, "attempts": summary.attempts, "successes": summary.successes,
            "seconds": summary.elapsed_s}


def recipe(args: RecipeArgs, progress: bool = True) -> dict:
    """Run every step; returns (and writes to ``OUT/results.json``) timings, per-round figures and results."""
    out = Path(args.out)
    dims = int(gym.spec(args.env_id).kwargs.get("dims", 4))
    log: dict = {"args": asdict(args), "steps": []}
    t_all = time.perf_counter()

    def step(name: str, fn):
        t0 = time.perf_counter()
        result = fn()
        log["steps"].append({"step": name, "seconds": time.perf_counter() - t0,
                             **(result if isinstance(result, dict) else {})})
        return result

    datasets = [out / "data" / "uniform"]
    step("label uniform", lambda: _label(datasets[0], args, args.objects, args.attempts, args.seed))
    planner_args = dict(augment=dims == 4, threads=args.threads, seed=args.seed, negatives=args.negatives)

    def fit(k: int, init: str, epochs: int) -> dict:
        stem = train_planner(PlannerArgs(data=",".join(map(str, datasets)), out=str(out / f"round{k}"),
                                         epochs=epochs, init=init, **planner_args), progress)
        from agents.checkpoint import load_checkpoint

        return {"planner": str(stem), "val": load_checkpoint(stem, kind="planner").checkpoint_meta["val"]}

    planner = step("planner round 0", lambda: fit(0, args.init, args.planner_epochs))["planner"]
    for k in range(1, args.rounds + 1):
        datasets.append(out / "data" / f"round{k}")
        step(f"label proposals round {k}", lambda: _label(datasets[-1], args, args.round_objects, args.round_uniform,
                                                          args.seed + k, planner))
        planner = step(f"planner round {k}", lambda: fit(k, planner, args.round_epochs))["planner"]
    evaluator = step("evaluator", lambda: {"evaluator": str(train_evaluator(EvaluatorArgs(
        data=",".join(map(str, datasets)), out=str(out), epochs=args.evaluator_epochs, threads=args.threads,
        seed=args.seed), progress))})["evaluator"]
    results = step("evaluate", lambda: {"results": [
        {k: v for k, v in r.items() if k != "records"} for r in evaluate_agents(
            args.env_id, ["random", "centroid", "planner", "full"], args.episodes, seed=args.seed, split="test",
            agent_kwargs={"planner": {"checkpoint": planner}, "full": {"checkpoint": planner, "evaluator": evaluator}},
            progress=progress)]})["results"]
    summary = {"seconds": time.perf_counter() - t_all, "planner": planner, "evaluator": evaluator,
               "expected": EXPECTED_RANDOM_TEST, "results": results, **log}
    (out / "results.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    return script_main(RecipeArgs, recipe, "python -m agents.recipe", __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
