import os
from pathlib import Path

import gymnasium as gym
import pytest

import grasp_envs  # noqa: F401

os.environ.setdefault("MUJOCO_GL", "egl")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The development meshes in ../shared/data (skip where absent)."""
    if not (SHARED_DATA / "index.json").exists():
        pytest.skip(f"development data not found at {SHARED_DATA} (the shared/data folder beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def env():
    """A 4-D random-object env shared by the tests of one module."""
    e = gym.make("grasp_envs/GraspRandom4D-v0")
    yield e
    e.close()
