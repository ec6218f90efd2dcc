"""The ``grasp-envs`` console command.

Subcommands are plugins: each is an entry point in the ``grasp_envs.cli`` group (see
``pyproject.toml``) naming a ``register(subparsers)`` function that adds its parser and sets
``func``.  This keeps the package's imports one-way: the simulator package never imports the
agents or benchmarks that provide ``evaluate`` or ``train``, and ``grasp-envs --help`` loads
nothing heavy.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

from grasp_envs import __version__


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grasp-envs", description="Grasp planning environments and baselines.")
    parser.add_argument("--version", action="version", version=f"grasp-envs {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for ep in sorted(entry_points(group="grasp_envs.cli"), key=lambda e: e.name):
        ep.load()(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"grasp-envs {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
