"""Simulator throughput on this machine, with PyBullet's KukaDiverseObjectEnv as a peer.

Prints medians over repeated measurements of:

* simulated grasp attempts per second per core (physics only, grasps that passed rejection);
* rejection checks per second per core, and the rejected fraction of uniform 4-D and 6-D grasps;
* overhead 64 x 64 depth: ms per frame;
* hand-camera 32 x 32 depth: ms per image in batches of 20;
* env steps per second with the Random agent (reset + one grasp per episode: the user's view);
* reset ms and episodes/s (uniform actions) of ``gym.make`` with the per-object caches off and
  on, for a new object every reset, 10 objects each reset in a new orientation, and 10 scenes
  repeated; ``AsyncVectorEnv`` with 1 and 2 workers against one env in this process;
* how cost grows: reset ms (object + simulator + settle) and simulated attempts/s for 1-, 5- and
  15-part objects; overhead depth ms at 64, 128 and 256 pixels;
* in the same run, attempted grasps per second of PyBullet's ``KukaDiverseObjectEnv`` (random
  actions until its episode ends in an attempted grasp), and two labelled ratios: whole episode
  against whole episode (like for like), and this engine's batched physics-only attempt against
  Kuka's whole episode (not like for like: no reset, no render, rejected grasps left out).

    python -m benchmarks.sim_throughput            # needs the bench extra for the Kuka peer
    python -m benchmarks.sim_throughput --only resets --episodes 30   # caches off/on, one run
    python -m benchmarks.sim_throughput --only vector --episodes 40   # AsyncVectorEnv 1 vs 2 workers
"""

from __future__ import annotations

import argparse
import os
import time

import gymnasium as gym
import numpy as np

import grasp_envs  # noqa: F401
from agents import RandomAgent
from benchmarks.stats import median
from grasp_envs.grid import GraspGrid
from grasp_envs.objects import generate_random_object
from grasp_envs.objects.procedural import random_rotation
from grasp_envs.sim import GraspSimulator, Rejection


def _sims(n: int, seed: int) -> list[GraspSimulator]:
    return [GraspSimulator(generate_random_object(seed + i), orientation=random_rotation(np.random.default_rng(seed + i)))
            for i in range(n)]


def bench_physics_and_rejection(n_objects: int, seed: int) -> dict:
    out = {}
    sims = _sims(n_objects, seed)
    for dims in (4, 6):
        grid = GraspGrid(dims)
        rates, fracs, phys = [], [], []
        for k, sim in enumerate(sims):
            bins = np.random.default_rng(k).integers(0, 20, size=(2000, dims))
            poses = grid.decode(bins, sim.object_bounds)
            t = time.perf_counter()
            rej = sim.reject(poses)
            rates.append(len(poses) / (time.perf_counter() - t))
            fracs.append(float((rej != Rejection.NONE).mean()))
            live = np.flatnonzero(rej == Rejection.NONE)[:40]
            if dims == 4 and len(live):
                t = time.perf_counter()
                sim.simulate(poses[live])
                phys.append(len(live) / (time.perf_counter() - t))
        out[f"rejection checks/s/core ({dims}-D)"] = median(rates)
        out[f"rejected fraction, uniform {dims}-D"] = float(np.mean(fracs))
        if phys:
            out["simulated attempts/s/core (4-D)"] = median(phys)
    return out


def bench_depth(seed: int) -> dict:
    env = gym.make("grasp_envs/GraspRandom4D-v1").unwrapped
    over, hand = [], []
    for i in range(10):
        env.reset(seed=seed + i)
        t = time.perf_counter()
        for _ in range(10):
            env.depth_images()
        over.append((time.perf_counter() - t) / 10 * 1e3)
        acts = np.random.default_rng(i).integers(0, 20, size=(20, 4))
        t = time.perf_counter()
        env.hand_camera_images(acts)
        hand.append((time.perf_counter() - t) / 20 * 1e3)
    return {"overhead 64x64 depth, ms/frame": median(over), "hand 32x32 depth, ms/image (batch 20)": median(hand)}


