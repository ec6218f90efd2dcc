"""Primitive banks: libraries of convex parts that procedural objects are assembled from.

A bank stores each part centred on its vertex mean and scaled so its largest axis-aligned extent
is 1.  The embedded default bank (``assets/default_bank.npz``) is built by
:func:`build_default_bank` from a fixed seed, so nothing is downloaded; ``grasp-envs primitives``
rebuilds it (``python -m grasp_envs.objects.primitives --out ...``).

The shipped file is the reference: procedural objects (and the benchmark tasks' object checksums)
are defined by its exact bytes.  The builder reproduces it to rounding error, not bit for bit:
BLAS kernels and vectorised ``exp``/``sin`` differ in the last bit between CPUs and NumPy builds.
``python -m grasp_envs.objects.primitives --check`` rebuilds the bank and compares it geometrically
(:meth:`PrimitiveBank.max_vertex_distance`) without writing anything.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from scipy.spatial import ConvexHull, cKDTree

from grasp_envs.objects.model import InvalidMeshError, part_hull

DEFAULT_BANK_FILE = "default_bank.npz"
BANK_FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class PrimitiveBank:
    """Convex parts as one vertex array with offsets (part ``j`` is ``vertices[offsets[j]:offsets[j+1]]``)."""

    vertices: np.ndarray
    offsets: np.ndarray
    kinds: tuple[str, ...]
    name: str = "bank"

    def __post_init__(self) -> None:
        if self.offsets.ndim != 1 or self.offsets[0] != 0 or self.offsets[-1] != len(self.vertices):
            raise InvalidMeshError(f"primitive bank {self.name!r}: offsets do not cover the vertices")
        if len(self.kinds) != len(self):
            raise InvalidMeshError(f"primitive bank {self.name!r}: {len(self.kinds)} kinds for {len(self)} parts")
        for arr in (self.vertices, self.offsets):
            arr.setflags(write=False)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def part(self, index: int) -> np.ndarray:
        return self.vertices[self.offsets[index] : self.offsets[index + 1]]

    @property
    def digest(self) -> str:
        """sha256 of the bank's content; procedural objects are reproducible given seed + digest."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.vertices, dtype="<f8").tobytes())
        h.update(np.ascontiguousarray(self.offsets, dtype="<i8").tobytes())
        return h.hexdigest()

    def max_vertex_distance(self, other: "PrimitiveBank") -> float:
        """Largest distance from a vertex of a part to the nearest vertex of the other bank's same part.

        Symmetric (the Hausdorff distance of the vertex sets, maximised over parts), in the
        normalised units of the bank (each part's largest extent is 1), and blind to the order of
        vertices.  Raises ``ValueError`` when the banks differ in their number or kinds of parts.
        """
        if len(self) != len(other):
            raise ValueError(f"banks differ in size: {self.name!r} has {len(self)} parts, {other.name!r} {len(other)}")
        worst = 0.0
        for i in range(len(self)):
            if self.kinds[i] != other.kinds[i]:
                raise ValueError(f"banks differ at part {i}: {self.kinds[i]!r} against {other.kinds[i]!r}")
            a, b = self.part(i), other.part(i)
            if len(a) == len(b) and np.array_equal(a, b):
                continue
            worst = max(worst, cKDTree(b).query(a)[0].max(), cKDTree(a).query(b)[0].max())
        return float(worst)

    @classmethod
    def from_parts(cls, parts: list[np.ndarray], kinds: list[str], name: str = "bank") -> "PrimitiveBank":
        """Normalise parts (centre on the vertex mean, largest extent 1) and pack them."""
        normed = []
        for i, p in enumerate(parts):
            hull = part_hull(p, name=f"{name} primitive {i}")
            v = np.asarray(p, dtype=np.float64)[hull.vertices]
            v = v - v.mean(axis=0)
            v = v / np.ptp(v, axis=0).max()
            normed.append(v)
        offsets = np.concatenate([[0], np.cumsum([len(v) for v in normed])]).astype(np.int64)
        return cls(np.concatenate(normed), offsets, tuple(kinds), name)

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            path,
            vertices=self.vertices,
            offsets=self.offsets,
            kinds=np.array(self.kinds),
            name=np.array(self.name),
            format_version=np.array(BANK_FORMAT_VERSION),
        )

    @classmethod
    def load(cls, path: str | Path) -> "PrimitiveBank":
        try:
            with np.load(path, allow_pickle=False) as z:
                version = int(z["format_version"])
                if version != BANK_FORMAT_VERSION:
                    raise InvalidMeshError(
                        f"primitive bank {path}: format version {version}, expected {BANK_FORMAT_VERSION}; rebuild it"
                    )
                return cls(z["vertices"], z["offsets"], tuple(str(k) for k in z["kinds"]), str(z["name"]))
        except (OSError, KeyError, ValueError) as exc:
            if isinstance(exc, InvalidMeshError):
                raise
            raise InvalidMeshError(f"primitive bank {path} is unreadable or corrupt: {exc}") from None


@lru_cache(maxsize=1)
def default_bank() -> PrimitiveBank:
    """The embedded primitive bank shipped inside the package."""
    with resources.as_file(resources.files("grasp_envs.objects") / "assets" / DEFAULT_BANK_FILE) as p:
        return PrimitiveBank.load(p)


