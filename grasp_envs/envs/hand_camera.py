"""The hand camera: where it sits at each grasp, and its depth image reprojected from the observation.

The evaluator of the full agent (Tobin et al. 2017, Fig. 4) looks at each candidate grasp through
a depth camera on the palm, backed off ``ObservationConfig.hand_standoff`` metres along the
approach axis (the pre-grasp pose), looking along the approach; image x is the closing axis.
:func:`hand_camera_poses` gives that camera's pose for a batch of grasps.

A simulator can render the hand image (``ObservationConfig.hand_images = "rendered"``, ray cast
against the true scene).  A real robot without a wrist camera cannot, but it has the overhead
depth image it just observed: :func:`reproject_hand_depth` (``hand_images = "reprojected"``)
builds each candidate's hand image from that observation alone.

**Reprojection.**  Every valid overhead pixel is back-projected to a point in the table frame
(through the observation config's camera intrinsics at ``camera_poses(bbox)``).  The overhead
camera cannot see below a surface; as in :mod:`agents.pruning` what lies behind it is taken to be
solid, so at every depth discontinuity of the look-down camera (camera 0) the nearer pixel's ray
is filled with points down to its farther neighbour's depth: the object's silhouette walls.  With
more cameras a wall point that another camera sees in front of its surface is carved away.  The
points are moved into each hand camera frame and z-buffered: each is splatted over the hand
pixels its overhead pixel's footprint covers (at least its own pixel), and the nearest wins.
Pixels no point reaches see the table plane (z = 0 of the table frame, known from the table
segmentation also where the overhead camera did not look), or ``far`` where their ray misses it.
Everything is vectorised over candidates and points; ``python -m benchmarks.hand_images`` times it
and compares it with rendered images on simulated scenes.
"""

from __future__ import annotations

import numpy as np

from grasp_envs.camera import CameraModel
from grasp_envs.envs.observations import ObservationConfig
from grasp_envs.grid import GraspPoses
from grasp_envs.sim import gripper as G

HAND_OPTICAL = G.HAND_OPTICAL
#: Largest splat half-width (hand pixels) of one overhead point.
MAX_SPLAT = 3
#: Points nearer than this to a camera (m) are not imaged.
NEAR = 1e-3


