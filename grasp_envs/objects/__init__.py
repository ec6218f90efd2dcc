"""Objects: convex-part models and their sources.  Knows nothing of MuJoCo or Gymnasium."""

from grasp_envs.objects.model import GraspObject, InvalidMeshError
from grasp_envs.objects.primitives import PrimitiveBank, build_default_bank, default_bank
from grasp_envs.objects.procedural import RandomObjectConfig, generate_random_object

__all__ = [
    "GraspObject",
    "InvalidMeshError",
    "PrimitiveBank",
    "RandomObjectConfig",
    "build_default_bank",
    "default_bank",
    "generate_random_object",
]
