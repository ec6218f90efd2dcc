"""Dataset generation throughput: labelled attempts per hour, 1 vs 2 workers, local and Ray backends.

    python -m benchmarks.datagen_throughput                       # 16 objects x 2000 attempts per run
    python -m benchmarks.datagen_throughput --objects 32 --backends local
    python -m benchmarks.datagen_throughput --backends local --env-kwargs '{"sim": {"early_stop": true}}'

Each run is a complete ``grasp_envs.dataset.generate`` job into a fresh directory, images
included (overhead depth per scene, hand-camera depth per simulated attempt), Parquet shards
written and checksummed: the figure is end to end.  Worker start-up counts; for the Ray backend
the local Ray instance is started before the clock (a cluster is already running when a job is
submitted to it).  All runs of one invocation generate the same dataset, and the script checks
that their shards are byte-identical.  Besides wall-clock attempts per hour it prints attempts
per hour of worker CPU time (generation only, from ``time.process_time`` in each worker), which
moves much less with other users' load; on an otherwise idle machine the wall-clock figure of W
workers approaches W times it.  The load average before and after each run is printed
because the machine may be shared; compare only figures from one invocation.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

import grasp_envs  # noqa: F401  (registers the ids)
from grasp_envs.dataset import GenerateConfig, generate


def _digests(root: Path) -> dict:
    m = json.loads((root / "manifest.json").read_text())
    return {f["path"]: f["sha256"] for s in m["shards"] for f in s["files"].values()}


def run_one(config: GenerateConfig, backend: str, workers: int, tmp: Path) -> dict:
    out = tmp / f"{backend}-{workers}"
    ray = None
    if backend == "ray":
        import ray

        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    load0 = os.getloadavg()[0]
    try:
        s = generate(config, out, workers=workers, backend=backend, progress=False)
    finally:
        if ray is not None:
            ray.shutdown()
    row = {"backend": backend, "workers": workers, "attempts": s.attempts_generated, "simulated": s.simulated,
           "seconds": s.elapsed_s, "attempts_per_hour": s.attempts_per_hour, "per_cpu_hour": s.attempts_per_cpu_hour, "load_before": load0,
           "load_after": os.getloadavg()[0], "digests": _digests(out)}
    shutil.rmtree(out)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--objects", type=int, default=16)
    p.add_argument("--attempts", type=int, default=2000)
    p.add_argument("--dims", type=int, default=4, choices=[4, 6])
    p.add_argument("--scenes-per-shard", type=int, default=2)
    p.add_argument("--backends", nargs="+", default=["local", "ray"], choices=["local", "ray"])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--env-kwargs", default="{}",
                   help="JSON keyword arguments for gym.make, e.g. an opt-in speed option: "
                        "'{\"sim\": {\"early_stop\": true}}' (not physics v1: another physics identity)")
    args = p.parse_args(argv)
    try:
        env_kwargs = json.loads(args.env_kwargs)
    except json.JSONDecodeError as exc:
        p.error(f"--env-kwargs is not JSON ({exc}); e.g. --env-kwargs '{{\"sim\": {{\"early_stop\": true}}}}'")
    config = GenerateConfig(env_id=f"grasp_envs/GraspRandom{args.dims}D-v1", num_objects=args.objects,
                            attempts=args.attempts, seed=args.seed, scenes_per_shard=args.scenes_per_shard,
                            env_kwargs=env_kwargs)
    print(f"cpus: {os.cpu_count()}, load average at start: {os.getloadavg()}")
    print(f"job: {args.objects} objects x {args.attempts} attempts, GraspRandom{args.dims}D, "
          f"{args.scenes_per_shard} scenes per shard, env kwargs {json.dumps(env_kwargs)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="datagen-") as tmp:
        for backend in args.backends:
            if backend == "ray":
                try:
                    import ray  # noqa: F401
                except ImportError:
                    print("ray is not installed: skipping the ray backend (pip install 'grasp-envs[ray]')")
                    continue
            for w in args.workers:
                row = run_one(config, backend, w, Path(tmp))
                rows.append(row)
                print(f"{backend:5s} workers={w}: {row['attempts']} attempts ({row['simulated']} simulated, with hand images) "
                      f"in {row['seconds']:.1f} s = {row['attempts_per_hour']:,.0f} attempts/h; "
                      f"{row['per_cpu_hour']:,.0f} attempts per worker-CPU-hour "
                      f"(load {row['load_before']:.1f} -> {row['load_after']:.1f})", flush=True)
    print()
    print("| backend | workers | seconds | attempts/h | speedup vs 1 worker | attempts per worker-CPU-hour | load avg before/after |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        base = next((b for b in rows if b["backend"] == r["backend"] and b["workers"] == 1), None)
        speed = f"{r['attempts_per_hour'] / base['attempts_per_hour']:.2f}x" if base else "-"
        print(f"| {r['backend']} | {r['workers']} | {r['seconds']:.1f} | {r['attempts_per_hour']:,.0f} | {speed} | "
              f"{r['per_cpu_hour']:,.0f} | "
              f"{r['load_before']:.1f} / {r['load_after']:.1f} |")
    same = all(r["digests"] == rows[0]["digests"] for r in rows)
    print(f"\nall runs produced byte-identical shards: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