def hand_camera_poses(poses: GraspPoses, standoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions (n, 3) and camera-to-world optical rotations (n, 3, 3) of the hand camera at each grasp.

    :func:`grasp_envs.sim.gripper.hand_camera_poses`, the one the simulator renders from.
    """
    return G.hand_camera_poses(poses.position, poses.rotation, standoff)


def _pixel_rays(camera: CameraModel) -> np.ndarray:
    """Camera-frame ray of each pixel centre scaled to unit optical depth, shape (H, W, 3)."""
    return camera.deproject(np.ones((camera.height, camera.width)))


def observed_points(depth: np.ndarray, bbox: np.ndarray, obs_config: ObservationConfig) -> tuple[np.ndarray, np.ndarray]:
    """Table-frame points (m, 3) of an observation and each point's footprint (m,) in metres.

    The surface points of every camera's valid pixels, plus the walls the look-down camera's depth
    discontinuities imply (see the module docstring).
    """
    cfg = obs_config
    cam = cfg.camera
    depth = np.asarray(depth, np.float64)
    if depth.shape != (cfg.n_cameras, cfg.height, cfg.width):
        raise ValueError(f"depth must have shape {(cfg.n_cameras, cfg.height, cfg.width)} for this observation "
                         f"config, got {depth.shape}")
    bounds = np.asarray(bbox, np.float64).reshape(2, 3)
    rays = _pixel_rays(cam)
    f = cam.focal
    poses = cfg.camera_poses(bounds)
    points, sizes = [], []
    for k, (pos, R) in enumerate(poses):
        img = depth[k]
        valid = (img > NEAR) & (img < cam.far)
        points.append((rays[valid] * img[valid, None]) @ R.T + pos)
        sizes.append(img[valid] / f)
        if k:
            continue
        # Walls: each valid pixel's ray, from its depth down to its farthest valid 4-neighbour's.
        far = np.where(valid, img, -np.inf)
        pad = np.pad(far, 1, constant_values=-np.inf)
        neighbour = np.max([pad[:-2, 1:-1], pad[2:, 1:-1], pad[1:-1, :-2], pad[1:-1, 2:]], axis=0)
        step = img / f  # the pixel's footprint: wall points as dense as the surface
        with np.errstate(invalid="ignore"):
            count = np.where(valid & (neighbour > img), np.floor((neighbour - img) / step), 0).astype(np.int64)
        count = np.minimum(count, 400)
        pix = np.flatnonzero(count)
        if not len(pix):
            continue
        n = count.ravel()[pix]
        owner = np.repeat(pix, n)
        j = np.arange(len(owner)) - np.repeat(np.cumsum(n) - n, n) + 1  # 1..n within each pixel
        d = img.ravel()[owner] + j * step.ravel()[owner]
        wall = (rays.reshape(-1, 3)[owner] * d[:, None]) @ R.T + pos
        keep = np.ones(len(wall), bool)
        for m in range(1, len(poses)):  # carve what another camera sees in front of its surface
            p2, R2 = poses[m]
            q = (wall - p2) @ R2
            z = q[:, 2]
            zs = np.where(z > NEAR, z, 1.0)
            u = np.floor(q[:, 0] / zs * f + cam.width / 2).astype(np.int64)
            v = np.floor(q[:, 1] / zs * f + cam.height / 2).astype(np.int64)
            seen = (z > NEAR) & (u >= 0) & (u < cam.width) & (v >= 0) & (v < cam.height)
            surface = depth[m][np.clip(v, 0, cam.height - 1), np.clip(u, 0, cam.width - 1)]
            keep &= ~(seen & (z < surface - step.ravel()[owner]))
        points.append(wall[keep])
        sizes.append(step.ravel()[owner][keep])
    return np.concatenate(points), np.concatenate(sizes)


def splat_depth(points_cam: np.ndarray, sizes: np.ndarray | None, camera: CameraModel) -> np.ndarray:
    """Z-buffer of camera-frame points (n, m, 3) into n depth images (n, H, W); ``inf`` where empty.

    With ``sizes`` (m,) (each point's footprint in metres) a point covers every pixel whose centre
    lies within half its projected footprint (at most :data:`MAX_SPLAT` pixels), and always its own
    pixel; without, only its own pixel.
    """
    q = np.asarray(points_cam, np.float64)
    n = q.shape[0]
    H, W = camera.height, camera.width
    f = camera.focal
    img = np.full(n * H * W, np.inf)
    z = q[..., 2]
    cand, pt = np.nonzero(z > NEAR)
    z = z[cand, pt]
    u = q[cand, pt, 0] / z * f + W / 2
    v = q[cand, pt, 1] / z * f + H / 2
    margin = MAX_SPLAT + 1
    inside = (u > -margin) & (u < W + margin) & (v > -margin) & (v < H + margin)
    cand, pt, z, u, v = cand[inside], pt[inside], z[inside], u[inside], v[inside]
    if sizes is None:
        half = np.zeros_like(z)
    else:
        half = np.minimum(0.5 * np.asarray(sizes, np.float64)[pt] * f / z, MAX_SPLAT)
    iu, iv = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    base = cand * (H * W)
    reach = np.ceil(half).astype(np.int64)
    flat_all, z_all = [], []
    for ring in range(int(reach.max()) + 1 if len(reach) else 0):
        sel = np.flatnonzero(reach >= ring)  # only points whose splat reaches this ring
        bu, bv, bz, bh, bb = iu[sel], iv[sel], z[sel], half[sel], base[sel]
        fu, fv = u[sel], v[sel]
        for di in range(-ring, ring + 1):
            for dj in range(-ring, ring + 1):
                if max(abs(di), abs(dj)) != ring:
                    continue
                i, j = bv + di, bu + dj
                ok = (i >= 0) & (i < H) & (j >= 0) & (j < W)
                if ring:
                    ok &= (np.abs(fu - (j + 0.5)) <= bh) & (np.abs(fv - (i + 0.5)) <= bh)
                flat_all.append((bb + i * W + j)[ok])
                z_all.append(bz[ok])
    if flat_all:
        np.minimum.at(img, np.concatenate(flat_all), np.concatenate(z_all))
    return img.reshape(n, H, W)


def table_plane_depth(camera: CameraModel, positions: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """Optical depth (n, H, W) at which each pixel's ray meets the table plane z = 0; ``inf`` if never."""
    rays = _pixel_rays(camera).reshape(-1, 3)
    dz = rays @ np.asarray(rotations, np.float64)[:, 2, :].T  # (p, n): world z per unit depth
    dz = dz.T
    pz = np.asarray(positions, np.float64)[:, 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(dz < -1e-9, -pz / dz, np.inf)
    return t.reshape(len(positions), camera.height, camera.width)


def reproject_hand_depth(observation: dict, poses: GraspPoses, obs_config: ObservationConfig) -> np.ndarray:
    """Hand-camera depth images (n, h, w) float32 of grasps ``poses``, from the observation alone.

    ``observation`` holds ``depth`` (n_cameras, H, W) and ``bbox`` (6,) as the env returns them;
    the hand camera is ``obs_config.hand_camera`` at :func:`hand_camera_poses`.
    """
    cam = obs_config.hand_camera
    positions, rotations = hand_camera_poses(poses, obs_config.hand_standoff)
    n = len(positions)
    if n == 0:
        return np.zeros((0, cam.height, cam.width), np.float32)
    points, sizes = observed_points(observation["depth"], observation["bbox"], obs_config)
    # R^T (p - c) for every camera, as row vectors: p R - c R.
    q = points[None] @ rotations - np.einsum("ni,nij->nj", positions, rotations)[:, None, :]
    img = splat_depth(q, sizes, cam)
    empty = ~np.isfinite(img)
    if empty.any():
        img[empty] = table_plane_depth(cam, positions, rotations)[empty]
    return np.minimum(img, cam.far).astype(np.float32)
