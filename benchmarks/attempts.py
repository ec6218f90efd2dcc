"""Several attempts per object: success within 1, 2 and 3 grasps, with and without failure memory.

    python -m benchmarks.attempts --scenes 100
    python -m benchmarks.attempts --scenes 20 --agents planner planner-memory

Every agent plays the same scenes: the first ``--scenes`` scenes of evaluation seed ``--seed`` of
the frozen task ``random-4d-test-3attempts-v2`` (``random-4d-test-v2``'s scenes and physics with
``max_attempts=3``: after a failure the object stays where physics left it and the next
observation shows it), through the one evaluation loop (:func:`benchmarks.evaluate.rollout`).
Success within *k* attempts is an episode that succeeded at its attempt *k* or earlier, so "within
1" is the one-shot success rate on the same scenes (the first attempt of each episode is the
one-shot task's).

The peers, like for like: ``planner`` and ``full`` retry without memory (they plan again on the
new observation), ``planner-memory`` and ``full-memory`` (:mod:`agents.retry`) drop the failed
grasps and their 1-bin neighbours before choosing.  Random and Centroid retry as they act.  Each
failure-aware row is compared with its memoryless peer scene by scene (episodes won and lost
within 3 attempts, and the exact sign test of those scenes).  Intervals are Wilson's, clustered by object (:mod:`grasp_envs.stats`);
every scene here has its own object, so they equal the plain Wilson interval.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.evaluate import rollout
from benchmarks.stats import cluster_counts, clustered_wilson_interval
from benchmarks.tasks import get_task
from grasp_envs.cli import missing_dependency_message, positive_int

TASK = "random-4d-test-3attempts-v2"
ATTEMPTS = (1, 2, 3)
#: Agent rows in table order, and each failure-aware agent's memoryless peer.
AGENTS = ("random", "centroid", "planner", "planner-memory", "full", "full-memory")
PEERS = {"planner-memory": "planner", "full-memory": "full"}


def success_within(record: dict, k: int) -> bool:
    """Whether the episode succeeded at one of its first ``k`` attempts."""
    return bool(record["success"]) and len(record["actions"]) <= k


def repeats(record: dict) -> int:
    """Attempts that repeated the bins of an earlier attempt of the same episode."""
    acts = [tuple(a) for a in record["actions"]]
    return sum(1 for i, a in enumerate(acts) if a in acts[:i])


def summarize_agent(records: list[dict]) -> dict:
    row = {"episodes": len(records), "within": {}}
    objects = [r["object"] for r in records]
    for k in ATTEMPTS:
        wins = [success_within(r, k) for r in records]
        succ, sizes = cluster_counts(wins, objects)
        row["within"][k] = {"successes": sum(wins), "rate": sum(wins) / len(wins),
                            "ci95": list(clustered_wilson_interval(succ, sizes))}
    retries = [a for r in records for a in r["attempts"][1:]]
    failed = [a for r in records for a in r["attempts"] if a["outcome"] == "failure"]
    row["retries"] = len(retries)
    row["repeats"] = sum(repeats(r) for r in records)
    row["rejected_retries"] = sum(1 for a in retries if a["outcome"] == "rejected")
    row["failures"] = len(failed)
    row["moved"] = sum(1 for a in failed if a["object_moved"])
    row["decision_s"] = sum(sum(r["decision_s"]) for r in records) / max(1, sum(len(r["decision_s"]) for r in records))
    return row


def paired(records: list[dict], peer: list[dict], k: int = ATTEMPTS[-1]) -> tuple[int, int]:
    """(scenes won, scenes lost) within ``k`` attempts against the peer's records of the same scenes."""
    by_scene = {(r["seed"], r["scene"]): success_within(r, k) for r in peer}
    won = sum(1 for r in records if success_within(r, k) and not by_scene[(r["seed"], r["scene"])])
    lost = sum(1 for r in records if not success_within(r, k) and by_scene[(r["seed"], r["scene"])])
    return won, lost


def sign_test(won: int, lost: int) -> float:
    """Two-sided exact sign test (McNemar's exact test) of the scenes on which the two agents differ."""
    from scipy.stats import binomtest

    return 1.0 if won + lost == 0 else float(binomtest(won, won + lost, 0.5).pvalue)


def format_table(rows: dict[str, dict], records: dict[str, list[dict]]) -> str:
    lines = ["| agent | within 1 (one-shot) | within 2 | within 3 | retries: repeated / rejected | "
             "failures that moved the object | vs memoryless peer, within 3: won / lost | s per decision |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        cells = []
        for k in ATTEMPTS:
            w = r["within"][k]
            cells.append(f"{w['rate']:.3f} [{w['ci95'][0]:.3f}, {w['ci95'][1]:.3f}]")
        peer = PEERS.get(name)
        vs = "-"
        if peer in records:
            won, lost = paired(records[name], records[peer])
            vs = f"{won} / {lost} (vs {peer}; sign test p = {sign_test(won, lost):.3f})"
        lines.append(f"| {name} | {' | '.join(cells)} | {r['repeats']} / {r['rejected_retries']} of {r['retries']} | "
                     f"{r['moved']} of {r['failures']} | {vs} | {r['decision_s']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=positive_int("--scenes 100"), default=100, help="first N scenes of the task")
    ap.add_argument("--seed", type=int, default=0, help="the task's evaluation seed whose scenes are played")
    ap.add_argument("--agents", nargs="+", default=list(AGENTS), choices=list(AGENTS))
    ap.add_argument("--workers", type=positive_int("--workers 2"), default=1, help="parallel rollout processes")
    ap.add_argument("--out", help="write every agent's episode records to this JSON file")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args(argv)
    task = get_task(TASK)
    if args.seed not in task.seeds:
        ap.error(f"--seed must be one of the task's seeds {list(task.seeds)}, got {args.seed}")
    records: dict[str, list[dict]] = {}
    for name in args.agents:
        try:
            records[name] = rollout(task, name, {}, seeds=(args.seed,), n_scenes=args.scenes, workers=args.workers,
                                    progress=not args.quiet)
        except ImportError as exc:  # the learned agents need torch; Random and Centroid do not
            message = missing_dependency_message(exc)
            if message is None or name in ("random", "centroid"):
                raise
            print(f"skipping {name}: {message}")
        if args.out:  # after every agent, so a long run is never lost
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps({"task": TASK, "seed": args.seed, "scenes": args.scenes,
                                                  "records": records}, indent=1) + "\n")
    rows = {name: summarize_agent(recs) for name, recs in records.items()}
    print(f"{TASK}: the first {args.scenes} scenes of seed {args.seed} ({args.scenes} objects), up to "
          f"{ATTEMPTS[-1]} attempts each; 95% intervals: Wilson clustered by object")
    print(format_table(rows, records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
