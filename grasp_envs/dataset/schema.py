"""Arrow schemas of the two tables and the conversions between them and NumPy.

``scenes`` (one row per object):

=================  ==========================================  =====================================
column             Arrow type                                  meaning
=================  ==========================================  =====================================
scene              int64                                       index of the scene in the run
object_seed        int64                                       object seed (regenerates the object)
object_name        string                                      the object's name
reset_seed         uint64                                      ``env.reset(seed=...)`` of the scene
depth              fixed_size_list<float32>[n_cams * H * W]    overhead depth (m), row-major
bbox               fixed_size_list<float32>[6]                 xmin, ymin, zmin, xmax, ymax, zmax
n_attempts         int32                                       grasps tried
n_simulated        int32                                       grasps not rejected
n_success          int32                                       grasps that lifted the object
success_grasps     list<fixed_size_list<int8>[dims]>           bins of the successful grasps
=================  ==========================================  =====================================

``attempts`` (one row per grasp):

=============  =======================================  =========================================
column         Arrow type                               meaning
=============  =======================================  =========================================
scene          int64                                    scene index
object_seed    int64                                    object seed
attempt        int32                                    index of the grasp within the scene
grasp          fixed_size_list<int8>[dims]              bins (x, y, z, [roll, pitch,] yaw)
rejection      int8                                     :class:`grasp_envs.sim.Rejection` code
success        bool                                     the object was lifted
lift           float32                                  rise of the object (m), 0 if rejected
hand_depth     fixed_size_list<float32>[h * w], null    hand-camera depth (m); null if rejected
source         int8                                     0: drawn uniformly; 1: a proposer's grasp
=============  =======================================  =========================================

Datasets written before the ``source`` column existed read back with ``source`` 0 everywhere.

Image shapes are stored in each file's schema metadata (``depth_shape``, ``hand_depth_shape``)
and in the manifest.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa


def scenes_schema(dims: int, depth_shape: tuple[int, ...]) -> pa.Schema:
    n = int(np.prod(depth_shape))
    return pa.schema(
        [
            ("scene", pa.int64()),
            ("object_seed", pa.int64()),
            ("object_name", pa.string()),
            ("reset_seed", pa.uint64()),
            ("depth", pa.list_(pa.float32(), n)),
            ("bbox", pa.list_(pa.float32(), 6)),
            ("n_attempts", pa.int32()),
            ("n_simulated", pa.int32()),
            ("n_success", pa.int32()),
            ("success_grasps", pa.list_(pa.list_(pa.int8(), dims))),
        ],
        metadata={"depth_shape": json.dumps(list(depth_shape)), "dims": str(dims)},
    )


def attempts_schema(dims: int, hand_shape: tuple[int, int]) -> pa.Schema:
    n = int(np.prod(hand_shape))
    return pa.schema(
        [
            ("scene", pa.int64()),
            ("object_seed", pa.int64()),
            ("attempt", pa.int32()),
            ("grasp", pa.list_(pa.int8(), dims)),
            ("rejection", pa.int8()),
            ("success", pa.bool_()),
            ("lift", pa.float32()),
            ("hand_depth", pa.list_(pa.float32(), n)),
            ("source", pa.int8()),
        ],
        metadata={"hand_depth_shape": json.dumps(list(hand_shape)), "dims": str(dims)},
    )


def _fixed(values: np.ndarray, size: int, type_: pa.DataType, mask: np.ndarray | None = None) -> pa.Array:
    flat = pa.array(np.ascontiguousarray(values).ravel(), type=type_)
    if mask is None:
        return pa.FixedSizeListArray.from_arrays(flat, size)
    return pa.FixedSizeListArray.from_arrays(flat, size, mask=pa.array(mask, type=pa.bool_()))


def build_scenes_table(records: list[dict], dims: int, depth_shape: tuple[int, ...]) -> pa.Table:
    """Table of scene records (dicts with NumPy fields, see :func:`scenes_schema`)."""
    schema = scenes_schema(dims, depth_shape)
    n_px = int(np.prod(depth_shape))
    depth = np.stack([r["depth"].astype(np.float32).reshape(n_px) for r in records]) if records else np.zeros((0, n_px), np.float32)
    bbox = np.stack([r["bbox"].astype(np.float32).reshape(6) for r in records]) if records else np.zeros((0, 6), np.float32)
    grasps = [r["success_grasps"].astype(np.int8).reshape(-1, dims) for r in records]
    offsets = np.concatenate([[0], np.cumsum([len(g) for g in grasps])]).astype(np.int32)
    inner = _fixed(np.concatenate(grasps) if grasps else np.zeros((0, dims), np.int8), dims, pa.int8())
    cols = [
        pa.array([r["scene"] for r in records], pa.int64()),
        pa.array([r["object_seed"] for r in records], pa.int64()),
        pa.array([r["object_name"] for r in records], pa.string()),
        pa.array([r["reset_seed"] for r in records], pa.uint64()),
        _fixed(depth, n_px, pa.float32()),
        _fixed(bbox, 6, pa.float32()),
        pa.array([r["n_attempts"] for r in records], pa.int32()),
        pa.array([r["n_simulated"] for r in records], pa.int32()),
        pa.array([r["n_success"] for r in records], pa.int32()),
        pa.ListArray.from_arrays(pa.array(offsets), inner),
    ]
    return pa.Table.from_arrays(cols, schema=schema)


def build_attempts_table(batches: list[dict], dims: int, hand_shape: tuple[int, int]) -> pa.Table:
    """Table of per-scene attempt batches (dicts of arrays, see :func:`attempts_schema`).

    Each batch holds ``scene``, ``object_seed`` (scalars) and ``grasp`` (n, dims), ``rejection``,
    ``success``, ``lift`` (n,) and ``hand_depth`` (n_simulated, h, w) for the non-rejected rows in order,
    and optionally ``source`` (n,) (0 where absent).
    """
    schema = attempts_schema(dims, hand_shape)
    n_px = int(np.prod(hand_shape))
    cols: dict[str, list] = {k: [] for k in ("scene", "object_seed", "attempt", "grasp", "rejection", "success", "lift",
                                             "hand", "source")}
    for b in batches:
        n = len(b["rejection"])
        live = b["rejection"] == 0
        hand = np.zeros((n, n_px), np.float32)
        hand[live] = b["hand_depth"].reshape(-1, n_px)
        cols["scene"].append(np.full(n, b["scene"], np.int64))
        cols["object_seed"].append(np.full(n, b["object_seed"], np.int64))
        cols["attempt"].append(np.arange(n, dtype=np.int32))
        cols["grasp"].append(b["grasp"].astype(np.int8).reshape(n, dims))
        cols["rejection"].append(b["rejection"].astype(np.int8))
        cols["success"].append(b["success"].astype(bool))
        cols["lift"].append(b["lift"].astype(np.float32))
        cols["hand"].append(hand)
        cols["source"].append(np.asarray(b.get("source", np.zeros(n)), np.int8).reshape(n))
    cat = {k: (np.concatenate(v) if v else None) for k, v in cols.items()}
    if cat["scene"] is None:
        return schema.empty_table()
    arrays = [
        pa.array(cat["scene"], pa.int64()),
        pa.array(cat["object_seed"], pa.int64()),
        pa.array(cat["attempt"], pa.int32()),
        _fixed(cat["grasp"], dims, pa.int8()),
        pa.array(cat["rejection"], pa.int8()),
        pa.array(cat["success"], pa.bool_()),
        pa.array(cat["lift"], pa.float32()),
        _fixed(cat["hand"], n_px, pa.float32(), mask=cat["rejection"] != 0),
        pa.array(cat["source"], pa.int8()),
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def fixed_to_numpy(column: pa.ChunkedArray | pa.Array, shape: tuple[int, ...], dtype) -> np.ndarray:
    """NumPy array (n, *shape) of a fixed-size-list column without nulls."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    n = len(column)
    if n == 0:
        return np.zeros((0, *shape), dtype)
    values = column.flatten().to_numpy(zero_copy_only=False)
    return values.astype(dtype, copy=False).reshape(n, *shape)
