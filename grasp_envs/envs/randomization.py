"""Domain randomisation: one typed, frozen configuration of everything a simulated env may vary.

Every simulated environment takes ``randomization=`` (a :class:`RandomizationConfig` or a dict of
its fields).  Every knob is off by default, and an env whose knobs are all off draws nothing
extra from its ``np_random``: its scenes, observations and outcomes are bit for bit those of an
env built without the argument, and its physics identity is unchanged.  With any knob on the
configuration joins the env's physics identity (``"randomization"``), so a task or a dataset can
never silently change its randomisation.

Each knob is drawn once per ``reset`` from the env's ``np_random``, after the object and its
orientation (so the same seeds give the same objects at every setting), in the order of the
fields below, and only when it is on:

=================  ===========  ===================================================================
knob               default      what it varies
=================  ===========  ===================================================================
object_friction    None (off)   the object's sliding friction (``GraspObject.friction``), uniform in
                                ``[low, high]``; it rules the object's contacts unless the next two
                                are on
finger_friction    None (off)   the sliding friction of finger-object contacts, uniform
table_friction     None (off)   the sliding friction of table-object contacts, uniform (settling too)
object_scale       None (off)   a factor scaling the object's parts about its box centre,
                                log-uniform; the mass follows the density (x factor^3)
density_scale      None (off)   a factor on the object's (uniform) density, log-uniform
part_density       None (off)   non-uniform density: each convex part's density times its own
                                log-uniform factor, exact mass, centre and inertia of the disjoint
                                pieces (:func:`grasp_envs.objects.model.piecewise_mass_properties`;
                                needs physics version >= 1)
camera_position    0.0 (off)    the observation cameras' position error: uniform in +-value (m) per
                                world axis
camera_tilt        0.0 (off)    their orientation error: a rotation by uniform [0, value] degrees
                                about a uniformly random axis in the image plane
camera_fovy        0.0 (off)    their vertical field of view error: uniform in +-value degrees
depth_noise        "none"       depth noise preset (:data:`DEPTH_NOISE_PRESETS`): ``"low"``,
                                ``"dexnet"`` (Mahler et al. 2017, as ``ObservationConfig(noise=
                                "dexnet")``), ``"high"``
bbox_noise         0.0 (off)    Gaussian error (m) on each face of the box the agent sees (as
                                ``ObservationConfig.bbox_noise``)
=================  ===========  ===================================================================

The camera knobs perturb the cameras that render the observation only: agents keep the nominal
:class:`~grasp_envs.envs.observations.ObservationConfig` (the calibration they believe in), which
is the point: robustness to a miscalibrated camera.  The hand camera (the evaluator's
candidates' images) is not perturbed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from grasp_envs.objects import GraspObject
from grasp_envs.objects.model import BodyInertia, piecewise_mass_properties

#: Depth-noise presets: name -> (Gamma shape of the per-image multiplicative factor, sigma (m) of
#: the correlated additive Gaussian field), :func:`grasp_envs.envs.observations.dexnet_noise`.
#: ``"dexnet"`` is Mahler et al.'s (and ``ObservationConfig(noise="dexnet")``'s) setting.
DEPTH_NOISE_PRESETS: dict[str, tuple[float, float] | None] = {
    "none": None,
    "low": (4000.0, 0.0025),
    "dexnet": (1000.0, 0.005),
    "high": (250.0, 0.010),
}

#: Range knobs: name -> (smallest allowed value, largest allowed value, drawn log-uniformly).
_RANGES = {
    "object_friction": (0.01, 5.0, False),
    "finger_friction": (0.01, 5.0, False),
    "table_friction": (0.01, 5.0, False),
    "object_scale": (0.25, 4.0, True),
    "density_scale": (0.01, 100.0, True),
    "part_density": (0.01, 100.0, True),
}
#: Magnitude knobs: name -> (largest allowed value, unit).
_MAGNITUDES = {"camera_position": (0.1, "m"), "camera_tilt": (30.0, "degrees"), "camera_fovy": (20.0, "degrees"),
               "bbox_noise": (0.05, "m")}

Range = tuple[float, float]


@dataclass(frozen=True)
class RandomizationConfig:
    """What a simulated env randomises per reset; every knob off by default (see the module docs).

    Attributes:
        object_friction: ``(low, high)`` of the object's sliding friction (uniform) or ``None``.
        finger_friction: ``(low, high)`` of the finger-object contacts' sliding friction or ``None``.
        table_friction: ``(low, high)`` of the table-object contacts' sliding friction or ``None``.
        object_scale: ``(low, high)`` of the object's scale factor (log-uniform) or ``None``.
        density_scale: ``(low, high)`` of the density factor (log-uniform) or ``None``.
        part_density: ``(low, high)`` of each part's own density factor (log-uniform) or ``None``.
        camera_position: Largest position error of the observation cameras per axis (m).
        camera_tilt: Largest tilt of the observation cameras (degrees).
        camera_fovy: Largest field-of-view error of the observation cameras (degrees).
        depth_noise: Depth-noise preset, one of :data:`DEPTH_NOISE_PRESETS`.
        bbox_noise: Standard deviation (m) of the error on each face of the observed box.
    """

    object_friction: Range | None = None
    finger_friction: Range | None = None
    table_friction: Range | None = None
    object_scale: Range | None = None
    density_scale: Range | None = None
    part_density: Range | None = None
    camera_position: float = 0.0
    camera_tilt: float = 0.0
    camera_fovy: float = 0.0
    depth_noise: str = "none"
    bbox_noise: float = 0.0

    def __post_init__(self) -> None:
        for name, (lo_ok, hi_ok, _) in _RANGES.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
                raise ValueError(f"randomization {name} must be a [low, high] pair or None, got {value!r}")
            try:
                lo, hi = float(value[0]), float(value[1])
            except (TypeError, ValueError):
                raise ValueError(f"randomization {name} must be a pair of numbers, got {value!r}") from None
            if not (math.isfinite(lo) and math.isfinite(hi) and lo_ok <= lo <= hi <= hi_ok):
                raise ValueError(f"randomization {name} must satisfy {lo_ok:g} <= low <= high <= {hi_ok:g}, "
                                 f"got {value!r}")
            object.__setattr__(self, name, (lo, hi))
        for name, (top, unit) in _MAGNITUDES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= top:
                raise ValueError(f"randomization {name} must be a number in [0, {top:g}] {unit}, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.depth_noise not in DEPTH_NOISE_PRESETS:
            raise ValueError(f"randomization depth_noise must be one of {list(DEPTH_NOISE_PRESETS)}, "
                             f"got {self.depth_noise!r}")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_any(cls, value: RandomizationConfig | dict | None) -> RandomizationConfig:
        """A config from a config, a dict of its fields (JSON lists become pairs) or ``None`` (all off)."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"randomization must be a RandomizationConfig or a dict of its fields, "
                            f"got {type(value).__name__}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown randomization keys {unknown}; known keys: {known} "
                             "(docs/randomization.md lists each with its default)")
        return cls(**value)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @property
    def enabled(self) -> bool:
        """Whether any knob is on."""
        return self != RandomizationConfig()

    @property
    def changes_object(self) -> bool:
        return any(getattr(self, k) is not None for k in ("object_friction", "object_scale", "density_scale",
                                                          "part_density"))

    @property
    def changes_cameras(self) -> bool:
        return bool(self.camera_position or self.camera_tilt or self.camera_fovy)

    @property
    def depth_noise_params(self) -> tuple[float, float] | None:
        """(Gamma shape, sigma) of the depth noise preset, ``None`` for ``"none"``."""
        return DEPTH_NOISE_PRESETS[self.depth_noise]

    # ------------------------------------------------------------------ drawing
    def _draw(self, name: str, rng: np.random.Generator, size: int | None = None):
        lo, hi = getattr(self, name)
        if _RANGES[name][2]:  # multiplicative: log-uniform, a factor and its reciprocal equally likely
            return np.exp(rng.uniform(np.log(lo), np.log(hi), size=size))
        return rng.uniform(lo, hi, size=size)

    def sample(self, rng: np.random.Generator, *, n_parts: int, n_cameras: int) -> RandomizationSample:
        """Draw every knob that is on, in field order; draws nothing from ``rng`` when all are off."""
        out: dict[str, Any] = {}
        for name in ("object_friction", "finger_friction", "table_friction", "object_scale", "density_scale"):
            if getattr(self, name) is not None:
                out[name] = float(self._draw(name, rng))
        if self.part_density is not None:
            out["part_density"] = tuple(float(x) for x in self._draw("part_density", rng, size=n_parts))
        if self.changes_cameras:
            cams = []
            for _ in range(n_cameras):
                offset = rng.uniform(-self.camera_position, self.camera_position, size=3) if self.camera_position else np.zeros(3)
                tilt_axis = float(rng.uniform(0.0, 2 * np.pi)) if self.camera_tilt else 0.0
                tilt = float(rng.uniform(0.0, self.camera_tilt)) if self.camera_tilt else 0.0
                fovy = float(rng.uniform(-self.camera_fovy, self.camera_fovy)) if self.camera_fovy else 0.0
                cams.append(CameraJitter(tuple(float(x) for x in offset), tilt_axis, tilt, fovy))
            out["cameras"] = tuple(cams)
        return RandomizationSample(**out)


