"""Grasping agents: baselines, learned planners and evaluators, and the agent protocol."""

from agents.baselines import CentroidAgent, RandomAgent
from agents.protocol import Agent, load_agent

#: Names accepted by ``load_agent`` and ``grasp-envs evaluate --agent NAME``.
BUILTIN_AGENTS: dict[str, str] = {
    "random": "agents.baselines:RandomAgent",
    "centroid": "agents.baselines:CentroidAgent",
    "planner": "agents.full:PlannerAgent",
    "full": "agents.full:FullAgent",
    "planner-memory": "agents.retry:FailureAwarePlanner",
    "full-memory": "agents.retry:FailureAwareFull",
}

__all__ = ["Agent", "BUILTIN_AGENTS", "CentroidAgent", "RandomAgent", "load_agent"]
