"""grasp-envs: Gymnasium environments for learned robotic grasp planning.

``import grasp_envs`` registers the environment ids (``grasp_envs/GraspRandom4D-v1`` ...) and
imports nothing heavy; MuJoCo loads when an environment is made.
"""

import os

# Headless machines have no X display; MuJoCo's renderer (render_mode="rgb_array") then needs an
# offscreen GL platform.  Choose EGL unless the user chose one (observations never need GL).
if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "egl"

from grasp_envs.registration import register_envs  # noqa: E402

__version__ = "0.1.0"

register_envs()
