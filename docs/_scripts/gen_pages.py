"""MkDocs hook: environment pages from the registry, the task table, and a nav built from what exists.

Registered in ``mkdocs.yml`` (``hooks:``).  Pages are generated at build time, so the docs cannot
drift from the code:

* ``envs/<Name>.md`` for every registered ``grasp_envs/`` id, from the entry point class's
  docstring (Gymnasium-style sections: Description, Action Space, ...) and its registered kwargs.
  Classes are imported, never instantiated, so envs whose data is not downloaded still document.
* ``<!-- benchmark-tasks -->`` in a page is replaced by the table of frozen benchmark tasks.
* The nav lists the pages below in this order when they exist, then any other page; pages written
  by other parts of the project (objects, dataset, training, real robot) appear once present.

Run ``python docs/_scripts/gen_pages.py OUT_DIR`` to write the generated env pages as files.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from pathlib import Path

#: (title, page) in nav order; missing pages are skipped.
NAV_ORDER = [
    ("Home", "index.md"),
    ("Quickstart", "quickstart.md"),
    ("Environments", "envs/index.md"),
    ("Observations", "observations.md"),
    ("Object sets", "objects.md"),
    ("Dataset format", "dataset.md"),
    ("Training", "training.md"),
    ("Benchmarks", "benchmarks.md"),
    ("Several attempts", "attempts.md"),
    ("Leaderboard", "leaderboard.md"),
    ("Real robot", "real_robot.md"),
]
TASKS_MARKER = "<!-- benchmark-tasks -->"
#: Sections every registered env's docstring has, in Gymnasium's order.
SECTIONS = ("Description", "Action Space", "Observation Space", "Rewards", "Starting State", "Episode End",
            "Arguments", "Version History")


def rst_to_md(text: str) -> str:
    """Docstrings use reST roles and double backticks; turn them into Markdown code spans."""
    text = re.sub(r":(?:class|func|meth|mod|attr|data|obj):`~?([^`]+)`", r"`\1`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def registered_envs() -> dict[str, object]:
    import gymnasium as gym

    import grasp_envs  # noqa: F401  (registers the ids)

    return {k: gym.registry[k] for k in sorted(gym.registry) if k.startswith("grasp_envs/")}


def env_page(env_id: str, spec) -> str:
    from gymnasium.envs.registration import load_env_creator

    cls = load_env_creator(spec.entry_point)
    doc = inspect.getdoc(cls) or ""
    missing = [s for s in SECTIONS if f"## {s}" not in doc]
    if missing:
        raise ValueError(f"{env_id}: the docstring of {spec.entry_point} lacks the sections {missing}; every "
                         f"registered env documents {list(SECTIONS)} (see GraspRandomEnv)")
    name = env_id.split("/", 1)[1]
    kwargs = json.dumps(spec.kwargs, sort_keys=True)
    lines = [
        f"# {name}", "",
        "| | |", "|---|---|",
        f"| Id | `{env_id}` |",
        f"| Entry point | `{spec.entry_point}` |",
        f"| Registered kwargs | `{kwargs}` |",
        f"| Make | `gym.make(\"{env_id}\")` |", "",
        rst_to_md(doc), "",
    ]
    tasks = [t for t in _tasks() if t.env_id == env_id]
    if tasks:
        lines += ["## Benchmark tasks", ""]
        lines += [f"* `{t.name}`: {t.description}" for t in tasks]
        lines.append("")
    return "\n".join(lines)


def env_pages() -> dict[str, str]:
    envs = registered_envs()
    pages = {f"envs/{eid.split('/', 1)[1]}.md": env_page(eid, spec) for eid, spec in envs.items()}
    index = ["# Environments", "",
             "Generated from the registry and each environment's docstring.", "",
             "| id | entry point |", "|---|---|"]
    index += [f"| [{eid}]({eid.split('/', 1)[1]}.md) | `{spec.entry_point}` |" for eid, spec in envs.items()]
    pages["envs/index.md"] = "\n".join(index) + "\n"
    return pages


def _tasks():
    from benchmarks.tasks import TASKS

    return list(TASKS.values())


def tasks_table() -> str:
    lines = ["| task | env | kwargs | scenes x seeds | each seed | object checksum | available here |",
             "|---|---|---|---|---|---|---|"]
    for t in _tasks():
        checksum = f"`{t.object_checksum[:12]}`" if t.object_checksum else "not frozen yet"
        per_seed = "fresh orientations" if t.per_seed_resets else "replays the scenes"
        lines.append(f"| `{t.name}` | `{t.env_id}` | `{json.dumps(t.env_kwargs, sort_keys=True)}` | "
                     f"{t.n_scenes} x {len(t.seeds)} | {per_seed} | {checksum} | {'yes' if t.available else 'no'} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------- mkdocs hooks
def _repo_on_path(config) -> None:
    root = str(Path(config.config_file_path).resolve().parent)
    if root not in sys.path:
        sys.path.insert(0, root)


def on_config(config):
    _repo_on_path(config)
    docs = Path(config.docs_dir)
    present = {p.relative_to(docs).as_posix() for p in docs.rglob("*.md") if not p.relative_to(docs).as_posix().startswith("_")}
    generated = set(env_pages())
    nav = []
    for title, page in NAV_ORDER:
        if page == "envs/index.md":
            env_nav = [{"Overview": page}] + [{Path(p).stem: p} for p in sorted(generated) if p != page]
            nav.append({title: env_nav})
        elif page in present:
            nav.append({title: page})
    listed = {page for _, page in NAV_ORDER}
    nav += [{Path(p).stem.replace("_", " ").capitalize(): p} for p in sorted(present - listed)]
    config.nav = nav
    return config


def on_files(files, config):
    from mkdocs.structure.files import File

    for path, content in env_pages().items():
        if files.get_file_from_path(path) is not None:
            raise ValueError(f"docs/{path} exists but is generated from the registry; delete the file")
        files.append(File.generated(config, path, content=content))
    return files


def on_page_markdown(markdown, page, config, files):
    if TASKS_MARKER in markdown:
        markdown = markdown.replace(TASKS_MARKER, tasks_table())
    return markdown


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "site-envs")
    for rel, text in env_pages().items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text)
        print(out / rel)