def bench_growth(seed: int, objects: int = 5) -> dict:
    """Reset ms and attempts/s by part count; overhead depth ms by resolution."""
    from dataclasses import replace

    from grasp_envs.objects import RandomObjectConfig

    out = {}
    grid = GraspGrid(4)
    for parts in (1, 5, 15):
        cfg = RandomObjectConfig(min_parts=parts, max_parts=parts)
        resets, rates = [], []
        for i in range(objects):
            t = time.perf_counter()
            sim = GraspSimulator(generate_random_object(seed + i, config=cfg),
                                 orientation=random_rotation(np.random.default_rng(seed + i)))
            resets.append((time.perf_counter() - t) * 1e3)
            poses = grid.decode(np.random.default_rng(i).integers(0, 20, size=(400, 4)), sim.object_bounds)
            live = np.flatnonzero(sim.reject(poses) == Rejection.NONE)[:20]
            if len(live):
                t = time.perf_counter()
                sim.simulate(poses[live])
                rates.append(len(live) / (time.perf_counter() - t))
        out[f"reset ms, {parts:2d}-part objects"] = median(resets)
        out[f"simulated attempts/s/core, {parts:2d}-part objects"] = median(rates) if rates else float("nan")
    env = gym.make("grasp_envs/GraspRandom4D-v1").unwrapped
    env.reset(seed=seed)
    base = env.obs_config
    for px in (64, 128, 256):
        env.obs_config = replace(base, width=px, height=px)
        t = time.perf_counter()
        for _ in range(5):
            env.depth_images()
        out[f"overhead {px}x{px} depth, ms/frame"] = (time.perf_counter() - t) / 5 * 1e3
    env.obs_config = base
    return out


def bench_env_steps(episodes: int, seed: int) -> float:
    env = gym.make("grasp_envs/GraspRandom4D-v1")
    agent = RandomAgent(env, seed=seed)
    t = time.perf_counter()
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        env.step(agent.act(obs))
    return episodes / (time.perf_counter() - t)


ENV_ID = "grasp_envs/GraspRandom4D-v1"


def bench_reset_modes(episodes: int, seed: int) -> dict:
    """Median reset ms and episodes/s with the caches (objects, models, rest states) off and on."""
    import grasp_envs.objects.procedural as procedural
    import grasp_envs.sim.simulator as simulator

    modes = {
        "new object every reset": lambda i: dict(seed=seed + i),
        "10 objects, new orientation every reset": lambda i: dict(seed=seed + 1000 + i, options={"object_seed": i % 10}),
        "10 scenes repeated": lambda i: dict(seed=seed + i % 10, options={"object_seed": i % 10}),
    }
    sizes = (procedural.OBJECT_CACHE_SIZE, simulator.REST_STATES_PER_OBJECT)
    out = {}
    try:
        for caches in (False, True):
            procedural.OBJECT_CACHE_SIZE, simulator.REST_STATES_PER_OBJECT = sizes if caches else (0, 0)
            procedural._OBJECT_CACHE.clear()
            env = gym.make(ENV_ID)
            env.action_space.seed(seed)
            for mode, kw in modes.items():
                for i in range(10):  # warm up (fills the caches where they are on)
                    env.reset(**kw(i))
                resets = []
                t0 = time.perf_counter()
                for i in range(10, 10 + episodes):  # new seeds (new objects / orientations) after the warm-up
                    t = time.perf_counter()
                    env.reset(**kw(i))
                    resets.append((time.perf_counter() - t) * 1e3)
                    env.step(env.action_space.sample())
                rate = episodes / (time.perf_counter() - t0)
                tag = "on" if caches else "off"
                out[f"reset ms, {mode}, caches {tag}"] = median(resets)
                out[f"episodes/s, {mode}, caches {tag}"] = rate
            env.close()
    finally:
        procedural.OBJECT_CACHE_SIZE, simulator.REST_STATES_PER_OBJECT = sizes
    for mode in modes:
        out[f"episodes/s ratio caches on/off, {mode}"] = (out[f"episodes/s, {mode}, caches on"]
                                                          / out[f"episodes/s, {mode}, caches off"])
    return out


def _make_env():
    import grasp_envs  # noqa: F401  (registers the ids in a spawned worker)

    return gym.make(ENV_ID)


def bench_vector(episodes: int, seed: int) -> dict:
    """Episodes/s (new object every reset, uniform actions) of one env in this process and of
    ``AsyncVectorEnv`` with 1 and 2 workers (same-step autoreset: every step is one episode)."""
    from gymnasium.vector import AsyncVectorEnv, AutoresetMode

    env = gym.make(ENV_ID)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    t = time.perf_counter()
    for i in range(episodes):
        env.reset(seed=seed + 1 + i)
        env.step(env.action_space.sample())
    out = {"episodes/s, one env in this process": episodes / (time.perf_counter() - t)}
    for n in (1, 2):
        venv = AsyncVectorEnv([_make_env] * n, autoreset_mode=AutoresetMode.SAME_STEP)
        try:
            venv.action_space.seed(seed)
            venv.reset(seed=seed)
            venv.step(venv.action_space.sample())  # workers warm
            done = 0
            t = time.perf_counter()
            while done < episodes:
                _, _, term, trunc, _ = venv.step(venv.action_space.sample())
                done += int(np.sum(term | trunc))
            out[f"episodes/s, AsyncVectorEnv {n} worker{'s' if n > 1 else ''}"] = done / (time.perf_counter() - t)
        finally:
            venv.close()
    one = out["episodes/s, AsyncVectorEnv 1 worker"]
    out["ratio, AsyncVectorEnv 2 workers / 1 worker"] = out["episodes/s, AsyncVectorEnv 2 workers"] / one
    out["ratio, AsyncVectorEnv 2 workers / one env in process"] = (out["episodes/s, AsyncVectorEnv 2 workers"]
                                                                  / out["episodes/s, one env in this process"])
    return out


