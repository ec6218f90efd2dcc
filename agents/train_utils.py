"""What the training scripts share: reading datasets, padding, the schedule, logging, the CLI glue.

The scripts themselves are :mod:`agents.train_planner`, :mod:`agents.train_evaluator` and
:mod:`agents.recipe`; each holds one model's whole training, top to bottom.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

import numpy as np

#: Keys of :func:`load_data` whose values index the scene rows (offset when datasets are joined).
_ROW_KEYS = ("success_object", "negative_object", "hand_object")


def load_data(data: str, *, images: bool = True, partial: bool = False) -> dict:
    """Read and join comma-separated dataset directories written by ``grasp-envs generate``.

    Returns the arrays of :func:`agents.data.training_arrays`, concatenated, with scene rows
    renumbered.  ``images=False`` skips the hand-camera column (the planner does not need it);
    ``partial`` reads the finished shards of a dataset whose generation was interrupted (otherwise
    such a dataset is refused with the command that finishes it).
    """
    from agents.data import training_arrays
    from grasp_envs.dataset import GraspDataset, storage

    dirs = [Path(s.strip()) for s in data.split(",") if s.strip()]
    if not dirs:
        raise ValueError("--data names no directory; give one written by `grasp-envs generate --out DIR`")
    parts = []
    for p in dirs:
        if not (p / storage.MANIFEST).is_file():
            raise FileNotFoundError(f"no grasp dataset (manifest.json) in {p}; create it with "
                                    f"`grasp-envs generate --num-objects 1000 --attempts 150 --out {p}`")
        parts.append(training_arrays(GraspDataset(p, allow_incomplete=partial), images=images))
    from grasp_envs.envs.observations import ObservationConfig

    def settings(meta: dict) -> dict:  # older datasets lack newer fields: compare with their defaults
        return {**ObservationConfig(**meta["observation"]).to_dict(), "noise": None}

    first = parts[0]["meta"]
    for p, d in zip(parts[1:], dirs[1:]):
        m = p["meta"]
        if m["dims"] != first["dims"] or settings(m) != settings(first):
            raise ValueError(f"{d} was generated with other dims or observation settings than {dirs[0]}; "
                             "train on datasets of one env")
    out = {"meta": {**first, "dataset": ",".join(str(d) for d in dirs)}}
    n_rows = 0
    for p in parts:
        for k in _ROW_KEYS:
            if k in p:
                p[k] = p[k] + n_rows
        n_rows += len(p["depth"])
    for k in parts[0]:
        if k != "meta":
            out[k] = np.concatenate([p[k] for p in parts])
    return out


def split_objects(n: int, val_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and validation rows of ``n`` scenes."""
    perm = rng.permutation(n)
    n_val = int(round(n * val_fraction))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def group_rows(rows: np.ndarray, values: np.ndarray, n: int, dims: int) -> list[np.ndarray]:
    """``values`` (M, dims) grouped by their scene ``rows`` into a list of ``n`` arrays."""
    order = np.argsort(rows, kind="stable")
    bounds = np.searchsorted(rows[order], np.arange(n + 1))
    v = np.asarray(values, np.int64).reshape(-1, dims)[order]
    return [v[bounds[i] : bounds[i + 1]] for i in range(n)]


def pad_grasps(groups: list[np.ndarray], dims: int, max_grasps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-object grasp lists into an (n, m, dims) matrix padded with zeros and a mask (n, m)."""
    groups = [g if len(g) <= max_grasps else g[rng.choice(len(g), max_grasps, replace=False)] for g in groups]
    m = max(1, max(len(g) for g in groups))
    grasps = np.zeros((len(groups), m, dims), np.int64)
    mask = np.zeros((len(groups), m), np.float32)
    for i, g in enumerate(groups):
        grasps[i, : len(g)] = g
        mask[i, : len(g)] = 1.0
    return grasps, mask


def cosine_lr(step: int, total: int, lr: float) -> float:
    """Cosine decay from ``lr`` to 5% of it over ``total`` steps."""
    return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / max(1, total)))))


def tensorboard_writer(out: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # tensorboard is in the [train] extra
        raise RuntimeError("TensorBoard logging needs the tensorboard package: pip install 'grasp-envs[train]'") from exc
    return SummaryWriter(str(out / "tb"))


# ---------------------------------------------------------------------- dataclass <-> command line
def add_dataclass_args(p: argparse.ArgumentParser, cls) -> None:
    """One ``--flag`` per field of the frozen dataclass ``cls``, documented by its field docstring."""
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        text = f"{docs.get(f.name, '')} (default: {default})".replace("%", "%%")  # argparse formats help with %
        kw = {"default": default, "help": text}
        if isinstance(default, bool):
            kw["type"] = lambda s: s.lower() in ("1", "true", "yes")
            kw["metavar"] = "true|false"
        elif isinstance(default, tuple):
            kw["type"] = int
            kw["nargs"] = "+"
        else:
            kw["type"] = type(default)
        p.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, **kw)


def field_docs(cls) -> dict[str, str]:
    """Field docstrings (the string literal after each field) of a dataclass, from its source."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body
    docs = {}
    for a, b in zip(body, body[1:]):
        if isinstance(a, ast.AnnAssign) and isinstance(b, ast.Expr) and isinstance(getattr(b, "value", None), ast.Constant):
            docs[a.target.id] = " ".join(str(b.value.value).split())
    return docs


def args_from_namespace(cls, ns: argparse.Namespace):
    kwargs = {f.name: getattr(ns, f.name) for f in dataclasses.fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()})


def script_main(cls, fn, prog: str, doc: str, argv: list[str] | None = None) -> int:
    """``python -m agents.train_X ARGS``: parse the dataclass's flags, run, print the result."""
    p = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataclass_args(p, cls)
    result = fn(args_from_namespace(cls, p.parse_args(argv)))
    print(json.dumps(result, indent=2, default=str) if isinstance(result, dict) else f"wrote {result}")
    return 0
