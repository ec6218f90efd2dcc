"""Observation presets beside depth: point cloud in the grid's frame, RGB-D, segmentation (sim and real)."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import grasp_envs  # noqa: F401
from grasp_envs.envs.observations import (MODE_KEYS, OBS_MODES, POINT_CLOUD_MARGIN, SEG_BACKGROUND, SEG_OBJECT,
                                          SEG_TABLE, ObservationConfig, grid_frame)
from grasp_envs.grid import GraspGrid

SENSOR_MODES = ("pointcloud", "rgbd", "segmentation", "all")
ENV = "grasp_envs/GraspRandom4D-v1"


def make(mode, **obs):
    return gym.make(ENV, observation={"mode": mode, **obs})


def test_presets_keep_depth_and_default_config_is_unchanged():
    assert set(SENSOR_MODES) <= set(OBS_MODES)
    for mode in OBS_MODES:
        cfg = ObservationConfig(mode=mode)
        assert cfg.keys[:2] == ("depth", "bbox") and set(cfg.space().spaces) == set(cfg.keys)
    # The default config's record (checkpoints, dataset manifests) has no new field ...
    assert "point_cloud_size" not in ObservationConfig().to_dict()
    assert ObservationConfig(**ObservationConfig().to_dict()) == ObservationConfig()
    # ... and a config that sets it records it.
    assert ObservationConfig(mode="pointcloud", point_cloud_size=256).to_dict()["point_cloud_size"] == 256
    with pytest.raises(ValueError, match="observation mode must be one of"):
        ObservationConfig(mode="pointclouds")
    with pytest.raises(ValueError, match="point_cloud_size"):
        ObservationConfig(mode="pointcloud", point_cloud_size=0)


@pytest.mark.parametrize("mode", SENSOR_MODES)
def test_check_env_and_spaces(mode):
    env = make(mode)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped, skip_render_check=True)
        assert not caught, [str(w.message) for w in caught]  # clean: not even a warning
        obs, _ = env.reset(seed=3)
        assert env.observation_space.contains(obs)
        assert set(obs) == {"depth", "bbox", *MODE_KEYS[mode]}
        for key, space in env.observation_space.spaces.items():
            assert obs[key].dtype == space.dtype and obs[key].shape == space.shape, key
    finally:
        env.close()


def test_sensor_modes_leave_depth_and_every_draw_unchanged():
    """Same scenes, same depth, same outcomes: the extra keys change nothing an agent on depth sees."""
    base, full = make("depth", bbox_noise=0.005), make("all", bbox_noise=0.005)
    try:
        for seed in (0, 1):
            a, _ = base.reset(seed=seed)
            b, _ = full.reset(seed=seed)
            np.testing.assert_array_equal(a["depth"], b["depth"])
            np.testing.assert_array_equal(a["bbox"], b["bbox"])
            act = np.array([10, 10, 8, 5])
            ra, rb = base.step(act), full.step(act)
            assert ra[1:4] == rb[1:4]
        # The seeded draws after the observation (the next scene) agree too.
        assert base.unwrapped.np_random.integers(1 << 30) == full.unwrapped.np_random.integers(1 << 30)
    finally:
        base.close()
        full.close()


def test_point_cloud_is_the_observed_surface_in_the_grid_frame():
    env = make("all", point_cloud_size=4096)
    try:
        obs, _ = env.reset(seed=5)
        cfg = env.unwrapped.obs_config
        bbox = obs["bbox"].reshape(2, 3).astype(np.float64)
        valid = obs["point_cloud_mask"] == 1
        assert 30 < valid.sum() < 4096  # all of them fit: no draw, zero padding after
        assert not obs["point_cloud"][~valid].any()
        g = obs["point_cloud"][valid].astype(np.float64)
        assert np.all(g >= -POINT_CLOUD_MARGIN - 1e-6) and np.all(g <= 1 + POINT_CLOUD_MARGIN + 1e-6)
        # Back in metres, every point projects onto its depth pixel at its depth: it is the observed surface.
        world = bbox[0] + g * (bbox[1] - bbox[0])
        pos, R = cfg.camera_poses(bbox)[0]
        q = (world - pos) @ R
        u, v = np.floor(cfg.camera.project(q)).astype(int).T
        np.testing.assert_allclose(q[:, 2], obs["depth"][0][v, u], atol=1e-4)
        # Points on the object (segmentation) lie inside the box; grid frame * (n_bins - 1) is the bin.
        on_object = obs["segmentation"][0][v, u] >= SEG_OBJECT
        assert on_object.sum() > 20
        assert np.all(g[on_object] > -0.02) and np.all(g[on_object] < 1.02)
        grid = GraspGrid(4)
        np.testing.assert_array_equal(np.clip(np.rint(g[on_object] * (grid.n_bins - 1)), 0, grid.n_bins - 1),
                                      grid.encode_position(world[on_object], bbox))
        np.testing.assert_allclose(grid_frame(bbox, bbox), [[0, 0, 0], [1, 1, 1]])
    finally:
        env.close()


def test_point_cloud_draw_is_seeded():
    env = make("pointcloud", point_cloud_size=64)
    try:
        a, _ = env.reset(seed=2)
        b, _ = env.reset(seed=2)
        c, _ = env.reset(seed=4)
        assert a["point_cloud_mask"].all()  # more points than 64: a draw
        np.testing.assert_array_equal(a["point_cloud"], b["point_cloud"])
        assert not np.array_equal(a["point_cloud"], c["point_cloud"])
    finally:
        env.close()


def test_segmentation_and_rgb_agree_with_depth():
    env = make("all", n_cameras=2)
    try:
        obs, _ = env.reset(seed=1)
        depth, seg, rgb = obs["depth"], obs["segmentation"], obs["rgb"]
        far = env.unwrapped.obs_config.camera.far
        assert set(np.unique(seg)) <= {SEG_BACKGROUND, SEG_TABLE, SEG_OBJECT}
        # The object's pixels are exactly those whose depth is nearer than the table plane there.
        clean = env.unwrapped.depth_images()
        np.testing.assert_array_equal(clean, depth)
        top = depth[0]
        height = env.unwrapped.obs_config.camera_height
        np.testing.assert_array_equal(seg[0] == SEG_OBJECT, top < height - 1e-4)
        assert np.all((seg == SEG_BACKGROUND) == (depth >= far))
        # Colours come from the scene: the table is the table's, the object's are the object's hue.
        m = env.unwrapped.simulator.model
        table_rgb = m.geom_rgba[m.geom("table").id, :3]
        obj_rgb = m.geom_rgba[m.geom("part0").id, :3]
        flat = rgb[0][seg[0] == SEG_TABLE].astype(float)
        np.testing.assert_allclose(flat / np.linalg.norm(flat, axis=1, keepdims=True),
                                   np.broadcast_to(table_rgb / np.linalg.norm(table_rgb), flat.shape), atol=0.02)
        o = rgb[0][seg[0] == SEG_OBJECT].astype(float)
        hue = o / np.linalg.norm(o, axis=1, keepdims=True)
        assert np.all(hue @ (obj_rgb / np.linalg.norm(obj_rgb)) > 0.99)
        assert not rgb[seg == SEG_BACKGROUND].any()
        # Seeded: the same reset gives the same bytes.
        again, _ = env.reset(seed=1)
        for key in obs:
            np.testing.assert_array_equal(obs[key], again[key])
    finally:
        env.close()


def test_clutter_segmentation_labels_each_object():
    env = gym.make("grasp_envs/GraspClutter4D-v1", n_objects=3, observation={"mode": "segmentation"})
    try:
        obs, info = env.reset(seed=0)
        ids = set(np.unique(obs["segmentation"]).tolist())
        assert SEG_TABLE in ids and ids - {SEG_BACKGROUND, SEG_TABLE} <= {SEG_OBJECT + k for k in range(3)}
        assert len(ids - {SEG_BACKGROUND, SEG_TABLE}) >= 2
    finally:
        env.close()


@pytest.mark.parametrize("agent", ["random", "centroid"])
def test_depth_agents_run_in_sensor_modes(agent):
    from agents import load_agent

    env = make("all")
    try:
        a = load_agent(agent, env, {"seed": 0})
        obs, _ = env.reset(seed=0)
        obs, reward, terminated, truncated, info = env.step(a.act(obs))
        assert terminated and env.observation_space.contains(obs)
    finally:
        env.close()


# ----------------------------------------------------------------- the real env against the stand-ins
@pytest.fixture
def color_rig():
    pytest.importorskip("pyrealsense2", exc_type=ImportError)
    pytest.importorskip("roslibpy")
    pytest.importorskip("websockets")
    from real.standins import standin_rig

    with standin_rig(camera={"burst": 2, "color": True}) as rig:
        yield rig


def test_software_d435_colour_is_aligned_to_depth(color_rig):
    from real.software_camera import BOX_COLOR, TABLE_COLOR

    frame = color_rig.camera.capture()
    assert frame.color.shape == (*frame.depth.shape, 3) and frame.color.dtype == np.uint8
    # Where the (filtered) depth sees the box top, the aligned colour is the box's; the table around it the table's.
    from scipy.ndimage import binary_erosion

    cam = color_rig.camera
    _, which = cam.scene.cast(cam.intrinsics, *cam.calibration.camera_to_table)
    box = binary_erosion(which == 1, iterations=3)  # the box, away from its edges
    table = binary_erosion(which == 0, iterations=3) & frame.color.any(axis=2)  # where the colour camera sees it
    assert box.sum() > 500 and table.sum() > 50000
    assert (frame.color[box] == BOX_COLOR).all(axis=1).mean() > 0.95
    assert (frame.color[table] == TABLE_COLOR).all(axis=1).mean() > 0.95


def test_real_env_sensor_presets(color_rig):
    env = gym.make("grasp_envs/RealFetchGrasp4D-v0", observation={"mode": "all"}, derived_masks=True,
                   **color_rig.env_kwargs())
    sim = make("all")
    try:
        assert env.observation_space == sim.observation_space
        # check_env's own reset-twice check cannot hold for measured frames (the sensor's noise
        # differs per capture); the passive checker checks the spaces, dtypes and API instead.
        from gymnasium.utils.passive_env_checker import env_reset_passive_checker, env_step_passive_checker

        env_reset_passive_checker(env.unwrapped, seed=1)
        env_step_passive_checker(env.unwrapped, env.action_space.sample())
        obs, _ = env.reset(seed=0)
        assert env.observation_space.contains(obs)
        depth, seg, rgb = obs["depth"][0], obs["segmentation"][0], obs["rgb"][0]
        height = env.unwrapped.obs_config.camera_height
        # The derived mask marks the object where the depth shows something above the table.
        above = depth < height - 0.015
        assert above.sum() > 50 and (seg[above] == SEG_OBJECT).mean() > 0.95
        assert (seg[depth > height - 0.002] == SEG_TABLE).mean() > 0.95
        from real.software_camera import BOX_COLOR

        assert (rgb[seg == SEG_OBJECT] == BOX_COLOR).all(axis=1).mean() > 0.8
        # The cloud in the grid frame: the box's points fill the unit box.
        g = obs["point_cloud"][obs["point_cloud_mask"] == 1]
        top = g[g[:, 2] > 0.5]
        assert len(top) > 20 and top.min() > -0.05 and top.max() < 1.05
        assert np.all(g >= -POINT_CLOUD_MARGIN - 1e-6) and np.all(g <= 1 + POINT_CLOUD_MARGIN + 1e-6)
    finally:
        env.close()
        sim.close()


def test_real_env_says_what_it_cannot_observe(color_rig):
    kw = color_rig.env_kwargs()
    with pytest.raises(ValueError, match="no segmentation sensor.*derived_masks=True"):
        gym.make("grasp_envs/RealFetchGrasp4D-v0", observation={"mode": "segmentation"}, **kw)
    with pytest.raises(ValueError, match="object pose"):
        gym.make("grasp_envs/RealFetchGrasp4D-v0", observation={"mode": "privileged"}, **kw)
    no_camera = {k: v for k, v in kw.items() if k != "depth_source"}
    with pytest.raises(ValueError, match=r"colour stream: pass camera=\{'color': True\}"):
        gym.make("grasp_envs/RealFetchGrasp4D-v0", observation={"mode": "rgbd"}, **no_camera)


def test_real_env_rgb_needs_a_colour_frame():
    pytest.importorskip("pyrealsense2", exc_type=ImportError)
    pytest.importorskip("roslibpy")
    pytest.importorskip("websockets")
    from real.camera import CameraError
    from real.standins import standin_rig

    with standin_rig(camera={"burst": 1}) as rig:
        env = gym.make("grasp_envs/RealFetchGrasp4D-v0", observation={"mode": "rgbd"}, **rig.env_kwargs())
        try:
            with pytest.raises(CameraError, match="delivers depth only"):
                env.reset(seed=0)
        finally:
            env.close()


def test_benchmark_finds_the_same_episodes_in_every_mode(capsys):
    from benchmarks.observation_modes import main

    assert main(["--scenes", "2", "--agents", "centroid", "--modes", "depth", "all", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "| centroid | all |" in out and "2/2" in out
