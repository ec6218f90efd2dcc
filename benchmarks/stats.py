"""Statistics shared by benchmark scripts (defined in :mod:`grasp_envs.stats`)."""

from grasp_envs.stats import median, wilson_interval

__all__ = ["median", "wilson_interval"]
