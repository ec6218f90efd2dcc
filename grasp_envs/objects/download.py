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
3. **verify** the mesh's geometry checksum against the pin;
4. **process** it once: CoACD convex decomposition, cached by content hash
   (:mod:`grasp_envs.objects.mesh_import`), and record the object in ``<root>/<dataset>/index.json``.

Objects already verified and processed are skipped, so rerunning the command is cheap and safe.
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
    Dataset,
    DataSource,
    data_root,
    get_dataset,
    index_path,
    split_of,
)
from grasp_envs.objects.mesh_import import (
    CACHE_VERSION,
    DecompositionConfig,
    InvalidMeshError,
    decompose_file,
    geometry_sha256,
)
from grasp_envs.workers import worker_init

CHUNK = 1 << 16
USER_AGENT = "grasp-envs-downloader/1"


class DownloadError(RuntimeError):
    """A download failed; the message says why and what to run next."""


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


def verify_mesh(path: Path, source: DataSource) -> None:
    """Raise :class:`DownloadError` (and delete ``path``) unless its geometry matches the pin."""
    try:
        digest = geometry_sha256(path)
    except InvalidMeshError as exc:
        path.unlink(missing_ok=True)
        raise DownloadError(f"{source.object_id}: the downloaded mesh is not a valid mesh ({exc}); it was deleted") from None
    if digest != source.geometry_sha256:
        path.unlink(missing_ok=True)
        raise DownloadError(
            f"{source.object_id}: checksum mismatch: mesh geometry sha256 {digest[:16]}..., pinned "
            f"{source.geometry_sha256[:16]}...; the file is corrupt or not the pinned version (deleted). "
            "Check the mirror's copy of " + source.relpath
        )


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def fetch_source(source: DataSource, root: Path, mirror: str | Path | None = None, *, progress: bool = True) -> Path:
    """The verified mesh of ``source`` under ``root`` (fetched, extracted and checked if needed)."""
    target = root / source.target
    if target.is_file():
        try:
            verify_mesh(target, source)
            return target
        except DownloadError:
            pass  # deleted; fetch again
    location = source_location(source, mirror)
    if source.member is None:
        fetched = fetch(location, root / "downloads" / source.target, progress=progress)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(fetched, target)
    else:
        archive = fetch(location, root / "downloads" / Path(source.relpath), progress=progress)
        _write_atomic(target, extract_member(archive, source.member))
        archive.unlink()
    verify_mesh(target, source)
    return target


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


def _process(args: tuple[str, str, DecompositionConfig]):
    mesh, cache, config = args
    d = decompose_file(mesh, cache, config)
    return d.key, d.mesh_sha256, len(d.parts), d.dropped_parts, d.seconds, d.cached


def download_dataset(name: str, *, root: str | Path | None = None, mirror: str | Path | None = None,
                     objects: list[str] | tuple[str, ...] | None = None,
                     config: DecompositionConfig = DecompositionConfig(), workers: int = 1,
                     progress: bool = True, dataset: Dataset | None = None) -> DownloadReport:
    """Fetch, verify and process (a subset of) dataset ``name`` under the data root."""
    ds = dataset if dataset is not None else get_dataset(name)
    sources = ds.sources if objects is None else tuple(ds.source(o) for o in objects)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    base = data_root(root)
    base.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    meshes = {}
    for s in tqdm(sources, desc=f"fetch {ds.name}", unit="obj", disable=not progress):
        meshes[s.object_id] = fetch_source(s, base, mirror, progress=progress)
    t1 = time.perf_counter()
    cache = str(decomposition_cache_dir(base))
    jobs = [(str(meshes[s.object_id]), cache, config) for s in sources]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers, initializer=worker_init) as pool:
            results = list(tqdm(pool.map(_process, jobs), total=len(jobs), desc=f"decompose {ds.name}", unit="obj",
                                disable=not progress))
    else:
        results = [_process(j) for j in tqdm(jobs, desc=f"decompose {ds.name}", unit="obj", disable=not progress)]
    t2 = time.perf_counter()

    ipath = index_path(ds.name, base)
    index = {"dataset": ds.name, "cache_version": CACHE_VERSION, "objects": {}}
    if ipath.is_file():
        try:
            old = json.loads(ipath.read_text())
            if old.get("cache_version") == CACHE_VERSION:
                index["objects"].update(old.get("objects", {}))
        except ValueError:
            pass  # unreadable index: rebuilt from this run
    for s, (key, mesh_sha, n_parts, dropped, seconds, cached) in zip(sources, results):
        index["objects"][s.object_id] = {
            "mesh": s.target, "mesh_sha256": mesh_sha, "geometry_sha256": s.geometry_sha256, "cache_key": key,
            "mass": s.mass, "density": s.density, "n_parts": n_parts, "dropped_parts": dropped,
            "decompose_seconds": round(seconds, 3), "split": split_of(s.object_id), "graspable": s.graspable,
            "license": s.license, "url": s.url, "decomposition": config.to_dict(),
        }
    _write_atomic(ipath, json.dumps(index, indent=1, sort_keys=True).encode())
    return DownloadReport(ds.name, base, tuple(s.object_id for s in sources), t1 - t0, t2 - t1,
                          sum(1 for r in results if not r[5]), ipath)


# ---------------------------------------------------------------------------------------- CLI


def format_object_list(name: str) -> str:
    """One line per object of dataset ``name``: id, split, whether it fits the gripper, mass, extents."""
    ds = get_dataset(name)
    lines = [f"{ds.name}: {len(ds.sources)} objects ({ds.license})", "id  split  graspable  mass_kg  obb_extent_mm"]
    for s in ds.sources:
        mass = f"{s.mass:.3f}" if s.mass is not None else f"({s.density:g} kg/m^3)"
        ext = " x ".join(f"{1000 * e:.0f}" for e in s.obb_extent)
        lines.append(f"{s.object_id}  {split_of(s.object_id)}  {'yes' if s.graspable else 'no'}  {mass}  {ext}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.list:
        print(format_object_list(args.dataset))
        return 0
    config = DecompositionConfig.tiny() if args.tiny else DecompositionConfig()
    report = download_dataset(args.dataset, root=args.root, mirror=args.mirror, objects=args.objects, config=config,
                              workers=args.workers)
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
    p.add_argument("--objects", nargs="+", default=None, metavar="ID", help="only these object ids (see --list)")
    p.add_argument("--list", action="store_true", help="print the dataset's object ids and download nothing")
    p.add_argument("--workers", type=positive_int("--workers 2"), default=max(1, (os.cpu_count() or 1) // 2),
                   help="parallel decompositions")
    p.add_argument("--tiny", action="store_true", help="tiny CoACD budget (smoke tests only; coarse collision shapes)")
    p.set_defaults(func=run)
