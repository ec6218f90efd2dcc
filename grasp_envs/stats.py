"""Statistics for reported success rates (used by agents and benchmarks alike).

Two intervals for a success rate:

* :func:`wilson_interval`: the Wilson score interval, for episodes that are independent draws
  (every episode a fresh object, as in ``grasp-envs baselines`` on random objects).
* :func:`clustered_wilson_interval`: the same interval with the number of episodes replaced by
  an effective number that accounts for episodes sharing an object (a benchmark task runs each
  object once per evaluation seed; YCB scenes reuse each of a few dozen objects).  Outcomes on
  the same object are correlated (an object the gripper cannot hold fails in every orientation),
  so N episodes on G objects carry less information than N independent episodes: with identical
  outcomes on every repeat they carry exactly as much as G.

The clustered interval is the design-effect ("effective sample size") Wilson interval of survey
statistics (Kish 1965; Korn & Graubard 1998): the design effect is the cluster-robust variance of
the pooled success rate (the linearised variance of a ratio estimator, clusters = objects) over
its binomial variance, the effective number of episodes is N / design effect, reduced by
``(z / t_{G-1})^2`` for the G - 1 degrees of freedom of that variance estimate, and the Wilson
interval is computed at the pooled rate with that many episodes.  It was chosen over a cluster
bootstrap because it is deterministic (no resampling seed, identical on every platform and NumPy
version), keeps Wilson's behaviour at rates near 0 and 1 where a percentile bootstrap collapses
to a point, and is exactly Wilson when every episode is its own object.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable

#: z of a two-sided 95% interval.
Z95 = 1.959963984540054


def _wilson(p: float, n: float, z: float) -> tuple[float, float]:
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if p <= 0.0 else max(0.0, centre - half)
    hi = 1.0 if p >= 1.0 else min(1.0, centre + half)
    return (lo, hi)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default)."""
    if n <= 0:
        return (0.0, 1.0)
    return _wilson(successes / n, n, z)


def cluster_counts(outcomes: Iterable[bool], clusters: Iterable[Hashable]) -> tuple[list[int], list[int]]:
    """Per-cluster (successes, episodes) of paired ``outcomes`` and cluster keys, in first-seen order."""
    succ: dict[Hashable, int] = {}
    size: dict[Hashable, int] = {}
    outcomes, clusters = list(outcomes), list(clusters)
    if len(outcomes) != len(clusters):
        raise ValueError(f"{len(outcomes)} outcomes but {len(clusters)} cluster keys")
    for y, c in zip(outcomes, clusters):
        succ[c] = succ.get(c, 0) + int(bool(y))
        size[c] = size.get(c, 0) + 1
    return [succ[c] for c in size], list(size.values())


def _t_quantile(q: float, df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(q, df))


def effective_sample_size(successes: Iterable[int], sizes: Iterable[int], z: float = Z95) -> float:
    """Effective number of independent episodes of clustered binary outcomes.

    ``successes[i]`` of ``sizes[i]`` episodes succeeded in cluster ``i``.  Every cluster of size 1:
    the episode count itself.  Otherwise N / design effect (truncated at 1, so never above N) times
    ``(z / t_{G-1})^2``.  When every episode has the same outcome the within-cluster correlation
    cannot be estimated and each cluster counts as one episode (the most dependent case).
    """
    y, m = [int(v) for v in successes], [int(v) for v in sizes]
    if len(y) != len(m) or any(v < 1 for v in m) or any(not 0 <= a <= b for a, b in zip(y, m)):
        raise ValueError("clusters need 0 <= successes <= episodes and at least one episode each")
    n, g = sum(m), len(m)
    if n == 0:
        return 0.0
    if max(m) == 1:
        return float(n)
    if g == 1:
        return 1.0
    p = sum(y) / n
    if p in (0.0, 1.0):
        n_eff = float(g)
    else:
        deff = sum((a - p * b) ** 2 for a, b in zip(y, m)) / (n * p * (1 - p))
        n_eff = n / max(deff, 1.0)
    level = 0.5 * (1 + math.erf(z / math.sqrt(2)))  # Phi(z)
    return min(float(n), n_eff * (z / _t_quantile(level, g - 1)) ** 2)


def clustered_wilson_interval(successes: Iterable[int], sizes: Iterable[int], z: float = Z95) -> tuple[float, float]:
    """Wilson interval at the pooled rate with the :func:`effective_sample_size` of the clusters.

    Equals :func:`wilson_interval` when every cluster holds one episode; wider when repeats of a
    cluster agree more often than independent episodes would.
    """
    y, m = [int(v) for v in successes], [int(v) for v in sizes]
    n = sum(m)
    if n <= 0:
        return (0.0, 1.0)
    if max(m) == 1:
        return wilson_interval(sum(y), n, z)
    return _wilson(sum(y) / n, effective_sample_size(y, m, z), z)


def median(values) -> float:
    v = sorted(values)
    n = len(v)
    if n == 0:
        return float("nan")
    return float(v[n // 2]) if n % 2 else float(0.5 * (v[n // 2 - 1] + v[n // 2]))
