"""Statistics shared by benchmark scripts (defined in :mod:`grasp_envs.stats`), and the rejection cells of their tables."""

from grasp_envs.stats import (
    Z95, cluster_counts, clustered_wilson_interval, effective_sample_size, median, wilson_interval,
)

#: The rejection reasons the benchmark tables count, in their printed order.
REJECTION_REASONS = ("penetrates_table", "penetrates_object", "blocked_approach", "closes_on_air")
REJECTION_HEADER = "rejected: table / object / approach / air"


def rejection_cell(counts) -> str:
    """``"a / b / c / d"``: how many grasps each of :data:`REJECTION_REASONS` rejected."""
    return " / ".join(str(counts.get(r, 0)) for r in REJECTION_REASONS)


__all__ = ["REJECTION_HEADER", "REJECTION_REASONS", "rejection_cell", "Z95", "cluster_counts", "clustered_wilson_interval", "effective_sample_size", "median", "wilson_interval"]
