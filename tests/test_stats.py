"""Success-rate intervals: Wilson for independent episodes, Wilson clustered by object for repeats."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import t as student_t

from grasp_envs.stats import (
    Z95, cluster_counts, clustered_wilson_interval, effective_sample_size, wilson_interval,
)


def width(ci):
    return ci[1] - ci[0]


def test_wilson_known_values():
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(0, 0) == (0.0, 1.0)


def test_one_episode_per_object_is_exactly_wilson():
    succ = [1] * 37 + [0] * 63
    assert clustered_wilson_interval(succ, [1] * 100) == wilson_interval(37, 100)
    assert effective_sample_size(succ, [1] * 100) == 100


def test_identical_repeats_count_as_one_episode_per_object():
    # 100 objects, 3 seeds each, every seed with the same outcome: a deterministic agent replaying scenes
    succ, sizes = [3] * 40 + [0] * 60, [3] * 100
    pooled = wilson_interval(120, 300)
    clustered = clustered_wilson_interval(succ, sizes)
    assert clustered[0] < pooled[0] and clustered[1] > pooled[1]
    assert width(clustered) > 1.6 * width(pooled)  # about sqrt(3) wider
    # the design effect is exactly 3; only the G - 1 degrees of freedom shrink n further
    df_factor = (Z95 / student_t.ppf(0.975, 99)) ** 2
    assert effective_sample_size(succ, sizes) == pytest.approx(100 * df_factor, rel=1e-9)
    per_object = wilson_interval(40, 100)
    assert clustered[0] == pytest.approx(per_object[0], abs=3e-3) and clustered[1] == pytest.approx(per_object[1], abs=3e-3)


def test_independent_repeats_approach_wilson():
    rng = np.random.default_rng(3)
    y = rng.random((300, 3)) < 0.5  # outcomes independent of the object
    pooled = wilson_interval(int(y.sum()), 900)
    clustered = clustered_wilson_interval(y.sum(axis=1).tolist(), [3] * 300)
    assert 1.0 <= width(clustered) / width(pooled) < 1.1


def test_all_failures_with_repeats_assume_full_dependence():
    lo, hi = clustered_wilson_interval([0] * 50, [3] * 50)
    assert lo == 0.0 and hi > wilson_interval(0, 150)[1]
    assert wilson_interval(0, 50)[1] <= hi < wilson_interval(0, 45)[1]  # G objects, less the df correction
    assert clustered_wilson_interval([6], [6]) == pytest.approx(wilson_interval(1, 1))  # one object: one episode


def test_never_narrower_than_wilson():
    rng = np.random.default_rng(0)
    for _ in range(200):
        g = int(rng.integers(2, 40))
        sizes = rng.integers(1, 6, g)
        p = rng.random()
        succ = [int(rng.binomial(m, p if rng.random() < 0.5 else rng.random())) for m in sizes]
        n, k = int(sizes.sum()), sum(succ)
        c, w = clustered_wilson_interval(succ, sizes), wilson_interval(k, n)
        assert c[0] <= w[0] + 1e-12 and c[1] >= w[1] - 1e-12
        assert 0.0 < effective_sample_size(succ, sizes) <= n


def test_cluster_counts_and_errors():
    assert cluster_counts([True, False, True, True], ["a", "b", "a", "c"]) == ([2, 0, 1], [2, 1, 1])
    with pytest.raises(ValueError, match="3 outcomes but 2 cluster keys"):
        cluster_counts([1, 0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="0 <= successes <= episodes"):
        effective_sample_size([3], [2])
    assert math.isclose(sum(clustered_wilson_interval([2, 0], [2, 2])), 1.0)  # symmetric at p = 0.5
