"""``grasp-envs download``: fetch, verify and process an object dataset.  Never called implicitly.

    grasp-envs download ycb                                  # upstream YCB archives
    grasp-envs download ycb --mirror http://lab-server/ycb/  # same layout on a lab mirror
    grasp-envs download scanned --mirror /mnt/datasets/gso --root /data/grasp_envs

For every object of the dataset (:mod:`grasp_envs.objects.datasets`):

1. **fetch** the archive or file from upstream or from ``--mirror`` (a URL or a local folder with
   the upstream layout) into ``<root>/downloads/``.  HTTP downloads go to a ``.part`` file and an
   interrupted download resumes with a ``Range`` request the next time the command runs;
2. **extract** the mesh (``.tgz``/``.zip`` archives are checked: a corrupt or truncated archive is
   deleted and reported);
3. **verify** the mesh's geometry checksum against the pin.  An object without a pin (any other
   id of the upstream layout, e.g. ``011_banana``) is fetched with an
   :class:`UnpinnedObjectWarning`; its checksum is recorded in the index on first use and
   verified on every later run (a change is an error naming ``--rerecord``);
4. **process** it once: CoACD convex decomposition, cached by content hash
   (:mod:`grasp_envs.objects.mesh_import`), and record the object in ``<root>/<dataset>/index.json``
   with its mass (``mass_source``: the pinned table, or the stated density over the convex parts)
   and whether the gripper can grasp it (the box rule, and the resting-pose rule of
   :mod:`grasp_envs.objects.graspability`).

Objects already verified and processed are skipped, so rerunning the command is cheap and safe;
a run without ``--objects`` also re-verifies every unpinned object the index holds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

from tqdm import tqdm

from grasp_envs.cli import positive_int
from grasp_envs.objects.datasets import (
    DATASETS,
    ENV_VAR,
    FETCH_MAX_OPENING,
    Dataset,
    DataSource,
    data_root,
    get_dataset,
    index_path,
    pinned_top_graspable,
    split_of,
)
from grasp_envs.objects.mesh_import import (
    CACHE_VERSION,
    DecompositionConfig,
    InvalidMeshError,
    decompose_file,
    geometry_sha256,
    load_mesh,
)
from grasp_envs.objects.graspability import TopGraspConfig
from grasp_envs.workers import worker_init

CHUNK = 1 << 16
USER_AGENT = "grasp-envs-downloader/1"


class DownloadError(RuntimeError):
    """A download failed; the message says why and what to run next."""


class UnpinnedObjectWarning(UserWarning):
    """An object without a pinned checksum was downloaded; its checksum was recorded on first use."""


def decomposition_cache_dir(root: str | Path | None = None) -> Path:
    return data_root(root) / "cache" / "decompositions"


def _is_url(s: str) -> bool:
    return s.startswith(("http://", "https://", "file://"))


def source_location(source: DataSource, mirror: str | Path | None = None) -> str:
    """URL or local path of ``source``: upstream, or the same relative path under ``mirror``."""
    if mirror is None:
        return source.url
    m = str(mirror)
    if _is_url(m):
        return m.rstrip("/") + "/" + source.relpath
    return str(Path(m).expanduser() / source.relpath)


# ------------------------------------------------------------------------------------- fetch


def fetch(location: str, dest: Path, *, progress: bool = True, timeout: float = 60.0) -> Path:
    """Fetch a URL or copy a local file to ``dest``; resumes an interrupted HTTP download."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not _is_url(location):
        src = Path(location)
        if not src.is_file():
            raise DownloadError(f"the mirror has no {src} (expected the upstream layout under the mirror folder)")
        shutil.copyfile(src, dest)
        return dest
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(location, headers={"User-Agent": USER_AGENT})
    if offset:
        req.add_header("Range", f"bytes={offset}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the partial file is already complete
            os.replace(part, dest)
            return dest
        raise DownloadError(f"{location}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"cannot reach {location}: {reason}; check the network or pass --mirror URL_OR_DIR") from None
    with resp:
        status = resp.status
        if status == 206:
            mode = "ab"
        else:  # 200: the server sent the whole file (it ignored or does not support Range)
            mode, offset = "wb", 0
        length = resp.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        got = offset
        bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, desc=dest.name, leave=False, disable=not progress)
        try:
            with open(part, mode) as fh:
                while True:
                    block = resp.read(CHUNK)
                    if not block:
                        break
                    fh.write(block)
                    got += len(block)
                    bar.update(len(block))
        except (HTTPException, OSError) as exc:
            raise DownloadError(
                f"download of {location} was interrupted after {got} bytes ({type(exc).__name__}); rerun the same "
                f"command to resume from the partial file {part}"
            ) from None
        finally:
            bar.close()
    if total is not None and got < total:
        raise DownloadError(
            f"download of {location} was interrupted after {got} of {total} bytes; rerun the same command to resume "
            f"from the partial file {part}"
        )
    os.replace(part, dest)
    return dest


# ----------------------------------------------------------------------------- extract/verify


def extract_member(archive: Path, member: str) -> bytes:
    """Bytes of ``member`` in a ``.tgz``/``.tar.gz``/``.zip`` archive; a damaged archive is deleted."""
    try:
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as zf:
                try:
                    return zf.read(member)
                except KeyError:
                    names = zf.namelist()
                    raise DownloadError(f"archive {archive} has no {member} (it holds {names[:5]} ...)") from None
        with tarfile.open(archive, "r:gz") as tf:
            try:
                info = tf.getmember(member)
            except KeyError:
                raise DownloadError(f"archive {archive} has no {member}; is the mirror in the upstream layout?") from None
            fh = tf.extractfile(info)
            if fh is None:
                raise DownloadError(f"{member} in {archive} is not a regular file")
            data = fh.read()
            # Read to the end so that a truncated or corrupt tail is detected (gzip CRC, length).
            while tf.next() is not None:
                pass
            return data
    except DownloadError:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:
        archive.unlink(missing_ok=True)
        raise DownloadError(
            f"archive {archive.name} is corrupt or truncated ({type(exc).__name__}: {exc}); it was deleted, rerun the "
            "command to fetch it again (if it keeps failing, the mirror's copy is damaged)"
        ) from None


def rerecord_command(dataset: str, object_id: str) -> str:
    return f"grasp-envs download {dataset} --objects {object_id} --rerecord"


def verify_mesh(path: Path, source: DataSource, recorded: str | None = None, *, dataset: str = "ycb") -> str:
    """The geometry checksum of ``path``; raises :class:`DownloadError` (and deletes ``path``)
    unless it matches the pin, or for an unpinned object the checksum ``recorded`` on first use
    (``None``: this is the first use, anything is accepted)."""
    try:
        digest = geometry_sha256(path)
    except InvalidMeshError as exc:
        path.unlink(missing_ok=True)
        raise DownloadError(f"{source.object_id}: the downloaded mesh is not a valid mesh ({exc}); it was deleted") from None
    if source.pinned and digest != source.geometry_sha256:
        path.unlink(missing_ok=True)
        raise DownloadError(
            f"{source.object_id}: checksum mismatch: mesh geometry sha256 {digest[:16]}..., pinned "
            f"{source.geometry_sha256[:16]}...; the file is corrupt or not the pinned version (deleted). "
            "Check the mirror's copy of " + source.relpath
        )
    if not source.pinned and recorded is not None and digest != recorded:
        path.unlink(missing_ok=True)
        raise DownloadError(
            f"{source.object_id}: the mesh changed since its checksum was recorded on first download (geometry "
            f"sha256 {digest[:16]}..., recorded {recorded[:16]}...; deleted).  The copy of {source.relpath} is "
            f"corrupt or a new version; if the new version is intended, accept it with "
            f"`{rerecord_command(dataset, source.object_id)}` (results made with the old one are not comparable)"
        )
    return digest


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def fetch_source(source: DataSource, root: Path, mirror: str | Path | None = None, *, progress: bool = True,
                 recorded: str | None = None, dataset: str = "ycb") -> tuple[Path, str]:
    """The verified mesh of ``source`` under ``root`` (fetched, extracted and checked if needed)
    and its geometry checksum; ``recorded`` is the checksum an unpinned object had on first use."""
    target = root / source.target
    if target.is_file():
        try:
            return target, verify_mesh(target, source, recorded, dataset=dataset)
        except DownloadError:
            pass  # deleted; fetch again
    location = source_location(source, mirror)
    try:
        if source.member is None:
            fetched = fetch(location, root / "downloads" / source.target, progress=progress)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(fetched, target)
        else:
            archive = fetch(location, root / "downloads" / Path(source.relpath), progress=progress)
            _write_atomic(target, extract_member(archive, source.member))
            archive.unlink()
    except DownloadError as exc:
        if source.pinned or not ("HTTP 404" in str(exc) or "the mirror has no" in str(exc)):
            raise
        raise DownloadError(
            f"{source.object_id} is not one of the pinned {dataset} objects, and the source has no such object "
            f"({exc}); check the id (`grasp-envs download {dataset} --list` prints the pinned ones)"
        ) from None
    return target, verify_mesh(target, source, recorded, dataset=dataset)


# ------------------------------------------------------------------------------------ process


@dataclass(frozen=True)
class DownloadReport:
    """What :func:`download_dataset` did."""

    dataset: str
    root: Path
    objects: tuple[str, ...]
    fetched_seconds: float
    processed_seconds: float
    decomposed: int
    index: Path
    unpinned: tuple[str, ...] = ()


def mesh_facts(path: str | Path) -> dict:
    """What the index records of a mesh without a pin: sorted OBB extents, the box rule and the
    resting-pose rule (:func:`grasp_envs.objects.graspability.top_graspability`)."""
    import trimesh

    from grasp_envs.objects.graspability import top_graspability

    v, f = load_mesh(path)
    extent = sorted(float(e) for e in trimesh.Trimesh(v, f, process=False).bounding_box_oriented.primitive.extents)
    return {"obb_extent": [round(e, 5) for e in extent], "graspable": extent[0] < FETCH_MAX_OPENING,
            "top_grasp": top_graspability(v, f).to_dict()}


def _process(args: tuple[str, str, DecompositionConfig, bool]):
    mesh, cache, config, facts = args
    d = decompose_file(mesh, cache, config)
    return d.key, d.mesh_sha256, len(d.parts), d.dropped_parts, d.seconds, d.cached, (mesh_facts(mesh) if facts else None)


def _read_index(path: Path) -> dict:
    """The objects of an existing index of this cache version ({} when absent or unreadable)."""
    if path.is_file():
        try:
            old = json.loads(path.read_text())
            if old.get("cache_version") == CACHE_VERSION:
                return dict(old.get("objects", {}))
        except ValueError:
            pass  # unreadable index: rebuilt from this run
    return {}


def download_dataset(name: str, *, root: str | Path | None = None, mirror: str | Path | None = None,
                     objects: list[str] | tuple[str, ...] | None = None,
                     config: DecompositionConfig = DecompositionConfig(), workers: int = 1,
                     progress: bool = True, dataset: Dataset | None = None, rerecord: bool = False) -> DownloadReport:
    """Fetch, verify and process (a subset of) dataset ``name`` under the data root.

    ``objects`` may name any id of the upstream layout; those without a pinned checksum are
    fetched with an :class:`UnpinnedObjectWarning` and their checksum recorded in the index (and
    verified on later runs).  ``rerecord`` accepts a changed unpinned object and records its new
    checksum.  Without ``objects``: every pinned object, and the unpinned ones the index holds.
    """
    ds = dataset if dataset is not None else get_dataset(name)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    base = data_root(root)
    ipath = index_path(ds.name, base)
    old = _read_index(ipath)
    if objects is None:
        sources = ds.sources + tuple(ds.source(o) for o in sorted(old) if ds.pinned_source(o) is None)
    else:
        sources = tuple(ds.source(o) for o in dict.fromkeys(objects))
    if rerecord and all(s.pinned for s in sources):
        raise ValueError(f"--rerecord applies to objects without a pinned checksum; none of the {len(sources)} "
                         f"given is one (`grasp-envs download {ds.name} --objects ID --rerecord`)")
    base.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    meshes, digests = {}, {}
    for s in tqdm(sources, desc=f"fetch {ds.name}", unit="obj", disable=not progress):
        entry = old.get(s.object_id, {})
        recorded = None if s.pinned or rerecord else entry.get("geometry_sha256")
        meshes[s.object_id], digests[s.object_id] = fetch_source(s, base, mirror, progress=progress,
                                                                 recorded=recorded, dataset=ds.name)
        if not s.pinned and recorded is None:
            warnings.warn(
                f"{ds.name}/{s.object_id} has no pinned checksum: downloaded unverified from "
                f"{source_location(s, mirror)}; its geometry sha256 {digests[s.object_id][:16]}... is recorded in "
                f"{ipath} and verified on every later run.  Mass: {s.density:g} kg/m^3 over its convex parts "
                f"(no pinned mass)", UnpinnedObjectWarning, stacklevel=2)
    t1 = time.perf_counter()
    cache = str(decomposition_cache_dir(base))

    def needs_facts(s: DataSource) -> bool:  # unpinned, and new, changed, or judged by another rule
        e = old.get(s.object_id, {})
        return not s.pinned and not (e.get("geometry_sha256") == digests[s.object_id]
                                     and e.get("top_grasp", {}).get("config") == TopGraspConfig().to_dict())

    jobs = [(str(meshes[s.object_id]), cache, config, needs_facts(s)) for s in sources]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers, initializer=worker_init) as pool:
            results = list(tqdm(pool.map(_process, jobs), total=len(jobs), desc=f"decompose {ds.name}", unit="obj",
                                disable=not progress))
    else:
        results = [_process(j) for j in tqdm(jobs, desc=f"decompose {ds.name}", unit="obj", disable=not progress)]
    t2 = time.perf_counter()

    index = {"dataset": ds.name, "cache_version": CACHE_VERSION, "objects": dict(old)}
    for s, (key, mesh_sha, n_parts, dropped, seconds, cached, facts) in zip(sources, results):
        if s.pinned:
            facts = {"obb_extent": list(s.obb_extent), "graspable": s.graspable,
                     "top_grasp": {"rule": "resting poses, top-down widths", "graspable": pinned_top_graspable(
                         ds.name, s.object_id), "pinned": True}}
        elif facts is None:  # unchanged since it was recorded
            facts = {k: old[s.object_id][k] for k in ("obb_extent", "graspable", "top_grasp")}
        index["objects"][s.object_id] = {
            "mesh": s.target, "mesh_sha256": mesh_sha, "geometry_sha256": digests[s.object_id], "cache_key": key,
            "checksum": "pinned" if s.pinned else "recorded on first download",
            "mass": s.mass, "density": s.density,
            "mass_source": ("the pinned table" if s.mass is not None
                            else f"density {s.density:g} kg/m^3 over the convex parts (no known mass)"),
            "n_parts": n_parts, "dropped_parts": dropped,
            "decompose_seconds": round(seconds, 3), "split": split_of(s.object_id), **facts,
            "license": s.license, "url": s.url, "decomposition": config.to_dict(),
        }
    _write_atomic(ipath, json.dumps(index, indent=1, sort_keys=True).encode())
    return DownloadReport(ds.name, base, tuple(s.object_id for s in sources), t1 - t0, t2 - t1,
                          sum(1 for r in results if not r[5]), ipath, tuple(s.object_id for s in sources if not s.pinned))


