"""The agents in each observation preset: same scenes, same outcomes, what the extra keys cost.

    python -m benchmarks.observation_modes                                # 30 scenes, random/centroid/planner/full, depth vs all
    python -m benchmarks.observation_modes --scenes 10 --modes depth pointcloud rgbd --agents centroid
    python -m benchmarks.observation_modes --figure docs/img/observation_modes.png

Every agent runs the first ``--scenes`` scenes of ``--task`` (its first evaluation seed's reset
seeds) through the one evaluation loop (:class:`benchmarks.evaluate.EpisodeRunner`) once per
observation preset (``--modes``; :data:`grasp_envs.envs.observations.OBS_MODES`).  The shipped
agents read ``depth`` and ``bbox``, which every preset keeps unchanged, and the presets draw
nothing from the env's generator, so their episodes must match the depth preset's one for one:
the ``same`` column counts the episodes whose actions and outcomes equal the first mode's.  The
success interval is Wilson 95% clustered by object (:func:`benchmarks.evaluate.summarize`); the
time column is the wall time per episode (reset, observation, decision, physics) and its ratio to
the first mode's in the same run.  ``--figure PNG`` instead draws one scene in every preset (the
picture in docs/observations.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.evaluate import EpisodeRunner, summarize
from benchmarks.tasks import BenchmarkTask, get_task
from grasp_envs.envs.observations import OBS_MODES

#: Agent name -> built-in agent spec of :func:`agents.load_agent` and its kwargs.
AGENTS = {"random": ("random", {"seed": 0}), "centroid": ("centroid", {"seed": 0}),
          "planner": ("planner", {}), "full": ("full", {})}


def figure(task: BenchmarkTask, path: str, scene_index: int = 0) -> Path:
    """One scene of ``task`` in every sensor preset: depth, point cloud (grid frame), RGB, segmentation."""
    from matplotlib.colors import ListedColormap

    from benchmarks.figures import pyplot, save_figure

    plt = pyplot()

    from grasp_envs.envs.observations import SEG_OBJECT

    scene = task.seed_scenes(task.seeds[0], task.verify())[scene_index]
    env = task.make_env(None, observation={**(task.env_kwargs.get("observation") or {}), "mode": "all",
                                            "width": 96, "height": 96})
    obs, _ = env.reset(seed=scene.reset_seed, options={"object_seed": scene.object_seed})
    env.close()
    fig = plt.figure(figsize=(11, 2.9))
    ax = fig.add_subplot(1, 4, 1)
    im = ax.imshow(obs["depth"][0], cmap="viridis_r")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title("depth (m)", fontsize=9)
    ax = fig.add_subplot(1, 4, 2, projection="3d")
    g = obs["point_cloud"][obs["point_cloud_mask"] == 1]
    ax.scatter(g[:, 0], g[:, 1], g[:, 2], c=g[:, 2], cmap="viridis", s=2, depthshade=False)
    ax.set_title(f"point_cloud: {len(g)} points, grid frame", fontsize=9)
    ax.set_xlabel("x", fontsize=8, labelpad=-8)
    ax.set_ylabel("y", fontsize=8, labelpad=-8)
    ax.set_zlabel("z", fontsize=8, labelpad=-8)
    ax.tick_params(labelsize=6, pad=-2)
    ax.view_init(elev=30, azim=-60)
    ax = fig.add_subplot(1, 4, 3)
    ax.imshow(obs["rgb"][0])
    ax.set_title("rgb", fontsize=9)
    ax = fig.add_subplot(1, 4, 4)
    ax.imshow(obs["segmentation"][0], cmap=ListedColormap(["black", "tan", "tab:blue"]), vmin=0, vmax=SEG_OBJECT,
              interpolation="nearest")
    ax.set_title("segmentation: 0 none, 1 table, 2 object", fontsize=9)
    for a in fig.axes:
        if a.name != "3d" and a.get_label() != "<colorbar>":
            a.set_xticks([])
            a.set_yticks([])
    fig.suptitle(f"{task.name} scene {scene_index}, observation mode 'all' (96 x 96)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=80)


def _same(a: dict, b: dict) -> bool:
    return a["actions"] == b["actions"] and a["success"] == b["success"] and a["outcome"] == b["outcome"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="random-4d-test-v2")
    p.add_argument("--scenes", type=int, default=30, help="scenes per agent and mode (default %(default)s)")
    p.add_argument("--modes", nargs="+", default=["depth", "all"], choices=OBS_MODES,
                   help="presets to compare, the first is the reference (default: depth all)")
    p.add_argument("--agents", nargs="+", default=list(AGENTS), choices=list(AGENTS))
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (planner)")
    p.add_argument("--out", default="", help="write every episode record and the table as JSON")
    p.add_argument("--figure", default="", help="draw one scene in every sensor preset to this PNG and exit")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.figure:
        print(f"wrote {figure(get_task(args.task), args.figure)}")
        return 0
    from tqdm import tqdm

    if "planner" in args.agents:
        import torch

        torch.set_num_threads(args.threads)
    task = get_task(args.task)
    task.require_env()
    scenes = task.verify()
    if not 1 <= args.scenes <= len(scenes):
        p.error(f"--scenes must be in [1, {len(scenes)}], got {args.scenes}")
    if "privileged" in args.modes:
        p.error("--modes: 'privileged' adds the object pose, which no real robot has; compare the sensor presets")
    seed = task.seeds[0]
    scenes = task.seed_scenes(seed, scenes[: args.scenes])
    bar = tqdm(total=len(args.agents) * len(args.modes) * len(scenes), unit="ep", disable=args.no_progress)
    rows, t0 = [], time.perf_counter()
    for name in args.agents:
        spec, kwargs = AGENTS[name]
        runners = {mode: EpisodeRunner(task, spec, kwargs, observation_mode=mode) for mode in args.modes}
        records = {mode: [] for mode in args.modes}
        wall = dict.fromkeys(args.modes, 0.0)
        try:
            for runner in runners.values():
                runner.run(seed, scenes[0])  # warm-up, untimed and not recorded: checkpoint, first compile
            for i, scene in enumerate(scenes):
                k = i % len(args.modes)  # each mode goes first (builds the scene's object) equally often
                for mode in args.modes[k:] + args.modes[:k]:
                    start = time.perf_counter()
                    records[mode].append(runners[mode].run(seed, scene))
                    wall[mode] += time.perf_counter() - start
                    bar.update()
        finally:
            for runner in runners.values():
                runner.close()
        for mode in args.modes:
            summary = {k: v for k, v in summarize(records[mode]).items() if k != "per_object"}
            rows.append({"agent": name, "mode": mode, "summary": summary, "episode_s": wall[mode] / len(scenes),
                         "records": records[mode]})
    bar.close()
    print(f"{task.name}: {len(scenes)} scenes (seed {seed}) per agent and mode, {time.perf_counter() - t0:.0f} s; "
          f"success with Wilson 95% CI clustered by object; 'same': episodes equal to the {args.modes[0]!r} run's")
    print("| agent | mode | success | same | s / episode | time ratio |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        ref = next(r for r in rows if r["agent"] == row["agent"] and r["mode"] == args.modes[0])
        s = row["summary"]
        same = sum(_same(a, b) for a, b in zip(row["records"], ref["records"]))
        row["same_as_reference"] = same
        print(f"| {row['agent']} | {row['mode']} | {s['success']:.3f} [{s['ci95'][0]:.2f}, {s['ci95'][1]:.2f}] | "
              f"{same}/{len(scenes)} | {row['episode_s']:.3f} | x{row['episode_s'] / ref['episode_s']:.2f} |")
    if args.out:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"task": task.name, "scenes": len(scenes), "seed": seed, "modes": args.modes,
                                    "rows": rows}, indent=1, default=_jsonable) + "\n")
        print(f"wrote {path}")
    return 0 if all(r["same_as_reference"] == len(scenes) for r in rows) else 1


def _jsonable(o):
    if isinstance(o, np.generic):
        return o.item()
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)
    raise TypeError(type(o).__name__)


if __name__ == "__main__":
    raise SystemExit(main())
