"""``grasp-envs generate`` and ``grasp-envs dataset`` subcommands (entry points in pyproject.toml).

    grasp-envs generate --objects random --num-objects 1000 --attempts 2000 --dims 4 --out data/r4 --workers 2
    grasp-envs generate --out data/r4 --resume          # finish an interrupted run with its own settings
    grasp-envs generate ... --backend ray --ray-address auto --workers 64
    grasp-envs generate ... --backend warp --warp-device cuda:0   # label grasps with MuJoCo Warp on a GPU
    grasp-envs generate --num-objects 1000 --attempts 30 --out data/r4-round1 --seed 1 \
        --proposer agents.proposals:PlannerProposals --proposer-kwargs '{"checkpoint": "runs/r0/planner"}'
                                                        # label a planner's proposals (on-policy round)
    grasp-envs dataset info data/r4
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from grasp_envs.cli import positive_int

#: Defaults of the data-determining options (``None`` in the parser so ``--resume`` can tell
#: which ones were given).
DEFAULTS = {"objects": "random", "dims": 4, "attempts": 2000, "split": "train", "seed": 0, "scenes_per_shard": 8}


def add_generate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--objects", choices=["random", "ycb", "shapenet", "scanned"], default=None,
                   help="object set (default random); its env is grasp_envs/Grasp<Set><dims>D-v1")
    p.add_argument("--env-id", default=None, help="registered env id instead of --objects/--dims")
    p.add_argument("--num-objects", type=positive_int("--num-objects 100"), default=None, help="scenes (one object each)")
    p.add_argument("--attempts", type=positive_int("--attempts 2000"), default=None,
                   help="grasps per object, uniform on the grid (default 2000)")
    p.add_argument("--dims", type=int, choices=[4, 6], default=None, help="grasp grid dimensions (default 4)")
    p.add_argument("--split", choices=["train", "test"], default=None, help="object seed split (default train)")
    p.add_argument("--seed", type=int, default=None, help="run seed (default 0)")
    p.add_argument("--scenes-per-shard", type=positive_int("--scenes-per-shard 8"), default=None,
                   help="scenes per Parquet shard (default 8)")
    p.add_argument("--env-kwargs", default=None, help="JSON keyword arguments for gym.make, e.g. an observation config")
    p.add_argument("--proposer", default=None,
                   help="'module:Class' whose grasps are labelled after the uniform ones, e.g. "
                        "agents.proposals:PlannerProposals (a planner's top-k beam and neighbouring bins)")
    p.add_argument("--proposer-kwargs", default=None, help="JSON keyword arguments of --proposer, e.g. "
                                                           "'{\"checkpoint\": \"runs/r0/planner\"}'")
    p.add_argument("--out", required=True, help="dataset directory (new or empty; existing with --resume)")
    p.add_argument("--workers", type=positive_int("--workers 2"), default=1,
                   help="parallel workers (processes or Ray tasks)")
    p.add_argument("--backend", choices=["local", "ray", "warp"], default="local",
                   help="local process pool, a Ray cluster, or MuJoCo Warp on one device (the warp extra; "
                        "its labels are the Warp engine's, a different dataset)")
    p.add_argument("--warp-device", default=None, help="Warp device of --backend warp (cuda, cuda:N or cpu; "
                   "default: Warp's default)")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (e.g. auto or ray://head:10001)")
    p.add_argument("--resume", action="store_true", help="finish an interrupted run in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace):
    from grasp_envs.dataset import storage
    from grasp_envs.dataset.generate import GenerateConfig, object_set_env_id

    given = {k: getattr(args, k) for k in ("num_objects", "attempts", "split", "seed", "scenes_per_shard")
             if getattr(args, k) is not None}
    if args.env_kwargs is not None:
        try:
            given["env_kwargs"] = json.loads(args.env_kwargs)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--env-kwargs is not valid JSON ({exc}); example: --env-kwargs '{{\"observation\": {{\"n_cameras\": 2}}}}'") from exc
    if getattr(args, "backend", "local") == "warp":
        given["engine"] = "warp"
    if getattr(args, "proposer", None) is not None:
        given["proposer"] = args.proposer
    if getattr(args, "proposer_kwargs", None) is not None:
        try:
            given["proposer_kwargs"] = json.loads(args.proposer_kwargs)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--proposer-kwargs is not valid JSON ({exc}); example: "
                             f"--proposer-kwargs '{{\"checkpoint\": \"runs/r0/planner\"}}'") from exc
    if args.env_id is not None:
        if args.objects is not None or args.dims is not None:
            raise ValueError("pass either --env-id or --objects/--dims, not both")
        given["env_id"] = args.env_id
    elif args.objects is not None or args.dims is not None:
        given["env_id"] = object_set_env_id(args.objects or DEFAULTS["objects"], args.dims or DEFAULTS["dims"])
    base: dict = {}
    if args.resume and (Path(args.out) / storage.MANIFEST).exists():
        base = dict(storage.read_manifest(Path(args.out))["config"])
    else:
        base = {"env_id": object_set_env_id(DEFAULTS["objects"], DEFAULTS["dims"]),
                **{k: DEFAULTS[k] for k in ("attempts", "split", "seed", "scenes_per_shard")}}
        if "num_objects" not in given:
            if args.resume:
                raise ValueError(f"{args.out} holds no dataset to resume (no manifest.json); "
                                 f"start one by giving --num-objects")
            raise ValueError("--num-objects is required for a new dataset")
    base.update(given)
    return GenerateConfig(**base)


def run_generate(args: argparse.Namespace) -> int:
    from grasp_envs.dataset.generate import generate

    config = config_from_args(args)
    if args.backend == "warp":
        from grasp_envs.sim.warp_backend import quiet_warp

        quiet_warp()
    summary = generate(config, args.out, workers=args.workers, backend=args.backend, resume=args.resume,
                       ray_address=args.ray_address, progress=not args.no_progress, device=args.warp_device)
    print(summary.format())
    return 0


def run_info(args: argparse.Namespace) -> int:
    from grasp_envs.dataset.info import dataset_info, format_info

    info = dataset_info(args.dir)
    print(json.dumps(info, indent=2, sort_keys=True) if args.json else format_info(info))
    return 0 if all(h == "ok" for h in info["health"].values()) else 1


def register_generate(subparsers) -> None:
    p = subparsers.add_parser("generate", help="generate a grasp dataset (Parquet shards, resumable)")
    add_generate_arguments(p)
    p.set_defaults(func=run_generate)


def register_dataset(subparsers) -> None:
    p = subparsers.add_parser("dataset", help="inspect grasp datasets")
    sub = p.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    info = sub.add_parser("info", help="counts, success fraction and shard health of a dataset")
    info.add_argument("dir")
    info.add_argument("--json", action="store_true", help="print the summary as JSON")
    info.set_defaults(func=run_info)


def main(argv: list[str] | None = None) -> int:
    """``python -m grasp_envs.dataset.cli ARGS`` = ``grasp-envs generate ARGS``."""
    import sys

    p = argparse.ArgumentParser(prog="grasp-envs generate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_generate_arguments(p)
    args = p.parse_args(argv)
    try:
        return run_generate(args)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"grasp-envs generate: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
