"""Read grasp datasets as NumPy arrays.  This API is stable; training code builds on it.

::

    from grasp_envs.dataset import GraspDataset

    ds = GraspDataset("data/random4d")          # checks the manifest; verify=True checks every sha256
    scenes = ds.read_scenes()                   # SceneArrays
    scenes.object_seed                          # (n,) int64
    scenes.depth                                # (n, n_cams, H, W) float32, metres
    scenes.bbox                                 # (n, 6) float32: xmin, ymin, zmin, xmax, ymax, zmax
    scenes.success_grasps                       # list of n arrays (m_i, dims) int64: the planner's targets
    scenes.stacked_success()                    # (sum m_i, dims) int64 and (n + 1,) offsets
    att = ds.read_attempts()                    # AttemptArrays, every attempt
    att.object_seed, att.scene                  # (N,) int64
    att.grasp                                   # (N, dims) int64 bins
    att.rejection                               # (N,) int8: grasp_envs.sim.Rejection codes (0 = simulated)
    att.success, att.lift                       # (N,) bool, (N,) float32 metres
    att.source                                  # (N,) int8: 0 uniform, 1 a proposer's grasp (planner proposals)
    att.hand_depth                              # (N_sim, h, w) float32 for the simulated rows, in order
    att.simulated_index                         # (N_sim,) rows of att that hand_depth belongs to
    sim = ds.read_attempts(simulated_only=True) # only simulated rows: hand_depth aligns with every row
    for scenes, att in ds.iter_shards(): ...    # shard by shard, bounded memory

Every row carries its ``object_seed``; ``ds.manifest`` holds the run config, env spec, versions,
and counts.  A shard whose bytes do not match the manifest raises
:class:`~grasp_envs.dataset.storage.CorruptShardError` when it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from grasp_envs.dataset import storage
from grasp_envs.dataset.schema import fixed_to_numpy


@dataclass(frozen=True)
class SceneArrays:
    """Per-scene arrays (n scenes)."""

    scene: np.ndarray
    object_seed: np.ndarray
    object_name: np.ndarray
    reset_seed: np.ndarray
    depth: np.ndarray
    bbox: np.ndarray
    n_attempts: np.ndarray
    n_simulated: np.ndarray
    n_success: np.ndarray
    success_grasps: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.scene)

    def stacked_success(self) -> tuple[np.ndarray, np.ndarray]:
        """All successful grasps stacked (M, dims) and offsets (n + 1,): scene i owns rows offsets[i]:offsets[i+1]."""
        dims = self.success_grasps[0].shape[1] if self.success_grasps else 0
        offsets = np.concatenate([[0], np.cumsum([len(g) for g in self.success_grasps])]).astype(np.int64)
        stacked = np.concatenate(self.success_grasps) if self.success_grasps else np.zeros((0, dims), np.int64)
        return stacked, offsets


@dataclass(frozen=True)
class AttemptArrays:
    """Per-attempt arrays (N attempts); ``hand_depth`` holds the simulated rows only."""

    scene: np.ndarray
    object_seed: np.ndarray
    attempt: np.ndarray
    grasp: np.ndarray
    rejection: np.ndarray
    success: np.ndarray
    lift: np.ndarray
    hand_depth: np.ndarray | None
    simulated_index: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.scene)


def _concat(parts: list, name: str):
    if name == "success_grasps":
        return [g for p in parts for g in getattr(p, name)]
    values = [getattr(p, name) for p in parts]
    if name == "hand_depth":
        if any(v is None for v in values):
            return None
    return np.concatenate(values)


class GraspDataset:
    """A dataset directory written by :func:`grasp_envs.dataset.generate`.

    Args:
        root: The dataset directory.
        verify: Check every shard's sha256 now (otherwise each shard is checked when read).
        allow_incomplete: Open a dataset whose run has not finished (read only the shards done).
    """

    def __init__(self, root: str | Path, *, verify: bool = False, allow_incomplete: bool = False) -> None:
        self.root = Path(root)
        self.manifest = storage.read_manifest(self.root)
        if self.manifest["complete"]:
            self.shards: list[dict] = list(self.manifest["shards"])
        elif allow_incomplete:
            self.shards = [m for i in range(self.manifest["num_shards"])
                           if (m := storage.read_marker(self.root, i)) is not None]
        else:
            raise storage.DatasetError(
                f"{self.root} is incomplete (its run was interrupted); finish it with "
                f"`grasp-envs generate --resume --out {self.root}`"
            )
        layout = self.manifest["layout"]
        self.dims = int(layout["dims"])
        self.depth_shape = tuple(layout["depth_shape"])
        self.hand_depth_shape = tuple(layout["hand_depth_shape"])
        self._verified: set[int] = set()
        if verify:
            for rec in self.shards:
                self._verify(rec)

    # -------------------------------------------------------------- metadata
    @property
    def config(self) -> dict:
        return self.manifest["config"]

    @property
    def split(self) -> str:
        return self.config["split"]

    @property
    def env_id(self) -> str:
        return self.config["env_id"]

    def __len__(self) -> int:
        """Number of scenes."""
        return int(sum(s["counts"]["scenes"] for s in self.shards))

    def files(self, table: str) -> list[Path]:
        """Paths of the Parquet files of ``table`` (``"scenes"`` or ``"attempts"``)."""
        return [self.root / s["files"][table]["path"] for s in self.shards]

    def object_seeds(self) -> np.ndarray:
        """Object seed of every scene (reads only that column)."""
        parts = [pq.read_table(self._path(rec, "scenes"), columns=["object_seed"])["object_seed"].to_numpy()
                 for rec in self.shards]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def health(self) -> list[str]:
        """``"ok"``, ``"missing"`` or ``"corrupt"`` per shard."""
        return [storage.shard_health(self.root, rec["index"], rec) for rec in self.shards]

    # -------------------------------------------------------------- data
    def _verify(self, rec: dict) -> None:
        if rec["index"] not in self._verified:
            storage.verify_shard(self.root, rec)
            self._verified.add(rec["index"])

    def _path(self, rec: dict, table: str) -> Path:
        self._verify(rec)
        return self.root / rec["files"][table]["path"]

    def _select(self, shards: Sequence[int] | None) -> list[dict]:
        if shards is None:
            return self.shards
        by_index = {rec["index"]: rec for rec in self.shards}
        missing = [i for i in shards if i not in by_index]
        if missing:
            raise IndexError(f"shards {missing} are not in {self.root} (it has {sorted(by_index)})")
        return [by_index[i] for i in shards]

    def _scenes(self, rec: dict) -> SceneArrays:
        t = pq.read_table(self._path(rec, "scenes"))
        inner = t["success_grasps"].combine_chunks()
        offsets = inner.offsets.to_numpy()
        flat = fixed_to_numpy(inner.flatten(), (self.dims,), np.int64)
        return SceneArrays(
            scene=t["scene"].to_numpy(),
            object_seed=t["object_seed"].to_numpy(),
            object_name=np.asarray(t["object_name"].to_pylist(), dtype=object),
            reset_seed=t["reset_seed"].to_numpy(),
            depth=fixed_to_numpy(t["depth"], self.depth_shape, np.float32),
            bbox=fixed_to_numpy(t["bbox"], (6,), np.float32),
            n_attempts=t["n_attempts"].to_numpy(),
            n_simulated=t["n_simulated"].to_numpy(),
            n_success=t["n_success"].to_numpy(),
            success_grasps=[flat[offsets[i] : offsets[i + 1]] for i in range(len(t))],
        )

    def _attempts(self, rec: dict, simulated_only: bool, images: bool) -> AttemptArrays:
        columns = ["scene", "object_seed", "attempt", "grasp", "rejection", "success", "lift"]
        path = self._path(rec, "attempts")
        if "source" in pq.read_schema(path).names:  # older datasets have no source column
            columns.append("source")
        t = pq.read_table(path, columns=columns + (["hand_depth"] if images else []))
        if simulated_only:
            t = t.filter(pc.equal(t["rejection"], 0))
        rejection = t["rejection"].to_numpy()
        sim_index = np.flatnonzero(rejection == 0)
        hand = None
        if images:
            col = t["hand_depth"].combine_chunks()
            hand = fixed_to_numpy(col.filter(pc.is_valid(col)), self.hand_depth_shape, np.float32)
            if len(hand) != len(sim_index):
                raise storage.CorruptShardError(
                    f"{self._path(rec, 'attempts')}: {len(hand)} hand images for {len(sim_index)} simulated attempts"
                )
        return AttemptArrays(
            scene=t["scene"].to_numpy(),
            object_seed=t["object_seed"].to_numpy(),
            attempt=t["attempt"].to_numpy(),
            grasp=fixed_to_numpy(t["grasp"], (self.dims,), np.int64),
            rejection=rejection,
            success=t["success"].to_numpy(zero_copy_only=False),
            lift=t["lift"].to_numpy(),
            hand_depth=hand,
            simulated_index=sim_index,
            source=t["source"].to_numpy() if "source" in t.column_names else np.zeros(len(t), np.int8),
        )

    def read_scenes(self, shards: Sequence[int] | None = None) -> SceneArrays:
        """Per-scene arrays of all shards (or of the shard indices ``shards``)."""
        parts = [self._scenes(rec) for rec in self._select(shards)]
        return SceneArrays(**{f: _concat(parts, f) if parts else _empty_scene(self, f)
                              for f in SceneArrays.__dataclass_fields__})

    def read_attempts(self, shards: Sequence[int] | None = None, *, simulated_only: bool = False,
                      images: bool = True) -> AttemptArrays:
        """Per-attempt arrays; ``images=False`` skips the hand-camera column (much less I/O)."""
        parts = [self._attempts(rec, simulated_only, images) for rec in self._select(shards)]
        if not parts:
            return self._attempts_empty(images)
        merged = {f: _concat(parts, f) for f in AttemptArrays.__dataclass_fields__ if f != "simulated_index"}
        base = np.cumsum([0] + [len(p) for p in parts[:-1]])
        merged["simulated_index"] = np.concatenate([p.simulated_index + b for p, b in zip(parts, base)])
        return AttemptArrays(**merged)

    def iter_shards(self, *, simulated_only: bool = False, images: bool = True) -> Iterator[tuple[SceneArrays, AttemptArrays]]:
        """(scenes, attempts) of one shard at a time, in shard order."""
        for rec in self.shards:
            yield self._scenes(rec), self._attempts(rec, simulated_only, images)

    def _attempts_empty(self, images: bool) -> AttemptArrays:
        z = np.zeros(0, np.int64)
        return AttemptArrays(z, z, z.astype(np.int32), np.zeros((0, self.dims), np.int64), z.astype(np.int8),
                             z.astype(bool), z.astype(np.float32),
                             np.zeros((0, *self.hand_depth_shape), np.float32) if images else None, z,
                             z.astype(np.int8))


def _empty_scene(ds: GraspDataset, name: str):
    if name == "success_grasps":
        return []
    if name == "depth":
        return np.zeros((0, *ds.depth_shape), np.float32)
    if name == "bbox":
        return np.zeros((0, 6), np.float32)
    return np.zeros(0, np.int64)


def check_disjoint(a: GraspDataset, b: GraspDataset) -> None:
    """Raise :class:`~grasp_envs.dataset.storage.DatasetError` if two datasets share an object seed.

    Meant for two datasets of one object set (e.g. its train and test datasets).
    """
    shared = np.intersect1d(a.object_seeds(), b.object_seeds())
    if len(shared):
        raise storage.DatasetError(
            f"{a.root} ({a.split}) and {b.root} ({b.split}) share {len(shared)} object seeds, e.g. {shared[:5].tolist()}"
        )
