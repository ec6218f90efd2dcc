"""Grasp simulation for one object: settle, reject, execute, observe.

:class:`GraspSimulator` compiles the physics and probe models of one object once (see
:mod:`grasp_envs.sim.scene`) and then evaluates any number of grasps on it:

1. **Rejection** (no physics): a grasp whose open gripper penetrates the table or the object, whose
   approach (the open gripper's sweep from the pre-grasp pose, ``approach_distance`` back along
   the approach axis) passes through either, or whose closing fingers would sweep through no part
   of the object, is rejected at once.
2. **Execution** (MuJoCo stepping): the gripper appears open at the grasp pose, the fingers close
   under force control until they stall, the gripper lifts 30 cm with a smooth profile and holds.
   Grasps run as open-loop batches through ``mujoco.rollout`` (optionally on several threads).
3. **Success**: at the end of the hold the object's origin has risen at least
   ``success_height`` (25 cm of the 30 cm lift) but not more than the lift plus 5 cm, and moves
   slower than ``held_speed``: it went up with the gripper and stays in it.

The simulator knows nothing of Gymnasium; the Gymnasium environments wrap it.
"""

from __future__ import annotations

import copy
import enum
import hashlib
import threading
import weakref
from dataclasses import asdict, dataclass, fields

import mujoco
import numpy as np
from mujoco import rollout

from grasp_envs.camera import CameraModel
from grasp_envs.grid import GraspPoses
from grasp_envs.objects import GraspObject
from grasp_envs.sim import gripper as G
from grasp_envs.sim.scene import PhysicsOptions, build_physics_model, build_probe_model


class Rejection(enum.IntEnum):
    """Why a grasp was rejected without physics (``NONE``: it was simulated)."""

    NONE = 0
    PENETRATES_TABLE = 1
    PENETRATES_OBJECT = 2
    CLOSES_ON_AIR = 3
    BLOCKED_APPROACH = 4

    @property
    def reason(self) -> str | None:
        return None if self is Rejection.NONE else self.name.lower()


class SimulationError(RuntimeError):
    """The physics went wrong (object fell through the table, NaN, never came to rest)."""


