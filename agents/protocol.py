"""The agent protocol: anything with ``act(observation) -> action`` is an agent.

Agents are structural (``typing.Protocol``): a user's policy plugs in without subclassing
anything from this package.  ``reset(seed)`` is optional; evaluation calls it when present.
"""

from __future__ import annotations

import importlib
import json
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Agent(Protocol):
    """A grasping policy: maps an observation dict to an integer action of the env's grid."""

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray: ...


def load_agent(spec: str, env, kwargs: dict[str, Any] | str | None = None) -> Agent:
    """Build an agent from ``"name"`` (a built-in) or ``"module:Class"`` plus JSON kwargs.

    The class is called as ``Class(env=env, **kwargs)`` if it accepts ``env``, else
    ``Class(**kwargs)``.  Nothing is unpickled.
    """
    if isinstance(kwargs, str):
        kwargs = json.loads(kwargs) if kwargs.strip() else {}
    kwargs = dict(kwargs or {})
    from agents import BUILTIN_AGENTS

    if spec in BUILTIN_AGENTS:
        target = BUILTIN_AGENTS[spec]
    elif ":" in spec:
        target = spec
    else:
        raise ValueError(f"unknown agent {spec!r}: use one of {sorted(BUILTIN_AGENTS)} or 'module:Class'")
    module_name, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    try:
        agent = cls(env=env, **kwargs)
    except TypeError:
        agent = cls(**kwargs)
    if not isinstance(agent, Agent):
        raise TypeError(f"{spec!r} built {type(agent).__name__}, which has no act(observation) method")
    return agent
