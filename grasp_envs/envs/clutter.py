"""Grasping in clutter: a pile of 2-10 objects (random, YCB or scanned), success is lifting any one of them."""

from __future__ import annotations

from typing import Any

import numpy as np

from grasp_envs.envs.object_sets import GraspScannedEnv, GraspYCBEnv
from grasp_envs.envs.observations import ObservationConfig
from grasp_envs.envs.random_objects import GraspRandomEnv
from grasp_envs.objects import GraspObject
from grasp_envs.objects.procedural import random_rotation
from grasp_envs.sim import SimulationError
from grasp_envs.sim.clutter import DROP_GAP, MAX_OBJECTS, REST_WINDOW, ClutterSimulator

#: The clutter envs' default cameras: the single-object envs' with a 50 degree field of view,
#: which sees a 65 cm square from 0.7 m (piles of YCB-sized objects spread 30-60 cm).
CLUTTER_OBSERVATION = {"fovy": 50.0}
#: Fresh drops (new orientations and positions, same objects) tried when a pile does not come to rest.
DROP_TRIES = 3
#: Spawn key of the scene's own random stream (object count and seeds) under its object seed.
_SCENE_KEY = 0xC1
#: Where a pile's objects come from (``objects=``): the procedural generator, or a downloaded set
#: loaded by its single-object env (same split rule, object list, decomposition cache and masses).
OBJECT_SOURCES = {"random": None, "ycb": GraspYCBEnv, "scanned": GraspScannedEnv}
#: Scene seeds of piles of a downloaded set (both splits: the split is in the object list).
SET_SCENE_SEEDS = (0, 1_000_000_000)


def _n_range(n_objects) -> tuple[int, int]:
    if isinstance(n_objects, (int, np.integer)) and not isinstance(n_objects, bool):
        lo = hi = int(n_objects)
    else:
        try:
            lo, hi = (int(v) for v in n_objects)
        except (TypeError, ValueError):
            raise ValueError(f"n_objects must be an int or a [low, high] pair, got {n_objects!r}") from None
    if not 1 <= lo <= hi <= MAX_OBJECTS:
        raise ValueError(f"n_objects must satisfy 1 <= low <= high <= {MAX_OBJECTS}, got {n_objects!r} "
                         f"(e.g. n_objects=[2, 10])")
    return lo, hi


