"""GraspMeshesEnv: an environment over your own meshes (a folder, files, trimesh.Trimesh objects)."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from gymnasium.utils.env_checker import check_env

from grasp_envs.envs.object_sets import GraspMeshesEnv
from grasp_envs.objects import InvalidMeshError
from grasp_envs.objects.mesh_import import DecompositionConfig

pytest.importorskip("coacd", reason="CoACD is not installed: pip install -e '.[objects]'")

TINY = DecompositionConfig.tiny().to_dict()


def primitives() -> list[trimesh.Trimesh]:
    box = trimesh.creation.box((0.04, 0.06, 0.08))
    box.metadata["name"] = "box"
    can = trimesh.creation.cylinder(0.03, 0.1, sections=24)
    can.metadata["name"] = "can"
    return [box, can]


def test_trimesh_list_env_is_check_env_clean_seeded_and_cached(tmp_path):
    env = GraspMeshesEnv(meshes=primitives(), root=str(tmp_path), decomposition=TINY, mass={"box": 0.2})
    assert env.object_ids == ("box", "can") and env.split == "all"  # every mesh given, whatever its split
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=3, options={"object_seed": 0})
    assert info["object_name"] == "meshes/box" and env.object.mass == pytest.approx(0.2)
    env.reset(seed=3, options={"object_seed": 1})
    assert env.object.mass == pytest.approx(600.0 * np.pi * 0.03 ** 2 * 0.1, rel=0.05)  # the default density
    # Seeded: a second env replays the same scenes; its decompositions come from the cache.
    twin = GraspMeshesEnv(meshes=primitives(), root=str(tmp_path), decomposition=TINY, mass={"box": 0.2})
    for seed in (0, 1):
        a, ia = env.reset(seed=seed)
        b, ib = twin.reset(seed=seed)
        assert ia["object_name"] == ib["object_name"] and np.array_equal(a["depth"], b["depth"])
        act = env.action_space.sample()
        ra = env.step(act)
        rb = twin.step(act)
        assert ra[1] == rb[1] and np.array_equal(ra[0]["depth"], rb[0]["depth"])
    assert len(list(tmp_path.glob("cache/decompositions/*/*.npz"))) == 2


def test_registered_ids(tmp_path):
    import gymnasium as gym

    import grasp_envs  # noqa: F401

    for dims in (4, 6):
        env = gym.make(f"grasp_envs/GraspMeshes{dims}D-v1", meshes=primitives()[:1], root=str(tmp_path),
                       decomposition=TINY)
        obs, info = env.reset(seed=0)
        assert info["object_name"] == "meshes/box" and env.action_space.shape == (dims,)
        assert env.unwrapped.physics.version == 1
        env.close()


def test_folder_of_meshes_and_split(shared_data, tmp_path):
    folder = tmp_path / "my_objects"
    (folder / "fruit").mkdir(parents=True)
    (folder / "fruit" / "apple.obj").write_bytes((shared_data / "ycb" / "013_apple" / "visual.obj").read_bytes())
    primitives()[0].export(folder / "box.stl")
    env = GraspMeshesEnv(meshes=str(folder), root=str(tmp_path / "root"), decomposition=TINY)
    assert env.object_ids == ("box", "fruit/apple")
    _, info = env.reset(seed=0, options={"object_seed": 1})
    assert info["object_name"] == "meshes/fruit/apple"
    # split= keeps the ids of that split (by id hash: "box" is test, "fruit/apple" train).
    for split, ids in (("train", ("fruit/apple",)), ("test", ("box",))):
        assert GraspMeshesEnv(meshes=str(folder), root=str(tmp_path / "root"), decomposition=TINY,
                              split=split).object_ids == ids


def test_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no mesh files under .*empty"):
        GraspMeshesEnv(meshes=str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="GraspMeshes needs meshes="):
        GraspMeshesEnv()
    bad = tmp_path / "broken.obj"
    bad.write_text("v 0 0 0\nv 1 0 x\n")
    with pytest.raises(InvalidMeshError, match="broken.obj:2: malformed vertex line"):
        GraspMeshesEnv(meshes=[bad])
    mm = trimesh.creation.box((40.0, 60.0, 80.0))  # millimetres
    with pytest.raises(InvalidMeshError, match=r"is 80 m across at scale=1; .*pass scale=0.001 from millimetres"):
        GraspMeshesEnv(meshes=[mm])
    env = GraspMeshesEnv(meshes={"box_mm": mm}, scale=0.001, root=str(tmp_path), decomposition=TINY)
    env.reset(seed=0)
    assert np.ptp(np.concatenate(env.object.parts), axis=0).max() == pytest.approx(0.08, abs=2e-3)
    with pytest.raises(TypeError, match="expected a mesh file path or a trimesh.Trimesh, got int"):
        GraspMeshesEnv(meshes=[3])
    with pytest.raises(ValueError, match="mass names unknown meshes \\['cup'\\]"):
        GraspMeshesEnv(meshes=primitives(), mass={"cup": 0.1})
    with pytest.raises(ValueError, match="two meshes are named 'box'"):
        GraspMeshesEnv(meshes=primitives()[:1] * 2)
