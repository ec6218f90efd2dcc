"""Mesh import (CoACD + cache), YCB/Scanned/ShapeNet environments, placement and bank building.

Real meshes come from ../shared/data (skipped with a reason when absent); CoACD runs with a tiny
budget here.  Processing the whole YCB set at full budget is ``benchmarks/object_sets.py``.
"""

from __future__ import annotations

import glob
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import grasp_envs  # noqa: F401
from grasp_envs.envs.object_sets import find_shapenet_models
from grasp_envs.objects import InvalidMeshError, PrimitiveBank, generate_random_object
from grasp_envs.objects.bank_builder import build_bank, find_meshes
from grasp_envs.objects.datasets import get_dataset, load_index, split_of
from grasp_envs.objects.download import download_dataset
from grasp_envs.objects.mesh_import import (
    DecompositionConfig,
    cache_key,
    decompose_file,
    geometry_sha256,
    read_obj,
    reduce_hull,
)
from grasp_envs.objects.procedural import union_volume

pytest.importorskip("coacd", reason="CoACD is not installed: pip install -e '.[objects]'")

TINY = DecompositionConfig.tiny()
#: A quick, varied subset of the dev YCB objects (box, fruit, tool, multi-part, flat, thin).
QUICK_YCB = ["003_cracker_box", "013_apple", "038_padlock", "052_extra_large_clamp", "029_plate", "040_large_marker"]


# ------------------------------------------------------------------------------ mesh import

def test_read_obj_and_geometry_checksum_ignore_cosmetics(tmp_path):
    a = tmp_path / "a.obj"
    a.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n")
    b = tmp_path / "b.obj"
    b.write_text("# comment\nmtllib x.mtl\nv 0.0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nvn 0 0 1\nvt 0 0\n"
                 "f 1/1/1 2/1/1 3/1/1\nf 1//1 2//1 4//1\nf 1 3 4\nf -3 -2 -1\n")
    v, f = read_obj(b)
    assert v.shape == (4, 3) and f.shape == (4, 3)
    assert geometry_sha256(a) == geometry_sha256(b)
    c = tmp_path / "c.obj"
    c.write_text(a.read_text().replace("v 0 0 1", "v 0 0 1.001"))
    assert geometry_sha256(c) != geometry_sha256(a)


def test_bad_meshes_have_clear_errors(tmp_path):
    empty = tmp_path / "empty.obj"
    empty.write_text("# nothing\n")
    with pytest.raises(InvalidMeshError, match="empty.obj: mesh has no vertices"):
        read_obj(empty)
    bad = tmp_path / "bad.obj"
    bad.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n")
    with pytest.raises(InvalidMeshError, match="face indices out of range"):
        read_obj(bad)
    (tmp_path / "x.xyz").write_text("1 2 3\n")
    with pytest.raises(InvalidMeshError, match="unsupported mesh format '.xyz'"):
        decompose_file(tmp_path / "x.xyz", tmp_path)
    with pytest.raises(ValueError, match="threshold must lie in"):
        DecompositionConfig(threshold=0)


def test_reduce_hull_keeps_extremes():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(5000, 3))
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    r = reduce_hull(pts, 64)
    assert len(r) == 64 and np.all(np.isin(r, pts))
    assert np.ptp(r, axis=0).min() > 1.8  # still spans the unit sphere


def test_decomposition_is_cached_by_content_and_config(shared_data, tmp_path):
    mesh = shared_data / "ycb" / "003_cracker_box" / "visual.obj"
    d1 = decompose_file(mesh, tmp_path, TINY)
    d2 = decompose_file(mesh, tmp_path, TINY)
    assert not d1.cached and d2.cached and d1.key == d2.key
    assert all(np.array_equal(a, b) for a, b in zip(d1.parts, d2.parts))
    assert cache_key(d1.mesh_sha256, TINY) != cache_key(d1.mesh_sha256, DecompositionConfig(threshold=0.31, max_convex_hull=3))
    # Same bytes elsewhere hit the same entry; changed bytes miss it.
    copy = tmp_path / "copy.obj"
    copy.write_bytes(mesh.read_bytes())
    assert decompose_file(copy, tmp_path, TINY).cached
    copy.write_bytes(mesh.read_bytes() + b"\n# edited\n")
    assert not decompose_file(copy, tmp_path, TINY).cached
    entry = next(tmp_path.glob("*/*.npz"))
    entry.write_bytes(b"not a zip")
    with pytest.raises(InvalidMeshError, match="is corrupt .* delete it and rerun"):
        from grasp_envs.objects.mesh_import import load_cached

        load_cached(entry)


