"""Grasp attempts as parallel MuJoCo Warp worlds: many candidate grasps, on one or many objects.

:class:`WarpGraspBackend` takes settled :class:`~grasp_envs.sim.GraspSimulator` s and runs their
grasps on a Warp device (a CUDA GPU, or Warp's CPU device for tests) with ``mujoco_warp``:

* the **same compiled model** (``sim.model``, from ``build_physics_model``) is put on the device
  with ``mujoco_warp.put_model``: Newton solver, elliptic cones, implicit-fast integration and
  the convex mesh parts are all supported there, so nothing is changed for the device.  Several
  objects share one device model built by ``build_physics_model`` from all their parts; each
  world sees only its own object's parts (mujoco-warp's per-world ``geom_dataid``) and its own
  object's compiled values of every per-world field (masses, inertias, part poses, friction),
  taken from that object's own model;
* the **same initial states**: the simulator's settled rest state with the palm (and its mocap
  target) at each grasp pose, as built by the simulator itself;
* the **same control sequence**: the simulator's finger force and mocap trajectory, stored on the
  device as one profile over time shared by all grasps plus one offset per grasp (it is checked
  against the simulator's own control array on every batch);
* the **same rejection and success rule**: the backend only steps (``step_many``, the hook of
  ``GraspSimulator.attempt(poses, backend=...)``); the simulator rejects, and judges the object's
  pose and velocity sensors after the last step (``GraspSimulator.judge``).

What differs is arithmetic: MuJoCo Warp computes in float32 and its convex collision and solver
kernels are its own, so marginal grasps can end differently;
``python -m benchmarks.warp_agreement`` measures how often outcomes agree with the C engine.

Needs the ``warp`` extra (``pip install 'grasp-envs[warp]'``).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass
from typing import Sequence

import mujoco
import numpy as np

from grasp_envs.grid import GraspPoses
from grasp_envs.objects import GraspObject
from grasp_envs.sim.scene import build_physics_model
from grasp_envs.sim.simulator import (GraspEnds, GraspOutcome, GraspSimulator, SimulationError, attempt_many,
                                      mat_to_quat)

INSTALL_HINT = "pip install 'grasp-envs[warp]'"

#: Worlds per device batch when none is given: enough to fill an H100-class GPU with this small
#: model; Warp's CPU device runs the worlds one after another, so a few are enough there.
DEFAULT_NWORLD = {"cuda": 8192, "cpu": 8}


#: Shared models of several objects hold a multiple of this many part geoms (see _shared_model).
PART_SLOTS = 32


class WarpUnavailableError(ImportError):
    """``warp-lang`` / ``mujoco-warp`` are not installed (the message says how to install them)."""


def import_warp():
    """``(warp, mujoco_warp)``, or :class:`WarpUnavailableError` naming the install command."""
    try:
        import warp as wp
        import mujoco_warp as mjw
    except ImportError as exc:
        raise WarpUnavailableError(
            f"the Warp backend needs warp-lang and mujoco-warp ({exc}); install them with: {INSTALL_HINT}"
        ) from None
    return wp, mjw


def quiet_warp() -> None:
    """No line per kernel module Warp loads or compiles (warnings and errors still print)."""
    wp, _ = import_warp()
    wp.config.log_level = wp.LOG_WARNING


def warp_available() -> bool:
    try:
        import_warp()
    except WarpUnavailableError:
        return False
    return True


@dataclass(frozen=True)
class WarpStats:
    """What the last :meth:`WarpGraspBackend.simulate` call did.

    Attributes:
        grasps: Grasps simulated.
        batches: Device batches run (the last one padded to ``nworld``).
        seconds: Wall time of the call, host preparation and transfers included.
        max_contacts: Most contacts in one world after the last step of any batch (a sample,
            not a bound: overflow at any step is detected separately and raises).
        unstable: Grasps whose state became non-finite (judged failures, like the C engine).
    """

    grasps: int
    batches: int
    seconds: float
    max_contacts: int
    unstable: int


class WarpCapacityError(SimulationError):
    """A world ran out of contact or constraint slots; the message names the argument to raise."""


def _overflow_message(bits: int, nconmax: int, njmax: int) -> str:
    from mujoco_warp import OverflowType as O

    parts = []
    if bits & (O.BROADPHASE | O.NARROWPHASE | O.CCD | O.EPA_HORIZON):
        parts.append(f"contacts overflowed nconmax={nconmax} (pass a larger nconmax= to WarpGraspBackend)")
    if bits & (O.NEFC | O.NJMAX_NNZ):
        parts.append(f"constraints overflowed njmax={njmax} (pass a larger njmax= to WarpGraspBackend)")
    return "; ".join(parts)


def _capacity_bits():
    from mujoco_warp import OverflowType as O

    return int(O.BROADPHASE | O.NARROWPHASE | O.CCD | O.EPA_HORIZON | O.NEFC | O.NJMAX_NNZ)


class WarpGraspBackend:
    """Simulate grasps as parallel MuJoCo Warp worlds, on one object or several.

    Args:
        sims: A settled C-engine simulator, or several (one per object, the same ``SimConfig``).
            Their models, rest states, controls and success rule are used; their state is not
            changed.
        device: Warp device (``"cuda"``, ``"cuda:1"``, ``"cpu"``); Warp's default if ``None``.
        nworld: Worlds per device batch; every batch is padded to this size so the compiled
            step (a CUDA graph on a GPU) is reused.  Default ``DEFAULT_NWORLD`` by device kind.
        nconmax: Contact slots per world (the pool is shared by all worlds of a batch).
        njmax: Constraint rows per world.
        graph: Capture one step as a CUDA graph and replay it (GPU only; default on there).

    Raises:
        WarpUnavailableError: warp-lang / mujoco-warp are not installed.
        NotImplementedError: MuJoCo Warp does not support a feature of the model (its message).
    """

    def __init__(self, sims: GraspSimulator | Sequence[GraspSimulator], *, device: str | None = None,
                 nworld: int | None = None, nconmax: int = 96, njmax: int = 384, graph: bool | None = None) -> None:
        wp, mjw = import_warp()
        self._wp, self._mjw = wp, mjw
        self.sims = [sims] if isinstance(sims, GraspSimulator) else list(sims)
        if not self.sims:
            raise ValueError("WarpGraspBackend needs at least one simulator")
        self.sim = self.sims[0]
        if self.sim.config.staged:
            raise ValueError("the Warp backend runs the fixed-length grasp; SimConfig early_stop / adaptive_close are "
                             "C-engine options: turn them off (sim={'early_stop': False, 'adaptive_close': False}) "
                             "or use engine='mujoco'")
        for other in self.sims[1:]:
            if other.config != self.sim.config:
                raise ValueError(f"{other.obj.name} has another SimConfig than {self.sim.obj.name}; objects batched "
                                 "together must share one")
        self.device = wp.get_device(device)
        kind = "cuda" if self.device.is_cuda else "cpu"
        self.nworld = int(nworld) if nworld is not None else DEFAULT_NWORLD[kind]
        if self.nworld < 1:
            raise ValueError(f"nworld must be at least 1, got {nworld}")
        if nconmax < 1 or njmax < 1:
            raise ValueError(f"nconmax and njmax must be positive, got {nconmax}, {njmax}")
        self.nconmax, self.njmax = int(nconmax), int(njmax)
        self.graph = self.device.is_cuda if graph is None else bool(graph)
        if self.graph and not self.device.is_cuda:
            raise ValueError("graph=True needs a CUDA device (CUDA graphs); use graph=False on the CPU")
        m = self.sim.model
        if m.nmocap != 1:
            raise ValueError(f"the Warp backend drives exactly one mocap target, the model has {m.nmocap}")
        self._nu = m.nu
        self._ncontrol = m.nu + 7
        self._nstep = self.sim.config.n_close + self.sim.config.n_lift + self.sim.config.n_hold
        self._qadr = self._state_offsets(m)
        with wp.ScopedDevice(self.device):
            if len(self.sims) == 1:
                self.host_model, self._per_world = m, {}
            else:
                self.host_model, self._per_world = self._shared_model()
            self.model = mjw.put_model(self.host_model, batch_sizes={k: self.nworld for k in self._per_world})
            # Overflow is detected through the per-world bitmask and raised as an error naming
            # the argument to raise; the device's printed warnings would only repeat it.
            self.model.opt.warn_overflow = 0
            self.data = mjw.make_data(self.host_model, nworld=self.nworld, nconmax=self.nconmax, njmax=self.njmax)
            self._step = wp.zeros(1, dtype=int)
            self._profile = wp.zeros((self._nstep, self._ncontrol), dtype=float)
            self._offset = wp.zeros((self.nworld, self._ncontrol), dtype=float)
        from grasp_envs.sim import _warp_kernels

        self._apply_controls, self._advance = _warp_kernels.apply_controls, _warp_kernels.advance
        self._graph = None
        self.last_stats: WarpStats | None = None

    # ------------------------------------------------------------------ several objects
    def _shared_model(self) -> tuple[mujoco.MjModel, dict[str, np.ndarray]]:
        """One model holding every object's parts, and each object's device rows of the fields
        that differ between objects (``{field: array (n_objects, ...)}``).

        Object ``b``'s row of a field is what ``put_model`` makes of the shared model with that
        field set to object ``b``'s own compiled values (its parts' geoms mapped by name; the
        other objects' parts absent: ``geom_dataid`` -1).  Every field mujoco-warp can batch is
        taken from the object's own model; of the rest, only the sizes and mesh tables that the
        extra parts change differ (and ``dof_length``, which only sleeping reads; sleeping is off).
        Objects whose degrees of freedom, actuators or sensors differ are refused.
        """
        mjw, sims = self._mjw, self.sims
        parts = [p for s in sims for p in s.obj.parts]
        # Pad the part count to a multiple of PART_SLOTS with copies absent from every world: the
        # device kernels specialised on the number of geoms are then compiled once per size class
        # rather than once per set of objects.
        parts += [parts[0]] * (-len(parts) % PART_SLOTS)
        union = build_physics_model(
            GraspObject(name="warp-batch", parts=tuple(parts), mass=float(sum(s.obj.mass for s in sims)),
                        friction=sims[0].obj.friction, source="warp-batch"),
            self.sim.config.physics_options)
        for s in sims:
            for size in ("nq", "nv", "nu", "na", "nbody", "njnt", "neq", "nmocap", "nsensordata"):
                if getattr(s.model, size) != getattr(union, size):
                    raise NotImplementedError(f"{s.obj.name}: {size} {getattr(s.model, size)} differs from the shared "
                                              f"model's {getattr(union, size)}")
        batchable = [f.name for f in dataclasses.fields(mjw.Model)
                     if tuple(getattr(f.type, "shape", ()))[:1] == ("*",) and hasattr(union, f.name)]
        names = [mujoco.mj_id2name(union, mujoco.mjtObj.mjOBJ_GEOM, g) for g in range(union.ngeom)]
        variants, first = [], 0
        for s in sims:
            own = s.model
            v = copy.copy(union)
            own_part = {f"part{first + j}": own.geom(f"part{j}").id for j in range(len(s.obj.parts))}
            src = np.array([own_part.get(n, -1) if n.startswith("part") else own.geom(n).id for n in names])
            for field in batchable:
                target, values = getattr(v, field), np.asarray(getattr(own, field))
                if field.startswith("geom_"):
                    keep = src >= 0
                    if field == "geom_dataid":  # the shared model's meshes; other objects' parts absent
                        target[~keep] = -1
                    else:
                        target[keep] = values[src[keep]]
                elif target.shape == values.shape:
                    target[...] = values
                else:
                    raise NotImplementedError(f"{s.obj.name}: field {field} has shape {values.shape}, the shared "
                                              f"model's {target.shape}")
            variants.append(v)
            first += len(s.obj.parts)
        rows: dict[str, list[np.ndarray]] = {}
        for v in variants:
            dev = mjw.put_model(v)
            for field in batchable:
                rows.setdefault(field, []).append(getattr(dev, field).numpy()[0])
        per_world = {f: np.stack(r) for f, r in rows.items() if any(not np.array_equal(r[0], x) for x in r[1:])}
        return union, per_world

    def _load_objects(self, objects: np.ndarray) -> None:
        """Give world ``w`` the per-world fields of object ``objects[w]``."""
        for field, rows in self._per_world.items():
            arr = getattr(self.model, field)
            arr.assign(self._wp.array(rows[objects], dtype=arr.dtype))

    # ------------------------------------------------------------------ state and controls
    @staticmethod
    def _state_offsets(m: mujoco.MjModel) -> dict[str, int]:
        """Where each part of a FULLPHYSICS state vector starts (MuJoCo writes them in bit order)."""
        bits = sorted((int(getattr(mujoco.mjtState, name)), name) for name in dir(mujoco.mjtState)
                      if name.startswith("mjSTATE_"))
        full = int(mujoco.mjtState.mjSTATE_FULLPHYSICS)
        offsets, at = {}, 0
        for value, name in bits:
            if value & (value - 1) or not full & value:
                continue  # a combination, or not part of the full physics state
            size = mujoco.mj_stateSize(m, value)
            if size and name not in ("mjSTATE_TIME", "mjSTATE_QPOS", "mjSTATE_QVEL", "mjSTATE_ACT"):
                raise NotImplementedError(f"the Warp backend does not carry {name} state ({size} values) to the device")
            offsets[name] = at
            at += size
        return offsets

    def _split_states(self, states: np.ndarray) -> dict[str, np.ndarray]:
        m, o = self.sim.model, self._qadr
        take = lambda name, size: states[:, o[name] : o[name] + size]  # noqa: E731
        # Mocap targets are not state: the first step's controls place them, as in the rollout.
        return {"time": take("mjSTATE_TIME", 1)[:, 0], "qpos": take("mjSTATE_QPOS", m.nq),
                "qvel": take("mjSTATE_QVEL", m.nv), "act": take("mjSTATE_ACT", m.na)}

    def controls(self, poses: GraspPoses, quat: np.ndarray, sim: GraspSimulator | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """The simulator's control sequence as ``(profile (nstep, ncontrol), offset (n, ncontrol))``.

        ``control[i, t] = profile[t] + offset[i]`` is checked against the simulator's own control
        array on a sample of the grasps (first, middle, last), to float64 rounding; a change in
        the simulator's controls that breaks this form raises instead of running other controls.
        """
        sim = sim or self.sim
        n = len(poses)
        sample = np.unique([0, n // 2, n - 1])
        ref = sim._controls(poses[sample], quat[sample])
        if ref.shape[1:] != (self._nstep, self._ncontrol):
            raise SimulationError(f"the simulator's controls have shape {ref.shape[1:]}, the Warp backend expects "
                                  f"{(self._nstep, self._ncontrol)} (ctrl, mocap position, mocap quaternion)")
        nu = self._nu
        profile = ref[0] - ref[0, 0]
        offset = np.empty((n, self._ncontrol))
        offset[:, :nu] = ref[0, 0, :nu]
        offset[:, nu : nu + 3] = poses.position + (ref[0, 0, nu : nu + 3] - poses.position[sample[0]])
        offset[:, nu + 3 :] = quat
        rebuilt = profile[None] + offset[sample, None, :]
        if not np.allclose(rebuilt, ref, rtol=0, atol=1e-12):
            raise SimulationError("the simulator's control sequence is no longer a shared profile plus a per-grasp "
                                  "offset; grasp_envs/sim/warp_backend.py must be updated to drive it")
        return profile, offset

    # ------------------------------------------------------------------ running
    def _run_steps(self) -> None:
        wp, mjw = self._wp, self._mjw
        d = self.data
        launch = dict(dim=self.nworld, inputs=[self._step, self._profile, self._offset, self._nu],
                      outputs=[d.ctrl, d.mocap_pos, d.mocap_quat])

        def one_step():
            wp.launch(self._apply_controls, **launch)
            mjw.step(self.model, d)
            wp.launch(self._advance, dim=1, inputs=[self._step])

        if not self.graph:
            for _ in range(self._nstep):
                one_step()
            return
        if self._graph is None:
            one_step()  # load every kernel before capture (this step is undone by reloading below)
            with wp.ScopedCapture() as cap:
                one_step()
            self._graph = cap.graph
            self._load_batch(*self._loaded)
        for _ in range(self._nstep):
            wp.capture_launch(self._graph)

    def _load_batch(self, parts: dict[str, np.ndarray], offset: np.ndarray) -> None:
        wp, d = self._wp, self.data
        self._mjw.reset_data(self.model, d)
        for name, values in parts.items():
            arr = getattr(d, name)
            if arr.size:
                arr.assign(wp.array(values.astype(np.float32), dtype=arr.dtype))
        d.qacc_warmstart.zero_()
        d.overflow.zero_()
        self._offset.assign(offset.astype(np.float32))
        self._step.zero_()
        self._loaded = (parts, offset)

    def simulate(self, poses: GraspPoses) -> GraspOutcome:
        """Execute grasps on the (first) object regardless of rejection, like ``GraspSimulator.simulate``."""
        return self.sim.simulate(poses, backend=self)

    def simulate_many(self, poses: Sequence[GraspPoses]) -> list[GraspOutcome]:
        """Execute ``poses[b]`` on object ``b`` for every object, all in the same device batches."""
        self._check_per_object(poses, "simulate_many")
        return attempt_many(self.sims, poses, backend=self, rejections=[np.zeros(len(p), np.int8) for p in poses])

    def attempt(self, poses: GraspPoses) -> GraspOutcome:
        """``GraspSimulator.attempt`` with the physics on the device: the simulator's rejection
        (CPU) first, then the surviving grasps as parallel worlds (first object)."""
        return self.sim.attempt(poses, backend=self)

    def attempt_many(self, poses: Sequence[GraspPoses], rejections: Sequence[np.ndarray] | None = None
                     ) -> list[GraspOutcome]:
        """:meth:`attempt` for ``poses[b]`` on object ``b``, every object's survivors in the same
        batches; ``rejections`` are the simulators' own ``reject`` codes where already known."""
        self._check_per_object(poses, "attempt_many")
        return attempt_many(self.sims, poses, backend=self, rejections=rejections)

    def _check_per_object(self, poses: Sequence[GraspPoses], name: str) -> None:
        if len(poses) != len(self.sims):
            raise ValueError(f"{name} takes one GraspPoses per object: {len(self.sims)}, got {len(poses)}")

    def step_many(self, sims: Sequence[GraspSimulator], poses: Sequence[GraspPoses]) -> list[GraspEnds]:
        """The stepping hook of ``GraspSimulator.attempt(..., backend=self)``: ``poses[b]`` on
        ``sims[b]`` (each one of this backend's objects), all in the same device batches.

        The phases are the simulator's own control sequence; rejection and the success rule
        stay with the simulator (``GraspSimulator.judge``).
        """
        wp = self._wp
        t0 = time.perf_counter()
        index = {id(s): b for b, s in enumerate(self.sims)}
        unknown = [s.obj.name for s in sims if id(s) not in index]
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not an object of this Warp backend; make one with "
                             "WarpGraspBackend(sims) that holds it")
        counts = [len(p) for p in poses]
        n = sum(counts)
        obj = np.repeat(np.array([index[id(s)] for s in sims], dtype=int), counts)
        states, offsets, profile = [], [], None
        for sim, p in zip(sims, poses):
            if len(p) == 0:
                continue
            quat = mat_to_quat(p.rotation)
            states.append(sim._initial_states(p, quat))
            prof, off = self.controls(p, quat, sim)
            if profile is not None and not np.allclose(prof, profile, rtol=0, atol=1e-12):
                raise SimulationError(f"{sim.obj.name}: its control profile differs from the other objects'")
            profile = prof
            offsets.append(off)
        final_qpos = np.empty((n, self.sim.model.nq))
        final_qvel = np.empty((n, self.sim.model.nv))
        sensors = np.empty((n, self.sim.model.nsensordata))
        max_contacts, batches = 0, 0
        W = self.nworld
        if n:
            states, offsets = np.concatenate(states), np.concatenate(offsets)
            with wp.ScopedDevice(self.device):
                self._profile.assign(profile.astype(np.float32))
                for lo in range(0, n, W):
                    hi = min(n, lo + W)
                    idx = np.minimum(np.arange(lo, lo + W), hi - 1)  # pad with the batch's last grasp
                    if self._per_world:
                        self._load_objects(obj[idx])
                    self._load_batch(self._split_states(states[idx]), offsets[idx])
                    self._run_steps()
                    overflow = np.bitwise_or.reduce(self.data.overflow.numpy()) & _capacity_bits()
                    if overflow:
                        names = sorted({self.sims[b].obj.name for b in obj[lo:hi]})
                        raise WarpCapacityError(f"{', '.join(names)}: "
                                                f"{_overflow_message(int(overflow), self.nconmax, self.njmax)}")
                    k = hi - lo
                    final_qpos[lo:hi] = self.data.qpos.numpy()[:k]
                    final_qvel[lo:hi] = self.data.qvel.numpy()[:k]
                    sensors[lo:hi] = self.data.sensordata.numpy()[:k]
                    nacon = min(int(self.data.nacon.numpy()[0]), self.data.contact.worldid.shape[0])
                    if nacon:
                        per_world = np.bincount(self.data.contact.worldid.numpy()[:nacon], minlength=W)[:k]
                        max_contacts = max(max_contacts, int(per_world.max()))
                    batches += 1
        finite = np.all(np.isfinite(final_qpos), axis=1) & np.all(np.isfinite(final_qvel), axis=1)
        self.last_stats = WarpStats(n, batches, time.perf_counter() - t0, max_contacts, int((~finite).sum()))
        out, lo = [], 0
        for c in counts:
            s = slice(lo, lo + c)
            out.append(GraspEnds(final_qpos[s], sensors[s], finite[s]))
            lo += c
        return out
