"""How many of a task's objects can be grasped at all: the ceiling every agent stands against.

    python -m benchmarks.graspable --task random-4d-test-v1 --scenes 300 --budget 2000
    python -m benchmarks.graspable --task ycb-4d-v1 --scenes 300 --budget 2000 --out results/graspable_ycb.json

For each of the task's first ``--scenes`` scenes, uniformly random grasps on the task's grid
(seeded by the scene index) are executed in simulation in batches of ``--batch`` through
``env.unwrapped.evaluate_grasps`` until one succeeds or ``--budget`` grasps have been tried.
Prints the fraction of scenes with a success (Wilson 95% interval, clustered by object where
objects repeat, as on YCB) and how many grasps the first success took.  The paper chose 2,000 grasps per object so that more than 95% of its
objects had a success; a scene without one in 2,000 is at best very hard to grasp, so an agent's
success rate is best read against this fraction.  Rejected grasps cost almost nothing, so the
cost is that of the simulated ones (about 3 in 10 uniform 4-D grasps).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from benchmarks.stats import cluster_counts, clustered_wilson_interval, median
from benchmarks.tasks import get_task


def first_success(env, n_bins: int, dims: int, budget: int, batch: int, rng: np.random.Generator) -> tuple[int | None, int]:
    """Index (1-based) of the first successful uniform grasp, or None; and the grasps tried."""
    tried = 0
    while tried < budget:
        n = min(batch, budget - tried)
        ok = env.unwrapped.evaluate_grasps(rng.integers(0, n_bins, (n, dims))).success
        hit = np.flatnonzero(ok)
        if len(hit):
            return tried + int(hit[0]) + 1, tried + n
        tried += n
    return None, tried


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="random-4d-test-v1")
    p.add_argument("--scenes", type=int, default=300)
    p.add_argument("--budget", type=int, default=2000, help="uniform grasps at most per scene")
    p.add_argument("--batch", type=int, default=100, help="grasps executed per batch (the search stops at the first success)")
    p.add_argument("--out", default="", help="write per-scene records and the summary as JSON")
    args = p.parse_args(argv)
    if args.budget < 1 or args.batch < 1 or args.scenes < 1:
        p.error("--budget, --batch and --scenes must be positive")
    task = get_task(args.task)
    env = task.make_env()
    grid = env.unwrapped.grid
    records = []
    t0 = time.perf_counter()
    for scene in tqdm(task.scenes()[: args.scenes], desc=args.task, unit="scene"):
        _, info = env.reset(seed=scene.reset_seed, options={"object_seed": scene.object_seed})
        rng = np.random.default_rng([scene.index, 0x6A5B])
        first, tried = first_success(env, grid.n_bins, grid.dims, args.budget, args.batch, rng)
        records.append({"scene": scene.index, "object": info["object_name"], "first_success": first, "tried": tried})
    env.close()
    n = len(records)
    hits = [r["first_success"] for r in records if r["first_success"] is not None]
    lo, hi = clustered_wilson_interval(*cluster_counts((r["first_success"] is not None for r in records),
                                                      (r["object"] for r in records)))
    summary = {"graspable": len(hits) / n, "ci95": [lo, hi], "scenes": n, "budget": args.budget,
               "median_first_success": median(hits) if hits else None,
               "grasps_tried": sum(r["tried"] for r in records), "seconds": time.perf_counter() - t0}
    print(f"{args.task}: first {n} scenes, up to {args.budget} uniform grasps each, {summary['seconds']:.0f} s")
    print(f"scenes with a successful grasp: {len(hits) / n:.3f} ({len(hits)}/{n}) [{lo:.3f}, {hi:.3f}]")
    if hits:
        q = np.percentile(hits, [50, 90])
        print(f"grasps to the first success: median {q[0]:.0f}, 90th percentile {q[1]:.0f}, max {max(hits)}")
    if args.out:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"task": args.task, "summary": summary, "records": records}, indent=1) + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
