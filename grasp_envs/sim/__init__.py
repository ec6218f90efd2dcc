"""MuJoCo grasp simulation.  Uses :mod:`grasp_envs.objects`; knows nothing of Gymnasium."""

from grasp_envs.sim.scene import ModelBuildError
from grasp_envs.sim.simulator import GraspOutcome, GraspSimulator, Rejection, SimConfig, SimulationError

__all__ = ["GraspOutcome", "GraspSimulator", "ModelBuildError", "Rejection", "SimConfig", "SimulationError"]
