"""Render docs/attempts.png: the overhead depth before and after a failed grasp that moved the object.

    python docs/_scripts/attempts_picture.py

Scene 0 of ``random-4d-test-3attempts-v2`` (seed 0), on an env with a large attempt budget so the
search below never runs out: seeded uniform grasps (z bins 3-11, low enough to touch the object)
are tried until one fails and moves the object by more than a centimetre.  Rejected grasps leave
the scene as it was, so the "before" image is the scene the failed grasp was planned on.  The
grasp is drawn as its jaw line (where the fingers close) in both images; the second image is
centred on the moved object, as every observation is.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from benchmarks.figures import pyplot, save_figure
from benchmarks.tasks import get_task
from grasp_envs.grid import rot_z

plt = pyplot()


def _jaw_pixels(env, bbox: np.ndarray, position: np.ndarray, yaw: float) -> np.ndarray:
    """Pixels (2, 2) of the finger tips' closing line of an upright grasp, seen by the overhead camera."""
    cfg = env.unwrapped.obs_config
    pos, R = cfg.camera_poses(np.asarray(bbox, np.float64).reshape(2, 3))[0]
    axis = rot_z(yaw)[:, 0]
    ends = np.stack([position - 0.04 * axis, position + 0.04 * axis])
    return cfg.camera.project((ends - pos) @ R) - 0.5  # pixel centres sit at +0.5


def main(out: str = "docs/attempts.png", tries: int = 200) -> Path:
    task = get_task("random-4d-test-3attempts-v2")
    scene = task.seed_scenes(0)[0]
    env = task.make_env(max_attempts=tries)
    obs, _ = env.reset(seed=scene.reset_seed, options={"object_seed": scene.object_seed})
    rng = np.random.default_rng(0)
    for _ in range(tries):
        action = np.concatenate([rng.integers(0, 20, 2), rng.integers(3, 12, 1), rng.integers(0, 20, 1)])
        after, _, terminated, truncated, info = env.step(action)
        if info["outcome"] == "failure" and info["object_displacement"] > 0.01:
            break
        if terminated or truncated:
            raise RuntimeError("no failed grasp moved the object; try another seed")
        obs = after
    else:
        raise RuntimeError(f"no failed grasp moved the object in {tries} tries")
    yaw = action[3] * np.pi / env.unwrapped.grid.n_bins
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.3))
    titles = (f"before: grasp at bins {action.tolist()}",
              f"after the failure: object moved {info['object_displacement'] * 100:.1f} cm")
    vmin, vmax = min(obs["depth"].min(), after["depth"].min()), max(obs["depth"].max(), after["depth"].max())
    for ax, o, title in zip(axes, (obs, after), titles):
        im = ax.imshow(o["depth"][0], cmap="viridis_r", vmin=vmin, vmax=vmax)
        jaw = _jaw_pixels(env, o["bbox"], info["grasp_position"], yaw)
        ax.plot(jaw[:, 0], jaw[:, 1], "r-o", lw=2, ms=4)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes, fraction=0.03, label="depth (m)")
    env.close()
    return save_figure(fig, out, dpi=80)


if __name__ == "__main__":
    print(main(*sys.argv[1:]))
