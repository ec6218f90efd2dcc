"""Checks on real hardware; skipped by default (run with `pytest -m hardware`).

* D435: plugged in (USB 3).  * Fetch: ``GRASP_ENVS_FETCH_HOST`` (and optionally
``GRASP_ENVS_FETCH_PORT``) names the robot's rosbridge; ``GRASP_ENVS_CALIBRATION`` the calibration
file.  The robot test runs in dry-run mode: it plans, it does not move.
"""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.hardware


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"set {name} to run this hardware test")
    return value


def test_d435_streams_filtered_depth():
    rs = pytest.importorskip("pyrealsense2", exc_type=ImportError)
    from real.camera import RealSenseCamera, RealSenseConfig

    if len(rs.context().query_devices()) == 0:
        pytest.skip("no RealSense camera connected")
    cam = RealSenseCamera(RealSenseConfig())
    try:
        frame = cam.capture()
        assert frame.depth.shape == (480, 848)
        assert np.mean(frame.depth > 0) > 0.5
        assert 300 < frame.intrinsics.fx < 500
    finally:
        cam.close()


def test_fetch_dry_run_episode():
    pytest.importorskip("roslibpy")
    import gymnasium as gym

    import grasp_envs  # noqa: F401
    from agents import CentroidAgent

    host = _env("GRASP_ENVS_FETCH_HOST")
    calibration = _env("GRASP_ENVS_CALIBRATION")
    port = int(os.environ.get("GRASP_ENVS_FETCH_PORT", "9090"))
    env = gym.make("grasp_envs/RealFetchGrasp4D-v0", calibration=calibration,
                   robot={"host": host, "port": port, "dry_run": True})
    try:
        obs, info = env.reset(seed=0)
        assert env.observation_space.contains(obs)
        _, _, terminated, _, info = env.step(CentroidAgent(env, seed=0).act(obs))
        assert terminated and info["outcome"] in ("dry_run", "rejected")
    finally:
        env.close()