@dataclass(frozen=True)
class CameraJitter:
    """One camera's calibration error for an episode.

    Attributes:
        offset: Position error (3,) in the world frame (m).
        tilt_axis: Direction (rad) in the image plane of the tilt's rotation axis (0 = image x).
        tilt: Tilt angle (degrees).
        fovy: Field-of-view error (degrees).
    """

    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    tilt_axis: float = 0.0
    tilt: float = 0.0
    fovy: float = 0.0

    def apply(self, position: np.ndarray, rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The perturbed (position, camera-to-world rotation) of a nominal camera pose."""
        axis = np.array([np.cos(self.tilt_axis), np.sin(self.tilt_axis), 0.0])  # in the camera frame
        a = np.deg2rad(self.tilt)
        K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        R_tilt = np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * (K @ K)
        return np.asarray(position, np.float64) + np.asarray(self.offset), np.asarray(rotation, np.float64) @ R_tilt


@dataclass(frozen=True)
class RandomizationSample:
    """What one reset drew (``None``: the knob is off).  ``info["randomization"]`` reports it."""

    object_friction: float | None = None
    finger_friction: float | None = None
    table_friction: float | None = None
    object_scale: float | None = None
    density_scale: float | None = None
    part_density: tuple[float, ...] | None = None
    cameras: tuple[CameraJitter, ...] | None = field(default=None)

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None:
                continue
            if f.name == "cameras":
                v = [dataclasses.asdict(c) | {"offset": list(c.offset)} for c in v]
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    def apply_object(self, obj: GraspObject) -> tuple[GraspObject, BodyInertia | None]:
        """The randomised object, and the explicit mass properties of its body where densities differ by part.

        Scale first (about the box centre, mass x scale^3), then the density factor, then the
        per-part factors (relative to the object's uniform density, which they multiply part by part).
        """
        if self.object_friction is None and self.object_scale is None and self.density_scale is None \
                and self.part_density is None:
            return obj, None
        parts, mass = obj.parts, float(obj.mass)
        if self.object_scale is not None:
            c = obj.bounds.mean(axis=0)
            parts = tuple((p - c) * self.object_scale + c for p in parts)
            mass *= self.object_scale ** 3
        if self.density_scale is not None:
            mass *= self.density_scale
        friction = obj.friction if self.object_friction is None else self.object_friction
        new = dataclasses.replace(obj, parts=parts, mass=mass, friction=friction)
        if self.object_scale is None and "_mass_properties" in obj.__dict__:
            object.__setattr__(new, "_mass_properties", obj.__dict__["_mass_properties"])  # same parts
        if self.part_density is None:
            return new, None
        density = mass / new.mass_properties().volume
        inertial = piecewise_mass_properties(new.parts, density * np.asarray(self.part_density), name=obj.name)
        new = dataclasses.replace(new, mass=inertial.mass)
        return new, inertial
