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


def success_cells(row: dict) -> str:
    """``"rate (k/n) | [lo, hi]"``: a result row's success rate and its 95% interval, two table cells."""
    return f"{row['success']:.3f} ({row['successes']}/{row['episodes']}) | [{row['ci95'][0]:.3f}, {row['ci95'][1]:.3f}]"


__all__ = ["REJECTION_HEADER", "REJECTION_REASONS", "rejection_cell", "success_cells", "Z95", "cluster_counts", "clustered_wilson_interval", "effective_sample_size", "median", "wilson_interval"]
