"""Grasp simulation for a pile of objects: drop, settle, reject, execute.

:class:`ClutterSimulator` is :class:`~grasp_envs.sim.simulator.GraspSimulator` with several object
bodies (``object0`` ... ``object<k-1>``, built by :func:`grasp_envs.sim.scene.add_object`) in one
physics model and one probe model.  Everything that does not depend on how many objects there are
is the single-object simulator's own code: the gripper, the rejection (a contact of the open
gripper with any object part is ``penetrates_object``, the approach volume hitting any object or
the table is ``blocked_approach``, a closing sweep that touches no object part is
``closes_on_air``), the controls and rollouts, and the depth ray casting.

Per object:

* **Drop**: one object at a time, in its own orientation, its box centred over its own (x, y)
  and its bottom ``DROP_GAP`` above the highest settled object whose box overlaps its footprint
  (or the table); the pile settles before the next one comes (:meth:`ClutterSimulator.drop`).
* **Success**: the single-object rule for each object: some object's origin rose at least
  ``success_height`` (and not more than the lift plus 5 cm) and moves slower than
  ``held_speed`` at the end of the hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import mujoco
import numpy as np

from grasp_envs.grid import GraspPoses
from grasp_envs.objects import GraspObject
from grasp_envs.sim import gripper as G
from grasp_envs.sim.scene import (PhysicsOptions, add_gripper_sensors_and_view, add_object, add_object_sensors,
                                  add_probe_gripper, add_table, compile_spec, physics_spec)
from grasp_envs.sim.simulator import (GraspEnds, GraspOutcome, GraspSimulator, SimConfig, SimulationError, mat_to_quat,
                                      quat_to_mat, settle_bodies)

#: Vertical gap (m) between a dropped object's bottom and what lies under its footprint.
DROP_GAP = 0.01
#: Window (s) over which the pile's rest is judged (see ``ClutterSimulator._settle``).
REST_WINDOW = 0.5
#: Most objects in one pile.
MAX_OBJECTS = 10
#: Colours of the objects (cycled), for rendering only.
_PALETTE = ((0.2, 0.45, 0.8, 1), (0.85, 0.35, 0.2, 1), (0.3, 0.7, 0.3, 1), (0.85, 0.75, 0.2, 1),
            (0.6, 0.3, 0.7, 1), (0.2, 0.7, 0.75, 1), (0.9, 0.5, 0.65, 1), (0.5, 0.4, 0.3, 1))


def body_name(k: int) -> str:
    return f"object{k}"


def _check_objects(objects: Sequence[GraspObject]) -> tuple[GraspObject, ...]:
    objects = tuple(objects)
    if not 1 <= len(objects) <= MAX_OBJECTS:
        raise ValueError(f"a pile holds 1 to {MAX_OBJECTS} objects, got {len(objects)}")
    return objects


def _label(objects: Sequence[GraspObject]) -> GraspObject:
    """The first object, named for the whole pile (used only in error messages)."""
    return GraspObject(name="pile of " + ", ".join(o.name for o in objects), parts=objects[0].parts,
                       mass=objects[0].mass, friction=objects[0].friction)


def build_clutter_physics_model(objects: Sequence[GraspObject], options: PhysicsOptions) -> mujoco.MjModel:
    """Table, the objects (each its own free body of its own mass and friction), gripper, sensors."""
    objects = _check_objects(objects)
    spec = physics_spec("clutter_" + "_".join(o.name for o in objects), options)
    # Collision bits as in the single-object model: objects collide with the table, each other
    # and the gripper; the gripper with objects only.
    add_table(spec, contype=1, conaffinity=1)
    for k, obj in enumerate(objects):
        add_object(spec, obj, contype=1, conaffinity=3, with_mass=True, inertia=options.inertia,
                   name=body_name(k), rgba=_PALETTE[k % len(_PALETTE)])
    G.add_gripper(spec, contype=2, conaffinity=0)
    for k in range(len(objects)):
        add_object_sensors(spec, body_name(k))
    add_gripper_sensors_and_view(spec, view_distance=0.45)
    return compile_spec(spec, "physics", _label(objects))


def build_clutter_probe_model(objects: Sequence[GraspObject], *, approach_distance: float = 0.0) -> mujoco.MjModel:
    """Collision-only model of the pile (see :func:`grasp_envs.sim.scene.build_probe_model`)."""
    objects = _check_objects(objects)
    spec = mujoco.MjSpec()
    spec.modelname = "probe_clutter"
    add_table(spec, contype=1, conaffinity=1)
    for k, obj in enumerate(objects):
        add_object(spec, obj, contype=1, conaffinity=3, with_mass=False, name=body_name(k))
    add_probe_gripper(spec, approach_distance=approach_distance)
    return compile_spec(spec, "probe", _label(objects))


@dataclass(frozen=True)
class ClutterOutcome(GraspOutcome):
    """:class:`GraspOutcome` of grasps on a pile.

    ``lift`` is the rise of the lifted object (or, with none lifted, the largest rise of any
    object); ``final_object_qpos`` is (n, k, 7), every object's pose; ``lifted_object`` is the
    index of the object that was lifted and held (-1: none).
    """

    lifted_object: np.ndarray


class ClutterSimulator(GraspSimulator):
    """All grasping physics for a pile of objects on a table.

    Args:
        objects: The objects (1 to ``MAX_OBJECTS``).
        config: Physics and execution parameters (the single-object simulator's).
        orientations: Rotation (k, 3, 3) of each object before it is dropped; identity if ``None``.
        positions: Table (x, y) (k, 2) of each object's box centre when dropped; all at the table
            centre if ``None`` (then stacked).
        nthread: Threads for batched rollouts.
    """

    def __init__(self, objects: Sequence[GraspObject], config: SimConfig = SimConfig(), *,
                 orientations: np.ndarray | None = None, positions: np.ndarray | None = None,
                 nthread: int = 1) -> None:
        if config.staged:
            raise ValueError("SimConfig early_stop / adaptive_close are single-object options; a pile runs the "
                             "fixed-length grasp: turn them off (sim={'early_stop': False, 'adaptive_close': False})")
        self.objects = _check_objects(objects)
        k = len(self.objects)
        self.obj = _label(self.objects)
        self.config = config
        self.model = build_clutter_physics_model(self.objects, config.physics_options)
        self.data = mujoco.MjData(self.model)
        self.probe_model = build_clutter_probe_model(self.objects, approach_distance=config.approach_distance)
        self.probe_data = mujoco.MjData(self.probe_model)
        self.nthread = max(1, int(nthread))
        self._rollout_datas = [mujoco.MjData(self.model) for _ in range(self.nthread)]
        from mujoco import rollout

        self._rollout = rollout.Rollout(nthread=self.nthread if self.nthread > 1 else 0)
        m, pm = self.model, self.probe_model
        names = [body_name(i) for i in range(k)]
        self._objs_qadr = np.array([m.jnt_qposadr[m.joint(f"{n}_free").id] for n in names])
        self._objs_vadr = np.array([m.jnt_dofadr[m.joint(f"{n}_free").id] for n in names])
        self._sensor_objs = np.array([m.sensor_adr[m.sensor(f"{n}_pos").id] for n in names])
        self._sensor_vels = np.array([m.sensor_adr[m.sensor(f"{n}_vel").id] for n in names])
        self._probe_objs_qadr = np.array([pm.jnt_qposadr[pm.joint(f"{n}_free").id] for n in names])
        self._palm_qadr = m.jnt_qposadr[m.joint("palm_free").id]
        self._finger_qadr = [m.jnt_qposadr[m.joint(f"finger_{s}").id] for s in ("left", "right")]
        self._nstate = mujoco.mj_stateSize(m, mujoco.mjtState.mjSTATE_FULLPHYSICS)
        self._probe_table = pm.geom("table").id
        self._probe_sweep = pm.geom("sweep").id
        self._probe_solid = np.array([pm.geom(n).id for n in ("palm", "finger_left", "finger_right")])
        self._probe_approach = pm.geom("approach").id if config.approach_distance > 0 else -1
        self._probe_grip_qadr = pm.jnt_qposadr[pm.joint("gripper_free").id]
        self._geomgroup = np.array([1, 1, 1, 0, 0, 0], dtype=np.uint8)
        self.settle_steps = 0
        self.warning_count = 0
        #: Outcome of the latest :meth:`attempt` (for the env's info).
        self.last_outcome: ClutterOutcome | None = None
        R = np.tile(np.eye(3), (k, 1, 1)) if orientations is None else np.asarray(orientations, np.float64)
        xy = np.zeros((k, 2)) if positions is None else np.asarray(positions, np.float64)
        if R.shape != (k, 3, 3) or xy.shape != (k, 2):
            raise ValueError(f"orientations must be ({k}, 3, 3) and positions ({k}, 2), got {R.shape} and {xy.shape}")
        self.drop(R, xy)

    # ------------------------------------------------------------------ placement and settling
    def drop(self, orientations: np.ndarray, positions: np.ndarray) -> None:
        """Drop the objects one at a time, each onto the settled pile of those before it.

        Object ``i``, rotated by ``orientations[i]``, starts with its box centre over
        ``positions[i]`` and its bottom ``DROP_GAP`` above the highest settled object whose box
        overlaps its footprint (or the table); the pile then settles (:meth:`_settle`) before the
        next object comes.  Objects not yet dropped wait out of reach, held still.
        """
        k = len(self.objects)
        d = self.data
        mujoco.mj_resetData(self.model, d)
        self._park_gripper(d)
        self._set_objects(d, self._waiting_poses())
        steps = 0
        for i in range(k):
            R = orientations[i]
            verts = self.objects[i].vertices @ R.T
            lo, hi = verts.min(axis=0), verts.max(axis=0)
            xy, half = positions[i], (hi[:2] - lo[:2]) / 2
            floor = 0.0
            for j in range(i):
                box = self._world_box(j, d.qpos[self._objs_qadr[j] : self._objs_qadr[j] + 7])
                if np.all(np.abs((box[0, :2] + box[1, :2]) / 2 - xy) < (box[1, :2] - box[0, :2]) / 2 + half):
                    floor = max(floor, box[1, 2])
            a = self._objs_qadr[i]
            d.qpos[a : a + 3] = [xy[0] - (lo[0] + hi[0]) / 2, xy[1] - (lo[1] + hi[1]) / 2, floor + DROP_GAP - lo[2]]
            d.qpos[a + 3 : a + 7] = mat_to_quat(R)[0]
            self._settle(active=i + 1)
            steps += self.settle_steps
        self.settle_steps = steps
        self._finish_settle()

    def _waiting_poses(self) -> np.ndarray:
        """Poses of objects waiting to be dropped: far apart, high above the table, out of reach."""
        q = np.zeros((len(self.objects), 7))
        q[:, 0] = 3.0 + 1.0 * np.arange(len(self.objects))
        q[:, 2] = 5.0
        q[:, 3] = 1.0
        return q

    def _world_box(self, k: int, qpos: np.ndarray) -> np.ndarray:
        verts = self.objects[k].vertices @ quat_to_mat(qpos[3:]).T + qpos[:3]
        return np.stack([verts.min(axis=0), verts.max(axis=0)])

    def place(self, orientation: np.ndarray) -> None:  # the single-object API, for a pile
        raise TypeError("a pile is placed with drop(orientations, positions) (one per object)")

    def _set_objects(self, d: mujoco.MjData, qpos: np.ndarray) -> None:
        qpos = np.asarray(qpos, np.float64).reshape(len(self.objects), 7)
        for a, q in zip(self._objs_qadr, qpos):
            d.qpos[a : a + 7] = q

    def objects_qpos(self, d: mujoco.MjData | None = None) -> np.ndarray:
        """Every object's pose (k, 7) in ``d`` (default: the rest data)."""
        d = self.data if d is None else d
        return np.stack([d.qpos[a : a + 7] for a in self._objs_qadr])

    def _settle(self, active: int | None = None) -> None:
        """As the single-object settle, for the first ``active`` objects, judged over ``REST_WINDOW``.

        All of them must have moved less than ``rest_speed * REST_WINDOW`` (and turned less than
        ten times that in radians) over the same window; the others are held where they wait.
        Objects leaning on each other creep at a few mm/s under MuJoCo's soft contacts and
        chatter sub-millimetre; a 0.1 s window (the single object's) then rarely sees every
        object of a pile still at once, a 0.5 s window judges their mean speed.
        """
        m, d, cfg = self.model, self.data, self.config
        k = len(self.objects) if active is None else int(active)
        hold = list(zip(self._objs_qadr[k:], self._objs_vadr[k:]))
        self.settle_steps, at_rest = settle_bodies(m, d, cfg, self._objs_qadr[:k], self._objs_vadr[:k],
                                                   [o.mass for o in self.objects[:k]], window=REST_WINDOW, hold=hold)
        self._check_settled(at_rest)

    _SETTLING = "the pile "

    def _record_rest(self) -> None:
        #: Every object's rest pose (k, 7).
        self.object_qpos = self.objects_qpos()
        #: Each object's axis-aligned box (k, 2, 3); ``object_bounds`` is the pile's box.
        self.objects_bounds = np.stack([self._world_box(i, q) for i, q in enumerate(self.object_qpos)])
        self.object_bounds = np.stack([self.objects_bounds[:, 0].min(axis=0), self.objects_bounds[:, 1].max(axis=0)])
        sunk = self.objects_bounds[:, 0, 2].min()
        if sunk < -0.005:
            raise SimulationError(f"{self.obj.name}: an object sank {-sunk * 1000:.1f} mm into the table")
        for a, q in zip(self._probe_objs_qadr, self.object_qpos):
            self.probe_data.qpos[a : a + 7] = q

    def set_rest_pose(self, qpos: np.ndarray) -> None:
        """Put the objects exactly at ``qpos`` (k, 7), taken to be at rest: no settling."""
        mujoco.mj_resetData(self.model, self.data)
        self._set_objects(self.data, qpos)
        self._finish_settle()

    def set_object_pose(self, qpos: np.ndarray) -> None:
        """Put the objects at ``qpos`` (k, 7), remove the gripper and let the pile settle again."""
        d = self.data
        mujoco.mj_resetData(self.model, d)
        self._park_gripper(d)
        self._set_objects(d, qpos)
        self._settle()
        self._finish_settle()

    # ------------------------------------------------------------------ physics
    def judge(self, ends: GraspEnds) -> ClutterOutcome:
        """The pile's success rule: some object is held (the single object's rule, per object);
        the lifted object is the highest held one."""
        n, cfg = len(ends.finite), self.config
        qpos, sensordata, finite = ends.qpos, ends.sensordata, ends.finite
        obj_qpos = np.stack([qpos[:, a : a + 7] for a in self._objs_qadr], axis=1)
        z = sensordata[:, self._sensor_objs + 2]
        vel = np.stack([sensordata[:, a : a + 3] for a in self._sensor_vels], axis=1)
        speed = np.linalg.norm(vel, axis=2)
        lifts = np.where(finite[:, None], z - self.object_qpos[None, :, 2], 0.0)
        held = (lifts >= cfg.success_height) & (lifts <= cfg.lift_height + 0.05) & (speed < cfg.held_speed)
        held &= finite[:, None]
        success = held.any(axis=1)
        lifted = np.where(success, np.argmax(np.where(held, lifts, -np.inf), axis=1), -1)
        lift = np.where(success, lifts[np.arange(n), np.maximum(lifted, 0)], lifts.max(axis=1))
        rest = np.broadcast_to(self.object_qpos, obj_qpos.shape)
        return ClutterOutcome(np.zeros(n, np.int8), success, lift, np.where(finite[:, None, None], obj_qpos, rest),
                              lifted.astype(np.int64))

    def _at_rest(self, rejection: np.ndarray) -> ClutterOutcome:
        n = len(rejection)
        return ClutterOutcome(rejection, np.zeros(n, bool), np.zeros(n), np.repeat(self.object_qpos[None], n, axis=0),
                              np.full(n, -1, np.int64))

    def attempt(self, poses: GraspPoses, *, backend=None, rejection: np.ndarray | None = None) -> ClutterOutcome:
        """Reject what can be rejected (any object, the table), simulate the rest (kept as ``last_outcome``)."""
        if backend is not None:
            raise ValueError("a pile runs on the C engine only (backend=None)")
        self.last_outcome = super().attempt(poses, rejection=rejection)
        return self.last_outcome
