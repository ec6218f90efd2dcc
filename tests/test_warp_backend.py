"""The MuJoCo Warp backend on Warp's CPU device with a few worlds.

The tests marked ``warp`` compile MuJoCo Warp's kernels the first time they run (about two
minutes on two cores; Warp caches them under ~/.cache/warp), so the default run leaves them out:
``pytest -m warp`` runs them.  They skip where warp-lang / mujoco-warp are not installed.
"""

from __future__ import annotations

import dataclasses
import json
import sys

import mujoco
import numpy as np
import pytest

from grasp_envs.grid import GraspGrid, GraspPoses
from grasp_envs.objects import generate_random_object
from grasp_envs.sim import GraspSimulator, SimConfig
from grasp_envs.sim.simulator import mat_to_quat


@pytest.fixture(scope="module")
def sim() -> GraspSimulator:
    return GraspSimulator(generate_random_object(2))


@pytest.fixture(scope="module")
def warp_cpu():
    pytest.importorskip("warp", reason="warp-lang is not installed: pip install 'grasp-envs[warp]'")
    pytest.importorskip("mujoco_warp", reason="mujoco-warp is not installed: pip install 'grasp-envs[warp]'")
    from grasp_envs.sim.warp_backend import quiet_warp

    quiet_warp()
    return "cpu"


def test_without_warp_the_error_names_the_extra(sim, monkeypatch):
    from grasp_envs.sim.warp_backend import WarpGraspBackend, WarpUnavailableError, warp_available

    monkeypatch.setitem(sys.modules, "mujoco_warp", None)  # makes `import mujoco_warp` fail
    assert not warp_available()
    with pytest.raises(WarpUnavailableError, match=r"pip install 'grasp-envs\[warp\]'"):
        WarpGraspBackend(sim, device="cpu")


@pytest.mark.warp
def test_controls_and_initial_states_are_the_simulators(sim, warp_cpu):
    from grasp_envs.sim.warp_backend import WarpGraspBackend

    backend = WarpGraspBackend(sim, device=warp_cpu, nworld=3)
    rng = np.random.default_rng(0)
    poses = GraspGrid(6).decode(rng.integers(0, 20, size=(30, 6)), sim.object_bounds)
    quat = mat_to_quat(poses.rotation)
    profile, offset = backend.controls(poses, quat)
    np.testing.assert_allclose(profile[None] + offset[:, None], sim._controls(poses, quat), rtol=0, atol=1e-12)

    states = sim._initial_states(poses, quat)
    parts = backend._split_states(states[:3])
    backend._load_batch(parts, offset[:3])
    m = sim.model
    d = mujoco.MjData(m)
    for i in range(3):
        mujoco.mj_setState(m, d, states[i], mujoco.mjtState.mjSTATE_FULLPHYSICS)
        np.testing.assert_allclose(backend.data.qpos.numpy()[i], d.qpos, atol=1e-6)
        np.testing.assert_allclose(backend.data.qvel.numpy()[i], d.qvel, atol=1e-6)
    # The palm starts at each grasp pose.
    a = sim._palm_qadr
    np.testing.assert_allclose(backend.data.qpos.numpy()[:3, a : a + 3], poses.position[:3], atol=1e-6)


@pytest.mark.warp
def test_outcomes_match_the_c_engine_across_padded_batches(sim, warp_cpu):
    """Two firm grasps (they succeed with the grasp shifted 2 mm either way in the C engine) and
    one 5 cm above the object (the fingers close on air); three grasps in batches of two."""
    from grasp_envs.sim.warp_backend import WarpGraspBackend

    grid = GraspGrid(4)
    firm = grid.decode(np.array([[9, 9, 10, 0], [9, 9, 10, 5]]), sim.object_bounds)
    above = grid.decode(np.array([[9, 9, 19, 0]]), sim.object_bounds)
    poses = GraspPoses(np.concatenate([firm.position, above.position + [0, 0, 0.05]]),
                       np.concatenate([firm.rotation, above.rotation]))
    ref = sim.simulate(poses)
    assert ref.success.tolist() == [True, True, False], "the C engine's reference outcomes changed; pick new grasps"

    backend = WarpGraspBackend(sim, device=warp_cpu, nworld=2)
    out = backend.simulate(poses)
    assert backend.last_stats.batches == 2 and backend.last_stats.grasps == 3
    assert out.success.tolist() == ref.success.tolist()
    np.testing.assert_allclose(out.lift, ref.lift, atol=0.01)
    np.testing.assert_allclose(out.final_object_qpos[:, :3], ref.final_object_qpos[:, :3], atol=0.01)
    assert (out.rejection == 0).all() and backend.last_stats.unstable == 0
    assert 0 < backend.last_stats.max_contacts <= backend.nconmax


