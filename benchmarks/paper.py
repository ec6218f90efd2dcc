"""``grasp-envs paper``: the paper's tables and figures from results files, as Markdown and PNG.

    grasp-envs paper --results results/ --out paper/                      # render what exists
    grasp-envs paper --results results/ --out paper/ --run --workers 2    # evaluate what is missing first
    grasp-envs paper --out paper/ --fig8 --fig8-scenes 100                # top-n curve of the planner

Outputs (Tobin et al. 2017):

* ``fig6_<dims>d.md``: success of Full, Autoregressive-only, Random and Centroid on train/test x
  object sets (mean of the per-seed success rates +- sd, 95% interval clustered by object, from the
  results files of ``grasp-envs evaluate``).  Agents are matched by their ``agent.spec``
  (``full``/``agents.full:FullAgent``, ``planner``, ``random``, ``centroid``); results tagged
  ``train_objects`` (Fig. 9 runs) are left out.  Missing cells name the command that fills them.
* ``fig5_<dims>d.md``: the Full agent per training set (results tagged ``train_set=NAME``).
* ``fig8_<task>.{json,md,png}``: fraction of scenes with a success among the top-n grasps of a
  beam search, n = 1..20.  Needs an agent with ``propose(observation, k) -> (grasps, scores)``
  (the planner); each scene's 20 grasps are simulated with ``env.unwrapped.evaluate_grasps`` and
  stored, so the curve is recomputable.
* ``fig9.{md,png}``: success against the number of unique training objects, from results tagged
  ``train_objects=N`` (and optionally ``train_set=NAME``): one line per training set and task.

Nothing here fabricates a number: a cell without results says so.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

import numpy as np

from benchmarks.evaluate import evaluate, summarize, write_results
from benchmarks.figures import pyplot, save_figure
from benchmarks.leaderboard import SubmissionError, load_json, validate
from benchmarks.tasks import TASKS, TaskUnavailableError, get_task
from grasp_envs.cli import make_command, positive_int

#: Paper rows: label -> agent specs that count as that row.
ROWS = {
    "Full": ("full", "agents.full:FullAgent"),
    "Autoregressive-only": ("planner", "agents.full:PlannerAgent"),
    "Random": ("random", "agents.baselines:RandomAgent"),
    "Centroid": ("centroid", "agents.baselines:CentroidAgent"),
}
#: Paper columns: label -> task family (without -vN and dims) per object set and split.
COLUMNS = {
    "ShapeNet train": "shapenet-{d}d-train", "ShapeNet test": "shapenet-{d}d-test",
    "Random train": "random-{d}d-trained", "Random test": "random-{d}d-test", "YCB": "ycb-{d}d",
}
#: "Random train" is the objects the shipped planner was trained on (``random-4d-trained``), as in
#: the paper; ``random-{d}d-train`` draws fresh train-split objects that no training saw.
#: The paper's Fig. 6 (4-D grasps; Full and Autoregressive-only trained on Random-1M).
PAPER_FIG6 = {
    "Full": (0.91, 0.89, 0.86, 0.84, 0.92), "Autoregressive-only": (0.89, 0.86, 0.80, 0.76, 0.89),
    "Random": (0.22, 0.21, 0.10, 0.11, 0.26), "Centroid": (0.30, 0.25, 0.10, 0.12, 0.54),
}


def _latest_task(family: str) -> str | None:
    names = [n for n, t in TASKS.items() if t.family == family]
    return max(names, key=lambda n: TASKS[n].version) if names else None


def load_results(results_dir: str | Path) -> list[dict]:
    """Valid full results under ``results_dir`` with their recomputed summaries (invalid files skipped, listed)."""
    out = []
    root = Path(results_dir)
    if not root.is_dir():
        return out
    for path in sorted(root.rglob("*.json")):
        try:
            data = load_json(path)
            summary = validate(data)
        except SubmissionError as exc:
            print(f"skipping {path}: {exc}")
            continue
        out.append({"path": path, "task": data["task"]["name"], "spec": data["agent"]["spec"],
                    "label": data["agent"].get("label") or data["agent"]["spec"], "tags": data.get("tags") or {},
                    "mode": data["observation_mode"], "summary": summary})
    return out


def _cell(entries: list[dict]) -> str:
    if not entries:
        return "-"
    s = max(entries, key=lambda e: e["summary"]["episodes"])["summary"]
    return f"{s['seed_mean']:.2f} &plusmn; {s['seed_std']:.2f} [{s['ci95'][0]:.2f}, {s['ci95'][1]:.2f}]"


def fig6_table(results: list[dict], dims: int) -> str:
    cols = {label: _latest_task(fam.format(d=dims)) for label, fam in COLUMNS.items()}
    lines = [f"# Fig. 6 ({dims}-D grasps): success rate", "",
             "Mean of the per-seed success rates &plusmn; sd over seeds, [95% interval of the pooled rate, clustered by object].  "
             "Paper figures (4-D) in parentheses.  `-`: no validated results; `n/a`: task not defined.", "",
             "| agent | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    missing = []
    for row, specs in ROWS.items():
        cells = []
        for j, (label, task) in enumerate(cols.items()):
            if task is None:
                cells.append("n/a")
                continue
            match = [r for r in results if r["task"] == task and r["spec"] in specs and r["mode"] == "depth"
                     and "train_objects" not in r["tags"]]
            cell = _cell(match)
            if cell == "-":
                missing.append(f"grasp-envs evaluate --agent {specs[0]} --task {task} --out RESULTS/{task}__{specs[0]}.json")
            if dims == 4:
                cell += f" ({PAPER_FIG6[row][j]:.2f})"
            cells.append(cell)
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    if missing:
        lines += ["", "Missing cells; fill them with:", "", "```"] + missing + ["```"]
    return "\n".join(lines) + "\n"


def fig5_table(results: list[dict], dims: int) -> str:
    cols = {label: _latest_task(fam.format(d=dims)) for label, fam in COLUMNS.items()}
    full = [r for r in results if r["spec"] in ROWS["Full"] and "train_set" in r["tags"] and "train_objects" not in r["tags"]]
    lines = [f"# Fig. 5 ({dims}-D grasps): Full agent per training set", "",
             "| training set | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for train_set in sorted({str(r["tags"]["train_set"]) for r in full}):
        cells = [_cell([r for r in full if r["task"] == t and str(r["tags"]["train_set"]) == train_set]) if t else "n/a"
                 for t in cols.values()]
        lines.append(f"| {train_set} | " + " | ".join(cells) + " |")
    if not full:
        lines += ["", "No results yet: evaluate Full agents trained on each set with "
                  "`grasp-envs evaluate --agent full --agent-kwargs '{\"checkpoint\": ...}' --task TASK --tag train_set=NAME`."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- Fig. 8
def topn_records(task_name: str, agent_spec: str, agent_kwargs: dict | None = None, *, k: int = 20,
                 n_scenes: int | None = None, seed: int | None = None, progress: bool = True) -> dict:
    """Simulate the top-``k`` proposals of every scene; one record per scene."""
    from tqdm import tqdm

    from agents import load_agent
    from benchmarks.evaluate import format_agent_kwargs

    task = get_task(task_name)
    seed = task.seeds[0] if seed is None else seed
    scenes = task.verify()
    if seed in task.seeds:  # version 1 tasks: that seed's orientations
        scenes = task.seed_scenes(seed, scenes)
    scenes = scenes[: n_scenes or None]
    env = task.make_env()
    agent = load_agent(agent_spec, env, format_agent_kwargs(dict(agent_kwargs or {}), seed))
    if not hasattr(agent, "propose"):
        raise ValueError(f"agent {agent_spec!r} has no propose(observation, k) method; the Fig. 8 curve needs a "
                         "ranked list of grasps (e.g. --fig8-agent planner)")
    records = []
    try:
        for sc in tqdm(scenes, desc=f"fig8 {task.name}", unit="scene", disable=not progress):
            obs, _ = env.reset(seed=sc.reset_seed, options={"object_seed": sc.object_seed})
            grasps, _ = agent.propose(obs, k)
            grasps = np.asarray(grasps, dtype=np.int64).reshape(-1, env.unwrapped.grid.dims)[:k]
            outcome = env.unwrapped.evaluate_grasps(grasps)
            records.append({"scene": sc.index, "object": env.unwrapped.object.name,
                            "grasps": grasps.tolist(), "success": [bool(x) for x in outcome.success]})
    finally:
        env.close()
    return {"task": task.name, "agent": {"spec": agent_spec, "kwargs": agent_kwargs or {}}, "seed": seed, "k": k,
            "records": records}


def topn_curve(records: list[dict], k: int = 20) -> list[float]:
    """Fraction of scenes with a success among the first n grasps, n = 1..k (recomputed from records)."""
    if not records:
        raise ValueError("no Fig. 8 records")
    hits = np.zeros((len(records), k), dtype=bool)
    for i, r in enumerate(records):
        s = np.asarray(r["success"][:k], dtype=bool)
        hits[i, : len(s)] = s
    return list(np.logical_or.accumulate(hits, axis=1).mean(axis=0).astype(float))


def write_fig8(data: dict, out: Path) -> list[Path]:
    curve = topn_curve(data["records"], data["k"])
    stem = out / f"fig8_{data['task']}"
    Path(f"{stem}.json").write_text(json.dumps(data) + "\n")
    lines = [f"# Fig. 8: success among the top-n grasps ({data['task']}, {data['agent']['spec']}, "
             f"{len(data['records'])} scenes)", "", "| n | " + " | ".join(str(n) for n in range(1, len(curve) + 1)) + " |",
             "|---" * (len(curve) + 1) + "|", "| fraction | " + " | ".join(f"{v:.2f}" for v in curve) + " |"]
    Path(f"{stem}.md").write_text("\n".join(lines) + "\n")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(range(1, len(curve) + 1), curve, marker="o")
    ax.set(xlabel="number of grasps attempted (top-n of the beam)", ylabel="fraction of scenes with a success",
           ylim=(0, 1), title=f"Fig. 8: {data['task']}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, f"{stem}.png", dpi=120)
    return [Path(f"{stem}.{ext}") for ext in ("json", "md", "png")]


# ---------------------------------------------------------------------- Fig. 9
def fig9_points(results: list[dict]) -> dict[tuple[str, str], list[tuple[int, dict]]]:
    lines: dict[tuple[str, str], list[tuple[int, dict]]] = collections.defaultdict(list)
    for r in results:
        if "train_objects" in r["tags"] and r["mode"] == "depth":
            lines[(str(r["tags"].get("train_set", "random")), r["task"])].append((int(r["tags"]["train_objects"]), r["summary"]))
    return {key: sorted(v, key=lambda p: p[0]) for key, v in sorted(lines.items())}


def write_fig9(results: list[dict], out: Path) -> list[Path]:
    points = fig9_points(results)
    lines = ["# Fig. 9: success against the number of unique training objects", ""]
    if not points:
        lines.append("No results yet: evaluate agents trained on N objects with "
                     "`grasp-envs evaluate ... --tag train_objects=N --tag train_set=random`.")
    else:
        lines += ["| training set | task | unique objects | success (seed mean &plusmn; sd) | 95% CI |", "|---|---|---|---|---|"]
        for (train_set, task), pts in points.items():
            lines += [f"| {train_set} | {task} | {n} | {s['seed_mean']:.3f} &plusmn; {s['seed_std']:.3f} | "
                      f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}] |" for n, s in pts]
    (out / "fig9.md").write_text("\n".join(lines) + "\n")
    written = [out / "fig9.md"]
    if points:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for (train_set, task), pts in points.items():
            x = [n for n, _ in pts]
            y = [s["seed_mean"] for _, s in pts]
            err = np.array([[s["seed_mean"] - s["ci95"][0], s["ci95"][1] - s["seed_mean"]] for _, s in pts]).T.clip(0)
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=f"{train_set} -> {task}")
        ax.set(xscale="log", xlabel="unique training objects", ylabel="success rate", ylim=(0, 1), title="Fig. 9")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        save_figure(fig, out / "fig9.png", dpi=120)
        written.append(out / "fig9.png")
    return written


# ---------------------------------------------------------------------- CLI
def run_missing(results_dir: Path, dims: list[int], agents: list[str], workers: int, n_scenes: int | None) -> None:
    """Evaluate every (available task, agent) of the Fig. 6 table that has no results yet."""
    have = {(r["task"], r["spec"]) for r in load_results(results_dir)}
    for d in dims:
        for fam in COLUMNS.values():
            name = _latest_task(fam.format(d=d))
            if name is None or not TASKS[name].available:
                continue
            for spec in agents:
                if (name, spec) in have:
                    continue
                try:
                    res = evaluate(name, spec, {}, n_scenes=n_scenes, workers=workers)
                except (FileNotFoundError, TaskUnavailableError) as exc:  # object set not downloaded here
                    print(f"skipping {name} x {spec}: {exc}")
                    break
                path = write_results(res, results_dir / f"{name}__{spec}.json")
                print(f"wrote {path}: success {summarize(res['episodes'])['success']:.3f}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", default="results", help="directory of results JSON files")
    p.add_argument("--out", default="paper", help="output directory for Markdown and PNG")
    p.add_argument("--dims", type=int, nargs="+", default=[4, 6], choices=[4, 6])
    p.add_argument("--run", action="store_true", help="first evaluate the Fig. 6 cells that have no results")
    p.add_argument("--agents", nargs="+", default=["random", "centroid", "planner", "full"],
                   help="agents evaluated by --run")
    p.add_argument("--workers", type=positive_int("--workers 2"), default=1)
    p.add_argument("--scenes", type=positive_int("--scenes 10"), help="with --run: only N scenes (partial; the tables then skip them)")
    p.add_argument("--fig8", action="store_true", help="compute the Fig. 8 top-n curve (simulates k grasps per scene)")
    p.add_argument("--fig8-agent", default="planner", help="agent with propose(observation, k)")
    p.add_argument("--fig8-agent-kwargs", default="{}", help="JSON kwargs of the Fig. 8 agent")
    p.add_argument("--fig8-tasks", nargs="+", default=["random-4d-test-v2", "ycb-4d-v2"])
    p.add_argument("--fig8-scenes", type=positive_int("--fig8-scenes 100"), help="only the first N scenes of each Fig. 8 task")


def check_inputs(args: argparse.Namespace) -> list[dict]:
    """Check every figure's inputs before any evaluation starts; return the results already there.

    All problems are reported at once, in one ``ValueError`` (an ``ImportError`` for a missing
    plotting package), so a long ``--run`` or ``--fig8`` never fails at its end on a typo.
    """
    from agents.protocol import agent_class

    problems = []
    results_dir = Path(args.results)
    if not args.run and not results_dir.is_dir():
        problems.append(f"results directory {results_dir} does not exist: evaluate first (`grasp-envs paper "
                        f"--results {results_dir} --out {args.out} --run`) or pass --results DIR")
    if args.run:
        for spec in args.agents:
            try:
                agent_class(spec)
            except ValueError as exc:
                problems.append(f"--agents: {exc}")
    if args.fig8:
        try:
            kwargs = json.loads(args.fig8_agent_kwargs)
            if not isinstance(kwargs, dict):
                problems.append(f"--fig8-agent-kwargs must be a JSON object, got {args.fig8_agent_kwargs!r}")
        except json.JSONDecodeError as exc:
            problems.append(f"--fig8-agent-kwargs is not valid JSON ({exc}), e.g. '{{\"beam_width\": 20}}'")
        for task in args.fig8_tasks:
            try:
                get_task(task)
            except ValueError as exc:
                problems.append(f"--fig8-tasks: {exc}")
        try:
            if not hasattr(agent_class(args.fig8_agent), "propose"):
                problems.append(f"--fig8-agent {args.fig8_agent!r} has no propose(observation, k) method; the Fig. 8 "
                                "curve needs a ranked list of grasps (e.g. --fig8-agent planner)")
        except ValueError as exc:
            problems.append(f"--fig8-agent: {exc}")
    results = load_results(results_dir)
    if args.fig8 or fig9_points(results):
        try:
            pyplot()  # the PNGs need matplotlib: fail now, not after the evaluations
        except ImportError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError("; ".join(problems) if len(problems) == 1 else
                         f"{len(problems)} problems, nothing was run:\n  " + "\n  ".join(problems))
    return results


def run(args: argparse.Namespace) -> int:
    results_dir, out = Path(args.results), Path(args.out)
    results = check_inputs(args)
    out.mkdir(parents=True, exist_ok=True)
    if args.run:
        results_dir.mkdir(parents=True, exist_ok=True)
        run_missing(results_dir, args.dims, args.agents, args.workers, args.scenes)
        results = load_results(results_dir)
    written = []
    for d in args.dims:
        for name, fn in ((f"fig6_{d}d.md", fig6_table), (f"fig5_{d}d.md", fig5_table)):
            (out / name).write_text(fn(results, d))
            written.append(out / name)
    written += write_fig9(results, out)
    if args.fig8:
        kwargs = json.loads(args.fig8_agent_kwargs)
        for task in args.fig8_tasks:
            if not get_task(task).available:
                print(f"Fig. 8: skipping {task} (its env is not registered here)")
                continue
            written += write_fig8(topn_records(task, args.fig8_agent, kwargs, n_scenes=args.fig8_scenes), out)
    print((out / "fig6_4d.md").read_text() if (out / "fig6_4d.md").exists() else "")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


register, main = make_command("paper", "the paper's Fig. 5/6 tables and Fig. 8/9 curves from results", __doc__, add_arguments, run)


if __name__ == "__main__":
    raise SystemExit(main())
