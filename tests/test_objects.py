import json

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.spatial import ConvexHull

from grasp_envs.objects import (
    GraspObject,
    InvalidMeshError,
    PrimitiveBank,
    RandomObjectConfig,
    build_default_bank,
    default_bank,
    generate_random_object,
)
from grasp_envs.objects.sizes import YCB_SIZES


def hulls_intersect(a: np.ndarray, b: np.ndarray) -> bool:
    """Feasibility LP: is there a point inside both convex hulls?"""
    eq = np.concatenate([ConvexHull(a).equations, ConvexHull(b).equations])
    res = linprog(np.zeros(3), A_ub=eq[:, :3], b_ub=-eq[:, 3] + 1e-9, bounds=[(None, None)] * 3)
    return res.status == 0


def connected(parts: list[np.ndarray]) -> bool:
    n = len(parts)
    seen, stack = {0}, [0]
    while stack:
        i = stack.pop()
        for j in range(n):
            if j not in seen and hulls_intersect(parts[i], parts[j]):
                seen.add(j)
                stack.append(j)
    return len(seen) == n


@pytest.mark.parametrize("seed", range(0, 40, 3))
def test_random_objects_are_valid(seed):
    cfg = RandomObjectConfig()
    obj = generate_random_object(seed)
    assert cfg.min_parts <= len(obj.parts) <= cfg.max_parts
    for part, vol in zip(obj.parts, obj.part_volumes):
        hull = ConvexHull(part)
        assert len(hull.vertices) == len(part)  # every stored vertex is on the hull: convex part
        assert vol > 0
    assert connected(list(obj.parts))
    ext = obj.extent
    assert 0.005 < ext.min() and ext.max() < 0.6
    assert obj.mass > 0 and np.isfinite(obj.mass)


def test_same_seed_same_object_bit_for_bit():
    a, b = generate_random_object(123), generate_random_object(123)
    assert len(a.parts) == len(b.parts)
    for p, q in zip(a.parts, b.parts):
        assert p.tobytes() == q.tobytes()
    assert a.mass == b.mass
    c = generate_random_object(124)
    assert any(len(p) != len(q) or p.tobytes() != q.tobytes() for p, q in zip(a.parts, c.parts)) or len(a.parts) != len(c.parts)


def test_size_distribution_follows_ycb():
    objs = [generate_random_object(s) for s in range(60)]
    ext = np.sort(np.array([o.extent for o in objs]), axis=1)
    ycb = np.array([r[1:4] for r in YCB_SIZES])
    # The matched statistic (largest extent) has a median within 20% of YCB's (the AABB of the
    # principal axes approximates the OBB).
    assert abs(np.median(ext[:, 2]) / np.median(ycb[:, 2]) - 1) < 0.2


def test_embedded_bank_matches_its_builder():
    # The builder's bytes differ in the last bit between CPUs and NumPy/SciPy builds (BLAS kernels,
    # vectorised transcendentals), so the rebuilt bank is compared geometrically: same parts, same
    # kinds, every vertex within 1e-9 of the shipped part's (parts are normalised to extent 1).
    bank = default_bank()
    assert len(bank) == 2000
    rebuilt = build_default_bank(n=len(bank))
    assert bank.max_vertex_distance(rebuilt) < 1e-9
    assert {"hull", "box", "cylinder", "frustum", "superquadric", "capsule", "wedge"} == set(bank.kinds)


def test_bank_geometric_comparison_sees_real_differences():
    bank = default_bank()
    assert bank.max_vertex_distance(bank) == 0.0
    v = np.array(bank.vertices)
    v[bank.offsets[7] + 2] += 1e-6  # one vertex of one part moved by a micro-unit
    moved = PrimitiveBank(v, np.array(bank.offsets), bank.kinds)
    assert 0.9e-6 < bank.max_vertex_distance(moved) < 2e-6
    dropped = PrimitiveBank.from_parts([bank.part(i) for i in range(len(bank)) if i != 3],
                                       [k for i, k in enumerate(bank.kinds) if i != 3])
    with pytest.raises(ValueError, match="differ in size"):
        bank.max_vertex_distance(dropped)
    relabelled = PrimitiveBank(np.array(bank.vertices), np.array(bank.offsets), ("box",) * len(bank))
    with pytest.raises(ValueError, match="differ at part"):
        bank.max_vertex_distance(relabelled)


