"""Grasping real object sets: YCB, Google Scanned Objects, a user's ShapeNetCore, a user's own meshes.

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
from grasp_envs.objects.datasets import YCB_DENSITY, data_root, get_dataset, load_index, split_of
from grasp_envs.objects.download import decomposition_cache_dir
from grasp_envs.objects.mesh_import import (
    MESH_SUFFIXES,
    DecompositionConfig,
    cache_path,
    decompose_file,
    decompose_mesh,
    load_cached,
    load_mesh,
    to_grasp_object,
)
from grasp_envs.objects.model import MAX_OBJECT_EXTENT, MIN_OBJECT_EXTENT, InvalidMeshError, unit_hint
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
    Terminates on success.  A failed grasp ends the episode when it used the last of
    ``max_attempts`` (default 1): with one attempt the grasp is the episode (``terminated``); with
    several the attempt budget is a time limit (``truncated``, from v1; v0 reports ``terminated``).
"""


#: ``split`` of an environment that uses every object it was given (the split is not applied).
ALL_OBJECTS = "all"


class _ObjectListEnv(GraspEnv):
    """An environment over a fixed, sorted list of named objects split by id hash.

    With ``split=None`` a set's default object list uses the train split (as before), while an
    explicit list of objects (``explicit=True``) is used whole: ``self.split`` is then
    :data:`ALL_OBJECTS` and the caller need not know which split each object falls in.
    """

    def __init__(self, object_ids: list[str], *, explicit: bool = False, split: str | None = None, **kwargs) -> None:
        if not object_ids:
            raise ValueError("the object list is empty")
        super().__init__(split="train" if split is None else split, **kwargs)
        self.all_object_ids = tuple(sorted(object_ids))
        if split is None and explicit:
            self.split = ALL_OBJECTS
            self.object_ids = self.all_object_ids
        else:
            self.object_ids = tuple(o for o in self.all_object_ids if split_of(o) == self.split)
        if not self.object_ids:
            raise ValueError(f"no object of the {len(self.all_object_ids)} given falls in the {self.split!r} split; "
                             "pass more object_ids, use the other split, or leave split out to use every object given")
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


#: Rules for a downloaded set's default object list: the pinned objects whose smallest box side is
#: under the 10 cm opening (``"box"``, the v0 tasks' list), or that the resting-pose rule finds
#: graspable from above (``"top"``, :mod:`grasp_envs.objects.graspability`).
GRASPABLE_RULES = ("box", "top")


class _DownloadedSetEnv(_ObjectListEnv):
    dataset_name = ""

    def __init__(self, *, root: str | None = None, object_ids: list[str] | None = None, graspable_rule: str = "box",
                 **kwargs) -> None:
        ds = get_dataset(self.dataset_name)
        if isinstance(object_ids, str):
            raise TypeError(f"object_ids must be a list of ids, got the string {object_ids!r}; "
                            f"write object_ids=[{object_ids!r}]")
        if graspable_rule not in GRASPABLE_RULES:
            raise ValueError(f"graspable_rule must be one of {sorted(GRASPABLE_RULES)}, got {graspable_rule!r}")
        if object_ids is not None and graspable_rule != "box":
            raise ValueError("graspable_rule chooses the default object list; it cannot be combined with object_ids")
        self.graspable_rule = graspable_rule
        default = ds.graspable_ids if graspable_rule == "box" else ds.top_graspable_ids
        ids = list(default if object_ids is None else object_ids)
        for o in ids:
            ds.source(o)  # unknown id: KeyError listing the known ones (any upstream-form id is known)
        self.root = root
        self.index = load_index(self.dataset_name, root, ids)
        super().__init__(ids, explicit=object_ids is not None, **kwargs)

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
    ``dims`` (4 or 6), ``split`` ("train" or "test": disjoint objects chosen by a hash of the id;
    default "train", or with ``object_ids`` every object given), ``root`` (data root; default
    ``$GRASP_ENVS_DATA`` or ``~/.cache/grasp_envs``), ``object_ids`` (list of YCB ids, pinned or
    any other downloaded upstream id; default the pinned ones graspable by ``graspable_rule``:
    "box", the smallest box side under 10 cm, or "top", resting poses and top-down widths; see
    ``docs/objects.md``),
    ``max_attempts``, ``observation``, ``sim``, ``render_mode``.  Needs ``grasp-envs download
    ycb`` first (``--objects ID ...`` for ids without a pin); otherwise ``make`` raises an error
    naming that command.

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


