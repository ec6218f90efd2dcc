"""MuJoCo models of a grasping scene, built with ``mujoco.MjSpec``.

Two models per object, both compiled once and reused for every grasp on that object:

* the **physics model**: table, object (free body of convex mesh parts), gripper (see
  :mod:`grasp_envs.sim.gripper`), solver options;
* the **probe model**: the same table, object and an open gripper, plus the box the fingers sweep
  when closing and the volume the gripper sweeps on its approach.  It is never stepped: setting a
  pose and running collision detection answers, in microseconds, whether a grasp penetrates the
  table or the object, is blocked on its way in, or would close on air.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from grasp_envs.objects import GraspObject
from grasp_envs.objects.model import BodyInertia
from grasp_envs.sim import gripper as G

TABLE_HALF_SIZE = 1.0
TABLE_FRICTION = 1.0
OBJECT_GROUP = 1
TABLE_GROUP = 0


@dataclass(frozen=True)
class PhysicsOptions:
    """Solver settings of the physics model (see ``SimConfig`` for how they were chosen)."""

    timestep: float
    iterations: int
    ls_iterations: int
    impratio: float
    cone: str = "elliptic"
    multiccd: bool = True
    inertia: str = "union"


class ModelBuildError(ValueError):
    """MuJoCo refused to compile a model of this object."""


def add_table(spec: mujoco.MjSpec, *, contype: int, conaffinity: int) -> None:
    spec.worldbody.add_geom(
        name="table", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[TABLE_HALF_SIZE, TABLE_HALF_SIZE, 0.05],
        contype=contype, conaffinity=conaffinity, group=TABLE_GROUP,
        friction=[TABLE_FRICTION, 0.005, 0.0001], rgba=[0.75, 0.7, 0.6, 1],
    )


def add_object(spec: mujoco.MjSpec, obj: GraspObject, *, contype: int, conaffinity: int, with_mass: bool,
               inertia: str = "parts", inertial: BodyInertia | None = None, name: str = "object",
               rgba=(0.2, 0.45, 0.8, 1.0)) -> None:
    """Add ``obj`` as free body ``name`` (joint ``<name>_free``) of mesh geoms.

    The one object of a single-object scene is ``"object"`` with geoms ``part<i>``; further
    bodies (a pile: :mod:`grasp_envs.sim.clutter`) prefix their geoms and meshes ``<name>_part<i>``.
    """
    body = spec.worldbody.add_body(name=name, pos=[0, 0, 1.0])
    body.add_freejoint(name=f"{name}_free")
    prefix = "" if name == "object" else f"{name}_"
    if with_mass and inertial is not None:
        # Explicit mass properties (per-part densities: grasp_envs.objects.model.piecewise_mass_properties).
        _set_inertial(body, inertial.mass, inertial.center, inertial.inertia)
    elif with_mass and inertia == "union":
        # Uniform density over the union of the parts: overlaps count once (MuJoCo's own
        # per-geom inertia would count them once per part).
        props = obj.mass_properties()
        _set_inertial(body, obj.mass, props.center, props.inertia * (obj.mass / props.volume))
    masses = obj.part_masses
    for i, part in enumerate(obj.parts):
        spec.add_mesh(name=f"{prefix}part{i}", uservert=part.astype(np.float64).ravel().tolist())
        kw = dict(mass=float(masses[i])) if with_mass else dict(mass=1e-3)
        body.add_geom(
            name=f"{prefix}part{i}", type=mujoco.mjtGeom.mjGEOM_MESH, meshname=f"{prefix}part{i}",
            contype=contype, conaffinity=conaffinity, group=OBJECT_GROUP,
            friction=[obj.friction, 0.005, 0.0001], priority=1, rgba=list(rgba), **kw,
        )


def _set_inertial(body, mass: float, center: np.ndarray, I: np.ndarray) -> None:
    body.explicitinertial = True
    body.mass = float(mass)
    body.ipos = np.asarray(center, dtype=np.float64).tolist()
    body.fullinertia = [I[0, 0], I[1, 1], I[2, 2], I[0, 1], I[0, 2], I[1, 2]]


def compile_spec(spec: mujoco.MjSpec, what: str, obj: GraspObject) -> mujoco.MjModel:
    try:
        return spec.compile()
    except ValueError as exc:  # MuJoCo reports bad meshes as ValueError
        raise ModelBuildError(f"cannot build the {what} model for {obj.name}: {exc}") from None


def physics_spec(modelname: str, options: PhysicsOptions) -> mujoco.MjSpec:
    """An empty spec with the physics model's solver options (shared by every physics scene)."""
    spec = mujoco.MjSpec()
    spec.modelname = modelname
    o = spec.option
    o.timestep = options.timestep
    o.iterations = options.iterations
    o.ls_iterations = options.ls_iterations
    o.impratio = options.impratio
    o.solver = mujoco.mjtSolver.mjSOL_NEWTON
    o.cone = mujoco.mjtCone.mjCONE_ELLIPTIC if options.cone == "elliptic" else mujoco.mjtCone.mjCONE_PYRAMIDAL
    o.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    if not options.multiccd:  # multi-point convex contacts are on by default in MuJoCo 4
        o.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_MULTICCD)
    return spec


