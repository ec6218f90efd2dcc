"""Frozen benchmark tasks: which env, which scenes, which seeds.

A task names everything a reported number depends on: the environment id and its kwargs, the
300 scenes (each an ``env.reset(seed=reset_seed, options={"object_seed": object_seed})``), the
three evaluation seeds of the paper (IV.A: every model is trained with three seeds and the mean is
reported), and a checksum of the object list.

Version 1 tasks (``random-4d-test-v1``, ...) give every evaluation seed its own draw of the
scenes: the same 300 objects, each reset with a reset seed of that evaluation seed (a different
orientation), so a deterministic agent plays 900 different scenes instead of the same 300 three
times.  Version 0 tasks replay the same scenes for every seed; they stay listed and loadable as
the replay protocol.  Either way each object appears once per seed, so reported intervals are
clustered by object (:func:`grasp_envs.stats.clustered_wilson_interval`).

Two values freeze a task:

* ``fingerprint``: sha256 of the definition and its scene list (cheap to recompute).
* ``object_checksum``: sha256 of the content (convex parts, mass, friction) of the object in
  every scene, in scene order.  Evaluation hashes each object it builds anyway, so every full run
  re-verifies it for free, and the leaderboard re-verifies it from the records.

Version 2 tasks run on the ``-v1`` environments (physics version 1, :mod:`grasp_envs.envs.physics`)
and their fingerprint also covers the environment's physics identity (solver, gripper, table,
mass model, rejection, MuJoCo release, object pipeline), so a task can never silently change
physics under a frozen fingerprint.  ``random-4d-trained-v1`` is ``random-4d-trained-v0`` on the
``-v1`` physics.

Changing any of them is a new task version (``random-4d-test-v3``); the old one stays listed so
old results remain comparable.  ``tests/test_benchmarks.py`` fails if a definition drifts from its
frozen fingerprint.

Tasks whose environment is not registered (the YCB and scanned-object sets live in other
modules) are defined here all the same and validate lazily: listing them is free, and using one
raises :class:`TaskUnavailableError` naming the missing env id.

Scene seeds come from :meth:`numpy.random.SeedSequence.generate_state`, whose output is fixed by
its specification (unlike ``Generator`` methods, which NumPy may change between versions).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Scenes per task and evaluation seeds (Tobin et al. 2017, IV.A).
N_SCENES = 300
SEEDS = (0, 1, 2)

_NAME = re.compile(r"^(?P<family>[a-z0-9]+(?:-[a-z0-9]+)*)-v(?P<version>\d+)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class TaskUnavailableError(RuntimeError):
    """The task's environment is not registered in this installation."""


class TaskChangedError(RuntimeError):
    """A task no longer matches its frozen fingerprint or object checksum."""


@dataclass(frozen=True)
class Scene:
    """One evaluation scene: ``env.reset(seed=reset_seed, options={"object_seed": object_seed})``."""

    index: int
    reset_seed: int
    object_seed: int

    def to_dict(self) -> dict:
        return {"index": self.index, "reset_seed": self.reset_seed, "object_seed": self.object_seed}


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def object_digest(obj) -> str:
    """sha256 of an object's content: name, mass, friction and convex parts (rounded to 0.1 um).

    Rounding keeps the digest stable across platforms whose floating point differs in the last
    bits; any real change to the geometry or physics parameters changes it.
    """
    h = hashlib.sha256()
    h.update(_canonical({"name": obj.name, "mass": round(float(obj.mass), 9),
                         "friction": round(float(obj.friction), 9), "parts": len(obj.parts)}))
    for p in obj.parts:
        q = np.round(np.asarray(p, dtype=np.float64), 7) + 0.0  # + 0.0 turns -0.0 into 0.0
        h.update(np.ascontiguousarray(q, dtype="<f8").tobytes())
    return h.hexdigest()


def object_list_checksum(digests: list[str]) -> str:
    """Checksum of a task's object list: sha256 over the per-scene object digests in scene order."""
    for d in digests:
        if not _SHA256.match(str(d)):
            raise ValueError(f"object digest {d!r} is not a sha256 hex string")
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