@pytest.mark.parametrize("oid", ["003_cracker_box", "013_apple", "038_padlock"])
def test_decomposition_agrees_with_shipped_hulls(shared_data, tmp_path, oid):
    import trimesh

    folder = shared_data / "ycb" / oid
    dec = decompose_file(folder / "visual.obj", tmp_path, TINY)
    hulls = [np.asarray(trimesh.load(h).vertices) for h in sorted(glob.glob(str(folder / "collision" / "hull_*.stl")))]
    ours, ref = np.concatenate(dec.parts), np.concatenate(hulls)
    assert np.abs(ours.min(0) - ref.min(0)).max() < 0.003 and np.abs(ours.max(0) - ref.max(0)).max() < 0.003
    ratio = union_volume(list(dec.parts)) / union_volume(hulls)
    assert 0.85 < ratio < 1.25, ratio


# --------------------------------------------------------------------------- placement (YCB)

def _process_ycb(shared: Path, root: Path, ids: list[str]) -> None:
    """Run the real downloader on a folder mirror in the upstream archive layout."""
    from tests.test_download import build_ycb_mirror

    mirror = build_ycb_mirror(shared, root.parent / "mirror", ids)
    download_dataset("ycb", root=root, mirror=mirror, objects=ids, config=TINY, progress=False)


def _penetration(sim) -> float:
    """Deepest object-table contact penetration (m, >= 0) in the settled state."""
    m, d = sim.model, sim.data
    table = m.geom("table").id
    worst = 0.0
    for c in d.contact[: d.ncon]:
        if table in (c.geom1, c.geom2):
            worst = max(worst, -float(c.dist))
    return worst


def _check_loads_and_settles(root: Path, ids: list[str], seeds: int) -> None:
    for split in ("train", "test"):
        chosen = [o for o in ids if split_of(o) == split]
        if not chosen:
            continue
        env = gym.make("grasp_envs/GraspYCB4D-v0", root=str(root), object_ids=chosen, split=split).unwrapped
        assert env.object_ids == tuple(sorted(chosen))
        for k in range(len(chosen)):
            quats = []
            for s in range(seeds):
                obs, info = env.reset(seed=s, options={"object_seed": k})
                sim = env.simulator
                assert info["object_name"] == f"ycb/{env.object_ids[k]}"
                assert sim.object_bounds[0, 2] > -0.002, (info["object_name"], sim.object_bounds)
                assert _penetration(sim) < 0.003, (info["object_name"], _penetration(sim))
                assert obs["depth"].min() < env.obs_config.camera_height  # the object is in view
                quats.append(sim.object_qpos[3:].copy())
            if seeds > 1:  # randomised orientation: rest poses differ between seeds
                assert max(min(np.abs(q @ quats[0]), 1.0) for q in quats[1:]) < 0.9999, info["object_name"]
        env.close()


def test_quick_ycb_objects_load_and_settle_without_penetration(shared_data, tmp_path, capsys):
    _process_ycb(shared_data, tmp_path / "root", QUICK_YCB)
    _check_loads_and_settles(tmp_path / "root", QUICK_YCB, seeds=2)
    # The YCB benchmark runs the shipped learned agents beside the baselines, one row each.
    from benchmarks import object_sets

    assert object_sets.main(["baselines", "--root", str(tmp_path / "root"), "--dims", "4", "6",
                             "--scenes-per-object", "1", "--agents", "centroid", "full"]) == 0
    out = capsys.readouterr().out
    n = sum(e["graspable"] for e in load_index("ycb", tmp_path / "root")["objects"].values())
    rows = [line for line in out.splitlines() if line.startswith("| GraspYCB")]
    assert [r.split(" | ")[1] for r in rows] == ["centroid", "full", "centroid", "full"]
    assert "| 0.92 |" in rows[1] and "n/a (4-D only)" in rows[3]
    assert all(f"/{n})" in r for r in rows)  # every graspable object once
    assert object_sets.main(["graspable", "--root", str(tmp_path / "root"), "--scenes-per-object", "1",
                             "--budget", "200"]) == 0
    out = capsys.readouterr().out
    assert f"YCB4D, {n} graspable objects x 1 scenes, up to 200 uniform grasps each" in out
    assert "objects with no success in any scene" in out
    assert f"  box rule says graspable ({n} objects): " in out and "  resting-pose rule says graspable (" in out