def build_physics_model(obj: GraspObject, options: PhysicsOptions, *,
                        inertial: BodyInertia | None = None) -> mujoco.MjModel:
    """The physics model of ``obj``; ``inertial`` gives its body explicit mass properties."""
    spec = physics_spec(f"grasp_{obj.name}", options)
    # Collision bits: table and object collide; the gripper collides with the object only.
    add_table(spec, contype=1, conaffinity=1)
    add_object(spec, obj, contype=1, conaffinity=3, with_mass=True, inertia=options.inertia, inertial=inertial)
    G.add_gripper(spec, contype=2, conaffinity=0)
    add_object_sensors(spec, "object")
    add_gripper_sensors_and_view(spec)
    return compile_spec(spec, "physics", obj)


def add_object_sensors(spec: mujoco.MjSpec, name: str) -> None:
    """``<name>_pos`` and ``<name>_vel``: the object body's position and linear velocity."""
    spec.add_sensor(name=f"{name}_pos", type=mujoco.mjtSensor.mjSENS_FRAMEPOS, objtype=mujoco.mjtObj.mjOBJ_BODY, objname=name)
    spec.add_sensor(name=f"{name}_vel", type=mujoco.mjtSensor.mjSENS_FRAMELINVEL, objtype=mujoco.mjtObj.mjOBJ_BODY, objname=name)


def add_gripper_sensors_and_view(spec: mujoco.MjSpec, *, view_distance: float = 0.3) -> None:
    """The palm and opening sensors, the light and the ``view`` camera (for ``render``)."""
    spec.add_sensor(name="palm_pos", type=mujoco.mjtSensor.mjSENS_FRAMEPOS, objtype=mujoco.mjtObj.mjOBJ_BODY, objname="palm")
    spec.add_sensor(name="opening", type=mujoco.mjtSensor.mjSENS_JOINTPOS, objtype=mujoco.mjtObj.mjOBJ_JOINT, objname="finger_left")
    spec.worldbody.add_light(name="top", pos=[0, 0, 2.0], dir=[0, 0, -1])
    d = view_distance
    spec.worldbody.add_camera(name="view", pos=[d, -d, d], xyaxes=[1, 1, 0, -0.4, 0.4, 0.8])


def build_probe_model(obj: GraspObject, *, approach_distance: float = 0.0) -> mujoco.MjModel:
    """Collision-only model: solid geoms collide with table and object; the sweep with the object only.

    With ``approach_distance`` > 0 an ``approach`` geom (colliding with table and object) holds
    what the open gripper sweeps, beyond its own boxes, on the way in from ``approach_distance``
    back along its approach axis (:func:`grasp_envs.sim.gripper.approach_region`).
    """
    spec = mujoco.MjSpec()
    spec.modelname = f"probe_{obj.name}"
    add_table(spec, contype=1, conaffinity=1)
    add_object(spec, obj, contype=1, conaffinity=3, with_mass=False)
    add_probe_gripper(spec, approach_distance=approach_distance)
    return compile_spec(spec, "probe", obj)


def add_probe_gripper(spec: mujoco.MjSpec, *, approach_distance: float) -> None:
    """The probe's open gripper (solid boxes, closing sweep, approach volume); gravity off."""
    grip = spec.worldbody.add_body(name="gripper", pos=[0, 0, 5.0])
    grip.add_freejoint(name="gripper_free")
    for name, (centre, half) in zip(("palm", "finger_left", "finger_right"), G.gripper_boxes(G.MAX_OPENING)):
        grip.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_BOX, size=half.tolist(), pos=centre.tolist(),
                      contype=1, conaffinity=1, mass=0.1)
    centre, half = G.closing_region()
    grip.add_geom(name="sweep", type=mujoco.mjtGeom.mjGEOM_BOX, size=half.tolist(), pos=centre.tolist(),
                  contype=2, conaffinity=0, mass=0.1)
    if approach_distance > 0:
        centre, half = G.approach_region(approach_distance)
        grip.add_geom(name="approach", type=mujoco.mjtGeom.mjGEOM_BOX, size=half.tolist(), pos=centre.tolist(),
                      contype=1, conaffinity=1, mass=0.1)
    spec.option.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_GRAVITY)