# ---------------------------------------------------------------------------------------- CLI


def format_object_list(name: str) -> str:
    """One line per pinned object of dataset ``name``: id, split, whether it fits the gripper (box
    rule, resting-pose rule), mass, extents."""
    ds = get_dataset(name)
    lines = [f"{ds.name}: {len(ds.sources)} pinned objects ({ds.license}); other upstream ids (the form "
             f"{ds.id_pattern}) download unpinned", "id  split  box_rule  top_grasp  mass_kg  obb_extent_mm"]
    for s in ds.sources:
        mass = f"{s.mass:.3f}" if s.mass is not None else f"({s.density:g} kg/m^3)"
        ext = " x ".join(f"{1000 * e:.0f}" for e in s.obb_extent)
        top = "yes" if pinned_top_graspable(ds.name, s.object_id) else "no"
        lines.append(f"{s.object_id}  {split_of(s.object_id)}  {'yes' if s.graspable else 'no'}  {top}  {mass}  {ext}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import sys

    if args.list:
        print(format_object_list(args.dataset))
        return 0
    if args.rerecord and not args.objects:
        raise ValueError("--rerecord needs the objects whose new version you accept: "
                         f"`grasp-envs download {args.dataset} --objects ID --rerecord`")
    config = DecompositionConfig.tiny() if args.tiny else DecompositionConfig()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnpinnedObjectWarning)
        report = download_dataset(args.dataset, root=args.root, mirror=args.mirror, objects=args.objects,
                                  config=config, workers=args.workers, rerecord=args.rerecord)
    for w in caught:
        if issubclass(w.category, UnpinnedObjectWarning):
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    print(f"{report.dataset}: {len(report.objects)} objects verified under {report.root}; "
          f"fetch {report.fetched_seconds:.1f} s, decomposition {report.processed_seconds:.1f} s "
          f"({report.decomposed} newly decomposed); index {report.index}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "download", help="fetch, verify and process an object dataset (ycb, scanned)",
        description=f"Fetch, verify and process an object dataset under the data root (--root, else ${ENV_VAR}, "
                    "else ~/.cache/grasp_envs).",
    )
    p.add_argument("dataset", choices=sorted(DATASETS))
    p.add_argument("--root", type=Path, default=None, help=f"data root (default: ${ENV_VAR} or ~/.cache/grasp_envs)")
    p.add_argument("--mirror", default=None, metavar="URL_OR_DIR",
                   help="fetch from this URL or folder instead of upstream (same relative layout)")
    p.add_argument("--objects", nargs="+", default=None, metavar="ID",
                   help="only these object ids: pinned ones (see --list) or any other upstream id, e.g. 011_banana "
                        "(downloaded with a warning; its checksum is recorded on first use and verified later)")
    p.add_argument("--rerecord", action="store_true",
                   help="accept a new version of the given unpinned objects and record its checksum")
    p.add_argument("--list", action="store_true", help="print the dataset's object ids and download nothing")
    p.add_argument("--workers", type=positive_int("--workers 2"), default=max(1, (os.cpu_count() or 1) // 2),
                   help="parallel decompositions")
    p.add_argument("--tiny", action="store_true", help="tiny CoACD budget (smoke tests only; coarse collision shapes)")
    p.set_defaults(func=run)
