"""``grasp-envs dataset info DIR``: counts, success fraction and shard health."""

from __future__ import annotations

from pathlib import Path

from grasp_envs.dataset import storage


def dataset_info(root: str | Path) -> dict:
    """Summary of a dataset directory, complete or not, with the health of every shard."""
    root = Path(root)
    manifest = storage.read_manifest(root)
    n = manifest["num_shards"]
    if manifest["complete"]:
        records = {rec["index"]: rec for rec in manifest["shards"]}
    else:
        records = {i: m for i in range(n) if (m := storage.read_marker(root, i)) is not None}
    health = {i: (storage.shard_health(root, i, records[i]) if i in records else "missing") for i in range(n)}
    counts = {k: sum(r["counts"][k] for r in records.values()) for k in ("scenes", "attempts", "simulated", "successes")}
    rejected: dict[str, int] = {}
    for r in records.values():
        for k, v in r["counts"]["rejected"].items():
            rejected[k] = rejected.get(k, 0) + v
    seeds = [s["object_seed"] for r in records.values() for s in r["skipped"]]
    return {
        "root": str(root),
        "complete": manifest["complete"],
        "config": manifest["config"],
        "layout": manifest["layout"],
        "versions": manifest["versions"],
        "counts": counts,
        "rejected": rejected,
        "skipped": sum(len(r["skipped"]) for r in records.values()),
        "skipped_object_seeds": seeds,
        "success_fraction": counts["successes"] / counts["attempts"] if counts["attempts"] else 0.0,
        "success_fraction_simulated": counts["successes"] / counts["simulated"] if counts["simulated"] else 0.0,
        "health": health,
        "bytes": sum(r["files"][t]["bytes"] for r in records.values() for t in storage.TABLES),
    }


def format_info(info: dict) -> str:
    c, cfg, lay = info["counts"], info["config"], info["layout"]
    health = info["health"]
    bad = {i: h for i, h in health.items() if h != "ok"}
    ok = len(health) - len(bad)
    lines = [
        f"dataset: {info['root']} ({'complete' if info['complete'] else 'INCOMPLETE: finish with `grasp-envs generate --resume --out ' + info['root'] + '`'})",
        f"env: {cfg['env_id']}  split: {cfg['split']}  object seeds in [{lay['seed_range'][0]}, {lay['seed_range'][1]})  run seed: {cfg['seed']}",
        f"versions: " + ", ".join(f"{k} {v}" for k, v in sorted(info["versions"].items())),
        f"scenes: {c['scenes']} of {cfg['num_objects']} ({info['skipped']} skipped: object could not be simulated)",
        f"attempts: {c['attempts']} ({cfg['attempts']} per scene), simulated: {c['simulated']}, "
        f"rejected: " + ", ".join(f"{k} {v}" for k, v in sorted(info["rejected"].items())),
        f"successes: {c['successes']} = {info['success_fraction']:.2%} of attempts, "
        f"{info['success_fraction_simulated']:.2%} of simulated attempts",
        f"images: overhead depth {tuple(lay['depth_shape'])}, hand depth {tuple(lay['hand_depth_shape'])}; "
        f"{info['bytes'] / 1e6:.1f} MB on disk",
        f"shards: {ok}/{len(health)} ok" + ("" if not bad else "; " + ", ".join(f"part-{i:05d} {h}" for i, h in sorted(bad.items()))),
    ]
    return "\n".join(lines)