def test_bank_roundtrip_and_corrupt_file(tmp_path):
    cube = np.array([[x, y, z] for x in (0, 1) for y in (0, 2) for z in (0, 3)], float)
    bank = PrimitiveBank.from_parts([cube, cube * 2], ["box", "box"], name="t")
    p = tmp_path / "bank.npz"
    bank.save(p)
    assert PrimitiveBank.load(p).digest == bank.digest
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InvalidMeshError, match="unreadable or corrupt"):
        PrimitiveBank.load(tmp_path / "bad.npz")


def test_ycb_size_table_matches_metadata(shared_data):
    index = json.loads((shared_data / "index.json").read_text())["ycb"]
    table = {r[0]: r[1:4] for r in YCB_SIZES}
    assert len(table) == len(index)
    for row in index:
        assert np.allclose(table[row["id"]], row["obb_extent_sorted_m"], atol=1e-5)


CUBE = np.array([[x, y, z] for x in (-0.02, 0.02) for y in (-0.02, 0.02) for z in (-0.02, 0.02)])


@pytest.mark.parametrize(
    "parts, message",
    [
        ((), "no convex parts"),
        ((np.zeros((3, 3)),), "at least 4 vertices"),
        ((np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0.0]]) * 0.05,), "degenerate"),
        ((CUBE * 100,), "enormous"),
        ((CUBE * 0.05,), "tiny"),
        ((np.full((8, 3), np.nan),), "NaN"),
    ],
)
def test_bad_meshes_raise_clear_errors(parts, message):
    with pytest.raises(InvalidMeshError, match=message):
        GraspObject("bad", parts, mass=0.1)


def test_bad_config_raises():
    with pytest.raises(ValueError, match="min_parts"):
        RandomObjectConfig(min_parts=0)
    with pytest.raises(ValueError, match="size_match"):
        RandomObjectConfig(size_match="median")


def test_unit_hints_name_the_plausible_units():
    with pytest.raises(InvalidMeshError, match=r"8 m across.*millimetres, centimetres or inches\? .*scale=0\.001 from millimetres"):
        GraspObject("mm", (CUBE * 200,), mass=0.1)  # 8 m: 8 mm, 8 cm or 20 cm in the other units
    with pytest.raises(InvalidMeshError, match=r"tiny; scale it to metres: objects must be 5 mm to 1 m across"):
        GraspObject("small", (CUBE * 0.05,), mass=0.1)


def _box_mesh(size: float):
    import trimesh

    box = trimesh.creation.box((size, size, size))
    return np.asarray(box.vertices), np.asarray(box.faces)


def test_submillimetre_mesh_is_refused_before_decomposition(monkeypatch):
    import sys

    from grasp_envs.objects.mesh_import import decompose

    monkeypatch.setitem(sys.modules, "coacd", None)  # refused without running (or even importing) CoACD
    v, f = _box_mesh(0.0008)
    with pytest.raises(InvalidMeshError, match=r"0\.0008 units across, too small .* convert the file to metres.*"
                                               r"multiply by 1000 if it is in kilometres"):
        decompose(v, f, name="grain")


def test_mesh_with_holes_warns(shared_data):
    import warnings

    pytest.importorskip("coacd")
    from grasp_envs.objects.mesh_import import DecompositionConfig, MeshWarning, boundary_edges, decompose, load_mesh

    v, f = _box_mesh(0.05)
    with pytest.warns(MeshWarning, match=r"open box: mesh is not watertight \(3 edges belong to one triangle only\)"):
        decompose(v, f[:-1], DecompositionConfig.tiny(), name="open box")
    with warnings.catch_warnings():
        warnings.simplefilter("error", MeshWarning)
        decompose(v, f, DecompositionConfig.tiny(), name="closed box")
    # Texture seams split the vertices of the dev meshes without opening them: no false alarm.
    assert boundary_edges(*load_mesh(shared_data / "ycb" / "013_apple" / "visual.obj")) == 0
