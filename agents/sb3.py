"""stable-baselines3 adapter: an SB3 model acts as a grasp agent.

The one-shot grasping env is a contextual bandit (one observation, one action, reward 1 on a
lift), which is what RL users first try on it; PPO with ``MultiInputPolicy`` handles the Dict
observation and MultiDiscrete action directly::

    from stable_baselines3 import PPO
    model = PPO("MultiInputPolicy", env, n_steps=64, batch_size=32).learn(2_000)
    agent = SB3Agent(model)                      # or load_agent("agents.sb3:SB3Agent", env, {"path": "ppo.zip"})

The model was trained on the env; as an agent it gets only observations (and the interface's
action space, to check it matches).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: SB3 algorithms SB3Agent can load from a ``.zip`` by name.
ALGORITHMS = ("PPO", "A2C", "DQN", "SAC", "TD3")


class SB3Agent:
    """Wraps a stable-baselines3 model (or loads one from ``path``) as an :class:`agents.Agent`.

    Args:
        model: A trained SB3 model (anything with ``predict(obs, deterministic=...)``).
        interface: The env's :class:`~grasp_envs.envs.interface.AgentInterface` (or the env), only to
            check that its action space is the model's.
        path: Instead of ``model``, a saved SB3 ``.zip`` to load with ``algorithm``.
        algorithm: SB3 class name for ``path`` (default ``"PPO"``).
        deterministic: Take the policy's mode rather than a sample.
    """

    def __init__(self, model=None, interface=None, *, path: str | None = None, algorithm: str = "PPO",
                 deterministic: bool = True) -> None:
        if (model is None) == (path is None):
            raise ValueError("SB3Agent needs exactly one of model=... or path='model.zip'")
        if path is not None:
            if algorithm not in ALGORITHMS:
                raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
            if not Path(path).is_file():
                raise FileNotFoundError(f"no SB3 model at {path}; save one with model.save({path!r})")
            import stable_baselines3

            model = getattr(stable_baselines3, algorithm).load(path, device="cpu")
        if not hasattr(model, "predict"):
            raise TypeError(f"model must be a stable-baselines3 model with predict(), got {type(model).__name__}")
        if interface is not None and getattr(model, "action_space", None) is not None:
            if model.action_space != interface.action_space:
                raise ValueError(f"the model acts in {model.action_space} but the env expects {interface.action_space}; "
                                 f"train it on an env with the same dims")
        self.model = model
        self.deterministic = bool(deterministic)

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.model.set_random_seed(seed)

    def act(self, observation: dict) -> np.ndarray:
        action, _ = self.model.predict(observation, deterministic=self.deterministic)
        return np.asarray(action, dtype=np.int64).reshape(-1)
