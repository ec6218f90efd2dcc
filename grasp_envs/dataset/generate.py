"""Generate grasp datasets: many objects, thousands of labelled grasps each (paper, section IV.A).

A run is fixed by a :class:`GenerateConfig`.  Scene ``i`` of a run is fully determined by it:

* its object seed is ``lo + (start + i) mod (hi - lo)`` where ``[lo, hi)`` is the split's seed
  range of the environment and ``start`` comes from ``SeedSequence(seed)``: scenes of one run
  never share an object until the range is exhausted (small sets such as YCB cycle through
  every object in turn), and train and test datasets never share one because the split ranges
  are disjoint;
* its ``env.reset`` seed (which draws the object's orientation) and the generator of its grasps
  come from ``SeedSequence(seed, spawn_key=(i, 0))`` and ``(i, 1)``;
* its grasps are ``attempts`` bins drawn uniformly from the grid, followed, when the config names
  a ``proposer``, by that proposer's grasps for the scene's observation (for example a planner
  checkpoint's top-k beam and their neighbouring bins: :class:`agents.proposals.PlannerProposals`),
  evaluated with
  ``env.unwrapped.evaluate_grasps`` (one compiled model per object; rejection before physics;
  the surviving grasps simulated in one batched rollout) and, for the simulated ones, imaged
  with ``env.unwrapped.hand_camera_images`` in one batch.

Scenes are grouped into shards of ``scenes_per_shard``; a shard is the unit of work and of
storage (see :mod:`grasp_envs.dataset.storage`).  Workers (a local process pool or Ray tasks)
return serialised shards to the driver, which alone writes files, atomically.  Because every
shard depends only on the config, a run that is killed and resumed, or run with another number of
workers or another backend, produces byte-identical shards.

The physics engine is part of the config: ``engine="warp"`` (``--backend warp``) labels the
grasps with :class:`grasp_envs.sim.warp_backend.WarpGraspBackend` (MuJoCo Warp, float32, a scene's
grasps as parallel worlds on one device, run in the driver process) instead of the C engine;
its outcomes agree with the C engine's on most but not all grasps (docs/simulation.md), so such a
dataset is a different dataset, and a run started on one engine is resumed only on it.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing as mp
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterator

import gymnasium as gym
import numpy as np

import grasp_envs
from grasp_envs.dataset import schema, storage
from grasp_envs.registration import NAMESPACE
from grasp_envs.sim import Rejection
from grasp_envs.workers import worker_init

#: Object set -> environment id pattern (``{dims}`` is 4 or 6).  Sets whose env is not
#: registered in this installation are refused with a message naming the id.
OBJECT_SETS: dict[str, str] = {
    "random": "GraspRandom{dims}D-v1",
    "ycb": "GraspYCB{dims}D-v1",
    "shapenet": "GraspShapeNet{dims}D-v1",
    "scanned": "GraspScanned{dims}D-v1",
}
BACKENDS = ("local", "ray", "warp")
#: Physics engines that label grasps: MuJoCo's C engine (``mujoco.rollout``) or MuJoCo Warp.
ENGINES = ("mujoco", "warp")


def object_set_env_id(objects: str, dims: int) -> str:
    """The registered env id of object set ``objects`` at ``dims`` (error if not registered)."""
    if objects not in OBJECT_SETS:
        raise ValueError(f"unknown object set {objects!r}; choose one of {sorted(OBJECT_SETS)} or pass env_id")
    if dims not in (4, 6):
        raise ValueError(f"dims must be 4 or 6, got {dims}")
    env_id = f"{NAMESPACE}/{OBJECT_SETS[objects].format(dims=dims)}"
    if env_id not in gym.registry:
        have = sorted(k for k in gym.registry if k.startswith(f"{NAMESPACE}/"))
        raise ValueError(
            f"object set {objects!r} needs environment {env_id}, which this installation does not register "
            f"(registered: {have}); update grasp-envs or pass an env id with --env-id"
        )
    return env_id


@dataclass(frozen=True)
class GenerateConfig:
    """Everything that determines a dataset's content.

    Attributes:
        env_id: Registered environment id (e.g. ``grasp_envs/GraspRandom4D-v1``).
        num_objects: Number of scenes (one object each).
        attempts: Grasps drawn uniformly from the grid per scene (paper: 2,000).
        split: ``"train"`` or ``"test"``: the env split whose object seeds are used.
        seed: Run seed; scene ``i`` depends only on ``(seed, i)``.
        scenes_per_shard: Scenes per Parquet shard (the unit of work and of resumption).
        env_kwargs: Extra JSON keyword arguments for ``gym.make`` (e.g. an observation config).
        proposer: Optional ``"module:Class"`` of a proposer: ``Class(**proposer_kwargs)`` is built
            once per worker and called as ``proposer(observation, rng) -> (n, dims) bins`` on each
            scene; its grasps are labelled after the uniform ones with ``source`` 1.  Loaded by
            name, so this package never imports the code that proposes (e.g. ``agents``).
        proposer_kwargs: JSON keyword arguments of the proposer (e.g. a checkpoint path).
        engine: Physics engine that labels the grasps: ``"mujoco"`` (the C engine, default) or
            ``"warp"`` (MuJoCo Warp on one device; generate with ``backend="warp"``).
    """

    env_id: str
    num_objects: int
    attempts: int = 2000
    split: str = "train"
    seed: int = 0
    scenes_per_shard: int = 8
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    proposer: str = ""
    proposer_kwargs: dict[str, Any] = field(default_factory=dict)
    engine: str = "mujoco"

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        if self.num_objects < 1:
            raise ValueError(f"num_objects must be at least 1, got {self.num_objects}")
        if self.attempts < (0 if self.proposer else 1):
            raise ValueError(f"attempts must be at least {0 if self.proposer else 1}, got {self.attempts}")
        if self.proposer and ":" not in self.proposer:
            raise ValueError(f"proposer must be 'module:Class', got {self.proposer!r}; "
                             "e.g. --proposer agents.proposals:PlannerProposals")
        if not isinstance(self.proposer_kwargs, dict):
            raise ValueError(f"proposer_kwargs must be a dict, got {type(self.proposer_kwargs).__name__}")
        try:
            json.dumps(self.proposer_kwargs)
        except TypeError as exc:
            raise ValueError(f"proposer_kwargs must be JSON-serialisable ({exc})") from exc
        if self.split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {self.split!r}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        if self.scenes_per_shard < 1:
            raise ValueError(f"scenes_per_shard must be at least 1, got {self.scenes_per_shard}")
        if not isinstance(self.env_kwargs, dict):
            raise ValueError(f"env_kwargs must be a dict, got {type(self.env_kwargs).__name__}")
        for key in ("split", "dims"):
            if key in self.env_kwargs:
                raise ValueError(f"env_kwargs may not set {key!r}: use the config's split and the env id's dims")
        try:
            json.dumps(self.env_kwargs)
        except TypeError as exc:
            raise ValueError(f"env_kwargs must be JSON-serialisable ({exc})") from exc
        rnd = self.env_kwargs.get("randomization")
        if self.engine == "warp" and isinstance(rnd, dict) and any(rnd.get(k) for k in ("finger_friction", "table_friction")):
            # The Warp backend batches several objects in one device model whose contact
            # priorities (what makes a finger's or the table's friction rule its contacts) are shared.
            raise ValueError("randomization finger_friction/table_friction is not supported by --backend warp "
                             "(contact priorities cannot differ between its batched objects); label with "
                             "--backend local or ray, or randomise object_friction instead")
        if self.env_id not in gym.registry:
            raise ValueError(f"environment {self.env_id!r} is not registered; registered: "
                             f"{sorted(k for k in gym.registry if k.startswith(NAMESPACE + '/'))}")
        from gymnasium.envs.registration import load_env_creator

        from grasp_envs.envs import GraspEnv

        entry = gym.spec(self.env_id).entry_point
        cls = load_env_creator(entry) if isinstance(entry, str) else entry
        if not (isinstance(cls, type) and issubclass(cls, GraspEnv)):
            raise ValueError(f"{self.env_id} is not a simulated grasp environment (its entry point {entry!r} is not "
                             f"a grasp_envs.envs.GraspEnv); datasets are generated in simulation only")

    @property
    def num_shards(self) -> int:
        return -(-self.num_objects // self.scenes_per_shard)

    def shard_scenes(self, index: int) -> range:
        return range(index * self.scenes_per_shard, min((index + 1) * self.scenes_per_shard, self.num_objects))

    def to_dict(self) -> dict:
        d = asdict(self)
        if not self.proposer:  # datasets without a proposer keep the config of earlier versions
            d.pop("proposer")
            d.pop("proposer_kwargs")
        if self.engine == "mujoco":  # C-engine datasets keep the config of earlier versions
            d.pop("engine")
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "GenerateConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# --------------------------------------------------------------------------- workers
_ENV_CACHE: dict[str, gym.Env] = {}
_PROPOSER_CACHE: dict[str, Any] = {}


def make_env(config: GenerateConfig) -> gym.Env:
    """The env of ``config``, cached per process (one per worker)."""
    key = json.dumps([config.env_id, config.split, config.env_kwargs], sort_keys=True)
    env = _ENV_CACHE.get(key)
    if env is None:
        env = gym.make(config.env_id, split=config.split, **config.env_kwargs)
        _ENV_CACHE[key] = env
    return env


def make_proposer(config: GenerateConfig):
    """The proposer of ``config`` (``None`` without one), built once per process."""
    if not config.proposer:
        return None
    key = json.dumps([config.proposer, config.proposer_kwargs], sort_keys=True)
    if key not in _PROPOSER_CACHE:
        import importlib

        module, _, attr = config.proposer.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot load proposer {config.proposer!r} ({exc}); "
                             "e.g. --proposer agents.proposals:PlannerProposals") from None
        _PROPOSER_CACHE[key] = cls(**config.proposer_kwargs)
    return _PROPOSER_CACHE[key]


def scene_plan(config: GenerateConfig, lo: int, hi: int, scene: int) -> tuple[int, int, np.random.Generator]:
    """(object seed, reset seed, grasp generator) of scene ``scene``."""
    n = hi - lo
    start = int(np.random.SeedSequence(config.seed).generate_state(2, np.uint64)[0] % np.uint64(n))
    object_seed = lo + (start + scene) % n
    reset_seed = int(np.random.SeedSequence(config.seed, spawn_key=(scene, 0)).generate_state(1, np.uint64)[0])
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(scene, 1)))
    return object_seed, reset_seed, rng


def _env_layout(env: gym.Env) -> dict:
    u = env.unwrapped
    obs_cfg = u.obs_config
    return {
        "dims": u.grid.dims,
        "n_bins": u.grid.n_bins,
        "depth_shape": [obs_cfg.n_cameras, obs_cfg.height, obs_cfg.width],
        "hand_depth_shape": [obs_cfg.hand_height, obs_cfg.hand_width],
        "seed_range": [int(v) for v in u.object_seed_range()],
        "observation": obs_cfg.to_dict(),
    }


def _label(scene: dict, batch: dict, outcome) -> None:
    scene["n_success"] = int(outcome.success.sum())
    scene["success_grasps"] = batch["grasp"][outcome.success]
    batch["success"], batch["lift"] = outcome.success, outcome.lift


def _warp_outcomes(deferred: list[tuple], device: str | None) -> list:
    """Outcomes of every deferred scene of a shard, all scenes' grasps in the same device batches."""
    from grasp_envs.sim.warp_backend import WarpGraspBackend

    backend = WarpGraspBackend([sim for _, sim, _, _ in deferred], device=device)
    return backend.attempt_many([poses for _, _, poses, _ in deferred], [rej for _, _, _, rej in deferred])