@dataclass(frozen=True)
class SimConfig:
    """Physics and grasp-execution parameters.

    The defaults were chosen by measurement (``python -m benchmarks.timestep_agreement``):
    Newton solver, elliptic friction cones, ``impratio`` 3, a 2 ms step, 50 solver iterations.
    At 2 ms outcomes agree with a 1 ms reference about as often as the reference agrees with
    itself under a 0.5 mm grasp shift (uniformly drawn grasps on irregular objects are often
    marginal); 3-4 ms agree less.  ``impratio`` 10 at coarse steps makes friction spuriously
    sticky and lets light objects tumbling onto the table gain energy; 1 lets held objects creep.

    Attributes:
        timestep: Physics time step (s).
        iterations: Newton solver iterations per step.
        ls_iterations: Line-search iterations per solver iteration.
        impratio: Ratio of frictional to normal constraint impedance.
        close_time: Time the fingers get to close and stall (s); at 0.2 m/s each finger crosses
            its 50 mm travel in 0.25 s.
        lift_height: Height the gripper is raised (m), as in the paper.
        lift_time: Duration of the raised-cosine lift (s).
        hold_time: Time the gripper holds at the top before success is judged (s).
        success_height: The object must rise at least this much (m) to count as lifted.
        held_speed: ... and at the end of the hold move slower than this (m/s), and not have
            risen above the gripper's lift: an object squeezed out and flung upwards is not held.
        settle_time: Longest time the dropped object may take to come to rest (s).
        rest_speed: Linear (m/s) speed below which the object is at rest; angular limit is 10x (rad/s).
        inertia: The object body's mass distribution: ``"union"`` (uniform density over the
            union of its parts, exact: physics version 1) or ``"parts"`` (each part's mesh
            inertia at a mass proportional to its volume, overlaps counted twice: version 0).
        approach_distance: Length (m) of the approach checked by the rejection: the open gripper
            comes in along its approach axis from this far back, as the real arm does from its
            pre-grasp pose, and a grasp whose sweep hits the object or the table is rejected
            (``BLOCKED_APPROACH``).  0 disables the check (version 0).
        early_stop: Opt-in speed option (off in every published physics version): stop
            simulating a grasp once its failure is decided: the object has fallen more than
            ``lift_height - success_height`` + 6 cm behind the gripper's rise during the lift
            or hold (it was never picked up, or it slipped out), looked at every 50 ms.  The
            fingers' opening cannot decide an empty close: thin parts are held with the fingers
            past their closed limit, as measured.  Grasps then run one after another in the
            calling thread, each taking the batched rollout's steps bit for bit until stopped.
        adaptive_close: Opt-in speed option: the close ends at the first 50 ms chunk in which
            the fingers moved less than 0.2 mm (they stalled), not after ``close_time``
            (``close_time`` is then the longest close).
        cone: Friction cone, ``"elliptic"`` (every published version) or ``"pyramidal"``.
        multiccd: Multi-point convex contacts (every published version: on).

    The opt-in options enter the physics identity (:meth:`to_dict`) only where they differ
    from their defaults, so published versions keep their digests.
    """

    timestep: float = 0.002
    iterations: int = 50
    ls_iterations: int = 20
    impratio: float = 3.0
    close_time: float = 0.30
    lift_height: float = 0.30
    lift_time: float = 0.50
    hold_time: float = 0.20
    success_height: float = 0.25
    held_speed: float = 0.2
    settle_time: float = 8.0
    rest_speed: float = 0.005
    inertia: str = "union"
    approach_distance: float = 0.10
    early_stop: bool = False
    adaptive_close: bool = False
    cone: str = "elliptic"
    multiccd: bool = True

    def __post_init__(self) -> None:
        for name in ("timestep", "impratio", "close_time", "lift_height", "lift_time", "settle_time", "rest_speed"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SimConfig.{name} must be positive, got {getattr(self, name)}")
        if self.timestep > 0.02:
            raise ValueError(f"SimConfig.timestep {self.timestep} s is too coarse for contact (use <= 0.02)")
        if not 0 < self.success_height <= self.lift_height:
            raise ValueError(f"success_height must lie in (0, lift_height], got {self.success_height}")
        if self.iterations < 1 or self.ls_iterations < 1:
            raise ValueError("iterations and ls_iterations must be at least 1")
        if self.inertia not in ("union", "parts"):
            raise ValueError(f"SimConfig.inertia must be 'union' or 'parts', got {self.inertia!r}")
        if not 0 <= self.approach_distance <= 1.0:
            raise ValueError(f"SimConfig.approach_distance must lie in [0, 1] m, got {self.approach_distance}")
        if self.cone not in ("elliptic", "pyramidal"):
            raise ValueError(f"SimConfig.cone must be 'elliptic' or 'pyramidal', got {self.cone!r}")

    @property
    def physics_options(self) -> PhysicsOptions:
        return PhysicsOptions(self.timestep, self.iterations, self.ls_iterations, self.impratio, cone=self.cone,
                              multiccd=self.multiccd, inertia=self.inertia)

    @property
    def n_close(self) -> int:
        return int(round(self.close_time / self.timestep))

    @property
    def n_lift(self) -> int:
        return int(round(self.lift_time / self.timestep))

    @property
    def n_hold(self) -> int:
        return int(round(self.hold_time / self.timestep))

    @property
    def staged(self) -> bool:
        """Whether grasps run staged (an opt-in option that decides grasps early is on)."""
        return self.early_stop or self.adaptive_close

    def to_dict(self) -> dict:
        """The fields; the opt-in speed options only where they are on (identities stay)."""
        out = asdict(self)
        for name, default in _OPT_IN_DEFAULTS.items():
            if out[name] == default:
                del out[name]
        return out


#: Fields added after physics version 1 was published, with the values every published version
#: has; :meth:`SimConfig.to_dict` leaves them out at these values.
_OPT_IN_DEFAULTS = {"early_stop": False, "adaptive_close": False, "cone": "elliptic", "multiccd": True}


@dataclass(frozen=True)
class GraspOutcome:
    """Outcomes of a batch of grasps (arrays of length n).

    Attributes:
        rejection: :class:`Rejection` code per grasp (0 = simulated).
        success: The object was lifted.
        lift: Rise of the object's origin at the end of the hold (m); 0 for rejected grasps.
        final_object_qpos: Object pose (pos, quat) at the end of each simulated grasp; the
            settled pose for rejected grasps.
    """

    rejection: np.ndarray
    success: np.ndarray
    lift: np.ndarray
    final_object_qpos: np.ndarray

    def __len__(self) -> int:
        return len(self.success)

    @property
    def reasons(self) -> list[str | None]:
        return [Rejection(int(r)).reason for r in self.rejection]


@dataclass(frozen=True)
class GraspEnds:
    """Where an engine's stepping left a batch of grasps on one object (arrays of length n):
    what :meth:`GraspSimulator.judge` needs to decide success.

    Attributes:
        qpos: Final ``qpos`` of each grasp's world, (n, nq).
        sensordata: Final sensor readings, (n, nsensordata).
        finite: The world's state stayed finite (no blow-up).
        stopped: Grasps an early-stop rule decided failed (``SimConfig.staged``), or ``None``.
    """

    qpos: np.ndarray
    sensordata: np.ndarray
    finite: np.ndarray
    stopped: np.ndarray | None = None


def attempt_many(sims, poses, *, backend=None, rejections=None) -> list[GraspOutcome]:
    """:meth:`GraspSimulator.attempt` of ``poses[b]`` on ``sims[b]``, every simulator's survivors
    stepped together by ``backend`` (``None``: each simulator's own C engine).

    The one place the phases meet: rejection (each simulator's :meth:`~GraspSimulator.reject`,
    or ``rejections`` where already known), stepping of the grasps that were not rejected, the
    success rule (:meth:`~GraspSimulator.judge`), and rejected grasps left at rest.
    """
    if len(poses) != len(sims):
        raise ValueError(f"attempt_many takes one GraspPoses per object: {len(sims)}, got {len(poses)}")
    if rejections is None:
        rejections = [None] * len(sims)
    rejections = [sim.reject(p) if r is None else np.asarray(r) for sim, p, r in zip(sims, poses, rejections)]
    live = [np.flatnonzero(r == Rejection.NONE) for r in rejections]
    todo = [b for b, i in enumerate(live) if len(i)]
    if backend is None:
        ends = [sims[b].step_grasps(poses[b][live[b]]) for b in todo]
    else:  # called with nothing to step too, so its statistics speak of this call
        ends = backend.step_many([sims[b] for b in todo], [poses[b][live[b]] for b in todo])
    stepped = dict(zip(todo, ends))
    out = []
    for b, (sim, rej) in enumerate(zip(sims, rejections)):
        res = sim._at_rest(rej)
        if b in stepped:
            judged, i = sim.judge(stepped[b]), live[b]
            for f in fields(res):
                if f.name != "rejection":
                    getattr(res, f.name)[i] = getattr(judged, f.name)
        out.append(res)
    return out


def mat_to_quat(R: np.ndarray) -> np.ndarray:
    """MuJoCo (w, x, y, z) quaternions for rotation matrices (n, 3, 3)."""
    R = np.asarray(R, dtype=np.float64).reshape(-1, 3, 3)
    q = np.empty((len(R), 4))
    for i in range(len(R)):
        mujoco.mju_mat2Quat(q[i], R[i].ravel())
    return q


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    m = np.empty(9)
    mujoco.mju_quat2Mat(m, np.asarray(q, dtype=np.float64))
    return m.reshape(3, 3)


def settle_bodies(m: mujoco.MjModel, d: mujoco.MjData, cfg: "SimConfig", qpos_adr, dof_adr, masses, *,
                  window: float = 0.1, hold=()) -> tuple[int, bool]:
    """Step until the free bodies at ``qpos_adr``/``dof_adr`` are at rest: (steps taken, at rest).

    Velocity damping (``0.5 * mass + 0.01`` per dof) is added after 1 s so rollers stop, and
    ``impratio`` is 1 while settling.  At rest means: over the last ``window`` seconds every body
    moved less than ``rest_speed * window`` m and turned less than ten times that in rad.
    (Judging by pose over a window, not by instantaneous velocity, ignores the sub-millimetre
    contact chatter of flat objects.)  ``hold`` lists ``(qpos_adr, dof_adr)`` of free bodies kept
    where they are (zero velocity) throughout.  The model's damping and impratio are restored.
    """
    d.qvel[:] = 0
    d.time = 0.0
    steps_per_window = max(1, int(round(window / cfg.timestep)))
    n_max = int(round(cfg.settle_time / cfg.timestep))
    damping_from = int(round(1.0 / cfg.timestep))
    dofs = [slice(v, v + 6) for v in dof_adr]
    qs = [slice(a, a + 7) for a in qpos_adr]
    held = [(slice(a, a + 7), d.qpos[a : a + 7].copy(), slice(v, v + 6)) for a, v in hold]
    base_damping = [m.dof_damping[s].copy() for s in dofs]
    base_impratio = m.opt.impratio
    # Settling uses impratio 1: a light, irregular object tumbling onto the table with stiff
    # friction (impratio 10) gains energy from contact and can fly off (measured).
    m.opt.impratio = 1.0
    steps = 0
    at_rest = False
    refs = [d.qpos[q].copy() for q in qs]
    max_move = cfg.rest_speed * steps_per_window * cfg.timestep
    try:
        while steps < n_max and not at_rest:
            if steps == damping_from:
                for s, mass in zip(dofs, masses):
                    m.dof_damping[s] = 0.5 * mass + 0.01
            if held:
                mujoco.mj_step(m, d)
                for q, value, v in held:
                    d.qpos[q] = value
                    d.qvel[v] = 0
                k = 1
            else:  # up to the next check or the damping step in one call: the same steps
                k = steps_per_window - steps % steps_per_window
                if steps < damping_from:
                    k = min(k, damping_from - steps)
                k = min(k, n_max - steps)
                mujoco.mj_step(m, d, k)
            steps += k
            if steps % steps_per_window == 0:
                at_rest = True
                for i, q in enumerate(qs):
                    now, ref = d.qpos[q], refs[i]
                    moved = np.linalg.norm(now[:3] - ref[:3])
                    turned = 2 * np.arccos(min(1.0, abs(float(np.dot(now[3:], ref[3:])))))
                    at_rest = at_rest and bool(moved < max_move and turned < 10 * max_move)
                    refs[i] = now.copy()
    finally:
        for s, base in zip(dofs, base_damping):
            m.dof_damping[s] = base
        m.opt.impratio = base_impratio
    return steps, at_rest


#: Per object (held weakly: an entry goes with its object): its compiled models and the rest
#: states it settled into, so a simulator of an object seen before compiles and settles nothing
#: again.  Outcomes never depend on it: a model is copied from the one its spec compiled to,
#: a rest state is the full integration state the same settling reached.
_SCENES: "weakref.WeakKeyDictionary[GraspObject, dict]" = weakref.WeakKeyDictionary()
_SCENES_LOCK = threading.Lock()
#: Rest states kept per object (distinct orientations, frictions or configurations); 0 turns
#: both caches off.
REST_STATES_PER_OBJECT = 16
_INTEGRATION = mujoco.mjtState.mjSTATE_INTEGRATION


def _scene_entry(obj: GraspObject) -> dict | None:
    if REST_STATES_PER_OBJECT <= 0:
        return None
    with _SCENES_LOCK:
        try:
            return _SCENES.setdefault(obj, {"models": {}, "rest": {}})
        except TypeError:  # an object type without weak references: no caching
            return None


class GraspSimulator:
    """All grasping physics for one object on a table.

    Args:
        obj: The object.
        config: Physics and execution parameters.
        orientation: Rotation (3 x 3) applied to the object before it is dropped on the table;
            identity if ``None``.
        nthread: Threads for batched rollouts (``mujoco.rollout``); outcomes do not depend on it.
        inertial: Explicit mass, centre and inertia of the object body (e.g. per-part densities,
            :func:`grasp_envs.objects.model.piecewise_mass_properties`); ``None``: from the object
            as ``config.inertia`` says.
        finger_friction: Sliding friction of finger-object contacts (:meth:`set_friction`), set
            before the object is dropped; ``None``: the object's friction.
        table_friction: Sliding friction of table-object contacts, likewise (it governs settling).
    """

    def __init__(self, obj: GraspObject, config: SimConfig = SimConfig(), *, orientation: np.ndarray | None = None,
                 nthread: int = 1, inertial=None, finger_friction: float | None = None,
                 table_friction: float | None = None) -> None:
        self.obj = obj
        self.config = config
        # Explicit mass properties (randomised densities) are drawn per scene: nothing to reuse.
        entry = _scene_entry(obj) if inertial is None else None
        self._scene = entry
        key = (config.physics_options, config.approach_distance)
        models = None if entry is None else entry["models"].get(key)
        if models is None:
            models = (build_physics_model(obj, config.physics_options, inertial=inertial),
                      build_probe_model(obj, approach_distance=config.approach_distance))
            if entry is not None:
                entry["models"][key] = models
        # The kept physics model stays pristine (this simulator may change its own copy: friction,
        # damping while settling); the probe model is only read, so it is shared.
        self.model = models[0] if entry is None else copy.copy(models[0])
        self.probe_model = models[1]
        self.data = mujoco.MjData(self.model)
        self.probe_data = mujoco.MjData(self.probe_model)
        self.nthread = max(1, int(nthread))
        self._rollout_datas_ = None  # made on the first rollout (rejected grasps need none)
        self._rollout = rollout.Rollout(nthread=self.nthread if self.nthread > 1 else 0)
        m = self.model
        self._obj_qadr = m.jnt_qposadr[m.joint("object_free").id]
        self._obj_vadr = m.jnt_dofadr[m.joint("object_free").id]
        self._palm_qadr = m.jnt_qposadr[m.joint("palm_free").id]
        self._finger_qadr = [m.jnt_qposadr[m.joint(f"finger_{s}").id] for s in ("left", "right")]
        self._sensor_obj = m.sensor_adr[m.sensor("object_pos").id]
        self._sensor_vel = m.sensor_adr[m.sensor("object_vel").id]
        self._nstate = mujoco.mj_stateSize(m, mujoco.mjtState.mjSTATE_FULLPHYSICS)
        pm = self.probe_model
        self._probe_table = pm.geom("table").id
        self._probe_sweep = pm.geom("sweep").id
        self._probe_solid = np.array([pm.geom(n).id for n in ("palm", "finger_left", "finger_right")])
        self._probe_approach = pm.geom("approach").id if config.approach_distance > 0 else -1
        self._probe_obj_qadr = pm.jnt_qposadr[pm.joint("object_free").id]
        self._probe_grip_qadr = pm.jnt_qposadr[pm.joint("gripper_free").id]
        self._geomgroup = np.array([1, 1, 1, 0, 0, 0], dtype=np.uint8)
        self.settle_steps = 0
        #: Physics steps of grasp rollouts so far (counted by the staged path only).
        self.steps_simulated = 0
        #: MuJoCo warnings (instability, NaN) raised during grasp rollouts so far.
        self.warning_count = 0
        if finger_friction is not None or table_friction is not None:
            self.set_friction(fingers=finger_friction, table=table_friction)
        self.place(np.eye(3) if orientation is None else orientation)

    _scene: dict | None = None
    _rollout_datas_: list | None = None
    _images: tuple | None = None
    steps_simulated = 0

    @property
    def _rollout_datas(self) -> list[mujoco.MjData]:
        if self._rollout_datas_ is None:
            self._rollout_datas_ = [mujoco.MjData(self.model) for _ in range(self.nthread)]
        return self._rollout_datas_

    @_rollout_datas.setter
    def _rollout_datas(self, datas: list[mujoco.MjData]) -> None:
        self._rollout_datas_ = datas

    def set_friction(self, *, fingers: float | None = None, table: float | None = None) -> None:
        """Set the sliding friction of the finger-object and table-object contacts (physics model only).

        The object's geoms have contact priority, so by default the object's own friction
        (``GraspObject.friction``) rules every contact it makes.  A surface given here takes
        priority over the object instead, carrying the object's other contact parameters (condim,
        solref, solimp, torsional and rolling friction), so only the sliding coefficient of its
        contacts changes: ``set_friction(fingers=obj.friction)`` simulates exactly what the
        default does.  The probe model (rejection, never stepped) is unaffected.  Settling has
        already happened when this is called after construction: pass ``table_friction`` to the
        constructor, or :meth:`place` the object again, for the table's friction to govern it.
        """
        m = self.model
        ref = m.geom("part0").id
        targets = {"fingers": (fingers, ("finger_left", "finger_right")), "table": (table, ("table",))}
        for what, (mu, names) in targets.items():
            if mu is None:
                continue
            if not (np.isfinite(mu) and mu > 0):
                raise ValueError(f"set_friction({what}=...) must be a positive friction coefficient, got {mu}")
            for name in names:
                g = m.geom(name).id
                m.geom_priority[g] = m.geom_priority[ref] + 1
                m.geom_condim[g] = m.geom_condim[ref]
                m.geom_solref[g] = m.geom_solref[ref]
                m.geom_solimp[g] = m.geom_solimp[ref]
                m.geom_friction[g] = [float(mu), *m.geom_friction[ref, 1:]]

    # ------------------------------------------------------------------ copying
    def __getstate__(self) -> dict:
        # The rollout runner holds threads and is rebuilt on unpickling; models and data pickle.
        state = dict(self.__dict__)
        state.pop("_rollout")
        state["_scene"] = state["_images"] = None  # the per-object cache is this process's
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        state.setdefault("_rollout_datas_", state.pop("_rollout_datas", None))
        state.setdefault("_scene", None)
        self.__dict__.update(state)
        self._rollout = rollout.Rollout(nthread=self.nthread if self.nthread > 1 else 0)

    # ------------------------------------------------------------------ placement and settling
    def _park_gripper(self, d: mujoco.MjData) -> None:
        d.qpos[self._palm_qadr : self._palm_qadr + 7] = [0, 0, 5.0, 1, 0, 0, 0]
        d.mocap_pos[0] = [0, 0, 5.0]
        d.mocap_quat[0] = [1, 0, 0, 0]
        for a in self._finger_qadr:
            d.qpos[a] = G.MAX_OPENING / 2
        d.ctrl[:] = G.FINGER_FORCE  # hold open

    def place(self, orientation: np.ndarray) -> None:
        """Drop the object in ``orientation`` onto the table centre and let it come to rest."""
        R = np.asarray(orientation, dtype=np.float64)
        verts = self.obj.vertices @ R.T
        lo, hi = verts.min(axis=0), verts.max(axis=0)
        pos = np.array([-(lo[0] + hi[0]) / 2, -(lo[1] + hi[1]) / 2, -lo[2] + 0.002])
        d = self.data
        mujoco.mj_resetData(self.model, d)
        self._park_gripper(d)
        d.qpos[self._obj_qadr : self._obj_qadr + 3] = pos
        d.qpos[self._obj_qadr + 3 : self._obj_qadr + 7] = mat_to_quat(R)[0]
        self._settle()

    def _rest_key(self) -> tuple | None:
        """What settling from the current data depends on: configuration, start state, model."""
        if self._scene is None:
            return None
        m, d = self.model, self.data
        h = hashlib.blake2b(digest_size=16)
        for a in (d.qpos, d.qvel, d.ctrl, d.mocap_pos, d.mocap_quat, m.geom_friction, m.geom_priority,
                  m.geom_condim, m.geom_solref, m.geom_solimp, m.geom_solmix, m.geom_margin, m.dof_damping,
                  m.body_mass, m.body_inertia, m.body_ipos, m.body_iquat, m.opt.gravity):
            h.update(np.ascontiguousarray(a).tobytes())
        return (self.config, h.digest())

    def _settle(self) -> None:
        """Step until the object is at rest (:func:`settle_bodies`); a rest state reached before
        from the same start is reused (the object's cache, :data:`REST_STATES_PER_OBJECT`)."""
        m, d, cfg = self.model, self.data, self.config
        key = self._rest_key()
        rest = None if key is None else self._scene["rest"].get(key)
        if rest is not None:
            self.settle_steps, state, images = rest
            mujoco.mj_setState(m, d, state, _INTEGRATION)
            self._finish_settle()
            self._images = (self._rest_state, images)
            return
        self.settle_steps, at_rest = settle_bodies(m, d, cfg, [self._obj_qadr], [self._obj_vadr], [self.obj.mass])
        self._check_settled(at_rest)
        if key is not None:
            state = np.empty(mujoco.mj_stateSize(m, _INTEGRATION))
            mujoco.mj_getState(m, d, state, _INTEGRATION)
            cache = self._scene["rest"]
            images: dict = {}
            cache[key] = (self.settle_steps, state, images)
            while len(cache) > REST_STATES_PER_OBJECT:
                cache.pop(next(iter(cache)))
            self._finish_settle()
            self._images = (self._rest_state, images)
            return
        self._finish_settle()

    #: What :meth:`_check_settled` says did not come to rest ("the pile " for a pile).
    _SETTLING = ""

    def _check_settled(self, at_rest: bool) -> None:
        """The settling errors (one wording for an object and a pile): NaN, or not at rest in time."""
        if not np.all(np.isfinite(self.data.qpos)):
            raise SimulationError(f"{self.obj.name}: NaN while settling on the table")
        if not at_rest:
            raise SimulationError(f"{self.obj.name}: {self._SETTLING}did not come to rest within "
                                  f"{self.config.settle_time} s")

    def _finish_settle(self) -> None:
        """Stop the settled scene, park the gripper and keep its rest (:meth:`_record_rest`, the rest state)."""
        d = self.data
        d.qvel[:] = 0
        d.qacc_warmstart[:] = 0
        self._park_gripper(d)
        mujoco.mj_forward(self.model, d)
        self._record_rest()
        self._rest_state = np.empty(self._nstate)
        mujoco.mj_getState(self.model, d, self._rest_state, mujoco.mjtState.mjSTATE_FULLPHYSICS)

    def _record_rest(self) -> None:
        """The object's rest pose and box from the settled data; its pose in the probe."""
        d = self.data
        self.object_qpos = d.qpos[self._obj_qadr : self._obj_qadr + 7].copy()
        R = quat_to_mat(self.object_qpos[3:])
        verts = self.obj.vertices @ R.T + self.object_qpos[:3]
        self.object_bounds = np.stack([verts.min(axis=0), verts.max(axis=0)])
        if self.object_bounds[0, 2] < -0.005:
            raise SimulationError(
                f"{self.obj.name}: object sank {-self.object_bounds[0, 2] * 1000:.1f} mm into the table"
            )
        self.probe_data.qpos[self._probe_obj_qadr : self._probe_obj_qadr + 7] = self.object_qpos

    def set_rest_pose(self, qpos: np.ndarray) -> None:
        """Put the object exactly at ``qpos`` (pos, quat), taken to be at rest: no settling.

        For comparing configurations on identical scenes (e.g. the timestep benchmark).
        """
        d = self.data
        mujoco.mj_resetData(self.model, d)
        d.qpos[self._obj_qadr : self._obj_qadr + 7] = qpos
        self._finish_settle()

    def set_object_pose(self, qpos: np.ndarray) -> None:
        """Put the object at ``qpos`` (pos, quat), remove the gripper and let it settle again."""
        d = self.data
        mujoco.mj_resetData(self.model, d)
        self._park_gripper(d)
        d.qpos[self._obj_qadr : self._obj_qadr + 7] = qpos
        self._settle()

    # ------------------------------------------------------------------ rejection
    def reject(self, poses: GraspPoses) -> np.ndarray:
        """Rejection code (:class:`Rejection`) for each grasp, without stepping physics."""
        m, d = self.probe_model, self.probe_data
        quat = mat_to_quat(poses.rotation)
        out = np.zeros(len(poses), dtype=np.int8)
        a = self._probe_grip_qadr
        table, sweep, approach = self._probe_table, self._probe_sweep, self._probe_approach
        solid_lo, solid_hi = self._probe_solid.min(), self._probe_solid.max()
        for i in range(len(poses)):
            d.qpos[a : a + 3] = poses.position[i]
            d.qpos[a + 3 : a + 7] = quat[i]
            mujoco.mj_kinematics(m, d)
            mujoco.mj_collision(m, d)
            touches = hits_table = hits_object = blocked = False
            for g in d.contact.geom[: d.ncon]:
                g1, g2 = int(g[0]), int(g[1])
                if g1 == sweep or g2 == sweep:
                    touches = True  # the sweep collides with object parts only
                elif g1 == approach or g2 == approach:
                    blocked = True
                elif solid_lo <= g1 <= solid_hi or solid_lo <= g2 <= solid_hi:
                    if g1 == table or g2 == table:
                        hits_table = True
                    else:
                        hits_object = True
            if hits_table:
                out[i] = Rejection.PENETRATES_TABLE
            elif hits_object:
                out[i] = Rejection.PENETRATES_OBJECT
            elif blocked:
                out[i] = Rejection.BLOCKED_APPROACH
            elif not touches:
                out[i] = Rejection.CLOSES_ON_AIR
        return out

    # ------------------------------------------------------------------ physics
    def _initial_states(self, poses: GraspPoses, quat: np.ndarray) -> np.ndarray:
        d = self._rollout_datas[0]
        mujoco.mj_setState(self.model, d, self._rest_state, mujoco.mjtState.mjSTATE_FULLPHYSICS)
        states = np.empty((len(poses), self._nstate))
        for i in range(len(poses)):
            d.qpos[self._palm_qadr : self._palm_qadr + 3] = poses.position[i]
            d.qpos[self._palm_qadr + 3 : self._palm_qadr + 7] = quat[i]
            d.mocap_pos[0] = poses.position[i]
            d.mocap_quat[0] = quat[i]
            mujoco.mj_getState(self.model, d, states[i], mujoco.mjtState.mjSTATE_FULLPHYSICS)
        return states

    def _controls(self, poses: GraspPoses, quat: np.ndarray) -> np.ndarray:
        cfg = self.config
        nc, nl, nh = cfg.n_close, cfg.n_lift, cfg.n_hold
        nstep = nc + nl + nh
        t = np.arange(1, nl + 1) / nl
        rise = np.concatenate([np.zeros(nc), cfg.lift_height * 0.5 * (1 - np.cos(np.pi * t)), np.full(nh, cfg.lift_height)])
        ctrl = np.empty((len(poses), nstep, 2 + 3 + 4))
        ctrl[:, :, 0:2] = -G.FINGER_FORCE
        ctrl[:, :, 2:5] = poses.position[:, None, :]
        ctrl[:, :, 4] += rise[None, :]
        ctrl[:, :, 5:9] = quat[:, None, :]
        return ctrl

    def _run(self, poses: GraspPoses) -> tuple[np.ndarray, np.ndarray]:
        """Roll out grasps from the rest state: final full-physics states and sensor data, (n, ...)."""
        quat = mat_to_quat(poses.rotation)
        init = self._initial_states(poses, quat)
        ctrl = self._controls(poses, quat)
        spec = mujoco.mjtState.mjSTATE_CTRL | mujoco.mjtState.mjSTATE_MOCAP_POS | mujoco.mjtState.mjSTATE_MOCAP_QUAT
        state, sensordata = self._rollout.rollout(
            self.model, self._rollout_datas, init, ctrl, control_spec=int(spec), skip_checks=False,
        )
        warnings = 0
        for d in self._rollout_datas:
            warnings += sum(int(w.number) for w in d.warning)
            for w in d.warning:
                w.number = 0
        self.warning_count += warnings
        return state[:, -1, :], sensordata[:, -1, :]

    def _run_staged(self, poses: GraspPoses) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_run` one grasp after another in this thread, deciding grasps early
        (``early_stop``, ``adaptive_close``).

        Each grasp takes the same steps as the batched rollout, bit for bit (its controls set
        before each ``mj_step``, the warm start carried), until a rule ends a phase or the grasp:
        a grasp that is never stopped ends exactly as :meth:`_run` ends it.  A stopped grasp keeps
        the state and sensors of the step that decided it, and :meth:`simulate` counts it failed.
        """
        cfg = self.config
        m, d = self.model, self._rollout_datas[0]
        quat = mat_to_quat(poses.rotation)
        n = len(poses)
        init = self._initial_states(poses, quat)
        final = np.empty((n, self._nstate))
        sens = np.empty((n, m.nsensordata))
        failed = np.zeros(n, bool)
        check = max(1, int(round(0.05 / cfg.timestep)))  # rules are looked at every 50 ms
        nc, nl, nh = cfg.n_close, cfg.n_lift, cfg.n_hold
        t = np.arange(1, nl + 1) / nl
        rise = cfg.lift_height * 0.5 * (1 - np.cos(np.pi * t))
        # Held objects can hang up to about 8 cm behind mid-lift and still end held (measured on
        # 51 successes: 5 + 3 cm); an object 11 cm behind has fallen out.
        lag_limit = cfg.lift_height - cfg.success_height + 0.06
        z0, zadr = self.object_qpos[2], self._sensor_obj + 2
        opening = m.sensor_adr[m.sensor("opening").id]
        full = mujoco.mjtState.mjSTATE_FULLPHYSICS
        steps = 0

        def lost() -> bool:
            return bool(cfg.early_stop and height - (d.sensordata[zadr] - z0) > lag_limit)

        for i in range(n):
            mujoco.mj_setState(m, d, init[i], full)
            d.qacc_warmstart[:] = 0
            d.ctrl[:] = -G.FINGER_FORCE
            x, y, z = poses.position[i]
            d.mocap_pos[0] = (x, y, z)
            d.mocap_quat[0] = quat[i]
            # Close: the fixed time, or until the fingers stall (adaptive_close).
            done = 0
            while done < nc:
                k = min(check, nc - done) if cfg.adaptive_close else nc - done
                before = float(d.sensordata[opening])
                mujoco.mj_step(m, d, k)
                done += k
                if cfg.adaptive_close and done > check and abs(float(d.sensordata[opening]) - before) < 2e-4:
                    break
            steps += done
            # Lift (the target moves every step) and hold, looking at the rules every 50 ms.
            height = 0.0
            for j in range(nl):
                height = rise[j]
                d.mocap_pos[0, 2] = z + height
                mujoco.mj_step(m, d)
                steps += 1
                if (j + 1) % check == 0 and lost():
                    failed[i] = True
                    break
            done = 0
            while not failed[i] and done < nh:
                k = min(check, nh - done)
                mujoco.mj_step(m, d, k)
                done += k
                failed[i] = lost()
            steps += done
            mujoco.mj_getState(m, d, final[i], full)
            sens[i] = d.sensordata
        self.steps_simulated += steps
        self.warning_count += sum(int(w.number) for w in d.warning)
        for w in d.warning:
            w.number = 0
        self._stopped = failed
        return final, sens

    def step_grasps(self, poses: GraspPoses) -> GraspEnds:
        """The C engine's stepping of grasps from the rest state (the default ``backend``):
        one batched rollout, or step by step where grasps can be decided early (``staged``)."""
        if self.config.staged:
            final, sensordata = self._run_staged(poses)
        else:
            final, sensordata = self._run(poses)
        qpos_off = 1  # FULLPHYSICS state starts with time, then qpos
        finite = np.all(np.isfinite(final), axis=1)
        self.unstable_count = int((~finite).sum())
        return GraspEnds(final[:, qpos_off : qpos_off + self.model.nq], sensordata, finite,
                         self._stopped if self.config.staged else None)

    def judge(self, ends: GraspEnds) -> GraspOutcome:
        """The success rule (every engine's): held means risen with the gripper, not above it,
        and still at the end of the hold; a grasp that blew up or was stopped failed."""
        cfg = self.config
        obj_qpos = ends.qpos[:, self._obj_qadr : self._obj_qadr + 7]
        z = ends.sensordata[:, self._sensor_obj + 2]
        speed = np.linalg.norm(ends.sensordata[:, self._sensor_vel : self._sensor_vel + 3], axis=1)
        finite = ends.finite
        lift = np.where(finite, z - self.object_qpos[2], 0.0)
        held = (lift >= cfg.success_height) & (lift <= cfg.lift_height + 0.05) & (speed < cfg.held_speed)
        success = finite & held
        if ends.stopped is not None:
            success &= ~ends.stopped
        return GraspOutcome(np.zeros(len(success), np.int8), success, lift,
                            np.where(finite[:, None], obj_qpos, self.object_qpos))

    def _at_rest(self, rejection: np.ndarray) -> GraspOutcome:
        """Outcomes of grasps that were not simulated: failed, the object left at rest."""
        n = len(rejection)
        return GraspOutcome(rejection, np.zeros(n, bool), np.zeros(n), np.tile(self.object_qpos, (n, 1)))

    def simulate(self, poses: GraspPoses, *, backend=None) -> GraspOutcome:
        """Execute grasps in physics regardless of rejection (use :meth:`attempt` normally)."""
        return attempt_many([self], [poses], backend=backend, rejections=[np.zeros(len(poses), np.int8)])[0]

    def attempt(self, poses: GraspPoses, *, backend=None, rejection: np.ndarray | None = None) -> GraspOutcome:
        """Reject what can be rejected, simulate the rest; outcomes for every grasp.

        Args:
            poses: The grasps.
            backend: What steps the surviving grasps: ``None`` for this simulator's C engine
                (:meth:`step_grasps`), or an engine with ``step_many(sims, poses) -> [GraspEnds]``
                (:class:`~grasp_envs.sim.warp_backend.WarpGraspBackend`).  The phases'
                controls, the rejection and the success rule (:meth:`judge`) are this simulator's.
            rejection: The :meth:`reject` codes where already known.
        """
        return attempt_many([self], [poses], backend=backend,
                            rejections=None if rejection is None else [rejection])[0]

    # ------------------------------------------------------------------ depth
    def _cast(self, camera: CameraModel, position: np.ndarray, rotation: np.ndarray, dirs_cam: np.ndarray,
              normal: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Geom ids (-1: miss) and optical-z depths (``far`` where missed) of the camera's rays."""
        vec = dirs_cam @ np.asarray(rotation).T
        n = len(vec)
        geomid = np.empty(n, np.int32)
        dist = np.empty(n)
        mujoco.mj_multiRay(self.model, self.data, np.asarray(position, np.float64), vec.ravel(), self._geomgroup,
                           1, -1, geomid, dist, normal, n, camera.far * 4)
        depth = dist * dirs_cam[:, 2]
        depth[(geomid < 0) | (depth > camera.far)] = camera.far
        return geomid, depth

    def _depth(self, camera: CameraModel, position: np.ndarray, rotation: np.ndarray, dirs_cam: np.ndarray,
               out: np.ndarray) -> None:
        out[:] = self._cast(camera, position, rotation, dirs_cam)[1].reshape(camera.height, camera.width)

    def render_surface(self, camera: CameraModel, position: np.ndarray,
                       rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What each pixel's ray hits, by the ray cast :meth:`render_depth` makes (pixel for pixel).

        Returns depth (H, W) float32 (as :meth:`render_depth`), geom ids (H, W) int32 (-1 where the
        ray hits nothing) and world-frame unit surface normals (H, W, 3) float64.
        """
        h, w = camera.height, camera.width
        normal = np.zeros(h * w * 3)
        geomid, depth = self._cast(camera, position, rotation, camera.ray_directions(), normal)
        return (depth.reshape(h, w).astype(np.float32), geomid.reshape(h, w), normal.reshape(h, w, 3))

    def render_depth(self, camera: CameraModel, position: np.ndarray, rotation: np.ndarray) -> np.ndarray:
        """Depth image (H, W) float32 in metres by ray casting, camera-to-world ``rotation`` (optical frame)."""
        # A scene restored from the object's cache shows what it showed before: the same
        # camera's image of it is kept with its rest state (``_images``: valid for that state).
        kept = self._images[1] if self._images is not None and self._images[0] is self._rest_state else None
        key = None if kept is None else (camera, np.asarray(position, np.float64).tobytes(),
                                         np.asarray(rotation, np.float64).tobytes())
        if kept is not None and key in kept:
            return kept[key].copy()
        out = np.empty((camera.height, camera.width))
        self._depth(camera, position, rotation, camera.ray_directions(), out)
        image = out.astype(np.float32)
        if kept is not None and len(kept) < 8:
            kept[key] = image.copy()
        return image

    def hand_depth(self, poses: GraspPoses, camera: CameraModel, standoff: float) -> np.ndarray:
        """Hand-camera depth images (n, H, W) at the pre-grasp pose of each grasp.

        The camera sits at the centre of the palm's underside, looking along the approach
        direction, with the gripper backed off ``standoff`` metres along the approach axis; image
        x is the closing axis.  The gripper itself is not rendered.
        """
        dirs = camera.ray_directions()
        out = np.empty((len(poses), camera.height, camera.width))
        positions, rotations = G.hand_camera_poses(poses.position, poses.rotation, standoff)
        for i in range(len(poses)):
            self._depth(camera, positions[i], rotations[i], dirs, out[i])
        return out.astype(np.float32)
