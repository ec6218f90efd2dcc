"""Grasping procedurally generated random objects (Tobin et al. 2017, section III.A.1)."""

from __future__ import annotations

from grasp_envs.envs.grasp_env import GraspEnv
from grasp_envs.objects import GraspObject, PrimitiveBank, RandomObjectConfig, default_bank, generate_random_object

#: Object seeds of the two splits never overlap: train in [0, 1e9), test in [1e9, 1.1e9).
TRAIN_SEEDS = (0, 1_000_000_000)
TEST_SEEDS = (1_000_000_000, 1_100_000_000)


class GraspRandomEnv(GraspEnv):
    """
    ## Description
    One-shot grasping of a procedurally generated random object with a disembodied Fetch-like
    parallel-jaw gripper in MuJoCo.  Each object is built from 1-15 convex primitives (scaled to
    1-15 cm, each touching an earlier one) and rescaled to the size distribution of YCB objects,
    dropped in a random orientation on a table and settled.  The agent sees overhead depth and
    chooses one grasp on a discretised grid relative to the object's bounding box; the gripper
    closes, lifts 30 cm and holds.  Grasps that penetrate the table or object, or whose fingers
    would close on air, are rejected instantly without physics.

    ## Action Space
    ``MultiDiscrete([20] * dims)``.  4-D: (x, y, z, yaw), gripper upright approaching from above.
    6-D: (x, y, z, roll, pitch, yaw).  Position bins span the object's axis-aligned bounding box
    (0 = minimum side, 19 = maximum side); yaw bins cover [0, pi) in steps of pi/20; roll and pitch
    bins cover [-pi/4, pi/4].  The single encode/decode is :class:`grasp_envs.grid.GraspGrid`.

    ## Observation Space
    ``Dict(depth=Box(0, 2, (n_cameras, 64, 64), float32), bbox=Box((2, 3), float32))``: overhead depth
    in metres (ray cast, no OpenGL) centred over the object, and the object's bounding box in the
    table frame.  The ``privileged`` mode adds ``object_pose``; the sensor presets ``pointcloud``,
    ``rgbd``, ``segmentation`` and ``all`` add ``point_cloud`` (grid frame) with its mask, ``rgb`` and
    ``segmentation`` beside the depth (docs/observations.md).  See
    :class:`grasp_envs.envs.observations.ObservationConfig`.

    ## Rewards
    1.0 if the object was lifted with the gripper (rose at least 25 cm of the 30 cm lift), else 0.0.

    ## Starting State
    A new object from the split's seed range in a random orientation, settled on the table.

    ## Episode End
    Terminates on success.  A failed grasp ends the episode when it used the last of
    ``max_attempts`` (default 1): with one attempt the grasp is the episode (``terminated``); with
    several the attempt budget is a time limit (``truncated``, from v1; v0 reports ``terminated``).

    ## Arguments
    ``dims`` (4 or 6), ``split`` ("train" or "test": disjoint object seeds), ``max_attempts``
    (grasps per object; after a failure the object stays where it ended up), ``observation``
    (:class:`ObservationConfig` or dict), ``sim`` (:class:`grasp_envs.sim.SimConfig` or dict),
    ``object_config`` (:class:`RandomObjectConfig` or dict), ``primitive_bank`` (path to a bank
    ``.npz`` or ``None`` for the embedded default), ``render_mode`` (``"rgb_array"``),
    ``randomization`` (:class:`grasp_envs.envs.randomization.RandomizationConfig` or dict; off by
    default) and ``physics_version`` (set by the id: ``-v1`` simulates version 1).
    ``reset(options={"object_seed": k})`` picks a specific object of the split.

    ## Version History
    * v1: exact mass and inertia of the union of the object's parts; the approach from 10 cm back
      is checked (``blocked_approach`` rejections); running out of several attempts is
      ``truncated``.  See :mod:`grasp_envs.envs.physics`.
    * v0: initial release (the development physics; kept loadable).
    """

    def __init__(self, *, object_config: RandomObjectConfig | dict | None = None,
                 primitive_bank: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(object_config, RandomObjectConfig):
            self.object_config = object_config
        else:  # a dict overrides the physics version's own object settings
            self.object_config = RandomObjectConfig(**{"volume": self.physics.object_volume, **(object_config or {})})
        self.primitive_bank = None if primitive_bank is None else PrimitiveBank.load(primitive_bank)

    def object_seed_range(self) -> tuple[int, int]:
        return TRAIN_SEEDS if self.split == "train" else TEST_SEEDS

    def make_object(self, object_seed: int) -> GraspObject:
        return generate_random_object(object_seed, self.primitive_bank, self.object_config)

    def object_pipeline(self) -> dict:
        bank = self.primitive_bank if self.primitive_bank is not None else default_bank()
        return {"random_objects": self.object_config.to_dict(), "primitive_bank": bank.digest}
