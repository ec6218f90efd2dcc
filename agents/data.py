"""PyTorch datasets over grasp datasets written by ``grasp-envs generate``.

The data come from :class:`grasp_envs.dataset.GraspDataset` (NumPy arrays; its module docstring
documents the stable reader API).  Two views:

* :class:`SceneDataset` (the planner's data): item ``i`` is a dict with ``depth``
  (n_cams, H, W) float32, ``bbox`` (6,) float32, ``grasps`` (m_i, dims) int64 (the scene's
  successful grasps, possibly m_i = 0) and ``object_seed``; :func:`collate_scenes` pads the
  grasps of a batch into (B, M, dims) with a (B, M) mask.
* :class:`HandImageDataset` (the evaluator's data): item ``i`` is a dict with ``hand_depth``
  (1, h, w) float32, ``grasp`` (dims,) int64, ``success`` float32 (0 or 1), ``lift`` float32
  and ``object_seed``, over the simulated attempts (rejected grasps have no hand image).

Both load the selected shards into memory once (``shards=[...]`` selects a subset, e.g. to split
train and validation by shard); use :meth:`GraspDataset.iter_shards` to stream larger sets.
:func:`training_arrays` returns the arrays the training scripts (``agents.train_planner``,
``agents.train_evaluator``) read, including the planner's free negatives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from grasp_envs.dataset import GraspDataset


def _open(data: str | Path | GraspDataset) -> GraspDataset:
    return data if isinstance(data, GraspDataset) else GraspDataset(data)


class SceneDataset(Dataset):
    """One item per scene: overhead depth, bounding box and successful grasps.

    Args:
        data: Dataset directory or an open :class:`GraspDataset`.
        shards: Shard indices to use (all if ``None``).
        min_successes: Leave out scenes with fewer successful grasps (1 for planner training).
    """

    def __init__(self, data: str | Path | GraspDataset, shards: Sequence[int] | None = None,
                 min_successes: int = 0) -> None:
        ds = _open(data)
        scenes = ds.read_scenes(shards)
        keep = np.flatnonzero(scenes.n_success >= min_successes)
        self.dims = ds.dims
        self.depth = torch.from_numpy(np.ascontiguousarray(scenes.depth[keep]))
        self.bbox = torch.from_numpy(np.ascontiguousarray(scenes.bbox[keep]))
        self.object_seed = torch.from_numpy(scenes.object_seed[keep])
        self.grasps = [torch.from_numpy(scenes.success_grasps[i]) for i in keep]

    def __len__(self) -> int:
        return len(self.grasps)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"depth": self.depth[i], "bbox": self.bbox[i], "grasps": self.grasps[i],
                "object_seed": self.object_seed[i]}


def collate_scenes(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Batch scenes: grasps padded to (B, M, dims) with ``grasp_mask`` (B, M) float32."""
    dims = items[0]["grasps"].shape[1]
    m = max(1, max(len(it["grasps"]) for it in items))
    grasps = torch.zeros((len(items), m, dims), dtype=torch.int64)
    mask = torch.zeros((len(items), m), dtype=torch.float32)
    for k, it in enumerate(items):
        n = len(it["grasps"])
        grasps[k, :n] = it["grasps"]
        mask[k, :n] = 1.0
    return {"depth": torch.stack([it["depth"] for it in items]), "bbox": torch.stack([it["bbox"] for it in items]),
            "grasps": grasps, "grasp_mask": mask, "object_seed": torch.stack([it["object_seed"] for it in items])}


class HandImageDataset(Dataset):
    """One item per simulated attempt: hand-camera depth and the outcome label.

    Args:
        data: Dataset directory or an open :class:`GraspDataset`.
        shards: Shard indices to use (all if ``None``).
    """

    def __init__(self, data: str | Path | GraspDataset, shards: Sequence[int] | None = None) -> None:
        att = _open(data).read_attempts(shards, simulated_only=True)
        self.hand_depth = torch.from_numpy(np.ascontiguousarray(att.hand_depth[:, None]))
        self.grasp = torch.from_numpy(att.grasp)
        self.success = torch.from_numpy(att.success.astype(np.float32))
        self.lift = torch.from_numpy(att.lift)
        self.object_seed = torch.from_numpy(att.object_seed)

    def __len__(self) -> int:
        return len(self.success)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"hand_depth": self.hand_depth[i], "grasp": self.grasp[i], "success": self.success[i],
                "lift": self.lift[i], "object_seed": self.object_seed[i]}

    def positive_fraction(self) -> float:
        return float(self.success.mean()) if len(self) else 0.0


def training_arrays(data: str | Path | GraspDataset, shards: Sequence[int] | None = None, *, images: bool = True) -> dict:
    """Every array the training scripts read, one dataset (``agents.train_utils.load_data`` joins several).

    Per scene: ``depth``, ``bbox``, ``object_seed``, ``scene_seed``.  The planner's targets:
    ``success_grasp`` (M, dims) with their scene rows ``success_object``; its free negatives:
    ``negative_grasp`` (the grasps the simulator rejected or that failed) with ``negative_object``
    and ``negative_rejected`` (rejected without physics, as opposed to simulated and failed).  The
    evaluator's data (with ``images``): ``hand_depth`` of every simulated attempt, ``hand_label``,
    ``hand_object``, ``hand_source`` (0 uniform, 1 a proposer's grasp) and ``hand_grasp`` (bins).
    """
    ds = _open(data)
    scenes = ds.read_scenes(shards)
    att = ds.read_attempts(shards, images=images)
    stacked, offsets = scenes.stacked_success()
    row_of_scene = {int(s): j for j, s in enumerate(scenes.scene)}
    rows = np.array([row_of_scene[int(s)] for s in att.scene], np.int64)
    neg = ~att.success
    sim = att.simulated_index
    out = {
        "meta": {"dims": ds.dims, "observation": ds.manifest["layout"]["observation"],
                 "dataset": str(ds.root), "env_id": ds.env_id},
        "depth": scenes.depth, "bbox": scenes.bbox, "object_seed": scenes.object_seed,
        "scene_seed": scenes.reset_seed.astype(np.uint64),
        "success_object": np.repeat(np.arange(len(scenes), dtype=np.int64), np.diff(offsets)),
        "success_grasp": stacked,
        "negative_object": rows[neg], "negative_grasp": att.grasp[neg], "negative_rejected": att.rejection[neg] != 0,
    }
    if images:
        out.update({"hand_depth": att.hand_depth, "hand_label": att.success[sim], "hand_object": rows[sim],
                    "hand_source": att.source[sim].astype(np.int8), "hand_grasp": att.grasp[sim]})
    return out