class GraspClutterEnv(GraspRandomEnv):
    """
    ## Description
    One-shot grasping in clutter: 2-10 objects are dropped one at a time, each in a random orientation over a
    random point within ``drop_radius`` of the table centre, onto the settled pile of those before
    it.  The agent sees overhead depth of the pile and chooses one grasp on the grid relative to
    the pile's bounding box; the gripper closes, lifts 30 cm and holds.  Success is lifting any
    one object (the single-object rule, per object).  ``objects="random"`` (default) draws
    procedurally generated objects (the random-object envs' generator and seed splits);
    ``objects="ycb"`` or ``"scanned"`` draws downloaded objects exactly as ``GraspYCB`` /
    ``GraspScanned`` do (their object list, train/test split by id hash, masses and decomposition
    cache under ``root``), distinct within a pile while the split has enough of them.  Grasps whose open gripper penetrates the
    table or any object, whose approach from 10 cm back is blocked by either, or whose fingers
    would close on air (touching no object) are rejected without physics.

    ## Action Space
    ``MultiDiscrete([20] * dims)`` as in the single-object envs (:class:`grasp_envs.grid.GraspGrid`),
    with the position bins spanning the axis-aligned bounding box of the whole pile (the box a
    robot segments out of the table plane; see docs/clutter.md for why not one object's box).

    ## Observation Space
    ``Dict(depth=Box(0, 2, (n_cameras, 64, 64), float32), bbox=Box((6,), float32))``: overhead depth
    centred over the pile, with a 50 degree field of view by default (a 65 cm square from 0.7 m),
    and the pile's bounding box.  The ``privileged`` mode (one object's pose) does not apply.

    ## Rewards
    1.0 if some object was lifted with the gripper (rose at least 25 cm of the 30 cm lift and is
    held), else 0.0.

    ## Starting State
    A new pile: the number of objects drawn from ``n_objects`` and the objects drawn from the
    split by the scene's object seed; their orientations and drop points from the episode seed.
    A pile that does not come to rest is dropped afresh (new orientations and points, the same
    objects), up to 3 times.

    ## Episode End
    As the single-object envs: terminates after the grasp (or on success with ``max_attempts``
    > 1, when a failure using the last attempt is ``truncated``).

    ## Arguments
    ``n_objects`` (int or ``[low, high]``, default ``[2, 10]``), ``drop_radius`` (m, default 0.05),
    ``objects`` ("random", "ycb" or "scanned"), and every argument of the random-object envs
    (``dims``, ``split``, ``max_attempts``, ``observation``, ``sim``, ``object_config``,
    ``primitive_bank``, ``render_mode``; the last two only with random objects).  With
    ``objects="ycb"``/``"scanned"`` also ``root`` (the processed data root of ``grasp-envs
    download``), ``object_ids`` and ``graspable_rule``, as :class:`GraspYCBEnv` takes them (``split``
    defaults to "train", or to every object given with ``object_ids``).
    ``reset(options={"object_seed": k})`` picks the scene whose object count and objects seed
    ``k`` draws; ``info["object_seed"]`` is that scene seed (the cluster of repeated scenes).

    ## Version History
    * v1: initial release, on physics version 1 (:mod:`grasp_envs.envs.physics`).
    * v0: the clutter task on the development physics (version 0), for comparison with the v0 envs.
    """

    def __init__(self, *, n_objects=(2, 10), drop_radius: float = 0.05, objects: str = "random",
                 root: str | None = None, object_ids: list[str] | None = None, graspable_rule: str = "box",
                 observation: ObservationConfig | dict | None = None, split: str | None = None, **kwargs) -> None:
        if objects not in OBJECT_SOURCES:
            raise ValueError(f"objects must be one of {sorted(OBJECT_SOURCES)}, got {objects!r} "
                             "(e.g. objects='ycb', root='PATH' after `grasp-envs download ycb --root PATH`)")
        if objects == "random":
            given = [k for k, v in (("root", root), ("object_ids", object_ids)) if v is not None]
            if graspable_rule != "box":
                given.append("graspable_rule")
            if given:
                raise ValueError(f"{', '.join(given)} choose downloaded objects; pass objects='ycb' or 'scanned' "
                                 "with them, or drop them for random objects")
        else:
            given = [k for k in ("object_config", "primitive_bank") if kwargs.get(k) is not None]
            if given:
                raise ValueError(f"{', '.join(given)} configure random objects and do not apply to objects="
                                 f"{objects!r}; drop them or use objects='random'")
        if not isinstance(observation, ObservationConfig):
            observation = {**CLUTTER_OBSERVATION, **(observation or {})}
        super().__init__(observation=observation, split="train" if split is None else split, **kwargs)
        self.objects_source = objects
        #: The single-object env whose objects the pile draws (``None``: random objects).
        self.object_source = None
        if objects != "random":
            self.object_source = OBJECT_SOURCES[objects](
                root=root, object_ids=object_ids, graspable_rule=graspable_rule, dims=self.grid.dims,
                split=split, physics_version=self.physics.version)
            self.split = self.object_source.split
        if self.obs_config.mode == "privileged":
            raise ValueError("observation mode 'privileged' gives one object's pose and does not apply to a pile; "
                             "use observation={'mode': 'depth'}")
        self.n_objects = _n_range(n_objects)
        if not 0 <= float(drop_radius) <= 0.3:
            raise ValueError(f"drop_radius must lie in [0, 0.3] m, got {drop_radius}")
        self.drop_radius = float(drop_radius)
        self.objects: tuple[GraspObject, ...] = ()
        self.object_seeds: tuple[int, ...] = ()
        self.drop_tries = 0

    # ----------------------------------------------------------------- scenes
    def object_seed_range(self) -> tuple[int, int]:
        """Half-open range of scene seeds (``reset(options={"object_seed": k})``).

        Random piles use the split's object seed range (a scene seed is one of the split's
        seeds); piles of a downloaded set use :data:`SET_SCENE_SEEDS` whatever the split, whose
        objects are the split's list.
        """
        return super().object_seed_range() if self.object_source is None else SET_SCENE_SEEDS

    def pile_object_range(self) -> tuple[int, int]:
        """Half-open range of the seeds (random) or list indices (a set) of a pile's objects."""
        return super().object_seed_range() if self.object_source is None else self.object_source.object_seed_range()

    def make_object(self, object_seed: int) -> GraspObject:
        if self.object_source is None:
            return super().make_object(object_seed)
        return self.object_source.make_object(object_seed)

    def scene_objects(self, scene_seed: int) -> tuple[int, ...]:
        """Object seeds of the scene ``scene_seed``: its count from ``n_objects``, seeds from the split.

        Random objects are drawn independently from the split's billion seeds; a downloaded set's
        objects are drawn without repetition (in rounds of the whole list when the pile holds
        more objects than the split).
        """
        rng = np.random.default_rng(np.random.SeedSequence(int(scene_seed), spawn_key=(_SCENE_KEY,)))
        lo, hi = self.pile_object_range()
        n = int(rng.integers(self.n_objects[0], self.n_objects[1] + 1))
        if self.object_source is None:
            return tuple(int(s) for s in rng.integers(lo, hi, size=n))
        rounds = np.concatenate([rng.permutation(hi - lo) for _ in range(-(-n // (hi - lo)))])
        return tuple(lo + int(s) for s in rounds[:n])

    def scene_record(self, scene_seed: int) -> GraspObject:
        """The pile record (:meth:`pile_record`) of scene ``scene_seed``, without physics: what
        ``reset(options={"object_seed": scene_seed})`` puts in ``env.object``."""
        return self.pile_record(tuple(self.make_object(s) for s in self.scene_objects(scene_seed)))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        import gymnasium as gym

        gym.Env.reset(self, seed=seed)
        options = dict(options or {})
        lo, hi = self.object_seed_range()
        if "object_seed" in options:
            scene_seed = int(options.pop("object_seed"))
            if not lo <= scene_seed < hi:
                raise ValueError(f"object_seed {scene_seed} is outside the {self.split!r} split's range [{lo}, {hi})")
        else:
            scene_seed = int(self.np_random.integers(lo, hi))
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; supported: ['object_seed']")
        self.object_seed = scene_seed
        self.object_seeds = self.scene_objects(scene_seed)
        self.objects = tuple(self.make_object(s) for s in self.object_seeds)
        self.object = self.pile_record(self.objects)
        k = len(self.objects)
        for self.drop_tries in range(1, DROP_TRIES + 1):
            orientations = np.stack([random_rotation(self.np_random) for _ in range(k)])
            positions = self.np_random.uniform(-self.drop_radius, self.drop_radius, size=(k, 2))
            try:
                self.simulator = ClutterSimulator(self.objects, self.sim_config, orientations=orientations,
                                                  positions=positions, nthread=self.nthread)
                break
            except SimulationError:
                if self.drop_tries == DROP_TRIES:
                    raise
        self._attempt = 0
        self._last_pose = None
        self._bounds = self.obs_config.noisy_bounds(self.simulator.object_bounds, self.np_random)
        self._last_obs = self._observation()
        return self._copy_obs(), self._info_base()

    @staticmethod
    def pile_record(objects: tuple[GraspObject, ...]) -> GraspObject:
        """One :class:`GraspObject` holding every object's parts, for records and digests only.

        Its name lists the objects (whose seeds fix their friction), its mass is the total;
        each object is simulated as its own body with its own mass and friction.
        """
        parts = tuple(p for o in objects for p in o.parts)
        return GraspObject(name="pile:" + ",".join(o.name for o in objects), parts=parts,
                           mass=float(sum(o.mass for o in objects)), friction=float(objects[0].friction),
                           source="clutter")

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        lifted = int(self.simulator.last_outcome.lifted_object[0])
        info["lifted_object"] = None if lifted < 0 else lifted
        return obs, reward, terminated, truncated, info

    def _info_base(self) -> dict[str, Any]:
        info = super()._info_base()
        info.update({
            "n_objects": len(self.objects),
            "object_seeds": list(self.object_seeds),
            "object_names": [o.name for o in self.objects],
            "objects_bounds": self.simulator.objects_bounds.copy(),
            "drop_tries": self.drop_tries,
        })
        return info

    def object_pipeline(self) -> dict:
        if self.object_source is None:
            objects = super().object_pipeline()
        else:  # the set, its selection and split; the objects' content is in a task's object checksum
            src = self.object_source
            objects = {"objects": self.objects_source, "graspable_rule": src.graspable_rule,
                       "split": src.split, "object_ids": list(src.object_ids)}
        return {**objects,
                "clutter": {"n_objects": list(self.n_objects), "drop_radius": self.drop_radius, "drop_gap": DROP_GAP,
                            "rest_window": REST_WINDOW, "drop_tries": DROP_TRIES}}