# ----------------------------------------------------------------------------- your own meshes

#: Density (kg/m^3) of a user's mesh without a given mass: that of YCB objects without a pinned mass.
MESH_DENSITY = YCB_DENSITY


def _mesh_name(mesh, i: int) -> str:
    meta = getattr(mesh, "metadata", None) or {}
    name = meta.get("name") or (Path(meta["file_name"]).stem if meta.get("file_name") else None)
    return str(name) if name else f"mesh_{i:03d}"


def collect_meshes(meshes) -> dict[str, Path | tuple[np.ndarray, np.ndarray]]:
    """``{object id: mesh file or (vertices, faces)}`` from a folder (every mesh file under it,
    recursively; id = path relative to the folder without suffix), a list of mesh files and/or
    :class:`trimesh.Trimesh` objects (id = file stem, else ``metadata["name"]``, else
    ``mesh_<i>``), or a dict ``{id: file or Trimesh}``."""
    import trimesh

    def one(name: str, m):
        if isinstance(m, (str, Path)):
            path = Path(m).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"mesh {name!r}: no file {path}")
            if path.suffix.lower() not in MESH_SUFFIXES:
                raise InvalidMeshError(f"{path}: unsupported mesh format {path.suffix!r}; use one of "
                                       f"{', '.join(MESH_SUFFIXES)}")
            return path
        if isinstance(m, trimesh.Trimesh):
            if len(m.vertices) == 0 or len(m.faces) == 0:
                raise InvalidMeshError(f"mesh {name!r} is empty")
            return (np.asarray(m.vertices, np.float64), np.asarray(m.faces, np.int64))
        raise TypeError(f"mesh {name!r}: expected a mesh file path or a trimesh.Trimesh, got {type(m).__name__}"
                        + ("; load a scene with trimesh.load(path, force='mesh')" if isinstance(m, trimesh.Scene) else ""))

    if isinstance(meshes, (str, Path)) and Path(meshes).expanduser().is_dir():
        folder = Path(meshes).expanduser()
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in MESH_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"no mesh files under {folder} (looked for {', '.join(MESH_SUFFIXES)}, recursively)")
        out = {p.relative_to(folder).with_suffix("").as_posix(): p for p in files}
    elif isinstance(meshes, (str, Path)):
        raise FileNotFoundError(f"meshes={str(meshes)!r} is not a folder; pass a folder of mesh files, a list of "
                                "mesh files or trimesh.Trimesh objects, or a dict {name: mesh}")
    elif isinstance(meshes, dict):
        out = {str(k): one(str(k), m) for k, m in meshes.items()}
    elif isinstance(meshes, (list, tuple)):
        out = {}
        for i, m in enumerate(meshes):
            name = Path(m).stem if isinstance(m, (str, Path)) else _mesh_name(m, i)
            if name in out:
                raise ValueError(f"two meshes are named {name!r}; pass a dict {{name: mesh}} to name them")
            out[name] = one(name, m)
    else:
        raise TypeError(f"meshes must be a folder, a list of mesh files / trimesh.Trimesh, or a dict, got "
                        f"{type(meshes).__name__}")
    if not out:
        raise ValueError("meshes is empty; give at least one mesh")
    return out


