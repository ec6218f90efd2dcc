"""Primitive banks from meshes made of convex pieces, mixed with the synthetic bank."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from grasp_envs.cli import main as cli_main
from grasp_envs.objects import PrimitiveBank, default_bank, generate_random_object
from grasp_envs.objects.bank_builder import convex_components_bank, with_default


def _pieces(path, *meshes):
    trimesh.util.concatenate(list(meshes)).export(path)
    return path


def test_each_component_is_one_part(tmp_path):
    a = trimesh.creation.box((0.02, 0.03, 0.04))
    b = trimesh.creation.icosphere(radius=0.02)
    b.apply_translation([0.01, 0, 0])  # overlapping, but its own component
    report = convex_components_bank([_pieces(tmp_path / "two.obj", a, b)], progress=False)
    assert len(report.bank) == 2 and not report.failed
    extents = sorted(np.ptp(report.bank.part(i), axis=0).max() for i in range(2))
    assert extents == pytest.approx([1.0, 1.0])  # normalised like every bank part


def test_non_convex_component_is_reported_not_hulled(tmp_path):
    ring = trimesh.creation.annulus(r_min=0.01, r_max=0.03, height=0.01)
    box = trimesh.creation.box((0.02, 0.02, 0.02))
    ok = _pieces(tmp_path / "ok.obj", box)
    bad = _pieces(tmp_path / "ring.obj", ring)
    report = convex_components_bank([ok, bad], progress=False)
    assert len(report.bank) == 1
    assert len(report.failed) == 1 and "not closed convex pieces" in report.failed[0][1]


def test_with_default_mixes_and_objects_build(tmp_path):
    box = trimesh.creation.box((0.02, 0.03, 0.05))
    bank = convex_components_bank([_pieces(tmp_path / "b.obj", box)], progress=False).bank
    mixed = with_default(bank)
    assert len(mixed) == 1 + len(default_bank())
    assert mixed.kinds[0] == f"{tmp_path.name}/b" and all(k.startswith("default/") for k in mixed.kinds[1:])
    path = tmp_path / "mixed.npz"
    mixed.save(path)
    again = PrimitiveBank.load(path)
    assert again.digest == mixed.digest
    obj = generate_random_object(5, again)
    assert obj.mass > 0 and len(obj.parts) >= 1


def test_cli_builds_a_mixed_bank(tmp_path, capsys):
    mesh_dir = tmp_path / "meshes" / "001"
    mesh_dir.mkdir(parents=True)
    _pieces(mesh_dir / "001.obj", trimesh.creation.box((0.02, 0.03, 0.05)),
            trimesh.creation.cylinder(radius=0.01, height=0.05))
    out = tmp_path / "bank.npz"
    assert cli_main(["primitives", "build", str(tmp_path / "meshes"), "--convex-components", "--with-default",
                     "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert len(PrimitiveBank.load(out)) == 2 + len(default_bank())
