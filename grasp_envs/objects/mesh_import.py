"""Real meshes to :class:`GraspObject`: load, decompose into convex parts with CoACD, cache.

Convex decomposition is slow (seconds to minutes per mesh), so every decomposition is cached on
disk under a key made of

* the sha256 of the mesh file's bytes,
* the decomposition parameters (:class:`DecompositionConfig`, as JSON),
* :data:`CACHE_VERSION` and the CoACD version.

Changing any of them gives a new key, so a stale cache can never silently change the physics.
Cache entries are written atomically (temporary file, then rename), so an interrupted run leaves
no half-written entry and simply resumes.

The paper decomposed meshes with V-HACD; this project uses CoACD (collision-aware, and installable
from PyPI on every platform).  Knows nothing of MuJoCo or Gymnasium.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from grasp_envs.objects.model import (
    MAX_OBJECT_EXTENT,
    MIN_OBJECT_EXTENT,
    MIN_PART_VOLUME,
    UNITS_TO_METRES,
    GraspObject,
    InvalidMeshError,
    part_hull,
)

#: Bump when the processing pipeline changes in a way that changes its output.
CACHE_VERSION = 1
MESH_SUFFIXES = (".obj", ".stl", ".ply", ".off", ".glb", ".gltf")


class MeshWarning(UserWarning):
    """A mesh was accepted, but a defect may make its collision shape or its mass wrong."""


def boundary_edges(vertices: np.ndarray, faces: np.ndarray) -> int:
    """Edges that belong to one triangle only (the rims of holes); 0 for a watertight mesh.

    Vertices at identical positions are merged first: texture seams split vertices without
    opening the surface.
    """
    _, merged = np.unique(np.asarray(vertices, np.float64), axis=0, return_inverse=True)
    f = merged.reshape(-1)[np.asarray(faces, np.int64)]
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return int((counts == 1).sum())


def check_mesh(vertices: np.ndarray, faces: np.ndarray, *, name: str = "mesh") -> None:
    """Refuse a mesh too small for any convex part to count; warn (:class:`MeshWarning`) if it has holes."""
    extent = float(np.ptp(np.asarray(vertices, np.float64), axis=0).max())
    if extent ** 3 < MIN_PART_VOLUME:
        fits = [f"multiply by {k:g} if it is in {u}" for u, k in UNITS_TO_METRES
                if MIN_OBJECT_EXTENT <= extent * k <= MAX_OBJECT_EXTENT]
        raise InvalidMeshError(
            f"{name}: mesh is {extent:.3g} units across, too small for any convex part to reach the 1 mm^3 "
            f"the simulator needs; convert the file to metres before importing it (objects are "
            f"{1000 * MIN_OBJECT_EXTENT:g} mm to {MAX_OBJECT_EXTENT:g} m across{'; ' + ', '.join(fits) if fits else ''})"
        )
    holes = boundary_edges(vertices, faces)
    if holes:
        warnings.warn(
            f"{name}: mesh is not watertight ({holes} edges belong to one triangle only); its convex "
            "decomposition may fill or miss the open regions and a mass from density may be wrong. "
            "Close the holes (e.g. trimesh's fill_holes) or give the object's mass",
            MeshWarning, stacklevel=3,
        )


@dataclass(frozen=True)
class DecompositionConfig:
    """CoACD parameters of a convex decomposition (see ``coacd.run_coacd``).

    The defaults are those the development data pack used for its YCB hulls (1-16 hulls of at
    most 64 vertices per object); tests use :meth:`tiny` to stay fast.

    Attributes:
        threshold: Concavity threshold; smaller gives more, tighter parts.
        max_convex_hull: Most parts per mesh (``-1``: unlimited).
        preprocess_mode: ``"auto"`` (remesh only non-manifold input), ``"on"`` or ``"off"``.
        preprocess_resolution: Voxel resolution of the manifold remeshing.
        resolution: Sampling resolution of the concavity metric.
        mcts_nodes: Children per node of the cutting-plane tree search.
        mcts_iterations: Tree-search iterations.
        mcts_max_depth: Tree-search depth.
        max_ch_vertex: Most vertices per part (reduced by :func:`reduce_hull`).
        input_faces: Meshes with more triangles are first simplified to this many (quadric
            decimation); 16k-triangle scans otherwise make the tree search many times slower.
        seed: CoACD's random seed (decompositions are deterministic given the seed).
    """

    threshold: float = 0.08
    max_convex_hull: int = 16
    preprocess_mode: str = "auto"
    preprocess_resolution: int = 50
    resolution: int = 2000
    mcts_nodes: int = 10
    mcts_iterations: int = 30
    mcts_max_depth: int = 2
    max_ch_vertex: int = 64
    input_faces: int = 4000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.01 <= self.threshold <= 1.0:
            raise ValueError(f"DecompositionConfig.threshold must lie in [0.01, 1], got {self.threshold}")
        if self.max_convex_hull == 0 or self.max_convex_hull < -1:
            raise ValueError(f"DecompositionConfig.max_convex_hull must be -1 (unlimited) or >= 1, got {self.max_convex_hull}")
        if self.preprocess_mode not in ("auto", "on", "off"):
            raise ValueError(f"DecompositionConfig.preprocess_mode must be 'auto', 'on' or 'off', got {self.preprocess_mode!r}")
        for name in ("preprocess_resolution", "resolution", "mcts_nodes", "mcts_iterations", "mcts_max_depth"):
            if getattr(self, name) < 1:
                raise ValueError(f"DecompositionConfig.{name} must be at least 1, got {getattr(self, name)}")
        if self.input_faces < 100:
            raise ValueError(f"DecompositionConfig.input_faces must be at least 100, got {self.input_faces}")
        if self.max_ch_vertex < 4:
            raise ValueError(f"DecompositionConfig.max_ch_vertex must be at least 4, got {self.max_ch_vertex}")

    @classmethod
    def tiny(cls) -> "DecompositionConfig":
        """A very small budget (well under a second per mesh) for tests and smoke runs."""
        return cls(threshold=0.3, max_convex_hull=3, preprocess_resolution=20, resolution=200,
                   mcts_nodes=3, mcts_iterations=3, mcts_max_depth=1, max_ch_vertex=32, input_faces=2000)

    def to_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------------ loading


def read_obj(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (n, 3) and triangles (m, 3) of a Wavefront OBJ, by position index only.

    Texture and normal indices are ignored, so vertices are not split at UV seams (which would make
    a closed scan look non-manifold); polygons are fan-triangulated.
    """
    path = Path(path)
    verts: list[tuple[float, float, float]] = []
    faces: list[tuple[int, int, int]] = []
    try:
        fh = open(path, "r", encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InvalidMeshError(f"{path}: cannot read mesh: {exc.strerror}") from None
    with fh:
        for lineno, line in enumerate(fh, 1):
            if line.startswith("v "):
                try:
                    x, y, z = line.split()[1:4]
                    verts.append((float(x), float(y), float(z)))
                except ValueError:
                    raise InvalidMeshError(f"{path}:{lineno}: malformed vertex line {line.strip()[:60]!r}") from None
            elif line.startswith("f "):
                try:
                    idx = [int(tok.split("/")[0]) for tok in line.split()[1:]]
                except ValueError:
                    raise InvalidMeshError(f"{path}:{lineno}: malformed face line {line.strip()[:60]!r}") from None
                n = len(verts)
                idx = [i - 1 if i > 0 else n + i for i in idx]
                for k in range(1, len(idx) - 1):
                    faces.append((idx[0], idx[k], idx[k + 1]))
    v = np.asarray(verts, dtype=np.float64).reshape(-1, 3)
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if len(v) == 0 or len(f) == 0:
        raise InvalidMeshError(f"{path}: mesh has no {'vertices' if len(v) == 0 else 'faces'} (empty or not an OBJ file)")
    if f.min() < 0 or f.max() >= len(v):
        raise InvalidMeshError(f"{path}: face indices out of range (file truncated or corrupt?)")
    return v, f


def load_mesh(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of a mesh file (OBJ by :func:`read_obj`, other formats by trimesh)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidMeshError(f"{path}: mesh file does not exist")
    suffix = path.suffix.lower()
    if suffix == ".obj":
        return read_obj(path)
    if suffix not in MESH_SUFFIXES:
        raise InvalidMeshError(f"{path}: unsupported mesh format {suffix!r}; use one of {', '.join(MESH_SUFFIXES)}")
    import trimesh

    try:
        mesh = trimesh.load(path, force="mesh", process=True)
    except Exception as exc:  # trimesh raises many types for unreadable files
        raise InvalidMeshError(f"{path}: cannot load mesh: {exc}") from None
    if len(mesh.vertices) == 0 or len(mesh.faces) == 0:
        raise InvalidMeshError(f"{path}: mesh is empty")
    return np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def geometry_sha256(path: str | Path) -> str:
    """sha256 of a mesh's geometry: vertex positions and triangles (float64/int64, little endian).

    Unlike the file's sha256 this ignores comments, normals, texture coordinates and material
    names, which do not affect physics; it changes whenever a vertex or a face does.
    """
    return mesh_geometry_sha256(*load_mesh(path))


def mesh_geometry_sha256(vertices: np.ndarray, faces: np.ndarray) -> str:
    """:func:`geometry_sha256` of vertices and triangles in memory."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(vertices, dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(faces, dtype="<i8").tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------ decomposition


def _coacd_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("coacd")
    except PackageNotFoundError:
        return "unknown"


def simplify(vertices: np.ndarray, faces: np.ndarray, max_faces: int) -> tuple[np.ndarray, np.ndarray]:
    """The mesh, simplified by quadric decimation to about ``max_faces`` triangles if it has more."""
    if len(faces) <= max_faces:
        return vertices, faces
    try:
        import fast_simplification
    except ImportError:
        raise ImportError("mesh simplification needs fast-simplification: pip install 'grasp-envs[objects]'") from None
    v, f = fast_simplification.simplify(np.asarray(vertices, np.float32), np.asarray(faces, np.int32),
                                        target_reduction=1.0 - max_faces / len(faces))
    return np.asarray(v, np.float64), np.asarray(f, np.int64)


def reduce_hull(points: np.ndarray, max_vertices: int) -> np.ndarray:
    """At most ``max_vertices`` of ``points`` by farthest-point sampling (deterministic).

    The hull of the result lies inside the original hull and keeps its extreme points.  (CoACD's
    own hull decimation takes tens of seconds on a finely scanned sphere; this takes milliseconds.)
    """
    if len(points) <= max_vertices:
        return points
    first = int(np.argmax(np.linalg.norm(points - points.mean(axis=0), axis=1)))
    chosen = [first]
    dist = np.linalg.norm(points - points[first], axis=1)
    for _ in range(max_vertices - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(points - points[nxt], axis=1))
    return points[np.sort(chosen)]


def decompose(vertices: np.ndarray, faces: np.ndarray, config: DecompositionConfig = DecompositionConfig(),
              *, name: str = "mesh") -> tuple[list[np.ndarray], int]:
    """Convex parts of a triangle mesh with CoACD: (parts, number of degenerate parts dropped).

    Parts whose hull is degenerate (flat, or below 1 mm^3) are dropped and counted; an
    :class:`InvalidMeshError` is raised when nothing is left.
    """
    check_mesh(vertices, faces, name=name)
    try:
        import coacd
    except ImportError:
        raise ImportError("convex decomposition needs CoACD: pip install 'grasp-envs[objects]'") from None
    coacd.set_log_level("error")
    cfg = config
    vertices, faces = simplify(vertices, faces, cfg.input_faces)
    mesh = coacd.Mesh(np.ascontiguousarray(vertices, np.float64), np.ascontiguousarray(faces, np.int32))
    result = coacd.run_coacd(
        mesh, threshold=cfg.threshold, max_convex_hull=cfg.max_convex_hull, preprocess_mode=cfg.preprocess_mode,
        preprocess_resolution=cfg.preprocess_resolution, resolution=cfg.resolution, mcts_nodes=cfg.mcts_nodes,
        mcts_iterations=cfg.mcts_iterations, mcts_max_depth=cfg.mcts_max_depth, decimate=False,
        merge=True, seed=cfg.seed,
    )
    parts, dropped = [], 0
    for i, (v, _f) in enumerate(result):
        try:
            hull = part_hull(np.asarray(v), name=f"{name} part {i}")
        except InvalidMeshError:
            dropped += 1
            continue
        if hull.volume < MIN_PART_VOLUME:
            dropped += 1
            continue
        reduced = reduce_hull(np.asarray(v, np.float64)[hull.vertices], cfg.max_ch_vertex)
        try:
            part_hull(reduced, name=f"{name} part {i}")
        except InvalidMeshError:
            dropped += 1
            continue
        parts.append(reduced)
    if not parts:
        raise InvalidMeshError(f"{name}: convex decomposition produced no usable part ({dropped} degenerate); "
                               "is the mesh flat, empty or in the wrong units?")
    return parts, dropped


@dataclass(frozen=True, eq=False)
class Decomposition:
    """A cached convex decomposition of one mesh file (mesh units, mesh frame)."""

    parts: tuple[np.ndarray, ...]
    key: str
    mesh_sha256: str
    dropped_parts: int
    seconds: float
    cached: bool

    @property
    def volume(self) -> float:
        """Volume of the union of the parts (m^3 for meshes in metres)."""
        from grasp_envs.objects.procedural import union_volume

        return union_volume(list(self.parts))


def cache_key(mesh_sha256: str, config: DecompositionConfig) -> str:
    blob = json.dumps({"cache_version": CACHE_VERSION, "coacd": _coacd_version(), "mesh": mesh_sha256,
                       "config": config.to_dict()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def cache_path(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / key[:2] / f"{key}.npz"


def _save(path: Path, parts: list[np.ndarray], meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, vertices=np.concatenate(parts), offsets=offsets, meta=np.array(json.dumps(meta)))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_cached(path: str | Path) -> Decomposition:
    """A cache entry written by :func:`decompose_file`; raises ``FileNotFoundError`` if absent."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            v, off, meta = z["vertices"], z["offsets"], json.loads(str(z["meta"]))
    except FileNotFoundError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise InvalidMeshError(f"decomposition cache entry {path} is corrupt ({exc}); delete it and rerun") from None
    parts = tuple(v[off[i]: off[i + 1]] for i in range(len(off) - 1))
    return Decomposition(parts, meta["key"], meta["mesh_sha256"], meta["dropped_parts"], meta["seconds"], True)


def decompose_file(path: str | Path, cache_dir: str | Path,
                   config: DecompositionConfig = DecompositionConfig()) -> Decomposition:
    """Decomposition of a mesh file, from the cache when present, else computed and cached."""
    path = Path(path)
    if not path.is_file():
        raise InvalidMeshError(f"{path}: mesh file does not exist")
    return _decompose_cached(file_sha256(path), lambda: load_mesh(path), cache_dir, config, str(path))


def decompose_mesh(vertices: np.ndarray, faces: np.ndarray, cache_dir: str | Path,
                   config: DecompositionConfig = DecompositionConfig(), *, name: str = "mesh") -> Decomposition:
    """Decomposition of a mesh in memory (metres), cached like :func:`decompose_file` but keyed
    by its geometry (:func:`mesh_geometry_sha256`) instead of a file's bytes."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    if v.ndim != 2 or v.shape[1:] != (3,) or f.ndim != 2 or f.shape[1:] != (3,) or len(v) == 0 or len(f) == 0:
        raise InvalidMeshError(f"{name}: a mesh needs (n, 3) vertices and (m, 3) triangles, got {v.shape} and {f.shape}")
    if f.min() < 0 or f.max() >= len(v):
        raise InvalidMeshError(f"{name}: face indices out of range")
    return _decompose_cached(mesh_geometry_sha256(v, f), lambda: (v, f), cache_dir, config, name)


def _decompose_cached(mesh_sha: str, load, cache_dir: str | Path, config: DecompositionConfig,
                      name: str) -> Decomposition:
    key = cache_key(mesh_sha, config)
    cpath = cache_path(cache_dir, key)
    if cpath.is_file():
        return load_cached(cpath)
    t0 = time.perf_counter()
    v, f = load()
    parts, dropped = decompose(v, f, config, name=name)
    seconds = time.perf_counter() - t0
    meta = {"key": key, "mesh_sha256": mesh_sha, "source_path": name, "dropped_parts": dropped,
            "seconds": seconds, "cache_version": CACHE_VERSION, "coacd": _coacd_version(), "config": config.to_dict()}
    _save(cpath, parts, meta)
    return Decomposition(tuple(parts), key, mesh_sha, dropped, seconds, False)


def to_grasp_object(decomposition: Decomposition, *, name: str, source: str, mass: float | None = None,
                    density: float | None = None, scale: float = 1.0, friction: float = 1.0) -> GraspObject:
    """A :class:`GraspObject` from a decomposition, scaled by ``scale`` about the box centre.

    Exactly one of ``mass`` (kg) and ``density`` (kg/m^3, applied to the union of the parts
    after scaling) must be given.
    """
    if (mass is None) == (density is None):
        raise ValueError(f"{name}: give exactly one of mass and density")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"{name}: scale must be positive, got {scale}")
    allv = np.concatenate(decomposition.parts)
    centre = 0.5 * (allv.min(axis=0) + allv.max(axis=0))
    parts = tuple((p - centre) * scale for p in decomposition.parts)
    if mass is None:
        from grasp_envs.objects.procedural import union_volume

        if not density > 0:
            raise ValueError(f"{name}: density must be positive, got {density}")
        mass = float(density) * union_volume(list(parts))
    return GraspObject(name=name, parts=parts, mass=float(mass), friction=friction, source=source)
