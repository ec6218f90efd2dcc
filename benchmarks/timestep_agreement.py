"""Choose the physics settings by measurement: agreement of grasp outcomes with a 1 ms reference.

For each of ``--objects`` random objects the object is settled once; every configuration then
starts from exactly that rest pose (``GraspSimulator.set_rest_pose``) and executes the same
uniformly drawn grasps that survive rejection.  The reference is the default configuration at a
1 ms step, 50 solver iterations.  The ``dt`` rows differ from it only in the time step; the
speed rows (issue 13) switch on one opt-in ``SimConfig`` option each (early stop, adaptive close)
or change one solver setting or phase length, alone and combined, at the default 2 ms step.
Agreement is the fraction of simulated grasps whose success label equals the reference's
(rejected grasps agree trivially and are not counted).  Attempts/s are physics-only, one
thread, in this run (the ``x default`` column is the ratio to the default row, same objects,
same run).  The last row is the reference against itself with every grasp shifted 0.5 mm along
x: the outcome's own sensitivity, a ceiling for any configuration's agreement.

    python -m benchmarks.timestep_agreement --objects 200 --grasps 10
    python -m benchmarks.timestep_agreement --objects 200 --grasps 5 --only "dt 2 ms (default)" "early stop"
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np
from tqdm import tqdm

from benchmarks.stats import wilson_interval
from grasp_envs.grid import GraspGrid, GraspPoses
from grasp_envs.objects import generate_random_object
from grasp_envs.objects.procedural import random_rotation
from grasp_envs.sim import GraspSimulator, Rejection, SimConfig



REFERENCE = dataclasses.replace(SimConfig(), timestep=0.001, iterations=50, ls_iterations=20)
SHIFT = 0.0005


DEFAULT_ROW = "dt 2 ms (default)"


def candidates() -> dict[str, SimConfig]:
    base = SimConfig()
    rows = {f"dt {dt * 1000:g} ms" + (" (default)" if dt == base.timestep else ""): dataclasses.replace(base, timestep=dt)
            for dt in (0.002, 0.003, 0.004)}
    speed = {
        "early stop": dict(early_stop=True),
        "adaptive close": dict(adaptive_close=True),
        "10 iterations, 5 line search": dict(iterations=10, ls_iterations=5),
        "pyramidal cone": dict(cone="pyramidal"),
        "multiccd off": dict(multiccd=False),
        "hold 0.1 s": dict(hold_time=0.1),
        "lift 0.35 s": dict(lift_time=0.35),
        "early stop, hold 0.1 s, multiccd off": dict(early_stop=True, hold_time=0.1, multiccd=False),
        "early stop, hold 0.1 s, multiccd off, dt 3 ms": dict(early_stop=True, hold_time=0.1, multiccd=False,
                                                            timestep=0.003),
        "early stop, hold 0.1 s, lift 0.35 s, multiccd off, pyramidal, dt 3 ms": dict(
            early_stop=True, hold_time=0.1, lift_time=0.35, multiccd=False, cone="pyramidal", timestep=0.003),
        "early stop, hold 0.1 s, lift 0.35 s": dict(early_stop=True, hold_time=0.1, lift_time=0.35),
        "early stop, hold 0.1 s, lift 0.35 s, dt 3 ms": dict(early_stop=True, hold_time=0.1, lift_time=0.35,
                                                            timestep=0.003),
    }
    rows.update({name: dataclasses.replace(base, **kw) for name, kw in speed.items()})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=200)
    ap.add_argument("--grasps", type=int, default=10, help="simulated (non-rejected) grasps per object")
    ap.add_argument("--dims", type=int, default=4, choices=[4, 6])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", help="candidate names to run (default: all)")
    args = ap.parse_args(argv)

    grid = GraspGrid(args.dims)
    cands = {k: v for k, v in candidates().items() if not args.only or k in args.only}
    names = list(cands) + ["1 ms, grasp shifted 0.5 mm (ceiling)"]
    stats = {k: dict(agree=0, cost=0.0, warn=0, succ=0, agree_v1=0) for k in names}
    total, ref_succ, ref_cost, ref_warn = 0, 0, 0.0, 0
    load0 = os.getloadavg()[0]
    for i in tqdm(range(args.objects), desc="objects", unit="obj"):
        seed = args.seed + i
        rng = np.random.default_rng(seed)
        obj = generate_random_object(seed)
        ref = GraspSimulator(obj, REFERENCE, orientation=random_rotation(rng))
        bins = rng.integers(0, grid.n_bins, size=(400, args.dims))
        poses = grid.decode(bins, ref.object_bounds)
        live = np.flatnonzero(ref.reject(poses) == Rejection.NONE)[: args.grasps]
        if len(live) == 0:
            continue
        poses = poses[live]
        total += len(live)
        t = time.perf_counter()
        ref_out = ref.simulate(poses)
        ref_cost += time.perf_counter() - t
        ref_succ += int(ref_out.success.sum())
        runs = [(name, GraspSimulator(obj, cfg), poses) for name, cfg in cands.items()]
        runs.append((names[-1], ref, GraspPoses(poses.position + [SHIFT, 0.0, 0.0], poses.rotation)))
        v1_out = None
        for name, sim, p in runs:
            st = stats[name]
            sim.set_rest_pose(ref.object_qpos)
            sim.warning_count = 0
            t = time.perf_counter()
            out = sim.simulate(p)
            st["cost"] += time.perf_counter() - t
            st["warn"] += sim.warning_count
            st["agree"] += int((out.success == ref_out.success).sum())
            st["succ"] += int(out.success.sum())
            if name == DEFAULT_ROW:
                v1_out = out
            if v1_out is not None:
                st["agree_v1"] += int((out.success == v1_out.success).sum())
        ref_warn += ref.warning_count
    n = max(total, 1)
    print(f"load average (1 min) {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, {os.cpu_count()} cores")
    print(f"{args.objects} random objects, {total} simulated {args.dims}-D grasps (uniform grid draws that pass rejection)")
    print(f"reference (dt 1 ms): success {ref_succ / n:.3f}, {ref_cost / n * 1e3:.2f} ms / attempt")
    base_cost = stats[DEFAULT_ROW]["cost"] if DEFAULT_ROW in stats else None
    print("| config | agreement with 1 ms | 95% CI | agreement with default | success | ms / attempt, 1 thread | "
          "attempts/s | x default | MuJoCo warnings |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, st in stats.items():
        lo, hi = wilson_interval(st["agree"], total)
        rate = n / st["cost"] if st["cost"] else float("nan")
        speed = f"{base_cost / st['cost']:.2f}" if base_cost and st["cost"] else "-"
        v1 = f"{st['agree_v1'] / n:.3f}" if base_cost else "-"
        print(f"| {name} | {st['agree'] / n:.3f} | [{lo:.3f}, {hi:.3f}] | {v1} | {st['succ'] / n:.3f} | "
              f"{st['cost'] / n * 1e3:.2f} | {rate:.0f} | {speed} | {st['warn']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
