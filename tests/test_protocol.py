"""load_agent: the signature decides whether the interface is passed; constructor errors are not masked."""

import numpy as np
import pytest
from gymnasium import spaces

from agents import load_agent
from agents.protocol import agent_class
from grasp_envs.envs.interface import AgentInterface

ENV = AgentInterface(spaces.MultiDiscrete([20] * 4), spaces.Dict({}))


class WithEnv:
    def __init__(self, env, *, scale: float = 1.0):
        self.env, self.scale = env, scale

    def act(self, observation):
        return np.zeros(4, dtype=np.int64)


class WithoutEnv:
    def __init__(self, seed: int = 0):
        self.seed = seed

    def act(self, observation):
        return np.zeros(4, dtype=np.int64)


class AnyKwargs:
    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def act(self, observation):
        return np.zeros(4, dtype=np.int64)


class BrokenInside:
    # Retrying without env (as a blanket ``except TypeError`` would) fails differently: env is required.
    def __init__(self, env, seed: int = 0):
        raise TypeError("unsupported operand inside the constructor")

    def act(self, observation):  # pragma: no cover - never built
        return np.zeros(4, dtype=np.int64)


def test_the_interface_is_passed_only_when_the_signature_takes_it():
    a = load_agent("test_protocol:WithEnv", ENV, {"scale": 2.0})
    assert a.env is ENV and a.scale == 2.0
    b = load_agent("test_protocol:WithoutEnv", ENV, '{"seed": 3}')
    assert b.seed == 3
    c = load_agent("test_protocol:AnyKwargs", ENV, {"x": 1})
    assert c.kwargs == {"x": 1, "interface": ENV}


def test_a_type_error_inside_the_constructor_is_not_retried_away():
    with pytest.raises(TypeError, match="unsupported operand inside the constructor"):
        load_agent("test_protocol:BrokenInside", ENV)


@pytest.mark.parametrize("spec, kwargs, message", [
    ("test_protocol:WithoutEnv", {"sead": 1}, r"cannot be built with \['sead'\].*it takes seed"),
    ("test_protocol:WithEnv", "{bad json", "kwargs are not valid JSON"),
    ("test_protocol:Nope", None, "module 'test_protocol' has no attribute 'Nope'"),
    ("no_such_package.agents:Agent", None, "no module named 'no_such_package'"),
    ("planer", None, "unknown agent 'planer'"),
])
def test_bad_agent_specs_raise_clear_errors(spec, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_agent(spec, ENV, kwargs)


def test_agent_class_resolves_builtins_without_building():
    from agents.baselines import RandomAgent

    assert agent_class("random") is RandomAgent
