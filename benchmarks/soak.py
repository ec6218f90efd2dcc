"""Soak: many procedural objects with Random and Centroid grasps in one process.

Counts crashes (exceptions), NaN observations or outcomes, MuJoCo instability warnings, objects
that sank through the table, and samples resident memory every ``--every`` objects; prints the
memory growth per 1,000 objects (a least-squares slope after the first sample).

    python -m benchmarks.soak --objects 10000
"""

from __future__ import annotations

import argparse
import resource
import time
import traceback

import gymnasium as gym
import numpy as np
from tqdm import tqdm

import grasp_envs  # noqa: F401
from agents import CentroidAgent, RandomAgent


def rss_mb() -> float:
    """Current resident set size in MB (from /proc; falls back to the peak on other systems)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dims", type=int, default=4, choices=[4, 6])
    args = ap.parse_args(argv)
    env = gym.make(f"grasp_envs/GraspRandom{args.dims}D-v1")
    base = env.unwrapped
    agents = [RandomAgent(env, seed=args.seed), CentroidAgent(env, seed=args.seed)]
    crashes, nans, sunk, warnings, successes = [], 0, 0, 0, [0, 0]
    mem = []
    t0 = time.perf_counter()
    for i in tqdm(range(args.objects), unit="obj", desc="soak"):
        try:
            obs, info = env.reset(seed=args.seed + i)
            if not np.all(np.isfinite(obs["depth"])):
                nans += 1
            if base.simulator.object_bounds[0, 2] < -0.003:
                sunk += 1
            for k, agent in enumerate(agents):
                out = base.evaluate_grasps(agent.act(obs))
                if not np.all(np.isfinite(out.lift)):
                    nans += 1
                successes[k] += int(out.success[0])
            warnings += base.simulator.warning_count
        except Exception:  # noqa: BLE001 - a soak counts every failure
            crashes.append((args.seed + i, traceback.format_exc(limit=2)))
        if i % args.every == 0:
            mem.append((i, rss_mb()))
    elapsed = time.perf_counter() - t0
    x = np.array([m[0] for m in mem[1:]], float)
    y = np.array([m[1] for m in mem[1:]], float)
    slope = float(np.polyfit(x, y, 1)[0] * 1000) if len(x) > 2 else float("nan")
    n = args.objects
    print(f"soak: {n} objects ({args.dims}-D) in {elapsed:.0f} s")
    print(f"crashes {len(crashes)}, NaN {nans}, MuJoCo warnings {warnings}, sunk through the table {sunk}")
    print(f"Random success {successes[0] / n:.3f}, Centroid success {successes[1] / n:.3f}")
    print(f"resident memory: first {mem[0][1]:.0f} MB, last {mem[-1][1]:.0f} MB, growth {slope:.2f} MB per 1,000 objects")
    for seed, tb in crashes[:5]:
        print(f"crash at seed {seed}:\n{tb}")
    return 1 if crashes or nans or warnings or sunk else 0


if __name__ == "__main__":
    raise SystemExit(main())
