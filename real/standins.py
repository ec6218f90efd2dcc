"""A complete hardware-free rig: ray-cast table scene, software D435, loopback rosbridge Fetch.

``with standin_rig() as rig: env = gym.make("grasp_envs/RealFetchGrasp4D-v0", **rig.env_kwargs())``
runs the real environment's whole code path (pyrealsense2 filters, roslibpy, MoveIt and gripper
messages, safety checks) with no robot and no camera.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from grasp_envs.camera import look_at_rotation
from real.calibration import Calibration
from real.camera import RealSenseConfig
from real.loopback import LoopbackFetch
from real.software_camera import Box, SoftwareDepthCamera, TableScene

#: Table-frame origin in the Fetch's base frame: a 72 cm table 70 cm in front of the robot.
TABLE_ORIGIN = (0.70, 0.0, 0.72)
#: Camera 75 cm above the table, 25 cm towards the robot and 5 cm to its left, looking at the table centre.
CAMERA_OFFSET = (-0.25, 0.05, 0.75)


def standin_calibration(offset=CAMERA_OFFSET, table_origin=TABLE_ORIGIN) -> Calibration:
    origin = np.asarray(table_origin, dtype=np.float64)
    eye = origin + np.asarray(offset, dtype=np.float64)
    return Calibration.from_pose(eye, look_at_rotation(eye, origin), origin,
                                 child_frame="d435_depth_optical_frame")


@dataclass
class Rig:
    scene: TableScene
    calibration: Calibration
    fetch: LoopbackFetch
    camera: SoftwareDepthCamera

    def env_kwargs(self, **robot) -> dict:
        return {"calibration": self.calibration, "depth_source": self.camera,
                "robot": {"host": "127.0.0.1", "port": self.fetch.port, "connect_timeout": 5.0, **robot}}


@contextmanager
def standin_rig(boxes: list[Box] | None = None, camera: RealSenseConfig | dict | None = None, seed: int = 0):
    """Start the stand-ins; boxes default to one 5 x 8 x 6 cm box near the table centre."""
    if boxes is None:
        boxes = [Box([0.02, -0.01, 0.03], [0.05, 0.08, 0.06], yaw=0.3)]
    scene = TableScene(boxes)
    cal = standin_calibration()
    fetch = LoopbackFetch(scene, cal).start()
    cam = None
    try:
        cam = SoftwareDepthCamera(scene, cal, camera, seed=seed)
        yield Rig(scene, cal, fetch, cam)
    finally:
        if cam is not None:
            cam.close()
        fetch.stop()