def generate_shard(config_dict: dict, index: int, device: str | None = None) -> dict:
    """Generate shard ``index``: returns the Parquet bytes of both tables and the shard record.

    Runs in a worker; touches no files.  With ``engine="warp"`` every scene is rejected and
    imaged first and then all scenes' grasps are simulated together on the Warp ``device``.  Scenes whose object cannot be simulated (it fails to
    settle, or its model does not compile) are left out and listed in ``record["skipped"]`` with
    the reason, so the manifest accounts for every scene.
    """
    from grasp_envs.objects import InvalidMeshError
    from grasp_envs.sim import ModelBuildError, SimulationError

    config = GenerateConfig.from_dict(config_dict)
    env = make_env(config)
    u = env.unwrapped
    layout = _env_layout(env)
    proposer = make_proposer(config)
    lo, hi = layout["seed_range"]
    dims, n_bins = layout["dims"], layout["n_bins"]
    scenes, batches, skipped, deferred = [], [], [], []
    t0, c0 = time.perf_counter(), time.process_time()
    for i in config.shard_scenes(index):
        object_seed, reset_seed, rng = scene_plan(config, lo, hi, i)
        try:
            obs, info = env.reset(seed=reset_seed, options={"object_seed": object_seed})
        except (SimulationError, ModelBuildError, InvalidMeshError) as exc:
            skipped.append({"scene": i, "object_seed": object_seed, "error": f"{type(exc).__name__}: {exc}"})
            continue
        actions = rng.integers(0, n_bins, size=(config.attempts, dims))
        source = np.zeros(len(actions), np.int8)
        if proposer is not None:
            proposed = np.asarray(proposer(obs, rng), np.int64).reshape(-1, dims)
            actions = np.concatenate([actions, proposed])
            source = np.concatenate([source, np.ones(len(proposed), np.int8)])
        if config.engine == "warp":  # physics later, for the whole shard at once
            poses = u.decode(actions)
            outcome, rejection = None, u.simulator.reject(poses)
            deferred.append((len(batches), u.simulator, poses, rejection))
        else:
            outcome = u.evaluate_grasps(actions)
            rejection = outcome.rejection
        live = np.flatnonzero(rejection == 0)
        hand = u.hand_camera_images(actions[live]) if len(live) else np.zeros((0, *layout["hand_depth_shape"]), np.float32)
        scenes.append({
            "scene": i, "object_seed": object_seed, "object_name": info["object_name"], "reset_seed": reset_seed,
            "depth": obs["depth"], "bbox": obs["bbox"], "n_attempts": config.attempts, "n_simulated": len(live),
        })
        batches.append({
            "scene": i, "object_seed": object_seed, "grasp": actions, "rejection": rejection,
            "hand_depth": hand, "source": source,
        })
        if outcome is not None:
            _label(scenes[-1], batches[-1], outcome)
    if deferred:
        for (k, *_), outcome in zip(deferred, _warp_outcomes(deferred, device)):
            _label(scenes[k], batches[k], outcome)
    scenes_bytes = storage.parquet_bytes(schema.build_scenes_table(scenes, dims, tuple(layout["depth_shape"])))
    attempts_bytes = storage.parquet_bytes(schema.build_attempts_table(batches, dims, tuple(layout["hand_depth_shape"])))
    name = storage.shard_name(index)
    record = {
        "index": index,
        "scenes": [config.shard_scenes(index).start, config.shard_scenes(index).stop],
        "files": {
            "scenes": {"path": f"scenes/{name}.parquet", "sha256": storage.sha256_bytes(scenes_bytes), "bytes": len(scenes_bytes)},
            "attempts": {"path": f"attempts/{name}.parquet", "sha256": storage.sha256_bytes(attempts_bytes), "bytes": len(attempts_bytes)},
        },
        "counts": {
            "scenes": len(scenes),
            "attempts": int(sum(len(b["rejection"]) for b in batches)),
            "simulated": int(sum(s["n_simulated"] for s in scenes)),
            "successes": int(sum(s["n_success"] for s in scenes)),
            "proposed": int(sum(int(b["source"].sum()) for b in batches)),
            "rejected": {
                r.reason: int(sum(int((b["rejection"] == int(r)).sum()) for b in batches))
                for r in Rejection if r != Rejection.NONE
            },
        },
        "skipped": skipped,
    }
    return {"record": record, "scenes": scenes_bytes, "attempts": attempts_bytes,
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}


