"""Property tests: the object pipeline and action decoding under hypothesis."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from grasp_envs.grid import ActionError, GraspGrid
from grasp_envs.objects import GraspObject, InvalidMeshError, RandomObjectConfig, generate_random_object


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**40), lo=st.integers(1, 15), extra=st.integers(0, 14))
def test_any_seed_and_part_count_gives_a_valid_object(seed, lo, extra):
    cfg = RandomObjectConfig(min_parts=lo, max_parts=min(15, lo + extra))
    obj = generate_random_object(seed, config=cfg)
    assert cfg.min_parts <= len(obj.parts) <= cfg.max_parts
    assert all(v > 0 for v in obj.part_volumes)
    assert obj.mass >= cfg.min_mass
    assert np.all(np.isfinite(obj.vertices))


@settings(max_examples=60, deadline=None)
@given(points=arrays(np.float64, st.tuples(st.integers(0, 12), st.just(3)),
                     elements=st.one_of(st.floats(-1.0, 1.0), st.just(np.nan), st.just(np.inf))))
def test_arbitrary_point_sets_are_accepted_or_rejected_clearly(points):
    try:
        obj = GraspObject("fuzz", (points * 0.1,), mass=0.1)
    except InvalidMeshError as exc:
        assert str(exc).startswith("fuzz")
    else:
        assert obj.part_volumes[0] > 0


@settings(max_examples=200, deadline=None)
@given(dims=st.sampled_from([4, 6]), data=st.data())
def test_decode_encode_roundtrip_positions(dims, data):
    grid = GraspGrid(dims)
    bins = data.draw(arrays(np.int64, (dims,), elements=st.integers(0, 19)))
    lo = data.draw(arrays(np.float64, (3,), elements=st.floats(-0.5, 0.5)))
    span = data.draw(arrays(np.float64, (3,), elements=st.floats(0.01, 0.4)))
    bounds = np.stack([lo, lo + span])
    poses = grid.decode(bins, bounds)
    assert np.all(poses.position >= bounds[0] - 1e-12) and np.all(poses.position <= bounds[1] + 1e-12)
    assert np.array_equal(grid.encode_position(poses.position, bounds)[0], bins[:3])
    R = poses.rotation[0]
    assert np.allclose(R @ R.T, np.eye(3), atol=1e-12) and np.isclose(np.linalg.det(R), 1.0)
    assert poses.approach[0, 2] <= 1e-12  # never approaches from below the horizon
    if dims == 4:
        assert int(grid.encode_yaw(np.arctan2(R[1, 0], R[0, 0]))) == bins[3]


@settings(max_examples=200, deadline=None)
@given(action=st.one_of(
    arrays(np.float64, st.integers(0, 8), elements=st.floats(allow_nan=True, allow_infinity=True)),
    arrays(np.int64, st.integers(0, 8), elements=st.integers(-100, 100)),
))
def test_any_action_decodes_or_raises_action_error(action):
    grid = GraspGrid(4)
    bounds = np.array([[0.0, 0.0, 0.0], [0.1, 0.1, 0.1]])
    try:
        poses = grid.decode(action, bounds)
    except ActionError:
        return
    assert action.shape == (4,)
    assert np.all(np.isfinite(poses.position))


def test_grid_rejects_bad_dims():
    with pytest.raises(ValueError, match="dims must be 4 or 6"):
        GraspGrid(5)
