"""Opt-in speed options of SimConfig (issue 13): part of the physics identity, off in v1."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from grasp_envs.envs.physics import PHYSICS_VERSIONS, identity_digest, physics_identity, version_digest
from grasp_envs.grid import GraspGrid
from grasp_envs.objects import generate_random_object
from grasp_envs.objects.procedural import random_rotation
from grasp_envs.sim import GraspSimulator, Rejection, SimConfig


@pytest.mark.parametrize("change", [{"early_stop": True}, {"adaptive_close": True}, {"cone": "pyramidal"},
                                    {"multiccd": False}])
def test_speed_options_enter_the_identity_only_when_on(change):
    base = PHYSICS_VERSIONS[1].sim
    assert not base.early_stop and not base.adaptive_close and base.cone == "elliptic" and base.multiccd
    assert "early_stop" not in base.to_dict()  # published digests stay as frozen
    on = dataclasses.replace(base, **change)
    assert identity_digest(physics_identity(on, version=1)) != version_digest(1)


def test_bad_cone_is_a_clear_error():
    with pytest.raises(ValueError, match="cone"):
        SimConfig(cone="round")


def _grasps(seed: int, n: int):
    obj = generate_random_object(seed)
    rng = np.random.default_rng(seed)
    ref = GraspSimulator(obj, orientation=random_rotation(rng))
    poses = GraspGrid(4).decode(rng.integers(0, 20, size=(400, 4)), ref.object_bounds)
    return obj, ref, poses[np.flatnonzero(ref.reject(poses) == Rejection.NONE)[:n]]


def test_early_stop_stops_failures_and_keeps_outcomes():
    agree = total = 0
    steps = full = 0
    for seed in (0, 1, 5):
        obj, ref, poses = _grasps(seed, 6)
        base = ref.simulate(poses)
        cfg = SimConfig(early_stop=True)
        sim = GraspSimulator(obj, cfg)
        sim.set_rest_pose(ref.object_qpos)
        out = sim.simulate(poses)
        # A grasp that is not stopped takes v1's steps bit for bit.
        kept = ~sim._stopped
        np.testing.assert_array_equal(out.lift[kept], base.lift[kept])
        np.testing.assert_array_equal(out.final_object_qpos[kept], base.final_object_qpos[kept])
        agree += int((out.success == base.success).sum())
        total += len(poses)
        steps += sim.steps_simulated
        full += len(poses) * (cfg.n_close + cfg.n_lift + cfg.n_hold)
        assert not np.any(out.success & sim._stopped)
    assert total >= 12
    assert agree >= 0.8 * total          # measured: all agree here
    assert steps < 0.9 * full            # failures stopped early


def test_agreement_benchmark_prints_each_option_with_its_speed(capsys):
    from benchmarks.timestep_agreement import candidates, main

    assert {"early stop", "adaptive close", "pyramidal cone", "multiccd off"} <= set(candidates())
    assert candidates()["early stop"].early_stop and not candidates()["dt 2 ms (default)"].early_stop
    assert main(["--objects", "2", "--grasps", "1", "--only", "dt 2 ms (default)", "early stop"]) == 0
    rows = {line.split("|")[1].strip(): line.split("|") for line in capsys.readouterr().out.splitlines()
            if line.startswith("| ") and "---" not in line}
    assert float(rows["dt 2 ms (default)"][8]) == 1.0          # x default of the default row
    assert float(rows["dt 2 ms (default)"][4]) == 1.0          # agreement with itself
    assert float(rows["early stop"][7]) > 0                     # attempts/s
    assert 0.0 <= float(rows["early stop"][2]) <= 1.0           # agreement with 1 ms


def test_a_pile_refuses_the_single_object_speed_options():
    from grasp_envs.sim.clutter import ClutterSimulator

    with pytest.raises(ValueError, match="single-object"):
        ClutterSimulator([generate_random_object(1)], SimConfig(early_stop=True))
