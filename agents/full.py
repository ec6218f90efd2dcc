"""Learned agents: the planner alone and the full planner-evaluator (Tobin et al. 2017, IV).

Both split their decision as sample -> score -> select:

* :class:`PlannerAgent` runs beam search (width 20) and executes the most likely grasp.
* :class:`FullAgent` runs beam search for the top ``k = 20`` grasps, asks the env's declared
  ``hand_camera`` capability for each candidate's hand-camera depth image (rendered in
  simulation, or reprojected from the observed depth as on the real robot:
  :mod:`grasp_envs.envs.interface`), scores them with the evaluator and executes the one it
  rates most likely to succeed (ties go to the planner's order).

With ``prune=True`` (the default) both first drop the candidates that the depth observation
already rules out (:mod:`agents.pruning`: the open gripper would penetrate the observed surface or
the table, or its fingers would close on empty space): the beam is widened to ``prune_beam``
grasps, the feasible ones keep the planner's order, and the top ``k`` of them are the candidates.
Where fewer than ``k`` are feasible the rest are filled with the most likely infeasible ones
(``last_feasible`` says which); the full agent scores them too but executes one only when none
is feasible.  Pruning reads only the observation and the cameras stored in the
planner's config, so it runs unchanged on the real robot.

Both are built from an :class:`~grasp_envs.envs.interface.AgentInterface` (an env passed
instead is replaced by its interface); they never hold the env.  Without ``checkpoint=`` they load
the checkpoints shipped in ``agents/checkpoints``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from agents.checkpoint import load_checkpoint, shipped
from agents.evaluator import GraspEvaluator
from agents.planner import GraspPlanner
from agents.pruning import ObservedCollisionChecker, PruningConfig
from grasp_envs.envs.interface import HAND_CAMERA, AgentInterface, CapabilityError, agent_interface
from grasp_envs.grid import GraspGrid


def _obs_tensors(observation: dict) -> tuple[torch.Tensor, torch.Tensor]:
    depth = np.asarray(observation["depth"], np.float32)
    bbox = np.asarray(observation["bbox"], np.float32).reshape(-1)
    if depth.ndim != 3 or bbox.shape != (6,):
        raise ValueError(f"observation must hold depth (n_cameras, H, W) and bbox (6,), got depth "
                         f"{depth.shape} and bbox {bbox.shape}")
    return torch.from_numpy(depth)[None], torch.from_numpy(bbox)[None]


def _check_interface(view: AgentInterface | None, planner: GraspPlanner) -> None:
    if view is None:
        return
    cfg = planner.config
    if view.grid is not None and view.grid.dims != cfg.dims:
        raise ValueError(f"the planner was trained for {cfg.dims}-D grasps but the env is {view.grid.dims}-D; "
                         f"use a {cfg.dims}-D env or a {view.grid.dims}-D checkpoint (dims={view.grid.dims})")
    obs_cfg = view.obs_config
    if obs_cfg is not None:
        want, have = cfg.obs_config, obs_cfg
        for name in ("width", "height", "n_cameras", "camera_height", "fovy"):
            if getattr(want, name) != getattr(have, name):
                raise ValueError(f"the planner was trained on observations with {name}={getattr(want, name)!r} "
                                 f"but the env has {name}={getattr(have, name)!r}; make the env with "
                                 f"observation={{'{name}': {getattr(want, name)!r}}} or retrain")


class PlannerAgent:
    """Beam search over the autoregressive planner; executes the most likely grasp.

    Args:
        interface: The env's :class:`~grasp_envs.envs.interface.AgentInterface` (or the env): used
            to check dims and cameras and to pick the shipped checkpoint.
        checkpoint: Path stem of a planner checkpoint; default: the shipped ``planner_{dims}d``.
        beam_width: Beam width (the paper uses 20).
        threads: Torch CPU threads (``None`` leaves torch's setting alone).
        dihedral: Propose with :meth:`GraspPlanner.beam_search_dihedral` (beam search on the 8
            mirrored and turned copies of the scene, ranked by mean log-likelihood) instead of
            plain beam search.  4-D planners with one overhead camera only.
        prune: Drop candidates the observation rules out before choosing (:mod:`agents.pruning`).
        prune_beam: Beam width and candidates searched when pruning (at least ``beam_width``).
        pruning: Tolerances of the pruning (:class:`agents.pruning.PruningConfig` or a dict).
        spread: ``None`` (default): the candidates are the beam's best.  An integer radius ``r``:
            they are spread out (:meth:`grasp_envs.grid.GraspGrid.spread`): walking the
            ``spread_beam``-wide beam best first (feasible ones first when pruning), a grasp within
            ``r`` bins in every dimension of one already taken is skipped.  The first candidate is
            unchanged, so the planner agent acts the same; the full agent scores distinct grasps.
        spread_beam: Beam width searched when spreading.
    """

    def __init__(self, interface: AgentInterface | None = None, *, checkpoint: str | Path | None = None,
                 beam_width: int = 20, threads: int | None = None, dihedral: bool = False, prune: bool = True,
                 prune_beam: int = 64, pruning: PruningConfig | dict | None = None, spread: int | None = None,
                 spread_beam: int = 256) -> None:
        if threads is not None:
            torch.set_num_threads(int(threads))
        view = None if interface is None else agent_interface(interface)
        if checkpoint is None:
            dims = view.dims if view is not None and view.dims is not None else 4
            checkpoint = shipped(f"planner_{dims}d")
        self.planner: GraspPlanner = load_checkpoint(checkpoint, kind="planner")
        _check_interface(view, self.planner)
        if dihedral and not self.planner.dihedral_defined():
            raise ValueError("dihedral=True needs a 4-D planner with a single overhead camera; "
                             "pass dihedral=False")
        self.interface = view
        self.beam_width = int(beam_width)
        self.dihedral = bool(dihedral)
        self.prune = bool(prune)
        if self.prune and int(prune_beam) < self.beam_width:
            raise ValueError(f"prune_beam must be at least beam_width={self.beam_width}, got {prune_beam}")
        self.prune_beam = int(prune_beam)
        if spread is not None and (int(spread) < 0 or int(spread_beam) < self.beam_width):
            raise ValueError(f"spread must be None or a radius >= 0 and spread_beam >= beam_width={self.beam_width}, "
                             f"got spread={spread}, spread_beam={spread_beam}")
        self.spread = None if spread is None else int(spread)
        self.spread_beam = int(spread_beam)
        self.grid = GraspGrid(dims=self.planner.config.dims, n_bins=self.planner.config.n_bins)
        cfg = pruning if isinstance(pruning, PruningConfig) else PruningConfig(**(pruning or {}))
        self.checker = ObservedCollisionChecker(self.planner.config.dims, self.planner.config.obs_config, cfg)
        #: Candidates, log-likelihoods and predicted feasibility of the last decision (for inspection).
        self.last_candidates: np.ndarray | None = None
        self.last_log_prob: np.ndarray | None = None
        self.last_feasible: np.ndarray | None = None

    def reset(self, seed: int | None = None) -> None:
        """Beam search is deterministic; nothing to reseed."""

    def propose(self, observation: dict, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` grasps (k, dims) and their log-likelihoods (k,), best first.

        With pruning, the feasible grasps of a ``prune_beam``-wide beam come first (in the
        planner's order), then the most likely infeasible ones if fewer than ``k`` are feasible.
        With ``spread``, neighbours of a grasp already taken are skipped (fewer than ``k`` may
        remain).
        """
        depth, bbox = _obs_tensors(observation)
        search = self.planner.beam_search_dihedral if self.dihedral else self.planner.beam_search
        wide = self.prune or self.spread is not None
        width = max(self.beam_width, k, self.prune_beam if self.prune else 0,
                    self.spread_beam if self.spread is not None else 0)
        grasps, logp = search(depth, bbox, beam_width=width, top_k=width if wide else k)
        grasps, logp = grasps[0].numpy(), logp[0].numpy()
        feasible = self.checker.feasible(observation, grasps) if self.prune else np.ones(len(grasps), bool)
        order = np.concatenate([np.flatnonzero(feasible), np.flatnonzero(~feasible)])
        if self.spread is not None:
            order = order[self.grid.spread(grasps[order], k, self.spread)]
        order = order[:k]
        grasps, logp, feasible = grasps[order], logp[order], feasible[order]
        self.last_candidates, self.last_log_prob, self.last_feasible = grasps, logp, feasible
        return self.last_candidates, self.last_log_prob

    def act(self, observation: dict) -> np.ndarray:
        return self.propose(observation, 1)[0][0].astype(np.int64)


class FullAgent(PlannerAgent):
    """Planner proposes the top ``k`` grasps, the evaluator scores their hand images, the best is executed.

    Args:
        interface: The env's :class:`~grasp_envs.envs.interface.AgentInterface` (or the env); it
            must declare the ``hand_camera`` capability, which gives the candidates' images (the
            simulated env renders or reprojects them, the real env reprojects them).
        checkpoint: Planner checkpoint stem (default: shipped ``planner_{dims}d``).
        evaluator: Evaluator checkpoint stem (default: shipped ``evaluator_{dims}d``).
        k: Candidates scored per decision (the paper uses 20).
        beam_width: Beam width (at least ``k``).
        threads: Torch CPU threads.
        dihedral: Propose with the dihedral ensemble (see :class:`PlannerAgent`).
        prune, prune_beam, pruning: Observation-based pruning of the candidates (see
            :class:`PlannerAgent`); the evaluator ranks the top ``k`` feasible ones.
        spread, spread_beam: Spread the ``k`` candidates over distinct grasps (see :class:`PlannerAgent`).
            On by default (radius 1): a beam's top 20 come in about four clusters of neighbouring
            bins that mostly succeed or fail together, so spreading them raises how often the 20
            hold a success and the evaluator has distinct grasps to choose from (docs/training.md,
            "Spread candidates").  ``spread=None`` scores the beam's plain top ``k`` (the paper's).
    """

    def __init__(self, interface: AgentInterface | None = None, *, checkpoint: str | Path | None = None,
                 evaluator: str | Path | None = None, k: int = 20, beam_width: int = 20, threads: int | None = None,
                 dihedral: bool = False, prune: bool = True, prune_beam: int = 64,
                 pruning: PruningConfig | dict | None = None, spread: int | None = 1,
                 spread_beam: int = 256) -> None:
        if interface is None:
            raise ValueError("FullAgent needs interface=... (the env's agent_interface(), or the env): it scores each "
                             "candidate's image from the env's 'hand_camera' capability")
        view = agent_interface(interface)
        try:
            self.hand_camera = view.capability(HAND_CAMERA)
        except CapabilityError as exc:
            raise CapabilityError(f"FullAgent scores hand-camera images of its candidates, but {exc}; use an env of "
                                  "this package (simulated or RealFetchGrasp), or the planner agent") from None
        super().__init__(view, checkpoint=checkpoint, beam_width=beam_width, threads=threads, dihedral=dihedral,
                         prune=prune, prune_beam=prune_beam, pruning=pruning, spread=spread, spread_beam=spread_beam)
        if evaluator is None:
            evaluator = shipped(f"evaluator_{self.planner.config.dims}d")
        self.evaluator: GraspEvaluator = load_checkpoint(evaluator, kind="evaluator")
        if k < 1 or k > self.beam_width:
            raise ValueError(f"k must be in [1, beam_width={self.beam_width}], got {k}")
        self.k = int(k)
        cam = self.hand_camera.camera
        ec = self.evaluator.config
        if (cam.height, cam.width) != (ec.height, ec.width):
            raise ValueError(f"the evaluator was trained on {ec.height} x {ec.width} hand images but the env's hand "
                             f"camera gives {cam.height} x {cam.width}; make the env with "
                             f"observation={{'hand_height': {ec.height}, 'hand_width': {ec.width}}}")
        self.last_scores: np.ndarray | None = None

    def act(self, observation: dict) -> np.ndarray:
        cands, _ = self.propose(observation, self.k)
        hand = self.hand_camera.images(observation, cands)
        scores = self.evaluator.success_probability(torch.from_numpy(np.asarray(hand, np.float32)),
                                                    torch.from_numpy(np.asarray(cands)),
                                                    torch.from_numpy(np.asarray(observation["bbox"], np.float32))).numpy()
        self.last_scores = scores
        # An infeasible candidate only fills the k when fewer are feasible: it is never chosen over a feasible one.
        ranked = np.where(self.last_feasible, scores, -np.inf) if self.last_feasible.any() else scores
        return cands[int(np.argmax(ranked))].astype(np.int64)  # argmax keeps the first (planner order) on ties
