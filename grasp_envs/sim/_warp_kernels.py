"""Warp kernels of :mod:`grasp_envs.sim.warp_backend` (imported only when warp-lang is installed)."""

import warp as wp


@wp.kernel
def apply_controls(
    step: wp.array(dtype=int),
    profile: wp.array2d(dtype=float),
    offset: wp.array2d(dtype=float),
    nu: int,
    ctrl: wp.array2d(dtype=float),
    mocap_pos: wp.array2d(dtype=wp.vec3),
    mocap_quat: wp.array2d(dtype=wp.quat),
):
    """Controls of step ``step[0]`` for world w: ``profile[t] + offset[w]``, laid out as the
    rollout's control vector (ctrl, then the mocap position, then the mocap quaternion)."""
    w = wp.tid()
    t = step[0]
    for j in range(nu):
        ctrl[w, j] = profile[t, j] + offset[w, j]
    p = nu
    mocap_pos[w, 0] = wp.vec3(
        profile[t, p] + offset[w, p], profile[t, p + 1] + offset[w, p + 1], profile[t, p + 2] + offset[w, p + 2]
    )
    q = nu + 3
    # MuJoCo Warp keeps MuJoCo's (w, x, y, z) order in its quaternions.
    mocap_quat[w, 0] = wp.quat(
        profile[t, q] + offset[w, q], profile[t, q + 1] + offset[w, q + 1],
        profile[t, q + 2] + offset[w, q + 2], profile[t, q + 3] + offset[w, q + 3],
    )


@wp.kernel
def advance(step: wp.array(dtype=int)):
    step[0] = step[0] + 1
