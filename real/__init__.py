"""The real-robot backend: a Fetch (rosbridge + roslibpy) and a RealSense D435 (pyrealsense2)
behind the simulated tasks' interface (``grasp_envs/RealFetchGrasp4D-v0``, ``...6D-v0``).

Modules: :mod:`real.calibration` (extrinsics YAML and importers), :mod:`real.camera` (D435
stream and SDK filters), :mod:`real.perception` (table segmentation, virtual-camera
reprojection), :mod:`real.robot` (MoveIt, gripper, safety), :mod:`real.env` (the Gymnasium
env), and the hardware stand-ins :mod:`real.software_camera`, :mod:`real.loopback`,
:mod:`real.standins`.  Importing this package imports neither pyrealsense2 nor roslibpy.

This package meets the simulator only at the environment interface: it uses
``grasp_envs.grid``, ``grasp_envs.camera`` and ``grasp_envs.envs.observations``, never
``grasp_envs.sim``; ``grasp_envs`` never imports it.
"""