@pytest.mark.slow
def test_every_dev_ycb_object_loads_and_settles(shared_data, tmp_path):
    ids = sorted(p.name for p in (shared_data / "ycb").iterdir() if p.is_dir())
    assert len(ids) == 52
    _process_ycb(shared_data, tmp_path / "root", ids)
    _check_loads_and_settles(tmp_path / "root", ids, seeds=2)


def test_ycb_env_steps_and_is_deterministic(shared_data, tmp_path):
    ids = ["003_cracker_box", "013_apple", "038_padlock", "040_large_marker"]
    _process_ycb(shared_data, tmp_path / "root", ids)
    split = split_of(ids[0])
    a = gym.make("grasp_envs/GraspYCB6D-v0", root=str(tmp_path / "root"), object_ids=ids, split=split)
    b = gym.make("grasp_envs/GraspYCB6D-v0", root=str(tmp_path / "root"), object_ids=ids, split=split)
    oa, ia = a.reset(seed=3)
    ob, ib = b.reset(seed=3)
    assert ia["object_name"] == ib["object_name"] and np.array_equal(oa["depth"], ob["depth"])
    act = a.action_space.sample()
    ra, rb = a.step(act), b.step(act)
    assert ra[1] == rb[1] and ra[4]["outcome"] == rb[4]["outcome"]
    assert a.observation_space.contains(ra[0])
    with pytest.raises(KeyError, match="ycb has no object 'nothing'"):
        gym.make("grasp_envs/GraspYCB4D-v0", root=str(tmp_path / "root"), object_ids=["nothing"])
    # An id of the upstream form is known (it downloads unpinned) but not downloaded here.
    with pytest.raises(FileNotFoundError, match=r"999_nothing; fetch them with `grasp-envs download ycb --root .* "
                                                r"--objects 999_nothing`"):
        gym.make("grasp_envs/GraspYCB4D-v0", root=str(tmp_path / "root"), object_ids=["999_nothing"])


# ------------------------------------------------------------------------------------ ShapeNet

def _shapenet_tree(root: Path) -> dict[str, str]:
    """A tiny ShapeNetCore tree: synset 02876657 in the v1 layout, 03797390 in the v2 layout."""
    import trimesh

    meshes = [
        trimesh.creation.box([2.0, 1.0, 0.5]),
        trimesh.creation.annulus(r_min=0.6, r_max=1.0, height=0.8),  # a mug-like ring, not convex
        trimesh.creation.cylinder(radius=0.3, height=2.0),
        trimesh.creation.capsule(height=1.0, radius=0.4),
    ]
    layout = {}
    for i in range(10):
        synset, rel = ("02876657", "model.obj") if i % 2 == 0 else ("03797390", "models/model_normalized.obj")
        mid = f"{i:02d}model{i * 7919 % 1000:03d}"
        path = root / synset / mid / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        meshes[i % len(meshes)].export(path)
        layout[f"{synset}/{mid}"] = rel
    return layout


