"""The resting-pose graspability rule (grasp_envs.objects.graspability) on primitives with known answers,
and the pinned verdicts against the development meshes (slow)."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from grasp_envs.objects.datasets import YCB_TOP_NOT_GRASPABLE, get_dataset, pinned_top_graspable
from grasp_envs.objects import graspability as G
from grasp_envs.objects.graspability import TopGraspConfig, pose_min_width, top_graspability

pytest.importorskip("networkx", reason="resting poses need networkx: pip install -e '.[objects]'")


def test_gripper_constants_are_the_simulators():
    from grasp_envs.sim import gripper

    assert (G.FETCH_OPENING, G.FETCH_FINGER_WIDTH, G.FETCH_FINGER_LENGTH) == (
        gripper.MAX_OPENING, gripper.FINGER_WIDTH, gripper.FINGER_LENGTH)


def test_flat_box_is_not_graspable_though_its_smallest_side_fits():
    # A cereal box: the box rule admits it (5.8 cm < 10 cm), but it lands on a large face
    # (quasi-static probability 0.78) where every width from above is 20.5 cm or more.
    box = trimesh.creation.box((0.058, 0.205, 0.284))
    g = top_graspability(box.vertices, box.faces)
    assert not g.graspable and g.graspable_probability < 0.5
    flat = g.poses[0]
    assert flat.height == pytest.approx(0.058, abs=1e-6) and flat.probability > 0.35 and not flat.graspable
    # Standing on its 5.8 x 20.5 cm end (as created, z up) it is graspable across its thickness.
    upright = G.surface_points(box.vertices, box.faces, 0.004)
    assert pose_min_width(upright) == pytest.approx(0.058, abs=3e-3)


def test_can_is_graspable_upright_and_on_its_side():
    can = trimesh.creation.cylinder(0.033, 0.12, sections=48)
    g = top_graspability(can.vertices, can.faces)
    assert g.graspable and g.graspable_probability >= 0.5
    assert all(p.graspable and p.min_width < 0.068 for p in g.poses)
    d = g.to_dict()
    assert d["graspable"] and d["poses"][0]["width"] < 0.068


def test_wide_objects_and_the_friction_cone():
    # A 12 cm cube: no width under the opening anywhere.
    cube = trimesh.creation.box((0.12, 0.12, 0.12))
    assert not top_graspability(cube.vertices, cube.faces).graspable
    # A 10.5 cm sphere: every width under 10 cm lies above the equator, where the surface slopes
    # away from the fingers; friction holds it there, a frictionless pinch squeezes it out.
    ball = trimesh.creation.icosphere(3, 0.0525)
    pts = G.surface_points(ball.vertices, ball.faces, 0.004)
    pts = pts - [0, 0, pts[:, 2].min()]
    assert np.isfinite(pose_min_width(pts, TopGraspConfig(friction=0.8)))
    assert not np.isfinite(pose_min_width(pts, TopGraspConfig(friction=0.05)))
    with pytest.raises(ValueError, match="TopGraspConfig.opening must be positive"):
        TopGraspConfig(opening=0)


def test_deterministic():
    box = trimesh.creation.box((0.03, 0.07, 0.2))
    a, b = (top_graspability(box.vertices, box.faces).to_dict() for _ in range(2))
    assert a == b


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["ycb", "scanned"])
def test_pinned_verdicts_match_the_development_meshes(shared_data, dataset):
    from grasp_envs.objects.mesh_import import load_mesh

    wrong = []
    for s in get_dataset(dataset).sources:
        g = top_graspability(*load_mesh(shared_data / dataset / s.object_id / "visual.obj"))
        if g.graspable != pinned_top_graspable(dataset, s.object_id):
            wrong.append((s.object_id, g.graspable, round(g.graspable_probability, 3)))
    assert not wrong


def test_pinned_table_is_consistent():
    ycb = get_dataset("ycb")
    assert YCB_TOP_NOT_GRASPABLE <= {s.object_id for s in ycb.sources}
    assert set(ycb.top_graspable_ids) == {s.object_id for s in ycb.sources} - YCB_TOP_NOT_GRASPABLE
    with pytest.raises(ValueError, match="011_banana is not pinned"):
        pinned_top_graspable("ycb", "011_banana")