def _write_shard(root: Path, payload: dict) -> dict:
    record = payload["record"]
    for table in storage.TABLES:
        storage.atomic_write(root / record["files"][table]["path"], payload[table])
    storage.atomic_write(storage.marker_path(root, record["index"]), storage.json_bytes(record))
    return record


# --------------------------------------------------------------------------- backends
def _run_inline(config: GenerateConfig, pending: list[int], workers: int, ray_address: str | None,
                device: str | None = None) -> Iterator[dict]:
    for index in pending:
        yield generate_shard(config.to_dict(), index, device)


def _run_local(config: GenerateConfig, pending: list[int], workers: int, ray_address: str | None,
               device: str | None = None) -> Iterator[dict]:
    # "spawn": workers start clean (no inherited MuJoCo state or progress-bar threads).
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=worker_init) as pool:
        todo = list(pending)
        running: set[cf.Future] = set()
        try:
            while todo or running:
                while todo and len(running) < 2 * workers:
                    running.add(pool.submit(generate_shard, config.to_dict(), todo.pop(0)))
                done, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
        finally:
            for fut in running:
                fut.cancel()


def _run_ray(config: GenerateConfig, pending: list[int], workers: int, ray_address: str | None,
             device: str | None = None) -> Iterator[dict]:
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("the ray backend needs Ray: install it with `pip install 'grasp-envs[ray]'`") from exc
    if not ray.is_initialized():
        # A fresh local instance gets one CPU per worker; an address joins an existing cluster.
        ray.init(address=ray_address, num_cpus=None if ray_address else workers, include_dashboard=False,
                 log_to_driver=False)
    remote = ray.remote(num_cpus=1, max_retries=3)(generate_shard)
    todo = list(pending)
    running: list = []
    while todo or running:
        while todo and len(running) < 2 * workers:
            running.append(remote.remote(config.to_dict(), todo.pop(0)))
        done, running = ray.wait(running, num_returns=1)
        for ref in done:
            yield ray.get(ref)


