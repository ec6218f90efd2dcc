"""Is the instant rejection sound?  Execute rejected grasps in physics anyway and count lifts.

For train-split random objects, uniform grasps that the rejection refuses are simulated regardless
(``GraspSimulator.simulate``), an even share per reason.  ``closes_on_air`` is a physical claim
(nothing is between the fingers) and must never lift.  The penetration reasons are a feasibility
rule: the open gripper cannot be placed there (a real arm's planner refuses a pose in collision),
but a disembodied gripper started in collision is pushed out by the contact solver and sometimes
closes on the object anyway; the rate printed says how often.  ``blocked_approach`` is a
reachability rule and is not executed.

    python -m benchmarks.rejection_soundness --grasps 500
"""

from __future__ import annotations

import argparse

import numpy as np

from grasp_envs.grid import GraspGrid
from grasp_envs.objects import generate_random_object
from grasp_envs.objects.procedural import random_rotation
from grasp_envs.sim import GraspSimulator, Rejection

PHYSICAL = (Rejection.PENETRATES_TABLE, Rejection.PENETRATES_OBJECT, Rejection.CLOSES_ON_AIR)


def rejected_outcomes(n_wanted: int, per_object: int = 30, dims: int = 4,
                      reasons: tuple[Rejection, ...] = PHYSICAL, first_seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rejection code, lifted) of at least ``n_wanted`` rejected grasps executed in physics."""
    grid = GraspGrid(dims)
    codes, lifted = [], []
    seed = first_seed
    share = max(1, per_object // len(reasons))
    while sum(len(c) for c in codes) < n_wanted:
        sim = GraspSimulator(generate_random_object(seed), orientation=random_rotation(np.random.default_rng(seed)))
        bins = np.random.default_rng(seed + 1).integers(0, grid.n_bins, (400, dims))
        poses = grid.decode(bins, sim.object_bounds)
        rej = sim.reject(poses)
        chosen = np.concatenate([np.flatnonzero(rej == r)[:share] for r in reasons])
        if len(chosen):
            codes.append(rej[chosen])
            lifted.append(sim.simulate(poses[chosen]).success)
        seed += 1
    return np.concatenate(codes), np.concatenate(lifted)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grasps", type=int, default=500, help="rejected grasps to execute")
    ap.add_argument("--dims", type=int, default=4, choices=[4, 6])
    args = ap.parse_args(argv)
    if args.grasps < 1:
        ap.error("--grasps must be positive, e.g. --grasps 500")
    codes, lifted = rejected_outcomes(args.grasps, dims=args.dims)
    print(f"{len(codes)} rejected uniform {args.dims}-D grasps executed in physics anyway (physics v1 defaults)")
    print("| reason | executed | lifted | share |")
    print("|---|---|---|---|")
    for r in PHYSICAL:
        m = codes == r
        print(f"| {r.reason} | {int(m.sum())} | {int(lifted[m].sum())} | {lifted[m].mean() if m.any() else 0:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
