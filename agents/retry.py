"""Failure-aware retries: the planner and full agents that do not try a failed grasp again.

With ``max_attempts > 1`` (docs/attempts.md) the env keeps the object after a failed grasp and
the next observation shows where physics left it.  The plain :class:`~agents.full.PlannerAgent`
and :class:`~agents.full.FullAgent` simply plan again on that observation; where the object did not
move (a rejected grasp never touches it) they choose the same grasp again and waste the attempt.

:class:`FailureAwarePlanner` and :class:`FailureAwareFull` remember every grasp of the episode that
did not succeed (outcome ``"failure"`` or ``"rejected"``) and, on the next observation, plan again
and drop the remembered grasps and their neighbours (every grasp within ``radius`` bins in every
dimension at once, yaw taken around its circle: :class:`FailureMemory`,
:meth:`grasp_envs.grid.GraspGrid.bin_distance`) before choosing.  The
beam is widened so that ``k`` candidates remain after the drop however many there are.

They learn what happened through the agent protocol's optional ``observe(info)`` hook
(:mod:`agents.protocol`): the evaluation loop passes each step's info, and reading only
``info["outcome"]`` and ``info["grasp_bins"]`` (which the real env reports as well, :mod:`real.env`),
they run unchanged on the robot.  ``reset()`` forgets.

Which bins: the grasp grid is relative to the observed box (:mod:`grasp_envs.grid`), so the
memory keeps the failed grasp's bins as executed and applies them to the new box.  When the object
slid, bins relative to the box still name the same place on the object (the world pose of the old
grasp, re-encoded in the new box, would name the place the object left); when it only turned a
little the neighbourhood of one bin covers the change.  An object that toppled has a new box and
new shape, and the memory is then only a guess (the agent still never repeats the bins).
"""

from __future__ import annotations

import inspect

import numpy as np

from agents.full import FullAgent, PlannerAgent
from grasp_envs.grid import GraspGrid

#: Outcomes the memory keeps (a success ends the episode; a real robot's ``"dry_run"`` teaches nothing).
REMEMBERED = ("failure", "rejected")


class FailureMemory:
    """The grasps that failed on this object, and which candidates lie within ``radius`` bins of one.

    Distances are :meth:`grasp_envs.grid.GraspGrid.bin_distance`: the largest per-dimension
    difference in bins, yaw around its circle (the jaws are symmetric: bin 0 neighbours bin 19).
    """

    def __init__(self, grid: GraspGrid, radius: int = 1) -> None:
        if int(radius) < 0:
            raise ValueError(f"radius must be a number of bins >= 0, got {radius}")
        self.grid, self.radius = grid, int(radius)
        self.failed = np.zeros((0, grid.dims), np.int64)

    def __len__(self) -> int:
        return len(self.failed)

    def clear(self) -> None:
        self.failed = np.zeros((0, self.grid.dims), np.int64)

    def remember(self, bins) -> None:
        self.failed = np.concatenate([self.failed, self.grid.validate(bins)])

    def excludes(self, candidates) -> np.ndarray:
        """Whether each candidate (n, dims) lies within ``radius`` bins of a remembered grasp: (n,) bool."""
        c = self.grid.validate(candidates)
        if not len(self.failed):
            return np.zeros(len(c), bool)
        return (self.grid.bin_distance(c, self.failed) <= self.radius).any(axis=1)

    def bound(self) -> int:
        """At most this many grid grasps are excluded ((2 radius + 1)^dims per remembered grasp)."""
        return len(self.failed) * (2 * self.radius + 1) ** self.grid.dims


class _FailureAware:
    """Mixin over :class:`PlannerAgent` / :class:`FullAgent`: ``observe`` fills the memory, ``propose`` obeys it."""

    _base: type

    def __init__(self, interface=None, *, radius: int = 1, **kwargs) -> None:
        takes = [p for p in inspect.signature(self._base.__init__).parameters if p not in ("self", "interface")]
        unknown = sorted(set(kwargs) - set(takes))
        if unknown:
            raise ValueError(f"{type(self).__name__} takes radius and {self._base.__name__}'s {', '.join(takes)}; "
                             f"got unknown {unknown}")
        super().__init__(interface, **kwargs)
        self.memory = FailureMemory(self.grid, radius)  # the planner agent's grid
        self._last_action: np.ndarray | None = None

    def reset(self, seed: int | None = None) -> None:
        """A new object: forget the failures."""
        super().reset(seed=seed)
        self.memory.clear()
        self._last_action = None

    def observe(self, info: dict) -> None:
        """Read a step's ``info``: a failed or rejected grasp (``info["grasp_bins"]``) is remembered."""
        if "outcome" not in info:
            raise ValueError(f"{type(self).__name__}.observe needs the step's info with 'outcome' (and 'grasp_bins'), "
                             f"got keys {sorted(info)}")
        if info["outcome"] in REMEMBERED:
            bins = info.get("grasp_bins", self._last_action)
            if bins is None:
                raise ValueError("info has no 'grasp_bins' and this agent has not acted yet: pass the info of the "
                                 "step that executed its action")
            self.memory.remember(bins)

    def propose(self, observation: dict, k: int) -> tuple[np.ndarray, np.ndarray]:
        if not len(self.memory):
            return super().propose(observation, k)
        # Ask for enough candidates that k survive even if the beam's best are all excluded.
        grasps, logp = super().propose(observation, k + self.memory.bound())
        keep = np.flatnonzero(~self.memory.excludes(grasps))[:k]
        if not len(keep):
            raise RuntimeError("every candidate lies next to a failed grasp; pass a smaller radius")
        self.last_candidates, self.last_log_prob = grasps[keep], logp[keep]
        self.last_feasible = self.last_feasible[keep]
        return self.last_candidates, self.last_log_prob

    def act(self, observation: dict) -> np.ndarray:
        action = super().act(observation)
        self._last_action = np.asarray(action, np.int64).copy()
        return action


class FailureAwarePlanner(_FailureAware, PlannerAgent):
    """:class:`~agents.full.PlannerAgent` that drops its failed grasps and their neighbours on the next attempt.

    Args:
        interface: The env's :class:`~grasp_envs.envs.interface.AgentInterface` (or the env).
        radius: Neighbourhood dropped around each failed grasp, in bins (1: the grasp and its
            3^dims - 1 neighbours; 0: the grasp itself).
        **kwargs: Everything :class:`~agents.full.PlannerAgent` takes (checkpoint, beam_width,
            prune, ...).
    """

    _base = PlannerAgent


class FailureAwareFull(_FailureAware, FullAgent):
    """:class:`~agents.full.FullAgent` that drops its failed grasps and their neighbours before the evaluator ranks.

    Args:
        interface: The env's interface (it must declare ``hand_camera``).
        radius: Neighbourhood dropped around each failed grasp, in bins.
        **kwargs: Everything :class:`~agents.full.FullAgent` takes (checkpoint, evaluator, k, ...).
    """

    _base = FullAgent
