import numpy as np
import pytest

from grasp_envs.grid import GraspGrid
from grasp_envs.objects import GraspObject, generate_random_object
from grasp_envs.objects.procedural import random_rotation
from grasp_envs.sim import GraspSimulator, Rejection, SimConfig, SimulationError
from grasp_envs.sim import gripper as G


def box(name, half, mass=0.2):
    hx, hy, hz = half
    v = np.array([[x, y, z] for x in (-hx, hx) for y in (-hy, hy) for z in (-hz, hz)], float)
    return GraspObject(name, (v,), mass)


GRID = GraspGrid(4)


def centred(sim, z_bin=12, yaw_bin=0):
    return GRID.decode([[10, 10, z_bin, yaw_bin]], sim.object_bounds)


def test_small_cube_is_lifted_by_a_centred_grasp():
    sim = GraspSimulator(box("cube4", (0.02, 0.02, 0.02)))
    out = sim.attempt(centred(sim))
    assert out.rejection[0] == Rejection.NONE
    assert out.success[0]
    assert out.lift[0] > 0.28


def test_big_cube_cannot_be_grasped():
    sim = GraspSimulator(box("cube20", (0.1, 0.1, 0.1)))
    for yaw in (0, 5, 10):
        out = sim.attempt(centred(sim, yaw_bin=yaw))
        assert not out.success[0]
        assert out.rejection[0] == Rejection.PENETRATES_OBJECT


def test_rejection_reasons():
    sim = GraspSimulator(box("cube4", (0.02, 0.02, 0.02)))
    b = sim.object_bounds
    # Fingertips 15 mm below the TCP: a grasp at the box bottom puts them into the table.
    low = GRID.decode([[10, 10, 0, 0]], b)
    assert sim.reject(low)[0] == Rejection.PENETRATES_TABLE
    # The palm sits 45 mm above the TCP: a TCP 10 mm above the cube's centre is fine, but with
    # the jaws rotated so a finger lands on the cube it penetrates.
    from grasp_envs.grid import GraspPoses

    R = np.eye(3)[None]
    on_top = GraspPoses(np.array([[0.0 + G.finger_x(G.MAX_OPENING) - 0.01, 0.0, 0.05]]) + [b[:, 0].mean(), b[:, 1].mean(), 0], R)
    assert sim.reject(on_top)[0] == Rejection.PENETRATES_OBJECT
    # Far above the object the fingers close on air.
    air = GraspPoses(np.array([[b[:, 0].mean(), b[:, 1].mean(), 0.2]]), R)
    assert sim.reject(air)[0] == Rejection.CLOSES_ON_AIR
    # Beside the object, level with it: air too.
    beside = GraspPoses(np.array([[b[:, 0].mean(), b[1, 1] + 0.05, 0.03]]), R)
    assert sim.reject(beside)[0] == Rejection.CLOSES_ON_AIR
    # Rejected grasps never reach physics: attempt() reports zero lift.
    out = sim.attempt(air)
    assert not out.success[0] and out.lift[0] == 0.0


def test_many_grasps_reuse_one_model_and_match_single_runs():
    obj = generate_random_object(7)
    sim = GraspSimulator(obj, orientation=random_rotation(np.random.default_rng(7)))
    model_id = id(sim.model)
    bins = np.random.default_rng(0).integers(0, 20, size=(300, 4))
    poses = GRID.decode(bins, sim.object_bounds)
    batch = sim.attempt(poses)
    assert id(sim.model) == model_id
    live = np.flatnonzero(batch.rejection == 0)[:4]
    assert len(live) > 0
    for i in live:
        single = sim.attempt(poses[int(i)])
        assert single.success[0] == batch.success[i]
        assert single.lift[0] == pytest.approx(batch.lift[i], abs=1e-9)


def test_threads_do_not_change_outcomes():
    obj = generate_random_object(11)
    R = random_rotation(np.random.default_rng(11))
    a = GraspSimulator(obj, orientation=R, nthread=1)
    b = GraspSimulator(obj, orientation=R, nthread=2)
    assert np.array_equal(a.object_qpos, b.object_qpos)
    poses = GRID.decode(np.random.default_rng(1).integers(0, 20, size=(40, 4)), a.object_bounds)
    oa, ob = a.attempt(poses), b.attempt(poses)
    assert np.array_equal(oa.success, ob.success)
    assert np.array_equal(oa.lift, ob.lift)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_objects_settle_on_the_table(seed):
    obj = generate_random_object(seed)
    sim = GraspSimulator(obj, orientation=random_rotation(np.random.default_rng(seed)))
    assert sim.object_bounds[0, 2] > -0.003  # resting on, not in, the table
    assert sim.object_bounds[0, 2] < 0.01


def test_depth_sees_the_cube_at_the_right_height():
    from grasp_envs.camera import CameraModel, look_down_rotation

    sim = GraspSimulator(box("cube4", (0.02, 0.02, 0.02)))
    cam = CameraModel(32, 32, 25.0)
    centre = sim.object_bounds.mean(axis=0)
    depth = sim.render_depth(cam, np.array([centre[0], centre[1], 0.7]), look_down_rotation())
    assert depth.dtype == np.float32 and depth.shape == (32, 32)
    assert depth[16, 16] == pytest.approx(0.7 - sim.object_bounds[1, 2], abs=2e-3)
    assert depth[0, 0] == pytest.approx(0.7 / 1.0, rel=0.05)  # corner pixel sees the table
    hand = sim.hand_depth(centred(sim), CameraModel(16, 16, 60.0, far=1.0), standoff=0.1)
    # Camera at the palm's underside, backed off 10 cm: the cube top is below it.
    expected = (centred(sim).position[0, 2] + G.PALM_BOTTOM_Z + 0.1) - sim.object_bounds[1, 2]
    assert hand[0, 8, 8] == pytest.approx(expected, abs=3e-3)


def test_sim_config_validation():
    with pytest.raises(ValueError, match="timestep"):
        SimConfig(timestep=0.0)
    with pytest.raises(ValueError, match="success_height"):
        SimConfig(success_height=0.5)


def test_object_that_cannot_rest_raises():
    obj = generate_random_object(2)
    with pytest.raises(SimulationError, match="did not come to rest"):
        GraspSimulator(obj, SimConfig(settle_time=0.01), orientation=random_rotation(np.random.default_rng(2)))
