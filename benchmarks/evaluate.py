"""``grasp-envs evaluate``: run an agent on a frozen benchmark task and write a results JSON.

    grasp-envs evaluate --agent centroid --task random-4d-test-v1 --workers 2
    grasp-envs evaluate --agent mypkg.policy:MyAgent --agent-kwargs '{"checkpoint": "ckpt-s{seed}.pt"}' \\
        --task ycb-4d-v1 --out results/my-agent.json

For every evaluation seed of the task and every scene, the episode is
``env.reset(seed=scene.reset_seed, options={"object_seed": scene.object_seed})`` (on version 1
tasks each seed has its own reset seeds: :meth:`BenchmarkTask.seed_scenes`), the agent is
built once per seed with :func:`agents.load_agent` from the env's
:class:`~grasp_envs.envs.interface.AgentInterface` only (spaces, grid, cameras and declared
capabilities; an agent that asks it for the env or its simulator gets a
:class:`~grasp_envs.envs.interface.SimulatorAccessError`), with ``{seed}`` in string kwargs replaced
by the seed (so each seed can load its own checkpoint), reset with a seed derived from (seed, scene) when
it has ``reset``, and acts until the episode ends (several grasps on tasks with ``max_attempts``; an
agent with ``observe`` is passed each step's info: :mod:`agents.protocol`).  Every episode becomes a
record (seed, scene, object, actions, outcome, decision time); every number printed here or on the leaderboard is
recomputed from those records by :func:`summarize`; its 95% interval is clustered by object
(:func:`grasp_envs.stats.clustered_wilson_interval`), since every seed meets the same objects.

Results schema (``schema_version`` 1), one JSON object::

    schema, schema_version, task{name, version, env_id, env_kwargs, n_scenes, seeds, fingerprint,
    object_checksum}, observation_mode, hand_images, agent{spec, kwargs, label}, partial, tags, software{...},
    created, wall_s, workers, object_checksum (observed), episodes[{seed, scene, reset_seed,
    object_seed, object, object_digest, actions, decision_s, success, outcome, rejection,
    lift_height, attempts[{outcome, rejection, object_moved}] (one per action)}], summary
    (informational; never trusted by the leaderboard)
"""

from __future__ import annotations

import argparse
import collections
import datetime as _dt
import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.stats import cluster_counts, clustered_wilson_interval, effective_sample_size, median, wilson_interval
from benchmarks.tasks import TASKS, BenchmarkTask, Scene, get_task, object_digest, object_list_checksum
from grasp_envs.cli import make_command, positive_int
from grasp_envs.envs.observations import OBS_MODES  # ``--observation-mode``: the presets (docs/observations.md)
from grasp_envs.workers import worker_init

SCHEMA = "grasp-envs/results"
SCHEMA_VERSION = 1
#: ``--hand-images``: where the ``hand_camera`` capability's images come from (outcomes do not depend on it).
HAND_IMAGES = ("rendered", "reprojected")


# ---------------------------------------------------------------------- seeds and kwargs
def agent_episode_seed(seed: int, scene: int) -> int:
    """Seed passed to ``agent.reset`` for evaluation ``seed`` and scene index ``scene``."""
    return int(np.random.SeedSequence(int(seed), spawn_key=(int(scene),)).generate_state(1, np.uint32)[0])


def format_agent_kwargs(kwargs: Any, seed: int) -> Any:
    """Replace ``{seed}`` in every string of ``kwargs`` (nested) by ``seed``."""
    if isinstance(kwargs, str):
        return kwargs.replace("{seed}", str(seed))
    if isinstance(kwargs, dict):
        return {k: format_agent_kwargs(v, seed) for k, v in kwargs.items()}
    if isinstance(kwargs, list):
        return [format_agent_kwargs(v, seed) for v in kwargs]
    return kwargs


def parse_agent_kwargs(text: str | dict | None) -> dict:
    if text is None or isinstance(text, dict):
        return dict(text or {})
    try:
        value = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"--agent-kwargs is not valid JSON ({exc.msg} at column {exc.colno}); "
                         "pass an object such as '{\"seed\": 1}'") from None
    if not isinstance(value, dict):
        raise ValueError(f"--agent-kwargs must be a JSON object such as '{{\"seed\": 1}}', got {type(value).__name__}")
    return value


