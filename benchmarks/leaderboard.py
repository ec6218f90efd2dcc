"""``grasp-envs leaderboard RESULTS_DIR``: validate submissions, recompute, rank, render Markdown.

    grasp-envs leaderboard results/ --out docs/leaderboard.md
    grasp-envs leaderboard submissions/ --replay 5      # also re-simulate 5 episodes per file

A submission is a results JSON written by ``grasp-envs evaluate``.  Only ``*.json`` files are
read, with :func:`json.loads`; nothing is ever unpickled or imported, and no agent or checkpoint is
loaded: the leaderboard needs the records alone.  Each file is checked against the frozen task
(schema version, task name and version, fingerprint, env kwargs, seeds, every scene of every seed
exactly once, legal actions, consistent outcomes, the object checksum), and every metric is
recomputed from its per-episode records; a submitted ``summary`` is ignored.  ``--replay K``
re-runs K randomly chosen episodes of each submission (same reset seed, object and actions) and
refuses the file if an outcome differs.  Results with privileged observations are ranked but
flagged.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.evaluate import OBS_MODES, SCHEMA, SCHEMA_VERSION, summarize
from benchmarks.tasks import TaskUnavailableError, get_task, object_list_checksum
from grasp_envs.cli import make_command

SUPPORTED_SCHEMA_VERSIONS = (1,)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: Results files larger than this are refused before parsing (a full run is a few MB).
MAX_FILE_BYTES = 64 * 1024 * 1024


class SubmissionError(ValueError):
    """A results file is not a valid submission; the message says what is wrong."""


@dataclass
class Entry:
    path: Path
    task: str
    label: str
    agent: str
    observation_mode: str
    summary: dict
    flags: list[str] = field(default_factory=list)


def _reject_constant(name: str):
    raise SubmissionError(f"contains {name}, which is not valid JSON")


def load_json(path: Path) -> dict:
    """Parse a results file as plain JSON (no pickle, no code), with a size limit."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SubmissionError(f"file is {size / 1e6:.0f} MB, above the {MAX_FILE_BYTES / 1e6:.0f} MB limit")
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SubmissionError(f"not a JSON results file ({exc})") from None
    if not isinstance(data, dict):
        raise SubmissionError("top level must be a JSON object written by `grasp-envs evaluate`")
    return data


def _need(obj: dict, key: str, kind, where: str):
    if key not in obj:
        raise SubmissionError(f"{where}: missing field {key!r}")
    value = obj[key]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise SubmissionError(f"{where}: field {key!r} must be {names}, got {type(value).__name__}")
    return value


