"""The ``grasp-envs`` console command.

Subcommands are plugins: each is an entry point in the ``grasp_envs.cli`` group (see
``pyproject.toml``) naming a ``register(subparsers)`` function that adds its parser and sets
``func``.  This keeps the package's imports one-way: the simulator package never imports the
agents or benchmarks that provide ``evaluate`` or ``train``.

Subcommands load lazily: only the module of the command being run is imported, so
``grasp-envs --help``, ``download`` and ``generate`` work without the optional packages (torch
for training and the learned agents) that other commands need.  A command whose optional
dependency is missing fails with the ``pip install`` line that provides it.

Errors a user can fix (bad values, missing files, missing optional packages) print one line, exit
status 1; Ctrl-C prints one line (with the command that resumes, where the command can resume)
and exits with status 130.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from importlib.metadata import entry_points

from grasp_envs import __version__


def positive_int(example: str | None = None):
    """An argparse ``type``: a whole number of at least 1; ``example`` is a command line that works.

    argparse prints the flag with the message, e.g. ``argument --episodes: must be at least 1, got 0
    (for example: grasp-envs baselines --episodes 50)``, and exits with status 2.
    """
    hint = f" (for example: {example})" if example else ""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}{hint}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be at least 1, got {value}{hint}")
        return value

    parse.__name__ = "positive_int"
    return parse


def make_command(name: str, help: str, doc: str | None, add_arguments, run):
    """``(register, main)`` for a subcommand module: the entry-point hook and a ``python -m`` main.

    ``add_arguments(parser)`` declares the arguments; ``run(args) -> int`` does the work.
    """

    def register(subparsers) -> None:
        p = subparsers.add_parser(name, help=help, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
        add_arguments(p)
        p.set_defaults(func=run)

    def main(argv: list[str] | None = None) -> int:
        p = argparse.ArgumentParser(prog=f"grasp-envs {name}", description=doc,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        add_arguments(p)
        return run(p.parse_args(argv))

    return register, main


#: One line per built-in command for ``grasp-envs --help``, which imports no command module.
SUMMARIES = {
    "baselines": "evaluate Random, Centroid and the shipped agents on seeded random-object scenes",
    "dataset": "inspect grasp datasets",
    "download": "fetch, verify and process an object dataset (ycb, scanned)",
    "evaluate": "run an agent on a frozen benchmark task and write results JSON",
    "generate": "generate a grasp dataset (Parquet shards, resumable)",
    "leaderboard": "validate results files, recompute and rank, write docs/leaderboard.md",
    "paper": "the paper's Fig. 5/6 tables and Fig. 8/9 curves from results",
    "primitives": "build a primitive bank from mesh folders",
    "train": "train the planner / evaluator (generate, planner, evaluator, recipe)",
}

#: Optional top-level modules and the extra of ``pyproject.toml`` that installs each.
EXTRAS = {
    "torch": "train", "matplotlib": "train", "tensorboard": "train", "pyarrow": "data", "pandas": "data",
    "ray": "ray", "pybullet": "bench", "coacd": "objects", "fast_simplification": "objects", "networkx": "objects",
    "pyrealsense2": "real", "roslibpy": "real", "yaml": "real", "websockets": "real", "moviepy": "video",
    "stable_baselines3": "test",
}


def missing_dependency_message(exc: ImportError) -> str | None:
    """The one-line fix for an ImportError of an optional dependency, or None for any other."""
    name = (getattr(exc, "name", None) or "").split(".")[0]
    if isinstance(exc, ModuleNotFoundError) and name in EXTRAS:
        return f"this needs {name}, which is not installed: pip install 'grasp-envs[{EXTRAS[name]}]'"
    if "pip install" in str(exc):  # the project's own messages already name the fix
        return str(exc)
    return None


def _resume_hint(command: str, argv: list[str]) -> str:
    """How to continue an interrupted command, for the commands that can."""
    again = f"grasp-envs {shlex.join(argv)}"
    if command == "generate":
        return f"; to finish it, run: {again}" + ("" if "--resume" in argv else " --resume")
    if command in ("download", "primitives"):
        return f"; finished work is kept, so running the same command again resumes: {again}"
    return ""


def _command_entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group="grasp_envs.cli")}


def build_parser(load: str | None = None) -> argparse.ArgumentParser:
    """The ``grasp-envs`` parser, with only command ``load``'s module imported (``"*"``: all)."""
    parser = argparse.ArgumentParser(prog="grasp-envs", description="Grasp planning environments and baselines.")
    parser.add_argument("--version", action="version", version=f"grasp-envs {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, ep in sorted(_command_entry_points().items()):
        if load in (name, "*"):
            ep.load()(sub)
        else:  # a placeholder for the listing; never parsed, since the command run is loaded
            sub.add_parser(name, help=SUMMARIES.get(name, f"(plugin {ep.value})"), add_help=False)
    return parser


def _missing_dependency(command: str | None, exc: ImportError) -> int:
    """Exit code 1 with the install line for a missing optional package; other import errors propagate."""
    message = missing_dependency_message(exc)
    if message is None:
        raise exc
    print(f"grasp-envs {command}: error: {message}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        parser = build_parser(load=command)
    except ImportError as exc:
        return _missing_dependency(command, exc)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"grasp-envs {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        return _missing_dependency(args.command, exc)
    except KeyboardInterrupt:
        print(f"grasp-envs {args.command}: interrupted{_resume_hint(args.command, argv)}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the output was piped into a reader that stopped early (``| head``)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