# ---------------------------------------------------------------------- rollouts
class EpisodeRunner:
    """One env plus one agent per evaluation seed; runs scenes and returns records.

    Agents are built from ``self.interface`` (the env's declared :class:`AgentInterface`) and see
    nothing of the env but the observations ``step`` and ``reset`` return.
    """

    def __init__(self, task: BenchmarkTask | str, agent_spec: str, agent_kwargs: dict,
                 observation_mode: str = "depth", hand_images: str = "rendered") -> None:
        from agents import load_agent
        from grasp_envs.envs.interface import agent_interface

        self.task = get_task(task) if isinstance(task, str) else task
        if hand_images == "rendered":
            self.env = self.task.make_env(observation_mode)
        else:  # what the real robot's hand camera does; the task's scenes and physics are unchanged
            obs = {**(self.task.env_kwargs.get("observation") or {}), "mode": observation_mode, "hand_images": hand_images}
            self.env = self.task.make_env(None, observation=obs)
        self.interface = agent_interface(self.env)
        self.agent_spec = agent_spec
        self.agent_kwargs = agent_kwargs
        self._load_agent = load_agent
        self._agents: dict[int, Any] = {}
        self._digests: dict[int, str] = {}

    def agent(self, seed: int):
        if seed not in self._agents:
            self._agents[seed] = self._load_agent(self.agent_spec, self.interface,
                                                  format_agent_kwargs(self.agent_kwargs, seed))
        return self._agents[seed]

    def run(self, seed: int, scene: Scene) -> dict:
        agent = self.agent(seed)
        obs, info = self.env.reset(seed=scene.reset_seed, options={"object_seed": scene.object_seed})
        base = self.env.unwrapped
        if scene.object_seed not in self._digests:
            self._digests[scene.object_seed] = object_digest(base.object)
        if hasattr(agent, "reset"):
            agent.reset(seed=agent_episode_seed(seed, scene.index))
        actions, decisions, attempts = [], [], []
        success, outcome, rejection, lift = False, "failure", "", 0.0
        while True:
            t0 = time.perf_counter()
            action = agent.act(obs)
            decisions.append(time.perf_counter() - t0)
            action = np.asarray(action)
            if action.shape != base.action_space.shape or not np.issubdtype(action.dtype, np.integer):
                raise ValueError(f"agent {self.agent_spec!r} returned action {action!r} (dtype {action.dtype}); "
                                 f"expected integer bins of shape {base.action_space.shape}")
            actions.append([int(a) for a in action])
            obs, reward, terminated, truncated, info = self.env.step(action)
            if hasattr(agent, "observe"):  # the optional feedback hook (agents.protocol)
                agent.observe(info)
            attempts.append({"outcome": info["outcome"], "rejection": info["rejection"],
                             "object_moved": bool(info.get("object_moved", False))})
            success = bool(info["is_success"])
            outcome, rejection, lift = info["outcome"], info["rejection"], float(info["lift_height"])
            if terminated or truncated:
                break
        return {
            "seed": int(seed), "scene": scene.index, "reset_seed": scene.reset_seed, "object_seed": scene.object_seed,
            "object": info["object_name"], "object_digest": self._digests[scene.object_seed],
            "actions": actions, "decision_s": decisions, "success": success, "outcome": outcome,
            "rejection": rejection, "lift_height": lift, "attempts": attempts,
        }

    def close(self) -> None:
        self.env.close()


_WORKER: EpisodeRunner | None = None


def _init_worker(task: BenchmarkTask, agent_spec: str, agent_kwargs: dict, observation_mode: str,
                 hand_images: str) -> None:
    global _WORKER
    worker_init()  # die with the parent; leave Ctrl-C to it
    # One rollout per process: keep numerical libraries from oversubscribing the cores.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    _WORKER = EpisodeRunner(task, agent_spec, agent_kwargs, observation_mode, hand_images)


def _run_job(job: tuple[int, int, int, int]) -> dict:
    seed, index, reset_seed, object_seed = job
    return _WORKER.run(seed, Scene(index, reset_seed, object_seed))


