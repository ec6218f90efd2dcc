"""On-disk layout of a grasp dataset: Parquet shards, commit markers, manifest.

::

    DIR/
      manifest.json               run configuration, versions, env spec; shard list with sha256
      scenes/part-00000.parquet   one row per scene (object)
      attempts/part-00000.parquet one row per grasp attempt
      shards/part-00000.json      commit marker of shard 0 (written last; sha256 of both files)
      .tmp/                       files being written (renamed into place when complete)

Every file is written to ``.tmp/`` first, flushed to disk and renamed into place, so a reader
never sees half a file.  A shard counts as written only once its commit marker exists and both
files match the checksums in it; anything else is regenerated on ``--resume``.  ``scenes/`` and
``attempts/`` each hold files of one schema, so ``pandas.read_parquet(DIR / "attempts")``,
``pyarrow.dataset.dataset(...)`` and ``ray.data.read_parquet(...)`` read them directly.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "grasp_envs.dataset needs pyarrow: install it with `pip install 'grasp-envs[data]'`"
    ) from exc

#: Version of the layout and schemas; readers refuse datasets of another format.
FORMAT_VERSION = 1

MANIFEST = "manifest.json"
TABLES = ("scenes", "attempts")


class DatasetError(RuntimeError):
    """A dataset directory is missing, incomplete or inconsistent; the message says how to fix it."""


class CorruptShardError(DatasetError):
    """A shard file does not match the sha256 recorded for it."""


def shard_name(index: int) -> str:
    return f"part-{index:05d}"


def table_path(root: Path, table: str, index: int) -> Path:
    return Path(root) / table / f"{shard_name(index)}.parquet"


def marker_path(root: Path, index: int) -> Path:
    return Path(root) / "shards" / f"{shard_name(index)}.json"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either the old content or all of ``data``."""
    path = Path(path)
    root = path.parent.parent if path.parent.name in (*TABLES, "shards") else path.parent
    tmp_dir = root / ".tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{path.parent.name}-{path.name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()


def parquet_bytes(table: pa.Table) -> bytes:
    """Serialise ``table`` deterministically (same rows, same bytes)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", compression_level=3, row_group_size=4096,
                   write_statistics=True)
    return sink.getvalue().to_pybytes()


def read_manifest(root: Path) -> dict:
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise DatasetError(
            f"{root} is not a grasp dataset (no {MANIFEST}); create one with "
            f"`grasp-envs generate --objects random --num-objects N --out {root}`"
        )
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path} is not valid JSON ({exc}); the dataset is damaged, regenerate it") from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DatasetError(
            f"{root} has dataset format {manifest.get('format_version')!r}; this grasp-envs reads format "
            f"{FORMAT_VERSION}. Regenerate it with this version's `grasp-envs generate`"
        )
    return manifest


def read_marker(root: Path, index: int) -> dict | None:
    path = marker_path(root, index)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def shard_health(root: Path, index: int, expected: dict | None = None) -> str:
    """``"ok"``, ``"missing"`` or ``"corrupt"`` for shard ``index``.

    ``expected`` is the shard's record (from the manifest or its marker); without it the marker
    on disk is used.
    """
    record = expected if expected is not None else read_marker(root, index)
    if record is None:
        return "missing"
    for table in TABLES:
        entry = record["files"][table]
        path = Path(root) / entry["path"]
        if not path.is_file():
            return "missing"
        if path.stat().st_size != entry["bytes"] or sha256_file(path) != entry["sha256"]:
            return "corrupt"
    return "ok"


def verify_shard(root: Path, record: dict) -> None:
    """Raise :class:`CorruptShardError` unless both files of ``record`` match their sha256."""
    for table in TABLES:
        entry = record["files"][table]
        path = Path(root) / entry["path"]
        if not path.is_file():
            raise DatasetError(
                f"{path} is missing; finish or repair the dataset with `grasp-envs generate --resume --out {root}`"
            )
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            raise CorruptShardError(
                f"{path} is corrupt: sha256 {digest[:16]}... does not match the manifest's "
                f"{entry['sha256'][:16]}...; regenerate it with `grasp-envs generate --resume --out {root}`"
            )
