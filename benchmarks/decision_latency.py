"""Decision latency of the learned agents on CPU (paper target for the full agent: 60 ms).

    python -m benchmarks.decision_latency --scenes 30 --threads 1

Times ``agent.act(observation)`` on seeded test scenes: for ``full`` this is beam search
(width 20), rendering the 20 candidates' hand-camera depth images by ray casting, and scoring
them with the evaluator.  Uses the shipped checkpoints unless ``--planner``/``--evaluator`` name
others.  Prints median, 95th percentile and maximum.
"""

from __future__ import annotations

import argparse
import os
import time

import gymnasium as gym
import numpy as np
import torch

import grasp_envs  # noqa: F401
from agents import load_agent

TARGET_S = 0.060


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenes", type=int, default=30)
    p.add_argument("--dims", type=int, default=4, choices=[4, 6])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--planner", default="", help="planner checkpoint stem (default: shipped)")
    p.add_argument("--evaluator", default="", help="evaluator checkpoint stem (default: shipped)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    env = gym.make(f"grasp_envs/GraspRandom{args.dims}D-v1", split="test")
    kw = {"planner": {}, "full": {}}
    if args.planner:
        kw["planner"]["checkpoint"] = kw["full"]["checkpoint"] = args.planner
    if args.evaluator:
        kw["full"]["evaluator"] = args.evaluator
    agents = {name: load_agent(name, env, kw[name]) for name in ("planner", "full")}
    times = {name: [] for name in agents}
    for i in range(args.scenes):
        obs, _ = env.reset(seed=args.seed + i)
        for name, agent in agents.items():
            t0 = time.perf_counter()
            agent.act(obs)
            if i > 0:  # the first call pays one-time allocation
                times[name].append(time.perf_counter() - t0)
    env.close()
    print(f"decision latency over {args.scenes - 1} scenes, {args.threads} torch thread(s), {args.dims}-D")
    print("| agent | min ms | median ms | p95 ms | max ms |\n|---|---|---|---|---|")
    for name, t in times.items():
        t = np.array(t) * 1000
        print(f"| {name} | {t.min():.1f} | {np.median(t):.1f} | {np.percentile(t, 95):.1f} | {t.max():.1f} |")
    med = np.median(times["full"])
    if hasattr(os, "getloadavg"):
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
              f"CPUs (a loaded machine inflates median and tail; min shows the unloaded cost)")
    print(f"full agent median {med * 1000:.1f} ms: {'within' if med <= TARGET_S else 'above'} the {TARGET_S * 1000:.0f} ms target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