# --------------------------------------------------------------------------------------------
# Building the default bank.  Every generator returns a point set whose convex hull is the part.


def _random_hull(rng: np.random.Generator) -> np.ndarray:
    n = int(rng.integers(6, 40))
    if rng.random() < 0.5:
        return rng.uniform(-1, 1, size=(n, 3))
    return rng.normal(size=(n, 3)) * rng.uniform(0.2, 1.0, size=3)


def _box(rng: np.random.Generator) -> np.ndarray:
    return np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)


def _prism(rng: np.random.Generator, *, taper: float = 1.0) -> np.ndarray:
    n = int(rng.integers(3, 25))
    a = np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(0, np.pi)
    ring = np.stack([np.cos(a), np.sin(a)], axis=1)
    bottom = np.column_stack([ring, -np.ones(n)])
    top = np.column_stack([ring * taper, np.ones(n)])
    if taper < 1e-3:
        top = np.array([[0.0, 0.0, 1.0]])
    return np.concatenate([bottom, top])


def _superquadric(rng: np.random.Generator) -> np.ndarray:
    # Convex for exponents in (0, 2]; small exponents give boxy shapes, 2 gives octahedra.
    e1, e2 = rng.uniform(0.25, 2.0, size=2)
    u = np.linspace(-np.pi / 2, np.pi / 2, 9)
    w = np.linspace(-np.pi, np.pi, 16, endpoint=False)
    U, W = np.meshgrid(u, w)

    def f(x: np.ndarray, e: float) -> np.ndarray:
        return np.sign(x) * np.abs(x) ** e

    pts = np.stack([f(np.cos(U), e1) * f(np.cos(W), e2), f(np.cos(U), e1) * f(np.sin(W), e2), f(np.sin(U), e1)], -1)
    return np.unique(np.round(pts.reshape(-1, 3), 12), axis=0)


def _capsule(rng: np.random.Generator) -> np.ndarray:
    s = rng.normal(size=(48, 3))
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    half = rng.uniform(0.5, 3.0)
    s[:24, 2] += half
    s[24:, 2] -= half
    return s


def _wedge(rng: np.random.Generator) -> np.ndarray:
    t = rng.uniform(-1, 1)
    return np.array([[-1, -1, -1], [1, -1, -1], [-1, 1, -1], [1, 1, -1], [t, -1, 1], [t, 1, 1]], dtype=float)


_KINDS = {
    "hull": _random_hull,
    "box": _box,
    "cylinder": lambda r: _prism(r),
    "frustum": lambda r: _prism(r, taper=r.uniform(0.0, 0.9)),
    "superquadric": _superquadric,
    "capsule": _capsule,
    "wedge": _wedge,
}
#: Relative frequency of each kind in the default bank.  Irregular hulls dominate, as in a bank of
#: convex decompositions of real meshes.
_KIND_WEIGHTS = {"hull": 0.40, "box": 0.12, "cylinder": 0.12, "frustum": 0.10, "superquadric": 0.12, "capsule": 0.07, "wedge": 0.07}


def build_default_bank(n: int = 2000, seed: int = 20171017) -> PrimitiveBank:
    """Build the default bank: ``n`` convex primitives with random anisotropic stretch.

    Each primitive is one kind (random point-cloud hull, box, n-gon cylinder, frustum/cone,
    superquadric, capsule, wedge), stretched per axis by log-uniform factors in [0.08, 1] so the
    bank holds plates, sticks and slabs as well as blobs, then randomly rotated.
    """
    rng = np.random.default_rng(seed)
    names = list(_KINDS)
    p = np.array([_KIND_WEIGHTS[k] for k in names])
    parts, kinds = [], []
    while len(parts) < n:
        kind = names[int(rng.choice(len(names), p=p / p.sum()))]
        pts = _KINDS[kind](rng)
        stretch = np.exp(rng.uniform(np.log(0.08), 0.0, size=3))
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        w, x, y, z = q
        R = np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
        )
        pts = (pts * stretch) @ R.T
        try:
            hull = ConvexHull(pts)
        except Exception:  # degenerate draw (e.g. a nearly flat random hull): draw again
            continue
        ext = np.ptp(pts, axis=0)
        if hull.volume < 1e-4 * ext.max() ** 3:
            continue
        parts.append(pts[hull.vertices])
        kinds.append(kind)
    return PrimitiveBank.from_parts(parts, kinds, name="default")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Rebuild the embedded default primitive bank.")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "assets" / DEFAULT_BANK_FILE)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=20171017)
    ap.add_argument("--check", action="store_true",
                    help="rebuild and compare with the embedded bank geometrically; write nothing")
    args = ap.parse_args(argv)
    bank = build_default_bank(args.n, args.seed)
    if args.check:
        shipped = default_bank()
        d = shipped.max_vertex_distance(bank)
        same = "bit for bit" if d == 0 else f"to {d:.1e} of a part's size"
        print(f"rebuilt {len(bank)} primitives; they match the embedded bank {same} (sha256 {bank.digest[:16]}, "
              f"embedded {shipped.digest[:16]})")
        return
    bank.save(args.out)
    print(f"wrote {len(bank)} primitives to {args.out} (sha256 {bank.digest[:16]})")


if __name__ == "__main__":
    main()
