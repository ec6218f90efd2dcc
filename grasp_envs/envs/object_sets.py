"""Grasping real object sets: YCB, Google Scanned Objects and a user's ShapeNetCore.

Objects are meshes decomposed into convex parts by CoACD (:mod:`grasp_envs.objects.mesh_import`).
YCB and scanned objects are fetched and processed beforehand by ``grasp-envs download``; making
an environment never downloads anything and raises an error naming that command when data is
missing.  ShapeNetCore cannot be redistributed, so the ShapeNet environments read a user's copy
and decompose each model the first time it is used (cached by content hash).

Every object set is split into train and test by a hash of the object id
(:func:`grasp_envs.objects.datasets.split_of`, 20% test), the same on every machine.  The
``object_seed`` of an episode indexes the split's sorted object list.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from grasp_envs.envs.grasp_env import GraspEnv
from grasp_envs.objects import GraspObject
from grasp_envs.objects.datasets import data_root, get_dataset, load_index, split_of
from grasp_envs.objects.download import decomposition_cache_dir
from grasp_envs.objects.mesh_import import (
    DecompositionConfig,
    cache_path,
    decompose_file,
    load_cached,
    to_grasp_object,
)
from grasp_envs.objects.procedural import _size_statistic
from grasp_envs.objects.sizes import ycb_sorted_extents

_COMMON_SECTIONS = """
    ## Action Space
    ``MultiDiscrete([20] * dims)`` on the object's bounding box, exactly as
    :class:`grasp_envs.envs.random_objects.GraspRandomEnv` (4-D: x, y, z, yaw; 6-D adds roll, pitch).

    ## Observation Space
    ``Dict(depth=Box(0, 2, (n_cameras, 64, 64), float32), bbox=Box((6,), float32))``: overhead
    ray-cast depth centred over the object and its axis-aligned box in the table frame
    (:class:`grasp_envs.envs.observations.ObservationConfig`).

    ## Rewards
    1.0 if the object was lifted with the gripper (rose at least 25 cm of the 30 cm lift), else 0.0.

    ## Starting State
    An object of the split, dropped in a uniformly random orientation onto the table and settled
    until at rest (``GraspSimulator.place``), before the first observation.

    ## Episode End
    Terminates after one grasp (or on success, or after ``max_attempts`` grasps); never truncates.
"""


class _ObjectListEnv(GraspEnv):
    """An environment over a fixed, sorted list of named objects split by id hash."""

    def __init__(self, object_ids: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.all_object_ids = tuple(sorted(object_ids))
        self.object_ids = tuple(o for o in self.all_object_ids if split_of(o) == self.split)
        if not self.object_ids:
            raise ValueError(f"no object of the {len(self.all_object_ids)} given falls in the {self.split!r} split; "
                             "pass more object_ids or use the other split")
        self._objects: dict[str, GraspObject] = {}

    def object_seed_range(self) -> tuple[int, int]:
        return 0, len(self.object_ids)

    def make_object(self, object_seed: int) -> GraspObject:
        oid = self.object_ids[object_seed]
        if oid not in self._objects:  # one instance per object, so the simulator is reused
            self._objects[oid] = self.load_object(oid)
        return self._objects[oid]

    def load_object(self, object_id: str) -> GraspObject:
        raise NotImplementedError


class _DownloadedSetEnv(_ObjectListEnv):
    dataset_name = ""

    def __init__(self, *, root: str | None = None, object_ids: list[str] | None = None, **kwargs) -> None:
        ds = get_dataset(self.dataset_name)
        ids = list(ds.graspable_ids if object_ids is None else object_ids)
        for o in ids:
            ds.source(o)  # unknown id: KeyError listing the known ones
        self.root = root
        self.index = load_index(self.dataset_name, root, ids)
        super().__init__(ids, **kwargs)

    def load_object(self, object_id: str) -> GraspObject:
        entry = self.index["objects"][object_id]
        path = cache_path(decomposition_cache_dir(self.root), entry["cache_key"])
        try:
            dec = load_cached(path)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"the decomposition of {self.dataset_name}/{object_id} is missing ({path}); rerun "
                f"`grasp-envs download {self.dataset_name}{'' if self.root is None else f' --root {self.root}'}`"
            ) from None
        return to_grasp_object(dec, name=f"{self.dataset_name}/{object_id}", source=self.dataset_name,
                               mass=entry["mass"], density=entry["density"])


class GraspYCBEnv(_DownloadedSetEnv):
    __doc__ = """
    ## Description
    One-shot grasping of YCB objects (Calli et al. 2015; google_16k scans, CC BY 4.0) with the
    disembodied Fetch-like gripper in MuJoCo: the paper's realistic test set.  Each object is its
    CoACD convex decomposition with its real mass (YCB object list).  The default object list is
    every pinned YCB object whose smallest extent fits the 10 cm gripper opening
    (:attr:`grasp_envs.objects.datasets.Dataset.graspable_ids`); see ``docs/objects.md``.
""" + _COMMON_SECTIONS + """
    ## Arguments
    ``dims`` (4 or 6), ``split`` ("train" or "test": disjoint objects chosen by a hash of the id),
    ``root`` (data root; default ``$GRASP_ENVS_DATA`` or ``~/.cache/grasp_envs``), ``object_ids``
    (list of YCB ids; default the graspable ones), ``max_attempts``, ``observation``, ``sim``,
    ``render_mode``.  Needs ``grasp-envs download ycb`` first; otherwise ``make`` raises an
    error naming that command.

    ## Version History
    * v0: initial release.
    """

    dataset_name = "ycb"


class GraspScannedEnv(_DownloadedSetEnv):
    __doc__ = """
    ## Description
    One-shot grasping of Google Scanned Objects (Downs et al. 2022, CC BY 4.0): realistic
    household scans, a freely licensed stand-in for ShapeNet.  Masses are unknown; objects get a
    uniform density of 250 kg/m^3 over their convex parts.  The default object list is every
    pinned object whose smallest extent fits the 10 cm gripper opening.