def rollout(task: BenchmarkTask, agent_spec: str, agent_kwargs: dict | None = None, *,
            seeds: tuple[int, ...] | None = None, n_scenes: int | None = None, workers: int = 1,
            observation_mode: str = "depth", hand_images: str = "rendered", progress: bool = True) -> list[dict]:
    """Run the task's scenes for each seed; records sorted by (seed, scene).

    ``seeds`` and ``n_scenes`` restrict the run (a partial run: fine for smoke tests, refused by
    the leaderboard).  ``workers > 1`` spreads episodes over spawned processes.
    """
    from tqdm import tqdm

    if observation_mode not in OBS_MODES:
        raise ValueError(f"observation mode must be one of {OBS_MODES}, got {observation_mode!r}")
    if hand_images not in HAND_IMAGES:
        raise ValueError(f"--hand-images must be one of {HAND_IMAGES}, got {hand_images!r}")
    if int(workers) < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    agent_kwargs = dict(agent_kwargs or {})
    seeds = tuple(task.seeds if seeds is None else seeds)
    unknown = [s for s in seeds if s not in task.seeds]
    if unknown:
        raise ValueError(f"seeds {unknown} are not seeds of task {task.name} (its seeds: {list(task.seeds)})")
    scenes = task.verify()
    if n_scenes is not None:
        if not 1 <= n_scenes <= len(scenes):
            raise ValueError(f"--scenes must be in [1, {len(scenes)}], got {n_scenes}")
        scenes = scenes[:n_scenes]
    jobs = [(s, sc.index, sc.reset_seed, sc.object_seed) for s in seeds for sc in task.seed_scenes(s, scenes)]
    bar = tqdm(total=len(jobs), desc=f"{task.name} {agent_spec}", unit="ep", disable=not progress)
    records: list[dict] = []
    try:
        if workers == 1:
            runner = EpisodeRunner(task, agent_spec, agent_kwargs, observation_mode, hand_images)
            try:
                for seed, index, reset_seed, object_seed in jobs:
                    records.append(runner.run(seed, Scene(index, reset_seed, object_seed)))
                    bar.update()
            finally:
                runner.close()
        else:
            import multiprocessing as mp

            # spawn, not fork: MuJoCo and PyTorch thread pools do not survive a fork safely.
            ctx = mp.get_context("spawn")
            with ctx.Pool(int(workers), initializer=_init_worker,
                          initargs=(task, agent_spec, agent_kwargs, observation_mode, hand_images)) as pool:
                for rec in pool.imap_unordered(_run_job, jobs, chunksize=max(1, min(8, len(jobs) // (4 * workers)))):
                    records.append(rec)
                    bar.update()
    finally:
        bar.close()
    records.sort(key=lambda r: (r["seed"], r["scene"]))
    return records


# ---------------------------------------------------------------------- metrics
def summarize(episodes: list[dict]) -> dict:
    """Every reported metric, computed from per-episode records only."""
    n = len(episodes)
    k = sum(1 for e in episodes if e["success"])
    by_seed: dict[int, list[bool]] = collections.defaultdict(list)
    by_object: dict[str, list[bool]] = collections.defaultdict(list)
    for e in episodes:
        by_seed[int(e["seed"])].append(bool(e["success"]))
        by_object[str(e["object"])].append(bool(e["success"]))
    seed_rates = {s: sum(v) / len(v) for s, v in sorted(by_seed.items())}
    rates = list(seed_rates.values())
    mean = sum(rates) / len(rates) if rates else float("nan")
    std = math.sqrt(sum((r - mean) ** 2 for r in rates) / (len(rates) - 1)) if len(rates) > 1 else 0.0
    decisions = [sum(e["decision_s"]) for e in episodes]
    per_object = {o: {"episodes": len(v), "successes": sum(v), "success": sum(v) / len(v)}
                  for o, v in sorted(by_object.items())}
    # Episodes on the same object are not independent (every seed meets every object): the
    # interval is clustered by object; the pooled Wilson interval is kept for reference.
    succ, sizes = cluster_counts((e["success"] for e in episodes), (str(e["object"]) for e in episodes))
    lo, hi = clustered_wilson_interval(succ, sizes) if n else (0.0, 1.0)
    wlo, whi = wilson_interval(k, n)
    n_eff = effective_sample_size(succ, sizes) if n else 0.0
    if n:  # the Wilson bounds are exactly 0 at k = 0 and 1 at k = n; drop floating-point residue
        lo, hi = (0.0 if k == 0 else lo), (1.0 if k == n else hi)
        wlo, whi = (0.0 if k == 0 else wlo), (1.0 if k == n else whi)
    return {
        "episodes": n, "successes": k, "success": k / n if n else float("nan"), "ci95": [lo, hi],
        "ci95_method": "wilson clustered by object", "effective_episodes": n_eff, "ci95_wilson": [wlo, whi],
        "seed_success": {str(s): r for s, r in seed_rates.items()}, "seed_mean": mean, "seed_std": std,
        "objects": len(per_object),
        "objects_with_success": sum(1 for v in per_object.values() if v["successes"]),
        "per_object": per_object,
        "rejections": dict(sorted(collections.Counter(e["rejection"] for e in episodes if e["rejection"]).items())),
        "decision_s_median": median(decisions), "decision_s_mean": (sum(decisions) / n) if n else float("nan"),
        "decision_s_p95": float(np.percentile(decisions, 95)) if decisions else float("nan"),
    }


def format_summary(summary: dict, show_objects: int = 15) -> str:
    s = summary
    lines = [
        f"success {s['success']:.3f} ({s['successes']}/{s['episodes']})  95% CI [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}] "
        f"(Wilson clustered by object: {s['objects']} objects, {s['effective_episodes']:.0f} effective episodes; "
        f"episodes as independent [{s['ci95_wilson'][0]:.3f}, {s['ci95_wilson'][1]:.3f}])",
        "per seed: " + ", ".join(f"{k}: {v:.3f}" for k, v in s["seed_success"].items())
        + f"  (mean {s['seed_mean']:.3f} +- {s['seed_std']:.3f} sd)",
        f"decision time: median {s['decision_s_median'] * 1e3:.2f} ms, mean {s['decision_s_mean'] * 1e3:.2f} ms, "
        f"p95 {s['decision_s_p95'] * 1e3:.2f} ms",
        "rejected: " + (", ".join(f"{k} {v}" for k, v in s["rejections"].items()) or "none"),
        f"objects: {s['objects']}, with at least one success: {s['objects_with_success']}",
    ]
    per = sorted(s["per_object"].items(), key=lambda kv: (kv[1]["success"], kv[0]))
    shown = per if len(per) <= show_objects else per[:show_objects]
    title = "per object" if len(shown) == len(per) else f"per object, the {len(shown)} hardest of {len(per)} (all in the results file)"
    lines.append(f"{title}:")
    lines.append("  | object | success | episodes |")
    lines.append("  |---|---|---|")
    lines += [f"  | {o} | {v['success']:.2f} | {v['successes']}/{v['episodes']} |" for o, v in shown]
    return "\n".join(lines)


# ---------------------------------------------------------------------- results files
def software_versions() -> dict:
    import gymnasium
    import mujoco

    import grasp_envs

    return {"grasp_envs": grasp_envs.__version__, "mujoco": mujoco.__version__, "gymnasium": gymnasium.__version__,
            "numpy": np.__version__, "python": platform.python_version(), "platform": platform.platform()}


def build_results(task: BenchmarkTask, agent_spec: str, agent_kwargs: dict, episodes: list[dict], *,
                  observation_mode: str = "depth", hand_images: str = "rendered", label: str | None = None,
                  tags: dict | None = None,
                  wall_s: float = 0.0, workers: int = 1) -> dict:
    complete = {(s, sc) for s in task.seeds for sc in range(task.n_scenes)}
    got = {(e["seed"], e["scene"]) for e in episodes}
    partial = got != complete
    checksum = None
    if not partial:
        digests = [e["object_digest"] for e in episodes if e["seed"] == task.seeds[0]]
        checksum = object_list_checksum(digests)
    task_info = task.to_dict()
    task_info["fingerprint"] = task.compute_fingerprint()  # of the scenes actually run (== the frozen one)
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION, "task": task_info,
        "observation_mode": observation_mode, "hand_images": hand_images,
        "agent": {"spec": agent_spec, "kwargs": agent_kwargs, "label": label or agent_spec},
        "partial": partial, "tags": dict(tags or {}), "software": software_versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": wall_s, "workers": workers, "object_checksum": checksum,
        "episodes": episodes, "summary": summarize(episodes),
    }


def evaluate(task: BenchmarkTask | str, agent_spec: str, agent_kwargs: dict | str | None = None, *,
             seeds: tuple[int, ...] | None = None, n_scenes: int | None = None, workers: int = 1,
             observation_mode: str = "depth", hand_images: str = "rendered", label: str | None = None,
             tags: dict | None = None,
             progress: bool = True) -> dict:
    """Roll out and return the results object (see the module docstring for its schema)."""
    task = get_task(task) if isinstance(task, str) else task
    kwargs = parse_agent_kwargs(agent_kwargs)
    json.dumps(kwargs)
    t0 = time.perf_counter()
    episodes = rollout(task, agent_spec, kwargs, seeds=seeds, n_scenes=n_scenes, workers=workers,
                       observation_mode=observation_mode, hand_images=hand_images, progress=progress)
    return build_results(task, agent_spec, kwargs, episodes, observation_mode=observation_mode,
                         hand_images=hand_images, label=label,
                         tags=tags, wall_s=time.perf_counter() - t0, workers=workers)


def write_results(results: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(results, indent=1, allow_nan=False) + "\n")
    tmp.replace(path)
    return path


# ---------------------------------------------------------------------- CLI
def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-") or "agent"


def _parse_tags(items: list[str]) -> dict:
    tags = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--tag takes KEY=VALUE (e.g. --tag train_objects=10000), got {item!r}")
        try:
            tags[key] = json.loads(value)
        except json.JSONDecodeError:
            tags[key] = value
    return tags


def list_tasks() -> str:
    lines = ["| task | env | scenes x seeds | each seed | available | description |", "|---|---|---|---|---|---|"]
    for t in TASKS.values():
        per_seed = "fresh orientations" if t.per_seed_resets else "replays the scenes"
        lines.append(f"| {t.name} | {t.env_id} | {t.n_scenes} x {len(t.seeds)} | {per_seed} | "
                     f"{'yes' if t.available else 'no'} | {t.description} |")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--agent", help="built-in agent name (random, centroid, ...) or 'module:Class'")
    p.add_argument("--agent-kwargs", default="{}", help="JSON object of constructor kwargs; '{seed}' in strings is the evaluation seed")
    p.add_argument("--task", help="benchmark task, e.g. random-4d-test-v1 (see --list-tasks)")
    p.add_argument("--workers", type=positive_int("--workers 2"), default=1, help="parallel rollout processes")
    p.add_argument("--out", help="results JSON path (default results/<task>__<label>.json)")
    p.add_argument("--label", help="name shown on the leaderboard (default: the agent spec)")
    p.add_argument("--observation-mode", default="depth", choices=OBS_MODES,
                   help="observation preset: 'privileged' adds the object pose (such results are flagged); "
                        "'pointcloud', 'rgbd', 'segmentation' and 'all' add sensor keys beside the depth")
    p.add_argument("--hand-images", default="rendered", choices=HAND_IMAGES,
                   help="where the agents' hand_camera capability gets its images: ray cast in simulation, or "
                        "reprojected from the observed depth as on the real robot (outcomes and scenes are the same)")
    p.add_argument("--seeds", type=int, nargs="+", help="subset of the task's seeds (partial run)")
    p.add_argument("--scenes", type=positive_int("--scenes 10"), help="only the first N scenes (partial run, for smoke tests)")
    p.add_argument("--tag", action="append", default=[], help="KEY=VALUE stored in the results (e.g. train_objects=10000)")
    p.add_argument("--list-tasks", action="store_true", help="list the benchmark tasks and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    if args.list_tasks:
        print(list_tasks())
        return 0
    if not args.agent or not args.task:
        raise ValueError("--agent and --task are required (e.g. --agent centroid --task random-4d-test-v1); "
                         "--list-tasks shows the tasks")
    task = get_task(args.task)
    task.require_env()
    tags = _parse_tags(args.tag)
    results = evaluate(task, args.agent, args.agent_kwargs, seeds=tuple(args.seeds) if args.seeds else None,
                       n_scenes=args.scenes, workers=args.workers, observation_mode=args.observation_mode,
                       hand_images=args.hand_images,
                       label=args.label, tags=tags, progress=not args.quiet)
    label = args.label or args.agent
    out = Path(args.out) if args.out else Path("results") / f"{task.name}__{_safe(label)}.json"
    write_results(results, out)
    s = results["summary"]
    flag = " [privileged observations]" if args.observation_mode == "privileged" else ""
    flag += " [reprojected hand images]" if args.hand_images == "reprojected" else ""
    part = " [partial run: not a leaderboard submission]" if results["partial"] else ""
    print(f"{task.name}  agent {label}{flag}{part}  ({s['episodes']} episodes, {results['wall_s']:.1f} s, {args.workers} workers)")
    print(format_summary(s))
    if results["object_checksum"] and task.object_checksum is None:
        print(f"object checksum (task not frozen yet): {results['object_checksum']}")
    print(f"wrote {out}")
    if results["object_checksum"]:
        # After writing, so a long run is never lost; the leaderboard refuses it all the same.
        task.check_object_checksum([e["object_digest"] for e in results["episodes"] if e["seed"] == task.seeds[0]])
    return 0


register, main = make_command("evaluate", "run an agent on a frozen benchmark task and write results JSON", __doc__, add_arguments, run)


if __name__ == "__main__":
    raise SystemExit(main())
