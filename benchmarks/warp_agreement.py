"""Agreement of grasp outcomes between the Warp backend and the C engine (the reference).

For each of ``--objects`` random objects in a random orientation the C-engine simulator settles
the object once; uniform grid draws (``--dims``-D, the env's action grid) that pass rejection are
kept, up to ``--grasps`` per object, and executed twice from the same rest state with the same
controls: by ``GraspSimulator.simulate`` (C, float64, ``mujoco.rollout``) and by
``WarpGraspBackend.simulate`` (MuJoCo Warp, float32, the object's grasps as parallel worlds).
Agreement is the fraction of these simulated grasps whose success label is the same; its 95%
interval is clustered by object (grasp_envs/stats.py).  Rejected grasps never reach physics and
are not counted.

    python -m benchmarks.warp_agreement --objects 50 --grasps 20 --device cuda     # 1,000 grasps
    python -m benchmarks.warp_agreement --objects 5 --grasps 8 --device cpu        # a CPU check

``--out FILE`` appends one JSON line per object as it finishes (``--report FILE`` summarises
such a file, e.g. of an interrupted run).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from grasp_envs.grid import GraspGrid
from grasp_envs.objects import generate_random_object
from grasp_envs.objects.procedural import random_rotation
from grasp_envs.sim import GraspSimulator, Rejection
from grasp_envs.stats import clustered_wilson_interval


def object_rows(seed: int, n_grasps: int, dims: int, device: str | None, nworld: int | None) -> dict | None:
    """C and Warp outcomes of up to ``n_grasps`` simulated grasps on random object ``seed``."""
    from grasp_envs.sim.warp_backend import WarpGraspBackend

    rng = np.random.default_rng(seed)
    sim = GraspSimulator(generate_random_object(seed), orientation=random_rotation(rng))
    grid = GraspGrid(dims)
    poses = grid.decode(rng.integers(0, grid.n_bins, size=(400, dims)), sim.object_bounds)
    live = np.flatnonzero(sim.reject(poses) == Rejection.NONE)[:n_grasps]
    if len(live) == 0:
        return None
    poses = poses[live]
    t = time.perf_counter()
    ref = sim.simulate(poses)
    c_s = time.perf_counter() - t
    backend = WarpGraspBackend(sim, device=device, nworld=nworld or n_grasps)
    out = backend.simulate(poses)
    return dict(seed=seed, n=len(live), c_success=ref.success.astype(int).tolist(),
                warp_success=out.success.astype(int).tolist(), c_lift=np.round(ref.lift, 4).tolist(),
                warp_lift=np.round(out.lift, 4).tolist(), c_unstable=int(sim.unstable_count),
                warp_unstable=backend.last_stats.unstable, c_s=c_s, warp_s=backend.last_stats.seconds,
                warp_max_contacts=backend.last_stats.max_contacts, device=str(backend.device))


def summarise(rows: list[dict]) -> str:
    agree, sizes = [], []
    c_succ = w_succ = unstable = 0
    for r in rows:
        c, w = np.array(r["c_success"], bool), np.array(r["warp_success"], bool)
        agree.append(int((c == w).sum()))
        sizes.append(len(c))
        c_succ += int(c.sum())
        w_succ += int(w.sum())
        unstable += r["warp_unstable"]
    n = max(sum(sizes), 1)
    lo, hi = clustered_wilson_interval(agree, sizes)
    c_only = sum(int((np.array(r["c_success"], bool) & ~np.array(r["warp_success"], bool)).sum()) for r in rows)
    w_only = sum(int((~np.array(r["c_success"], bool) & np.array(r["warp_success"], bool)).sum()) for r in rows)
    device = rows[0]["device"] if rows else "?"
    return "\n".join([
        f"{len(rows)} objects, {sum(sizes)} simulated grasps; Warp device {device}",
        f"agreement with the C engine: {sum(agree) / n:.3f}  95% CI (clustered by object) [{lo:.3f}, {hi:.3f}]",
        f"success rate: C {c_succ / n:.3f}, Warp {w_succ / n:.3f}; succeeded in C only {c_only}, in Warp only {w_only}",
        f"non-finite Warp states: {unstable}",
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=50)
    ap.add_argument("--grasps", type=int, default=20, help="simulated (non-rejected) grasps per object")
    ap.add_argument("--dims", type=int, default=4, choices=[4, 6])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None, help="Warp device: cuda, cuda:N or cpu (default: Warp's default)")
    ap.add_argument("--nworld", type=int, default=None, help="worlds per device batch (default: --grasps)")
    ap.add_argument("--out", type=Path, default=None, help="append one JSON line per object to this file")
    ap.add_argument("--report", type=Path, default=None, help="only summarise a file written by --out")
    args = ap.parse_args(argv)
    if args.report is not None:
        if not args.report.exists():
            ap.error(f"--report {args.report}: no such file (write one with --out)")
        rows = [json.loads(line) for line in args.report.read_text().splitlines() if line.strip()]
        print(summarise(rows))
        return 0
    from grasp_envs.sim.warp_backend import WarpUnavailableError, quiet_warp

    try:
        quiet_warp()
    except WarpUnavailableError as exc:
        ap.error(str(exc))
    print(f"host: {platform.processor() or platform.machine()}; C engine single-threaded")
    rows = []
    bar = tqdm(range(args.objects), desc="objects", unit="obj")
    for i in bar:
        row = object_rows(args.seed + i, args.grasps, args.dims, args.device, args.nworld)
        if row is None:
            continue
        rows.append(row)
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
        agree = sum(int((np.array(r["c_success"]) == np.array(r["warp_success"])).sum()) for r in rows)
        bar.set_postfix(grasps=sum(r["n"] for r in rows), agree=f"{agree / sum(r['n'] for r in rows):.3f}")
    print(summarise(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
