"""Simulated grasp attempts per second: the C engine against the Warp backend, in one run.

Like for like: for each of ``--objects`` random objects in a random orientation, uniform grid
draws (the env's action grid) that pass rejection are collected until there are ``--grasps`` of
them; the C engine (``GraspSimulator.simulate``, ``mujoco.rollout``) executes ``--c-grasps`` of
them, single-threaded and on every core, and the Warp backend executes all ``--grasps`` as
parallel worlds (batches of ``--nworld``) on ``--device``, ``--batch-objects`` objects sharing
the batches.  Both start from the same settled rest
state and run the same 0.3 s close, 0.5 s lift and 0.2 s hold at the same 2 ms step.

Printed per engine: attempts/s (median over objects) and the per-object setup the Warp backend
pays (model upload, data allocation, CUDA-graph capture) apart from its steady rate.  Rejection
runs on the CPU in both cases and is printed separately (checks/s on one core).

    python -m benchmarks.warp_throughput --device cuda --objects 8 --batch-objects 8 --grasps 2048 --nworld 16384
    python -m benchmarks.warp_throughput --device cpu --objects 2 --grasps 16 --nworld 16 --c-grasps 16
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from benchmarks.stats import median
from grasp_envs.grid import GraspGrid, GraspPoses
from grasp_envs.objects import generate_random_object
from grasp_envs.objects.procedural import random_rotation
from grasp_envs.sim import GraspSimulator, Rejection


def live_grasps(sim: GraspSimulator, grid: GraspGrid, n: int, rng: np.random.Generator):
    """``n`` uniform grid grasps that pass rejection, and the rejection checks/s on the way."""
    found, checked, seconds = [], 0, 0.0
    while sum(len(p) for p in found) < n:
        poses = grid.decode(rng.integers(0, grid.n_bins, size=(4000, grid.dims)), sim.object_bounds)
        t = time.perf_counter()
        live = np.flatnonzero(sim.reject(poses) == Rejection.NONE)
        seconds += time.perf_counter() - t
        checked += len(poses)
        found.append(poses[live])
        if checked > 400 * n + 40_000:
            raise RuntimeError(f"{sim.obj.name}: too few grasps pass rejection for --grasps {n}")
    position = np.concatenate([p.position for p in found])[:n]
    rotation = np.concatenate([p.rotation for p in found])[:n]
    return GraspPoses(position, rotation), checked / seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=3)
    ap.add_argument("--grasps", type=int, default=None, help="simulated grasps per object on the Warp device "
                    "(default: 4 x nworld)")
    ap.add_argument("--nworld", type=int, default=None, help="worlds per device batch (default: by device)")
    ap.add_argument("--c-grasps", type=int, default=64, help="of those, how many the C engine runs per object")
    ap.add_argument("--dims", type=int, default=4, choices=[4, 6])
    ap.add_argument("--device", default=None, help="Warp device: cuda, cuda:N or cpu (default: Warp's default)")
    ap.add_argument("--batch-objects", type=int, default=1, help="objects sharing the Warp backend's batches")
    ap.add_argument("--nconmax", type=int, default=96, help="contact slots per world")
    ap.add_argument("--njmax", type=int, default=384, help="constraint rows per world")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from grasp_envs.sim.warp_backend import (DEFAULT_NWORLD, WarpGraspBackend, WarpUnavailableError, import_warp,
                                             quiet_warp)

    try:
        wp, _ = import_warp()
    except WarpUnavailableError as exc:
        ap.error(str(exc))
    quiet_warp()
    device = wp.get_device(args.device)
    nworld = args.nworld or DEFAULT_NWORLD["cuda" if device.is_cuda else "cpu"]
    n_grasps = args.grasps or 4 * nworld
    if args.batch_objects < 1:
        ap.error(f"--batch-objects must be at least 1, got {args.batch_objects}")
    if args.c_grasps > n_grasps:
        ap.error(f"--c-grasps {args.c_grasps} exceeds --grasps {n_grasps}")
    cores = os.cpu_count() or 1
    label = f"{device.alias} ({device.name})"
    print(f"host: {platform.processor() or platform.machine()}, {cores} cores; Warp device {label}; "
          f"{args.objects} objects, {n_grasps} grasps each on Warp ({nworld} worlds per batch, "
          f"{args.batch_objects} objects per backend, nconmax {args.nconmax}, njmax {args.njmax}), "
          f"{args.c_grasps} on the C engine")
    grid = GraspGrid(args.dims)
    rows = {k: [] for k in ("c1", "cN", "warp_first", "warp", "setup", "reject")}
    seeds = [args.seed + i for i in range(args.objects)]
    for group in [seeds[i : i + args.batch_objects] for i in range(0, len(seeds), args.batch_objects)]:
        sims, all_poses = [], []
        for seed in group:
            rng = np.random.default_rng(seed)
            obj = generate_random_object(seed)
            orientation = random_rotation(rng)
            sim = GraspSimulator(obj, orientation=orientation)
            poses, reject_rate = live_grasps(sim, grid, n_grasps, rng)
            rows["reject"].append(reject_rate)
            c_poses = poses[np.arange(args.c_grasps)]
            t = time.perf_counter()
            sim.simulate(c_poses)
            rows["c1"].append(args.c_grasps / (time.perf_counter() - t))
            if cores > 1:
                sim_n = GraspSimulator(obj, orientation=orientation, nthread=cores)
                t = time.perf_counter()
                sim_n.simulate(c_poses)
                rows["cN"].append(args.c_grasps / (time.perf_counter() - t))
            sims.append(sim)
            all_poses.append(poses)
        t = time.perf_counter()
        backend = WarpGraspBackend(sims, device=args.device, nworld=nworld, nconmax=args.nconmax, njmax=args.njmax)
        wp.synchronize()
        rows["setup"].append(time.perf_counter() - t)
        total = n_grasps * len(group)
        backend.simulate_many(all_poses)  # first call: kernels load, the CUDA graph is captured
        rows["warp_first"].append(total / backend.last_stats.seconds)
        backend.simulate_many(all_poses)
        rows["warp"].append(total / backend.last_stats.seconds)
        print(f"  objects {group}: C {median(rows['c1'][-len(group):]):.3g}/s on 1 core, Warp {rows['warp'][-1]:.4g}/s "
              f"(first call {rows['warp_first'][-1]:.4g}/s), at most {backend.last_stats.max_contacts} contacts/world")
    c1, warp = median(rows["c1"]), median(rows["warp"])
    print(f"{'C engine, 1 core: simulated attempts/s':58s} {c1:12.4g}")
    if rows["cN"]:
        print(f"{f'C engine, {cores} threads: simulated attempts/s':58s} {median(rows['cN']):12.4g}")
    print(f"{f'Warp on {label}: simulated attempts/s (steady)':58s} {warp:12.4g}")
    print(f"{'Warp, first call (kernels, graph capture): attempts/s':58s} {median(rows['warp_first']):12.4g}")
    print(f"{'Warp setup per backend (model, upload, allocate), s':58s} {median(rows['setup']):12.4g}")
    print(f"{'ratio Warp / C on 1 core':58s} {warp / c1:12.4g}")
    if rows["cN"]:
        print(f"{f'ratio Warp / C on {cores} threads':58s} {warp / median(rows['cN']):12.4g}")
    print(f"{'Warp attempts per day at the steady rate':58s} {warp * 86400:12.4g}")
    print(f"{'rejection checks/s on 1 core (CPU, both engines)':58s} {median(rows['reject']):12.4g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
