"""Object-set benchmarks: processing time, Random/Centroid on YCB, and real-mesh primitive banks.

    python -m benchmarks.object_sets process --root /tmp/ge_bench --workers 2     # YCB set, full CoACD budget
    python -m benchmarks.object_sets baselines --root /tmp/ge_bench --env ycb --scenes-per-object 2
    python -m benchmarks.object_sets bank --out /tmp/ge_bench/dev_bank.npz --episodes 100

``process`` builds a local mirror of the development YCB meshes (../shared/data) in the upstream
archive layout and runs the real downloader on it (``grasp-envs download ycb --mirror DIR``),
timing fetch+verify and convex decomposition.  ``baselines`` evaluates the paper's Random and
Centroid baselines (and, with ``--agents``, the shipped planner and planner + evaluator) on every
downloaded object of a set, both splits pooled, ``scenes-per-object`` seeded scenes each, and
prints 95% intervals (Wilson, clustered by object) beside the paper's YCB figures (Random 0.26,
Centroid 0.54, Planner 0.89, Full 0.92).  ``bank`` builds a primitive bank from the development meshes and compares it, and
the procedural objects it yields, with the embedded default bank, including Centroid success.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from tqdm import tqdm

import grasp_envs  # noqa: F401
from agents import CentroidAgent, load_agent
from benchmarks.learned_agents import REPROJECTED, VARIANTS
from benchmarks.stats import REJECTION_HEADER, cluster_counts, clustered_wilson_interval, rejection_cell, wilson_interval
from grasp_envs.objects import PrimitiveBank, default_bank, generate_random_object
from grasp_envs.objects.datasets import load_index, pinned_top_graspable, split_of
from grasp_envs.objects.mesh_import import DecompositionConfig

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
#: Tobin et al. 2017, Fig. 6, YCB column.
PAPER_YCB = {"random": 0.26, "centroid": 0.54, "planner": 0.89, "full": 0.92}
ENV_NAMES = {"ycb": "YCB", "scanned": "Scanned"}


def _shared() -> Path:
    if not (SHARED / "index.json").exists():
        raise FileNotFoundError(f"development data not found at {SHARED} (the shared/data folder beside the repo)")
    return SHARED


def cmd_process(args) -> int:
    from grasp_envs.objects.download import download_dataset

    shared = _shared()
    ids = sorted(p.name for p in (shared / "ycb").iterdir() if p.is_dir())
    with tempfile.TemporaryDirectory() as tmp:
        import io
        import tarfile

        for oid in ids:  # the upstream archive layout
            out = Path(tmp) / "google" / f"{oid}_google_16k.tgz"
            out.parent.mkdir(parents=True, exist_ok=True)
            with tarfile.open(out, "w:gz") as tf:
                data = (shared / "ycb" / oid / "visual.obj").read_bytes()
                info = tarfile.TarInfo(f"{oid}/google_16k/textured.obj")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
        config = DecompositionConfig.tiny() if args.tiny else DecompositionConfig()
        t0 = time.perf_counter()
        rep = download_dataset("ycb", root=args.root, mirror=tmp, objects=ids, config=config, workers=args.workers)
        wall = time.perf_counter() - t0
    index = load_index("ycb", args.root)
    ent = [index["objects"][o] for o in ids]
    parts = np.array([e["n_parts"] for e in ent])
    secs = np.array([e["decompose_seconds"] for e in ent])
    print(f"YCB dev set: {len(ids)} objects, {'tiny' if args.tiny else 'default'} CoACD budget, {args.workers} workers")
    print(f"  wall time {wall:.1f} s (fetch+extract+verify {rep.fetched_seconds:.1f} s, decomposition "
          f"{rep.processed_seconds:.1f} s, {rep.decomposed} newly decomposed)")
    print(f"  per-object decomposition CPU s: median {np.median(secs):.2f}, max {secs.max():.2f} "
          f"({ids[int(secs.argmax())]}), sum {secs.sum():.1f}")
    print(f"  convex parts per object: median {np.median(parts):.0f}, min {parts.min()}, max {parts.max()}, total {parts.sum()}")
    return 0


def top_grasp_verdict(dataset: str, object_id: str, entry: dict) -> bool:
    """The resting-pose rule's verdict for an index entry (pinned objects: the pinned table)."""
    if "top_grasp" in entry:
        return bool(entry["top_grasp"]["graspable"])
    return pinned_top_graspable(dataset, object_id)  # an index written before the rule existed


