"""Size distribution of real graspable objects, derived from the YCB metadata.

Each row is one of the 52 YCB objects in the development data (``shared/data/index.json``):
id, the sorted extents of its oriented bounding box (metres) and its mass (kg, from the YCB object
list).  ``tests/test_objects.py`` re-derives the table from the metadata when the data is present.
Procedural objects are rescaled so that their sorted extents follow this empirical distribution
(see :class:`grasp_envs.objects.procedural.RandomObjectConfig`).
"""

from __future__ import annotations

import numpy as np

YCB_SIZES: tuple[tuple[str, float, float, float, float], ...] = (
    ("002_master_chef_can", 0.10241, 0.10251, 0.14026, 0.414),
    ("003_cracker_box", 0.07168, 0.16360, 0.21380, 0.411),
    ("004_sugar_box", 0.04518, 0.09212, 0.17615, 0.514),
    ("007_tuna_fish_can", 0.03345, 0.08533, 0.08535, 0.171),
    ("009_gelatin_box", 0.02978, 0.07272, 0.08940, 0.097),
    ("010_potted_meat_can", 0.05729, 0.08345, 0.10154, 0.370),
    ("012_strawberry", 0.04284, 0.04620, 0.04677, 0.018),
    ("013_apple", 0.07125, 0.07466, 0.07473, 0.068),
    ("014_lemon", 0.05294, 0.05853, 0.05977, 0.029),
    ("015_peach", 0.05736, 0.05912, 0.06375, 0.033),
    ("017_orange", 0.07136, 0.07172, 0.07235, 0.047),
    ("019_pitcher_base", 0.14277, 0.14609, 0.24561, 0.178),
    ("022_windex_bottle", 0.08086, 0.09381, 0.26951, 1.022),
    ("026_sponge", 0.01814, 0.07927, 0.11121, 0.006),
    ("028_skillet_lid", 0.07488, 0.26765, 0.26792, 0.652),
    ("029_plate", 0.02646, 0.25990, 0.25997, 0.279),
    ("030_fork", 0.01553, 0.02564, 0.19779, 0.034),
    ("032_knife", 0.01534, 0.01954, 0.21486, 0.031),
    ("033_spatula", 0.03292, 0.08360, 0.31098, 0.051),
    ("035_power_drill", 0.05718, 0.18434, 0.18678, 0.895),
    ("036_wood_block", 0.08929, 0.08981, 0.20611, 0.729),
    ("038_padlock", 0.02884, 0.05387, 0.07027, 0.208),
    ("040_large_marker", 0.01879, 0.01881, 0.12085, 0.016),
    ("042_adjustable_wrench", 0.01366, 0.05840, 0.20283, 0.252),
    ("044_flat_screwdriver", 0.03355, 0.03452, 0.21615, 0.098),
    ("051_large_clamp", 0.03620, 0.12164, 0.16493, 0.125),
    ("052_extra_large_clamp", 0.03619, 0.16522, 0.20228, 0.202),
    ("053_mini_soccer_ball", 0.12200, 0.12535, 0.12640, 0.123),
    ("054_softball", 0.09475, 0.09522, 0.09561, 0.191),
    ("057_racquetball", 0.05556, 0.05569, 0.05580, 0.041),
    ("058_golf_ball", 0.04239, 0.04256, 0.04263, 0.046),
    ("059_chain", 0.02453, 0.27251, 0.27470, 0.100),
    ("063-a_marbles", 0.07095, 0.07238, 0.07471, 0.001),
    ("063-b_marbles", 0.03445, 0.03468, 0.03479, 0.001),
    ("065-a_cups", 0.05700, 0.05714, 0.06144, 0.013),
    ("065-b_cups", 0.06055, 0.06061, 0.06384, 0.014),
    ("065-d_cups", 0.06889, 0.07016, 0.07047, 0.019),
    ("065-e_cups", 0.07066, 0.07511, 0.07511, 0.021),
    ("065-g_cups", 0.07383, 0.08669, 0.08681, 0.028),
    ("065-h_cups", 0.07490, 0.09112, 0.09148, 0.031),
    ("065-j_cups", 0.07542, 0.10226, 0.10273, 0.038),
    ("070-a_colored_wood_blocks", 0.14084, 0.14208, 0.16549, 0.011),
    ("071_nine_hole_peg_test", 0.04047, 0.13148, 0.15250, 1.435),
    ("072-a_toy_airplane", 0.17744, 0.24981, 0.27492, 0.114),
    ("072-c_toy_airplane", 0.03052, 0.03054, 0.06665, 0.114),
    ("072-d_toy_airplane", 0.03062, 0.03062, 0.06642, 0.114),
    ("072-e_toy_airplane", 0.03060, 0.03065, 0.06609, 0.114),
    ("073-a_lego_duplo", 0.02392, 0.03223, 0.06400, 0.037),
    ("073-b_lego_duplo", 0.03222, 0.03231, 0.04322, 0.037),
    ("073-d_lego_duplo", 0.03255, 0.04318, 0.04794, 0.037),
    ("073-e_lego_duplo", 0.03237, 0.04301, 0.09595, 0.037),
    ("073-g_lego_duplo", 0.05972, 0.12717, 0.30270, 0.149)
,
)


def ycb_sorted_extents() -> np.ndarray:
    """Sorted OBB extents of the YCB objects, shape (52, 3), ascending per row."""
    return np.array([row[1:4] for row in YCB_SIZES], dtype=np.float64)


def ycb_densities() -> np.ndarray:
    """Approximate density (kg/m^3) of each YCB object: mass over the OBB volume."""
    e = ycb_sorted_extents()
    m = np.array([row[4] for row in YCB_SIZES])
    return m / e.prod(axis=1)