""" + _COMMON_SECTIONS + """
    ## Arguments
    As :class:`GraspYCBEnv`, with Google Scanned Objects ids.  Needs ``grasp-envs download scanned``.

    ## Version History
    * v0: initial release.
    """

    dataset_name = "scanned"


# ------------------------------------------------------------------------------------ ShapeNet

SHAPENET_LAYOUTS = {"v1": "model.obj", "v2": "models/model_normalized.obj"}


def find_shapenet_models(root: str | Path, categories: list[str] | None = None) -> dict[str, Path]:
    """``{synset/model_id: mesh path}`` for a ShapeNetCore tree (v1 or v2 layout)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"ShapeNetCore root {root} does not exist.  ShapeNetCore cannot be redistributed: download it from "
            "https://shapenet.org (v1 or v2) and pass shapenet_root=PATH (or unpack it at <data root>/shapenet)"
        )
    models: dict[str, Path] = {}
    for synset in sorted(p for p in root.iterdir() if p.is_dir()):
        if categories is not None and synset.name not in categories:
            continue
        for model in sorted(p for p in synset.iterdir() if p.is_dir()):
            for rel in SHAPENET_LAYOUTS.values():
                if (model / rel).is_file():
                    models[f"{synset.name}/{model.name}"] = model / rel
                    break
    if not models:
        raise FileNotFoundError(
            f"no ShapeNetCore models under {root}: expected <synset>/<model_id>/model.obj (v1) or "
            f"<synset>/<model_id>/models/model_normalized.obj (v2)"
            + (f" in categories {categories}" if categories else "")
        )
    return models


def _model_rng(model_key: str) -> np.random.Generator:
    seed = int(hashlib.sha256(model_key.encode()).hexdigest()[:16], 16)
    return np.random.default_rng(np.random.SeedSequence([seed, 0x73686E]))


class GraspShapeNetEnv(_ObjectListEnv):
    __doc__ = """
    ## Description
    One-shot grasping of ShapeNetCore models (Chang et al. 2015) from the user's own copy (it
    cannot be redistributed).  Each model is decomposed into convex parts with CoACD the first
    time it is used (cached under the data root by content hash), then rescaled as the paper
    rescaled ShapeNet objects: its sorted extents are matched, in the geometric-mean sense, to
    those of a randomly drawn YCB object with a log-normal jitter (sigma 0.15), exactly like step
    5 of the procedural objects.  Scale and a log-uniform density in [150, 1000] kg/m^3 are fixed
    per model by a hash of its id, so an object is the same in every episode and on every machine.
""" + _COMMON_SECTIONS + """
    ## Arguments
    ``dims``, ``split`` ("train"/"test", by a hash of ``synset/model_id``), ``shapenet_root``
    (ShapeNetCore v1 or v2 root; default ``<data root>/shapenet``), ``categories`` (synset ids,
    default all), ``root`` (data root for the decomposition cache), ``decomposition`` (dict of
    :class:`grasp_envs.objects.mesh_import.DecompositionConfig` fields), ``size_jitter``,
    ``max_attempts``, ``observation``, ``sim``, ``render_mode``.  The first episode on each
    model takes seconds (decomposition); later ones load from the cache.

    ## Version History
    * v0: initial release.
    """

    def __init__(self, *, shapenet_root: str | None = None, categories: list[str] | None = None,
                 root: str | None = None, decomposition: DecompositionConfig | dict | None = None,
                 size_jitter: float = 0.15, **kwargs) -> None:
        self.shapenet_root = Path(shapenet_root).expanduser() if shapenet_root else data_root(root) / "shapenet"
        self.models = find_shapenet_models(self.shapenet_root, categories)
        self.root = root
        self.decomposition = (decomposition if isinstance(decomposition, DecompositionConfig)
                              else DecompositionConfig(**(decomposition or {})))
        if size_jitter < 0:
            raise ValueError(f"size_jitter must be >= 0, got {size_jitter}")
        self.size_jitter = float(size_jitter)
        super().__init__(list(self.models), **kwargs)

    def object_scale_density(self, model_key: str, parts: tuple[np.ndarray, ...]) -> tuple[float, float]:
        """Scale factor and density of a model (deterministic in its id)."""
        rng = _model_rng(model_key)
        allv = np.concatenate(parts)
        _, axes = np.linalg.eigh(np.cov((allv - allv.mean(axis=0)).T))
        ext = np.sort(np.ptp(allv @ axes, axis=0))
        ycb = ycb_sorted_extents()
        ref = ycb[int(rng.integers(len(ycb)))]
        target = _size_statistic(ref, "geomean") * float(np.exp(rng.normal(0.0, self.size_jitter)))
        density = float(np.exp(rng.uniform(np.log(150.0), np.log(1000.0))))
        return target / _size_statistic(ext, "geomean"), density

    def load_object(self, object_id: str) -> GraspObject:
        dec = decompose_file(self.models[object_id], decomposition_cache_dir(self.root), self.decomposition)
        scale, density = self.object_scale_density(object_id, dec.parts)
        return to_grasp_object(dec, name=f"shapenet/{object_id}", source="shapenet", density=density, scale=scale)