def _graspable_ids(args) -> list[str]:
    """The downloaded objects of ``--rule``: ``box`` (smallest extent under 10 cm, the default),
    ``top`` (resting poses and top-down widths) or ``all``."""
    index = load_index(args.env, args.root)
    rule = getattr(args, "rule", "box")
    return [o for o, e in index["objects"].items()
            if rule == "all" or (e["graspable"] if rule == "box" else top_grasp_verdict(args.env, o, e))]


def _pooled_scenes(args, graspable: list[str], dims: int, label: str):
    """Every object of ``graspable``, both splits pooled, ``scenes_per_object`` seeded scenes each.

    Yields ``(env, seed, observation, info)`` after each reset; scene ``k`` of a split uses
    ``reset(seed=args.seed + k)`` and its object ``k % n``, so every command sees the same scenes.
    A split's env is made before its first scene and closed after its last.
    """
    name = ENV_NAMES[args.env]
    for split in ("train", "test"):
        ids = [o for o in graspable if split_of(o) == split]
        if not ids:
            continue
        env = gym.make(f"grasp_envs/Grasp{name}{dims}D-v1", root=str(args.root), object_ids=ids, split=split)
        n = len(env.unwrapped.object_ids)
        try:
            for k in tqdm(range(n * args.scenes_per_object), desc=f"{name}{dims}D {label} {split}", leave=False):
                seed = args.seed + k
                obs, info = env.reset(seed=seed, options={"object_seed": k % n})
                yield env, seed, obs, info
        finally:
            env.close()


#: Agent rows of ``baselines``: name -> (built-in agent, kwargs).  The learned agents use the
#: shipped checkpoints unless ``--planner`` / ``--evaluator`` name others.
#: Row name -> (built-in agent, extra kwargs): the rows of :mod:`benchmarks.learned_agents`, less the
#: one whose hand camera is swapped (it needs that benchmark's interface).
AGENT_ROWS = {name: row for name, row in VARIANTS.items() if name not in REPROJECTED}


def _agent_kwargs(args, row: str) -> tuple[str, dict]:
    base, kw = AGENT_ROWS[row]
    kw = dict(kw)
    if base in ("planner", "full") and getattr(args, "planner", ""):
        kw["checkpoint"] = args.planner
    if base == "full" and getattr(args, "evaluator", ""):
        kw["evaluator"] = args.evaluator
    return base, kw


def cmd_baselines(args) -> int:
    name = ENV_NAMES[args.env]
    graspable = _graspable_ids(args)
    rows = []
    for dims in args.dims:
        for agent_name in args.agents:
            records = []
            agent, agent_env = None, None
            for env, seed, obs, info in _pooled_scenes(args, graspable, dims, agent_name):
                if env is not agent_env:  # a new split's env
                    base, kwargs = _agent_kwargs(args, agent_name)
                    agent, agent_env = load_agent(base, env, kwargs), env
                if hasattr(agent, "reset"):
                    agent.reset(seed)
                _, reward, _, _, info = env.step(agent.act(obs))
                records.append({"object": info["object_name"], "seed": seed, "reward": reward,
                                "rejection": info["rejection"]})
            k = int(sum(r["reward"] for r in records))
            rows.append((dims, agent_name, k, len(records), collections.Counter(r["rejection"] for r in records), records))
    print(f"{', '.join(args.agents)} on {len(graspable)} graspable {args.env} objects, {args.scenes_per_object} seeded "
          f"scenes each (both splits pooled; seeds {args.seed}+):")
    print(f"| env | agent | success | 95% CI | paper (YCB) | {REJECTION_HEADER} |")
    print("|---|---|---|---|---|---|")
    for dims, agent_name, k, n, rej, records in rows:
        # every object runs --scenes-per-object scenes: the interval is clustered by object
        lo, hi = clustered_wilson_interval(*cluster_counts((r["reward"] > 0 for r in records),
                                                          (r["object"] for r in records)))
        print(f"| Grasp{name}{dims}D | {agent_name} | {k / n:.3f} ({k}/{n}) | [{lo:.3f}, {hi:.3f}] | "
              f"{f'{PAPER_YCB[AGENT_ROWS[agent_name][0]]:.2f}' if dims == 4 else 'n/a (4-D only)'} | "
              f"{rejection_cell(rej)} |")
    if args.per_object:
        for dims, agent_name, *_, records in rows:
            per = collections.defaultdict(list)
            for r in records:
                per[r["object"]].append(r["reward"])
            print(f"{name}{dims}D {agent_name}: " + ", ".join(f"{o.split('/')[-1]} {np.mean(v):.1f}" for o, v in sorted(per.items())))
    return 0


