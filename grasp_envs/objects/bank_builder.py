"""``grasp-envs primitives build``: a primitive bank from the convex decompositions of real meshes.

    grasp-envs primitives build ../shared/data/ycb ../shared/data/scanned --glob '*/visual.obj' --out bank.npz
    grasp-envs primitives build ~/ShapeNetCore.v2 --glob '*/*/models/model_normalized.obj' --workers 16 --out shapenet_bank.npz

    # meshes authored as unions of convex pieces (pybullet's random_urdfs, zlib): no decomposition
    python -c "import pybullet_data; print(pybullet_data.getDataPath())"       # where pip put them
    grasp-envs primitives build <that path>/random_urdfs --glob '*[1-9]/*.obj' --convex-components \
        --with-default --out runs/banks/mixed.npz

The paper turned the 40k ShapeNet meshes into 400k convex parts with V-HACD; this does the same
with CoACD.  ``--convex-components`` takes each connected component of a mesh as one convex part
(its hull) instead, for meshes already made of convex pieces; ``--with-default`` adds the embedded
synthetic bank's parts.

**Leakage.**  A bank built from meshes you evaluate on (YCB, the scanned objects) leaks their parts
into training: results on those sets then measure seen geometry.  Build banks only from meshes that
are never evaluated (the glob above leaves out the random_urdfs ids ending in 0, the test split of
pybullet's KukaDiverseObjectEnv).  Meshes are decomposed in parallel (``--workers``) with a progress bar, and every
decomposition is cached by content hash (:mod:`grasp_envs.objects.mesh_import`), so an interrupted
build resumes where it stopped.  The bank stores each part normalised (centred, largest extent 1),
as :class:`grasp_envs.objects.PrimitiveBank` expects; use it with
``generate_random_object(seed, PrimitiveBank.load(path))`` or
``gym.make("grasp_envs/GraspRandom4D-v1", primitive_bank=path)``.
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from grasp_envs.cli import positive_int
from grasp_envs.objects.datasets import ENV_VAR, data_root
from grasp_envs.objects.mesh_import import MESH_SUFFIXES, DecompositionConfig, InvalidMeshError, decompose_file
from grasp_envs.objects.primitives import PrimitiveBank
from grasp_envs.workers import worker_init

#: Parts whose smallest extent is below this fraction of their largest are slivers, not primitives.
MIN_ASPECT = 0.02


def find_meshes(dirs: list[str | Path], pattern: str | None = None) -> list[Path]:
    """Mesh files under ``dirs`` (recursively, or matching glob ``pattern`` relative to each dir)."""
    found: list[Path] = []
    for d in dirs:
        d = Path(d).expanduser()
        if not d.is_dir():
            raise FileNotFoundError(f"mesh folder {d} does not exist")
        files = d.glob(pattern) if pattern else d.rglob("*")
        found.extend(p for p in files if p.is_file() and p.suffix.lower() in MESH_SUFFIXES)
    found = sorted(set(found))
    if not found:
        raise FileNotFoundError(f"no mesh files ({', '.join(MESH_SUFFIXES)}) under {', '.join(map(str, dirs))}"
                                + (f" matching {pattern!r}" if pattern else ""))
    return found


@dataclass(frozen=True)
class BankReport:
    bank: PrimitiveBank
    meshes: int
    failed: tuple[tuple[str, str], ...]
    decomposed: int
    dropped_slivers: int


def _decompose(args: tuple[str, str, DecompositionConfig]):
    path, cache, config = args
    try:
        d = decompose_file(path, cache, config)
    except InvalidMeshError as exc:
        return path, None, str(exc), False
    return path, [p.copy() for p in d.parts], None, d.cached


def build_bank(mesh_files: list[Path], *, cache_dir: str | Path, config: DecompositionConfig = DecompositionConfig(),
               workers: int = 1, name: str = "meshes", progress: bool = True) -> BankReport:
    """Decompose ``mesh_files`` (cached) and pack every convex part into a :class:`PrimitiveBank`.

    A mesh that cannot be decomposed is reported in ``failed`` (never dropped silently); parts
    thinner than :data:`MIN_ASPECT` of their length are counted in ``dropped_slivers``.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    jobs = [(str(p), str(cache_dir), config) for p in mesh_files]
    results: dict[str, tuple] = {}
    bar = tqdm(total=len(jobs), desc="decompose", unit="mesh", disable=not progress)
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers, initializer=worker_init) as pool:
            futures = [pool.submit(_decompose, j) for j in jobs]
            for f in as_completed(futures):
                r = f.result()
                results[r[0]] = r
                bar.update()
    else:
        for j in jobs:
            r = _decompose(j)
            results[r[0]] = r
            bar.update()
    bar.close()
    parts, kinds, failed, slivers, new = [], [], [], 0, 0
    for path, *_ in jobs:
        _, mesh_parts, err, cached = results[path]
        if err is not None:
            failed.append((path, err))
            continue
        new += not cached
        kind = f"{Path(path).parent.name}/{Path(path).stem}"
        for p in mesh_parts:
            ext = p.max(axis=0) - p.min(axis=0)
            if ext.min() < MIN_ASPECT * ext.max():
                slivers += 1
                continue
            parts.append(p)
            kinds.append(kind)
    if not parts:
        raise InvalidMeshError(f"no convex part could be extracted from {len(jobs)} meshes ({len(failed)} failed)")
    return BankReport(PrimitiveBank.from_parts(parts, kinds, name=name), len(jobs), tuple(failed), new, slivers)