@pytest.mark.warp
def test_too_few_contact_slots_is_an_error_naming_the_argument(warp_cpu):
    from grasp_envs.sim.warp_backend import WarpCapacityError, WarpGraspBackend

    short = dataclasses.replace(SimConfig(), close_time=0.02, lift_time=0.02, hold_time=0.0)
    sim = GraspSimulator(generate_random_object(2), short)
    poses = GraspGrid(4).decode(np.array([[9, 9, 10, 0]]), sim.object_bounds)
    backend = WarpGraspBackend(sim, device=warp_cpu, nworld=2, nconmax=1)
    with pytest.raises(WarpCapacityError, match=r"nconmax=1 \(pass a larger nconmax="):
        backend.simulate(poses)
    assert len(WarpGraspBackend(sim, device=warp_cpu, nworld=2).simulate(poses)) == 1


def test_bad_arguments_are_refused_before_any_device_work(sim, warp_cpu):
    from grasp_envs.sim.warp_backend import WarpGraspBackend

    with pytest.raises(ValueError, match="nworld must be at least 1"):
        WarpGraspBackend(sim, device=warp_cpu, nworld=0)
    with pytest.raises(ValueError, match="graph=True needs a CUDA device"):
        WarpGraspBackend(sim, device=warp_cpu, graph=True)


def test_generate_keeps_engines_apart(tmp_path):
    pytest.importorskip("pyarrow", reason="grasp_envs.dataset needs pyarrow (pip install 'grasp-envs[data]')")
    from grasp_envs.dataset import GenerateConfig, generate

    cfg = GenerateConfig(env_id="grasp_envs/GraspRandom4D-v1", num_objects=1, attempts=4, scenes_per_shard=1)
    with pytest.raises(ValueError, match=r"needs GenerateConfig\(engine='warp'\)"):
        generate(cfg, tmp_path / "a", backend="warp", progress=False)
    with pytest.raises(ValueError, match="run it with --backend warp"):
        generate(dataclasses.replace(cfg, engine="warp"), tmp_path / "b", progress=False)
    with pytest.raises(ValueError, match="--warp-device needs --backend warp"):
        generate(cfg, tmp_path / "c", device="cpu", progress=False)
    with pytest.raises(ValueError, match="drop --workers"):
        generate(dataclasses.replace(cfg, engine="warp"), tmp_path / "d", backend="warp", workers=2, progress=False)
    with pytest.raises(ValueError, match="engine must be one of"):
        dataclasses.replace(cfg, engine="bullet")
    assert "engine" not in cfg.to_dict()  # C-engine configs are those of earlier versions
    assert not any((tmp_path / name).exists() for name in "abcd")


@pytest.mark.warp
def test_generate_with_the_warp_backend_labels_with_warp(tmp_path, warp_cpu, capsys):
    pytest.importorskip("pyarrow", reason="grasp_envs.dataset needs pyarrow (pip install 'grasp-envs[data]')")
    import gymnasium as gym

    from grasp_envs.dataset import GenerateConfig, GraspDataset
    from grasp_envs.dataset.cli import main
    from grasp_envs.dataset.generate import scene_plan
    from grasp_envs.sim.warp_backend import WarpGraspBackend

    out = tmp_path / "w"
    args = ["--objects", "random", "--num-objects", "2", "--attempts", "12", "--seed", "4", "--out", str(out),
            "--backend", "warp", "--warp-device", "cpu", "--no-progress"]
    assert main(args) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["engine"] == "warp" and "mujoco_warp" in manifest["versions"]
    assert main([*args[:-5], "--resume", "--no-progress"]) == 1  # the C engine may not finish it
    assert "run it with --backend warp" in capsys.readouterr().err
    rows = GraspDataset(out).read_attempts(images=False)

    # The shard holds what the Warp backend says about its two scenes' grasps, simulated together.
    config = GenerateConfig.from_dict(manifest["config"])
    env = gym.make(config.env_id, split="train")
    lo, hi = env.unwrapped.object_seed_range()
    sims, poses, actions = [], [], []
    for scene in range(2):
        object_seed, reset_seed, rng = scene_plan(config, lo, hi, scene)
        env.reset(seed=reset_seed, options={"object_seed": object_seed})
        actions.append(rng.integers(0, 20, size=(12, 4)))
        sims.append(env.unwrapped.simulator)
        poses.append(env.unwrapped.decode(actions[-1]))
    expect = WarpGraspBackend(sims, device="cpu").attempt_many(poses)
    np.testing.assert_array_equal(rows.grasp, np.concatenate(actions))
    np.testing.assert_array_equal(rows.rejection, np.concatenate([e.rejection for e in expect]))
    np.testing.assert_array_equal(rows.success, np.concatenate([e.success for e in expect]))
    assert all((e.rejection == 0).any() for e in expect), "pick a seed whose scenes simulate grasps"


