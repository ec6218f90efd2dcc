"""Planner training throughput: stacked NLL (one image pass per object) vs naive (one per grasp).

    python -m benchmarks.planner_throughput                    # 1 thread, 32 objects x 16 grasps
    python -m benchmarks.planner_throughput --data RUN/data    # real grasp counts from generated data

Both forms run full training steps (forward, backward, Adam) of the same planner on the same
grasps; samples/s counts successful grasps consumed per second.  The stacked form pads each
object's grasps to the batch's largest count and masks the padding, so the padding's cost is
included.  Observations are real env renders; with ``--data`` the objects' grasp lists come
from generated data, otherwise every object gets ``--grasps`` random grasps.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch

import grasp_envs  # noqa: F401
from agents.planner import GraspPlanner, PlannerConfig
from agents.train_utils import load_data, pad_grasps


def batches(args, dims: int):
    rng = np.random.default_rng(args.seed)
    if args.data:
        d = load_data(args.data, images=False)
        n = len(d["depth"])
        groups = [d["success_grasp"][d["success_object"] == i] for i in range(n)]
        keep = [i for i in range(n) if len(groups[i])][: args.objects]
        return torch.from_numpy(d["depth"][keep]), torch.from_numpy(d["bbox"][keep]), [groups[i] for i in keep]
    env = gym.make(f"grasp_envs/GraspRandom{dims}D-v1")
    depth, bbox = [], []
    for i in range(args.objects):
        obs, _ = env.reset(seed=args.seed + i)
        depth.append(obs["depth"])
        bbox.append(obs["bbox"])
    env.close()
    groups = [rng.integers(0, 20, (args.grasps, dims)) for _ in range(args.objects)]
    return torch.from_numpy(np.stack(depth)), torch.from_numpy(np.stack(bbox)), groups


def time_steps(step, repeats: int) -> float:
    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - t0) / repeats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--objects", type=int, default=32, help="objects per batch")
    p.add_argument("--grasps", type=int, default=16, help="successful grasps per object (without --data)")
    p.add_argument("--data", default="", help="generated data dir: use its objects' real grasp lists")
    p.add_argument("--dims", type=int, default=4, choices=[4, 6])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    depth, bbox, groups = batches(args, args.dims)
    dims = groups[0].shape[1]
    model = GraspPlanner(PlannerConfig(dims=dims))
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    grasps, mask = pad_grasps(groups, dims, 10**9, np.random.default_rng(0))
    grasps, mask = torch.from_numpy(grasps), torch.from_numpy(mask)
    rows = np.concatenate([[i] * len(g) for i, g in enumerate(groups)])
    flat = torch.from_numpy(np.concatenate(groups))
    n = len(flat)

    def stacked():
        loss = model.nll_stacked(model.features(depth, bbox), bbox, grasps, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def naive():
        loss = model.nll_naive(model.features(depth[rows], bbox[rows]), bbox[rows], flat)
        opt.zero_grad()
        loss.backward()
        opt.step()

    ts = time_steps(stacked, args.repeats)
    tn = time_steps(naive, args.repeats)
    params = sum(p.numel() for p in model.parameters())
    print(f"planner {params:,} parameters, {args.threads} thread(s); batch {len(groups)} objects, {n} grasps "
          f"(padded to {grasps.shape[1]} per object)")
    print(f"| form | s/step | samples/s |\n|---|---|---|")
    print(f"| stacked | {ts:.3f} | {n / ts:,.0f} |")
    print(f"| naive | {tn:.3f} | {n / tn:,.0f} |")
    print(f"speed-up: {tn / ts:.1f}x (paper: more than 10x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
