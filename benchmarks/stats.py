"""Statistics shared by benchmark scripts (defined in :mod:`grasp_envs.stats`)."""

from grasp_envs.stats import (
    Z95, cluster_counts, clustered_wilson_interval, effective_sample_size, median, wilson_interval,
)

__all__ = ["Z95", "cluster_counts", "clustered_wilson_interval", "effective_sample_size", "median", "wilson_interval"]