def test_shapenet_layouts_split_and_rescale(tmp_path):
    layout = _shapenet_tree(tmp_path / "ShapeNetCore")
    found = find_shapenet_models(tmp_path / "ShapeNetCore")
    assert set(found) == set(layout)
    assert set(find_shapenet_models(tmp_path / "ShapeNetCore", ["03797390"])) == {k for k in layout if k.startswith("0379")}
    kw = dict(shapenet_root=str(tmp_path / "ShapeNetCore"), root=str(tmp_path / "data"), decomposition=TINY.to_dict())
    train = gym.make("grasp_envs/GraspShapeNet4D-v0", split="train", **kw).unwrapped
    test = gym.make("grasp_envs/GraspShapeNet4D-v0", split="test", **kw).unwrapped
    assert set(train.object_ids).isdisjoint(test.object_ids)
    assert set(train.object_ids) | set(test.object_ids) == set(layout)
    assert all(split_of(o) == "test" for o in test.object_ids)
    obs, info = train.reset(seed=0, options={"object_seed": 1})
    obj = train.object
    # Rescaled from unit-ish sizes to the YCB size range.
    assert 0.01 < obj.extent.max() < 0.5 and obj.mass > 0 and obj.source == "shapenet"
    again = gym.make("grasp_envs/GraspShapeNet6D-v0", split="train", **kw).unwrapped
    again.reset(seed=5, options={"object_seed": 1})
    assert np.allclose(again.object.extent, obj.extent) and again.object.mass == pytest.approx(obj.mass)
    assert train.simulator.object_bounds[0, 2] > -0.002


def test_shapenet_missing_root_explains(tmp_path):
    with pytest.raises(FileNotFoundError, match="cannot be redistributed: download it from https://shapenet.org"):
        gym.make("grasp_envs/GraspShapeNet4D-v0", shapenet_root=str(tmp_path / "nope"))
    (tmp_path / "empty" / "02876657").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"no ShapeNetCore models under .*model_normalized.obj \(v2\)"):
        gym.make("grasp_envs/GraspShapeNet4D-v0", shapenet_root=str(tmp_path / "empty"))


# ------------------------------------------------------------------------------- bank builder

def test_bank_from_real_meshes_is_resumable_and_usable(shared_data, tmp_path):
    meshes = [shared_data / "ycb" / o / "visual.obj" for o in ("003_cracker_box", "038_padlock", "052_extra_large_clamp")]
    bad = tmp_path / "broken.obj"
    bad.write_text("v 0 0 0\n")
    rep = build_bank(meshes + [bad], cache_dir=tmp_path / "cache", config=TINY, progress=False, name="dev")
    assert rep.decomposed == 3 and len(rep.failed) == 1 and "broken.obj" in rep.failed[0][0]
    bank = rep.bank
    assert len(bank) >= 3 and set(bank.kinds) <= {"003_cracker_box/visual", "038_padlock/visual", "052_extra_large_clamp/visual"}
    for j in range(len(bank)):
        p = bank.part(j)
        assert np.ptp(p, axis=0).max() == pytest.approx(1.0) and np.allclose(p.mean(axis=0), 0, atol=1e-9)
    again = build_bank(meshes, cache_dir=tmp_path / "cache", config=TINY, progress=False, name="dev")
    assert again.decomposed == 0 and again.bank.digest == bank.digest
    bank.save(tmp_path / "bank.npz")
    loaded = PrimitiveBank.load(tmp_path / "bank.npz")
    o1, o2 = generate_random_object(7, loaded), generate_random_object(7, loaded)
    assert np.array_equal(o1.vertices, o2.vertices)
    assert not np.array_equal(o1.vertices, generate_random_object(7).vertices)  # a different bank, a different object


def test_primitives_build_cli(shared_data, tmp_path, capsys):
    from grasp_envs.cli import main

    assert main(["primitives", "build", str(shared_data / "scanned"), "--glob", "Sony_Acid*/visual.obj",
                 "--out", str(tmp_path / "b.npz"), "--cache", str(tmp_path / "c"), "--tiny", "--workers", "1"]) == 0
    assert "primitives from 1 meshes" in capsys.readouterr().out
    assert len(PrimitiveBank.load(tmp_path / "b.npz")) >= 1
    with pytest.raises(FileNotFoundError, match="no mesh files"):
        find_meshes([tmp_path / "c"], "*.obj")


def test_object_set_ids_are_registered():
    for name in ("YCB", "ShapeNet", "Scanned"):
        for d in (4, 6):
            assert f"grasp_envs/Grasp{name}{d}D-v0" in gym.registry
    assert len(get_dataset("scanned").sources) == 21