def cmd_graspable(args) -> int:
    """Per object: how many scenes any of up to ``--budget`` uniform grasps lifts (benchmarks.graspable)."""
    from benchmarks.graspable import first_success

    name = ENV_NAMES[args.env]
    per: dict[str, list[bool]] = collections.defaultdict(list)
    records = []
    for env, seed, _, info in _pooled_scenes(args, _graspable_ids(args), args.dims, "graspable"):
        grid = env.unwrapped.grid
        first, tried = first_success(env, grid.n_bins, grid.dims, args.budget, 100,
                                     np.random.default_rng([seed, 0x6A5B]))
        per[info["object_name"]].append(first is not None)
        records.append({"object": info["object_name"], "seed": seed, "first_success": first, "tried": tried})
    if args.out:
        import json

        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"env": args.env, "dims": args.dims, "rule": args.rule,
                                              "budget": args.budget, "records": records}, indent=1) + "\n")
    hits = sum(sum(v) for v in per.values())
    total = sum(len(v) for v in per.values())
    lo, hi = clustered_wilson_interval([sum(v) for v in per.values()], [len(v) for v in per.values()])
    never = sorted(o.split("/")[-1] for o, v in per.items() if not any(v))
    label = {"box": "graspable", "top": "graspable (resting-pose rule)", "all": "downloaded"}[args.rule]
    print(f"{name}{args.dims}D, {len(per)} {label} objects x {args.scenes_per_object} scenes, up to {args.budget} "
          f"uniform grasps each: {hits / total:.3f} ({hits}/{total}) [{lo:.3f}, {hi:.3f}] of the scenes have a success")
    print(f"objects with no success in any scene ({len(never)}): {', '.join(never) or 'none'}")
    # The same scenes, split by what each rule says of their object.
    index = load_index(args.env, args.root)["objects"]
    for rule, verdict in (("box rule", lambda o, e: e["graspable"]),
                          ("resting-pose rule", lambda o, e: top_grasp_verdict(args.env, o, e))):
        for says in (True, False):
            group = {o: v for o, v in per.items() if verdict(o.split("/", 1)[1], index[o.split("/", 1)[1]]) == says}
            if group:
                k, n = sum(sum(v) for v in group.values()), sum(len(v) for v in group.values())
                glo, ghi = clustered_wilson_interval([sum(v) for v in group.values()], [len(v) for v in group.values()])
                print(f"  {rule} says {'graspable' if says else 'not graspable'} ({len(group)} objects): "
                      f"{k / n:.3f} ({k}/{n}) [{glo:.3f}, {ghi:.3f}]"
                      + ("" if says else f": {', '.join(sorted(o.split('/')[-1] for o in group))}"))
    return 0


def _bank_stats(bank: PrimitiveBank) -> str:
    ext = np.array([np.sort(np.ptp(bank.part(j), axis=0)) for j in range(len(bank))])
    nv = np.diff(bank.offsets)
    return (f"{len(bank)} parts, vertices/part median {np.median(nv):.0f}, sorted extent ratios "
            f"(min/max) median {np.median(ext[:, 0] / ext[:, 2]):.2f}, (mid/max) median {np.median(ext[:, 1] / ext[:, 2]):.2f}")


def _object_stats(bank: PrimitiveBank | None, n: int) -> str:
    objs = [generate_random_object(s, bank) for s in range(n)]
    ext = np.array([np.sort(o.extent) for o in objs])
    parts = np.array([len(o.parts) for o in objs])
    mass = np.array([o.mass for o in objs])
    return (f"{n} objects: parts median {np.median(parts):.0f}; sorted extents median "
            f"{np.round(np.median(ext, axis=0) * 100, 1).tolist()} cm; mass median {np.median(mass) * 1000:.0f} g")


