"""What physics version 1 changed against version 0, on the same objects and the same grasps.

For each of ``--objects`` train-split random objects, each version builds its own object (v1:
exact union mass; v0: grid-counted mass) and simulator, both dropped in the same orientation; the
v1 simulator is then put at v0's rest pose (``GraspSimulator.set_rest_pose``) so both judge the
same ``--grasps`` uniformly drawn grasps from an identical scene.  Printed, in one run:

* mass: v1 against v0 (the grid count's error);
* rejections: how many grasps v1's approach check rejects (``blocked_approach``), and how many
  of those v0 simulated and lifted: grasps the real arm could not have reached;
* outcomes of the grasps both simulate: agreement of the success labels (the effect of the exact
  mass and inertia), beside the success rates;
* cost: object build plus simulator build and settling ("reset") per version, v0 / v1 ratio.

    python -m benchmarks.physics_versions --objects 60 --grasps 200
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tqdm import tqdm

from benchmarks.stats import wilson_interval
from grasp_envs.envs.physics import PHYSICS_VERSIONS
from grasp_envs.envs.random_objects import TRAIN_SEEDS
from grasp_envs.grid import GraspGrid
from grasp_envs.objects import RandomObjectConfig, generate_random_object
from grasp_envs.objects.procedural import random_rotation
from grasp_envs.sim import GraspSimulator, Rejection, SimulationError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=60)
    ap.add_argument("--grasps", type=int, default=200, help="uniform grasps per object")
    ap.add_argument("--dims", type=int, default=4, choices=[4, 6])
    ap.add_argument("--seed", type=int, default=7_000_000, help="first object seed (train split)")
    args = ap.parse_args(argv)
    if args.objects < 1 or args.grasps < 1:
        ap.error("--objects and --grasps must be positive, e.g. --objects 60 --grasps 200")

    grid = GraspGrid(args.dims)
    v0, v1 = PHYSICS_VERSIONS[0], PHYSICS_VERSIONS[1]
    cost = {0: 0.0, 1: 0.0}
    mass_ratio, skipped = [], 0
    n_grasps = blocked = blocked_sim0 = blocked_succ0 = both = agree = succ0 = succ1 = 0
    for i in tqdm(range(args.objects), desc="objects", unit="obj"):
        seed = TRAIN_SEEDS[0] + args.seed + i
        R = random_rotation(np.random.default_rng(seed))
        sims = {}
        try:
            for v, pv in ((0, v0), (1, v1)):
                t = time.perf_counter()
                obj = generate_random_object(seed, config=RandomObjectConfig(volume=pv.object_volume))
                sims[v] = GraspSimulator(obj, pv.sim, orientation=R)
                cost[v] += time.perf_counter() - t
        except SimulationError:
            skipped += 1
            continue
        mass_ratio.append(sims[1].obj.mass / sims[0].obj.mass)
        sims[1].set_rest_pose(sims[0].object_qpos)
        poses = grid.decode(np.random.default_rng(seed + 1).integers(0, grid.n_bins, (args.grasps, args.dims)),
                            sims[0].object_bounds)
        out0, out1 = sims[0].attempt(poses), sims[1].attempt(poses)
        n_grasps += len(poses)
        is_blocked = out1.rejection == Rejection.BLOCKED_APPROACH
        blocked += int(is_blocked.sum())
        blocked_sim0 += int((is_blocked & (out0.rejection == Rejection.NONE)).sum())
        blocked_succ0 += int((is_blocked & out0.success).sum())
        live = (out0.rejection == Rejection.NONE) & (out1.rejection == Rejection.NONE)
        both += int(live.sum())
        agree += int((out0.success[live] == out1.success[live]).sum())
        succ0 += int(out0.success[live].sum())
        succ1 += int(out1.success[live].sum())
    done = len(mass_ratio)
    if done == 0:
        print("no object settled; nothing to compare")
        return 1
    r = np.array(mass_ratio)
    print(f"{done} random train objects ({skipped} skipped: did not settle), {n_grasps} uniform {args.dims}-D grasps")
    print(f"mass v1 / v0: median {np.median(r):.4f}, 5-95% [{np.percentile(r, 5):.4f}, {np.percentile(r, 95):.4f}]")
    print(f"blocked_approach (v1): {blocked} grasps = {blocked / n_grasps:.4f} of all; {blocked_sim0} of them v0 "
          f"simulated, {blocked_succ0} v0 lifted")
    lo, hi = wilson_interval(agree, max(both, 1))
    print(f"grasps simulated by both: {both}; success labels agree {agree / max(both, 1):.4f} [{lo:.4f}, {hi:.4f}]; "
          f"success v0 {succ0 / max(both, 1):.4f}, v1 {succ1 / max(both, 1):.4f}")
    print(f"reset (object + simulator build + settle): v0 {cost[0] / done * 1e3:.1f} ms, v1 {cost[1] / done * 1e3:.1f} ms, "
          f"v0 / v1 = {cost[0] / max(cost[1], 1e-9):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