# The Warp backend runs shards one after another in this process: one device, many worlds.
RUNNERS: dict[str, Callable] = {"local": _run_local, "ray": _run_ray, "warp": _run_inline}


# --------------------------------------------------------------------------- driver
def _versions(config: GenerateConfig) -> dict:
    import mujoco
    import pyarrow

    out = {"grasp_envs": grasp_envs.__version__, "mujoco": mujoco.__version__, "numpy": np.__version__,
           "pyarrow": pyarrow.__version__}
    if config.engine == "warp":
        from importlib.metadata import version

        out.update({"mujoco_warp": version("mujoco-warp"), "warp": version("warp-lang")})
    return out


def _base_manifest(config: GenerateConfig) -> dict:
    from grasp_envs.envs import GraspEnv

    env = make_env(config)
    if not isinstance(env.unwrapped, GraspEnv):  # pragma: no cover - GenerateConfig checks the class
        raise ValueError(f"{config.env_id} is not a simulated grasp environment (a GraspEnv)")
    return {
        "format_version": storage.FORMAT_VERSION,
        "config": config.to_dict(),
        "env_spec": json.loads(env.spec.to_json()),
        "physics": {"digest": env.unwrapped.physics_digest, "identity": env.unwrapped.physics_identity()},
        "layout": _env_layout(env),
        "versions": _versions(config),
        "num_shards": config.num_shards,
        "complete": False,
    }