def _centroid(bank_path: str | None, episodes: int, seed: int) -> tuple[int, int]:
    env = gym.make("grasp_envs/GraspRandom4D-v1", split="test", primitive_bank=bank_path)
    agent = CentroidAgent(env)
    k = 0
    for i in tqdm(range(episodes), desc=f"centroid {'default' if bank_path is None else Path(bank_path).name}", leave=False):
        obs, _ = env.reset(seed=seed + i)
        agent.reset(seed + i)
        k += int(env.step(agent.act(obs))[1])
    env.close()
    return k, episodes


def cmd_bank(args) -> int:
    from grasp_envs.objects.bank_builder import build_bank, find_meshes

    shared = _shared()
    meshes = find_meshes([shared / "ycb", shared / "scanned"], "*/visual.obj")
    config = DecompositionConfig.tiny() if args.tiny else DecompositionConfig()
    cache = Path(args.out).parent / "cache" / "decompositions"
    t0 = time.perf_counter()
    rep = build_bank(meshes, cache_dir=cache, config=config, workers=args.workers, name="dev-meshes")
    rep.bank.save(args.out)
    print(f"bank from {rep.meshes} dev meshes (YCB + scanned) in {time.perf_counter() - t0:.1f} s "
          f"({rep.decomposed} newly decomposed, {len(rep.failed)} failed, {rep.dropped_slivers} slivers dropped) -> {args.out}")
    dev = PrimitiveBank.load(args.out)
    print(f"  default bank: {_bank_stats(default_bank())}")
    print(f"  dev bank:     {_bank_stats(dev)}")
    print(f"  objects, default bank: {_object_stats(None, args.objects)}")
    print(f"  objects, dev bank:     {_object_stats(dev, args.objects)}")
    for label, path in (("default", None), ("dev", str(args.out))):
        k, n = _centroid(path, args.episodes, args.seed)
        lo, hi = wilson_interval(k, n)
        print(f"  Centroid on GraspRandom4D test scenes, {label} bank: {k / n:.3f} ({k}/{n}) [{lo:.3f}, {hi:.3f}]")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("process", help="time processing the dev YCB set through the downloader")
    a.add_argument("--root", type=Path, required=True)
    a.add_argument("--workers", type=int, default=2)
    a.add_argument("--tiny", action="store_true")
    a.set_defaults(func=cmd_process)
    scenes = argparse.ArgumentParser(add_help=False)  # the pooled scenes of an object set (_pooled_scenes)
    scenes.add_argument("--root", type=Path, required=True)
    scenes.add_argument("--env", choices=sorted(ENV_NAMES), default="ycb")
    scenes.add_argument("--scenes-per-object", type=int, default=2)
    scenes.add_argument("--seed", type=int, default=0)
    b = sub.add_parser("baselines", parents=[scenes], help="Random, Centroid (and the shipped learned agents) on a downloaded object set")
    b.add_argument("--dims", type=int, nargs="+", default=[4, 6], choices=[4, 6])
    b.add_argument("--agents", nargs="+", default=["random", "centroid"], choices=list(AGENT_ROWS),
                   help="planner and full use the shipped checkpoints (trained on random objects only) unless "
                        "--planner/--evaluator are given; /no-prune: without the observation-based pruning")
    b.add_argument("--planner", default="", help="planner checkpoint stem for the learned agents")
    b.add_argument("--evaluator", default="", help="evaluator checkpoint stem for the full agents")
    b.add_argument("--per-object", action="store_true")
    b.set_defaults(func=cmd_baselines)
    g = sub.add_parser("graspable", parents=[scenes], help="fraction of an object set's scenes that any uniform grasp lifts")
    g.add_argument("--dims", type=int, default=4, choices=[4, 6])
    g.add_argument("--budget", type=int, default=2000)
    g.add_argument("--rule", choices=["box", "top", "all"], default="box",
                   help="which downloaded objects: graspable by the box rule (default), by the resting-pose rule "
                        "(grasp_envs.objects.graspability), or all; the output splits the scenes by both rules")
    g.add_argument("--out", default="", help="write the per-scene records as JSON")
    g.set_defaults(func=cmd_graspable)
    c = sub.add_parser("bank", help="primitive bank from the dev meshes vs the default bank")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--workers", type=int, default=2)
    c.add_argument("--tiny", action="store_true")
    c.add_argument("--objects", type=int, default=200, help="procedural objects per bank for the size statistics")
    c.add_argument("--episodes", type=int, default=100, help="Centroid scenes per bank")
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=cmd_bank)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
