"""Procedural random objects (Tobin et al. 2017, section III.A.1).

1. sample a number of parts ``n`` in [1, 15];
2. sample ``n`` primitives from a primitive bank;
3. scale each primitive per axis so all its dimensions lie in [1, 15] cm (after a random rotation);
4. place the parts one by one so each intersects at least one earlier part: a point drawn inside an
   earlier part is made to coincide with a point drawn inside the new part, so both contain it;
5. rescale the whole object to the size distribution of real graspable objects: the object's
   largest extent is matched to that of a YCB object drawn at random, with a log-normal jitter
   (:mod:`grasp_envs.objects.sizes`).  Matching the largest extent (rather than the volume)
   keeps many objects near the gripper's 10 cm limit, as the paper's failure analysis describes.

Same seed and same bank give the same object, bit for bit: all randomness comes from one
``numpy.random.Generator`` built from the seed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass

import numpy as np
from scipy.spatial import ConvexHull

from grasp_envs.objects.model import GraspObject, InvalidMeshError, union_mass_properties
from grasp_envs.objects.primitives import PrimitiveBank, default_bank
from grasp_envs.objects.sizes import ycb_sorted_extents


@dataclass(frozen=True)
class RandomObjectConfig:
    """Parameters of the procedural object distribution.

    Attributes:
        min_parts: Fewest convex parts per object (paper: 1).
        max_parts: Most convex parts per object (paper: 15).
        part_size: Range of every dimension of a scaled primitive, metres (paper: 1-15 cm).
        size_match: Which statistic of the sorted extents is matched to the YCB draw:
            ``"geomean"`` (cube root of the OBB volume), ``"middle"`` or ``"max"``.
        size_jitter: Standard deviation of the log-normal factor on the matched size.
        density: Range of the log-uniform density draw, kg/m^3.  Chosen to span YCB objects:
            hollow boxes and cans (about 150) to solid fruit and tools (about 1000).
        friction: Range of the object's sliding friction coefficient (uniform draw).  It governs
            finger and table contacts (the object's geoms take priority in MuJoCo), spanning
            slippery plastic against rubber pads (0.4) to rubber on rubber (1.0).
        min_mass: Lightest object (kg).  Thin objects at low density would otherwise weigh a
            few grams, which no real graspable object does and which MuJoCo's mass-scaled soft
            contacts cannot hold under a 60 N squeeze.
        volume: How the mass's volume is measured: ``"exact"`` (the union of the parts,
            :meth:`GraspObject.mass_properties`; physics version 1) or ``"grid"`` (cell centres
            of a 32^3 grid inside any part, :func:`union_volume`; physics version 0, the
            development physics, kept so its objects stay bit for bit the same).
    """

    min_parts: int = 1
    max_parts: int = 15
    part_size: tuple[float, float] = (0.01, 0.15)
    size_match: str = "max"
    size_jitter: float = 0.15
    density: tuple[float, float] = (150.0, 1000.0)
    friction: tuple[float, float] = (0.4, 1.0)
    min_mass: float = 0.05
    volume: str = "exact"

    def __post_init__(self) -> None:
        if not 1 <= self.min_parts <= self.max_parts:
            raise ValueError(f"need 1 <= min_parts <= max_parts, got {self.min_parts}, {self.max_parts}")
        lo, hi = self.part_size
        if not 0 < lo <= hi:
            raise ValueError(f"part_size must satisfy 0 < low <= high, got {self.part_size}")
        if self.size_match not in ("geomean", "middle", "max"):
            raise ValueError(f"size_match must be 'geomean', 'middle' or 'max', got {self.size_match!r}")
        if self.size_jitter < 0:
            raise ValueError(f"size_jitter must be >= 0, got {self.size_jitter}")
        dlo, dhi = self.density
        if not 0 < dlo <= dhi:
            raise ValueError(f"density must satisfy 0 < low <= high, got {self.density}")
        flo, fhi = self.friction
        if not 0 < flo <= fhi:
            raise ValueError(f"friction must satisfy 0 < low <= high, got {self.friction}")
        if self.min_mass <= 0:
            raise ValueError(f"min_mass must be positive, got {self.min_mass}")
        if self.volume not in ("exact", "grid"):
            raise ValueError(f"volume must be 'exact' or 'grid', got {self.volume!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """Uniformly random rotation matrix (from a normalised Gaussian quaternion)."""
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _interior_point(vertices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random point strictly inside the convex hull of ``vertices`` (Dirichlet weights)."""
    w = rng.dirichlet(np.full(len(vertices), 0.5))
    return w @ vertices


def _size_statistic(extent_sorted: np.ndarray, how: str) -> float:
    if how == "geomean":
        return float(np.prod(extent_sorted) ** (1.0 / 3.0))
    if how == "middle":
        return float(extent_sorted[1])
    return float(extent_sorted[2])


