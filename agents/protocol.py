"""The agent protocol: anything with ``act(observation) -> action`` is an agent.

Agents are structural (``typing.Protocol``): a user's policy plugs in without subclassing
anything from this package.  ``reset(seed)`` is optional; evaluation calls it when present, before
each episode.  ``observe(info)`` is optional too: with several attempts per object
(docs/attempts.md) evaluation passes it each step's ``info`` (``outcome``, ``rejection``,
``grasp_bins``, ``attempt``, ``attempts_left``, ``object_moved``, ...) right after the step, so an
agent can use its failures (:mod:`agents.retry`); the next ``act`` gets the observation of the
scene after that step.
An agent is built from its env's :class:`grasp_envs.envs.interface.AgentInterface` (spaces, grid,
cameras, declared capabilities such as ``"hand_camera"``), never from the env itself.
"""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Agent(Protocol):
    """A grasping policy: maps an observation dict to an integer action of the env's grid."""

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray: ...


def agent_class(spec: str):
    """The class (or factory) named by ``spec``: a built-in name or ``"module:Class"``; nothing is built.

    A misspelt name, module or class is a ``ValueError`` naming the fix; a missing optional
    dependency of the agent's module (torch for the learned agents) stays an ``ImportError``.
    """
    from agents import BUILTIN_AGENTS

    if spec in BUILTIN_AGENTS:
        target = BUILTIN_AGENTS[spec]
    elif ":" in spec:
        target = spec
    else:
        raise ValueError(f"unknown agent {spec!r}: use one of {sorted(BUILTIN_AGENTS)} or 'module:Class'")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name) and module_name[len(exc.name):][:1] in ("", "."):
            raise ValueError(f"agent {spec!r}: no module named {exc.name!r} (is it installed, or its folder on "
                             "PYTHONPATH?)") from None
        raise
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"agent {spec!r}: module {module_name!r} has no attribute {attr!r}") from None


def _interface_parameter(signature: inspect.Signature) -> str | None:
    """The parameter the interface is passed as: ``interface``, else ``env`` (the older name), else ``**kwargs``."""
    params = signature.parameters
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    for name in ("interface", "env"):
        if name in params and params[name].kind in named:
            return name
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return "interface"
    return None


def load_agent(spec: str, interface, kwargs: dict[str, Any] | str | None = None) -> Agent:
    """Build an agent from ``"name"`` (a built-in) or ``"module:Class"`` plus JSON kwargs.

    ``interface`` is an :class:`grasp_envs.envs.interface.AgentInterface` or an env, whose
    declared interface is taken (:func:`grasp_envs.envs.interface.agent_interface`): the agent
    gets the spaces, grid, cameras and capabilities, never the env or its simulator.  The class
    is called as ``Class(interface=view, **kwargs)`` if its signature takes ``interface`` (or
    ``**kwargs``), as ``Class(env=view, **kwargs)`` if it takes ``env`` (the older name: it still
    receives the interface, which has the env's ``action_space`` and ``observation_space``), else
    ``Class(**kwargs)``.  Kwargs it does not take are a ``ValueError`` listing the ones it does.
    Errors raised inside the constructor propagate unchanged (it is never retried another way).
    Nothing is unpickled.
    """
    from grasp_envs.envs.interface import agent_interface

    if isinstance(kwargs, str):
        try:
            kwargs = json.loads(kwargs) if kwargs.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"agent {spec!r}: kwargs are not valid JSON ({exc}); e.g. '{{\"seed\": 0}}'") from None
    kwargs = dict(kwargs or {})
    cls = agent_class(spec)
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # no introspectable signature (some extension types): kwargs only
        signature = None
    call = dict(kwargs)
    if signature is not None:
        name = _interface_parameter(signature)
        if name is not None:
            call[name] = None if interface is None else agent_interface(interface)
        try:
            signature.bind(**call)
        except TypeError as exc:
            takes = [p for p in signature.parameters if p not in ("env", "interface")]
            raise ValueError(f"agent {spec!r} cannot be built with {sorted(kwargs)}: {exc}; it takes "
                             f"{', '.join(takes) or 'no arguments'}") from None
    agent = cls(**call)
    if not isinstance(agent, Agent):
        raise TypeError(f"{spec!r} built {type(agent).__name__}, which has no act(observation) method")
    return agent
