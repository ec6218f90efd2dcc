"""A disembodied Fetch-like parallel-jaw gripper, built with ``mujoco.MjSpec``.

Geometry (gripper frame: origin at the tool centre point, x = closing axis, z = towards palm):

* two box fingers 60 mm long (z) x 14 mm thick (x) x 26 mm wide (y), fingertips 15 mm below the TCP;
* opening (distance between the fingers' inner faces) from 0 to 100 mm;
* a palm 130 x 60 x 40 mm directly above the fingers.

Drive: each finger slides on a prismatic joint driven by a force actuator limited to 30 N (half
the 60 N effort limit of the real Fetch gripper's finger joints: the same order, and the most that
MuJoCo's soft contacts resolve at a 2 ms step on a 50 g object without the fingers sinking in,
measured by ``benchmarks/timestep_agreement.py``); the two joints are coupled by an equality
constraint so the jaws close symmetrically.  Joint damping bounds the closing speed to
30 N / 150 N s/m = 0.2 m/s, and the fingers stop ("stall") when they squeeze the object.

The palm is a dynamic body with a free joint, gravity-compensated, welded to a mocap target.
Moving the target drives the gripper; because the palm is dynamic, friction at the fingers can
carry the object (a mocap body itself has zero velocity and never lifts anything).
"""

from __future__ import annotations

import mujoco
import numpy as np

FINGER_LENGTH = 0.060
FINGER_THICKNESS = 0.014
FINGER_WIDTH = 0.026
MAX_OPENING = 0.100
TIP_BELOW_TCP = 0.015
PALM_SIZE = (0.130, 0.060, 0.040)
FINGER_FORCE = 30.0
FINGER_DAMPING = 150.0
FINGER_FRICTION = 1.0
PALM_MASS = 0.6
FINGER_MASS = 0.05
#: Finger contact and joint-limit softness.  MuJoCo's soft constraints are stiff in proportion
#: to the effective mass, so a hard squeeze on a light object with the default parameters (time
#: constant 20 ms) sinks the fingers centimetres into it.  A 10 ms time constant with the default
#: impedance keeps a 30 N squeeze on a 50 g object to about 3 mm while the contact oscillation
#: (period about 14 ms) stays resolved at a 2 ms step; a harder impedance (0.99) made outcomes
#: depend on the step size.  ``solmix`` makes the finger's parameters win when MuJoCo mixes them
#: with the object's.
FINGER_SOLREF = (0.01, 1.0)
FINGER_SOLIMP = (0.9, 0.95, 0.001, 0.5, 2.0)
FINGER_SOLMIX = 1000.0

#: Geom group of the gripper (excluded from depth ray casting).
GRIPPER_GROUP = 3

FINGER_CENTER_Z = -TIP_BELOW_TCP + FINGER_LENGTH / 2
PALM_BOTTOM_Z = -TIP_BELOW_TCP + FINGER_LENGTH
PALM_CENTER_Z = PALM_BOTTOM_Z + PALM_SIZE[2] / 2


def finger_x(opening: float) -> float:
    """Distance from the TCP to a finger's centre along x at a given opening."""
    return opening / 2 + FINGER_THICKNESS / 2


def gripper_boxes(opening: float = MAX_OPENING) -> list[tuple[np.ndarray, np.ndarray]]:
    """(centre, half-size) of the palm and both fingers in the gripper frame."""
    fh = np.array([FINGER_THICKNESS, FINGER_WIDTH, FINGER_LENGTH]) / 2
    x = finger_x(opening)
    return [
        (np.array([0.0, 0.0, PALM_CENTER_Z]), np.array(PALM_SIZE) / 2),
        (np.array([-x, 0.0, FINGER_CENTER_Z]), fh),
        (np.array([x, 0.0, FINGER_CENTER_Z]), fh),
    ]


def closing_region() -> tuple[np.ndarray, np.ndarray]:
    """(centre, half-size) of the box the fingers sweep when closing from fully open."""
    return (
        np.array([0.0, 0.0, FINGER_CENTER_Z]),
        np.array([MAX_OPENING / 2, FINGER_WIDTH / 2, FINGER_LENGTH / 2]),
    )


#: Optical frame of the hand camera in the gripper frame: x along the closing axis, z along the approach.
HAND_OPTICAL = np.diag([1.0, -1.0, -1.0])