def validate(data: dict) -> dict:
    """Check a parsed results object; returns the recomputed summary or raises :class:`SubmissionError`."""
    schema = data.get("schema")
    if schema != SCHEMA:
        raise SubmissionError(f"schema is {schema!r}, expected {SCHEMA!r}; write results with `grasp-envs evaluate`")
    version = data.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise SubmissionError(f"schema_version {version!r} is not supported (supported: {list(SUPPORTED_SCHEMA_VERSIONS)}); "
                              "re-run `grasp-envs evaluate` with this version of grasp-envs")
    if data.get("partial") is not False:
        raise SubmissionError("partial run (--seeds or --scenes was used); submit a full run of every seed and scene")
    tinfo = _need(data, "task", dict, "results")
    name = _need(tinfo, "name", str, "task")
    try:
        task = get_task(name)
    except ValueError as exc:
        raise SubmissionError(str(exc)) from None
    if tinfo.get("version") != task.version:
        raise SubmissionError(f"task version {tinfo.get('version')!r} does not match {task.name} (v{task.version})")
    for key in ("env_id", "env_kwargs", "n_scenes"):
        if tinfo.get(key) != getattr(task, key):
            raise SubmissionError(f"task {key} {tinfo.get(key)!r} differs from the frozen task's {getattr(task, key)!r}")
    if tinfo.get("seeds") != list(task.seeds):
        raise SubmissionError(f"task seeds {tinfo.get('seeds')!r} differ from the frozen task's {list(task.seeds)}")
    if task.fingerprint is not None and tinfo.get("fingerprint") != task.fingerprint:
        raise SubmissionError(f"task fingerprint {str(tinfo.get('fingerprint'))[:12]} is not the frozen "
                              f"{task.fingerprint[:12]}; the run used a modified task")
    mode = data.get("observation_mode")
    if mode not in OBS_MODES:
        raise SubmissionError(f"observation_mode {mode!r} must be one of {OBS_MODES}")
    agent = _need(data, "agent", dict, "results")
    _need(agent, "spec", str, "agent")
    try:
        task.require_env()
        scenes = task.verify()
    except TaskUnavailableError as exc:
        raise SubmissionError(f"cannot check the scenes: {exc}") from None
    seed_scenes = {seed: task.seed_scenes(seed, scenes) for seed in task.seeds}
    episodes = _need(data, "episodes", list, "results")
    expected = len(task.seeds) * task.n_scenes
    if len(episodes) != expected:
        raise SubmissionError(f"{len(episodes)} episodes, expected {expected} ({task.n_scenes} scenes x {len(task.seeds)} seeds)")
    dims = task.dims
    seen: set[tuple[int, int]] = set()
    for i, e in enumerate(episodes):
        where = f"episode {i}"
        if not isinstance(e, dict):
            raise SubmissionError(f"{where}: must be an object")
        seed = _need(e, "seed", int, where)
        idx = _need(e, "scene", int, where)
        if seed not in task.seeds:
            raise SubmissionError(f"{where}: seed {seed} is not a task seed {list(task.seeds)}")
        if not 0 <= idx < task.n_scenes:
            raise SubmissionError(f"{where}: scene {idx} outside [0, {task.n_scenes})")
        if (seed, idx) in seen:
            raise SubmissionError(f"{where}: scene {idx} of seed {seed} appears twice")
        seen.add((seed, idx))
        sc = seed_scenes[seed][idx]
        if e.get("reset_seed") != sc.reset_seed or e.get("object_seed") != sc.object_seed:
            raise SubmissionError(f"{where}: reset_seed/object_seed ({e.get('reset_seed')}, {e.get('object_seed')}) "
                                  f"are not scene {idx}'s ({sc.reset_seed}, {sc.object_seed}) for seed {seed}")
        _need(e, "object", str, where)
        digest = _need(e, "object_digest", str, where)
        if not _SHA256.match(digest):
            raise SubmissionError(f"{where}: object_digest is not a sha256 hex string")
        actions = _need(e, "actions", list, where)
        decisions = _need(e, "decision_s", list, where)
        if not actions or len(actions) != len(decisions):
            raise SubmissionError(f"{where}: needs one decision time per action and at least one action")
        max_attempts = int(task.env_kwargs.get("max_attempts", 1))
        if len(actions) > max_attempts:
            raise SubmissionError(f"{where}: {len(actions)} actions, the task allows {max_attempts} per episode")
        for a in actions:
            if not (isinstance(a, list) and len(a) == dims and all(isinstance(b, int) and not isinstance(b, bool)
                                                                    and 0 <= b < 20 for b in a)):
                raise SubmissionError(f"{where}: action {a!r} is not {dims} integer bins in [0, 20)")
        for d in decisions:
            if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d) or d < 0:
                raise SubmissionError(f"{where}: decision time {d!r} must be a non-negative number of seconds")
        success = _need(e, "success", bool, where)
        outcome = _need(e, "outcome", str, where)
        if outcome not in ("success", "failure", "rejected") or (outcome == "success") != success:
            raise SubmissionError(f"{where}: outcome {outcome!r} is inconsistent with success={success}")
        if len(actions) < max_attempts and not success:
            raise SubmissionError(f"{where}: the episode ended early without success")
    # every scene has the same object in every seed
    by_scene: dict[int, str] = {}
    for e in episodes:
        if by_scene.setdefault(e["scene"], e["object_digest"]) != e["object_digest"]:
            raise SubmissionError(f"scene {e['scene']} has different objects in different seeds")
    checksum = object_list_checksum([by_scene[i] for i in range(task.n_scenes)])
    if task.object_checksum is not None and checksum != task.object_checksum:
        raise SubmissionError(f"object checksum {checksum[:12]} is not the frozen {task.object_checksum[:12]}: "
                              "the objects were generated or processed differently")
    summary = summarize(episodes)
    summary["object_checksum"] = checksum
    summary["objects_verified"] = task.object_checksum is not None
    return summary


def replay(data: dict, k: int, rng: np.random.Generator) -> None:
    """Re-simulate ``k`` episodes from their records and compare outcomes (no agent involved)."""
    if k <= 0:
        return
    task = get_task(data["task"]["name"])
    episodes = data["episodes"]
    env = task.make_env(data["observation_mode"])
    try:
        for i in rng.choice(len(episodes), size=min(k, len(episodes)), replace=False):
            e = episodes[int(i)]
            env.reset(seed=e["reset_seed"], options={"object_seed": e["object_seed"]})
            for a in e["actions"]:
                _, _, terminated, truncated, info = env.step(np.asarray(a, dtype=np.int64))
                if terminated or truncated:
                    break
            if bool(info["is_success"]) != e["success"] or info["outcome"] != e["outcome"]:
                raise SubmissionError(
                    f"replay of seed {e['seed']} scene {e['scene']} gave {info['outcome']!r}, the record says "
                    f"{e['outcome']!r}: the records do not match the simulator"
                )
    finally:
        env.close()


