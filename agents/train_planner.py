"""Train the autoregressive grasp planner (paper, section III.B), read top to bottom.

    grasp-envs generate --num-objects 2000 --attempts 150 --out runs/data     # label objects (Parquet)
    grasp-envs train planner --data runs/data --out runs/r0                    # -> runs/r0/planner.{pt,json}
    python -m agents.train_planner --data runs/data,runs/round1 --init runs/r0/planner --out runs/r1

**Targets.**  Each scene's successful grasps, stacked: one image pass per object for all of its
grasps (:meth:`agents.planner.GraspPlanner.nll_stacked`'s form), at most ``max_grasps`` per object
per batch.

**Free negatives.**  Every labelled grasp that did not lift the object is a negative: most are
rejected by the simulator without physics (they penetrate the table or the object, or close on
air), the rest were simulated and failed.  With ``negatives > 0`` the loss adds, per object, the
share of the planner's mass on the object's labelled grasps that sits on its negatives:
``negatives * -log(sum_pos p(g|o) / (sum_pos p(g|o) + sum_neg p(g|o)))`` over up to
``max_negatives`` negatives (averaged over objects that have both).  It is scale-free: a negative
is pushed down in proportion to its probability relative to the successes, whatever the absolute
mass.  (The sequence-level unlikelihood ``-log(1 - p(g|o))`` was tried first and does nothing
here: a 4-D grasp's probability is of order 1e-3 at most, so its gradient vanishes.)  The
negatives that teach most are the planner's own rejected and failed proposals, which an
on-policy round labels (:mod:`agents.proposals`).

**Augmentation.**  4-D: a random dihedral transform (mirror, quarter turns) of the feature maps
and of every grasp's bins per batch (:func:`agents.planner.dihedral_features`).

**Validation.**  Held-out objects' NLL per successful grasp, and the planner's total probability
on their successes and on their negatives (``val_positive_mass``, ``val_negative_mass``): what
the unlikelihood moves.  Logged to TensorBoard (``OUT/tb``) and stored in the checkpoint's meta.
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

from agents.checkpoint import load_checkpoint, save_checkpoint
from agents.planner import GraspPlanner, PlannerConfig, dihedral_bins, dihedral_features
from agents.train_utils import (cosine_lr, group_rows, load_data, pad_grasps, script_main, split_objects,
                                tensorboard_writer)


@dataclass(frozen=True)
class PlannerArgs:
    data: str = "runs/data"
    """dataset directory written by ``grasp-envs generate`` (several may be given, comma separated)"""
    out: str = "runs/planner"
    """run directory: checkpoint ``OUT/planner.{pt,json}``, TensorBoard logs ``OUT/tb``"""
    partial_data: bool = False
    """train on the finished shards of datasets whose generation was interrupted"""
    epochs: int = 30
    """passes over the training objects"""
    batch_objects: int = 64
    """objects per batch (each contributes all of its successful grasps, stacked)"""
    max_grasps: int = 64
    """at most this many successful grasps per object per batch (a random subset beyond it)"""
    negatives: float = 0.0
    """weight of the negative-share term on grasps that did not lift the object (0: plain NLL)"""
    max_negatives: int = 128
    """at most this many negatives per object per batch (a random subset beyond it)"""
    lr: float = 2e-3
    """Adam learning rate (cosine-decayed to 5% over the run)"""
    weight_decay: float = 1e-5
    """Adam L2 penalty"""
    augment: bool = True
    """random dihedral transform (8-fold: mirror and quarter turns) of image and bins per batch; 4-D only"""
    val_fraction: float = 0.1
    """fraction of objects held out to report validation NLL"""
    embed: int = 384
    """planner embedding size"""
    head_hidden: int = 256
    """hidden units per grasp-dimension sub-network"""
    channels: tuple[int, ...] = (32, 64, 128, 128)
    """CNN channels"""
    threads: int = 1
    """torch CPU threads"""
    seed: int = 0
    """seed of initialisation, shuffling and augmentation"""
    init: str = ""
    """optional planner checkpoint to continue from (its architecture wins)"""

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_objects < 1 or self.max_grasps < 1 or self.lr <= 0:
            raise ValueError("epochs, batch_objects, max_grasps and lr must be positive")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.negatives < 0 or self.max_negatives < 1:
            raise ValueError(f"negatives must be >= 0 and max_negatives >= 1, got {self.negatives}, {self.max_negatives}")


def negative_share(lp_pos: torch.Tensor, pos_mask: torch.Tensor, lp_neg: torch.Tensor, neg_mask: torch.Tensor
                   ) -> torch.Tensor:
    """``-log(P_pos / (P_pos + P_neg))`` per object from log-likelihoods (B, m) and (B, n) with masks, averaged
    over the objects that have both positives and negatives."""
    low = torch.finfo(lp_pos.dtype).min / 4
    a = torch.where(pos_mask > 0, lp_pos, torch.full_like(lp_pos, low))
    b = torch.where(neg_mask > 0, lp_neg, torch.full_like(lp_neg, low))
    share = torch.logsumexp(torch.cat([a, b], 1), 1) - torch.logsumexp(a, 1)
    has = ((pos_mask.sum(1) > 0) & (neg_mask.sum(1) > 0)).to(lp_pos.dtype)
    return (share * has).sum() / has.sum().clamp_min(1.0)


def train_planner(args: PlannerArgs, progress: bool = True) -> Path:
    """Fit the planner by stacked NLL of successes (plus the negatives' share); returns the checkpoint stem."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(np.random.SeedSequence([args.seed, 0x91A7]))
    data = load_data(args.data, images=False, partial=args.partial_data)
    dims = data["meta"]["dims"]
    if args.augment and dims != 4:
        raise ValueError("dihedral augmentation is defined for 4-D grasps; pass --augment false for 6-D data")
    if args.init:
        model = load_checkpoint(args.init, kind="planner")
        if model.config.dims != dims:
            raise ValueError(f"--init is a {model.config.dims}-D planner but the data is {dims}-D")
    else:
        model = GraspPlanner(PlannerConfig(dims=dims, observation=data["meta"]["observation"], channels=args.channels,
                                           embed=args.embed, head_hidden=args.head_hidden))
    model.train()
    n_obj = len(data["depth"])
    positives = group_rows(data["success_object"], data["success_grasp"], n_obj, dims)
    negatives = group_rows(data["negative_object"], data["negative_grasp"], n_obj, dims)
    usable = np.array([i for i in range(n_obj) if len(positives[i])])
    if len(usable) < (2 if args.val_fraction > 0 else 1):
        raise ValueError(f"only {len(usable)} objects in {args.data} have a successful grasp; generate more objects")
    tr, va = split_objects(len(usable), args.val_fraction, rng)
    tr, va = usable[tr], usable[va]
    depth = torch.from_numpy(data["depth"])
    bbox = torch.from_numpy(data["bbox"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    writer = tensorboard_writer(out)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = math.ceil(len(tr) / args.batch_objects)
    total = args.epochs * steps_per_epoch
    step = 0
    t0 = time.perf_counter()
    bar = tqdm(total=total, desc="planner", unit="batch", disable=not progress)
    val: dict = {}
    for epoch in range(args.epochs):
        order = rng.permutation(tr)
        for b in range(steps_per_epoch):
            idx = order[b * args.batch_objects : (b + 1) * args.batch_objects]
            pos, pos_mask = pad_grasps([positives[i] for i in idx], dims, args.max_grasps, rng)
            # Drawn whatever the weight, so runs that differ only in ``negatives`` see the same batches.
            neg, neg_mask = pad_grasps([negatives[i] for i in idx], dims, args.max_negatives, rng)
            feats, bb = model.features(depth[idx], bbox[idx]), bbox[idx]
            if args.augment:
                k, flip = int(rng.integers(4)), bool(rng.integers(2))
                feats, bb = dihedral_features(feats, bb, k, flip)
                pos = dihedral_bins(pos, k, flip, model.config.n_bins)
                neg = dihedral_bins(neg, k, flip, model.config.n_bins)
            for group in opt.param_groups:
                group["lr"] = cosine_lr(step, total, args.lr)
            s = model.embed_features(feats, bb)
            lp = model.log_prob_given_embedding(s, torch.from_numpy(pos))
            m = torch.from_numpy(pos_mask)
            nll = -(lp * m).sum() / m.sum().clamp_min(1.0)
            loss = nll
            if args.negatives > 0:
                share = negative_share(lp, m, model.log_prob_given_embedding(s, torch.from_numpy(neg)),
                                       torch.from_numpy(neg_mask))
                loss = nll + args.negatives * share
                writer.add_scalar("planner/train_negative_share", share.item(), step)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            writer.add_scalar("planner/train_nll", nll.item(), step)
            bar.update(1)
            bar.set_postfix(nll=f"{nll.item():.2f}", val=f"{val.get('nll', float('nan')):.2f}")
        if len(va):
            val = planner_validation(model, depth[va], bbox[va], [positives[i] for i in va], [negatives[i] for i in va])
            for k, v in val.items():
                writer.add_scalar(f"planner/val_{k}", v, step)
    bar.close()
    writer.close()
    model.eval()
    meta = {"recipe": "agents.train_planner:train_planner", "args": dataclasses.asdict(args), "data_meta": data["meta"],
            "train_objects": int(len(tr)), "val_objects": int(len(va)), "val_nll": val.get("nll", float("nan")),
            "val": val, "train_seconds": time.perf_counter() - t0, "steps": step}
    save_checkpoint(model, out / "planner", meta)
    return out / "planner"


@torch.no_grad()
def planner_validation(model: GraspPlanner, depth: torch.Tensor, bbox: torch.Tensor, positives: list[np.ndarray],
                       negatives: list[np.ndarray]) -> dict:
    """NLL per successful grasp, and mean total probability of each object's successes and negatives."""
    was = model.training
    model.eval()
    nll, count, pos_mass, neg_mass = 0.0, 0, 0.0, 0.0
    dims = model.config.dims
    rng = np.random.default_rng(0)
    for s in range(0, len(positives), 128):
        emb = model.embed(depth[s : s + 128], bbox[s : s + 128])
        g, m = pad_grasps(positives[s : s + 128], dims, 10**9, rng)
        lp = model.log_prob_given_embedding(emb, torch.from_numpy(g)) * torch.from_numpy(m)
        nll += float(-lp.sum())
        count += int(m.sum())
        pos_mass += float((lp.exp() * torch.from_numpy(m)).sum())
        g, m = pad_grasps(negatives[s : s + 128], dims, 10**9, rng)
        neg_mass += float((model.log_prob_given_embedding(emb, torch.from_numpy(g)).exp() * torch.from_numpy(m)).sum())
    model.train(was)
    n = max(1, len(positives))
    return {"nll": nll / max(1, count), "positive_mass": pos_mass / n, "negative_mass": neg_mass / n}


def main(argv: list[str] | None = None) -> int:
    return script_main(PlannerArgs, train_planner, "python -m agents.train_planner", __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