@dataclass(frozen=True)
class BenchmarkTask:
    """A frozen benchmark task.

    Attributes:
        name: ``"<family>-v<N>"``, e.g. ``"random-4d-test-v1"``.
        env_id: Registered Gymnasium id, e.g. ``"grasp_envs/GraspRandom4D-v0"``.
        env_kwargs: Keyword arguments of ``gym.make`` (JSON only; they go verbatim into results).
        object_set: ``"random"``, ``"ycb"``, ``"scanned"``, ...
        split: ``"train"`` or ``"test"`` (object split the scenes are drawn from).
        scene_entropy: Root of the :class:`numpy.random.SeedSequence` that draws the scenes.
        n_scenes: Number of scenes (300 in the paper).
        seeds: Evaluation seeds; each seed runs every scene once (the agent is reset with a
            seed derived from it, and ``{seed}`` in agent kwargs is replaced by it).
        description: One line for listings and docs.
        fingerprint: Frozen sha256 of :meth:`definition` (``None`` while the env is unavailable
            and the task has never been frozen).
        object_checksum: Frozen :func:`object_list_checksum` of the scenes' objects (``None``:
            not frozen yet; results then carry the checksum they observed and are flagged).
        per_seed_resets: When true, every evaluation seed resets each scene's object with its own
            reset seed (:meth:`seed_scenes`); when false (version 0 tasks) every seed replays the
            same scenes.
        training_data_seed: When set, the scenes are the first ``n_scenes`` scenes of the dataset
            ``grasp-envs generate --seed S`` on the task's env (the same objects in the same
            orientations: :func:`grasp_envs.dataset.generate.scene_plan`), i.e. scenes the
            shipped planner was trained on; ``scene_entropy`` is then unused.
    """

    name: str
    env_id: str
    env_kwargs: dict
    object_set: str
    split: str
    scene_entropy: int
    n_scenes: int = N_SCENES
    seeds: tuple[int, ...] = SEEDS
    description: str = ""
    fingerprint: str | None = field(default=None, compare=False)
    object_checksum: str | None = field(default=None, compare=False)
    training_data_seed: int | None = None
    per_seed_resets: bool = False

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"task name {self.name!r} must look like 'family-name-v0' (lowercase, dashes, -vN)")
        if "/" not in self.env_id:
            raise ValueError(f"task {self.name}: env_id must be namespaced like 'grasp_envs/GraspRandom4D-v0', got {self.env_id!r}")
        try:
            json.dumps(self.env_kwargs)
        except TypeError as exc:
            raise ValueError(f"task {self.name}: env_kwargs must be JSON-serialisable ({exc})") from None
        if self.split not in ("train", "test"):
            raise ValueError(f"task {self.name}: split must be 'train' or 'test', got {self.split!r}")
        if "split" in self.env_kwargs and self.env_kwargs["split"] != self.split:
            raise ValueError(f"task {self.name}: env_kwargs split {self.env_kwargs['split']!r} disagrees with split {self.split!r}")
        if int(self.n_scenes) < 1:
            raise ValueError(f"task {self.name}: n_scenes must be at least 1, got {self.n_scenes}")
        if not isinstance(self.seeds, tuple) or not self.seeds or len(set(self.seeds)) != len(self.seeds) \
                or any(not isinstance(s, int) or s < 0 for s in self.seeds):
            raise ValueError(f"task {self.name}: seeds must be a tuple of distinct non-negative ints, got {self.seeds!r}")
        if not isinstance(self.scene_entropy, int) or self.scene_entropy < 0:
            raise ValueError(f"task {self.name}: scene_entropy must be a non-negative int, got {self.scene_entropy!r}")
        for label, value in (("fingerprint", self.fingerprint), ("object_checksum", self.object_checksum)):
            if value is not None and not _SHA256.match(value):
                raise ValueError(f"task {self.name}: {label} must be a sha256 hex string or None, got {value!r}")

    # ------------------------------------------------------------------ identity
    @property
    def family(self) -> str:
        return _NAME.match(self.name)["family"]

    @property
    def version(self) -> int:
        return int(_NAME.match(self.name)["version"])

    def next_version(self) -> int:
        """The first version number of this task's family that no listed task uses."""
        return 1 + max([self.version] + [t.version for t in TASKS.values() if t.family == self.family])

    @property
    def dims(self) -> int | None:
        return self.env_kwargs.get("dims")

    @property
    def available(self) -> bool:
        """Whether the task's env id is registered (its module may still need data to reset)."""
        import gymnasium as gym

        import grasp_envs  # noqa: F401  (registers the ids)

        return self.env_id in gym.registry

    def require_env(self) -> None:
        """Raise :class:`TaskUnavailableError` unless the env id is registered."""
        if not self.available:
            raise TaskUnavailableError(
                f"task {self.name!r} needs env {self.env_id!r}, which is not registered in this installation; "
                f"registered grasp_envs ids: {registered_env_ids()}.  Install the package that provides the "
                f"{self.object_set!r} object set (see docs/objects.md), or choose one of {available_task_names()}"
            )

    def make_env(self, observation_mode: str | None = None, **overrides):
        """``gym.make`` the task's env; ``observation_mode`` may switch the observation preset."""
        import gymnasium as gym

        self.require_env()
        kwargs = json.loads(json.dumps(self.env_kwargs))
        if observation_mode is not None:
            obs = dict(kwargs.get("observation") or {})
            obs["mode"] = observation_mode
            kwargs["observation"] = obs
        kwargs.update(overrides)
        return gym.make(self.env_id, **kwargs)

    # ------------------------------------------------------------------ scenes
    def object_seed_range(self) -> tuple[int, int]:
        env = self.make_env()
        try:
            lo, hi = env.unwrapped.object_seed_range()
        finally:
            env.close()
        if hi <= lo:
            raise ValueError(f"task {self.name}: env {self.env_id} has an empty object seed range [{lo}, {hi})")
        return int(lo), int(hi)

    def scenes(self, seed_range: tuple[int, int] | None = None) -> list[Scene]:
        """The task's scenes, drawn from its ``scene_entropy`` and the env's object seed range.

        If the range holds at least ``n_scenes`` objects, every scene has a distinct object;
        otherwise (YCB: tens of objects) objects are used round-robin in a seeded order, so each
        appears ``n_scenes // n`` or one more times, in a different orientation each time.

        With ``per_seed_resets`` these are the scenes of the first evaluation seed
        (:meth:`seed_scenes` gives any seed's); without, every seed's.
        """
        scenes = self._base_scenes(seed_range)
        return self.seed_scenes(self.seeds[0], scenes) if self.per_seed_resets else scenes

    def seed_reset_seeds(self, seed: int, n: int | None = None) -> list[int]:
        """Reset seeds of evaluation ``seed`` for a ``per_seed_resets`` task, in scene order.

        ``SeedSequence(scene_entropy, spawn_key=(3, seed))``: spawn key 3 is used by no other draw
        of the scenes, and each evaluation seed gets its own stream.
        """
        if seed not in self.seeds:
            raise ValueError(f"seed {seed} is not a seed of task {self.name} (its seeds: {list(self.seeds)})")
        n = int(self.n_scenes if n is None else n)
        draws = np.random.SeedSequence(self.scene_entropy, spawn_key=(3, int(seed))).generate_state(n, np.uint32)
        return [int(d) for d in draws]

    def seed_scenes(self, seed: int, scenes: list[Scene] | None = None) -> list[Scene]:
        """The scenes evaluation ``seed`` runs: ``scenes`` (default :meth:`scenes`) with that seed's reset seeds.

        Without ``per_seed_resets`` this is ``scenes`` itself, for every seed.
        """
        if seed not in self.seeds:
            raise ValueError(f"seed {seed} is not a seed of task {self.name} (its seeds: {list(self.seeds)})")
        scenes = self.scenes() if scenes is None else scenes
        if not self.per_seed_resets:
            return list(scenes)
        resets = self.seed_reset_seeds(seed)
        return [Scene(sc.index, resets[sc.index], sc.object_seed) for sc in scenes]

    def episodes(self, scenes: list[Scene] | None = None) -> list[tuple[int, Scene]]:
        """Every (evaluation seed, scene) of the task, seed by seed in scene order."""
        scenes = self.scenes() if scenes is None else scenes
        return [(seed, sc) for seed in self.seeds for sc in self.seed_scenes(seed, scenes)]

    def _base_scenes(self, seed_range: tuple[int, int] | None = None) -> list[Scene]:
        lo, hi = seed_range if seed_range is not None else self.object_seed_range()
        n, size = int(self.n_scenes), hi - lo
        if self.training_data_seed is not None:
            from grasp_envs.dataset.generate import GenerateConfig, scene_plan

            config = GenerateConfig(env_id=self.env_id, num_objects=n, seed=self.training_data_seed, split=self.split)
            plans = [scene_plan(config, lo, hi, i) for i in range(n)]
            return [Scene(i, int(reset), int(obj)) for i, (obj, reset, _) in enumerate(plans)]
        reset_seeds = np.random.SeedSequence(self.scene_entropy, spawn_key=(0,)).generate_state(n, np.uint32)
        if size >= n:
            chosen: list[int] = []
            seen: set[int] = set()
            block = 0
            while len(chosen) < n:
                draws = np.random.SeedSequence(self.scene_entropy, spawn_key=(1, block)).generate_state(2 * n, np.uint64)
                for d in draws:
                    k = lo + int(d) % size
                    if k not in seen:
                        seen.add(k)
                        chosen.append(k)
                        if len(chosen) == n:
                            break
                block += 1
        else:
            keys = np.random.SeedSequence(self.scene_entropy, spawn_key=(2,)).generate_state(size, np.uint64)
            order = [lo + int(i) for i in np.argsort(keys, kind="stable")]
            chosen = [order[i % size] for i in range(n)]
        return [Scene(i, int(reset_seeds[i]), chosen[i]) for i in range(n)]

    @property
    def physics_version(self) -> int:
        """The physics version of the task's env id (0 for ids that predate physics versions)."""
        import gymnasium as gym

        import grasp_envs  # noqa: F401

        self.require_env()
        registered = gym.spec(self.env_id).kwargs or {}
        return int(self.env_kwargs.get("physics_version", registered.get("physics_version", 0)))

    def physics_digest(self) -> str:
        """sha256 of the env's physics identity (``GraspEnv.physics_identity``)."""
        env = self.make_env()
        try:
            return env.unwrapped.physics_digest
        finally:
            env.close()

    def definition(self, scenes: list[Scene] | None = None) -> dict:
        """Everything the fingerprint covers, as JSON (from physics version 1 on, the physics too)."""
        scenes = self.scenes() if scenes is None else scenes
        physics = {"physics": self.physics_digest()} if self.physics_version >= 1 else {}
        return {
            **physics,
            "name": self.name, "env_id": self.env_id, "env_kwargs": self.env_kwargs,
            "object_set": self.object_set, "split": self.split, "scene_entropy": self.scene_entropy,
            "n_scenes": self.n_scenes, "seeds": list(self.seeds),
            "scenes": [[s.reset_seed, s.object_seed] for s in scenes],
            **({"training_data_seed": self.training_data_seed} if self.training_data_seed is not None else {}),
            **({"seed_scenes": {str(seed): [sc.reset_seed for sc in self.seed_scenes(seed, scenes)] for seed in self.seeds}}
               if self.per_seed_resets else {}),
        }

    def compute_fingerprint(self, scenes: list[Scene] | None = None) -> str:
        return hashlib.sha256(_canonical(self.definition(scenes))).hexdigest()

    def verify(self, scenes: list[Scene] | None = None) -> list[Scene]:
        """Scenes of the task, after checking them against the frozen fingerprint."""
        scenes = self.scenes() if scenes is None else scenes
        got = self.compute_fingerprint(scenes)
        if self.fingerprint is not None and got != self.fingerprint:
            raise TaskChangedError(
                f"task {self.name!r} no longer matches its frozen fingerprint ({got[:12]} != {self.fingerprint[:12]}): "
                f"its env, kwargs, seeds or scenes changed.  Tasks are frozen; define "
                f"'{self.family}-v{self.next_version()}' instead of editing this one"
            )
        return scenes

    def check_object_checksum(self, digests: list[str]) -> str:
        """Checksum of per-scene object ``digests``; raises if it differs from the frozen one."""
        got = object_list_checksum(digests)
        if self.object_checksum is not None and got != self.object_checksum:
            raise TaskChangedError(
                f"task {self.name!r}: the scenes' objects changed (object checksum {got[:12]} != "
                f"{self.object_checksum[:12]}); the object generator, meshes or their processing differ from the "
                f"frozen task.  Define '{self.family}-v{self.next_version()}' with the new checksum"
            )
        return got

    def object_digests(self, scenes: list[Scene] | None = None, progress: bool = True) -> list[str]:
        """Build each scene's object (no physics) and return its :func:`object_digest`, in scene order."""
        from tqdm import tqdm

        scenes = self.verify(scenes)
        env = self.make_env()
        # a clutter scene's object is its pile (what evaluation hashes from env.object); else the object itself
        build = getattr(env.unwrapped, "scene_record", env.unwrapped.make_object)
        cache: dict[int, str] = {}
        try:
            for s in tqdm(scenes, desc=f"objects of {self.name}", unit="obj", disable=not progress, leave=False):
                if s.object_seed not in cache:
                    cache[s.object_seed] = object_digest(build(s.object_seed))
        finally:
            env.close()
        return [cache[s.object_seed] for s in scenes]

    def to_dict(self) -> dict:
        return {
            "name": self.name, "version": self.version, "env_id": self.env_id, "env_kwargs": self.env_kwargs,
            "object_set": self.object_set, "split": self.split, "n_scenes": self.n_scenes,
            "seeds": list(self.seeds), "per_seed_resets": self.per_seed_resets,
            "fingerprint": self.fingerprint, "object_checksum": self.object_checksum,
        }