@pytest.mark.warp
def test_several_objects_share_batches_and_keep_their_own_physics(sim, warp_cpu):
    """Firm grasps on two objects with different parts, masses and friction, mixed in batches of
    three worlds: each world sees only its own object (same outcomes and lifts as the C engine)."""
    from grasp_envs.sim.warp_backend import WarpGraspBackend

    other = GraspSimulator(generate_random_object(5))
    assert len(other.obj.parts) != len(sim.obj.parts) and other.obj.friction != sim.obj.friction
    grid = GraspGrid(4)
    p2 = grid.decode(np.array([[9, 9, 10, 0], [9, 9, 10, 5]]), sim.object_bounds)
    firm5 = grid.decode(np.array([[9, 9, 6, 5], [9, 9, 6, 10]]), other.object_bounds)
    above5 = grid.decode(np.array([[9, 9, 19, 0]]), other.object_bounds)
    p5 = GraspPoses(np.concatenate([firm5.position, above5.position + [0, 0, 0.05]]),
                    np.concatenate([firm5.rotation, above5.rotation]))
    refs = [sim.simulate(p2), other.simulate(p5)]
    assert [r.success.tolist() for r in refs] == [[True, True], [True, True, False]], "reference outcomes changed"

    backend = WarpGraspBackend([sim, other], device=warp_cpu, nworld=3)
    assert {"geom_dataid", "body_inertia", "geom_friction"} <= set(backend._per_world)
    outs = backend.simulate_many([p2, p5])
    assert backend.last_stats.batches == 2
    for out, ref in zip(outs, refs):
        assert out.success.tolist() == ref.success.tolist()
        np.testing.assert_allclose(out.lift, ref.lift, atol=0.01)
    with pytest.raises(ValueError, match="one GraspPoses per object"):
        backend.simulate_many([p2])


def test_agreement_report_counts_labels_per_grasp(tmp_path, capsys):
    from benchmarks.warp_agreement import main

    rows = [dict(seed=0, n=3, c_success=[1, 0, 1], warp_success=[1, 1, 1], warp_unstable=0, device="cpu"),
            dict(seed=1, n=2, c_success=[0, 0], warp_success=[0, 0], warp_unstable=1, device="cpu")]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["--report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "2 objects, 5 simulated grasps; Warp device cpu" in out
    assert "agreement with the C engine: 0.800" in out
    assert "success rate: C 0.400, Warp 0.600; succeeded in C only 0, in Warp only 1" in out
    assert "non-finite Warp states: 1" in out
    with pytest.raises(SystemExit):
        main(["--report", str(tmp_path / "missing.jsonl")])


@pytest.mark.warp
def test_agreement_script_runs_both_engines(tmp_path, warp_cpu, capsys):
    from benchmarks.warp_agreement import main

    out = tmp_path / "a.jsonl"
    assert main(["--objects", "1", "--grasps", "2", "--device", "cpu", "--out", str(out)]) == 0
    row = json.loads(out.read_text())
    assert row["n"] == 2 and len(row["c_success"]) == len(row["warp_success"]) == 2 and row["device"] == "cpu"
    assert "agreement with the C engine" in capsys.readouterr().out


def test_cli_without_warp_names_the_extra(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pyarrow", reason="grasp_envs.dataset needs pyarrow (pip install 'grasp-envs[data]')")
    from grasp_envs.cli import main

    monkeypatch.setitem(sys.modules, "mujoco_warp", None)
    rc = main(["generate", "--num-objects", "1", "--attempts", "4", "--out", str(tmp_path / "d"), "--backend", "warp"])
    err = capsys.readouterr().err
    assert rc != 0 and "pip install 'grasp-envs[warp]'" in err and "Traceback" not in err
    assert not (tmp_path / "d").exists()


def test_env_evaluate_grasps_names_its_engines():
    import gymnasium as gym

    import grasp_envs  # noqa: F401

    env = gym.make("grasp_envs/GraspRandom4D-v1")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="engine must be 'mujoco' or 'warp'"):
        env.unwrapped.evaluate_grasps([[10, 10, 10, 0]], engine="bullet")


@pytest.mark.warp
def test_env_evaluate_grasps_on_warp_matches_the_c_engine():
    import gymnasium as gym

    import grasp_envs  # noqa: F401

    pytest.importorskip("mujoco_warp")
    env = gym.make("grasp_envs/GraspRandom4D-v1")
    env.reset(seed=2)
    base = env.unwrapped
    bins = np.random.default_rng(0).integers(0, 20, (200, 4))
    c = base.evaluate_grasps(bins)
    live = bins[c.rejection == 0][:8]
    c_live, w_live = base.evaluate_grasps(live), base.evaluate_grasps(live, engine="warp", device="cpu")
    assert np.array_equal(c_live.rejection, w_live.rejection)
    assert (c_live.success == w_live.success).mean() >= 0.75
