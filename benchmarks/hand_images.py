"""Reprojected against rendered hand-camera images: agreement and time per decision.

    python -m benchmarks.hand_images --dims 4 --scenes 30
    python -m benchmarks.hand_images --dims 6 --scenes 30 --candidates 20

On seeded test scenes of ``GraspRandom{dims}D-v1`` the same ``--candidates`` grasps per scene (the
planner's top of the beam where torch and the shipped planner are there, else uniform bins) get
their hand images both ways: ray cast in the simulated scene (``hand_images="rendered"``) and
reprojected from the overhead depth observation (``"reprojected"``, what the real robot does,
:mod:`grasp_envs.envs.hand_camera`).  Prints the fraction of pixels within 5 mm, 1 cm and 3 cm of
the rendered depth, the fractions where the reprojection is nearer / farther by over 1 cm, and
the median time of each per decision and their ratio (both timed in this run, on this machine).
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import grasp_envs  # noqa: F401
from grasp_envs.envs.hand_camera import reproject_hand_depth


def _proposer(env, dims: int, k: int):
    try:
        from agents import load_agent
        from agents.checkpoint import CheckpointError

        agent = load_agent("planner", env, {"beam_width": k, "prune": False})
    except (ImportError, CheckpointError):
        return "uniform", lambda obs, rng: rng.integers(0, 20, (k, dims))
    return "planner top of the beam", lambda obs, rng: agent.propose(obs, k)[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dims", type=int, default=4, choices=[4, 6])
    p.add_argument("--scenes", type=int, default=30)
    p.add_argument("--candidates", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.scenes < 1 or args.candidates < 1:
        p.error("--scenes and --candidates must be positive (e.g. --scenes 30 --candidates 20)")
    env = gym.make(f"grasp_envs/GraspRandom{args.dims}D-v1", split="test")
    base = env.unwrapped
    source, propose = _proposer(env, args.dims, args.candidates)
    diffs, t_render, t_reproject = [], [], []
    for i in range(args.scenes):
        obs, _ = env.reset(seed=args.seed + i)
        actions = np.asarray(propose(obs, np.random.default_rng([args.seed, i])), np.int64)
        t0 = time.perf_counter()
        rendered = base.hand_camera_images(actions)
        t1 = time.perf_counter()
        reprojected = reproject_hand_depth(obs, base.decode(actions), base.obs_config)
        t2 = time.perf_counter()
        if i:  # the first call pays one-time allocation
            t_render.append(t1 - t0)
            t_reproject.append(t2 - t1)
        diffs.append((reprojected - rendered).ravel())
    env.close()
    d = np.concatenate(diffs)
    print(f"GraspRandom{args.dims}D-v1 test split, {args.scenes} scenes x {args.candidates} candidates ({source}), "
          f"{d.size} hand pixels")
    print("| within 5 mm | within 1 cm | within 3 cm | reprojection nearer > 1 cm | farther > 1 cm |")
    print("|---|---|---|---|---|")
    a = np.abs(d)
    print(f"| {np.mean(a < 0.005):.3f} | {np.mean(a < 0.01):.3f} | {np.mean(a < 0.03):.3f} | {np.mean(d < -0.01):.3f} "
          f"| {np.mean(d > 0.01):.3f} |")
    if t_render:
        r, q = np.median(t_render), np.median(t_reproject)
        print(f"per decision ({args.candidates} candidates): rendered {r * 1e3:.1f} ms, reprojected {q * 1e3:.1f} ms "
              f"(reprojected / rendered = {q / r:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