# ---------------------------------------------------------------------- the frozen tasks
#: Scene entropies (arXiv 1710.06425 plus an offset per object set and split).  The 4-D and 6-D
#: twins share their scenes.
_ENTROPY = {("random", "train"): 1710064250, ("random", "test"): 1710064251,
            ("ycb", "test"): 1710064252, ("scanned", "test"): 1710064253,
            ("shapenet", "train"): 1710064254, ("shapenet", "test"): 1710064255,
            ("clutter-random", "test"): 1710064256, ("clutter-ycb", "test"): 1710064257}

# name: (env_id, kwargs, object_set, split, fingerprint, object_checksum, description[, training_data_seed])
_DEFINITIONS: dict[str, tuple] = {
    "random-4d-train-v0": (
        "grasp_envs/GraspRandom4D-v0", {"dims": 4, "split": "train"}, "random", "train",
        "caf8b326cf510887e904d49baf24be6234fc66834561feb4c5178a8480588514",
        "a6868fa9cb513b84f81f4bef80147a168853690f89caa92372c22f2ea574ce0b",
        "procedurally generated objects from the training split, upright 4-D grasps"),
    "random-4d-train-v1": (
        "grasp_envs/GraspRandom4D-v0", {"dims": 4, "split": "train"}, "random", "train",
        "fc7b5ae66a6b1f85098395084bc35c5ea73a8865dd0065497b52634d95a31f6d",
        "a6868fa9cb513b84f81f4bef80147a168853690f89caa92372c22f2ea574ce0b",
        "procedurally generated objects from the training split, upright 4-D grasps; a fresh orientation per seed"),
    "random-4d-trained-v0": (
        "grasp_envs/GraspRandom4D-v0", {"dims": 4, "split": "train"}, "random", "train",
        "ba6908eaac78bbbfd4d0f6b5ac62a7b35e98b420f5e3d857beea740e2a36e888",
        "2d91b4aa960d58d91b0f58149fe05b6cba07a75a2f4145a0e258f27c2027bff0",
        "objects the shipped 4-D planner was trained on (the first 300 scenes of its uniform dataset, seed 0), "
        "upright 4-D grasps", 0),
    "random-4d-test-v0": (
        "grasp_envs/GraspRandom4D-v0", {"dims": 4, "split": "test"}, "random", "test",
        "53365b0e44e0b9598dd610fe7779f4accb4b94f2484f08fb2cd5415d22e8ff6d",
        "5496a4271d36c0bf26fb5f986b1fdd42782161fe82b38759b225fa656d5b3e37",
        "held-out procedurally generated objects, upright 4-D grasps"),
    "random-4d-test-v1": (
        "grasp_envs/GraspRandom4D-v0", {"dims": 4, "split": "test"}, "random", "test",
        "bd64a6ef2a2587445aceff70f17f6a7c040e15ea492e0f05f949e1175dfc9228",
        "5496a4271d36c0bf26fb5f986b1fdd42782161fe82b38759b225fa656d5b3e37",
        "held-out procedurally generated objects, upright 4-D grasps; a fresh orientation per seed"),
    "random-6d-train-v0": (
        "grasp_envs/GraspRandom6D-v0", {"dims": 6, "split": "train"}, "random", "train",
        "3313532e8e84ccf87179d7a307d0249fc18f196bd640d89531e78753edd3f1a1",
        "a6868fa9cb513b84f81f4bef80147a168853690f89caa92372c22f2ea574ce0b",
        "procedurally generated objects from the training split, 6-D grasps"),
    "random-6d-train-v1": (
        "grasp_envs/GraspRandom6D-v0", {"dims": 6, "split": "train"}, "random", "train",
        "213da25b4d396b883431d1495563b3fffa9ed6e8c4cf31ffc9ad1f5ddf603b7d",
        "a6868fa9cb513b84f81f4bef80147a168853690f89caa92372c22f2ea574ce0b",
        "procedurally generated objects from the training split, 6-D grasps; a fresh orientation per seed"),
    "random-6d-test-v0": (
        "grasp_envs/GraspRandom6D-v0", {"dims": 6, "split": "test"}, "random", "test",
        "7e68083ef28f0e97d24c48d88e33270b940116071b538a1f7a5e2422dec5153d",
        "5496a4271d36c0bf26fb5f986b1fdd42782161fe82b38759b225fa656d5b3e37",
        "held-out procedurally generated objects, 6-D grasps"),
    "random-6d-test-v1": (
        "grasp_envs/GraspRandom6D-v0", {"dims": 6, "split": "test"}, "random", "test",
        "8b493e6a813ea5f89269ed114209d189f588d375d3c24204a8e8d9a79a8ae92a",
        "5496a4271d36c0bf26fb5f986b1fdd42782161fe82b38759b225fa656d5b3e37",
        "held-out procedurally generated objects, 6-D grasps; a fresh orientation per seed"),
    # Object-set tasks use each set's held-out test split (20% of ids by hash; see
    # grasp_envs.envs.object_sets) and are frozen once the data is available where they are run.
    "ycb-4d-v0": (
        "grasp_envs/GraspYCB4D-v0", {"dims": 4, "split": "test"}, "ycb", "test", None, None,
        "held-out YCB objects, upright 4-D grasps (needs `grasp-envs download ycb`)"),
    "ycb-4d-v1": (
        "grasp_envs/GraspYCB4D-v0", {"dims": 4, "split": "test"}, "ycb", "test", None, None,
        "held-out YCB objects, upright 4-D grasps (needs `grasp-envs download ycb`); a fresh orientation per seed"),
    "ycb-6d-v0": (
        "grasp_envs/GraspYCB6D-v0", {"dims": 6, "split": "test"}, "ycb", "test", None, None,
        "held-out YCB objects, 6-D grasps (needs `grasp-envs download ycb`)"),
    "ycb-6d-v1": (
        "grasp_envs/GraspYCB6D-v0", {"dims": 6, "split": "test"}, "ycb", "test", None, None,
        "held-out YCB objects, 6-D grasps (needs `grasp-envs download ycb`); a fresh orientation per seed"),
    "scanned-4d-v0": (
        "grasp_envs/GraspScanned4D-v0", {"dims": 4, "split": "test"}, "scanned", "test", None, None,
        "held-out Google Scanned Objects, upright 4-D grasps (needs `grasp-envs download scanned`)"),
    "scanned-4d-v1": (
        "grasp_envs/GraspScanned4D-v0", {"dims": 4, "split": "test"}, "scanned", "test", None, None,
        "held-out Google Scanned Objects, upright 4-D grasps (needs `grasp-envs download scanned`); a fresh orientation per seed"),
    "scanned-6d-v0": (
        "grasp_envs/GraspScanned6D-v0", {"dims": 6, "split": "test"}, "scanned", "test", None, None,
        "held-out Google Scanned Objects, 6-D grasps (needs `grasp-envs download scanned`)"),
    "scanned-6d-v1": (
        "grasp_envs/GraspScanned6D-v0", {"dims": 6, "split": "test"}, "scanned", "test", None, None,
        "held-out Google Scanned Objects, 6-D grasps (needs `grasp-envs download scanned`); a fresh orientation per seed"),
    "shapenet-4d-train-v0": (
        "grasp_envs/GraspShapeNet4D-v0", {"dims": 4, "split": "train"}, "shapenet", "train", None, None,
        "ShapeNetCore training-split models, upright 4-D grasps (user-supplied ShapeNetCore)"),
    "shapenet-4d-train-v1": (
        "grasp_envs/GraspShapeNet4D-v0", {"dims": 4, "split": "train"}, "shapenet", "train", None, None,
        "ShapeNetCore training-split models, upright 4-D grasps (user-supplied ShapeNetCore); a fresh orientation per seed"),
    "shapenet-4d-test-v0": (
        "grasp_envs/GraspShapeNet4D-v0", {"dims": 4, "split": "test"}, "shapenet", "test", None, None,
        "held-out ShapeNetCore models, upright 4-D grasps (user-supplied ShapeNetCore)"),
    "shapenet-4d-test-v1": (
        "grasp_envs/GraspShapeNet4D-v0", {"dims": 4, "split": "test"}, "shapenet", "test", None, None,
        "held-out ShapeNetCore models, upright 4-D grasps (user-supplied ShapeNetCore); a fresh orientation per seed"),
    "shapenet-6d-train-v0": (
        "grasp_envs/GraspShapeNet6D-v0", {"dims": 6, "split": "train"}, "shapenet", "train", None, None,
        "ShapeNetCore training-split models, 6-D grasps (user-supplied ShapeNetCore)"),
    "shapenet-6d-train-v1": (
        "grasp_envs/GraspShapeNet6D-v0", {"dims": 6, "split": "train"}, "shapenet", "train", None, None,
        "ShapeNetCore training-split models, 6-D grasps (user-supplied ShapeNetCore); a fresh orientation per seed"),
    "shapenet-6d-test-v0": (
        "grasp_envs/GraspShapeNet6D-v0", {"dims": 6, "split": "test"}, "shapenet", "test", None, None,
        "held-out ShapeNetCore models, 6-D grasps (user-supplied ShapeNetCore)"),
    "shapenet-6d-test-v1": (
        "grasp_envs/GraspShapeNet6D-v0", {"dims": 6, "split": "test"}, "shapenet", "test", None, None,
        "held-out ShapeNetCore models, 6-D grasps (user-supplied ShapeNetCore); a fresh orientation per seed"),
    # Version 2: the -v1 physics, fresh orientations per seed, physics in the fingerprint.
    "random-4d-train-v2": (
        "grasp_envs/GraspRandom4D-v1", {"dims": 4, "split": "train"}, "random", "train",
        "49c82cc1c167e79735bd0c7fce22fc0c7632017687ef3cadbbf3e79bf1f2a230",
        "57435f54217be2f7fdcb31902ed3913da163701a54965b3304b462e017e0fdd7",
        "procedurally generated objects from the training split, upright 4-D grasps; physics v1"),
    "random-4d-trained-v1": (
        "grasp_envs/GraspRandom4D-v1", {"dims": 4, "split": "train"}, "random", "train",
        "64a37ac0a43c9e2c97cea83aa340db625a80d24b6fa63a1c1f9547d6eff00a68",
        "e77a6f661bfdad77c88fa0350448d0d69f547a6d4c1b8308e7d1086c75209f36",
        "objects the shipped 4-D planner was trained on (the first 300 scenes of its uniform dataset, seed 0), "
        "upright 4-D grasps; physics v1", 0),
    "random-4d-test-v2": (
        "grasp_envs/GraspRandom4D-v1", {"dims": 4, "split": "test"}, "random", "test", 
        "a16d7935e3bcf213b8110d44176d396b754fb62450b4175ba6b3f1c16eebeebd",
        "bf5047f5852508bda5253cdfa9afff76b39d1595bb79b052e43a09ea1f4f675c",
        "held-out procedurally generated objects, upright 4-D grasps; physics v1"),
    "random-4d-test-3attempts-v2": (
        "grasp_envs/GraspRandom4D-v1", {"dims": 4, "split": "test", "max_attempts": 3}, "random", "test",
        "1e83a74d5f310e58cf755b8e71d5bd7f80ced2ad9bf473393c3c94695eba26ff",
        "bf5047f5852508bda5253cdfa9afff76b39d1595bb79b052e43a09ea1f4f675c",
        "random-4d-test-v2's scenes with three attempts per object (after a failure the object stays where it "
        "ended up); physics v1"),
    "random-6d-train-v2": (
        "grasp_envs/GraspRandom6D-v1", {"dims": 6, "split": "train"}, "random", "train",
        "6bd6779f64f332bf4dcbae24aac1eee5c84358264ab0fc179a7d1914274fa6ba",
        "57435f54217be2f7fdcb31902ed3913da163701a54965b3304b462e017e0fdd7",
        "procedurally generated objects from the training split, 6-D grasps; physics v1"),
    "random-6d-test-v2": (
        "grasp_envs/GraspRandom6D-v1", {"dims": 6, "split": "test"}, "random", "test", 
        "5bd28501cc819b77de98474a5f3515bdf4c31c9fe47aad8d5a3b94750f749845",
        "bf5047f5852508bda5253cdfa9afff76b39d1595bb79b052e43a09ea1f4f675c",
        "held-out procedurally generated objects, 6-D grasps; physics v1"),
    "ycb-4d-v2": (
        "grasp_envs/GraspYCB4D-v1", {"dims": 4, "split": "test", "graspable_rule": "top"}, "ycb", "test", None, None,
        "held-out YCB objects, upright 4-D grasps (needs `grasp-envs download ycb`); physics v1, objects graspable from their resting poses"),
    "ycb-6d-v2": (
        "grasp_envs/GraspYCB6D-v1", {"dims": 6, "split": "test", "graspable_rule": "top"}, "ycb", "test", None, None,
        "held-out YCB objects, 6-D grasps (needs `grasp-envs download ycb`); physics v1, objects graspable from their resting poses"),
    "scanned-4d-v2": (
        "grasp_envs/GraspScanned4D-v1", {"dims": 4, "split": "test", "graspable_rule": "top"}, "scanned", "test", None, None,
        "held-out Google Scanned Objects, upright 4-D grasps (needs `grasp-envs download scanned`); physics v1, objects graspable from their resting poses"),
    "scanned-6d-v2": (
        "grasp_envs/GraspScanned6D-v1", {"dims": 6, "split": "test", "graspable_rule": "top"}, "scanned", "test", None, None,
        "held-out Google Scanned Objects, 6-D grasps (needs `grasp-envs download scanned`); physics v1, objects graspable from their resting poses"),
    "shapenet-4d-train-v2": (
        "grasp_envs/GraspShapeNet4D-v1", {"dims": 4, "split": "train"}, "shapenet", "train", None, None,
        "ShapeNetCore training-split models, upright 4-D grasps (user-supplied ShapeNetCore); physics v1"),
    "shapenet-6d-train-v2": (
        "grasp_envs/GraspShapeNet6D-v1", {"dims": 6, "split": "train"}, "shapenet", "train", None, None,
        "ShapeNetCore training-split models, 6-D grasps (user-supplied ShapeNetCore); physics v1"),
    "shapenet-4d-test-v2": (
        "grasp_envs/GraspShapeNet4D-v1", {"dims": 4, "split": "test"}, "shapenet", "test", None, None,
        "held-out ShapeNetCore models, upright 4-D grasps (user-supplied ShapeNetCore); physics v1"),
    "shapenet-6d-test-v2": (
        "grasp_envs/GraspShapeNet6D-v1", {"dims": 6, "split": "test"}, "shapenet", "test", None, None,
        "held-out ShapeNetCore models, 6-D grasps (user-supplied ShapeNetCore); physics v1"),
    # Clutter (docs/clutter.md): a scene is a pile (its object seed draws the count and objects, the reset seed
    # their drop); the object checksum is over each scene's pile (GraspClutterEnv.scene_record).
    "clutter-4d-test-v1": (
        "grasp_envs/GraspClutter4D-v1", {"dims": 4, "split": "test"}, "clutter-random", "test",
        "6f0ea2dc6d6fabbcce601040c7b8056f44981ae600a3123c28f53b19d08d8738",
        "d2a3e816cd03d13412cc1a48671865037addc3f26e6bbf5497ac92cfa0c83952",
        "piles of 2-10 held-out procedurally generated objects, upright 4-D grasps on the pile's box; physics v1"),
    "clutter-6d-test-v1": (
        "grasp_envs/GraspClutter6D-v1", {"dims": 6, "split": "test"}, "clutter-random", "test",
        "63e239363a9b024c7835b4559fcf709a0e7584aa8720611ad6b22f7033d29ae3",
        "d2a3e816cd03d13412cc1a48671865037addc3f26e6bbf5497ac92cfa0c83952",
        "piles of 2-10 held-out procedurally generated objects, 6-D grasps on the pile's box; physics v1"),
    "clutter-ycb-4d-test-v1": (
        "grasp_envs/GraspClutter4D-v1", {"dims": 4, "split": "test", "objects": "ycb", "graspable_rule": "top"},
        "clutter-ycb", "test", None, None,
        "piles of 2-10 held-out YCB objects (needs `grasp-envs download ycb`), upright 4-D grasps on the pile's box; "
        "physics v1"),
}