def kuka_diverse_object_env():
    """pybullet's ``KukaDiverseObjectEnv`` class, or ``None`` where pybullet is not installed."""
    import sys

    import gymnasium
    import gymnasium.spaces
    import gymnasium.utils.seeding

    # pybullet_envs still imports the retired `gym` package; gymnasium provides the same names
    # it uses (Env, spaces, utils.seeding, envs.registration), so alias it for this benchmark.
    import types

    # pybullet_envs' package __init__ registers its envs in the old registry layout; the Kuka env
    # itself needs no registration, so give it an empty registry to write into.
    registration = types.ModuleType("gym.envs.registration")
    registration.registry = types.SimpleNamespace(env_specs={})
    registration.register = lambda *a, **k: None
    registration.make, registration.spec = gymnasium.make, gymnasium.spec
    envs = types.ModuleType("gym.envs")
    envs.registration = registration
    from packaging.version import parse as parse_version

    pkg_resources = types.ModuleType("pkg_resources")  # only parse_version is used
    pkg_resources.parse_version = parse_version
    for name, mod in (("pkg_resources", pkg_resources), ("gym", gymnasium), ("gym.spaces", gymnasium.spaces), ("gym.utils", gymnasium.utils),
                      ("gym.utils.seeding", gymnasium.utils.seeding), ("gym.envs", envs),
                      ("gym.envs.registration", registration)):
        sys.modules.setdefault(name, mod)
    try:
        from pybullet_envs.bullet.kuka_diverse_object_gym_env import KukaDiverseObjectEnv  # type: ignore
    except ImportError:
        return None
    return KukaDiverseObjectEnv


def bench_kuka(episodes: int, seed: int) -> float | None:
    """Attempted grasps per second of pybullet's KukaDiverseObjectEnv (None if unavailable)."""
    import random

    KukaDiverseObjectEnv = kuka_diverse_object_env()
    if KukaDiverseObjectEnv is None:
        return None
    random.seed(seed)  # the Kuka env draws its objects from Python's global random
    env = KukaDiverseObjectEnv(renders=False, isDiscrete=False, removeHeightHack=False, maxSteps=20)
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    for _ in range(episodes):
        env.reset()
        done = False
        while not done:
            _, _, done, _ = env.step(rng.uniform(-1, 1, size=env.action_space.shape))
    return episodes / (time.perf_counter() - t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=20)
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--kuka-episodes", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=["resets", "vector"],
                    help="run one section: the reset modes with caches off/on, or the vector-env scaling")
    args = ap.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; every figure single-threaded "
          "unless it names workers, median over objects")
    if args.only:
        rows = bench_reset_modes(args.episodes, args.seed) if args.only == "resets" else bench_vector(args.episodes, args.seed)
        for k, v in rows.items():
            print(f"{k:60s} {v:10.4g}")
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
        return 0
    rows = bench_physics_and_rejection(args.objects, args.seed)
    rows.update(bench_depth(args.seed))
    rows.update(bench_growth(args.seed))
    env_rate = bench_env_steps(args.episodes, args.seed)
    rows["env episodes/s, Random agent (reset + grasp)"] = env_rate
    rows.update(bench_reset_modes(args.episodes, args.seed))
    rows.update(bench_vector(args.episodes, args.seed))
    kuka = bench_kuka(args.kuka_episodes, args.seed)
    for k, v in rows.items():
        print(f"{k:60s} {v:10.4g}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    if kuka is None:
        print("KukaDiverseObjectEnv: unavailable (pip install 'grasp-envs[bench]')")
    else:
        attempt_s = 1.0 / rows["simulated attempts/s/core (4-D)"]
        print(f"{'Kuka attempted grasps/s':48s} {kuka:12.4g}")
        print(f"{'Kuka s per attempted grasp':48s} {1 / kuka:12.4g}")
        print(f"{'ratio, whole episode vs whole episode (like for like)':48s} {env_rate / kuka:12.4g}")
        print(f"{'ratio, physics-only batched attempt vs Kuka whole episode (not like for like)':48s} "
              f"{(1 / kuka) / attempt_s:12.4g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