def union_volume(parts: list[np.ndarray], resolution: int = 32) -> float:
    """Volume of the union of convex parts, by counting cell centres on a regular grid.

    The development physics' (version 0) measure, about 1% off; version 1 uses the exact
    :func:`grasp_envs.objects.model.union_mass_properties`.
    """
    allv = np.concatenate(parts)
    lo, hi = allv.min(axis=0), allv.max(axis=0)
    axes = [lo[i] + (np.arange(resolution) + 0.5) * (hi[i] - lo[i]) / resolution for i in range(3)]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    inside = np.zeros(len(pts), dtype=bool)
    for p in parts:
        eq = ConvexHull(p).equations
        inside |= np.all(pts @ eq[:, :3].T + eq[:, 3] <= 1e-12, axis=1)
    cell = np.prod((hi - lo) / resolution)
    return float(inside.sum() * cell)


def generate_random_object(
    seed: int,
    bank: PrimitiveBank | None = None,
    config: RandomObjectConfig = RandomObjectConfig(),
) -> GraspObject:
    """Build the procedural object for ``seed`` (deterministic given seed, bank and config).

    The last :data:`OBJECT_CACHE_SIZE` objects are kept: asking again for a seed returns the
    same (immutable) object, with its parts' hulls and union mass properties, at no cost.
    """
    if bank is None:
        bank = default_bank()
    if seed < 0:
        raise ValueError(f"object seed must be non-negative, got {seed}")
    key = (id(bank), int(seed), config)
    with _CACHE_LOCK:
        hit = _OBJECT_CACHE.get(key)
        if hit is not None and hit[0] is bank:
            _OBJECT_CACHE.move_to_end(key)
            return hit[1]
    obj = _generate(int(seed), bank, config)
    if OBJECT_CACHE_SIZE > 0:
        with _CACHE_LOCK:
            _OBJECT_CACHE[key] = (bank, obj)
            while len(_OBJECT_CACHE) > OBJECT_CACHE_SIZE:
                _OBJECT_CACHE.popitem(last=False)
    return obj


#: How many procedural objects :func:`generate_random_object` keeps (0: none).  Outcomes never
#: depend on it: a kept object is the one the seed builds.
OBJECT_CACHE_SIZE = 64
_OBJECT_CACHE: OrderedDict = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _generate(seed: int, bank: PrimitiveBank, config: RandomObjectConfig) -> GraspObject:
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x6F626A]))
    # A draw can (rarely) give a part too thin to simulate; draw again from the same stream, so
    # the result stays a pure function of the seed and valid draws are unaffected.
    for _ in range(_MAX_DRAWS - 1):
        try:
            return _draw_object(seed, rng, bank, config)
        except InvalidMeshError:
            continue
    return _draw_object(seed, rng, bank, config)


_MAX_DRAWS = 20


def _draw_object(seed: int, rng: np.random.Generator, bank: PrimitiveBank, config: RandomObjectConfig) -> GraspObject:
    n = int(rng.integers(config.min_parts, config.max_parts + 1))
    lo, hi = config.part_size
    parts: list[np.ndarray] = []
    for k in range(n):
        v = bank.part(int(rng.integers(len(bank)))) @ random_rotation(rng).T
        target = rng.uniform(lo, hi, size=3)
        v = (v - v.mean(axis=0)) * (target / np.ptp(v, axis=0))
        if parts:
            anchor = _interior_point(parts[int(rng.integers(len(parts)))], rng)
            v = v + (anchor - _interior_point(v, rng))
        parts.append(v)

    allv = np.concatenate(parts)
    centre = 0.5 * (allv.min(axis=0) + allv.max(axis=0))
    parts = [p - centre for p in parts]
    # Rescale to the real-object size distribution.  The sorted extents of the OBB are
    # approximated by those of the axis-aligned box of the principal axes.
    allv = np.concatenate(parts)
    cov = np.cov((allv - allv.mean(axis=0)).T)
    _, axes = np.linalg.eigh(cov)
    ext = np.sort(np.ptp(allv @ axes, axis=0))
    ycb = ycb_sorted_extents()
    ref = ycb[int(rng.integers(len(ycb)))]
    target = _size_statistic(ref, config.size_match) * float(np.exp(rng.normal(0.0, config.size_jitter)))
    scale = target / _size_statistic(ext, config.size_match)
    parts = [p * scale for p in parts]

    dlo, dhi = config.density
    density = float(np.exp(rng.uniform(np.log(dlo), np.log(dhi))))
    props = union_mass_properties(parts, name=f"random-{seed}") if config.volume == "exact" else None
    volume = props.volume if props is not None else union_volume(parts)
    mass = max(config.min_mass, density * volume)
    friction = float(rng.uniform(*config.friction))
    obj = GraspObject(
        name=f"random-{seed}",
        parts=tuple(parts),
        mass=mass,
        friction=friction,
        source="random",
        seed=int(seed),
    )
    if props is not None:  # the same parts' hulls: keep what was just computed
        object.__setattr__(obj, "_mass_properties", props)
    return obj
