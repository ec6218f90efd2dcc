"""Planner proposals for the dataset generator: what an on-policy round labels.

    grasp-envs generate --num-objects 1000 --attempts 30 --seed 1 --out data/round1 \\
        --proposer agents.proposals:PlannerProposals --proposer-kwargs '{"checkpoint": "runs/r0/planner"}'

:class:`PlannerProposals` is the ``proposer`` of :class:`grasp_envs.dataset.GenerateConfig`: for
each scene's observation it returns a planner's unpruned top-``top_k`` beam grasps followed by
the grasps one to ``radius`` bins away, in every dimension, from its ``neighbours_of`` most
likely ones (yaw wraps around; positions and tilts stop at the grid's edges), without repeats.
Labelling them in simulation teaches the planner where its own mass is right (the successes), and
where it is wrong: the beam grasps the simulator rejects (free, no physics) and the ones that
fail.  The neighbours refine the positives near the planner's modes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from agents.checkpoint import load_checkpoint, shipped
from grasp_envs.grid import GraspGrid


def neighbour_bins(grasps: np.ndarray, n_bins: int, radius: int = 1, wrap_last: bool = True) -> np.ndarray:
    """Grasps 1..``radius`` bins from each of ``grasps`` (n, dims) in one dimension at a time.

    The last dimension (yaw) wraps around when ``wrap_last``; the others are dropped past the grid.
    Returns a (m, dims) array without repeats and without the inputs, in a fixed order.
    """
    g = np.asarray(grasps, np.int64).reshape(-1, np.shape(grasps)[-1])
    dims = g.shape[1]
    out = []
    for d in range(dims):
        for step in [s for r in range(1, radius + 1) for s in (-r, r)]:
            h = g.copy()
            h[:, d] += step
            if d == dims - 1 and wrap_last:
                h[:, d] %= n_bins
            else:
                h = h[(h[:, d] >= 0) & (h[:, d] < n_bins)]
            out.append(h)
    if not out:
        return np.zeros((0, dims), np.int64)
    cand = np.concatenate(out)
    _, first = np.unique(cand, axis=0, return_index=True)
    cand = cand[np.sort(first)]
    seen = {tuple(r) for r in g.tolist()}
    return cand[np.array([tuple(r) not in seen for r in cand.tolist()], bool)] if len(cand) else cand


class PlannerProposals:
    """A planner checkpoint's top-k beam and the neighbouring bins of its best grasps.

    Args:
        checkpoint: Planner checkpoint stem; empty: the shipped ``planner_{dims}d`` (``dims``).
        dims: Grid dimensions, used only to pick the shipped checkpoint.
        top_k: Beam width and the number of beam grasps proposed.
        neighbours_of: The most likely grasps whose neighbours are added.
        radius: Bins away from each of those, per dimension.
        spread: ``None``: the beam's plain top ``top_k``.  An integer radius: the ``top_k`` grasps
            of a ``spread_beam``-wide beam spread over distinct grasps
            (:meth:`grasp_envs.grid.GraspGrid.spread`), as :class:`agents.full.FullAgent` chooses
            its candidates by default: labelling them teaches the evaluator the grasps it ranks.
        spread_beam: Beam width searched when spreading.
    """

    def __init__(self, checkpoint: str | Path = "", dims: int = 4, top_k: int = 32, neighbours_of: int = 8,
                 radius: int = 1, spread: int | None = None, spread_beam: int = 256) -> None:
        if top_k < 1 or neighbours_of < 0 or radius < 0:
            raise ValueError(f"top_k must be positive and neighbours_of, radius non-negative, got {top_k}, "
                             f"{neighbours_of}, {radius}")
        if spread is not None and (int(spread) < 0 or int(spread_beam) < top_k):
            raise ValueError(f"spread must be None or a radius >= 0 and spread_beam >= top_k={top_k}, got "
                             f"spread={spread}, spread_beam={spread_beam}")
        torch.set_num_threads(1)
        self.planner = load_checkpoint(checkpoint or shipped(f"planner_{dims}d"), kind="planner")
        self.top_k, self.neighbours_of, self.radius = int(top_k), int(neighbours_of), int(radius)
        self.spread, self.spread_beam = (None if spread is None else int(spread)), int(spread_beam)
        self.grid = GraspGrid(dims=self.planner.config.dims, n_bins=self.planner.config.n_bins)

    def __call__(self, observation: dict, rng: np.random.Generator | None = None) -> np.ndarray:
        from agents.full import _obs_tensors

        depth, bbox = _obs_tensors(observation)
        if self.spread is None:
            beam, _ = self.planner.beam_search(depth, bbox, beam_width=self.top_k, top_k=self.top_k)
            beam = beam[0].numpy()
        else:
            wide, _ = self.planner.beam_search(depth, bbox, beam_width=self.spread_beam, top_k=self.spread_beam)
            wide = wide[0].numpy()
            beam = wide[self.grid.spread(wide, self.top_k, self.spread)]
        near = neighbour_bins(beam[: self.neighbours_of], self.planner.config.n_bins, self.radius)
        if len(near):
            seen = {tuple(r) for r in beam.tolist()}
            near = near[np.array([tuple(r) not in seen for r in near.tolist()], bool)]
        return np.concatenate([beam, near]).astype(np.int64)
