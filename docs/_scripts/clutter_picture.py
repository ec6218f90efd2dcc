"""Render docs/clutter.png: a GraspClutter4D-v1 pile (offscreen MuJoCo) beside its depth observation.

    python docs/_scripts/clutter_picture.py
    python docs/_scripts/clutter_picture.py docs/clutter_ycb.png 0 ycb runs/ycb_root   # a pile of held-out YCB objects
"""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym

import grasp_envs  # noqa: F401  (registers the ids)
from benchmarks.figures import pyplot, save_figure

plt = pyplot()


def main(out: str = "docs/clutter.png", seed: int = 4, objects: str = "random", root: str | None = None) -> Path:
    source = {} if objects == "random" else {"objects": objects, "root": root, "split": "test", "graspable_rule": "top"}
    env = gym.make("grasp_envs/GraspClutter4D-v1", n_objects=6, render_mode="rgb_array", render_size=(300, 400),
                   **source)
    obs, info = env.reset(seed=int(seed))
    rgb = env.render()
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.2), gridspec_kw={"width_ratios": [4, 3]})
    a.imshow(rgb)
    a.set_title(f"{info['n_objects']} {'random' if objects == 'random' else 'held-out ' + objects.upper()} objects "
                "dropped on the table")
    im = b.imshow(obs["depth"][0], cmap="viridis_r")
    b.set_title("observation: overhead depth (m)")
    fig.colorbar(im, ax=b, fraction=0.046)
    for ax in (a, b):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    env.close()
    return save_figure(fig, out, dpi=80)


if __name__ == "__main__":
    print(main(*sys.argv[1:]))
