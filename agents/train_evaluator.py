"""Train the grasp evaluator (paper, section III.C), read top to bottom.

    grasp-envs generate --num-objects 2000 --attempts 150 --out runs/data
    grasp-envs generate --num-objects 500 --attempts 30 --seed 1 --out runs/round1 \\
        --proposer agents.proposals:PlannerProposals --proposer-kwargs '{"checkpoint": "runs/r0/planner"}'
    grasp-envs train evaluator --data runs/data,runs/round1 --out runs/r1      # -> runs/r1/evaluator.{pt,json}

**Data.**  The hand-camera depth image of every simulated attempt (rejected grasps have none: the
agents never execute them), labelled with its outcome.  Images of a proposer's grasps (``source``
1: the planner's own candidates, what the evaluator ranks at test time) are seen
``proposal_repeat`` times per epoch; uniform grasps' failures are mostly easy.

**Inputs.**  The image (the paper's evaluator) or, with ``grasp_inputs``, the image plus the
candidate's own bins and the object box's extents (:class:`agents.evaluator.EvaluatorConfig`);
``init`` continues from a checkpoint, and an image-only one is widened with zero weights for the
new inputs, so training starts from its predictions.

**Loss.**  Binary cross-entropy with the positive class weighted by the negatives-to-positives
ratio; for image-only evaluators, random mirroring of the image across either axis (the jaws are
symmetric; with grasp inputs a mirrored image no longer matches its bins, so it is not mirrored).

**Validation.**  Held-out objects' BCE and accuracy, and accuracy on the proposer's grasps alone
(``accuracy_planner_candidates``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from agents.checkpoint import save_checkpoint
from agents.evaluator import EvaluatorConfig, GraspEvaluator
from agents.train_utils import cosine_lr, load_data, script_main, split_objects, tensorboard_writer


@dataclass(frozen=True)
class EvaluatorArgs:
    data: str = "runs/data"
    """dataset directory written by ``grasp-envs generate`` (several may be given, comma separated)"""
    out: str = "runs/evaluator"
    """run directory: checkpoint ``OUT/evaluator.{pt,json}``, TensorBoard logs ``OUT/tb``"""
    partial_data: bool = False
    """train on the finished shards of datasets whose generation was interrupted"""
    epochs: int = 6
    """passes over the hand images"""
    batch_size: int = 256
    """hand images per batch"""
    lr: float = 1e-3
    """Adam learning rate (cosine-decayed to 5% over the run)"""
    val_fraction: float = 0.1
    """fraction of objects held out to report validation loss and accuracy"""
    channels: tuple[int, ...] = (32, 64, 128)
    """CNN channels"""
    hidden: int = 256
    """dense units before the sigmoid"""
    grasp_inputs: bool = False
    """the dense layer also reads the candidate's bins and the object box's extents"""
    init: str = ""
    """optional evaluator checkpoint to continue from (its architecture wins; widened for grasp_inputs)"""
    proposal_repeat: int = 4
    """times each hand image of a planner proposal is seen per epoch (they are the candidates the
    evaluator ranks at test time; uniform grasps' failures are mostly easy)"""
    threads: int = 1
    """torch CPU threads"""
    seed: int = 0
    """seed of initialisation, shuffling and augmentation"""

    def __post_init__(self) -> None:
        if self.proposal_repeat < 1:
            raise ValueError(f"proposal_repeat must be at least 1, got {self.proposal_repeat}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs, batch_size and lr must be positive")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")


def train_evaluator(args: EvaluatorArgs, progress: bool = True) -> Path:
    """Fit the evaluator by binary cross-entropy on hand images; returns the checkpoint stem."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(np.random.SeedSequence([args.seed, 0xE7A1]))
    data = load_data(args.data, partial=args.partial_data)
    imgs = torch.from_numpy(data["hand_depth"])
    labels = torch.from_numpy(data["hand_label"].astype(np.float32))
    if len(imgs) == 0 or labels.sum() == 0 or labels.sum() == len(labels):
        raise ValueError(f"the data in {args.data} needs hand images of both successes and failures; "
                         f"generate more objects")
    obs = data["meta"]["observation"]
    dims = data["meta"]["dims"]
    if args.init:
        from agents.checkpoint import load_checkpoint

        model = load_checkpoint(args.init, kind="evaluator")
        if args.grasp_inputs and not model.config.grasp_dims:
            model = model.widened(dims)
    else:
        model = GraspEvaluator(EvaluatorConfig(height=imgs.shape[1], width=imgs.shape[2], standoff=obs["hand_standoff"],
                                               channels=args.channels, hidden=args.hidden,
                                               grasp_dims=dims if args.grasp_inputs else 0))
    if model.config.grasp_dims not in (0, dims):
        raise ValueError(f"the evaluator reads {model.config.grasp_dims}-D grasps but the data is {dims}-D")
    grasps = torch.from_numpy(data["hand_grasp"])
    boxes = torch.from_numpy(data["bbox"])[torch.from_numpy(data["hand_object"])]
    model.train()
    objs = np.unique(data["hand_object"])
    tr_o, va_o = split_objects(len(objs), args.val_fraction, rng)
    in_val = np.isin(data["hand_object"], objs[va_o])
    tr, va = np.flatnonzero(~in_val), np.flatnonzero(in_val)
    tr = np.concatenate([tr] + [tr[data["hand_source"][tr] == 1]] * (args.proposal_repeat - 1))
    pos = float(labels[tr].sum())
    pos_weight = torch.tensor((len(tr) - pos) / max(pos, 1.0))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    writer = tensorboard_writer(out)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = math.ceil(len(tr) / args.batch_size)
    total = args.epochs * steps_per_epoch
    step = 0
    t0 = time.perf_counter()
    bar = tqdm(total=total, desc="evaluator", unit="batch", disable=not progress)
    val = {}
    for epoch in range(args.epochs):
        order = rng.permutation(tr)
        for b in range(steps_per_epoch):
            idx = order[b * args.batch_size : (b + 1) * args.batch_size]
            x = imgs[idx]
            # The jaws are symmetric: mirroring the image across either axis keeps the outcome.
            if not model.config.grasp_dims:
                if rng.integers(2):
                    x = torch.flip(x, dims=(-1,))
                if rng.integers(2):
                    x = torch.flip(x, dims=(-2,))
            for group in opt.param_groups:
                group["lr"] = cosine_lr(step, total, args.lr)
            logits = model(x, grasps[idx], boxes[idx])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels[idx], pos_weight=pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            writer.add_scalar("evaluator/train_bce", loss.item(), step)
            bar.update(1)
            bar.set_postfix(bce=f"{loss.item():.3f}")
        if len(va):
            val = evaluator_metrics(model, imgs[va], labels[va], data["hand_source"][va], grasps[va], boxes[va])
            for k, v in val.items():
                writer.add_scalar(f"evaluator/val_{k}", v, step)
    bar.close()
    writer.close()
    model.eval()
    meta = {"recipe": "agents.train_evaluator:train_evaluator", "args": dataclasses.asdict(args),
            "data_meta": data["meta"], "train_images": int(len(tr)), "val_images": int(len(va)), "val": val,
            "train_seconds": time.perf_counter() - t0, "steps": step}
    save_checkpoint(model, out / "evaluator", meta)
    return out / "evaluator"


@torch.no_grad()
def evaluator_metrics(model: GraspEvaluator, imgs: torch.Tensor, labels: torch.Tensor, source: np.ndarray,
                      grasps: torch.Tensor | None = None, boxes: torch.Tensor | None = None) -> dict:
    was = model.training
    model.eval()
    logits = torch.cat([model(imgs[s : s + 512], None if grasps is None else grasps[s : s + 512],
                              None if boxes is None else boxes[s : s + 512]) for s in range(0, len(imgs), 512)])
    model.train(was)
    pred = (logits > 0).float()
    res = {"bce": float(torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)),
           "accuracy": float((pred == labels).float().mean())}
    planner_rows = torch.from_numpy(source == 1)
    if planner_rows.any():
        res["accuracy_planner_candidates"] = float((pred[planner_rows] == labels[planner_rows]).float().mean())
    return res


def main(argv: list[str] | None = None) -> int:
    return script_main(EvaluatorArgs, train_evaluator, "python -m agents.train_evaluator", __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
