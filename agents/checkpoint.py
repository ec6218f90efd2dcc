"""Checkpoints: a ``state_dict`` (``NAME.pt``) plus a JSON config (``NAME.json``).

Nothing is unpickled: weights load with ``torch.load(weights_only=True)`` and the model is rebuilt
from the JSON config, so a checkpoint from a stranger cannot run code.  Loading fails with a clear
:class:`CheckpointError` for a missing, truncated or corrupt file, a checkpoint of another kind, or
weights that do not match the config.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from agents.evaluator import EvaluatorConfig, GraspEvaluator
from agents.planner import GraspPlanner, PlannerConfig

FORMAT_VERSION = 1
KINDS = {"planner": (PlannerConfig, GraspPlanner), "evaluator": (EvaluatorConfig, GraspEvaluator)}
#: The checkpoints shipped inside the package (trained by ``grasp-envs train``; see docs/training.md).
SHIPPED_DIR = Path(__file__).resolve().parent / "checkpoints"


class CheckpointError(ValueError):
    """A checkpoint cannot be loaded; the message says why and what to do."""


def _paths(path: str | Path) -> tuple[Path, Path]:
    p = Path(path)
    if p.suffix in (".pt", ".json"):
        p = p.with_suffix("")
    return p.with_suffix(".pt"), p.with_suffix(".json")


def kind_of(model: torch.nn.Module) -> str:
    for kind, (_, cls) in KINDS.items():
        if isinstance(model, cls):
            return kind
    raise TypeError(f"cannot checkpoint a {type(model).__name__}; expected one of "
                    f"{[c.__name__ for _, c in KINDS.values()]}")


def save_checkpoint(model: torch.nn.Module, path: str | Path, meta: dict | None = None, *,
                    half: bool = False) -> tuple[Path, Path]:
    """Write ``path.pt`` (state_dict) and ``path.json`` (kind, config, ``meta``); returns both paths.

    ``half`` stores floating-point weights as float16 (half the file); they load back as float32.
    The shipped checkpoints are stored so where their decisions do not change (``agents.ship``).
    """
    pt, js = _paths(path)
    pt.parent.mkdir(parents=True, exist_ok=True)
    doc = {"format_version": FORMAT_VERSION, "kind": kind_of(model), "config": model.config.to_dict(),
           "meta": dict(meta or {}), "weights_dtype": "float16" if half else "float32"}
    text = json.dumps(doc, indent=2, sort_keys=True)
    tmp = pt.with_suffix(".pt.tmp")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    torch.save(state, tmp)
    tmp.replace(pt)
    js.write_text(text + "\n")
    return pt, js


def read_config(path: str | Path) -> dict:
    """The parsed JSON document of a checkpoint (kind, config, meta)."""
    _, js = _paths(path)
    if not js.is_file():
        raise CheckpointError(f"checkpoint config {js} does not exist; train one with "
                              f"`grasp-envs train planner|evaluator --out RUN` (see docs/training.md)")
    try:
        doc = json.loads(js.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint config {js} is not valid JSON ({exc}); the file is truncated or "
                              f"corrupt: copy it again or retrain") from None
    for key in ("format_version", "kind", "config"):
        if key not in doc:
            raise CheckpointError(f"checkpoint config {js} has no {key!r} field; it was not written by "
                                  f"agents.checkpoint.save_checkpoint")
    if doc["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {js} has format_version {doc['format_version']}, this version "
                              f"reads {FORMAT_VERSION}")
    if doc["kind"] not in KINDS:
        raise CheckpointError(f"checkpoint {js} has unknown kind {doc['kind']!r}; expected one of {sorted(KINDS)}")
    return doc


def load_checkpoint(path: str | Path, kind: str | None = None, map_location: str = "cpu") -> torch.nn.Module:
    """Rebuild the model of a checkpoint and load its weights (``weights_only=True``); eval mode."""
    pt, js = _paths(path)
    doc = read_config(path)
    if kind is not None and doc["kind"] != kind:
        raise CheckpointError(f"checkpoint {js} holds a {doc['kind']}, but a {kind} was asked for")
    config_cls, model_cls = KINDS[doc["kind"]]
    try:
        config = config_cls(**doc["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {js} has an invalid {doc['kind']} config: {exc}") from None
    if not pt.is_file():
        raise CheckpointError(f"checkpoint weights {pt} do not exist (the config {js} does); copy both files")
    try:
        state = torch.load(pt, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError, ... for bad files
        raise CheckpointError(f"checkpoint weights {pt} are truncated or corrupt ({type(exc).__name__}: {exc}); "
                              f"copy the file again or retrain") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint weights {pt} hold a {type(state).__name__}, not a state_dict")
    model = model_cls(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"checkpoint weights {pt} do not match the config in {js}: missing {missing[:5]}"
                              f"{'...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}"
                              f"{'...' if len(unexpected) > 5 else ''}; the two files come from different runs")
    bad = [f"{k}: file {tuple(state[k].shape)} vs config {tuple(v.shape)}" for k, v in expected.items()
           if tuple(state[k].shape) != tuple(v.shape)]
    if bad:
        raise CheckpointError(f"checkpoint weights {pt} do not match the config in {js} ({'; '.join(bad[:3])}); "
                              f"the two files come from different runs")
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    model.eval()
    model.checkpoint_meta = doc.get("meta", {})
    return model


def shipped(name: str) -> Path:
    """Path stem of a shipped checkpoint, e.g. ``shipped("planner_4d")``; raises if it is absent."""
    stem = SHIPPED_DIR / name
    if not stem.with_suffix(".json").is_file():
        available = sorted(p.stem for p in SHIPPED_DIR.glob("*.json"))
        raise CheckpointError(f"no shipped checkpoint {name!r} in {SHIPPED_DIR}; available: {available}. "
                              f"Train one with `grasp-envs train planner --out RUN` and pass checkpoint=RUN/planner")
    return stem
