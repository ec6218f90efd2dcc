"""Evaluate agents on the same seeded scenes of an environment (plain rollouts, no torch)."""

from __future__ import annotations

import time
from collections import Counter

import gymnasium as gym
from tqdm import tqdm

import grasp_envs  # noqa: F401  (registers the env ids)
from agents.protocol import load_agent
from grasp_envs.envs.interface import agent_interface
from grasp_envs.stats import wilson_interval


def evaluate_agents(env_id: str, agents: list[str], episodes: int, seed: int = 0, split: str = "test",
                    agent_kwargs: dict | None = None, env_kwargs: dict | None = None, progress: bool = True) -> list[dict]:
    """Success of each agent on the same seeded scenes: scene ``i`` is ``env.reset(seed=seed + i)``.

    Agents are built with :func:`agents.load_agent` (names or ``module:Class``) and reseeded with
    ``seed + i`` before each scene.  Returns one row per agent with per-episode records.
    """
    rows = []
    for name in agents:
        env = gym.make(env_id, split=split, **(env_kwargs or {}))
        agent = load_agent(name, agent_interface(env), (agent_kwargs or {}).get(name, {}))
        records = []
        for i in tqdm(range(episodes), desc=f"{env_id.split('/')[-1]} {name}", unit="ep", disable=not progress):
            obs, info = env.reset(seed=seed + i)
            if hasattr(agent, "reset"):
                agent.reset(seed + i)
            t0 = time.perf_counter()
            action = agent.act(obs)
            decide = time.perf_counter() - t0
            _, reward, _, _, info = env.step(action)
            records.append({"seed": seed + i, "object_seed": info["object_seed"], "reward": float(reward),
                            "rejection": info["rejection"], "decision_s": decide})
        env.close()
        k = int(sum(r["reward"] for r in records))
        rows.append({"env_id": env_id, "agent": name, "episodes": episodes, "successes": k, "success": k / episodes,
                     "ci95": wilson_interval(k, episodes), "records": records,
                     "rejections": Counter(r["rejection"] for r in records)})
    return rows