def convex_components_bank(mesh_files: list[Path], *, name: str = "meshes", progress: bool = True) -> BankReport:
    """A bank whose parts are the connected components of each mesh (each taken as its convex hull).

    For meshes that are unions of convex pieces; a component that is not convex (its volume
    under 0.98 of its hull's) means the mesh is not such a union, and it is reported as failed
    rather than silently replaced by its hull.
    """
    import trimesh

    parts, kinds, failed, slivers = [], [], [], 0
    for path in tqdm(mesh_files, desc="components", unit="mesh", disable=not progress):
        try:
            mesh = trimesh.load(path, force="mesh", process=False)
            comps = mesh.split(only_watertight=False)
            hulls = [c.convex_hull for c in comps]
        except Exception as exc:  # trimesh raises many types for unreadable files
            failed.append((str(path), f"unreadable mesh: {exc}"))
            continue
        if not comps:
            failed.append((str(path), "no faces"))
            continue
        bad = [i for i, (c, h) in enumerate(zip(comps, hulls)) if not (c.is_watertight and c.volume >= 0.98 * h.volume)]
        if bad:
            failed.append((str(path), f"component(s) {bad} are not closed convex pieces; decompose it with CoACD "
                                      "(drop --convex-components)"))
            continue
        kind = f"{Path(path).parent.name}/{Path(path).stem}"
        for h in hulls:
            ext = np.ptp(h.vertices, axis=0)
            if ext.min() < MIN_ASPECT * ext.max():
                slivers += 1
                continue
            parts.append(np.asarray(h.vertices, np.float64))
            kinds.append(kind)
    if not parts:
        raise InvalidMeshError(f"no convex part could be extracted from {len(mesh_files)} meshes ({len(failed)} failed)")
    return BankReport(PrimitiveBank.from_parts(parts, kinds, name=name), len(mesh_files), tuple(failed), 0, slivers)


def with_default(bank: PrimitiveBank) -> PrimitiveBank:
    """``bank``'s parts followed by the embedded synthetic bank's (kinds prefixed ``default/``)."""
    from grasp_envs.objects.primitives import default_bank

    base = default_bank()
    offsets = np.concatenate([bank.offsets, base.offsets[1:] + len(bank.vertices)])
    return PrimitiveBank(np.concatenate([bank.vertices, base.vertices]), offsets,
                         bank.kinds + tuple(f"default/{k}" for k in base.kinds), bank.name)


def run_build(args: argparse.Namespace) -> int:
    meshes = find_meshes(args.mesh_dirs, args.glob)
    name = args.name or args.out.stem
    if args.convex_components:
        report = convex_components_bank(meshes, name=name)
    else:
        config = DecompositionConfig.tiny() if args.tiny else DecompositionConfig()
        cache = args.cache if args.cache is not None else data_root(args.root) / "cache" / "decompositions"
        report = build_bank(meshes, cache_dir=cache, config=config, workers=args.workers, name=name)
    if args.with_default:
        report = BankReport(with_default(report.bank), report.meshes, report.failed, report.decomposed,
                            report.dropped_slivers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report.bank.save(args.out)
    print(f"wrote {len(report.bank)} primitives from {report.meshes} meshes to {args.out} "
          f"({report.decomposed} newly decomposed, {report.dropped_slivers} slivers dropped, sha256 {report.bank.digest[:16]})")
    for path, err in report.failed:
        print(f"  failed: {path}: {err}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("primitives", help="build a primitive bank from mesh folders")
    sub = p.add_subparsers(dest="primitives_command", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="decompose meshes into convex parts and write a bank .npz",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("mesh_dirs", nargs="+", type=Path, metavar="MESH_DIR")
    b.add_argument("--out", type=Path, required=True, metavar="BANK", help="output bank (.npz)")
    b.add_argument("--glob", default=None, help="glob relative to each MESH_DIR (default: every mesh, recursively)")
    b.add_argument("--workers", type=positive_int("--workers 2"), default=max(1, (os.cpu_count() or 1) // 2))
    b.add_argument("--cache", type=Path, default=None, help="decomposition cache (default: <data root>/cache/decompositions)")
    b.add_argument("--root", type=Path, default=None, help=f"data root (default: ${ENV_VAR} or ~/.cache/grasp_envs)")
    b.add_argument("--name", default=None, help="bank name (default: the output file's stem)")
    b.add_argument("--tiny", action="store_true", help="tiny CoACD budget (smoke tests only)")
    b.add_argument("--convex-components", action="store_true",
                   help="take each connected component of a mesh as one convex part (no CoACD)")
    b.add_argument("--with-default", action="store_true", help="add the embedded synthetic bank's parts")
    b.set_defaults(func=run_build)
