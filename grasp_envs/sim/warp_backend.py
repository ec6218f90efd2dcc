"""Grasp attempts as parallel MuJoCo Warp worlds: one object, many candidate grasps at once.

:class:`WarpGraspBackend` takes a settled :class:`~grasp_envs.sim.GraspSimulator` and runs its
grasps on a Warp device (a CUDA GPU, or Warp's CPU device for tests) with ``mujoco_warp``:

* the **same compiled model** (``sim.model``, from ``build_physics_model``) is put on the device
  with ``mujoco_warp.put_model``: Newton solver, elliptic cones, implicit-fast integration and
  the convex mesh parts are all supported there, so nothing is changed for the device;
* the **same initial states**: the simulator's settled rest state with the palm (and its mocap
  target) at each grasp pose, as built by the simulator itself;
* the **same control sequence**: the simulator's finger force and mocap trajectory, stored on the
  device as one profile over time shared by all grasps plus one offset per grasp (it is checked
  against the simulator's own control array on every batch);
* the **same success rule**, judged on the object's pose and velocity sensors after the last step.

What differs is arithmetic: MuJoCo Warp computes in float32 and its convex collision and solver
kernels are its own, so marginal grasps can end differently;
``python -m benchmarks.warp_agreement`` measures how often outcomes agree with the C engine.

Needs the ``warp`` extra (``pip install 'grasp-envs[warp]'``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import mujoco
import numpy as np

from grasp_envs.grid import GraspPoses
from grasp_envs.sim.simulator import GraspOutcome, GraspSimulator, SimulationError, mat_to_quat

INSTALL_HINT = "pip install 'grasp-envs[warp]'"

#: Worlds per device batch when none is given: enough to fill an H100-class GPU with this small
#: model; Warp's CPU device runs the worlds one after another, so a few are enough there.
DEFAULT_NWORLD = {"cuda": 8192, "cpu": 8}


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
        max_contacts: Most contacts seen in one world at the end of any batch's run (a lower
            bound on what ``nconmax`` must hold; overflow is detected separately).
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
    """Simulate grasps on one object as parallel MuJoCo Warp worlds.

    Args:
        sim: A settled C-engine simulator of the object (its model, rest state, controls and
            success rule are used; its state is not changed).
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

    def __init__(self, sim: GraspSimulator, *, device: str | None = None, nworld: int | None = None,
                 nconmax: int = 96, njmax: int = 384, graph: bool | None = None) -> None:
        wp, mjw = import_warp()
        self._wp, self._mjw = wp, mjw
        self.sim = sim
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
        m = sim.model
        if m.nmocap != 1:
            raise ValueError(f"the Warp backend drives exactly one mocap target, the model has {m.nmocap}")
        self._nu = m.nu
        self._ncontrol = m.nu + 7
        self._nstep = sim.config.n_close + sim.config.n_lift + sim.config.n_hold
        self._qadr = self._state_offsets(m)
        with wp.ScopedDevice(self.device):
            self.model = mjw.put_model(m)
            # Overflow is detected through the per-world bitmask and raised as an error naming
            # the argument to raise; the device's printed warnings would only repeat it.
            self.model.opt.warn_overflow = 0
            self.data = mjw.make_data(m, nworld=self.nworld, nconmax=self.nconmax, njmax=self.njmax)
            self._step = wp.zeros(1, dtype=int)
            self._profile = wp.zeros((self._nstep, self._ncontrol), dtype=float)
            self._offset = wp.zeros((self.nworld, self._ncontrol), dtype=float)
        from grasp_envs.sim import _warp_kernels

        self._apply_controls, self._advance = _warp_kernels.apply_controls, _warp_kernels.advance
        self._graph = None
        self.last_stats: WarpStats | None = None

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

    def controls(self, poses: GraspPoses, quat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The simulator's control sequence as ``(profile (nstep, ncontrol), offset (n, ncontrol))``.

        ``control[i, t] = profile[t] + offset[i]`` is checked against the simulator's own control
        array on a sample of the grasps (first, middle, last), to float64 rounding; a change in
        the simulator's controls that breaks this form raises instead of running other controls.
        """
        n = len(poses)
        sample = np.unique([0, n // 2, n - 1])
        ref = self.sim._controls(poses[sample], quat[sample])
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
            one_step()  # compile and load every kernel before capture
            self._step.zero_()
            with wp.ScopedCapture() as cap:
                one_step()
            self._graph = cap.graph
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

    def simulate(self, poses: GraspPoses) -> GraspOutcome:
        """Execute grasps in physics regardless of rejection, like ``GraspSimulator.simulate``."""
        wp = self._wp
        t0 = time.perf_counter()
        sim, cfg = self.sim, self.sim.config
        n = len(poses)
        if n == 0:
            return GraspOutcome(np.zeros(0, np.int8), np.zeros(0, bool), np.zeros(0), np.zeros((0, 7)))
        quat = mat_to_quat(poses.rotation)
        states = sim._initial_states(poses, quat)
        profile, offset = self.controls(poses, quat)
        final_qpos = np.empty((n, sim.model.nq))
        final_qvel = np.empty((n, sim.model.nv))
        sensors = np.empty((n, sim.model.nsensordata))
        max_contacts, batches = 0, 0
        W = self.nworld
        with wp.ScopedDevice(self.device):
            self._profile.assign(profile.astype(np.float32))
            for lo in range(0, n, W):
                hi = min(n, lo + W)
                idx = np.minimum(np.arange(lo, lo + W), hi - 1)  # pad with the batch's last grasp
                self._load_batch(self._split_states(states[idx]), offset[idx])
                self._run_steps()
                overflow = np.bitwise_or.reduce(self.data.overflow.numpy()) & _capacity_bits()
                if overflow:
                    raise WarpCapacityError(f"{sim.obj.name}: {_overflow_message(int(overflow), self.nconmax, self.njmax)}")
                k = hi - lo
                final_qpos[lo:hi] = self.data.qpos.numpy()[:k]
                final_qvel[lo:hi] = self.data.qvel.numpy()[:k]
                sensors[lo:hi] = self.data.sensordata.numpy()[:k]
                max_contacts = max(max_contacts, int(self.data.nacon.numpy()[0]) // W)
                batches += 1
        a = sim._obj_qadr
        obj_qpos = final_qpos[:, a : a + 7]
        z = sensors[:, sim._sensor_obj + 2]
        speed = np.linalg.norm(sensors[:, sim._sensor_vel : sim._sensor_vel + 3], axis=1)
        finite = np.all(np.isfinite(final_qpos), axis=1) & np.all(np.isfinite(final_qvel), axis=1)
        # The C engine's success rule (GraspSimulator.simulate): risen with the gripper, not
        # above it, and still at the end of the hold.
        lift = np.where(finite, z - sim.object_qpos[2], 0.0)
        held = (lift >= cfg.success_height) & (lift <= cfg.lift_height + 0.05) & (speed < cfg.held_speed)
        success = finite & held
        self.last_stats = WarpStats(n, batches, time.perf_counter() - t0, max_contacts, int((~finite).sum()))
        return GraspOutcome(np.zeros(n, np.int8), success, lift, np.where(finite[:, None], obj_qpos, sim.object_qpos))

    def attempt(self, poses: GraspPoses) -> GraspOutcome:
        """``GraspSimulator.attempt`` with the physics on the device: the simulator's rejection
        (CPU) first, then the surviving grasps as parallel worlds."""
        sim = self.sim
        rej = sim.reject(poses)
        n = len(poses)
        success = np.zeros(n, bool)
        lift = np.zeros(n)
        final = np.tile(sim.object_qpos, (n, 1))
        live = np.flatnonzero(rej == 0)
        if len(live):
            res = self.simulate(poses[live])
            success[live], lift[live], final[live] = res.success, res.lift, res.final_object_qpos
        return GraspOutcome(rej, success, lift, final)