#: Version 1 and later tasks: the scenes (objects, entropy) of their version 0, but every
#: evaluation seed resets them with its own reset seeds (BenchmarkTask.per_seed_resets); the
#: "trained" family replays its training scenes exactly.
_PER_SEED_RESETS = frozenset(n for n in _DEFINITIONS
                             if not n.endswith("-v0") and not n.startswith("random-4d-trained-"))

TASKS: dict[str, BenchmarkTask] = {}


def _build() -> None:
    for name, (env_id, kwargs, object_set, split, fp, oc, desc, *data_seed) in _DEFINITIONS.items():
        TASKS[name] = BenchmarkTask(
            name=name, env_id=env_id, env_kwargs=kwargs, object_set=object_set, split=split,
            scene_entropy=_ENTROPY[(object_set, split)], description=desc, fingerprint=fp, object_checksum=oc,
            training_data_seed=data_seed[0] if data_seed else None, per_seed_resets=name in _PER_SEED_RESETS,
        )


_build()


def registered_env_ids() -> list[str]:
    import gymnasium as gym

    import grasp_envs  # noqa: F401

    return sorted(k for k in gym.registry if k.startswith("grasp_envs/"))


def available_task_names() -> list[str]:
    return [n for n, t in TASKS.items() if t.available]


def get_task(name: str) -> BenchmarkTask:
    """The frozen task ``name``; unknown names get a "did you mean" or a newer-version hint."""
    if name in TASKS:
        return TASKS[name]
    m = _NAME.match(name)
    if m:
        versions = sorted(t.version for t in TASKS.values() if t.family == m["family"])
        if versions:
            known = ", ".join(f"{m['family']}-v{v}" for v in versions)
            raise ValueError(f"task {name!r} has no version {m['version']}; available: {known}")
    close = difflib.get_close_matches(name, list(TASKS), n=3)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown task {name!r}.{hint} Known tasks: {', '.join(TASKS)} (`grasp-envs evaluate --list-tasks`)")