class GraspMeshesEnv(_ObjectListEnv):
    __doc__ = """
    ## Description
    One-shot grasping of your own objects: a folder of mesh files, a list of files or of
    ``trimesh.Trimesh`` objects, or a dict of them by name.  Each mesh is decomposed into convex
    parts with CoACD the first time it is used and cached under the data root by content hash
    (a file's bytes, an in-memory mesh's geometry), exactly like the YCB and ShapeNet sets;
    later environments load the parts from the cache.  Meshes must be in metres (``scale``
    converts other units); a mesh's mass is given (``mass``) or its density times the volume of
    its convex parts (``density``, default 600 kg/m^3).
""" + _COMMON_SECTIONS + """
    ## Arguments
    ``meshes`` (folder, list or dict; a folder is searched recursively for
    ``.obj .stl .ply .off .glb .gltf`` files and an object's id is its path relative to the folder
    without suffix), ``dims``, ``split`` (default: every mesh given; "train"/"test" keep the ids
    of that split, by a hash of the id), ``scale`` (multiplies every mesh, e.g. 0.001 for
    millimetres), ``mass`` (kg: one number for all, or a dict by id; ids not in the dict use
    ``density``), ``density``, ``friction``, ``root`` (data root of the decomposition cache),
    ``decomposition`` (dict of :class:`grasp_envs.objects.mesh_import.DecompositionConfig`
    fields), ``max_attempts``, ``observation``, ``sim``, ``render_mode``.  Bad input fails in
    ``make``: an empty folder, an unreadable mesh, or one whose size in metres is outside 5 mm to
    1 m (the message names the ``scale`` that fixes the units).

    ## Version History
    * v1: the current physics (:mod:`grasp_envs.envs.physics`), as every v1 id.
    * v0: the development physics (kept loadable).  Both appeared with this environment.
    """

    def __init__(self, *, meshes=None, scale: float = 1.0, mass: float | dict | None = None,
                 density: float = MESH_DENSITY, friction: float = 1.0, root: str | None = None,
                 decomposition: DecompositionConfig | dict | None = None, **kwargs) -> None:
        if meshes is None:
            raise ValueError("GraspMeshes needs meshes=: a folder of mesh files, a list of mesh files or "
                             "trimesh.Trimesh objects, or a dict {name: mesh}")
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be positive, got {scale}")
        if not (np.isfinite(density) and density > 0):
            raise ValueError(f"density must be positive (kg/m^3), got {density}")
        self.sources = collect_meshes(meshes)
        masses = mass if isinstance(mass, dict) else ({} if mass is None else {o: mass for o in self.sources})
        unknown = sorted(set(masses) - set(self.sources))
        if unknown:
            raise ValueError(f"mass names unknown meshes {unknown}; the meshes are {sorted(self.sources)}")
        for o, m in masses.items():
            if not (np.isfinite(m) and m > 0):
                raise ValueError(f"mass of {o!r} must be positive (kg), got {m}")
        self.masses = {o: float(m) for o, m in masses.items()}
        self.scale, self.density, self.friction = float(scale), float(density), float(friction)
        self.root = root
        self.decomposition = (decomposition if isinstance(decomposition, DecompositionConfig)
                              else DecompositionConfig(**(decomposition or {})))
        for oid, src in self.sources.items():
            self._check_units(oid, src)
        super().__init__(list(self.sources), explicit=True, **kwargs)

    def _check_units(self, object_id: str, src) -> None:
        """Read the mesh (a clear error if unreadable) and refuse sizes that are not metres."""
        v, _ = load_mesh(src) if isinstance(src, Path) else src
        extent = float(np.ptp(v, axis=0).max()) * self.scale
        if not MIN_OBJECT_EXTENT <= extent <= MAX_OBJECT_EXTENT:
            raise InvalidMeshError(
                f"mesh {object_id!r} is {extent:.4g} m across at scale={self.scale:g}; objects are "
                f"{1000 * MIN_OBJECT_EXTENT:g} mm to {MAX_OBJECT_EXTENT:g} m across: "
                + unit_hint(extent / self.scale).replace("scale=", "pass scale=")
            )

    def object_pipeline(self) -> dict:
        return {"source": "meshes", "scale": self.scale, "density": self.density, "masses": self.masses,
                "friction": self.friction, "decomposition": self.decomposition.to_dict()}

    def load_object(self, object_id: str) -> GraspObject:
        src = self.sources[object_id]
        cache = decomposition_cache_dir(self.root)
        if isinstance(src, Path):
            dec = decompose_file(src, cache, self.decomposition)
        else:
            dec = decompose_mesh(*src, cache, self.decomposition, name=f"mesh {object_id!r}")
        mass = self.masses.get(object_id)
        return to_grasp_object(dec, name=f"meshes/{object_id}", source="meshes", mass=mass,
                               density=None if mass is not None else self.density, scale=self.scale,
                               friction=self.friction)