@dataclass(frozen=True)
class GenerateSummary:
    """What a call of :func:`generate` did (``elapsed_s`` counts only this call's work)."""

    root: str
    scenes: int
    attempts: int
    simulated: int
    successes: int
    skipped: int
    shards_written: int
    shards_reused: int
    elapsed_s: float
    attempts_generated: int
    worker_cpu_s: float = 0.0

    @property
    def attempts_per_cpu_hour(self) -> float:
        """Attempts per hour of worker CPU time (shard generation only; excludes start-up and writing)."""
        return self.attempts_generated / self.worker_cpu_s * 3600 if self.worker_cpu_s > 0 else float("nan")

    @property
    def attempts_per_hour(self) -> float:
        return self.attempts_generated / self.elapsed_s * 3600 if self.elapsed_s > 0 else float("nan")

    def format(self) -> str:
        frac = self.successes / self.attempts if self.attempts else 0.0
        return (
            f"dataset {self.root}: {self.scenes} scenes, {self.attempts} attempts "
            f"({self.simulated} simulated, {self.successes} succeeded = {frac:.2%} of attempts), "
            f"{self.skipped} scenes skipped\n"
            f"this run: {self.shards_written} shards written, {self.shards_reused} kept from before; "
            f"{self.attempts_generated} attempts in {self.elapsed_s:.1f} s = {self.attempts_per_hour:,.0f} attempts/h"
        )


