"""How the shipped agents' success changes as each domain-randomisation knob widens.

    python -m benchmarks.randomization                                   # 40 scenes, every knob, 3 levels
    python -m benchmarks.randomization --scenes 100 --knobs finger_friction part_density camera_tilt
    python -m benchmarks.randomization --planner runs/dr/round1/planner --evaluator runs/dr/evaluator

Every level of every knob runs the same seeded scenes (the first ``--scenes`` scenes of
``--task``, its first evaluation seed's reset seeds), so each row is compared like for like with
the nominal row (every knob off) measured in the same run.  A knob's levels widen its
:class:`~grasp_envs.envs.randomization.RandomizationConfig` range (:data:`LEVELS`); the others stay
off.  Each agent (``--agents``; default the shipped PlannerAgent and FullAgent) runs the task's
episodes through the one evaluation loop (:class:`benchmarks.evaluate.EpisodeRunner`) on the env
with that randomisation, seeing only its :class:`~grasp_envs.envs.interface.AgentInterface` with the
nominal observation config: under camera randomisation the agent believes the nominal
calibration.  Success intervals are Wilson 95% clustered by object
(:func:`benchmarks.evaluate.summarize`); the ratio column is success over the nominal row's.
``--out`` writes every episode record.  ``--figure PNG`` instead draws one scene's observed depth
with each observation knob at its widest level (the picture in docs/randomization.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from benchmarks.evaluate import EpisodeRunner, summarize
from benchmarks.tasks import BenchmarkTask, get_task
from grasp_envs.envs.randomization import RandomizationConfig

#: Three widening levels of each knob (values of that RandomizationConfig field).
LEVELS: dict[str, list] = {
    "object_friction": [(0.3, 1.2), (0.2, 1.5), (0.1, 2.0)],
    "finger_friction": [(0.3, 1.2), (0.2, 1.5), (0.1, 2.0)],
    "table_friction": [(0.3, 1.2), (0.2, 1.5), (0.1, 2.0)],
    "object_scale": [(0.9, 1.1), (0.8, 1.25), (0.67, 1.5)],
    "density_scale": [(0.5, 2.0), (0.25, 4.0), (0.1, 10.0)],
    "part_density": [(0.5, 2.0), (0.25, 4.0), (0.1, 10.0)],
    "camera_position": [0.005, 0.01, 0.02],
    "camera_tilt": [1.0, 2.5, 5.0],
    "camera_fovy": [1.0, 2.0, 4.0],
    "depth_noise": ["low", "dexnet", "high"],
    "bbox_noise": [0.002, 0.005, 0.01],
}
#: Agent name -> built-in agent spec of :func:`agents.load_agent`.
AGENTS = {"planner": "planner", "full": "full"}


def level_config(knob: str, level: int) -> RandomizationConfig:
    """The configuration of ``knob`` at ``level`` (1-based; 0 = every knob off)."""
    if knob not in LEVELS:
        raise ValueError(f"unknown knob {knob!r}; knobs: {list(LEVELS)}")
    if level == 0:
        return RandomizationConfig()
    if not 1 <= level <= len(LEVELS[knob]):
        raise ValueError(f"--levels must lie in [1, {len(LEVELS[knob])}], got {level}")
    return RandomizationConfig(**{knob: LEVELS[knob][level - 1]})


def randomized_task(task: BenchmarkTask, config: RandomizationConfig) -> BenchmarkTask:
    """``task`` on the same scenes with ``randomization=config`` (not a frozen task: no fingerprint)."""
    if not config.enabled:
        return task
    kwargs = {**task.env_kwargs, "randomization": config.to_dict()}
    return dataclasses.replace(task, env_kwargs=kwargs, fingerprint=None, object_checksum=None)


def _format(value) -> str:
    if isinstance(value, (tuple, list)):
        return f"[{value[0]:g}, {value[1]:g}]"
    return f"{value:g}" if isinstance(value, float) else str(value)


#: Knobs whose effect the observation shows (``--figure``).
FIGURE_KNOBS = ["camera_position", "camera_tilt", "camera_fovy", "depth_noise", "bbox_noise", "object_scale"]


def figure(task: BenchmarkTask, path: str, scene_index: int = 0) -> Path:
    """One scene's depth observation, nominal and with each of :data:`FIGURE_KNOBS` at level 3."""
    from benchmarks.figures import pyplot, save_figure

    plt = pyplot()
    scene = task.seed_scenes(task.seeds[0], task.verify())[scene_index]
    panels = [("nominal", RandomizationConfig())] + [
        (f"{k} {_format(LEVELS[k][-1])}", level_config(k, len(LEVELS[k]))) for k in FIGURE_KNOBS]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.2 * len(panels), 2.6))
    for ax, (title, config) in zip(axes, panels):
        env = randomized_task(task, config).make_env()
        obs, _ = env.reset(seed=scene.reset_seed, options={"object_seed": scene.object_seed})
        env.close()
        ax.imshow(obs["depth"][0], cmap="viridis_r", vmin=0.55, vmax=0.72)
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{task.name} scene {scene_index}: the observed depth (m) under each knob at its widest level", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="random-4d-test-v2")
    p.add_argument("--scenes", type=int, default=40, help="scenes per level (default %(default)s)")
    p.add_argument("--knobs", nargs="+", default=list(LEVELS), choices=list(LEVELS), help="knobs to widen (default: all)")
    p.add_argument("--levels", nargs="+", type=int, default=[1, 2, 3], help="levels of each knob (default 1 2 3)")
    p.add_argument("--agents", nargs="+", default=list(AGENTS), choices=list(AGENTS))
    p.add_argument("--planner", default="", help="planner checkpoint stem (default: shipped)")
    p.add_argument("--evaluator", default="", help="evaluator checkpoint stem (default: shipped)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--out", default="", help="write every episode record and the table as JSON")
    p.add_argument("--figure", default="", help="draw one scene's depth under each observation knob to this PNG and exit")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.figure:
        print(f"wrote {figure(get_task(args.task), args.figure)}")
        return 0
    import torch
    from tqdm import tqdm

    torch.set_num_threads(args.threads)
    task = get_task(args.task)
    task.require_env()
    scenes = task.verify()
    if not 1 <= args.scenes <= len(scenes):
        p.error(f"--scenes must be in [1, {len(scenes)}], got {args.scenes}")
    for level in args.levels:
        if not 1 <= level <= 3:
            p.error(f"--levels must lie in 1..3, got {level}")
    seed = task.seeds[0]
    scenes = task.seed_scenes(seed, scenes[: args.scenes])
    kwargs = {"planner": {}, "full": {}}
    if args.planner:
        kwargs["planner"]["checkpoint"] = kwargs["full"]["checkpoint"] = args.planner
    if args.evaluator:
        kwargs["full"]["evaluator"] = args.evaluator
    rows = [("nominal", 0, "off")] + [(k, lv, _format(LEVELS[k][lv - 1])) for k in args.knobs for lv in args.levels]
    bar = tqdm(total=len(rows) * len(args.agents) * len(scenes), unit="ep", disable=args.no_progress)
    results, t0 = [], time.perf_counter()
    for knob, level, setting in rows:
        config = RandomizationConfig() if knob == "nominal" else level_config(knob, level)
        row = {"knob": knob, "level": level, "setting": setting, "randomization": config.to_dict(), "agents": {}}
        for name in args.agents:
            runner = EpisodeRunner(randomized_task(task, config), AGENTS[name], kwargs[name])
            try:
                records = []
                for scene in scenes:
                    records.append(runner.run(seed, scene))
                    bar.update()
            finally:
                runner.close()
            row["agents"][name] = {"summary": {k: v for k, v in summarize(records).items() if k != "per_object"},
                                   "records": records}
        results.append(row)
    bar.close()
    nominal = results[0]["agents"]
    print(f"{task.name}: {len(scenes)} scenes per level (seed {seed}), {time.perf_counter() - t0:.0f} s; "
          "success, Wilson 95% CI clustered by object, ratio to nominal")
    print("| knob | level | setting | " + " | ".join(args.agents) + " |")
    print("|---|---|---|" + "---|" * len(args.agents))
    for row in results:
        cells = []
        for name in args.agents:
            s = row["agents"][name]["summary"]
            base = nominal[name]["summary"]["success"]
            ratio = f"{s['success'] / base:.2f}" if base else "-"
            cells.append(f"{s['success']:.3f} [{s['ci95'][0]:.2f}, {s['ci95'][1]:.2f}] x{ratio}")
        print(f"| {row['knob']} | {row['level']} | {row['setting']} | " + " | ".join(cells) + " |")
    if args.out:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"task": task.name, "scenes": len(scenes), "seed": seed,
                                    "planner": args.planner or "shipped", "evaluator": args.evaluator or "shipped",
                                    "levels": {k: LEVELS[k] for k in args.knobs}, "rows": results}, indent=1) + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