def hand_camera_poses(position: np.ndarray, rotation: np.ndarray, standoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions (n, 3) and camera-to-world optical rotations (n, 3, 3) of the hand camera at grasps.

    The camera sits at the centre of the palm's underside with the gripper backed off ``standoff``
    metres along the approach axis (the pre-grasp pose), looking along the approach.
    """
    R = np.asarray(rotation, np.float64)
    offset = np.array([0.0, 0.0, PALM_BOTTOM_Z + float(standoff)])
    return np.asarray(position, np.float64) + R @ offset, R @ HAND_OPTICAL


def approach_region(distance: float) -> tuple[np.ndarray, np.ndarray]:
    """(centre, half-size) of what the open gripper sweeps, beyond its own boxes, on its approach.

    The gripper comes in along its approach axis (-z of the gripper frame) from ``distance``
    back.  Each box of :func:`gripper_boxes` then sweeps itself extended by ``distance`` along
    +z; the fingers' extensions lie inside the palm's (the open fingers' outer faces, 64 mm from
    the centre, and their 26 mm width are within the palm's 65 x 30 mm half-sizes), so the swept
    volume is the boxes plus the palm's footprint raised ``distance`` above its top.
    """
    palm_centre, palm_half = gripper_boxes(MAX_OPENING)[0]
    top = palm_centre[2] + palm_half[2]
    return np.array([0.0, 0.0, top + distance / 2]), np.array([palm_half[0], palm_half[1], distance / 2])


def add_gripper(spec: mujoco.MjSpec, *, contype: int, conaffinity: int) -> None:
    """Add the mocap target, the dynamic palm, both fingers, their actuators and the weld."""
    wb = spec.worldbody
    target = wb.add_body(name="target", mocap=True, pos=[0, 0, 5.0])
    target.add_site(name="target_site", size=[0.005, 0, 0])
    palm = wb.add_body(name="palm", pos=[0, 0, 5.0], gravcomp=1.0)
    palm.add_freejoint(name="palm_free")
    palm_half = [s / 2 for s in PALM_SIZE]
    palm.add_geom(
        name="palm", type=mujoco.mjtGeom.mjGEOM_BOX, size=palm_half, pos=[0, 0, PALM_CENTER_Z],
        mass=PALM_MASS, contype=contype, conaffinity=conaffinity, group=GRIPPER_GROUP,
        rgba=[0.3, 0.3, 0.35, 1],
    )
    fh = [FINGER_THICKNESS / 2, FINGER_WIDTH / 2, FINGER_LENGTH / 2]
    for side, sign in (("left", -1.0), ("right", 1.0)):
        finger = palm.add_body(name=f"finger_{side}", pos=[sign * finger_x(0.0), 0, FINGER_CENTER_Z], gravcomp=1.0)
        finger.add_joint(
            name=f"finger_{side}", type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[sign, 0, 0],
            range=[0.0, MAX_OPENING / 2], damping=FINGER_DAMPING, armature=0.01,
            solref_limit=list(FINGER_SOLREF), solimp_limit=list(FINGER_SOLIMP),
        )
        finger.add_geom(
            name=f"finger_{side}", type=mujoco.mjtGeom.mjGEOM_BOX, size=fh, mass=FINGER_MASS,
            contype=contype, conaffinity=conaffinity, group=GRIPPER_GROUP, condim=4,
            friction=[FINGER_FRICTION, 0.02, 0.0001], rgba=[0.6, 0.6, 0.65, 1],
            solref=list(FINGER_SOLREF), solimp=list(FINGER_SOLIMP), solmix=FINGER_SOLMIX,
        )
        spec.add_actuator(
            name=f"finger_{side}", target=f"finger_{side}", trntype=mujoco.mjtTrn.mjTRN_JOINT,
            ctrllimited=True, ctrlrange=[-FINGER_FORCE, FINGER_FORCE],
            forcelimited=True, forcerange=[-FINGER_FORCE, FINGER_FORCE],
        )
    spec.add_equality(
        type=mujoco.mjtEq.mjEQ_JOINT, name1="finger_left", name2="finger_right",
        objtype=mujoco.mjtObj.mjOBJ_JOINT, data=[0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    )
    spec.add_equality(
        type=mujoco.mjtEq.mjEQ_WELD, name1="palm", name2="target", objtype=mujoco.mjtObj.mjOBJ_BODY,
        solref=[0.02, 1.0], data=[0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0],
    )