def generate(config: GenerateConfig, out: str | Path, *, workers: int = 1, backend: str = "local",
             resume: bool = False, ray_address: str | None = None, progress: bool = True,
             device: str | None = None) -> GenerateSummary:
    """Generate (or, with ``resume``, finish) the dataset of ``config`` in directory ``out``.

    ``backend="warp"`` needs ``config.engine == "warp"`` (and the reverse); ``device`` is its Warp
    device (Warp's default, a GPU where there is one, if ``None``).
    """
    from tqdm import tqdm

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if ray_address is not None and backend != "ray":
        raise ValueError("--ray-address needs --backend ray")
    if (backend == "warp") != (config.engine == "warp"):
        if backend == "warp":
            raise ValueError("backend 'warp' labels grasps with MuJoCo Warp: it needs GenerateConfig(engine='warp')")
        raise ValueError("this dataset's grasps are labelled by MuJoCo Warp (engine 'warp'); run it with --backend warp")
    if backend == "warp":
        if workers != 1:
            raise ValueError("--backend warp runs every scene on one device in this process; drop --workers")
        from grasp_envs.sim.warp_backend import import_warp

        import_warp()  # a missing install is reported before any file is written
    elif device is not None:
        raise ValueError("--warp-device needs --backend warp")
    root = Path(out)
    manifest_path = root / storage.MANIFEST
    base = _base_manifest(config)
    if manifest_path.exists():
        if not resume:
            raise ValueError(f"{root} already holds a dataset; pass --resume to finish it, or choose a new --out directory")
        old = storage.read_manifest(root)
        _check_resumable(root, old, base)
    else:
        if root.exists() and any(p.name != ".tmp" for p in root.iterdir()):
            raise ValueError(f"{root} exists and is not empty; choose a new or empty --out directory")
        root.mkdir(parents=True, exist_ok=True)
        storage.atomic_write(manifest_path, storage.json_bytes(base))

    records: dict[int, dict] = {}
    pending = []
    for index in range(config.num_shards):
        marker = storage.read_marker(root, index)
        if marker is not None and storage.shard_health(root, index, marker) == "ok":
            records[index] = marker
        else:
            pending.append(index)
    reused = len(records)
    done_scenes = sum(r["scenes"][1] - r["scenes"][0] for r in records.values())

    runner = _run_inline if backend == "local" and workers == 1 else RUNNERS[backend]
    run_kwargs = {"device": device} if backend == "warp" else {}
    t0 = time.perf_counter()
    generated = 0
    cpu = 0.0
    bar = tqdm(total=config.num_objects, initial=done_scenes, unit="obj", desc="generate", disable=not progress,
               dynamic_ncols=True)
    try:
        for payload in runner(config, pending, workers, ray_address, **run_kwargs):
            record = _write_shard(root, payload)
            records[record["index"]] = record
            generated += record["counts"]["attempts"]
            cpu += payload.get("cpu_seconds", 0.0)
            bar.update(record["scenes"][1] - record["scenes"][0])
            dt = max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix_str(f"{(bar.n - done_scenes) / dt:.2f} obj/s, {generated / dt:,.0f} attempts/s")
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0

    manifest = dict(base)
    manifest["shards"] = [records[i] for i in range(config.num_shards)]
    manifest["totals"] = _totals(manifest["shards"])
    manifest["complete"] = True
    storage.atomic_write(manifest_path, storage.json_bytes(manifest))
    t = manifest["totals"]
    return GenerateSummary(str(root), t["scenes"], t["attempts"], t["simulated"], t["successes"], t["skipped"],
                           len(pending), reused, elapsed, generated, cpu)


def _totals(shards: list[dict]) -> dict:
    keys = ("scenes", "attempts", "simulated", "successes")
    totals = {k: int(sum(s["counts"][k] for s in shards)) for k in keys}
    totals["rejected"] = {r: int(sum(s["counts"]["rejected"][r] for s in shards)) for r in shards[0]["counts"]["rejected"]} if shards else {}
    totals["skipped"] = int(sum(len(s["skipped"]) for s in shards))
    return totals


def _check_resumable(root: Path, old: dict, new: dict) -> None:
    if old["config"] != new["config"]:
        diff = sorted(k for k in set(old["config"]) | set(new["config"]) if old["config"].get(k) != new["config"].get(k))
        detail = ", ".join(f"{k}: dataset has {old['config'].get(k)!r}, requested {new['config'].get(k)!r}" for k in diff)
        raise ValueError(f"cannot resume {root}: the requested run differs from the dataset's ({detail}); "
                         f"resume with the dataset's settings or generate into a new --out directory")
    if "physics" in old and old["physics"]["digest"] != new["physics"]["digest"]:
        raise ValueError(f"cannot resume {root}: the environment's physics changed since the dataset was started "
                         f"(identity {old['physics']['digest'][:12]} != {new['physics']['digest'][:12]}); generate "
                         "into a new --out directory")
    for key in ("env_spec", "layout"):
        if old[key] != new[key]:
            raise ValueError(f"cannot resume {root}: the environment's {key} changed since the dataset was started; "
                             f"generate into a new --out directory")
    for pkg in ("grasp_envs", "mujoco", "mujoco_warp", "warp"):
        if old["versions"].get(pkg) != new["versions"].get(pkg):
            raise ValueError(f"cannot resume {root}: it was started with {pkg} {old['versions'].get(pkg)}, this is "
                             f"{new['versions'].get(pkg)}; outcomes could differ, so generate into a new --out directory")