def collect(results_dir: str | Path, replay_k: int = 0, seed: int = 0) -> tuple[list[Entry], list[tuple[Path, str]]]:
    """Validate every ``*.json`` under ``results_dir``; returns (accepted entries, rejected (path, reason))."""
    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"results directory {root} does not exist; write results there with "
                                "`grasp-envs evaluate --agent NAME --task TASK --out DIR/NAME.json`")
    rng = np.random.default_rng(seed)
    accepted: list[Entry] = []
    rejected: list[tuple[Path, str]] = []
    for path in sorted(root.rglob("*.json")):
        try:
            data = load_json(path)
            summary = validate(data)
            replay(data, replay_k, rng)
        except SubmissionError as exc:
            rejected.append((path, str(exc)))
            continue
        flags = []
        if data["observation_mode"] == "privileged":
            flags.append("privileged observations")
        if not summary["objects_verified"]:
            flags.append("object list not frozen")
        agent = data["agent"]
        label = str(agent.get("label") or agent["spec"])
        accepted.append(Entry(path, data["task"]["name"], label, agent["spec"], data["observation_mode"], summary, flags))
    return accepted, rejected


def rank(entries: list[Entry]) -> dict[str, list[Entry]]:
    """Per task, best first: pooled success, then the lower bound of the object-clustered 95%
    interval (``summary["ci95"]``: the more objects the success is spread over, the higher),
    then faster decisions."""
    out: dict[str, list[Entry]] = {}
    for e in entries:
        out.setdefault(e.task, []).append(e)
    for rows in out.values():
        rows.sort(key=lambda e: (-e.summary["success"], -e.summary["ci95"][0], e.summary["decision_s_median"], e.label))
    return dict(sorted(out.items()))


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(ranked: dict[str, list[Entry]], rejected: list[tuple[Path, str]], root: Path | None = None) -> str:
    def rel(p: Path) -> str:
        try:
            return str(p.relative_to(root)) if root else str(p)
        except ValueError:
            return str(p)

    lines = [
        "# Leaderboard", "",
        "Generated by `grasp-envs leaderboard RESULTS_DIR --out docs/leaderboard.md`: every number below is "
        "recomputed from the per-episode records of a validated results file (see [Benchmarks](benchmarks.md) "
        "for the tasks and how to submit).  Success is pooled over the task's 3 seeds x 300 scenes; the 95% "
        "interval is a Wilson interval clustered by object ([Intervals](benchmarks.md#intervals): every seed meets "
        "the same objects, and agreeing outcomes on one object are not independent evidence; *eff. n* is the "
        "effective number of independent episodes), "
        "and ties in success are broken by its lower bound.  *seeds* is the mean "
        "and standard deviation of the per-seed success rates.  Version 0 tasks replay the same scenes for every "
        "seed; version 1 tasks give every seed its own orientations.  "
        "Entries marked with a dagger used privileged observations (the object pose), which no real robot has.", "",
    ]
    if not ranked:
        lines += ["No validated submissions yet.", ""]
    for task, rows in ranked.items():
        lines += [f"## {task}", "", "| rank | agent | success | 95% CI (by object) | eff. n | seeds | objects with a success | median decision | flags |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for i, e in enumerate(rows, 1):
            s = e.summary
            mark = " &dagger;" if e.observation_mode == "privileged" else ""
            lines.append(
                f"| {i} | {_md(e.label)}{mark} | {s['success']:.3f} ({s['successes']}/{s['episodes']}) | "
                f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}] | {s['effective_episodes']:.0f} | "
                f"{s['seed_mean']:.3f} &plusmn; {s['seed_std']:.3f} | "
                f"{s['objects_with_success']}/{s['objects']} | {s['decision_s_median'] * 1e3:.1f} ms | {_md(', '.join(e.flags)) or '-'} |"
            )
        lines.append("")
    if rejected:
        lines += ["## Rejected files", "", "| file | reason |", "|---|---|"]
        lines += [f"| `{_md(rel(p))}` | {_md(reason)} |" for p, reason in rejected]
        lines.append("")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results_dir", help="directory searched recursively for results *.json files")
    p.add_argument("--out", default="docs/leaderboard.md", help="Markdown file to write ('-' for stdout only)")
    p.add_argument("--replay", type=int, default=0, metavar="K", help="re-simulate K random episodes of each file")
    p.add_argument("--strict", action="store_true", help="exit with status 1 if any file is rejected")


def run(args: argparse.Namespace) -> int:
    if args.replay < 0:
        raise ValueError(f"--replay must be non-negative, got {args.replay}")
    root = Path(args.results_dir)
    entries, rejected = collect(root, args.replay)
    text = render(rank(entries), rejected, root)
    if args.out != "-":
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    print(text)
    if args.out != "-":
        print(f"wrote {args.out}: {len(entries)} accepted, {len(rejected)} rejected")
    return 1 if (args.strict and rejected) else 0


register, main = make_command("leaderboard", "validate results files, recompute and rank, write docs/leaderboard.md", __doc__, add_arguments, run)


if __name__ == "__main__":
    raise SystemExit(main())
